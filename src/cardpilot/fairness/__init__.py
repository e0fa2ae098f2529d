"""Fairness of the limit review: how its decisions fall across protected groups.

Sex, marital status and age band are read beside a cycle's stored decisions for this measure
only (``cardpilot.store.fairness_reads``); no feature frame, scorer or policy condition ever
sees them. See docs/fairness.md.
"""

"""Spending and repayment events, pure: the schema, validation, the per-account order rule,
the ledger postings each event writes and each account's running features. No I/O: the broker
side is ``cardpilot.stream``, the store side ``cardpilot.store.events``."""

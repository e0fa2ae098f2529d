"""The look every cardpilot HTML report shares: one place to change it."""

from __future__ import annotations

# Chinese system fonts first: the reports are bilingual with zh-CN leading.
BASE_CSS = """body{font-family:system-ui,"PingFang SC","Microsoft YaHei",sans-serif;
margin:2rem;color:#222;max-width:1100px}
h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.5rem 0;font-size:.9rem}
td,th{padding:.25rem .6rem;border-bottom:1px solid #eee;text-align:right}
td:first-child,th:first-child,td.l,th.l{text-align:left}
.muted{color:#777;font-size:.85rem}.bar{fill:#1565c0}
"""

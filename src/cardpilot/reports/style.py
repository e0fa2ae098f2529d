"""The look every cardpilot HTML report shares: one place to change it."""

from __future__ import annotations

# Chinese faces by name on every platform a bank's analyst may open the page on: Linux (Noto
# Sans CJK / Source Han Sans from fonts-noto-cjk, WenQuanYi), macOS (PingFang) and Windows
# (Microsoft YaHei); the generic family last. Charts use the same stack.
FONT_STACK = (
    '"Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "Source Han Sans CN", '
    '"WenQuanYi Micro Hei", "WenQuanYi Zen Hei", "PingFang SC", "Hiragino Sans GB", '
    '"Microsoft YaHei", system-ui, sans-serif'
)

BASE_CSS = (
    """*{box-sizing:border-box}
html{font-family:"""
    + FONT_STACK
    + """;color:#222;background:#fff}
body{margin:0 auto;padding:1.5rem clamp(.75rem,3vw,2rem);max-width:1280px}
h1{font-size:1.5rem;margin:.2rem 0 .4rem}
h2{font-size:1.15rem;margin-top:2.2rem;border-bottom:1px solid #ddd;padding-bottom:.2rem}
h3{font-size:1rem;margin:1.2rem 0 .3rem}
.muted{color:#666;font-size:.85rem}.warn{color:#c62828}
.table-wrap{max-width:100%;overflow-x:auto;margin:.5rem 0}
table{border-collapse:collapse;font-size:.88rem;font-variant-numeric:tabular-nums}
td,th{padding:.25rem .6rem;border-bottom:1px solid #eee;text-align:right;white-space:nowrap}
th{background:#fafafa;font-weight:600}
td:first-child,th:first-child,td.l,th.l{text-align:left}
td.wrap{white-space:normal;min-width:16rem}
.charts{display:grid;gap:1rem 2rem;margin:.8rem 0;
grid-template-columns:repeat(auto-fit,minmax(min(100%,440px),1fr))}
figure.chart{margin:0;min-width:0}
figure.chart .vega-chart{width:100%;overflow-x:auto}
figure.chart figcaption{color:#666;font-size:.8rem;margin-top:.2rem}
.vega-embed{width:100%}
.chart-missing{color:#c62828;font-size:.85rem}
"""
)

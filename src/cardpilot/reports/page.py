"""One self-contained HTML page per report: Jinja2 templates, Vega-Lite charts drawn in the
page by Vega's own scripts, every byte inline so the file opens offline.

The scripts (Vega, Vega-Lite, Vega-Embed) come bundled by ``vl-convert``, which carries them
in its wheel: building the bundle reads no network. Building takes seconds, so the bundle is
kept in the user's cache folder, keyed by the versions and the page script it holds.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import importlib.metadata
import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from cardpilot.reports.formatting import ReportFormat
from cardpilot.reports.style import BASE_CSS

# Runs once the page is parsed: draws every chart spec the page holds into its figure, with the
# report's number locale, then marks the page ``data-charts="ready"`` (or ``"failed"``).
_DRAW_CHARTS = """
const locale = JSON.parse(document.getElementById("cardpilot-number-locale").textContent);
const drawn = [...document.querySelectorAll("script.cardpilot-chart")].map((node) => {
  const target = document.getElementById(node.dataset.target);
  return vegaEmbed(target, JSON.parse(node.textContent), {
    renderer: "svg", actions: false, formatLocale: locale,
  }).catch((error) => {
    target.textContent = "chart failed: " + error;
    target.className = "chart-missing";
    throw error;
  });
});
Promise.allSettled(drawn).then((results) => {
  const ok = results.every((r) => r.status === "fulfilled");
  document.documentElement.dataset.charts = ok ? "ready" : "failed";
});
"""


def _vega_lite_version() -> str:
    import altair as alt

    major, minor = alt.SCHEMA_VERSION.lstrip("v").split(".")[:2]
    return f"{major}.{minor}"


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "cardpilot"


@functools.cache
def chart_scripts() -> str:
    """Vega, Vega-Lite and Vega-Embed as one script with the page's drawing code."""
    import vl_convert

    version = _vega_lite_version()
    converter = importlib.metadata.version("vl-convert-python")
    key = hashlib.sha256(f"{converter}|{version}|{_DRAW_CHARTS}".encode()).hexdigest()[:16]
    cached = _cache_dir() / f"report-charts-{key}.js"
    try:
        return cached.read_text(encoding="utf-8")
    except OSError:
        pass
    bundle: str = vl_convert.javascript_bundle(_DRAW_CHARTS, vl_version=version)
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(
            "w", encoding="utf-8", dir=cached.parent, delete=False, suffix=".tmp"
        ) as tmp:
            tmp.write(bundle)
        os.replace(tmp.name, cached)
    except OSError:
        pass  # a read-only home: build again next time
    return bundle


def static_chart(spec: Mapping[str, Any], width: int = 640) -> str:
    """``spec`` drawn now as inline SVG, for pages that carry no script (a page to be mailed or
    archived as it is): no tooltips, the same axes, legends and fonts. It scales down with the
    page and names no address (the SVG namespaces are implied inside HTML)."""
    import vl_convert

    sized = {**spec, "width": spec["width"] if isinstance(spec.get("width"), int) else width}
    svg: str = vl_convert.vegalite_to_svg(sized, vl_version=_vega_lite_version())
    svg = svg.replace(' xmlns="http://www.w3.org/2000/svg"', "")
    svg = svg.replace(' xmlns:xlink="http://www.w3.org/1999/xlink"', "")
    return svg.replace("<svg ", '<svg style="max-width:100%;height:auto" role="img" ', 1)


def _inline_json(value: Any) -> str:
    """JSON safe inside a ``<script>`` element (no ``</script>`` can end it early)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).replace("</", "<\\/")


@functools.cache
def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("cardpilot.reports", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return env


def render_page(
    template: str,
    context: Mapping[str, Any],
    charts: Mapping[str, Mapping[str, Any]],
    fmt: ReportFormat,
) -> str:
    """Render ``template`` with ``context``; ``charts`` are Vega-Lite specs by figure id (a
    template places each with ``chart(id)``). The page holds the chart scripts only when it
    has charts."""
    env = _environment()
    return env.get_template(template).render(
        **context,
        css=BASE_CSS,
        lang=fmt.locale,
        fmt=fmt,
        chart_specs={name: _inline_json(spec) for name, spec in charts.items()},
        number_locale=_inline_json(fmt.chart_number_locale()),
        chart_scripts=chart_scripts() if charts else "",
        generated=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
    )


def write_page(html: str, out: Path) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(html, encoding="utf-8")
    return out

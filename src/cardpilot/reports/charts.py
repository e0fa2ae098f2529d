"""The reports' charts as Vega-Lite specs built with Altair: bars, stacked shares and heatmaps
with axes, ticks, legends and tooltips, in the reports' fonts.

Builders take rows of plain values and the order categories are shown in (grades in the
policy's order, buckets in the aging scale's), never the alphabet's.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import altair as alt

from cardpilot.reports.style import FONT_STACK

Rows = Sequence[Mapping[str, Any]]
Kind = Literal["quantitative", "nominal"]

BLUE = "#1565c0"
RED = "#c62828"
GREEN = "#2e7d32"
GREY = "#9e9e9e"
AMBER = "#ef6c00"
PURPLE = "#6a1b9a"
ACTION_COLOURS = {"increase": GREEN, "keep": GREY, "decrease": RED}


@dataclass(frozen=True)
class Field:
    """A data field as a chart shows it: its title, and its d3 number format when numeric."""

    name: str
    title: str
    format: str | None = None  # e.g. ",d" (30,000), ".1%", "$,.0f" (money in the locale)

    @property
    def number_format(self) -> Any:
        """The format for Altair (its "undefined" when there is none)."""
        return alt.Undefined if self.format is None else self.format

    def tooltip(self, kind: Kind = "quantitative") -> alt.Tooltip:
        return alt.Tooltip(self.name, type=kind, title=self.title, format=self.number_format)


COUNT = ",d"
SHARE = ".1%"
MONEY = "$,.0f"
MONEY_EXACT = "$,.2f"


def in_order(present: Sequence[str], order: Sequence[str]) -> list[str]:
    """``present`` in ``order`` (a policy's grades, a scale's buckets), anything the order does
    not know after it, alphabetically."""
    known = [k for k in order if k in present]
    return known + sorted(set(present) - set(order))


def spec(chart: alt.TopLevelMixin) -> dict[str, Any]:
    """The chart as a Vega-Lite spec in the reports' look, without the schema's address (the
    page needs nothing from the network; the bundled Vega-Lite knows its schema)."""
    styled = (
        chart.configure(font=FONT_STACK)
        .configure_axis(labelFontSize=11, titleFontSize=12, labelLimit=260)
        .configure_legend(labelFontSize=11, titleFontSize=12, orient="top", labelLimit=260)
        .configure_view(stroke=None)
    )
    out: dict[str, Any] = styled.to_dict()
    out.pop("$schema", None)
    return out


def _data(rows: Rows) -> alt.InlineData:
    return alt.InlineData(values=[dict(r) for r in rows])


def _legend(title: str | None) -> alt.Legend:
    return alt.Legend(title=title, orient="top")


def bars(
    rows: Rows,
    *,
    category: Field,
    value: Field,
    order: Sequence[str],
    colour: Field | None = None,
    colours: Mapping[str, str] | None = None,
    details: Sequence[Field] = (),
    bar_height: int = 22,
    grouped: bool = False,
    colour_value: str = BLUE,
    rules: Sequence[tuple[float, str]] = (),
) -> dict[str, Any]:
    """Horizontal bars of ``value`` per ``category`` in ``order`` (optionally coloured by
    ``colour`` with ``colours`` and a legend, side by side when ``grouped``); tooltips show
    every field. ``rules`` mark (value, label) thresholds across the bars."""
    encoding: dict[str, Any] = {
        "y": alt.Y(category.name, type="nominal", sort=list(order), title=None),
        "x": alt.X(
            value.name,
            type="quantitative",
            title=value.title,
            axis=alt.Axis(format=value.number_format, tickCount=6),
        ),
        "tooltip": [
            category.tooltip("nominal"),
            value.tooltip(),
            *(d.tooltip("quantitative" if d.format else "nominal") for d in details),
        ],
    }
    if colour is not None and colours:
        encoding["color"] = alt.Color(
            colour.name,
            type="nominal",
            scale=alt.Scale(domain=list(colours), range=list(colours.values())),
            legend=_legend(None if grouped else colour.title),
        )
        encoding["tooltip"].append(colour.tooltip("nominal"))
        if grouped:
            encoding["yOffset"] = alt.YOffset(
                colour.name, type="nominal", sort=list(colours), title=None
            )
            bar_height *= len(colours)
    else:
        encoding["color"] = alt.value(colour_value)
    chart: Any = alt.Chart(_data(rows)).mark_bar().encode(**encoding)
    if rules:
        marks = alt.Chart(_data([{"at": v, "threshold": t} for v, t in rules])).mark_rule(
            strokeDash=[3, 3], color="#555"
        )
        chart = alt.layer(
            chart,
            marks.encode(
                x=alt.X("at", type="quantitative"),
                tooltip=[alt.Tooltip("threshold", type="nominal", title="threshold")],
            ),
        )
    chart = chart.properties(width="container", height=max(60, bar_height * len(order)))
    return spec(chart)


def stacked_shares(
    rows: Rows,
    *,
    category: Field,
    part: Field,
    value: Field,
    order: Sequence[str],
    parts: Mapping[str, str],
    details: Sequence[Field] = (),
) -> dict[str, Any]:
    """One bar per category split into ``parts`` (name → colour) as shares of the category,
    in ``order``; tooltips give the count and the share."""
    chart = (
        alt.Chart(_data(rows))
        .transform_joinaggregate(total=f"sum({value.name})", groupby=[category.name])
        .transform_calculate(share=f"datum.total > 0 ? datum['{value.name}'] / datum.total : 0")
        .transform_calculate(part_order=_order_expr(part.name, list(parts)))
        .mark_bar()
        .encode(
            y=alt.Y(category.name, type="nominal", sort=list(order), title=None),
            x=alt.X(
                "share",
                type="quantitative",
                title="share · 占比",
                axis=alt.Axis(format=".0%", tickCount=5),
                scale=alt.Scale(domain=[0, 1]),
            ),
            color=alt.Color(
                part.name,
                type="nominal",
                scale=alt.Scale(domain=list(parts), range=list(parts.values())),
                legend=_legend(part.title),
            ),
            order=alt.Order("part_order", type="quantitative"),
            tooltip=[
                category.tooltip("nominal"),
                part.tooltip("nominal"),
                value.tooltip(),
                alt.Tooltip("share", type="quantitative", title="share · 占比", format=".1%"),
                *(d.tooltip() for d in details),
            ],
        )
        .properties(width="container", height=max(60, 24 * len(order)))
    )
    return spec(chart)


def _order_expr(field: str, order: Sequence[str]) -> str:
    """A Vega expression: the position of the row's ``field`` in ``order``."""
    return f"indexof({json.dumps(list(order))}, datum[{json.dumps(field)}])"


def heatmap(
    rows: Rows,
    *,
    x: Field,
    y: Field,
    value: Field,
    x_order: Sequence[str],
    y_order: Sequence[str],
    details: Sequence[Field] = (),
    facet: Field | None = None,
    columns: int = 3,
    cell: int = 44,
    scheme: Any = "oranges",
    domain: tuple[float, float] | None = None,
) -> dict[str, Any]:
    """``value`` per (``y``, ``x``) as coloured cells with the figure written in each cell;
    with ``facet``, one matrix per facet value (wrapping after ``columns``)."""
    if domain is None:
        domain = (0.0, max([float(r[value.name] or 0) for r in rows] or [0.0]) or 1.0)
    scale = alt.Scale(scheme=scheme, domain=list(domain))
    base = alt.Chart().encode(
        x=alt.X(
            x.name,
            type="nominal",
            sort=list(x_order),
            title=x.title,
            axis=alt.Axis(labelAngle=0),
        ),
        y=alt.Y(y.name, type="nominal", sort=list(y_order), title=y.title),
    )
    tooltip = [
        y.tooltip("nominal"),
        x.tooltip("nominal"),
        value.tooltip(),
        *(d.tooltip() for d in details),
    ]
    cells = base.mark_rect(stroke="#fff").encode(
        color=alt.Color(
            value.name,
            type="quantitative",
            scale=scale,
            legend=alt.Legend(title=value.title, format=value.number_format),
        ),
        tooltip=tooltip,
    )
    labels = base.mark_text(fontSize=10).encode(
        text=alt.Text(value.name, type="quantitative", format=value.number_format),
        color=alt.condition(
            f"datum[{json.dumps(value.name)}] > {0.6 * domain[1]}",
            alt.value("#fff"),
            alt.value("#222"),
        ),
        tooltip=tooltip,
    )
    size = {"width": cell * len(x_order), "height": round(cell * 0.62 * len(y_order))}
    if facet is None:
        return spec(alt.layer(cells, labels, data=_data(rows)).properties(**size))
    chart = (
        alt.layer(cells, labels)
        .properties(**size)
        .facet(
            facet=alt.Facet(
                facet.name,
                type="nominal",
                title=facet.title,
                header=alt.Header(labelFontSize=12, labelFontWeight="bold"),
            ),
            columns=columns,
            data=_data(rows),
            spacing=24,
        )
        .resolve_axis(x="independent", y="independent")  # every matrix labelled
    )
    return spec(chart)


def _waterfall_rows(steps: Sequence[tuple[str, float]], end: str) -> list[dict[str, Any]]:
    """Each column's span: each step from the level before it (the first from zero), the end
    from zero to where the steps arrived."""

    def column(step: str, before: float, after: float, kind: str) -> dict[str, Any]:
        change = after - before if kind != "level" else after
        low, high = min(before, after), max(before, after)
        return {
            "step": step,
            "low": low,
            "high": high,
            "change": change,
            "level": after,
            "kind": kind,
        }

    level = 0.0
    rows = []
    for label, change in steps:
        rows.append(column(label, level, level + change, "up" if change >= 0 else "down"))
        level += change
    rows.append(column(end, 0.0, level, "level"))
    return rows


def waterfall(steps: Sequence[tuple[str, float]], end: str, *, value: Field) -> dict[str, Any]:
    """From zero through ``steps`` (label, change) to ``end``, their sum: one column per step
    floating from the level before it to the level after, green up, red down, the sum blue;
    tooltips give the change and the level reached."""
    rows = _waterfall_rows(steps, end)
    kinds = {"level": BLUE, "up": GREEN, "down": RED}
    chart = (
        alt.Chart(_data(rows))
        .mark_bar()
        .encode(
            x=alt.X(
                "step",
                type="nominal",
                sort=[r["step"] for r in rows],
                title=None,
                axis=alt.Axis(labelAngle=-30),
            ),
            y=alt.Y(
                "low",
                type="quantitative",
                title=value.title,
                axis=alt.Axis(format=value.number_format, tickCount=6),
            ),
            y2="high",
            color=alt.Color(
                "kind",
                type="nominal",
                legend=None,
                scale=alt.Scale(domain=list(kinds), range=list(kinds.values())),
            ),
            tooltip=[
                alt.Tooltip("step", type="nominal", title="step"),
                alt.Tooltip(
                    "change", type="quantitative", title="change · 变动", format=value.number_format
                ),
                alt.Tooltip(
                    "level", type="quantitative", title=value.title, format=value.number_format
                ),
            ],
        )
        .properties(width="container", height=320)
    )
    return spec(chart)

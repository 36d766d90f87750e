"""Charts of the insights page as inline SVG, drawn by `pygal`.

Why pygal: it is pure Python (no browser, no Node, no native renderer), maintained, and
renders a complete SVG string on the server, so the page works without JavaScript and the
charts are part of the HTML. Vega-Lite through `altair` needs `vl-convert-python` (a bundled
JavaScript engine, about 100 MB) to produce SVG; matplotlib is heavier and its SVGs are not
accessible. pygal's tooltip scripts are left out (`js=[]`, and its inline configuration script is
removed): the tables under each
chart carry the exact numbers.
"""

from __future__ import annotations

import re
from typing import Any

import pygal
from pygal.style import Style

STYLE = Style(
    background="white",
    plot_background="white",
    font_family="system-ui, sans-serif",
    colors=("#1e7b34", "#c0392b", "#e67e22", "#7f8c8d", "#2c3e50", "#2980b9"),
)
CONFIG: dict[str, Any] = {
    "style": STYLE,
    "js": [],
    "width": 640,
    "height": 300,
    "legend_at_bottom": True,
    "print_values": False,
    "disable_xml_declaration": True,
}


SCRIPT = re.compile(r"<script\b.*?</script>", re.DOTALL)


def _svg(chart: Any) -> str:
    """The chart's SVG without pygal's configuration script (only its tooltips read it)."""
    return SCRIPT.sub("", str(chart.render(is_unicode=True)))


def sla_chart(rows: list[dict[str, object]]) -> str:
    """Stacked bars per step: on time, late, open past due, open."""
    chart = pygal.StackedBar(title="Human steps by outcome", **CONFIG)
    chart.x_labels = [str(r["task"]) for r in rows]
    for key, label in (
        ("on_time", "Decided on time"),
        ("late", "Decided late"),
        ("open_past_due", "Open past due"),
        ("open", "Open"),
    ):
        chart.add(label, [int(str(r[key])) for r in rows])
    return _svg(chart)


def trend_chart(rows: list[dict[str, object]]) -> str:
    """Decisions on time and late by week."""
    chart = pygal.Line(title="Decisions by week", **CONFIG)
    chart.x_labels = [str(r["week"]) for r in rows]
    chart.add("On time", [int(str(r["on_time"])) for r in rows])
    chart.add("Late", [int(str(r["late"])) for r in rows])
    return _svg(chart)


def funnel_chart(title: str, rows: list[dict[str, object]]) -> str:
    """A funnel as horizontal bars, first stage on top."""
    chart = pygal.HorizontalBar(title=title, show_legend=False, **CONFIG)
    ordered = list(reversed(rows))
    chart.x_labels = [str(r["stage"]) for r in ordered]
    chart.add("Count", [int(str(r["count"])) for r in ordered])
    return _svg(chart)


def onboarding_chart(rows: list[dict[str, object]]) -> str:
    """Stacked bars per onboarding step: deadline met, missed."""
    chart = pygal.StackedBar(title="Rocket.Chat onboardings by step", **CONFIG)
    chart.x_labels = [str(r["step"]) for r in rows]
    chart.add("Deadline met", [int(str(r["deadline_met"])) for r in rows])
    chart.add("Deadline missed", [int(str(r["deadline_missed"])) for r in rows])
    return _svg(chart)

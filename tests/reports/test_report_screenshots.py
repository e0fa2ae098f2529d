"""Every HTML report opened in headless Chromium as a reader would: the charts draw (in the page,
or as inline SVG in the fairness report, which carries no script), the page asks nothing of
the network, Chinese text is set in a CJK font, nothing overflows a 1,400-px (or a 1,024-px)
window, and a full-page screenshot of each is kept in ``.cardpilot/screenshots/`` (not
committed) for a person to look at.

Chromium is Debian's ``chromium`` (``make browser`` installs it with ``fonts-noto-cjk``),
driven by Playwright. Without it the test skips, unless ``CARDPILOT_REQUIRE_BROWSER=1`` (CI).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / ".cardpilot" / "screenshots"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
OFFLINE_SCHEMES = ("file:", "data:", "about:", "blob:")
CJK_FONTS = ("Noto Sans CJK", "Source Han Sans", "WenQuanYi", "PingFang", "Microsoft YaHei")
WIDTH = 1400
NARROW = 1024


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    executable = _chromium()
    if executable is None:
        message = "Chromium not found (make browser installs Debian's chromium and fonts-noto-cjk)"
        if os.environ.get("CARDPILOT_REQUIRE_BROWSER") == "1":
            pytest.fail(f"{message}; CARDPILOT_REQUIRE_BROWSER=1 makes this a failure")
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every HTML report cardpilot writes, on a small synthetic portfolio: the demo's review,
    overdue and segment profile reports, its fairness report and policy simulation, and a model
    report."""
    from typer.testing import CliRunner

    from cardpilot.cli import app
    from cardpilot.config import get_settings

    home = tmp_path_factory.mktemp("report-pages") / "home"
    previous = os.environ.get("CARDPILOT_HOME")
    os.environ["CARDPILOT_HOME"] = str(home)
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["demo", "--accounts", "300", "--seed", "7"])
    finally:
        if previous is None:
            os.environ.pop("CARDPILOT_HOME", None)
        else:
            os.environ["CARDPILOT_HOME"] = previous
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    fairness = home / "fairness-report.html"
    store = f"sqlite:///{home / 'demo.db'}"
    result = CliRunner().invoke(
        app, ["fairness", "report", "--database", store, "--out", str(fairness), "--json"]
    )
    assert result.exit_code == 0, result.output
    model = home / "model-report.html"
    model.write_text(_model_page(), encoding="utf-8")
    simulation = home / "simulation-report.html"
    scorecard = home / "demo-models" / "scorecard"
    command = ["simulate", "--database", store, "--model", str(scorecard), "--out", str(simulation)]
    result = CliRunner().invoke(app, [*command, "--json"])
    assert result.exit_code == 0, result.output
    return {
        "review": home / "review-report.html",
        "overdue": home / "overdue-report.html",
        "segments": home / "demo-segments" / "profile.html",
        "model": model,
        "fairness": fairness,
        "simulation": simulation,
    }


def _model_page() -> str:
    """The model report of the frozen UCI scorecard over made-up test and train scores."""
    import numpy as np

    from cardpilot.reports.model import model_report
    from cardpilot.scoring.registry import load_model_dir, read_metadata

    folder = ROOT / "tests" / "fixtures" / "models" / "uci-scorecard"
    model = load_model_dir(folder)
    rng = np.random.default_rng(7)
    y = (rng.random(3_000) < 0.22).astype(np.int8)
    test = (560 - 60 * y.astype(float) + rng.normal(0, 30, y.size)).astype(np.int32)
    train = (555 + rng.normal(0, 35, 7_000)).astype(np.int32)
    rows = model.table.to_dicts()  # type: ignore[union-attr]
    return model_report(read_metadata(folder), y, test, train, rows, locale="zh-CN")


def _fonts_of(page: Any, selector: str) -> list[str]:
    """The platform fonts Chromium drew ``selector``'s text with (DevTools' CSS domain)."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("DOM.enable")
    cdp.send("CSS.enable")
    root = cdp.send("DOM.getDocument")["root"]["nodeId"]
    node = cdp.send("DOM.querySelector", {"nodeId": root, "selector": selector})["nodeId"]
    fonts = cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]
    return [f["familyName"] for f in fonts]


@pytest.mark.parametrize(
    "name", ["model", "review", "overdue", "segments", "fairness", "simulation"]
)
def test_every_report_draws_its_charts_offline_in_a_cjk_font_within_the_window(
    browser: Any, reports: dict[str, Path], name: str
) -> None:
    page = browser.new_page(viewport={"width": WIDTH, "height": 900}, locale="zh-CN")
    outside: list[str] = []

    def only_local(route: Any) -> None:
        url = route.request.url
        if url.startswith(OFFLINE_SCHEMES):
            route.continue_()
        else:
            outside.append(url)
            route.abort()

    page.route("**/*", only_local)
    page.on(
        "request", lambda r: None if r.url.startswith(OFFLINE_SCHEMES) else outside.append(r.url)
    )
    page.goto(reports[name].resolve().as_uri())
    if name == "fairness":  # charts drawn when written, no script in the page
        assert page.evaluate("document.scripts.length") == 0
        assert page.evaluate("document.querySelectorAll('figure.chart svg.marks').length") == 3
    else:
        page.wait_for_function(
            "document.documentElement.dataset.charts !== 'pending'", timeout=60_000
        )
        assert page.evaluate("document.documentElement.dataset.charts") == "ready"
        figures = page.evaluate("document.querySelectorAll('.vega-chart').length")
        drawn = page.evaluate("document.querySelectorAll('.vega-chart svg.marks').length")
        assert figures >= 2
        assert drawn == figures
    assert page.evaluate("document.documentElement.scrollWidth") <= WIDTH
    heading = _fonts_of(page, "h1")
    assert any(f.startswith(CJK_FONTS) for f in heading), heading
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shot = SCREENSHOTS / f"{name}-report.png"
    page.screenshot(path=str(shot), full_page=True)
    page.set_viewport_size({"width": NARROW, "height": 900})  # a laptop: still no overflow
    page.wait_for_timeout(300)
    assert page.evaluate("document.documentElement.scrollWidth") <= NARROW
    page.close()
    assert outside == []
    assert shot.stat().st_size > 40_000  # a page of text and charts, not a blank one

"""The dashboard in a real headless browser after a demo run: counts and skill versions match the
catalog, and Make skill (local training) registers a new candidate version. Writes a screenshot to
out/dashboard.png, and to the committed docs/dashboard.png when SKILLFORGE_UPDATE_DOCS=1."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from functions.core.base.catalog import DynamoCatalog
from functions.core.dashboard.overview import catalog_counts
from functions.core.skills.registry import SkillRegistry
from scripts.local.dashboard_site import serving_site
from scripts.local.demo import stages
from scripts.local.demo_run import DemoOptions, DemoRun
from scripts.local.emulator import running_emulator
from scripts.local.stages import training as demo_training

CHROMIUM = Path("/usr/bin/chromium")
_REPO = Path(__file__).resolve().parents[2]
SCREENSHOT = _REPO / ("docs" if os.environ.get("SKILLFORGE_UPDATE_DOCS") == "1" else "out") / "dashboard.png"
TOKEN = "e2e-dashboard-token-0123456789"

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def quick_config(folder: Path) -> Path:
    """The demo's skill config, trained for one epoch on small inputs (the test is about the page)."""
    config = json.loads((_REPO / "training" / "configs" / "demo.json").read_text())
    config.pop("$schema", None)
    config["training"].update(epochs=1, patience=1, imgsz=64)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "demo.json"
    path.write_text(json.dumps(config))
    return path


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """A whole demo run in the emulator, then the review page + dashboard served against it."""
    if not CHROMIUM.exists() and not shutil.which("chromium"):
        pytest.skip("Debian chromium is not installed at /usr/bin/chromium (make browser)")
    configs = tmp_path / "configs"
    monkeypatch.setattr(demo_training, "DEMO_CONFIG", quick_config(configs))
    with running_emulator() as emulator:
        demo = DemoRun(emulator=emulator, options=DemoOptions(out_dir=tmp_path / "out"))
        demo.out_dir.mkdir(parents=True)
        for _, stage in stages():
            stage(demo)
        table = emulator.resource("dynamodb").Table(emulator.names.catalog_table)
        with serving_site(emulator, TOKEN, tmp_path / "runs", configs_dir=configs) as url:
            yield {"url": url, "table": table, "summary": demo.summary}


@pytest.fixture
def page(site: dict[str, Any]) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        yield context.new_page()
        browser.close()


def expect(locator: Any) -> Any:
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(locator)


def test_dashboard_shows_the_catalog_and_skills_and_makes_a_skill(page: Any, site: dict[str, Any]) -> None:
    table = site["table"]
    counts = catalog_counts(DynamoCatalog(table))
    registry = SkillRegistry(table)
    skill = site["summary"]["training"]["skill"]
    first = [v.skill_version for v in registry.versions(skill)]
    assert first == [1]

    # GIVEN the dashboard after the demo, signed in with the local token
    page.goto(site["url"] + "dashboard.html")
    page.fill("#token", TOKEN)
    page.click("#sign-in")
    # the totals come from a scan of the demo's catalog: on 2 loaded cores that once took over 5 s
    expect(page.locator("#catalog-totals")).to_be_visible(timeout=30_000)

    # THEN every status total and every class row matches the catalog
    for status, count in counts.crops_by_status.items():
        expect(page.locator(f"#catalog-totals td[data-status='{status}']")).to_have_text(str(count))
    for label, by_status in counts.crops_by_class.items():
        for status, count in by_status.items():
            cell = page.locator(f"#catalog tbody tr[data-class='{label}'] td[data-status='{status}']")
            expect(cell).to_have_text(str(count))
    assert counts.crops_by_status["verified"] > 0
    # AND the skill's registered version is listed, with its gate decision below
    expect(page.locator(f"#skills tbody tr[data-skill='{skill}']")).to_have_count(1)
    expect(page.locator("#gates tbody tr")).to_have_count(1)
    expect(page.locator("#gates tbody tr a")).to_have_text("report.pdf")

    # WHEN the operator presses Make skill with the demo's config
    page.select_option("#config", "demo")
    page.click("#make-skill")

    # THEN the job's progress shows, and a new candidate version is registered and listed
    expect(page.locator("#job")).to_contain_text(f"registered {skill} v2", timeout=240_000)
    assert [v.skill_version for v in registry.versions(skill)] == [1, 2]
    expect(page.locator(f"#skills tbody tr[data-skill='{skill}']")).to_have_count(2)
    expect(page.locator(f"#skills tbody tr[data-skill='{skill}'][data-version='2']")).to_be_visible()
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOT), full_page=True)

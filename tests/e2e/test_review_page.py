"""The review page in a real headless browser (Debian chromium via Playwright) against moto.

Writes a screenshot of the grid with its green boxes to out/review-page.png, and to the committed
docs/review-page.png when SKILLFORGE_UPDATE_DOCS=1 (so a test run leaves the checkout clean).
"""

from __future__ import annotations

import io
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageDraw

from functions.core.base.catalog import DynamoCatalog
from functions.core.base.records import CropStatus
from functions.core.base.storage import BlobStore
from functions.core.detection.images import encode_jpeg
from functions.core.labelling.review import ReviewStore
from functions.core.labelling.review_api import ReviewApi, TokenAuthenticator
from scripts.local.review_server import serving
from tests.support.labelling import add_crop

CHROMIUM = Path("/usr/bin/chromium")
_REPO = Path(__file__).resolve().parents[2]
SCREENSHOT = (
    _REPO / ("docs" if os.environ.get("SKILLFORGE_UPDATE_DOCS") == "1" else "out") / "review-page.png"
)
TOKEN = "e2e-review-token-0123456789"
COLOURS = [(180, 30, 40), (30, 60, 150), (200, 200, 205), (40, 40, 45), (20, 120, 70)]

pytestmark = pytest.mark.browser


def drawn_car(size: tuple[int, int], colour: tuple[int, int, int]) -> bytes:
    """A simple side view of a car (no third-party photo in the committed screenshot)."""
    width, height = size
    image = Image.new("RGB", size, (196, 214, 226))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, int(height * 0.78), width, height), fill=(90, 90, 95))
    draw.rounded_rectangle(
        (int(width * 0.08), int(height * 0.42), int(width * 0.92), int(height * 0.8)), 12, fill=colour
    )
    draw.polygon(
        [
            (int(width * 0.25), int(height * 0.43)),
            (int(width * 0.36), int(height * 0.18)),
            (int(width * 0.66), int(height * 0.18)),
            (int(width * 0.78), int(height * 0.43)),
        ],
        fill=colour,
    )
    draw.polygon(
        [
            (int(width * 0.3), int(height * 0.42)),
            (int(width * 0.39), int(height * 0.23)),
            (int(width * 0.63), int(height * 0.23)),
            (int(width * 0.72), int(height * 0.42)),
        ],
        fill=(170, 200, 220),
    )
    for cx in (0.26, 0.74):
        x, y, r = int(width * cx), int(height * 0.8), int(height * 0.13)
        draw.ellipse((x - r, y - r, x + r, y + r), fill=(25, 25, 25))
        draw.ellipse((x - r // 2, y - r // 2, x + r // 2, y + r // 2), fill=(160, 160, 165))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return encode_jpeg(Image.open(io.BytesIO(buffer.getvalue())))


@pytest.fixture
def review_site(moto_aws: dict[str, Any]) -> Iterator[dict[str, Any]]:
    if not CHROMIUM.exists() and not shutil.which("chromium"):
        pytest.skip("Debian chromium is not installed at /usr/bin/chromium (make browser)")
    for n in range(5):
        crop = add_crop(moto_aws, n, hint="audi-a4", status=CropStatus.IN_REVIEW, size=(300, 170))
        moto_aws["s3"].put_object(
            Bucket=crop.crop_bucket, Key=crop.crop_key, Body=drawn_car((300, 170), COLOURS[n])
        )
    add_crop(moto_aws, 9, hint="bmw-3-series", status=CropStatus.IN_REVIEW)
    catalog = DynamoCatalog(moto_aws["table"])
    for crop in list(catalog.iter_crops()):  # what the crowd said about them
        catalog.put_crop(
            crop.model_copy(update={"view": "exterior-more", "quality": "good", "agreement": 0.83})
        )
    ReviewStore(catalog).remember_classes(["audi-a4", "audi-a6", "bmw-3-series", "dodge-charger"])
    api = ReviewApi(catalog, BlobStore(moto_aws["s3"]), TokenAuthenticator(TOKEN, reviewer="e2e-expert"))
    with serving(api) as url:
        yield {"url": url, "catalog": catalog, "aws": moto_aws}


@pytest.fixture
def page(review_site: dict[str, Any]) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        context = browser.new_context(viewport={"width": 1280, "height": 760})
        yield context.new_page()
        browser.close()


def expect(locator: Any) -> Any:
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(locator)


def sign_in(page: Any, url: str, token: str) -> None:
    page.goto(url)
    page.fill("#token", token)
    page.click("#sign-in")


def test_expert_approves_corrects_and_undoes(page: Any, review_site: dict[str, Any]) -> None:
    catalog: DynamoCatalog = review_site["catalog"]
    # GIVEN the review page, signed in with the local token
    sign_in(page, review_site["url"], TOKEN)
    page.wait_for_selector(".card img[src^='blob:']")
    assert page.locator(".card").count() == 5
    assert page.inner_text("#title") == "Proposed: audi-a4"
    assert page.locator(".card .box").count() == 5  # the green boxes
    assert page.get_attribute("#progress", "data-remaining") == "6"
    # WHEN four crops are selected (click, keyboard) — screenshot — and confirmed with one action
    cards = page.locator(".card")
    for index in (0, 1, 2):
        cards.nth(index).click()
    page.keyboard.press("ArrowRight")
    page.keyboard.press(" ")
    page.wait_for_timeout(200)
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOT), full_page=True)
    page.click("#confirm")
    expect(page.locator(".card")).to_have_count(1)
    # THEN they are verified as audi-a4 by the expert
    verified = [c for c in catalog.iter_crops() if c.status is CropStatus.VERIFIED]
    assert sorted(c.crop_id for c in verified) == [f"img000{n}-00" for n in range(4)]
    assert {c.final_class for c in verified} == {"audi-a4"} and {c.reviewer for c in verified} == {
        "e2e-expert"
    }
    # WHEN the last crop is marked wrong and the right variant typed (autocomplete offers known classes)
    page.keyboard.press("w")
    assert page.locator("#classes option[value='audi-a6']").count() == 1
    page.fill("#correct-class", "audi-a6")
    page.keyboard.press("Enter")
    expect(page.locator("#progress")).to_have_attribute("data-done", "5")
    corrected = catalog.get_crop("img0004-00")
    assert corrected and corrected.status is CropStatus.VERIFIED and corrected.final_class == "audi-a6"
    # WHEN the expert undoes the last decision with the keyboard
    page.keyboard.press("u")
    expect(page.locator("#progress")).to_have_attribute("data-done", "4")
    # THEN the correction is gone (crop back in review), the approvals stay, progress shows it
    undone = catalog.get_crop("img0004-00")
    assert undone and undone.status is CropStatus.IN_REVIEW and undone.final_class is None
    assert sum(1 for c in catalog.iter_crops() if c.status is CropStatus.VERIFIED) == 4
    assert page.get_attribute("#progress", "data-remaining") == "2"
    assert "undone" in page.inner_text("#message")


def test_page_and_api_without_a_valid_token_are_refused(page: Any, review_site: dict[str, Any]) -> None:
    before = sorted(review_site["aws"]["table"].scan()["Items"], key=lambda i: i["pk"])
    # GIVEN no token: the page shows only the sign-in form, the API answers 401
    page.goto(review_site["url"])
    page.wait_for_selector("#login:not([hidden])")
    assert page.locator("#app").is_hidden() and page.locator(".card").count() == 0
    assert page.request.get(review_site["url"] + "api/variants").status == 401
    post = page.request.post(review_site["url"] + "api/undo", headers={"Authorization": "Bearer forged"})
    assert post.status == 403
    # WHEN a forged token is typed
    sign_in(page, review_site["url"], "forged-token-that-is-long-enough")
    # THEN it is refused, no crop is shown and nothing was written
    expect(page.locator("#login-error")).to_contain_text("invalid token")
    assert page.locator(".card").count() == 0
    assert sorted(review_site["aws"]["table"].scan()["Items"], key=lambda i: i["pk"]) == before

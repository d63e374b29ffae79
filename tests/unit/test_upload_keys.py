from __future__ import annotations

from functions.core.detection.upload_keys import image_id_for, upload_context


def test_hint_and_group_come_from_the_key() -> None:
    # GIVEN a key "<variant hint>/<group>/<file>"
    # WHEN its context is read
    context = upload_context("BMW X5 SUV 2007/advert-17/front.jpg")
    # THEN hint and group come from the path
    assert context.variant_hint == "BMW X5 SUV 2007"
    assert context.group_id == "advert-17"
    assert context.source == "upload"


def test_a_photo_without_group_is_its_own_group() -> None:
    # GIVEN a key with only a hint folder
    context = upload_context("BMW X5 SUV 2007/front.jpg")
    # THEN the photo forms a group of its own
    assert context.group_id == f"image-{context.image_id}"
    assert context.variant_hint == "BMW X5 SUV 2007"


def test_object_metadata_overrides_the_key() -> None:
    # GIVEN metadata naming group, source and hint
    metadata = {"Group-Id": "ad-9", "source": "adverts", "variant-hint": "Audi A4"}
    # WHEN the context is read
    context = upload_context("x/y/z.jpg", metadata)
    # THEN metadata wins
    assert (context.group_id, context.source, context.variant_hint) == ("ad-9", "adverts", "Audi A4")


def test_image_id_is_deterministic_per_key() -> None:
    # GIVEN the same key twice and another key
    # THEN the same key gives the same id, another key another id
    assert image_id_for("a b/ü.jpg") == image_id_for("a b/ü.jpg")
    assert image_id_for("a b/ü.jpg") != image_id_for("a b/u.jpg")

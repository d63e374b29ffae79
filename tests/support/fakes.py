"""Test doubles for the domain's ports (the real adapters are tested against moto)."""

from __future__ import annotations

from dataclasses import dataclass, field

from PIL import Image

from functions.core.base.records import Box, Detection


@dataclass
class FakeDetector:
    """Finds one 'car' in the middle of any image whose top-left pixel is not pure white.

    Records every image it was asked about, so tests can check what reached the model.
    """

    calls: list[tuple[int, int]] = field(default_factory=list)
    fail_on_width: int | None = None
    background_car: bool = False  # also a small, more confident car in the top-left corner

    def detect(self, image: Image.Image) -> list[Detection]:
        self.calls.append(image.size)
        if self.fail_on_width is not None and image.width == self.fail_on_width:
            raise RuntimeError("detector crashed (injected)")
        if image.getpixel((0, 0)) == (255, 255, 255):
            return []
        w, h = image.size
        main = Detection(
            box=Box(x1=w * 0.25, y1=h * 0.25, x2=w * 0.75, y2=h * 0.75), confidence=0.9, label="car"
        )
        if not self.background_car:
            return [main]
        small = Detection(box=Box(x1=0, y1=0, x2=w * 0.2, y2=h * 0.2), confidence=0.95, label="car")
        return [small, main]

"""YOLO pre- and post-processing in numpy, as Ultralytics does it, for runtimes without torch.

Detection: letterbox (bilinear resize bit-exact with OpenCV's INTER_LINEAR, grey 114 padding,
centred); the raw head output (1 × (4 + nc) × anchors: centre-x, centre-y, width, height, then one
score per class) decoded with the best class per anchor, the class filter, the confidence threshold,
class-aware NMS and the rescale back to the original image. Classification: shortest side resized to
the model size (Pillow bilinear, as torchvision does on PIL images), centre crop, scaled to 0–1.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from PIL import Image

FloatArray = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int64]
Int32Array = npt.NDArray[np.int32]
UInt8Array = npt.NDArray[np.uint8]

PAD_VALUE = 114
CLASS_OFFSET = 7680.0  # Ultralytics' max_wh: moves each class's boxes apart so NMS stays per class


@dataclass(frozen=True)
class Letterbox:
    """Where the original image sits inside the square model input."""

    gain_x: float
    gain_y: float
    pad_x: int
    pad_y: int
    width: int
    height: int


@dataclass(frozen=True)
class RawDetections:
    """Detections in original-image pixels: boxes (n × 4, x1 y1 x2 y2), scores (n), class ids (n)."""

    boxes: FloatArray
    scores: FloatArray
    class_ids: IntArray


COEF_BITS = 11  # OpenCV's INTER_RESIZE_COEF_BITS: 8-bit resizes use 11-bit fixed-point weights
COEF_SCALE = np.float32(1 << COEF_BITS)


def _linear_taps(src: int, dst: int, clamp: bool) -> tuple[IntArray, IntArray, IntArray, IntArray]:
    """Source indices and fixed-point weights along one axis, as OpenCV's resizeGeneric computes them.

    Half-pixel centres in float32; along x the position is clamped inside the image (weight 0 at the
    edges), along y the rows are clipped but the weight kept — that asymmetry is OpenCV's.
    """
    scale = 1.0 / (dst / src)
    position = ((np.arange(dst, dtype=np.float64) + 0.5) * scale - 0.5).astype(np.float32)
    low = np.floor(position).astype(np.int64)
    frac = (position - low.astype(np.float32)).astype(np.float32)
    if clamp:
        frac[low < 0] = 0.0
        low[low < 0] = 0
        edge = low >= src - 1
        frac[edge] = 0.0
        low[edge] = src - 1
    weight_low = np.rint((np.float32(1.0) - frac) * COEF_SCALE).astype(np.int64)
    weight_high = np.rint(frac * COEF_SCALE).astype(np.int64)
    return np.clip(low, 0, src - 1), np.clip(low + 1, 0, src - 1), weight_low, weight_high


def resize_bilinear(image: UInt8Array, width: int, height: int) -> UInt8Array:
    """Resize an H × W × C uint8 array bit-exactly like cv2.resize(..., interpolation=INTER_LINEAR).

    Same taps and 11-bit weights, a horizontal pass in integers, then OpenCV's vectorised vertical
    pass ((b0·(S0>>4))>>16 + (b1·(S1>>4))>>16 + 2)>>2. Checked against OpenCV in the unit tests.
    """
    src_h, src_w = image.shape[:2]
    if (src_w, src_h) == (width, height):
        return image
    channels = 1 if image.ndim == 2 else image.shape[2]
    y0, y1, wy0, wy1 = _linear_taps(src_h, height, clamp=False)
    x0, x1, wx0, wx1 = _linear_taps(src_w, width, clamp=True)
    # Work on rows of W·C values so every numpy loop runs over one long contiguous axis.
    lanes = np.arange(channels)
    cols0 = (x0[:, None] * channels + lanes).ravel()
    cols1 = (x1[:, None] * channels + lanes).ravel()
    wcol0 = np.repeat(wx0, channels).astype(np.int32)
    wcol1 = np.repeat(wx1, channels).astype(np.int32)
    flat = image.reshape(src_h, src_w * channels)

    def vertical_term(rows: IntArray, weights: IntArray) -> Int32Array:
        band = flat[rows]  # gather in uint8: the rows first, then the columns
        line = band[:, cols0].astype(np.int32)
        line *= wcol0
        line += band[:, cols1].astype(np.int32) * wcol1
        line >>= 4
        line *= weights.astype(np.int32)[:, None]
        line >>= 16
        return line

    out = vertical_term(y0, wy0)
    out += vertical_term(y1, wy1)
    out += 2
    out >>= 2
    return np.clip(out, 0, 255).astype(np.uint8).reshape((height, width, *image.shape[2:]))


def _opencv_resize() -> Any:
    """cv2.resize when OpenCV is installed (the light image ships opencv-python-headless), else None."""
    try:
        import cv2
    except ImportError:
        return None
    return cv2.resize


def resize_linear(image: UInt8Array, width: int, height: int) -> UInt8Array:
    """INTER_LINEAR resize: OpenCV's SIMD code when present (~1 ms), the bit-exact numpy twin otherwise."""
    if _CV2_RESIZE is None:
        return resize_bilinear(image, width, height)
    resized: UInt8Array = _CV2_RESIZE(image, (width, height), interpolation=1)  # 1 = cv2.INTER_LINEAR
    return resized


_CV2_RESIZE = _opencv_resize()


def letterbox(image: Image.Image, size: int) -> tuple[FloatArray, Letterbox]:
    """An RGB PIL image → a 1 × 3 × size × size float32 tensor in 0–1, and its placement."""
    rgb = np.asarray(image.convert("RGB") if image.mode != "RGB" else image)
    height, width = rgb.shape[:2]
    ratio = min(size / height, size / width)
    new_w, new_h = max(round(width * ratio), 1), max(round(height * ratio), 1)
    pad_w, pad_h = (size - new_w) / 2, (size - new_h) / 2
    top, left = round(pad_h - 0.1), round(pad_w - 0.1)
    canvas = np.full((size, size, 3), PAD_VALUE, dtype=np.uint8)
    canvas[top : top + new_h, left : left + new_w] = resize_linear(rgb, new_w, new_h)
    tensor = canvas.transpose(2, 0, 1)[None].astype(np.float32) / np.float32(255.0)
    geometry = Letterbox(
        gain_x=new_w / width, gain_y=new_h / height, pad_x=left, pad_y=top, width=width, height=height
    )
    return np.ascontiguousarray(tensor), geometry


def box_iou_one(box: FloatArray, others: FloatArray) -> FloatArray:
    """IoU of one x1 y1 x2 y2 box with each of `others` (n × 4)."""
    ix1 = np.maximum(box[0], others[:, 0])
    iy1 = np.maximum(box[1], others[:, 1])
    ix2 = np.minimum(box[2], others[:, 2])
    iy2 = np.minimum(box[3], others[:, 3])
    inter = np.clip(ix2 - ix1, 0, None) * np.clip(iy2 - iy1, 0, None)
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (others[:, 2] - others[:, 0]) * (others[:, 3] - others[:, 1])
    result: FloatArray = inter / np.maximum(area + areas - inter, np.float32(1e-9))
    return result


def nms(boxes: FloatArray, scores: FloatArray, iou_threshold: float) -> IntArray:
    """Greedy non-maximum suppression (torchvision.ops.nms semantics): kept indices, best score first."""
    order = np.argsort(-scores, kind="stable")
    keep: list[int] = []
    while order.size:
        best = int(order[0])
        keep.append(best)
        if order.size == 1:
            break
        rest = order[1:]
        order = rest[box_iou_one(boxes[best], boxes[rest]) <= iou_threshold]
    return np.asarray(keep, dtype=np.int64)


def decode_detections(
    output: FloatArray,
    geometry: Letterbox,
    confidence: float,
    class_ids: Sequence[int] | None,
    iou_threshold: float = 0.7,
    max_detections: int = 300,
    agnostic: bool = False,
) -> RawDetections:
    """Raw YOLO head output (1 × (4 + nc) × anchors) → final detections in original-image pixels.

    `agnostic`: one NMS over all kept classes (car, truck and bus boxes of one vehicle are one box,
    the best-scored label kept); otherwise per class, as Ultralytics does by default.
    """
    if output.ndim != 3 or output.shape[0] != 1 or output.shape[1] <= 4:
        raise ValueError(
            f"expected a YOLO detection output of shape 1 × (4 + classes) × anchors, got {output.shape}"
        )
    predictions = output[0].T  # anchors × (4 + nc)
    class_scores = predictions[:, 4:]
    best_class = class_scores.argmax(axis=1)
    best_score = class_scores[np.arange(len(best_class)), best_class]
    keep = best_score > confidence
    if class_ids is not None:
        keep &= np.isin(best_class, np.asarray(list(class_ids)))
    xywh = predictions[keep, :4]
    scores = best_score[keep].astype(np.float32)
    classes = best_class[keep].astype(np.int64)
    boxes = np.empty_like(xywh)
    boxes[:, :2] = xywh[:, :2] - xywh[:, 2:4] / 2
    boxes[:, 2:] = xywh[:, :2] + xywh[:, 2:4] / 2
    if len(scores):
        offset = np.zeros_like(boxes) if agnostic else (classes[:, None] * CLASS_OFFSET).astype(np.float32)
        kept = nms(boxes + offset, scores, iou_threshold)
        kept = kept[:max_detections]
        boxes, scores, classes = boxes[kept], scores[kept], classes[kept]
    return RawDetections(boxes=scale_boxes(boxes, geometry), scores=scores, class_ids=classes)


def scale_boxes(boxes: FloatArray, geometry: Letterbox) -> FloatArray:
    """Letterboxed-input boxes → original-image pixels, clipped to the image."""
    scaled = boxes.astype(np.float32, copy=True)
    scaled[:, [0, 2]] = (scaled[:, [0, 2]] - geometry.pad_x) / geometry.gain_x
    scaled[:, [1, 3]] = (scaled[:, [1, 3]] - geometry.pad_y) / geometry.gain_y
    scaled[:, [0, 2]] = scaled[:, [0, 2]].clip(0, geometry.width)
    scaled[:, [1, 3]] = scaled[:, [1, 3]].clip(0, geometry.height)
    return scaled


def classify_input(image: Image.Image, size: int) -> FloatArray:
    """An image → 1 × 3 × size × size float32 in 0–1: shortest side to `size`, centre crop (Ultralytics)."""
    rgb = image.convert("RGB") if image.mode != "RGB" else image
    width, height = rgb.size
    if width <= height:
        new_w, new_h = size, int(size * height / width)
    else:
        new_w, new_h = int(size * width / height), size
    if (new_w, new_h) != (width, height):
        rgb = rgb.resize((new_w, new_h), Image.Resampling.BILINEAR)
    top = round((new_h - size) / 2.0)
    left = round((new_w - size) / 2.0)
    cropped = rgb.crop((left, top, left + size, top + size))
    array = np.asarray(cropped, dtype=np.float32) / np.float32(255.0)
    return np.ascontiguousarray(array.transpose(2, 0, 1)[None])


def mirror_is_flipped_input(image: Image.Image) -> bool:
    """Whether the shortest-side resize + centre crop of the mirror image is the image's own input
    flipped along its width: true for a square image, whose resize and crop are symmetric."""
    return image.width == image.height


def mirrored_classify_input(image: Image.Image, tensor: FloatArray, size: int) -> FloatArray:
    """`classify_input` of the mirror image, given `tensor` = `classify_input(image, size)`.

    For a square image (every crop is square) the resize and the centre crop are symmetric, so that is
    `tensor` flipped along its width: the same values without a second resize. Any other image is
    mirrored and preprocessed again (its centre crop can be one pixel off symmetric)."""
    if mirror_is_flipped_input(image):
        return np.ascontiguousarray(tensor[..., ::-1])
    return classify_input(image.transpose(Image.Transpose.FLIP_LEFT_RIGHT), size)

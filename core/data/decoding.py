"""Image files to HWC uint8 arrays with PIL and NumPy alone: probing, decoding, decoding at a size.

Training, `tk predict` on a run and `tk predict` on an ONNX file all decode through
`decode_at`, so a model sees the same pixels in each; it imports no torch, so an exported
model answers without it.

Why PIL, at a size (measured in docs/benchmarks.md, `benchmarks/data_path.py --decoders`): a
large JPEG decoded with `draft` (the decoder's own 1/2, 1/4 or 1/8 scaling) and resized by
PIL's antialiased bilinear filter takes a ninth of the time of a full decode and a float
resize in torch, and a small one or a PNG about four fifths. torchvision.io with a uint8
resize is faster still on small JPEGs and PNGs, but it needs torch, which a model exported to
ONNX answers without, and one decoder everywhere is what keeps the pixels the same.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Sequence, TypeVar

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from taskkit.errors import BadInputError

IMAGE_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp"})
GRAY_MODES = frozenset({"L", "1", "I;16", "I;16B", "I;16L", "I;16N", "I", "LA"})
_WIDE_MODES = frozenset({"I", "I;16", "I;16B", "I;16L", "I;16N", "F"})
#: Threads for decoding many files at once: decoders release the GIL, so threads help.
DECODE_THREADS = min(8, os.cpu_count() or 1)

Result = TypeVar("Result")


def is_image_file(name: str) -> bool:
    return os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS


def probe(path: str) -> tuple[tuple[int, int], str] | str:
    """`((width, height), mode)` of a decodable image, or the reason it cannot be read.

    `verify()` checks the container (PNG checksums, headers); JPEGs are then decoded at a
    reduced scale so a truncated file is caught without paying for a full decode.
    """
    try:
        if os.path.getsize(path) == 0:
            return "empty file"
        with Image.open(path) as img:
            img.verify()
        with Image.open(path) as img:
            size, mode = img.size, img.mode
            img.draft(None, (16, 16))
            img.load()
    except UnidentifiedImageError:
        return "not a readable image (unknown format or damaged header)"
    except Exception as exc:  # PIL raises many types (OSError, SyntaxError, struct.error, ...)
        return f"corrupt or truncated image ({short_reason(exc, path)})"
    return size, mode


def in_threads(work: Callable[[str], Result], paths: Sequence[str]) -> list[Result]:
    """`work` on each path, in order, in threads when there are enough paths to pay for them."""
    if len(paths) < 64:
        return [work(p) for p in paths]
    with ThreadPoolExecutor(DECODE_THREADS) as pool:
        return list(pool.map(work, paths, chunksize=16))


def probe_all(paths: Sequence[str]) -> list[tuple[tuple[int, int], str] | str]:
    """`probe` for many files, in order."""
    return in_threads(probe, paths)


def short_reason(exc: Exception, path: str) -> str:
    """An exception's message without the path (the caller names it), on one line."""
    text = " ".join(str(exc).replace(repr(path), "").replace(path, "").split()) or type(exc).__name__
    return text.rstrip(" :")


def decode(path: str, channels: int) -> np.ndarray:
    """An image file at its own size as HWC uint8 with `channels` channels (1: "L", 3: "RGB")."""
    return _read(path, lambda img: pil_to_array(img, channels))


def decode_at(path: str, channels: int, height: int, width: int | None = None) -> np.ndarray:
    """An image file as HWC uint8 of `height` x `width` (square by default), `channels` channels.

    A JPEG is drafted to the smallest decoder scale still at least that size before the
    antialiased bilinear resize, which gives nearly the same pixels for much less work.
    """
    width = height if width is None else width

    def at_size(img: Image.Image) -> np.ndarray:
        img = _as_8_bit(img, channels)
        if img.size != (width, height):
            img = img.resize((width, height), Image.BILINEAR)
        return pil_to_array(img, channels)

    return _read(path, at_size, draft=(width, height))


def _read(path: str, convert: Callable[[Image.Image], np.ndarray], draft: tuple[int, int] | None = None) -> np.ndarray:
    try:
        with Image.open(path) as img:
            if draft is not None and img.format == "JPEG":
                turned = img.getexif().get(0x0112, 1) in (5, 6, 7, 8)  # EXIF orientation swaps the sides
                img.draft(img.mode, draft[::-1] if turned else draft)
            return convert(ImageOps.exif_transpose(img))
    except Exception as exc:
        raise BadInputError(
            f"cannot read image '{path}' ({short_reason(exc, path)}); run `tk data check` on the data to find bad files"
        ) from exc


def _as_8_bit(img: Image.Image, channels: int) -> Image.Image:
    """16-bit, float and palette images as 8-bit L or RGB, the way `pil_to_array` converts them."""
    if img.mode in _WIDE_MODES or img.mode == "P":
        return Image.fromarray(pil_to_array(img, channels)[..., 0] if channels == 1 else pil_to_array(img, channels))
    return img.convert("L" if channels == 1 else "RGB")


def pil_to_array(img: Image.Image, channels: int) -> np.ndarray:
    """Convert a PIL image to HWC uint8; 16-bit and float images are scaled to 8 bits first."""
    if img.mode in _WIDE_MODES:
        wide = np.asarray(img, dtype=np.float64)
        scale = 255.0 / 65535.0 if img.mode != "F" and wide.max(initial=0) > 255 else 1.0
        img = Image.fromarray(np.clip(wide * scale + 0.5, 0, 255).astype(np.uint8), "L")
    elif img.mode == "P":
        img = img.convert("RGBA")
    arr = np.array(img.convert("L" if channels == 1 else "RGB"), dtype=np.uint8)
    return arr[..., None] if arr.ndim == 2 else arr

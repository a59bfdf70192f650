"""Decoding, checking, resizing and normalising images, and the datasets that serve them.

Every path an image takes (named arrays, files on disk, a single file to predict) goes
through the same steps in the same order: decode to a numpy HWC uint8 array, augment (train
only), resize with `resize`, then `to_tensor` normalises with the train split's statistics.
One code path means a model sees at prediction exactly what it saw in training.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Iterable, Sequence

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from taskkit.errors import BadInputError

IMAGE_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp"})
GRAY_MODES = frozenset({"L", "1", "I;16", "I;16B", "I;16L", "I;16N", "I", "LA"})
_WIDE_MODES = frozenset({"I", "I;16", "I;16B", "I;16L", "I;16N", "F"})
_RESIZE_CHUNK = 2048
_PROBE_WORKERS = min(8, os.cpu_count() or 1)

Augment = Callable[..., dict[str, Any]]


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
        return f"corrupt or truncated image ({_short(exc, path)})"
    return size, mode


def probe_all(paths: Sequence[str]) -> list[tuple[tuple[int, int], str] | str]:
    """`probe` for many files, in order; decoding releases the GIL, so threads help."""
    if len(paths) < 64:
        return [probe(p) for p in paths]
    with ThreadPoolExecutor(_PROBE_WORKERS) as pool:
        return list(pool.map(probe, paths, chunksize=16))


def _short(exc: Exception, path: str) -> str:
    text = " ".join(str(exc).replace(repr(path), "").replace(path, "").split()) or type(exc).__name__
    return text.rstrip(" :")


def decode(path: str, channels: int) -> np.ndarray:
    """An image file as HWC uint8 with `channels` channels (1: "L", 3: "RGB")."""
    try:
        with Image.open(path) as img:
            img = ImageOps.exif_transpose(img)
            return pil_to_array(img, channels)
    except Exception as exc:
        raise BadInputError(
            f"cannot read image '{path}' ({_short(exc, path)}); run `tk data check` on the data to find bad files"
        ) from exc


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


def to_channels(images: np.ndarray, channels: int) -> np.ndarray:
    """NHWC uint8 images with 1 or 3 channels; RGB to gray uses PIL's ITU-R 601-2 weights."""
    have = images.shape[-1]
    if have == channels:
        return images
    if channels == 3:
        return np.repeat(images, 3, axis=-1)
    weights = np.array([299, 587, 114], dtype=np.uint32)
    gray = (images.astype(np.uint32) @ weights + 500) // 1000
    return gray.astype(np.uint8)[..., None]


def resize(images: np.ndarray, size: int) -> np.ndarray:
    """Bilinear (antialiased) resize of HWC or NHWC uint8 images to `size` x `size`."""
    single = images.ndim == 3
    batch = images[None] if single else images
    if batch.shape[1:3] == (size, size):
        return images
    out = np.empty((len(batch), size, size, batch.shape[-1]), dtype=np.uint8)
    for start in range(0, len(batch), _RESIZE_CHUNK):
        chunk = torch.from_numpy(np.ascontiguousarray(batch[start:start + _RESIZE_CHUNK]))
        chunk = chunk.permute(0, 3, 1, 2).float()
        scaled = torch.nn.functional.interpolate(
            chunk, size=(size, size), mode="bilinear", align_corners=False, antialias=True
        )
        out[start:start + len(chunk)] = scaled.round().clamp(0, 255).byte().permute(0, 2, 3, 1).numpy()
    return out[0] if single else out


def to_tensor(image: np.ndarray, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    """HWC uint8 to a normalised float [C, H, W] tensor."""
    tensor = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1).float().div_(255.0)
    return (tensor - mean[:, None, None]) / std[:, None, None]


def channel_stats(images: Iterable[np.ndarray]) -> tuple[list[float], list[float]]:
    """Per-channel mean and std (in 0..1 units) over every pixel of HWC uint8 `images`.

    A channel with no spread gets std 1 so normalising never divides by zero.
    """
    total = squares = None
    count = 0
    for image in images:
        pixels = image.reshape(-1, image.shape[-1]).astype(np.float64) / 255.0
        total = pixels.sum(0) if total is None else total + pixels.sum(0)
        squares = (pixels**2).sum(0) if squares is None else squares + (pixels**2).sum(0)
        count += len(pixels)
    if total is None:
        raise BadInputError("the train split is empty; add images or lower --val-split/--test-split")
    mean = total / count
    std = np.sqrt(np.maximum(squares / count - mean**2, 0.0))
    std = np.where(std < 1e-6, 1.0, std)
    return [float(m) for m in mean], [float(s) for s in std]


def _augmented(image: np.ndarray, augment: Augment | None) -> np.ndarray:
    """Apply an albumentations-style callable, keeping the HWC uint8 contract."""
    if augment is None:
        return image
    out = np.asarray(augment(image=np.ascontiguousarray(image))["image"])
    if out.dtype != np.uint8:
        out = np.clip(out, 0, 255).astype(np.uint8)
    return out[..., None] if out.ndim == 2 else out


class _Images(torch.utils.data.Dataset):
    """Shared tail of every dataset: augment, resize, normalise; `targets` holds the labels."""

    def __init__(self, labels: Sequence[int], size: int, mean: Sequence[float], std: Sequence[float],
                 augment: Augment | None = None):
        self.targets = [int(t) for t in labels]
        self.size, self.augment = size, augment
        self.mean = torch.tensor(mean, dtype=torch.float32)
        self.std = torch.tensor(std, dtype=torch.float32)

    def __len__(self) -> int:
        return len(self.targets)

    def _raw(self, index: int) -> np.ndarray:
        raise NotImplementedError

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        image = resize(_augmented(self._raw(index), self.augment), self.size)
        return to_tensor(image, self.mean, self.std), self.targets[index]


class ArrayImages(_Images):
    """Images held in memory as NHWC uint8 (named datasets); already resized unless augmenting."""

    def __init__(self, images: np.ndarray, labels: Sequence[int], size: int, mean: Sequence[float],
                 std: Sequence[float], augment: Augment | None = None):
        super().__init__(labels, size, mean, std, augment)
        self.images = images

    def _raw(self, index: int) -> np.ndarray:
        return self.images[index]

    def __getitems__(self, indices: list[int]) -> list[tuple[torch.Tensor, int]]:
        """A whole batch in one go (the DataLoader's batched fetch): one conversion, not one per image.

        Per-image conversion made the data loader a quarter of a digits epoch; the values
        are the same as `__getitem__`'s, element for element.
        """
        if self.augment is not None:
            return [self[i] for i in indices]
        batch = torch.from_numpy(resize(self.images[indices], self.size)).permute(0, 3, 1, 2)
        batch = (batch.float().div_(255.0) - self.mean[:, None, None]) / self.std[:, None, None]
        batch = batch.contiguous()  # NCHW in memory too: channels-last strides slow CPU convolutions
        return [(image, self.targets[i]) for image, i in zip(batch, indices)]


class FileImages(_Images):
    """Images decoded from disk on each access, so memory stays flat and workers can pickle it."""

    def __init__(self, paths: Sequence[str], labels: Sequence[int], channels: int, size: int,
                 mean: Sequence[float], std: Sequence[float], augment: Augment | None = None):
        super().__init__(labels, size, mean, std, augment)
        self.paths, self.channels = list(paths), channels

    def _raw(self, index: int) -> np.ndarray:
        return decode(self.paths[index], self.channels)


def decode_resized(paths: Sequence[str], channels: int, size: int) -> list[np.ndarray]:
    """Decode and resize several files (for statistics), using threads like `probe_all`."""
    def one(path: str) -> np.ndarray:
        return resize(decode(path, channels), size)

    if len(paths) < 64:
        return [one(p) for p in paths]
    with ThreadPoolExecutor(_PROBE_WORKERS) as pool:
        return list(pool.map(one, paths, chunksize=16))


def load_image_for_prediction(path: str, *, in_channels: int, img_size: int,
                              mean: list[float], std: list[float]) -> torch.Tensor:
    """One image file as the normalised [C, S, S] tensor a model trained on this data expects."""
    if not os.path.isfile(path):
        raise BadInputError(f"image '{path}' does not exist; pass the path of an image file")
    image = resize(decode(path, in_channels), img_size)
    return to_tensor(image, torch.tensor(mean, dtype=torch.float32), torch.tensor(std, dtype=torch.float32))

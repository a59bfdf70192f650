"""A generated segmentation dataset: circles, squares and triangles on noisy backgrounds.

Each image has one to `max_shapes` shapes of random size, colour, position and rotation on a
background of random colour with Gaussian noise over everything, so neither colour nor a
clean edge gives the class away: only the outline does. Shapes never overlap and a shape's
colour always differs clearly from its background's, so every shape is seen whole and every
labelled pixel can be told from what is drawn. It is written to disk in the layout `tk segment`
reads (`images/`, `masks/`, `classes.txt`), for tests, the demo, and to show that layout.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from taskkit.errors import BadInputError

CLASSES = ("background", "circle", "square", "triangle")


def _outline(kind: int, cx: float, cy: float, radius: float, angle: float) -> list[tuple[float, float]] | None:
    """The polygon of a square (kind 2) or triangle (kind 3) of circumradius `radius`; None for circles."""
    if kind == 1:
        return None
    corners = 4 if kind == 2 else 3
    return [(cx + radius * math.cos(angle + 2 * math.pi * k / corners),
             cy + radius * math.sin(angle + 2 * math.pi * k / corners)) for k in range(corners)]


def _placements(rng: np.random.Generator, size: int, wanted: int,
                tries: int = 30) -> list[tuple[int, float, float, float]]:
    """Up to `wanted` shapes `(kind, x, y, radius)` whose enclosing circles do not touch, so
    every shape is seen whole and its outline alone tells its class."""
    placed: list[tuple[int, float, float, float]] = []
    for _ in range(tries):
        if len(placed) == wanted:
            break
        radius = float(rng.uniform(size * 0.15, size * 0.3))
        cx, cy = (float(v) for v in rng.uniform(radius, size - radius, 2))
        kind = int(rng.integers(1, len(CLASSES)))
        if all(math.hypot(cx - x, cy - y) > radius + r + 1 for _, x, y, r in placed):
            placed.append((kind, cx, cy, radius))
    return placed


def _contrasting(rng: np.random.Generator, background: tuple[int, ...], margin: int = 60) -> tuple[int, ...]:
    """A random colour at least `margin` away from the background on average over the channels,
    so that no shape is invisible (its pixels would then be unlearnable noise)."""
    while True:
        colour = tuple(int(v) for v in rng.integers(0, 256, 3))
        if sum(abs(a - b) for a, b in zip(colour, background)) >= 3 * margin:
            return colour


def draw_sample(rng: np.random.Generator, size: int, max_shapes: int, noise: float) -> tuple[np.ndarray, np.ndarray]:
    """One `[size, size, 3]` uint8 image and its `[size, size]` mask of class numbers."""
    background = tuple(int(v) for v in rng.integers(0, 256, 3))
    image = Image.new("RGB", (size, size), background)
    mask = Image.new("L", (size, size), 0)
    paint, label = ImageDraw.Draw(image), ImageDraw.Draw(mask)
    for kind, cx, cy, radius in _placements(rng, size, int(rng.integers(1, max_shapes + 1))):
        colour = _contrasting(rng, background)
        polygon = _outline(kind, cx, cy, radius, float(rng.uniform(0, 2 * math.pi)))
        if polygon is None:
            box = [cx - radius, cy - radius, cx + radius, cy + radius]
            paint.ellipse(box, fill=colour)
            label.ellipse(box, fill=kind)
        else:
            paint.polygon(polygon, fill=colour)
            label.polygon(polygon, fill=kind)
    pixels = np.asarray(image, dtype=np.float64) + rng.normal(0, noise, (size, size, 3))
    return np.clip(pixels, 0, 255).round().astype(np.uint8), np.asarray(mask, dtype=np.uint8)


def write_shapes(out: Path, count: int = 300, size: int = 64, seed: int = 0, max_shapes: int = 3,
                 noise: float = 20.0) -> Path:
    """Write `count` samples to `out/images`, `out/masks` and `out/classes.txt`; refuses a folder in use."""
    out = Path(out)
    if count < 1 or size < 16 or max_shapes < 1:
        raise BadInputError(f"need count >= 1, size >= 16 and max shapes >= 1, got {count}, {size}, {max_shapes}")
    if out.exists() and any(out.iterdir()):
        raise BadInputError(f"{out} already holds files; choose an empty or new folder")
    (out / "images").mkdir(parents=True, exist_ok=True)
    (out / "masks").mkdir(exist_ok=True)
    rng = np.random.default_rng(seed)
    width = len(str(count - 1))
    for index in range(count):
        image, mask = draw_sample(rng, size, max_shapes, noise)
        stem = f"{index:0{width}d}"
        Image.fromarray(image, "RGB").save(out / "images" / f"{stem}.png")
        Image.fromarray(mask, "L").save(out / "masks" / f"{stem}.png")
    (out / "classes.txt").write_text("\n".join(CLASSES) + "\n", encoding="utf-8")
    return out

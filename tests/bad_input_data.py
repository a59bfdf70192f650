"""Awkward but real files a user hands over, written to disk for the bad-input matrix.

Each builder writes a small dataset in the form a task reads, with the awkward cases mixed
among good files, and says which files are which so a test can check what became of each.
"""

from __future__ import annotations

import hashlib
import os
import random
import shutil
from pathlib import Path

import numpy as np
from PIL import Image

#: Class folders with a space and with letters outside ASCII.
PHOTO_CLASSES = ("red apples", "café crème", "Ωmega")
#: Files no decoder can read: they are skipped and named (or, with --strict, stop the run).
UNREADABLE = {"zero.png": "empty file", "truncated.png": "corrupt or truncated image",
              "notes.jpg": "not a readable image"}
#: Files that are images in an unusual form: each is read and used.
ODD = ("png_named.jpg", "gray.png", "rgba.png", "sixteen_bit.png", "palette.png", "one_pixel.png")
HUGE = "huge.png"
GOOD_PER_CLASS = 8


def checksums(root: Path) -> dict[str, str]:
    """SHA-256 of every file under `root` by relative path: equal before and after a command
    means it changed, added and removed nothing there."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(Path(root).rglob("*")) if p.is_file()}


def _tinted(rng: np.random.Generator, channel: int, size: int = 12) -> np.ndarray:
    pixels = rng.integers(0, 60, (size, size, 3), dtype=np.uint8)
    pixels[..., channel] += 180
    return pixels


def write_odd_image(path: Path, kind: str, pixels: np.ndarray) -> None:
    """`pixels` (HxWx3 uint8) saved as one of the awkward kinds in `UNREADABLE`, `ODD` or `HUGE`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if kind == "zero.png":
        path.write_bytes(b"")
    elif kind == "truncated.png":
        Image.fromarray(pixels).save(path)
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    elif kind == "notes.jpg":
        path.write_text("a note saved with an image extension\n", encoding="utf-8")
    elif kind == "png_named.jpg":
        Image.fromarray(pixels).save(path, format="PNG")
    elif kind == "gray.png":
        Image.fromarray(pixels[..., 0]).save(path)
    elif kind == "rgba.png":
        Image.fromarray(np.dstack([pixels, np.full(pixels.shape[:2], 200, np.uint8)])).save(path)
    elif kind == "sixteen_bit.png":
        Image.fromarray(pixels[..., 0].astype(np.uint16) * 257).save(path)
    elif kind == "palette.png":
        Image.fromarray(pixels).convert("P", palette=Image.ADAPTIVE).save(path)
    elif kind == "one_pixel.png":
        Image.fromarray(pixels[:1, :1]).save(path)
    elif kind == HUGE:
        Image.fromarray(np.tile(pixels, (6000 // len(pixels), 6000 // len(pixels), 1))).save(path)
    else:
        raise ValueError(kind)
    assert kind in (*UNREADABLE, *ODD, HUGE)


def photo_folder(root: Path, extras: tuple[str, ...] = (*UNREADABLE, *ODD), seed: int = 0) -> Path:
    """Class folders of tinted 12x12 RGB images, with `extras` among the first class's images."""
    rng = np.random.default_rng(seed)
    for channel, name in enumerate(PHOTO_CLASSES):
        (root / name).mkdir(parents=True)
        for index in range(GOOD_PER_CLASS):
            Image.fromarray(_tinted(rng, channel)).save(root / name / f"{index}.png")
    for kind in extras:
        write_odd_image(root / PHOTO_CLASSES[0] / kind, kind, _tinted(rng, 0))
    return root


def photo_manifest(folder: Path, path: Path, *, blank_label_row: int | None = None) -> Path:
    """A CSV as spreadsheets write them: a BOM, CRLF line ends, numbers as labels and an extra
    `note` column whose quoted cells span two lines; `blank_label_row` leaves one label empty."""
    lines = ["path,label,note"]
    rows = [(f"{folder.name}/{name}/{i}.png", str(10 * c)) for c, name in enumerate(PHOTO_CLASSES)
            for i in range(GOOD_PER_CLASS)]
    for number, (file, label) in enumerate(rows):
        label = "" if number == blank_label_row else label
        lines.append(f'{file},{label},"seen twice\r\nby the annotator"' if number % 5 == 0 else f"{file},{label},")
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode("utf-8-sig"))
    return path


def manifest_line(row: int) -> int:
    """The line the manifest row `row` (counted from 0) starts on: every fifth row takes two lines."""
    return 2 + row + (row + 4) // 5


GOOD_WORDS = ("great", "loved", "wonderful", "superb", "delightful")
BAD_WORDS = ("awful", "hated", "boring", "dreadful", "tedious")


def review(rng: random.Random, positive: bool) -> str:
    return f"{rng.choice(GOOD_WORDS if positive else BAD_WORDS)} {rng.choice(('film', 'plot', 'acting'))}"


def spreadsheet_reviews(path: Path, count: int = 240, seed: int = 0) -> tuple[Path, list[tuple[int, str]]]:
    """Reviews as a spreadsheet exports them: a BOM, CRLF ends, an `id` column before the text and a
    `note` after it, labels as numbers, every seventh text quoted across two lines; the last two
    rows have an empty text and an empty label. Returns the file and its (line, reason) skips."""
    rng = random.Random(seed)
    lines, number = ["id,text,label,note"], 2
    for index in range(count):
        positive = index % 2 == 1
        text = review(rng, positive)
        if index % 7 == 0:
            lines.append(f'{index},"{text}\r\nreally",{int(positive)},')
            number += 2
        else:
            lines.append(f"{index},{text},{int(positive)},ok")
            number += 1
    lines += [f"{count},,1,", f'{count + 1},"no label here",,']
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode("utf-8-sig"))
    return path, [(number, "empty text"), (number + 1, "no label")]


def latin1_reviews(path: Path, count: int = 120, every: int = 3, seed: int = 1) -> tuple[Path, list[int]]:
    """Reviews saved in Latin-1, every `every`-th row with an accented word; returns the lines of those."""
    rng = random.Random(seed)
    lines, accented = ["text,label"], []
    for index in range(count):
        positive = index % 2 == 1
        text = review(rng, positive)
        if index % every == 0:
            text += " au café"
            accented.append(index + 2)
        lines.append(f"{text},{int(positive)}")
    path.write_bytes(("\n".join(lines) + "\n").encode("latin-1"))
    return path, accented


def tagged_sentences(count: int = 60) -> str:
    sentences = ["John B-PER\nlives O\nin O\nParís B-LOC", "Anna B-PER\nvisits O\nZürich B-LOC",
                 "the O\ncat O\nsleeps O"]
    return "-DOCSTART- O\n\n" + "\n\n".join(sentences[i % 3] for i in range(count)) + "\n"


def segmentation_folder(root: Path, extras: tuple[str, ...] = (*UNREADABLE, *ODD), count: int = 16,
                        seed: int = 0) -> Path:
    """images/ and masks/ of two-class squares, with `extras` (and their masks) in a subfolder whose
    name has a space and accents."""
    rng = np.random.default_rng(seed)
    for sub in ("images", "masks"):
        (root / sub / "plage été").mkdir(parents=True)
    (root / "classes.txt").write_bytes("fond\ncarré\n".encode("utf-8-sig"))

    def pair(stem: str) -> tuple[np.ndarray, np.ndarray]:
        mask = np.zeros((16, 16), np.uint8)
        top, left = rng.integers(0, 8, 2)
        mask[top:top + 8, left:left + 8] = 1
        pixels = rng.integers(0, 50, (16, 16, 3), dtype=np.uint8)
        pixels[mask == 1] += 180
        Image.fromarray(mask).save(root / "masks" / f"{stem}.png")
        return pixels, mask

    for index in range(count):
        pixels, _ = pair(f"{index:02d}")
        Image.fromarray(pixels).save(root / "images" / f"{index:02d}.png")
    for kind in extras:
        stem = os.path.join("plage été", Path(kind).stem)
        pixels, mask = pair(stem)
        if kind == "one_pixel.png":
            Image.fromarray(mask[:1, :1]).save(root / "masks" / f"{stem}.png")
        elif kind == HUGE:
            Image.fromarray(np.tile(mask, (375, 375))).save(root / "masks" / f"{stem}.png")
        write_odd_image(root / "images" / "plage été" / kind, kind, pixels)
    return root


def copy_run(run: Path, to: Path) -> Path:
    shutil.copytree(run, to)
    return to

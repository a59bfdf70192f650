"""`tk predict model.onnx IMAGE...|TEXT...`: an exported classifier answering through onnxruntime alone.

A deployed model should need no torch: this module reads the preprocessing JSON `tk export`
wrote beside the file, prepares each image with PIL and NumPy as it says (or each text, with
`taskkit.export.onnx_text`), runs the ONNX session and prints the top labels as `tk predict RUN`
does. Nothing here imports torch.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from taskkit.report.answers import print_top_labels
from taskkit.errors import BadInputError, describe

CLASSIFIERS = ("classify", "finetune", "text")


def predict_onnx(model_path: Path, inputs: list[str], top_k: int | None, as_json: bool) -> list[dict[str, Any]]:
    """Top-k labels with probabilities for each image file or text, printed like `tk predict RUN`
    (`top_k` None: 3 for images, 1 for texts, as there)."""
    info = _preprocessing(model_path)
    session = _session(model_path)
    text = info["task"] == "text"
    if text:
        from taskkit.export.onnx_text import text_logits

        logits = text_logits(session, info, inputs)
    else:
        logits = _run(session, np.stack([prepare(path, info["input"]) for path in inputs]))
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    probabilities = shifted / shifted.sum(axis=1, keepdims=True)
    classes = info["classes"]
    k = max(1, min(top_k or (1 if text else 3), len(classes)))
    results = []
    for item, row in zip(inputs, probabilities):
        best = np.argsort(-row, kind="stable")[:k]
        results.append({"text" if text else "file": item, "predictions": [
            {"label": classes[i], "probability": round(float(row[i]), 4)} for i in best]})
    print_top_labels(results, as_json)
    return results


def prepare(path: str, spec: dict[str, Any]) -> np.ndarray:
    """One image as the float32 CHW array the JSON describes: resized, scaled, normalised."""
    from PIL import Image, ImageOps

    if not Path(path).is_file():
        raise BadInputError(f"image '{path}' does not exist; pass the path of an image file")
    try:
        with Image.open(path) as image:
            image = ImageOps.exif_transpose(image).convert("L" if spec["channels"] == 1 else "RGB")
            image = image.resize((spec["width"], spec["height"]), Image.BILINEAR)
    except Exception as exc:
        raise BadInputError(f"cannot read image '{path}' ({describe(exc)})") from None
    pixels = np.asarray(image, dtype=np.float32).reshape(spec["height"], spec["width"], spec["channels"])
    mean, std = np.asarray(spec["mean"], np.float32), np.asarray(spec["std"], np.float32)
    return ((pixels * np.float32(spec["scale"]) - mean) / std).transpose(2, 0, 1).astype(np.float32)


def _preprocessing(model_path: Path) -> dict[str, Any]:
    sidecar = model_path.with_name(model_path.name + ".json")
    if not model_path.is_file():
        raise BadInputError(f"{model_path} does not exist; pass a run directory or a file `tk export` wrote")
    if not sidecar.is_file():
        raise BadInputError(f"{model_path} has no {sidecar.name} beside it; `tk export` writes one with the "
                            f"preprocessing and classes the model needs")
    info = json.loads(sidecar.read_text(encoding="utf-8"))
    if info.get("task") not in CLASSIFIERS:
        raise BadInputError(f"tk predict answers through ONNX for classifiers ({', '.join(CLASSIFIERS)}); "
                            f"{model_path} is a {info.get('task')} model: predict with its run directory")
    return info


def _session(model_path: Path) -> Any:
    try:
        import onnxruntime as ort
    except ImportError:
        raise BadInputError("predicting with an ONNX file needs onnxruntime: pip install 'taskkit[onnx]'") from None
    return ort.InferenceSession(str(model_path), providers=["CPUExecutionProvider"])


def _run(session: Any, images: np.ndarray) -> np.ndarray:
    """Logits for every image; a model exported with a fixed batch gets batches of that size, padded."""
    fixed = session.get_inputs()[0].shape[0]
    if not isinstance(fixed, int):
        return session.run(["logits"], {"images": images})[0]
    outputs = []
    for start in range(0, len(images), fixed):
        chunk = images[start:start + fixed]
        padded = np.concatenate([chunk, np.repeat(chunk[-1:], fixed - len(chunk), axis=0)])
        outputs.append(session.run(["logits"], {"images": padded})[0][: len(chunk)])
    return np.concatenate(outputs)

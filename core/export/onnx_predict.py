"""`tk predict model.onnx IMAGE...|TEXT...`: an exported model answering through onnxruntime alone.

A deployed model should need no torch: this module reads the JSON `tk export` wrote beside the
file, which says what the model reads (images or token ids) and answers (labels or tags),
prepares each input as it says (images with PIL and NumPy, texts with
`taskkit.export.onnx_text`), runs the ONNX session and prints the answers as `tk predict RUN`
does. Nothing here imports torch or knows a task by name.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from taskkit.errors import BadInputError, describe
from taskkit.report.answers import print_tags, print_top_labels

#: What this module can answer through ONNX; a mask model answers with its run directory.
ANSWERS = ("labels", "tags")


def predict_onnx(model_path: Path, inputs: list[str], top_k: int | None, as_json: bool) -> list[dict[str, Any]]:
    """Each input's answer, printed like `tk predict RUN`: top-k labels with probabilities (`top_k`
    None: 3 for images, 1 for texts, as there), or for a tagger each token with its tag."""
    info = _sidecar(model_path)
    session = _session(model_path)
    texts = info["reads"] == "tokens"
    if info["answers"] == "tags":
        from taskkit.export.onnx_text import text_tags

        tagged = text_tags(session, info, inputs)
        print_tags(inputs, tagged, as_json)
        return [{"text": text, "tokens": tokens, "tags": tags} for text, (tokens, tags) in zip(inputs, tagged)]
    if texts:
        from taskkit.export.onnx_text import text_logits

        logits = text_logits(session, info, inputs)
    else:
        logits = _run(session, np.stack([prepare(path, info["input"]) for path in inputs]))
    key = "text" if texts else "file"
    results = _top_labels(inputs, logits, info["classes"], top_k or (1 if texts else 3), key)
    print_top_labels(results, as_json)
    return results


def _top_labels(inputs: list[str], logits: np.ndarray, classes: list[str], top_k: int, key: str) -> list[dict[str, Any]]:
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    probabilities = shifted / shifted.sum(axis=1, keepdims=True)
    k = max(1, min(top_k, len(classes)))
    results = []
    for item, row in zip(inputs, probabilities):
        best = np.argsort(-row, kind="stable")[:k]
        results.append({key: item, "predictions": [
            {"label": classes[i], "probability": round(float(row[i]), 4)} for i in best]})
    return results


def prepare(path: str, spec: dict[str, Any]) -> np.ndarray:
    """One image as the float32 CHW array the JSON describes: decoded at its size as training
    decodes (`taskkit.data.decoding`), scaled, normalised."""
    from taskkit.data.decoding import decode_at

    if not Path(path).is_file():
        raise BadInputError(f"image '{path}' does not exist; pass the path of an image file")
    pixels = decode_at(path, spec["channels"], spec["height"], spec["width"]).astype(np.float32)
    mean, std = np.asarray(spec["mean"], np.float32), np.asarray(spec["std"], np.float32)
    return ((pixels * np.float32(spec["scale"]) - mean) / std).transpose(2, 0, 1).astype(np.float32)


def _sidecar(model_path: Path) -> dict[str, Any]:
    """The export's JSON, refused in one line where it cannot be answered from here."""
    sidecar = model_path.with_name(model_path.name + ".json")
    if not model_path.is_file():
        raise BadInputError(f"{model_path} does not exist; pass a run directory or a file `tk export` wrote")
    if not sidecar.is_file():
        raise BadInputError(f"{model_path} has no {sidecar.name} beside it; `tk export` writes one with the "
                            f"preprocessing and classes the model needs")
    try:
        info = json.loads(sidecar.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadInputError(f"{sidecar} is not the JSON `tk export` writes ({describe(exc)})") from None
    if not isinstance(info, dict) or "reads" not in info or "answers" not in info:
        raise BadInputError(f"{sidecar} was written by an older tk export (it does not say what the model reads "
                            f"and answers); export the run again")
    if info["answers"] not in ANSWERS:
        raise BadInputError(f"tk predict answers through ONNX for models that answer {' or '.join(ANSWERS)}; "
                            f"{model_path} answers {info['answers']} ({info.get('task')} run): predict with its "
                            f"run directory")
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

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
from taskkit.storage.runs import COUNT, FLAG, INDEX, NAMES, NUMBER, NUMBERS, OBJECT, TEXT, check_fields

#: What this module can answer through ONNX; a mask model answers with its run directory.
ANSWERS = ("labels", "tags")


def predict_onnx(model_path: Path, inputs: list[str], top_k: int | None, as_json: bool) -> list[dict[str, Any]]:
    """Each input's answer, printed like `tk predict RUN`: top-k labels with probabilities (`top_k`
    None: 3 for images, 1 for texts, as there), or for a tagger each token with its tag."""
    info = _sidecar(model_path)
    session = _session(model_path, info)
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
    with np.errstate(all="ignore"):  # non-finite logits give NaN probabilities, printed as null in JSON
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
    with np.errstate(all="ignore"):  # a zero std gives non-finite inputs, told once where answers are printed
        return ((pixels * np.float32(spec["scale"]) - mean) / std).transpose(2, 0, 1).astype(np.float32)


def _sidecar(model_path: Path) -> dict[str, Any]:
    """The export's JSON, checked against `SIDECAR_FIELDS`, and refused in one line naming the file
    and the field where it cannot be answered from here (a hand-edited JSON would otherwise fail
    as a traceback wherever the field is first read)."""
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
    check_fields(info, SIDECAR_FIELDS, sidecar, EXPORT_AGAIN)
    if info["answers"] not in ANSWERS:
        raise BadInputError(f"tk predict answers through ONNX for models that answer {' or '.join(ANSWERS)}; "
                            f"{model_path} answers {info['answers']} ({info.get('task')} run): predict with its "
                            f"run directory")
    check_fields(info, READS_FIELDS[info["reads"]], sidecar, EXPORT_AGAIN)
    if info["reads"] == "images":
        _check_statistics(info["input"], sidecar)
    else:
        _check_tokens(info, sidecar)
    return info


EXPORT_AGAIN = "export the run again with `tk export RUN --format onnx`"
_READS = ("images", "tokens")
_OPTIONAL_FLAG = ("true, false or null", lambda v: v is None or isinstance(v, bool))
#: The fields every export's JSON has, then those of each input kind, as `tk export` writes
#: them (`taskkit.export.images`, `taskkit.export.tokens`) and this module and `onnx_text` read them.
SIDECAR_FIELDS = (("reads", (f"one of {', '.join(_READS)}", lambda v: v in _READS), True),
                  ("answers", TEXT, True), ("classes", NAMES, True))
READS_FIELDS = {
    "images": (("input", OBJECT, True), ("input.channels", ("1 or 3", lambda v: type(v) is int and v in (1, 3)), True),
               ("input.height", COUNT, True), ("input.width", COUNT, True), ("input.scale", NUMBER, True),
               ("input.mean", NUMBERS, True), ("input.std", NUMBERS, True)),
    "tokens": (("tokenizer", OBJECT, True), ("tokenizer.name", TEXT, True), ("tokenizer.lowercase", _OPTIONAL_FLAG, False),
               ("tokenizer.state", TEXT, False),
               ("lowercase_lookup", FLAG, False), ("max_len", COUNT, True), ("vocabulary", NAMES, True),
               ("padding_id", INDEX, True), ("unknown_id", INDEX, True)),
}


def _check_statistics(spec: dict[str, Any], sidecar: Path) -> None:
    for name in ("mean", "std"):
        if len(spec[name]) != spec["channels"]:
            raise BadInputError(f"{sidecar}: 'input.{name}' has {len(spec[name])} values but 'input.channels' is "
                                f"{spec['channels']} (one per channel); {EXPORT_AGAIN}")


def _check_tokens(info: dict[str, Any], sidecar: Path) -> None:
    """Ids within the vocabulary, and a tokenizer this installation has, named in one line."""
    from taskkit.export.onnx_text import tokenizer

    for name in ("padding_id", "unknown_id"):
        if info[name] >= len(info["vocabulary"]):
            raise BadInputError(f"{sidecar}: '{name}' is {info[name]}, beyond the {len(info['vocabulary'])} "
                                f"entries of 'vocabulary'; {EXPORT_AGAIN}")
    try:
        tokenizer(info["tokenizer"])
    except BadInputError as exc:
        raise BadInputError(f"{sidecar}: 'tokenizer': {exc}") from None


def _session(model_path: Path, info: dict[str, Any]) -> "_Session":
    try:
        import onnxruntime as ort
    except ImportError:
        raise BadInputError("predicting with an ONNX file needs onnxruntime: pip install 'taskkit[onnx]'") from None
    options = ort.SessionOptions()
    options.log_severity_level = 4  # onnxruntime's own log lines would come beside ours: fatal ones only
    try:
        session = ort.InferenceSession(str(model_path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime's own error classes, one per kind of unreadable file
        raise BadInputError(f"{model_path} is not an ONNX model onnxruntime can load ({describe(exc)}); "
                            f"{EXPORT_AGAIN}") from None
    return _Session(session, model_path, len(info["classes"]))


class _Session:
    """An onnxruntime session whose failures name the files: the model refusing the inputs its
    JSON describes, or answering more or fewer classes than the JSON's `classes` lists."""

    def __init__(self, session: Any, model_path: Path, classes: int) -> None:
        self.session, self.model_path, self.classes = session, model_path, classes
        self.sidecar = model_path.with_name(model_path.name + ".json")

    def get_inputs(self) -> Any:
        return self.session.get_inputs()

    def run(self, names: list[str], feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        try:
            outputs = self.session.run(names, feeds)
        except Exception as exc:  # onnxruntime's error classes share no base but Exception
            raise BadInputError(f"{self.model_path} does not take the inputs {self.sidecar.name} describes "
                                f"({describe(exc)}); {EXPORT_AGAIN}") from None
        if outputs[0].shape[-1] != self.classes:
            raise BadInputError(f"{self.sidecar}: 'classes' lists {self.classes} classes but {self.model_path.name} "
                                f"answers {outputs[0].shape[-1]}; {EXPORT_AGAIN}")
        return outputs


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

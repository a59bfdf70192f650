"""Files tk reads back, hand-edited or hostile: each works, or stops with exit 2 and one line
naming the file and the field (or the line), and no file involved changes.

One trained run (digits 0 and 1, one epoch) and its ONNX export serve the whole module; each
test damages a copy. The cases: a corrupt ONNX file or edited JSON beside it; a run.json or
last.ckpt with a field missing or of another kind; non-finite numbers in `--json` output; a
text CSV with two columns of one name; UTF-16 text; manifest rows that lead outside their folder.
"""

import contextlib
import io
import json
import os
import random
import shutil

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file, save_file

from bad_input_data import checksums
from conftest import one_line_error, tk_in_process


def _tk(*args):
    """`tk ARGS` in this process for a module fixture (where capsys cannot reach)."""
    from taskkit.cli.app import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), pytest.raises(SystemExit) as exit_info:
        main(list(map(str, args)))
    assert exit_info.value.code == 0, err.getvalue()


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """The run, its ONNX file with the JSON beside it, and a digit image to predict."""
    root = tmp_path_factory.mktemp("trained")
    _tk("classify", "--data", "digits", "--classes", "0,1", "--epochs", 1, "--quiet", "--out", root, "--name", "r")
    _tk("export", root / "r", "--format", "onnx", "--out", root / "onnx" / "m.onnx")
    from sklearn.datasets import load_digits

    image = root / "zero.png"
    Image.fromarray((load_digits().images[0] * 255 / 16).astype(np.uint8)).save(image)
    return root / "r", root / "onnx" / "m.onnx", image


def _copy_run(trained, to):
    return shutil.copytree(trained[0], to / "run")


def _copy_onnx(trained, to):
    model = to / "m.onnx"
    shutil.copy(trained[1], model)
    shutil.copy(trained[1].with_name("m.onnx.json"), to / "m.onnx.json")
    return model


def _edit_json(path, edit):
    data = json.loads(path.read_text(encoding="utf-8"))
    edit(data)
    path.write_text(json.dumps(data), encoding="utf-8")


def _strict_json(text):
    """JSON as a strict parser reads it: `NaN` and `Infinity` are not JSON."""
    def refuse(constant):
        raise AssertionError(f"{constant} printed in JSON output")
    return json.loads(text, parse_constant=refuse)


# 1. An ONNX file that onnxruntime cannot load, or a JSON beside it edited by hand

@pytest.mark.parametrize("content", [b"", b"not a model", "truncated"], ids=["empty", "not-onnx", "truncated"])
def test_a_corrupt_onnx_file_is_one_line_naming_it(trained, tmp_path, capsys, content):
    model = _copy_onnx(trained, tmp_path)
    model.write_bytes(model.read_bytes()[:300] if content == "truncated" else content)
    before = checksums(tmp_path)
    line = one_line_error(capsys, "predict", str(model), str(trained[2]))
    assert line.startswith(f"error: {model} is not an ONNX model onnxruntime can load (")
    assert line.endswith("export the run again with `tk export RUN --format onnx`")
    assert checksums(tmp_path) == before


SIDECAR_EDITS = {
    "classes-a-number": (lambda d: d.update(classes=5), "'classes' must be a non-empty list of strings, not 5"),
    "no-input": (lambda d: d.pop("input"), "has no 'input' field"),
    "height-as-text": (lambda d: d["input"].update(height="28"), "'input.height' must be a whole number above 0, not \"28\""),
    "std-too-long": (lambda d: d["input"].update(std=[1.0, 1.0]), "'input.std' has 2 values but 'input.channels' is 1"),
    "reads-audio": (lambda d: d.update(reads="audio"), "'reads' must be one of images, tokens, not \"audio\""),
    "three-classes": (lambda d: d.update(classes=["a", "b", "c"]), "'classes' lists 3 classes but m.onnx answers 2"),
    "three-channels": (lambda d: d["input"].update(channels=3, mean=[0, 0, 0], std=[1, 1, 1]),
                       "m.onnx does not take the inputs m.onnx.json describes (InvalidArgument: "),
}


@pytest.mark.parametrize("edit", SIDECAR_EDITS, ids=list(SIDECAR_EDITS))
def test_an_edited_onnx_json_is_one_line_naming_the_file_and_the_field(trained, tmp_path, capsys, edit):
    change, expected = SIDECAR_EDITS[edit]
    model = _copy_onnx(trained, tmp_path)
    _edit_json(tmp_path / "m.onnx.json", change)
    before = checksums(tmp_path)
    line = one_line_error(capsys, "predict", str(model), str(trained[2]), "--json")
    assert str(tmp_path / "m.onnx") in line and expected in line
    assert checksums(tmp_path) == before


TOKEN_EDITS = {
    "vocabulary-a-string": (lambda d: d.update(vocabulary="abc"), "'vocabulary' must be a non-empty list of strings"),
    "padding-beyond": (lambda d: d.update(padding_id=10 ** 6), "'padding_id' is 1000000, beyond the "),
    "no-max-len": (lambda d: d.pop("max_len"), "has no 'max_len' field"),
    "lowercase-yes": (lambda d: d["tokenizer"].update(lowercase="yes"), "'tokenizer.lowercase' must be true, false or null"),
    "unknown-tokenizer": (lambda d: d["tokenizer"].update(name="wordz"), "'tokenizer': unknown tokenizer 'wordz'"),
    "longer-vocabulary": (lambda d: d.update(vocabulary=d["vocabulary"] + [f"w{i}" for i in range(99)]),
                          "t.onnx does not take the inputs t.onnx.json describes (InvalidArgument: "),
}


@pytest.mark.slow
def test_an_edited_text_onnx_json_is_one_line_naming_the_file_and_the_field(tmp_path, capsys):
    csv = tmp_path / "reviews.csv"
    csv.write_text("text,label\n" + "".join(f"{t},{l}\n" for t, l in _reviews()), encoding="utf-8")
    assert tk_in_process(capsys, "text", "--data", str(csv), "--epochs", "1", "--quiet", "--out", str(tmp_path),
                         "--name", "t")[0] == 0
    model = tmp_path / "t.onnx"
    assert tk_in_process(capsys, "export", str(tmp_path / "t"), "--out", str(model))[0] == 0
    sidecar, info = tmp_path / "t.onnx.json", json.loads((tmp_path / "t.onnx.json").read_text(encoding="utf-8"))
    for name, (change, expected) in TOKEN_EDITS.items():
        edited = json.loads(json.dumps(info))
        change(edited)
        sidecar.write_text(json.dumps(edited), encoding="utf-8")
        before = checksums(tmp_path)
        line = one_line_error(capsys, "predict", str(model), "a lovely film", "w50", "--json")
        assert str(model) in line and expected in line, name
        assert checksums(tmp_path) == before


# 2. A run.json or last.ckpt with a field missing or of another kind

RUN_EDITS = {
    "no-task": (lambda d: d.pop("task"), "run.json has no 'task' field"),
    "model-a-string": (lambda d: d.update(model="x"), "run.json: 'model' must be an object ({...}), not \"x\""),
    "classes-not-a-list": (lambda d: d["model"].update(classes=5), "run.json: 'model.classes' must be a non-empty list"),
    "no-backbone": (lambda d: d["model"].pop("backbone"), "run.json has no 'model.backbone' field"),
    "mean-per-channel": (lambda d: d["model"].update(mean=[0.1, 0.2]), "run.json: 'model.mean' has 2 values but "
                                                                       "'model.in_channels' is 1"),
}


@pytest.mark.parametrize("edit", RUN_EDITS, ids=list(RUN_EDITS))
def test_an_edited_run_json_is_one_line_for_predict_export_and_eval(trained, tmp_path, capsys, edit):
    change, expected = RUN_EDITS[edit]
    run = _copy_run(trained, tmp_path)
    _edit_json(run / "run.json", change)
    before = checksums(tmp_path)
    for command in (["predict", str(run), str(trained[2])], ["export", str(run)], ["eval", str(run), "--json"]):
        line = one_line_error(capsys, *command)
        assert line.startswith(f"error: {run}") and expected in line, command
        assert line.endswith("restore the file or train the run again")
    assert checksums(tmp_path) == before


def _no_fit(state):
    state.pop("fit")


def _epoch_as_text(state):
    state["fit"]["epoch"] = "two"


def _rng_garbled(state):
    state["rng"]["numpy"]["pos"] = "x"


CHECKPOINT_EDITS = {
    "no-model": (lambda s: s.pop("model"), "last.ckpt is not a tk training checkpoint (it has no 'model')"),
    "no-fit": (_no_fit, "last.ckpt is not a tk training checkpoint (it has no 'fit')"),
    "epoch-as-text": (_epoch_as_text, "last.ckpt: 'fit.epoch' must be a whole number, 0 or more, not \"two\""),
    "rng-garbled": (_rng_garbled, "last.ckpt: 'rng' does not hold the random states tk saves"),
}


@pytest.mark.parametrize("edit", CHECKPOINT_EDITS, ids=list(CHECKPOINT_EDITS))
def test_an_edited_last_ckpt_is_one_line_on_resume_and_unread_elsewhere(trained, tmp_path, capsys, edit):
    """Resuming is what reads last.ckpt; predict, export and eval read the best weights and answer."""
    change, expected = CHECKPOINT_EDITS[edit]
    run = _copy_run(trained, tmp_path)
    state = torch.load(run / "last.ckpt", weights_only=True)
    change(state)
    torch.save(state, run / "last.ckpt")
    before = checksums(run)
    line = one_line_error(capsys, "classify", "--resume", str(run), "--epochs", "2", "--quiet")
    assert line.startswith(f"error: {run / 'last.ckpt'}") and expected in line
    assert line.endswith("resume from the last.ckpt a run wrote")
    for command in (["predict", str(run), str(trained[2])], ["export", str(run), "--out", str(tmp_path / "x.onnx")],
                    ["eval", str(run), "--json"]):
        code, _, err = tk_in_process(capsys, *command)
        assert code == 0 and "error" not in err, (command, err)
    assert checksums(run) == before


# 3. Numbers that are not finite are printed as null in --json, with one warning

def _zero_std(trained, tmp_path):
    run = _copy_run(trained, tmp_path)
    _edit_json(run / "run.json", lambda d: d["model"].update(std=[0]))
    return run


def _nan_weights(trained, tmp_path):
    run = _copy_run(trained, tmp_path)
    weights = load_file(run / "model.safetensors")
    save_file({k: torch.full_like(v, float("nan")) if v.is_floating_point() else v for k, v in weights.items()},
              run / "model.safetensors")
    return run


def _onnx_zero_std(trained, tmp_path):
    model = _copy_onnx(trained, tmp_path)
    _edit_json(tmp_path / "m.onnx.json", lambda d: d["input"].update(std=[0]))
    return model


@pytest.mark.parametrize("damage", [_zero_std, _nan_weights, _onnx_zero_std], ids=["std-0", "nan-weights", "onnx-std-0"])
def test_predict_json_prints_null_for_nan_with_one_warning(trained, tmp_path, capsys, damage):
    target = damage(trained, tmp_path)
    before = checksums(tmp_path)
    code, out, err = tk_in_process(capsys, "predict", str(target), str(trained[2]), "--json")
    assert code == 0, err
    answers = _strict_json(out)
    assert [p["probability"] for p in answers[0]["predictions"]] == [None, None]
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("warning: 2 numbers were not finite (NaN or infinity) and "
                                                   "printed as null, the first at [0].predictions[0].probability")
    assert checksums(tmp_path) == before


def test_json_text_turns_every_non_finite_number_into_null(capsys):
    from taskkit.report.json_output import json_text

    text = json_text({"a": [1.0, float("inf")], "b": {"c": float("-inf"), "d": float("nan")}, "e": "NaN"})
    assert _strict_json(text) == {"a": [1.0, None], "b": {"c": None, "d": None}, "e": "NaN"}
    assert capsys.readouterr().err.strip() == ("warning: 3 numbers were not finite (NaN or infinity) and printed as "
                                               "null, the first at a[1]; check the model's weights and the statistics "
                                               "it normalises with")
    assert json_text([0.5]) == "[\n  0.5\n]" and capsys.readouterr().err == ""


# 4. Two columns of one name

def _reviews(count=40):
    rng = random.Random(0)
    good, bad = ["good", "great", "lovely", "fine"], ["bad", "awful", "dull", "poor"]
    rows = [(f"{rng.choice(good)} film {rng.choice(good)}", "positive") for _ in range(count)]
    rows += [(f"{rng.choice(bad)} film {rng.choice(bad)}", "negative") for _ in range(count)]
    return rows


def test_a_text_csv_with_two_text_columns_is_one_line_naming_the_column(tmp_path, capsys):
    data = tmp_path / "data"
    data.mkdir()
    csv = data / "dup.csv"
    csv.write_text("text,label,text\n" + "".join(f"{t},{l},other words\n" for t, l in _reviews()), encoding="utf-8")
    before = checksums(data)
    line = one_line_error(capsys, "text", "--data", str(csv), "--epochs", "1", "--quiet", "--out", str(tmp_path / "runs"))
    assert line == (f"error: {csv} has 2 columns named 'text' (columns 1, 3); rename all but one, "
                    f"or choose another with --text-col")
    assert checksums(data) == before and not (tmp_path / "runs").exists()


def test_an_image_manifest_with_two_path_columns_is_one_line_naming_the_column(tmp_path, capsys):
    manifest = tmp_path / "m.csv"
    manifest.write_text("path,label,path\na.png,x,b.png\n", encoding="utf-8")
    before = checksums(tmp_path)
    line = one_line_error(capsys, "classify", "--data", str(manifest), "--out", str(tmp_path / "runs"))
    assert line == f"error: manifest '{manifest}' has 2 columns named 'path' (columns 1, 3); rename all but one"
    assert checksums(tmp_path) == before


# 5. UTF-16 text

def test_a_utf16_text_csv_trains_with_its_encoding_and_is_named_without_it(tmp_path, capsys):
    data = tmp_path / "data"
    data.mkdir()
    csv = data / "reviews.csv"
    csv.write_bytes(("text,label\r\n" + "".join(f"{t},{l}\r\n" for t, l in _reviews())).encode("utf-16"))
    before = checksums(data)
    line = one_line_error(capsys, "text", "--data", str(csv), "--epochs", "1", "--quiet", "--out", str(tmp_path / "runs"))
    assert line == f"error: {csv} starts with the byte-order mark of utf-16, not utf-8; pass --encoding utf-16"
    code, out, err = tk_in_process(capsys, "text", "--data", str(csv), "--encoding", "utf-16", "--epochs", "1",
                                   "--quiet", "--out", str(tmp_path / "runs"), "--name", "t", "--json")
    assert code == 0 and err == "", err
    assert json.loads(out)["test"]["samples"] == 8  # every row read: 80 rows, a tenth held out for testing
    record = json.loads((tmp_path / "runs" / "t" / "run.json").read_text(encoding="utf-8"))
    assert record["model"]["classes"] == ["negative", "positive"] and "lovely" in record["model"]["vocabulary"]
    assert checksums(data) == before


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-32"])
def test_utf16_and_utf32_tables_and_conll_files_read_like_utf8(tmp_path, encoding):
    from taskkit.text.conll import read_conll
    from taskkit.text.table import read_table

    rows = "text,label\r\n" + "".join(f"\"{t},\nstill\",{l}\r\n" for t, l in _reviews(3))
    sentences = "John B-PER\nlives O\nin O\nZürich B-LOC\n\nMary B-PER\nruns O\n"
    for name, text in (("t.csv", rows), ("t.conll", sentences)):
        (tmp_path / name).write_bytes(("\ufeff" if encoding == "utf-16-le" else "").encode(encoding) + text.encode(encoding))
        (tmp_path / f"u8-{name}").write_text(text, encoding="utf-8")
    before = checksums(tmp_path)
    wide, narrow = read_table(tmp_path / "t.csv", encoding=encoding), read_table(tmp_path / "u8-t.csv")
    assert (wide.texts, wide.labels, wide.lines) == (narrow.texts, narrow.labels, narrow.lines)
    assert wide.texts[0].endswith(",\nstill") and wide.lines == [2, 4, 6, 8, 10, 12]
    tagged = read_conll(tmp_path / "t.conll", encoding)
    assert tagged.sentences == [["John", "lives", "in", "Zürich"], ["Mary", "runs"]]
    assert tagged.sentences == read_conll(tmp_path / "u8-t.conll").sentences
    assert checksums(tmp_path) == before


def test_a_byte_utf16_cannot_decode_is_named_by_its_line(tmp_path, capsys):
    csv = tmp_path / "bad.csv"
    csv.write_bytes("text,label\nfine film,positive\n".encode("utf-16-le") + b"\x00\xd8" + "x,y\n".encode("utf-16-le"))
    before = checksums(tmp_path)
    line = one_line_error(capsys, "text", "--data", str(csv), "--encoding", "utf-16-le", "--out", str(tmp_path / "runs"))
    assert line == f"error: {csv} line 3 is not valid utf-16-le (byte 0x00 at column 1); check --encoding"
    assert checksums(tmp_path) == before


# 6. Manifest rows that lead outside the manifest's folder

@pytest.fixture
def manifest_folder(tmp_path):
    """`photos/` with six images and a manifest of them, and a file outside it."""
    images = tmp_path / "photos" / "images"
    images.mkdir(parents=True)
    for i in range(6):
        Image.fromarray(np.full((8, 8, 3), 40 * i, np.uint8)).save(images / f"{i}.png")
    (tmp_path / "secret.png").write_bytes((images / "0.png").read_bytes())
    os.symlink(tmp_path / "secret.png", images / "link.png")
    rows = "".join(f"images/{i}.png,{'ab'[i % 2]}\n" for i in range(6))
    return tmp_path, "path,label\n" + rows


@pytest.mark.parametrize("row", ["../secret.png", "images/../../secret.png", "ABSOLUTE", "images/link.png",
                                 "/etc/passwd"])
@pytest.mark.parametrize("kind", ["csv", "jsonl"])
def test_a_manifest_row_leading_outside_its_folder_is_refused_by_line(manifest_folder, capsys, row, kind):
    root, good = manifest_folder
    row = str(root / "secret.png") if row == "ABSOLUTE" else row
    manifest = root / "photos" / f"m.{kind}"
    if kind == "csv":
        manifest.write_text(good + f"{row},a\n", encoding="utf-8")
    else:
        lines = [json.dumps({"path": p, "label": l}) for p, l in (r.split(",") for r in good.splitlines()[1:])]
        manifest.write_text("\n".join([*lines, json.dumps({"path": row, "label": "a"})]) + "\n", encoding="utf-8")
    before = checksums(root)
    for command in (["classify", "--data", str(manifest), "--out", str(root / "runs")], ["data", "check", str(manifest)]):
        line = one_line_error(capsys, *command)
        assert line == (f"error: manifest '{manifest}' line {8 if kind == 'csv' else 7}: path '{row}' leads outside "
                        f"the manifest's folder '{root / 'photos'}'; copy the images into that folder (a symbolic "
                        f"link out of it is refused too) and list them relative to it")
    assert checksums(root) == before and not (root / "runs").exists()


def test_a_manifest_of_files_inside_its_folder_is_read(manifest_folder, capsys):
    root, good = manifest_folder
    manifest = root / "photos" / "m.csv"
    manifest.write_text(good + f"{root / 'photos' / 'images' / '5.png'},b\nimages/./sub/../0.png,a\n", encoding="utf-8")
    code, out, err = tk_in_process(capsys, "data", "check", str(manifest), "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["total"] == 8 and report["classes"] == {"a": 4, "b": 4} and report["bad_files"] == []

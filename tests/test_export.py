"""`tk export`: ONNX and TorchScript files that compute what the run computes, with their preprocessing."""

import json

import numpy as np
import pytest
import torch

from conftest import one_line_error, predict_without_torch, tk_in_process


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A LeNet run and a timm ResNet fine-tuned from it with frozen stages (BatchNorm held in eval)."""
    from taskkit.cli.app import main

    out = tmp_path_factory.mktemp("runs")
    for args in (["classify", "--epochs", "1", "--name", "lenet"],
                 ["classify", "--backbone", "timm/resnet10t", "--img-size", "32", "--epochs", "1", "--name", "timm"],
                 ["finetune", "--weights", str(out / "timm"), "--freeze", "2", "--epochs", "1", "--name", "ft"]):
        with pytest.raises(SystemExit) as exit_info:
            main([*args, "--quiet", "--out", str(out)])
        assert exit_info.value.code == 0
    return out


def _run_model(run_dir):
    from taskkit.registries import TASKS
    from taskkit.storage.runs import read_run

    record = read_run(run_dir)
    return TASKS.get(record["task"]).load_model(run_dir, record).eval(), record


@pytest.mark.parametrize("name", ["lenet", "ft"])
def test_onnx_and_torchscript_match_the_run_within_1e_4(runs, name, tmp_path, capsys):
    import onnxruntime as ort

    model, record = _run_model(runs / name)
    spec = record["model"]
    images = torch.randn(5, spec["in_channels"], spec["img_size"], spec["img_size"], generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        expected = model(images)
    for fmt, file in (("onnx", "m.onnx"), ("torchscript", "m.pt")):
        code, out, err = tk_in_process(capsys, "export", str(runs / name), "--format", fmt, "--dynamic-batch",
                                       "--out", str(tmp_path / file), "--json")
        assert code == 0, err
        result = json.loads(out)
        assert result["within_tolerance"] and result["max_abs_difference"] <= 1e-4
        if fmt == "onnx":
            got = torch.from_numpy(ort.InferenceSession(str(tmp_path / file)).run(["logits"], {"images": images.numpy()})[0])
        else:
            got = torch.jit.load(str(tmp_path / file))(images)
        assert got.shape == expected.shape and (got - expected).abs().max() <= 1e-4  # a batch of 5: dynamic
        info = json.loads((tmp_path / f"{file}.json").read_text())
        assert info["classes"] == spec["classes"] and info["input"]["mean"] == spec["mean"]
        assert (info["input"]["channels"], info["input"]["height"]) == (spec["in_channels"], spec["img_size"])


def test_the_preprocessing_json_reproduces_the_runs_prediction_without_torch(runs, tmp_path, capsys):
    """Feed the ONNX file a PNG as its JSON says, with NumPy and PIL only; same label as `tk predict`."""
    import onnxruntime as ort
    from PIL import Image
    from sklearn.datasets import load_digits

    image = tmp_path / "seven.png"
    Image.fromarray((load_digits().images[7] * 255 / 16).astype(np.uint8)).save(image)
    assert tk_in_process(capsys, "export", str(runs / "lenet"), "--out", str(tmp_path / "m.onnx"))[0] == 0
    info = json.loads((tmp_path / "m.onnx.json").read_text())["input"]
    pixels = np.asarray(Image.open(image).convert("L").resize((info["width"], info["height"]), Image.BILINEAR), np.float32)
    x = (pixels * info["scale"] - info["mean"][0]) / info["std"][0]
    batch = np.repeat(x[None, None], 2, axis=0).astype(np.float32)  # exported with a fixed batch of 2
    logits = ort.InferenceSession(str(tmp_path / "m.onnx")).run(["logits"], {"images": batch})[0]
    predicted = json.loads(tk_in_process(capsys, "predict", str(runs / "lenet"), str(image), "--json")[1])
    assert json.loads((tmp_path / "m.onnx.json").read_text())["classes"][int(logits[0].argmax())] == \
        predicted[0]["predictions"][0]["label"]


def test_export_refusals_are_one_line(runs, tmp_path, capsys):
    taken = tmp_path / "taken.onnx"
    taken.write_bytes(b"mine")
    assert "already exists" in one_line_error(capsys, "export", str(runs / "lenet"), "--out", str(taken))
    assert taken.read_bytes() == b"mine"
    assert "--format must be one of onnx, torchscript, got 'tflite'" in one_line_error(
        capsys, "export", str(runs / "lenet"), "--format", "tflite")
    assert "is not a run directory" in one_line_error(capsys, "export", str(tmp_path))


@pytest.mark.parametrize("name", ["lenet", "ft"])
def test_predict_on_the_onnx_file_answers_like_the_run_without_importing_torch(runs, name, tmp_path, capsys):
    from PIL import Image
    from sklearn.datasets import load_digits

    digits = load_digits()
    files = []
    for index in range(6):
        files.append(str(tmp_path / f"digit{index}.png"))
        Image.fromarray((digits.images[index] * 255 / 16).astype(np.uint8)).save(files[-1])
    model = tmp_path / f"{name}.onnx"
    batch = ["--dynamic-batch"] if name == "ft" else []  # lenet's file takes a fixed batch of 2
    assert tk_in_process(capsys, "export", str(runs / name), "--out", str(model), *batch)[0] == 0
    from_run = json.loads(tk_in_process(capsys, "predict", str(runs / name), *files, "--json")[1])
    from_onnx = predict_without_torch(model, *files)
    assert [a["predictions"][0]["label"] for a in from_onnx] == [a["predictions"][0]["label"] for a in from_run]
    for onnx_answer, run_answer in zip(from_onnx, from_run):
        for got, want in zip(onnx_answer["predictions"], run_answer["predictions"]):
            assert got["probability"] == pytest.approx(want["probability"], abs=0.02)


def test_onnx_predict_refuses_what_it_cannot_answer(runs, tmp_path, capsys):
    bare = tmp_path / "bare.onnx"
    bare.write_bytes(b"not a model")
    assert "has no bare.onnx.json beside it" in one_line_error(capsys, "predict", str(bare), "x.png")
    model = tmp_path / "m.onnx"
    assert tk_in_process(capsys, "export", str(runs / "lenet"), "--out", str(model))[0] == 0
    assert "--tta and --out need the run directory" in one_line_error(capsys, "predict", str(model), "x.png",
                                                                       "--tta", "hflip")
    assert "image 'x.png' does not exist" in one_line_error(capsys, "predict", str(model), "x.png")


def test_an_operator_onnx_cannot_export_is_one_line_with_nothing_on_stdout(tk, tmp_path):
    """LeNet at 64 px pools adaptively to 5x5, which torch's ONNX exporter cannot export: it used
    to print a forty-line graph before failing."""
    trained = tk("classify", "--data", "digits", "--classes", "0,1", "--img-size", "64", "--epochs", "1", "--quiet",
                 "--out", str(tmp_path), "--name", "wide")
    assert trained.returncode == 0, trained.stderr
    done = tk("export", str(tmp_path / "wide"), "--format", "onnx")
    assert done.returncode == 2 and done.stdout == ""
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith("error: this model cannot be exported to ONNX: ") and line.endswith("try --format torchscript")
    assert not (tmp_path / "wide" / "model.onnx").exists()

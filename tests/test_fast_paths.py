"""--precision, --channels-last and --compile: what each changes in the loop, and their fallbacks."""

import json

import pytest
import torch
from safetensors.torch import load_file
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from conftest import one_line_error, tk_in_process
from taskkit.train import fast_paths
from taskkit.options import merge_options
from taskkit.train.engine import FitState, StepOptions, to_device, train_one_epoch

FAST = ["classify", "--data", "digits", "--classes", "0,1,2", "--epochs", "1", "--batch-size", "32", "--quiet",
        "--device", "cpu", "--json"]
CPU = torch.device("cpu")


def test_each_precision_names_its_autocast_dtype_and_only_float16_scales():
    expected = {"auto": None, "32": None, "bf16-mixed": torch.bfloat16, "16-mixed": torch.float16}
    for precision, dtype in expected.items():
        assert fast_paths.autocast_dtype(precision, CPU) is dtype
        assert (fast_paths.grad_scaler(dtype, CPU) is not None) == (dtype is torch.float16)


def test_an_unknown_precision_is_one_line(capsys):
    line = one_line_error(capsys, *FAST, "--precision", "fp8")
    assert "--precision must be auto, 32, bf16-mixed or 16-mixed, got 'fp8'" in line


def _one_epoch(model, options, batches=2):
    data = TensorDataset(torch.randn(4 * batches, 3), torch.randint(0, 2, (4 * batches,)))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    return train_one_epoch(model, DataLoader(data, batch_size=4), nn.CrossEntropyLoss(), optimizer, None, options,
                           FitState(epochs=1))


def test_bf16_mixed_runs_the_model_in_bfloat16_on_the_cpu():
    model, seen = nn.Linear(3, 2), []
    model.register_forward_hook(lambda module, args, output: seen.append(output.dtype))
    _one_epoch(model, StepOptions(device=CPU, amp_dtype=torch.bfloat16))
    assert seen == [torch.bfloat16, torch.bfloat16]
    assert model.weight.dtype is torch.float32  # the weights themselves stay float32


def test_the_float16_scaler_skips_a_step_whose_gradients_overflow():
    model = nn.Linear(3, 2)
    before = model.weight.detach().clone()
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0 ** 120)  # scaled gradients overflow float16 at once
    _one_epoch(model, StepOptions(device=CPU, amp_dtype=torch.float16, scaler=scaler), batches=1)
    assert model.weight.equal(before) and scaler.get_scale() == 2.0 ** 119


def test_16_mixed_trains_and_its_scaler_resumes_from_the_checkpoint(capsys, tmp_path):
    code, out, err = tk_in_process(capsys, *FAST, "--precision", "16-mixed", "--out", str(tmp_path), "--name", "fp16")
    assert code == 0, err
    assert json.loads(out)["test"]["accuracy"] > 0.8
    saved = torch.load(tmp_path / "fp16" / "last.ckpt", weights_only=True)
    assert saved["scaler"]["scale"] > 0


def test_channels_last_feeds_nhwc_images_and_learns_what_the_plain_layout_does(capsys, tmp_path):
    images = to_device(torch.randn(2, 3, 8, 8), CPU, channels_last=True)
    assert images.is_contiguous(memory_format=torch.channels_last) and not images.is_contiguous()
    assert to_device(torch.randn(2, 5), CPU, channels_last=True).is_contiguous()  # only images change
    for name, extra in (("plain", []), ("nhwc", ["--channels-last"])):
        code, _, err = tk_in_process(capsys, *FAST, *extra, "--out", str(tmp_path), "--name", name)
        assert code == 0, err
    plain, nhwc = (load_file(tmp_path / n / "model.safetensors") for n in ("plain", "nhwc"))
    assert all(nhwc[k].is_contiguous() for k in nhwc)  # saved in the standard layout
    assert all(torch.allclose(plain[k], nhwc[k], atol=1e-3) for k in plain)


def test_compile_without_a_cpu_compiler_says_so_and_trains_as_before(capsys, tmp_path, monkeypatch):
    monkeypatch.setattr(fast_paths.shutil, "which", lambda name: None)
    monkeypatch.delenv("CXX", raising=False)
    code, out, err = tk_in_process(capsys, *FAST, "--compile", "--out", str(tmp_path))
    assert code == 0, err
    assert "warning: --compile: compiling for the CPU needs a C++ compiler" in err
    assert json.loads(out)["test"]["accuracy"] > 0.8


def test_a_model_that_fails_to_compile_falls_back_once_with_a_warning(monkeypatch, caplog):
    calls = []

    def failing_compile(model):
        def compiled(*inputs):
            calls.append(1)
            raise RuntimeError("backend 'inductor' raised: no kernel for this\nmore detail")
        return compiled

    monkeypatch.setattr(torch, "compile", failing_compile)
    model = nn.Linear(3, 2)
    wrapped = fast_paths.compile_model(model, CPU)
    x = torch.randn(2, 3)
    with caplog.at_level("WARNING", logger="taskkit"):
        assert wrapped(x).equal(model(x)) and wrapped(x).equal(model(x))
    assert len(calls) == 1  # not tried again
    assert [r.getMessage() for r in caplog.records] == [
        "--compile: compiling the model failed (RuntimeError: backend 'inductor' raised: no kernel for this); "
        "training without compiling"]
    assert set(wrapped.state_dict()) == {"model.weight", "model.bias"}  # the compiled module is not a second copy


def test_a_config_from_before_precision_still_reads():
    defaults = {"precision": "auto", "epochs": 15}
    assert merge_options(defaults, {}, {"amp": False})["precision"] == "32"
    assert merge_options(defaults, {}, {"amp": True})["precision"] == "auto"


@pytest.mark.slow
def test_compile_trains_to_the_weights_plain_pytorch_reaches(capsys, tmp_path):
    for name, extra in (("eager", []), ("compiled", ["--compile"])):
        code, _, err = tk_in_process(capsys, *FAST, *extra, "--out", str(tmp_path), "--name", name)
        assert code == 0, err
        assert "warning" not in err
    eager, compiled = (load_file(tmp_path / n / "model.safetensors") for n in ("eager", "compiled"))
    assert all(torch.allclose(eager[k], compiled[k], atol=1e-4) for k in eager)

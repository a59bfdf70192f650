"""Bad input to classify, eval and predict: exit 2, one line on stderr, no traceback."""

import hashlib

import pytest
from PIL import Image

from conftest import one_line_error


def image_folder(root, counts):
    for name, count in counts.items():
        (root / name).mkdir(parents=True)
        for i in range(count):
            Image.new("L", (8, 8), color=i * 20).save(root / name / f"{i}.png")
    return root


def test_missing_data_path(capsys, tmp_path):
    line = one_line_error(capsys, "classify", "--data", str(tmp_path / "nowhere"), "--out", str(tmp_path))
    assert "nowhere" in line


def test_empty_folder(capsys, tmp_path):
    (tmp_path / "empty").mkdir()
    assert "empty" in one_line_error(capsys, "classify", "--data", str(tmp_path / "empty"), "--out", str(tmp_path))


def test_class_with_no_images(capsys, tmp_path):
    data = image_folder(tmp_path / "photos", {"cat": 6, "dog": 6})
    (data / "bird").mkdir()
    line = one_line_error(capsys, "classify", "--data", str(data), "--out", str(tmp_path))
    assert "bird" in line


def test_csv_missing_its_columns(capsys, tmp_path):
    manifest = tmp_path / "list.csv"
    manifest.write_text("file,category\na.png,cat\n")
    before = hashlib.sha256(manifest.read_bytes()).hexdigest()
    line = one_line_error(capsys, "classify", "--data", str(manifest), "--out", str(tmp_path))
    assert "path" in line and "label" in line
    assert hashlib.sha256(manifest.read_bytes()).hexdigest() == before


@pytest.mark.parametrize("flag, value, expected", [
    ("--backbone", "lenett", "did you mean 'lenet'"),
    ("--head", "linaer", "did you mean 'linear'"),
    ("--loss", "focl", "did you mean 'focal'"),
    ("--optimizer", "adamm", "did you mean 'adam'"),
])
def test_unknown_components_suggest(capsys, tmp_path, flag, value, expected):
    line = one_line_error(capsys, "classify", flag, value, "--out", str(tmp_path))
    assert expected in line


@pytest.mark.parametrize("flag, value", [("--lr", "-0.1"), ("--epochs", "0"), ("--batch-size", "0")])
def test_non_positive_numbers(capsys, tmp_path, flag, value):
    line = one_line_error(capsys, "classify", flag, value, "--out", str(tmp_path))
    assert f"{flag} must be positive" in line


def test_nothing_written_for_bad_input(capsys, tmp_path):
    one_line_error(capsys, "classify", "--lr", "-1", "--out", str(tmp_path / "runs"))
    assert not (tmp_path / "runs").exists()


def test_a_directory_that_is_not_a_run(capsys, tmp_path):
    (tmp_path / "plain").mkdir()
    line = one_line_error(capsys, "eval", str(tmp_path / "plain"))
    assert "is not a run directory" in line
    line = one_line_error(capsys, "predict", str(tmp_path / "plain"), "x.png")
    assert "is not a run directory" in line
    assert "does not exist" in one_line_error(capsys, "eval", str(tmp_path / "gone"))


def test_resume_of_a_run_without_checkpoint(capsys, tmp_path):
    line = one_line_error(capsys, "classify", "--resume", str(tmp_path))
    assert "config.yaml" in line


def test_unknown_key_in_config(capsys, tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text("backbon: lenet\n")
    line = one_line_error(capsys, "classify", "--config", str(config), "--out", str(tmp_path))
    assert "unknown option 'backbon'" in line and "did you mean 'backbone'" in line


def test_tensorboard_without_the_extra(capsys, tmp_path):
    import importlib.util

    if importlib.util.find_spec("tensorboard") is not None:
        pytest.skip("tensorboard is installed here")
    line = one_line_error(capsys, "classify", "--tensorboard", "--out", str(tmp_path / "runs"))
    assert "pip install 'taskkit[tensorboard]'" in line
    assert not (tmp_path / "runs").exists()


def test_pretrained_offline_points_at_weights(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("TK_OFFLINE", "1")
    line = one_line_error(capsys, "classify", "--backbone", "tv/resnet18", "--pretrained", "--epochs", "1",
                          "--out", str(tmp_path / "runs"))
    assert "--weights" in line
    line = one_line_error(capsys, "classify", "--backbone", "lenet", "--pretrained", "--out", str(tmp_path / "runs"))
    assert "does not accept those options" in line and "pretrained" in line

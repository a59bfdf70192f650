"""The bad-input matrix: awkward files against every task command that reads that kind of input.

Each case either works, and the test checks what came of it, or stops with exit 2 and one
line naming the file, row or key. Every test also compares checksums of the user's files
before and after: nothing tk reads is ever changed, and nothing is written beside it.
The default run mixes the cases into one dataset per task; the slow part (`-m slow`) gives
each image case its own dataset and adds a 6000x6000 image.
"""

import contextlib
import io
import json
import os
import random
import shutil

import pytest
import torch
from PIL import Image
from safetensors.torch import save_file

from bad_input_data import (
    GOOD_PER_CLASS, HUGE, ODD, PHOTO_CLASSES, UNREADABLE, checksums, copy_run, latin1_reviews, manifest_line,
    photo_folder, photo_manifest, review, segmentation_folder, spreadsheet_reviews, tagged_sentences,
)
from conftest import one_line_error, tk_in_process
from taskkit.registries import BACKBONES

QUIET = ["--quiet", "--device", "cpu", "--seed", "0"]
SEGMENT = ["--backbone", "segnet_small", "--head", "segnet", "--batch-size", "8"]


def run_record(run_dir):
    return json.loads((run_dir / "run.json").read_text(encoding="utf-8"))


def trains(capsys, *args):
    code, out, err = tk_in_process(capsys, *args, *QUIET, "--json")
    assert code == 0, err
    return json.loads(out), err


def trained_once(*args):
    """`tk ARGS` in this process for a module's fixture (where capsys cannot reach): its JSON report and stderr."""
    from taskkit.cli.app import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), pytest.raises(SystemExit) as exit_info:
        main([*args, *QUIET, "--json"])
    assert exit_info.value.code == 0, err.getvalue()
    return json.loads(out.getvalue()), err.getvalue()


def predicted(capsys, run_dir, *inputs, extra=()):
    code, out, err = tk_in_process(capsys, "predict", str(run_dir), *map(str, inputs), *extra, "--json")
    assert code == 0, err
    return json.loads(out)


@pytest.fixture(scope="module")
def user_files(tmp_path_factory):
    """Every dataset of this module, in one folder, with its checksums as written."""
    root = tmp_path_factory.mktemp("user")
    photo_folder(root / "photos")
    photo_manifest(root / "photos", root / "photos.csv")
    photo_manifest(root / "photos", root / "blank_label.csv", blank_label_row=11)
    segmentation_folder(root / "shapes")
    spreadsheet_reviews(root / "reviews.csv")
    latin1_reviews(root / "latin1.csv")
    latin1_reviews(root / "all_latin1.csv", every=1)
    (root / "tagged.conll").write_bytes(tagged_sentences().replace("\n", "\r\n").encode("utf-8-sig"))
    (root / "tagged_latin1.conll").write_bytes(tagged_sentences().encode("latin-1"))
    return root, checksums(root)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    return tmp_path_factory.mktemp("runs")


@pytest.fixture(autouse=True)
def nothing_of_the_users_changes(user_files):
    root, before = user_files
    yield
    assert checksums(root) == before


def backbone_weights(path):
    """A resnet18 backbone's weights, as `tk finetune --weights` takes them (nothing is downloaded here)."""
    torch.manual_seed(0)
    state = BACKBONES.build("resnet18", in_channels=3, img_size=16).state_dict()
    save_file({k: v.contiguous() for k, v in state.items()}, path)
    return path


# Images: classify, finetune, data check, predict, eval

@pytest.fixture(scope="module")
def photo_runs(user_files, runs):
    """classify and finetune trained on the folder of mixed images (the report each printed is checked below)."""
    root, _ = user_files
    weights = backbone_weights(runs.parent / "resnet18.safetensors")
    commands = {
        "classify": ["classify", "--epochs", "2"],
        "finetune": ["finetune", "--backbone", "resnet18", "--weights", str(weights), "--freeze", "2",
                     "--img-size", "16", "--epochs", "1"],
    }
    made = {}
    for task, args in commands.items():
        out, err = trained_once(*args, "--data", str(root / "photos"), "--val-split", "0.2", "--test-split", "0.2",
                                "--out", str(runs), "--name", f"photos-{task}")
        made[task] = (runs / f"photos-{task}", out, err)
    return made


@pytest.mark.parametrize("task", ["classify", "finetune"])
def test_a_folder_of_mixed_images_trains_using_every_readable_one(photo_runs, user_files, task):
    root, _ = user_files
    run_dir, report, err = photo_runs[task]
    record = run_record(run_dir)
    unreadable = {str(root / "photos" / PHOTO_CLASSES[0] / name): why for name, why in UNREADABLE.items()}
    assert {path for path, _ in record["skipped_files"]} == set(unreadable)
    assert all(reason.startswith(unreadable[path]) for path, reason in record["skipped_files"])
    assert "skipped 3 files" in err and "zero.png (empty file)" in err
    assert record["model"]["classes"] == sorted(PHOTO_CLASSES)
    assert record["model"]["in_channels"] == 3  # gray, 16-bit and palette images join RGB ones
    readable = 3 * GOOD_PER_CLASS + len(ODD)
    assert record["evaluated"] == {"val": round(0.2 * readable), "test": round(0.2 * readable)}
    assert report["test"]["samples"] == round(0.2 * readable)
    assert set(report["test"]["per_class"]) == set(PHOTO_CLASSES)


@pytest.mark.parametrize("task", ["classify", "finetune"])
def test_each_odd_image_is_predicted_and_each_unreadable_one_named(capsys, photo_runs, user_files, task):
    root, _ = user_files
    run_dir = photo_runs[task][0]
    folder = root / "photos" / PHOTO_CLASSES[0]
    answers = predicted(capsys, run_dir, *(folder / name for name in ODD))
    assert [a["file"] for a in answers] == [str(folder / name) for name in ODD]
    for answer in answers:
        labels = [p["label"] for p in answer["predictions"]]
        assert sorted(labels) == sorted(PHOTO_CLASSES)
        assert abs(sum(p["probability"] for p in answer["predictions"]) - 1) < 1e-3
    for name in UNREADABLE:
        line = one_line_error(capsys, "predict", str(run_dir), str(folder / name))
        assert f"cannot read image '{folder / name}'" in line


def test_eval_on_the_mixed_folder_reads_what_training_read(capsys, photo_runs, user_files):
    root, _ = user_files
    code, out, err = tk_in_process(capsys, "eval", str(photo_runs["classify"][0]), "--data", str(root / "photos"),
                                   "--json")
    assert code == 0, err
    assert json.loads(out)["test"]["samples"] == 3 * GOOD_PER_CLASS + len(ODD)
    assert "skipped 3 files" in err


def test_data_check_lists_the_unreadable_files_and_counts_the_odd_ones(capsys, user_files):
    root, _ = user_files
    code, out, err = tk_in_process(capsys, "data", "check", str(root / "photos"), "--json")
    assert code == 0, err
    report = json.loads(out)
    folder = root / "photos" / PHOTO_CLASSES[0]
    assert [path for path, _ in report["bad_files"]] == sorted(str(folder / name) for name in UNREADABLE)
    assert report["classes"] == {PHOTO_CLASSES[0]: GOOD_PER_CLASS + len(ODD), PHOTO_CLASSES[1]: GOOD_PER_CLASS,
                                 PHOTO_CLASSES[2]: GOOD_PER_CLASS}
    assert report["modes"] == {"RGB": 3 * GOOD_PER_CLASS + 2, "I;16": 1, "L": 1, "P": 1, "RGBA": 1}
    assert report["sizes"]["min"] == [1, 1] and report["sizes"]["most_common"] == [12, 12]


def test_strict_stops_at_the_first_unreadable_image_and_names_it(capsys, user_files, runs):
    root, _ = user_files
    line = one_line_error(capsys, "classify", "--data", str(root / "photos"), "--strict", "--epochs", "1",
                          "--out", str(runs / "strict"))
    assert "cannot read image" in line and os.path.join(PHOTO_CLASSES[0], "notes.jpg") in line
    assert not (runs / "strict").exists()


# Image manifests

def test_a_spreadsheet_manifest_with_numeric_labels_trains(capsys, user_files, runs):
    root, _ = user_files
    report, err = trains(capsys, "classify", "--data", str(root / "photos.csv"), "--epochs", "1", "--val-split", "0.25",
                         "--test-split", "0.25", "--out", str(runs), "--name", "manifest")
    record = run_record(runs / "manifest")
    assert record["model"]["classes"] == ["0", "10", "20"]
    assert record["skipped_files"] == [] and "skipped" not in err
    assert record["evaluated"] == {"val": 6, "test": 6} and report["test"]["samples"] == 6


def test_a_manifest_row_without_a_label_is_named_by_the_line_it_starts_on(capsys, user_files, runs):
    root, _ = user_files
    line = one_line_error(capsys, "classify", "--data", str(root / "blank_label.csv"), "--out", str(runs))
    assert f"line {manifest_line(11)} has an empty label" in line and "blank_label.csv" in line


def test_a_latin1_manifest_is_named_by_line(capsys, tmp_path):
    manifest = tmp_path / "latin1.csv"
    manifest.write_bytes("path,label\nphotos/a.png,chat\nphotos/b.png,café\n".encode("latin-1"))
    line = one_line_error(capsys, "classify", "--data", str(manifest), "--out", str(tmp_path))
    assert f"{manifest} line 3 is not valid utf-8 (byte 0xe9 at column 17)" in line


# Segmentation

@pytest.fixture(scope="module")
def segment_run(user_files, runs):
    root, _ = user_files
    out, err = trained_once("segment", "--data", str(root / "shapes"), *SEGMENT, "--epochs", "1", "--out", str(runs),
                            "--name", "shapes")
    return runs / "shapes", out, err


def test_segmentation_skips_unreadable_images_and_uses_odd_ones(segment_run, user_files):
    root, _ = user_files
    run_dir, report, err = segment_run
    record = run_record(run_dir)
    folder = root / "shapes" / "images" / "plage été"
    assert sorted(path for path, _ in record["skipped_files"]) == sorted(str(folder / n) for n in UNREADABLE)
    assert record["model"]["classes"] == ["fond", "carré"]  # classes.txt with a BOM
    assert record["model"]["in_channels"] == 3 and record["model"]["input_size"] == [16, 16]
    assert sum(record["evaluated"].values()) == round(0.1 * (16 + len(ODD))) * 2
    assert set(report["test"]["per_class"]) == {"fond", "carré"}


def test_segmentation_predicts_a_mask_the_size_of_each_odd_image(capsys, segment_run, user_files, tmp_path):
    root, _ = user_files
    folder = root / "shapes" / "images" / "plage été"
    answers = predicted(capsys, segment_run[0], *(folder / name for name in ODD), extra=("--out", str(tmp_path)))
    for name, answer in zip(ODD, answers):
        with Image.open(folder / name) as image, Image.open(answer["mask"]) as mask:
            assert mask.size == image.size
    line = one_line_error(capsys, "predict", str(segment_run[0]), str(folder / "truncated.png"), "--out", str(tmp_path))
    assert f"cannot read image '{folder / 'truncated.png'}'" in line


# Text classification

@pytest.fixture(scope="module")
def text_run(user_files, runs):
    root, _ = user_files
    out, err = trained_once("text", "--data", str(root / "reviews.csv"), "--epochs", "3", "--out", str(runs),
                            "--name", "reviews")
    return runs / "reviews", out, err


def test_a_spreadsheet_csv_of_reviews_trains_and_names_the_rows_it_left_out(text_run, user_files):
    root, _ = user_files
    run_dir, report, err = text_run
    _, skipped = spreadsheet_reviews(root.parent / "again.csv")
    record = run_record(run_dir)
    assert [tuple(row) for row in record["skipped_files"]] == skipped
    assert f"line {skipped[0][0]} (empty text), line {skipped[1][0]} (no label)" in err
    assert record["model"]["classes"] == ["0", "1"]
    assert "really" in record["model"]["vocabulary"]  # the second line of the quoted texts is read
    assert report["test"]["accuracy"] >= 0.9


def test_predict_answers_for_sentences_with_accents_and_from_a_bom_file(capsys, text_run, tmp_path):
    sentences = tmp_path / "sentences.txt"
    sentences.write_bytes("loved the plot au café\r\nawful acting\r\n".encode("utf-8-sig"))
    answers = predicted(capsys, text_run[0], "great film, très bien", extra=("--file", str(sentences)))
    assert [a["text"] for a in answers] == ["great film, très bien", "loved the plot au café", "awful acting"]
    assert [a["predictions"][0]["label"] for a in answers] == ["1", "1", "0"]
    latin1 = tmp_path / "latin1.txt"
    latin1.write_bytes("awful café\n".encode("latin-1"))
    line = one_line_error(capsys, "predict", str(text_run[0]), "--file", str(latin1))
    assert f"{latin1} line 1 is not valid utf-8" in line and "save it as UTF-8" in line


def test_latin1_rows_are_skipped_by_line_or_read_with_encoding(capsys, user_files, runs):
    root, _ = user_files
    _, accented = latin1_reviews(root.parent / "again_latin1.csv")
    common = ["--epochs", "1", "--hidden", "8", "--embedding-dim", "8", "--out", str(runs)]
    _, err = trains(capsys, "text", "--data", str(root / "latin1.csv"), *common, "--name", "utf8")
    assert [row[0] for row in run_record(runs / "utf8")["skipped_files"]] == accented
    assert f"line {accented[0]} (not valid utf-8 (byte 0xe9" in err
    trains(capsys, "text", "--data", str(root / "latin1.csv"), "--encoding", "latin-1", *common, "--name", "latin1")
    record = run_record(runs / "latin1")
    assert record["skipped_files"] == [] and "café" in record["model"]["vocabulary"]
    line = one_line_error(capsys, "text", "--data", str(root / "latin1.csv"), "--strict", *common)
    assert f"latin1.csv line {accented[0]} is not valid utf-8" in line and "--encoding" in line
    line = one_line_error(capsys, "text", "--data", str(root / "all_latin1.csv"), *common)
    assert "all_latin1.csv has no usable rows (120 rows skipped, e.g. line 2: not valid utf-8" in line


# Token tagging

def test_a_conll_file_with_a_bom_and_crlf_ends_trains_without_a_bom_token(capsys, user_files, runs):
    root, _ = user_files
    trains(capsys, "tag", "--data", str(root / "tagged.conll"), "--epochs", "1", "--out", str(runs), "--name", "tag")
    vocabulary = run_record(runs / "tag")["model"]["vocabulary"]
    assert "\ufeff-DOCSTART-" not in vocabulary and "-DOCSTART-" not in vocabulary
    assert not any(token.endswith("\r") for token in vocabulary)


def test_a_latin1_conll_file_is_named_by_line_or_read_with_encoding(capsys, user_files, runs):
    root, _ = user_files
    line = one_line_error(capsys, "tag", "--data", str(root / "tagged_latin1.conll"), "--out", str(runs))
    assert "tagged_latin1.conll line 6 is not valid utf-8 (byte 0xed at column 4); pass --encoding" in line
    trains(capsys, "tag", "--data", str(root / "tagged_latin1.conll"), "--encoding", "latin-1", "--epochs", "1",
           "--out", str(runs), "--name", "tag-latin1")
    assert "parís" in run_record(runs / "tag-latin1")["model"]["vocabulary"]  # the tagger lowercases


# Nothing left to learn from

def test_a_dataset_emptied_by_filtering_is_one_line(capsys, tmp_path):
    for name in ("a", "b"):
        (tmp_path / "unreadable" / name).mkdir(parents=True)
        (tmp_path / "unreadable" / name / "x.png").write_bytes(b"")
    line = one_line_error(capsys, "classify", "--data", str(tmp_path / "unreadable"), "--out", str(tmp_path / "runs"))
    assert "class 'a' has only 0 readable images" in line
    (tmp_path / "unlabelled.csv").write_text("text,label\ngood,\nbad,\n", encoding="utf-8")
    line = one_line_error(capsys, "text", "--data", str(tmp_path / "unlabelled.csv"), "--out", str(tmp_path / "runs"))
    assert "unlabelled.csv has no usable rows (2 rows skipped, e.g. line 2: no label)" in line
    (tmp_path / "untagged.conll").write_text("-DOCSTART-\n\n\n", encoding="utf-8")
    line = one_line_error(capsys, "tag", "--data", str(tmp_path / "untagged.conll"), "--out", str(tmp_path / "runs"))
    assert "untagged.conll has no tagged sentences" in line
    shapes = segmentation_folder(tmp_path / "shapes", extras=(), count=2)
    for image in (shapes / "images").glob("*.png"):
        image.write_bytes(b"")
    line = one_line_error(capsys, "segment", "--data", str(shapes), "--out", str(tmp_path / "runs"))
    assert "none of the 2 images can be read (e.g. '" in line and "00.png': empty file)" in line
    assert not (tmp_path / "runs").exists()


# Config files

TASK_DATA = {"classify": "photos", "finetune": "photos", "text": "reviews.csv", "tag": "tagged.conll",
             "segment": "shapes"}
CONFIGS = {
    "unknown key": ("epocs: 3\n", "unknown option 'epocs' in {path}; did you mean 'epochs'?"),
    "wrong type": ("epochs: three\n", "option 'epochs' in {path} should be int, got str 'three'"),
    "python tag": ("epochs: !!python/object/apply:os.system ['touch {marker}']\n",
                   "{path} is not valid YAML at line 1: could not determine a constructor for the tag"),
    "latin-1": ("name: café\n", "{path} line 1 is not valid utf-8 (byte 0xe9 at column 10)"),
}


@pytest.mark.parametrize("case", CONFIGS)
@pytest.mark.parametrize("task", TASK_DATA)
def test_a_bad_config_file_is_one_line_naming_the_key(capsys, user_files, tmp_path, task, case):
    root, _ = user_files
    text, expected = CONFIGS[case]
    marker = tmp_path / "payload-ran"
    config = tmp_path / "config.yaml"
    config.write_bytes(text.format(marker=marker).encode("latin-1"))
    line = one_line_error(capsys, task, "--data", str(root / TASK_DATA[task]), "--config", str(config),
                          "--out", str(tmp_path / "runs"))
    assert expected.format(path=config) in line
    assert not marker.exists() and not (tmp_path / "runs").exists()


def test_a_config_with_a_bom_reads_like_one_without(capsys, user_files, runs, tmp_path):
    root, _ = user_files
    config = tmp_path / "config.yaml"
    config.write_bytes("epochs: 1\nhidden: 8\nembedding_dim: 8\n".encode("utf-8-sig"))
    trains(capsys, "text", "--data", str(root / "latin1.csv"), "--config", str(config), "--out", str(runs),
           "--name", "bom-config")
    assert run_record(runs / "bom-config")["epochs_run"] == 1


# Checkpoints and weights from elsewhere

def test_a_run_of_another_task_is_refused_in_one_line(capsys, photo_runs, segment_run, text_run, runs):
    image_run, seg_run, text = photo_runs["classify"][0], segment_run[0], text_run[0]
    for task, run_dir, owner in (("classify", text, "text"), ("text", image_run, "classify"),
                                 ("finetune", image_run, "classify"), ("segment", text, "text"),
                                 ("tag", seg_run, "segment")):
        line = one_line_error(capsys, task, "--resume", str(run_dir))
        assert line == (f"error: {run_dir} is a {owner} run, not a {task} run; "
                        f"continue it with `tk {owner} --resume {run_dir}`")
    line = one_line_error(capsys, "finetune", "--weights", str(text), "--out", str(runs))
    assert f"{text} is not an image run with a backbone (task 'text')" in line


def test_weights_or_a_checkpoint_copied_from_another_run_are_refused_in_one_line(capsys, photo_runs, text_run, runs):
    image_run, text = photo_runs["classify"][0], text_run[0]
    swapped = copy_run(image_run, runs / "swapped-weights")
    shutil.copy(text / "model.safetensors", swapped / "model.safetensors")
    for command in (["eval", str(swapped)], ["predict", str(swapped), str(swapped / "curves.png")]):
        line = one_line_error(capsys, *command)
        assert f"{swapped / 'model.safetensors'} does not fit the model in run.json: " in line
        assert "tensors are not in the file, e.g. backbone." in line
    resumed = copy_run(image_run, runs / "swapped-checkpoint")
    shutil.copy(text / "last.ckpt", resumed / "last.ckpt")
    assert f"{resumed / 'last.ckpt'} does not fit this run's model: " in resume_error(capsys, resumed)
    torch.save({"state_dict": {"w": torch.zeros(2)}}, resumed / "last.ckpt")
    assert f"{resumed / 'last.ckpt'} is not a tk training checkpoint (it has no 'model')" in resume_error(capsys, resumed)


def resume_error(capsys, run_dir):
    """The one error line of resuming `run_dir`; the warning naming the data's unreadable files comes first."""
    code, _, err = tk_in_process(capsys, "classify", "--resume", str(run_dir), "--epochs", "3")
    warning, error = err.strip().splitlines()
    assert code == 2 and warning.startswith("warning: skipped 3 files") and error.startswith("error: ")
    return error


def test_weights_for_another_architecture_are_refused_naming_a_tensor(capsys, photo_runs, user_files, runs):
    root, _ = user_files
    lenet = photo_runs["classify"][0]
    line = one_line_error(capsys, "finetune", "--backbone", "resnet18", "--weights", str(lenet / "model.safetensors"),
                          "--data", str(root / "photos"), "--out", str(runs))
    assert "does not fit resnet18: none of its" in line and "is it another architecture?" in line
    grown = runs.parent / "resnet18_wide.safetensors"
    state = BACKBONES.build("resnet18", in_channels=3, img_size=16).state_dict()
    state["conv1.weight"] = torch.zeros(80, *state["conv1.weight"].shape[1:])
    save_file({k: v.contiguous() for k, v in state.items()}, grown)
    line = one_line_error(capsys, "finetune", "--backbone", "resnet18", "--weights", str(grown),
                          "--data", str(root / "photos"), "--out", str(runs))
    assert "conv1.weight is 80x" in line


# The slow part: each image case in a dataset of its own, through every image task, and each CSV
# case on its own through `tk text`

IMAGE_CASES = (*UNREADABLE, *ODD, HUGE)
IMAGE_TASKS = {
    "classify": ["classify", "--epochs", "1", "--val-split", "0.2", "--test-split", "0.2"],
    "finetune": ["finetune", "--backbone", "resnet18", "--freeze", "2", "--img-size", "16", "--epochs", "1",
                 "--val-split", "0.2", "--test-split", "0.2"],
    "segment": ["segment", *SEGMENT, "--epochs", "1"],
}


@pytest.mark.slow
@pytest.mark.parametrize("case", IMAGE_CASES)
@pytest.mark.parametrize("task", IMAGE_TASKS)
def test_each_image_case_alone_in_each_image_task(capsys, tmp_path, task, case):
    if task == "segment":
        data = segmentation_folder(tmp_path / "data", extras=(case,))
        odd, good = data / "images" / "plage été" / case, 16
    else:
        data = photo_folder(tmp_path / "data", extras=(case,))
        odd, good = data / PHOTO_CLASSES[0] / case, 3 * GOOD_PER_CLASS
    before = checksums(data)
    args = [*IMAGE_TASKS[task], "--data", str(data), "--out", str(tmp_path / "runs")]
    if task == "finetune":
        args += ["--weights", str(backbone_weights(tmp_path / "resnet18.safetensors"))]
    report, err = trains(capsys, *args, "--name", "run")
    run_dir = tmp_path / "runs" / "run"
    skipped = run_record(run_dir)["skipped_files"]
    readable = case not in UNREADABLE
    assert skipped == ([] if readable else [[str(odd), skipped[0][1]]])
    assert readable or skipped[0][1].startswith(UNREADABLE[case])
    code, out, err = tk_in_process(capsys, "eval", str(run_dir), "--data", str(data), "--json")
    assert code == 0, err
    assert json.loads(out)["test"]["samples"] == good + readable
    if readable:
        answer = predicted(capsys, run_dir, odd, extra=("--out", str(tmp_path / "masks")) if task == "segment" else ())
        assert answer[0]["file"] == str(odd)
        if task == "segment":
            with Image.open(odd) as image, Image.open(answer[0]["mask"]) as mask:
                assert mask.size == image.size
    else:
        line = one_line_error(capsys, *args, "--strict", "--name", "strict")
        assert f"cannot read image '{odd}'" in line and not (tmp_path / "runs" / "strict").exists()
    assert checksums(data) == before


def review_rows(count=200, seed=2):
    rng = random.Random(seed)
    return [(review(rng, index % 2 == 1), index % 2) for index in range(count)]


def reviews_with(case, rows):
    """A plain `text,label` CSV (labels "neg"/"pos") but for one spreadsheet habit; returns its bytes and
    what training should find: the classes, the skipped (line, reason) rows and a word the vocabulary has."""
    names = ("neg", "pos")
    lines = ["text,label"] + [f"{text},{names[label]}" for text, label in rows]
    classes, skipped, word = list(names), [], "film"
    if case == "numeric labels":
        lines = ["text,label"] + [f"{text},{label}" for text, label in rows]
        classes = ["0", "1"]
    elif case == "extra column":
        lines = ["id,text,label,source"] + [f"{i},{text},{names[label]},web" for i, (text, label) in enumerate(rows)]
        word = "film"
    elif case == "quoted newlines":
        lines = ["text,label"] + [f'"{text}\nindeed",{names[label]}' if i % 4 == 0 else f"{text},{names[label]}"
                                  for i, (text, label) in enumerate(rows)]
        lines.append(",pos")
        skipped, word = [(2 + len(rows) + (len(rows) + 3) // 4, "empty text")], "indeed"
    elif case == "missing values":
        lines[5] = "awful plot,"
        lines[9] = ",pos"
        skipped = [(6, "no label"), (10, "empty text")]
    text = "\n".join(lines) + "\n"
    if case == "crlf":
        return text.replace("\n", "\r\n").encode("utf-8"), classes, skipped, word
    if case == "bom":
        return text.encode("utf-8-sig"), classes, skipped, word
    if case == "latin-1":
        return text.replace("film", "café").encode("latin-1"), classes, skipped, "café"
    return text.encode("utf-8"), classes, skipped, word


@pytest.mark.slow
@pytest.mark.parametrize("case", ["bom", "crlf", "quoted newlines", "missing values", "extra column",
                                  "numeric labels", "latin-1"])
def test_each_csv_case_alone_in_text(capsys, tmp_path, case):
    content, classes, skipped, word = reviews_with(case, review_rows())
    data = tmp_path / "data"
    data.mkdir()
    (data / "reviews.csv").write_bytes(content)
    extra = ["--encoding", "latin-1"] if case == "latin-1" else []
    report, err = trains(capsys, "text", "--data", str(data / "reviews.csv"), *extra, "--epochs", "3",
                         "--out", str(tmp_path / "runs"), "--name", "run")
    record = run_record(tmp_path / "runs" / "run")
    assert record["model"]["classes"] == classes
    assert [tuple(row) for row in record["skipped_files"]] == skipped
    assert word in record["model"]["vocabulary"] and "\ufefftext" not in record["model"]["vocabulary"]
    assert report["test"]["accuracy"] >= 0.9
    if skipped:
        line = one_line_error(capsys, "text", "--data", str(data / "reviews.csv"), "--strict",
                              "--out", str(tmp_path / "runs"))
        assert f"line {skipped[0][0]}: {skipped[0][1]}" in line
    assert (data / "reviews.csv").read_bytes() == content and os.listdir(data) == ["reviews.csv"]

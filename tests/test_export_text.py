"""`tk export` on text runs: any batch and length, packed sequences kept, and `tk predict` without torch."""

import csv
import json
import random
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import one_line_error, predict_without_torch, tk_in_process

GOOD, BAD = ["good", "great", "wonderful", "superb"], ["bad", "dull", "awful", "boring"]
FILLER = ["the", "film", "plot", "was", "a", "and", "it", "cast", "music", "story"]
#: Trained once each: a bidirectional LSTM read through its final states, a one-way GRU and a TextCNN.
RUNS = {"lstm": ["--encoder", "lstm", "--head", "last", "--hidden", "8", "--no-wide"],
        "gru": ["--encoder", "gru", "--unidirectional", "--head", "max", "--hidden", "8", "--no-wide"],
        "textcnn": ["--encoder", "textcnn", "--head", "mean", "--no-wide"],
        "lstm-wide": ["--encoder", "lstm", "--head", "max", "--hidden", "8", "--wide"]}


def write_reviews(path, count=300, seed=0, longest=14, extra="", words=(GOOD, BAD, FILLER)):
    """Filler words around one sentiment word that decides the label (`extra` ends every text)."""
    good, bad, filler = words
    rng = random.Random(seed)
    rows = []
    for _ in range(count):
        positive = rng.random() < 0.5
        text = [rng.choice(filler) for _ in range(rng.randint(2, longest))]
        text.insert(rng.randint(0, len(text)), rng.choice(good if positive else bad))
        rows.append((" ".join(text) + extra, "positive" if positive else "negative"))
    with open(path, "w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows([("text", "label"), *rows])
    return path


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    from taskkit.cli.app import main

    out = tmp_path_factory.mktemp("runs")
    data = write_reviews(out / "reviews.csv")
    for name, args in RUNS.items():
        with pytest.raises(SystemExit) as exit_info:
            main(["text", "--data", str(data), *args, "--embedding-dim", "8", "--epochs", "1", "--lr", "0.01",
                  "--quiet", "--out", str(out), "--name", name])
        assert exit_info.value.code == 0
    return out


def _model(run_dir):
    from taskkit.registries import TASKS
    from taskkit.storage.runs import read_run

    record = read_run(run_dir)
    return TASKS.get("text").load_model(run_dir, record).eval(), record


def _batch(lengths, vocabulary_size, width=None, seed=5):
    """Random ids of the given lengths, padded with 0 to `width` (default: the longest)."""
    generator = torch.Generator().manual_seed(seed)
    tokens = torch.zeros(len(lengths), width or max(lengths), dtype=torch.long)
    for row, n in enumerate(lengths):
        tokens[row, :n] = torch.randint(1, vocabulary_size, (n,), generator=generator)
    return tokens, torch.tensor(lengths)


def _exported(fmt, file):
    """A function from (tokens, lengths) tensors to the exported file's logits."""
    if fmt == "torchscript":
        loaded = torch.jit.load(str(file))
        return lambda tokens, lengths: loaded(tokens, lengths)
    import onnxruntime as ort

    session = ort.InferenceSession(str(file), providers=["CPUExecutionProvider"])
    return lambda tokens, lengths: torch.from_numpy(
        session.run(["logits"], {"tokens": tokens.numpy(), "lengths": lengths.numpy()})[0])


@pytest.mark.parametrize("name", list(RUNS))
@pytest.mark.parametrize("fmt", ["onnx", "torchscript"])
def test_text_exports_match_the_run_on_mixed_lengths(runs, name, fmt, tmp_path, capsys):
    file = tmp_path / f"{name}.{fmt}"
    code, out, err = tk_in_process(capsys, "export", str(runs / name), "--format", fmt, "--out", str(file), "--json")
    assert code == 0, err
    result = json.loads(out)
    assert result["within_tolerance"] and result["max_abs_difference"] <= 1e-4
    assert result["checked_batches"] == [3, 4, 1, 5] and result["checked_lengths"][1] == [2, 9, 4, 1]
    model, record = _model(runs / name)
    exported = _exported(fmt, file)
    # Neither the batch size nor the length of the traced sample (3 texts of up to 7 tokens), and
    # padded past the longest text: a file that baked either in, or ignored the lengths, fails here.
    tokens, lengths = _batch([1, 13, 4, 9, 2, 6], len(record["model"]["vocabulary"]), width=16)
    with torch.no_grad():
        expected = model(tokens, lengths)
    got = exported(tokens, lengths)
    assert got.shape == (6, 2) and (got - expected).abs().max() <= 1e-4
    for row in (0, 2):  # a short text alone gives what it gives among longer ones
        alone = exported(tokens[row:row + 1, : lengths[row]], lengths[row:row + 1])
        assert (alone - got[row]).abs().max() <= 1e-4


def test_the_onnx_lstm_reads_each_texts_length_in_both_directions(runs, tmp_path, capsys):
    import onnx

    file = tmp_path / "lstm.onnx"
    assert tk_in_process(capsys, "export", str(runs / "lstm"), "--out", str(file))[0] == 0
    graph = onnx.load(str(file)).graph
    (lstm,) = [node for node in graph.node if node.op_type == "LSTM"]
    assert {a.name: a.s for a in lstm.attribute}["direction"] == b"bidirectional"
    assert len(lstm.input) > 4 and lstm.input[4]  # sequence_lens: the backward pass starts at each text's end
    dims = [[d.dim_param or d.dim_value for d in i.type.tensor_type.shape.dim] for i in graph.input]
    assert [i.name for i in graph.input] == ["tokens", "lengths"] and dims == [["batch", "length"], ["batch"]]


def test_the_json_holds_what_feeding_the_model_takes(runs, tmp_path, capsys):
    file = tmp_path / "lstm.pt"
    assert tk_in_process(capsys, "export", str(runs / "lstm"), "--format", "torchscript", "--out", str(file))[0] == 0
    info = json.loads((tmp_path / "lstm.pt.json").read_text(encoding="utf-8"))
    spec = json.loads((runs / "lstm" / "run.json").read_text(encoding="utf-8"))["model"]
    assert info["vocabulary"] == spec["vocabulary"] and info["vocabulary"][:2] == ["<pad>", "<unk>"]
    assert (info["padding_id"], info["unknown_id"], info["max_len"]) == (0, 1, 200)
    assert info["tokenizer"] == {"name": "words", "lowercase": True}
    assert info["classes"] == ["negative", "positive"] and info["format"] == "torchscript"
    assert [i["name"] for i in info["inputs"]] == ["tokens", "lengths"]


def test_predict_on_the_onnx_file_answers_like_the_run_without_importing_torch(runs, tmp_path, capsys):
    model = tmp_path / "lstm.onnx"
    assert tk_in_process(capsys, "export", str(runs / "lstm"), "--out", str(model))[0] == 0
    texts = ["a wonderful film", "dull", "The plot was AWFUL, zebra!", "", "superb cast and boring music " * 3]
    from_run = json.loads(tk_in_process(capsys, "predict", str(runs / "lstm"), *texts, "--top-k", "2", "--json")[1])
    from_onnx = predict_without_torch(model, *texts, "--top-k", "2")
    assert [a["text"] for a in from_onnx] == texts
    for onnx_answer, run_answer in zip(from_onnx, from_run):
        assert [p["label"] for p in onnx_answer["predictions"]] == [p["label"] for p in run_answer["predictions"]]
        for got, want in zip(onnx_answer["predictions"], run_answer["predictions"]):
            assert got["probability"] == pytest.approx(want["probability"], abs=1.5e-4)
    code, out, _ = tk_in_process(capsys, "predict", str(model), "a wonderful film", "--top-k", "1")
    label, probability = from_run[0]["predictions"][0].values()
    assert code == 0 and out == f"a wonderful film: {label} {probability:.2f}\n"


def _tag_run(tmp_path):
    from taskkit.cli.app import main

    names, places = ["John", "Mary", "Li", "Olga"], ["Paris", "Lima", "Cairo"]
    blocks = [f"{n} B-PER\nlives O\nin O\n{p} B-LOC" for n in names for p in places] * 3
    data = tmp_path / "ner.conll"
    data.write_text("\n\n".join(blocks) + "\n", encoding="utf-8")
    with pytest.raises(SystemExit) as exit_info:
        main(["tag", "--data", str(data), "--hidden", "4", "--epochs", "1", "--quiet", "--out", str(tmp_path),
              "--name", "tag"])
    assert exit_info.value.code == 0
    return tmp_path / "tag"


@pytest.mark.parametrize("fmt", ["onnx", "torchscript"])
def test_a_tagger_exports_and_matches_its_run(tmp_path, capsys, fmt):
    tag = _tag_run(tmp_path)
    capsys.readouterr()
    code, out, _ = tk_in_process(capsys, "export", str(tag), "--format", fmt, "--json")
    result = json.loads(out)
    assert code == 0 and result["within_tolerance"] and result["max_abs_difference"] <= 1e-4
    info = json.loads(Path(result["preprocessing"]).read_text(encoding="utf-8"))
    assert (info["reads"], info["answers"]) == ("tokens", "tags")
    assert info["tokenizer"] == {"name": "words", "lowercase": False} and info["lowercase_lookup"] is True
    assert info["classes"] == json.loads((tag / "run.json").read_text(encoding="utf-8"))["model"]["classes"]


def test_predict_on_an_exported_tagger_tags_like_its_run_without_torch(tmp_path, capsys):
    tag = _tag_run(tmp_path)
    capsys.readouterr()
    model = tmp_path / "tag.onnx"
    assert tk_in_process(capsys, "export", str(tag), "--out", str(model))[0] == 0
    sentences = ["Olga lives in Lima", "JOHN lives in Zurich today", "", "Mary"]
    from_run = json.loads(tk_in_process(capsys, "predict", str(tag), *sentences, "--json")[1])
    assert predict_without_torch(model, *sentences) == from_run
    assert [a["tokens"] for a in from_run] == [s.split() for s in sentences]
    code, out, _ = tk_in_process(capsys, "predict", str(model), "Olga lives in Lima")
    assert code == 0 and out == " ".join(f"{w}/{t}" for w, t in zip(from_run[0]["tokens"], from_run[0]["tags"])) + "\n"


def test_text_export_refusals_are_one_line(runs, tmp_path, capsys):
    taken = tmp_path / "taken.onnx"
    taken.with_name("taken.onnx.json").write_text("{}", encoding="utf-8")
    assert "taken.onnx.json already exists" in one_line_error(capsys, "export", str(runs / "gru"), "--out", str(taken))
    assert not taken.exists()
    model = tmp_path / "gru.onnx"
    assert tk_in_process(capsys, "export", str(runs / "gru"), "--out", str(model))[0] == 0
    sidecar = tmp_path / "gru.onnx.json"
    info = json.loads(sidecar.read_text(encoding="utf-8"))
    sidecar.write_text(json.dumps({**info, "tokenizer": {"name": "wordz", "lowercase": None}}), encoding="utf-8")
    assert "unknown tokenizer 'wordz'; did you mean 'words'?" in one_line_error(capsys, "predict", str(model), "good")
    sidecar.write_text(json.dumps({k: v for k, v in info.items() if k != "reads"}), encoding="utf-8")
    assert "written by an older tk export" in one_line_error(capsys, "predict", str(model), "good")
    sidecar.write_text(json.dumps({**info, "answers": "masks"}), encoding="utf-8")
    assert "predict with its run directory" in one_line_error(capsys, "predict", str(model), "good")


def test_text_ids_without_torch_follow_training():
    from taskkit.export.onnx_text import padded
    from taskkit.text.ids import text_ids

    index = {"<pad>": 0, "<unk>": 1, "good": 2, "film": 3}
    assert text_ids(["good", "zebra", "film", "good"], index, 1, 3) == [2, 1, 3]
    assert text_ids([], index, 1, 3) == [1]
    batch = padded([[2, 1, 3], [3]], 0)
    assert batch["tokens"].tolist() == [[2, 1, 3], [3, 0, 0]] and batch["lengths"].tolist() == [3, 1]
    assert batch["tokens"].dtype == np.int64 and batch["lengths"].dtype == np.int64

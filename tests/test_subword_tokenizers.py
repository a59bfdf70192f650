"""`--tokenizer bpe` and `--tokenizer wordpiece`: trained on the train split only, saved in the run and
the exported JSON, and cutting every later text (eval, predict, ONNX predict) as training did."""

import csv
import json
import shutil

import pytest

from conftest import one_line_error, predict_without_torch, tk_in_process
from test_export_text import write_reviews
from taskkit.errors import BadInputError
from taskkit.text.data import load_text_data
from taskkit.text.tokenizing import build_tokenizer, is_trainable, run_tokenizer

GOOD = ["good", "great", "wonderful", "excellent", "superb", "lovely"]
BAD = ["bad", "awful", "terrible", "boring", "dull", "horrible"]
FILLER = ["the", "film", "plot", "was", "a", "and", "it", "cast", "music", "story", "acting", "scenes"]
#: New sentences: unseen and misspelt words, inflections, mixed lengths, punctuation and an empty-ish text.
SENTENCES = ["the film was wonderful", "Awfully boring, terribly dull!!", "a superbly lovely story",
             "quokkas and zebras", "the acting was goood and the music greatest " * 6, "   ", "?!",
             "the plot was horribleness itself", "Ünïcödé wörds 😀 and a great cast", "bad"]
UNSEEN = "zyxwvq"  # a word only the test file has, many times over


def write_rows(path, count, seed, extra=""):
    return write_reviews(path, count, seed, longest=12, extra=extra, words=(GOOD, BAD, FILLER))


def options(**given):
    return {"data": None, "train": None, "val": None, "test": None, "text_col": "text", "label_col": "label",
            "encoding": "utf-8", "strict": False, "max_len": 200, "min_freq": 2, "max_vocab": 30000,
            "val_split": 0.1, "test_split": 0.1, "seed": 0, **given}


class Recording:
    """A trainable tokenizer that says which texts it was fitted on."""

    def __init__(self, tokenize):
        self.tokenize, self.fitted = tokenize, None

    def __call__(self, text):
        return self.tokenize(text)

    def fit(self, texts):
        self.fitted = list(texts)
        self.tokenize.fit(texts)


@pytest.mark.parametrize("name", ["bpe", "wordpiece"])
def test_the_tokenizer_learns_from_the_train_split_only(tmp_path, name):
    train = write_rows(tmp_path / "train.csv", 200, seed=1)
    test = write_rows(tmp_path / "test.csv", 60, seed=2, extra=f" {UNSEEN} {UNSEEN}")
    tokenize = Recording(build_tokenizer(name))
    data = load_text_data(options(train=train, test=test), tokenize)
    train_texts = [row["text"] for row in csv.DictReader(open(train, encoding="utf-8"))]
    assert tokenize.fitted and set(tokenize.fitted) <= set(train_texts)
    assert len(tokenize.fitted) == len(data.train) < len(train_texts)  # validation carved from train: unseen too
    learned = json.loads(tokenize.tokenize.state())["model"]["vocab"]
    assert not [piece for piece in learned if UNSEEN in piece]
    pieces = tokenize(UNSEEN)
    assert pieces and UNSEEN not in "".join(data.vocab.tokens) and (len(pieces) > 1 or pieces == ["[UNK]"])
    assert data.vocab.tokens[:2] == ["<pad>", "<unk>"]
    seen_once = {p for text in tokenize.fitted for p in tokenize(text)}
    assert seen_once <= set(data.vocab.tokens)  # every training piece kept, whatever --min-freq says


@pytest.mark.parametrize("name", ["bpe", "wordpiece"])
def test_a_saved_state_cuts_texts_exactly_as_the_fitted_tokenizer(tmp_path, name):
    tokenize = build_tokenizer(name, vocab_size=300)
    assert is_trainable(tokenize)
    with pytest.raises(BadInputError, match="not been trained"):
        tokenize("too early")
    texts = [row["text"] for row in csv.DictReader(open(write_rows(tmp_path / "t.csv", 150, 3), encoding="utf-8"))]
    tokenize.fit(texts)
    again = build_tokenizer(name, tokenize.state())
    for text in [*SENTENCES, *texts[:20]]:
        assert again(text) == tokenize(text)
    assert tokenize("The FILM") == tokenize("the film")  # lowercased by default
    other = "wordpiece" if name == "bpe" else "bpe"
    for state in ("{not json", '{"model": {"type": "Unigram"}}', "[]", "   ", tokenize.state()[:-30]):
        with pytest.raises(BadInputError):
            build_tokenizer(name, state)
    with pytest.raises(BadInputError, match="model"):
        build_tokenizer(other, tokenize.state())


def train(out, name, data, *extra):
    from taskkit.cli.app import main

    with pytest.raises(SystemExit) as exit_info:
        main(["text", "--data", str(data), "--tokenizer", name, "--embedding-dim", "16", "--hidden", "16",
              "--epochs", "2", "--lr", "0.01", "--device", "cpu", "--quiet", "--out", str(out), "--name", name, *extra])
    assert exit_info.value.code == 0
    return out / name


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    out = tmp_path_factory.mktemp("subword")
    data = write_rows(out / "reviews.csv", 300, seed=0)
    return {name: train(out, name, data) for name in ("bpe", "wordpiece")}


def answers(capsys, *args):
    code, out, err = tk_in_process(capsys, "predict", *args, "--json")
    assert code == 0, err
    return [(a["predictions"][0]["label"], a["predictions"][0]["probability"]) for a in json.loads(out)]


def same_answers(got, expected):
    assert [label for label, _ in got] == [label for label, _ in expected]
    assert all(abs(p - q) <= 2e-4 for (_, p), (_, q) in zip(got, expected))


def test_a_bpe_run_predicts_alike_from_the_run_and_its_onnx_export(runs, tmp_path, capsys):
    run = runs["bpe"]
    spec = json.loads((run / "run.json").read_text(encoding="utf-8"))["model"]
    assert spec["tokenizer"] == "bpe" and json.loads(spec["tokenizer_state"])["model"]["type"] == "BPE"
    assert any(piece.endswith("</w>") for piece in spec["vocabulary"])
    from_run = answers(capsys, str(run), *SENTENCES)
    model = tmp_path / "bpe.onnx"
    code, out, err = tk_in_process(capsys, "export", str(run), "--format", "onnx", "--out", str(model), "--json")
    assert code == 0 and json.loads(out)["within_tolerance"], err
    info = json.loads((tmp_path / "bpe.onnx.json").read_text(encoding="utf-8"))
    assert info["tokenizer"]["name"] == "bpe" and info["tokenizer"]["state"] == spec["tokenizer_state"]
    from_onnx = [(a["predictions"][0]["label"], a["predictions"][0]["probability"])
                 for a in predict_without_torch(model, *SENTENCES)]
    same_answers(from_onnx, from_run)
    code, _, err = tk_in_process(capsys, "eval", str(run), "--json")
    assert code == 0, err
    script = tmp_path / "bpe.pt"
    code, out, err = tk_in_process(capsys, "export", str(run), "--format", "torchscript", "--out", str(script),
                                   "--json")
    assert code == 0 and json.loads(out)["within_tolerance"], err
    assert json.loads((tmp_path / "bpe.pt.json").read_text(encoding="utf-8"))["tokenizer"]["state"]


def test_a_wordpiece_run_predicts_alike_from_the_run_and_its_onnx_export(runs, tmp_path, capsys):
    run = runs["wordpiece"]
    spec = json.loads((run / "run.json").read_text(encoding="utf-8"))["model"]
    assert json.loads(spec["tokenizer_state"])["model"]["type"] == "WordPiece"
    from_run = answers(capsys, str(run), *SENTENCES)
    code, _, err = tk_in_process(capsys, "eval", str(run), "--split", "test")
    assert code == 0, err
    model = tmp_path / "wp.onnx"
    assert tk_in_process(capsys, "export", str(run), "--out", str(model))[0] == 0
    same_answers(answers(capsys, str(model), *SENTENCES), from_run)


def test_a_broken_saved_state_is_one_line(runs, tmp_path, capsys):
    run = shutil.copytree(runs["bpe"], tmp_path / "broken")
    record = json.loads((run / "run.json").read_text(encoding="utf-8"))
    record["model"]["tokenizer_state"] = record["model"]["tokenizer_state"][:-40]
    (run / "run.json").write_text(json.dumps(record), encoding="utf-8")
    line = one_line_error(capsys, "predict", str(run), "a great film")
    assert "model.tokenizer_state" in line and "run.json" in line
    del record["model"]["tokenizer_state"]
    (run / "run.json").write_text(json.dumps(record), encoding="utf-8")
    assert "has no 'model.tokenizer_state'" in one_line_error(capsys, "predict", str(run), "a great film")
    model = tmp_path / "bpe.onnx"
    assert tk_in_process(capsys, "export", str(runs["bpe"]), "--out", str(model))[0] == 0
    sidecar = tmp_path / "bpe.onnx.json"
    info = json.loads(sidecar.read_text(encoding="utf-8"))
    info["tokenizer"]["state"] = "{}"
    sidecar.write_text(json.dumps(info), encoding="utf-8")
    assert "'tokenizer'" in one_line_error(capsys, "predict", str(model), "a great film")


def test_a_resumed_run_keeps_its_tokenizer(runs, tmp_path, monkeypatch):
    from taskkit.plugins.tokenizers.subword import SubwordTokenizer

    run = shutil.copytree(runs["bpe"], tmp_path / "resumed")
    spec = json.loads((run / "run.json").read_text(encoding="utf-8"))["model"]
    tokenize = run_tokenizer(spec)
    assert tokenize("a lovely plot") == build_tokenizer("bpe", spec["tokenizer_state"])("a lovely plot")

    def refit(self, texts):
        raise AssertionError("a resumed run must not fit its tokenizer again")

    monkeypatch.setattr(SubwordTokenizer, "fit", refit)
    from taskkit.cli.app import main

    with pytest.raises(SystemExit) as exit_info:
        main(["text", "--resume", str(run), "--quiet"])
    assert exit_info.value.code == 0
    again = json.loads((run / "run.json").read_text(encoding="utf-8"))["model"]
    assert again["tokenizer_state"] == spec["tokenizer_state"] and again["vocabulary"] == spec["vocabulary"]

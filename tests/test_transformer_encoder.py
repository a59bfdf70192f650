"""The `transformer` sequence encoder: shapes, padding that changes nothing, positions, gradients,
one-line refusals, and `tk text` / `tk tag` / `tk predict` / `tk export --format onnx` end to end."""

import json

import pytest
import torch

from conftest import one_line_error, predict_without_torch, tk_in_process
from test_export_text import write_reviews
from taskkit.errors import BadInputError
from taskkit.registries import BACKBONES, HEADS
from taskkit.sequence import PAD_ID, EncoderWithHead, modality

SMALL = {"embedding_dim": 16, "hidden": 32, "heads": 4, "layers": 2}
HEAD_NAMES = ["last", "mean", "max", "attention", "token"]
POSITIONS = ["sinusoidal", "learned"]


def encoder(positions="sinusoidal", seed=0, **options):
    torch.manual_seed(seed)
    return BACKBONES.build("transformer", vocab_size=50, **{**SMALL, "positions": positions, **options})


def padded_batch(sentences, width=None):
    """Ids padded with PAD_ID to `width` (default: the longest sentence), and their lengths."""
    lengths = torch.tensor([len(s) for s in sentences])
    tokens = torch.full((len(sentences), width or int(lengths.max())), PAD_ID, dtype=torch.long)
    for row, ids in enumerate(sentences):
        tokens[row, : len(ids)] = torch.tensor(ids)
    return tokens, lengths


def random_sentences(lengths, seed=0, vocabulary=50):
    generator = torch.Generator().manual_seed(seed)
    return [torch.randint(1, vocabulary, (n,), generator=generator).tolist() for n in lengths]


@pytest.mark.parametrize("positions", POSITIONS)
def test_shapes_width_and_a_summary_that_averages_the_real_positions(positions):
    model = encoder(positions).eval()
    tokens, lengths = padded_batch(random_sentences([4, 9, 1]))
    with torch.no_grad():
        outputs, summary = model(tokens, lengths)
    assert model.out_channels == [16, 16] and outputs.shape == (3, 9, 16) and summary.shape == (3, 16)
    assert modality(model) == "sequence" and model.stage_names == ["embedding", "encoder"]
    assert len(model.stages()) == len(model.reductions) == 2 and model.stages()[0] is model.embedding
    assert model.embedding.padding_idx == PAD_ID and len(model.encoder.layers) == 2
    for row, n in enumerate(lengths.tolist()):
        assert (outputs[row, n:] == 0).all()
        torch.testing.assert_close(summary[row], outputs[row, :n].mean(dim=0))


@pytest.mark.parametrize("positions", POSITIONS)
@pytest.mark.parametrize("head_name", HEAD_NAMES)
def test_a_padded_batch_gives_each_sentence_what_it_gets_alone(head_name, positions):
    """With a non-zero padding vector, as pretrained embeddings have, and padding past the longest text."""
    model = EncoderWithHead(encoder(positions, seed=1), HEADS.build(head_name, in_channels=16, num_outputs=3))
    model.encoder.embedding.weight.data.normal_()
    model.eval()
    sentences = random_sentences([5, 2, 7, 1], seed=2)
    with torch.no_grad():
        tokens, lengths = padded_batch(sentences, width=11)
        outputs, summary = model.encoder(tokens, lengths)
        logits = model(tokens, lengths)
        for row, ids in enumerate(sentences):
            alone = padded_batch([ids])
            alone_outputs, alone_summary = model.encoder(*alone)
            alone_logits = model(*alone)
            n = len(ids)
            torch.testing.assert_close(outputs[row, :n], alone_outputs[0], atol=1e-5, rtol=0)
            torch.testing.assert_close(summary[row], alone_summary[0], atol=1e-5, rtol=0)
            got = logits[row, :n] if head_name == "token" else logits[row]
            torch.testing.assert_close(got, alone_logits[0], atol=1e-5, rtol=0)


@pytest.mark.parametrize("positions", POSITIONS)
def test_gradients_reach_the_embedding_and_every_weight(positions):
    model = encoder(positions, seed=3)
    head = HEADS.build("attention", in_channels=16, num_outputs=2)
    tokens, lengths = padded_batch(random_sentences([4, 7]))
    EncoderWithHead(model, head)(tokens, lengths).sum().backward()
    grad = model.embedding.weight.grad
    assert grad is not None and grad[tokens[0, 0]].abs().sum() > 0 and (grad[PAD_ID] == 0).all()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())


@pytest.mark.parametrize("positions", POSITIONS)
def test_word_order_matters(positions):
    """Without positions self-attention is blind to order and the mean summary would not change."""
    model = encoder(positions, seed=4, dropout=0.0, embedding_dropout=0.0).eval()
    if positions == "learned":
        model.encoder.positions.table.weight.data.normal_()
    ids = [5, 9, 12, 20, 7]
    swapped = [9, 5, 12, 20, 7]
    with torch.no_grad():
        outputs, summary = model(*padded_batch([ids, swapped]))
    assert (summary[0] - summary[1]).abs().max() > 1e-3
    assert (outputs[0, 2] - outputs[1, 2]).abs().max() > 1e-3  # an untouched token sees the change too


def test_sinusoidal_positions_take_any_length_and_learned_ones_refuse_past_their_table():
    tokens, lengths = padded_batch(random_sentences([600, 3]))
    with torch.no_grad():
        assert encoder(layers=1).eval()(tokens, lengths)[0].shape == (2, 600, 16)
        with pytest.raises(BadInputError, match="cover 8 tokens but a batch has 600"):
            encoder("learned", layers=1, max_positions=8)(tokens, lengths)
    with pytest.raises(BadInputError, match="unknown positions 'rotary'"):
        encoder("rotary")


def test_heads_that_do_not_divide_the_width_are_refused_in_one_line(reviews, capsys):
    with pytest.raises(BadInputError) as refused:
        encoder(embedding_dim=10, heads=4)
    message = str(refused.value)
    assert "\n" not in message and "(10)" in message and "(4)" in message
    line = one_line_error(capsys, "text", "--data", str(reviews), "--encoder", "transformer",
                          "--embedding-dim", "10", "--heads", "4", "--epochs", "1", "--quiet")
    assert "--embedding-dim (10) divisible by --heads (4)" in line
    line = one_line_error(capsys, "text", "--data", str(reviews), "--encoder", "lstm", "--heads", "2", "--quiet")
    assert "encoder 'lstm' takes no --heads" in line


@pytest.fixture(scope="module")
def reviews(tmp_path_factory):
    return write_reviews(tmp_path_factory.mktemp("transformer") / "reviews.csv", longest=12)


def onnx_logits(file, tokens, lengths):
    import onnxruntime as ort

    session = ort.InferenceSession(str(file), providers=["CPUExecutionProvider"])
    return torch.from_numpy(session.run(["logits"], {"tokens": tokens.numpy(), "lengths": lengths.numpy()})[0])


def load_run(run_dir, task):
    from taskkit.registries import TASKS
    from taskkit.storage.runs import read_run

    record = read_run(run_dir)
    return TASKS.get(task).load_model(run_dir, record).eval(), record


def test_text_trains_predicts_and_exports_to_onnx(reviews, tmp_path, capsys):
    code, out, err = tk_in_process(capsys, "text", "--data", str(reviews), "--encoder", "transformer",
                                   "--embedding-dim", "32", "--hidden", "64", "--heads", "4", "--layers", "1",
                                   "--epochs", "3", "--lr", "0.005", "--out", str(tmp_path), "--name", "run", "--quiet",
                                   "--device", "cpu", "--json")
    assert code == 0, err
    assert json.loads(out)["test"]["accuracy"] >= 0.75
    run = tmp_path / "run"
    spec = json.loads((run / "run.json").read_text(encoding="utf-8"))["model"]
    assert spec["encoder"] == "transformer" and spec["encoder_options"]["heads"] == 4
    texts = ["a wonderful film", "dull", "the plot was awful and the cast boring", "superb music " * 4]
    code, out, err = tk_in_process(capsys, "predict", str(run), *texts, "--json")
    assert code == 0, err
    from_run = json.loads(out)
    file = tmp_path / "run.onnx"
    code, out, err = tk_in_process(capsys, "export", str(run), "--format", "onnx", "--out", str(file), "--json")
    result = json.loads(out)
    assert code == 0 and result["within_tolerance"] and result["max_abs_difference"] <= 1e-4, err
    model, record = load_run(run, "text")
    sentences = random_sentences([1, 13, 4, 9, 2, 6], seed=7, vocabulary=len(record["model"]["vocabulary"]))
    tokens, lengths = padded_batch(sentences, width=16)
    with torch.no_grad():
        expected = model(tokens, lengths)
    got = onnx_logits(file, tokens, lengths)
    assert got.shape == (6, 2) and (got - expected).abs().max() <= 1e-4
    for row in (0, 2):  # a short text alone gives what it gives among longer ones
        alone = onnx_logits(file, tokens[row:row + 1, : lengths[row]], lengths[row:row + 1])
        assert (alone - got[row]).abs().max() <= 1e-4
    from_onnx = predict_without_torch(file, *texts)
    assert [[p["label"] for p in a["predictions"]] for a in from_onnx] == \
        [[p["label"] for p in a["predictions"]] for a in from_run]


def test_tag_trains_a_transformer_tagger_that_predicts_and_exports(tmp_path, capsys):
    names, places = ["John", "Mary", "Li", "Olga"], ["Paris", "Lima", "Cairo"]
    blocks = [f"{n} B-PER\nlives O\nin O\n{p} B-LOC" for n in names for p in places] * 3
    data = tmp_path / "ner.conll"
    data.write_text("\n\n".join(blocks) + "\n", encoding="utf-8")
    code, _, err = tk_in_process(capsys, "tag", "--data", str(data), "--encoder", "transformer", "--embedding-dim",
                                 "16", "--hidden", "32", "--heads", "2", "--epochs", "1", "--quiet",
                                 "--out", str(tmp_path), "--name", "tag")
    assert code == 0, err
    sentence = "Olga lives in Lima"
    code, out, err = tk_in_process(capsys, "predict", str(tmp_path / "tag"), sentence, "--json")
    assert code == 0, err
    (answer,) = json.loads(out)
    assert answer["tokens"] == sentence.split() and len(answer["tags"]) == 4
    code, out, err = tk_in_process(capsys, "export", str(tmp_path / "tag"), "--format", "onnx", "--json")
    result = json.loads(out)
    assert code == 0 and result["within_tolerance"] and result["max_abs_difference"] <= 1e-4, err

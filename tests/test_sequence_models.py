"""The built-in sequence encoders and heads: shapes, padding that changes nothing, gradients."""

import json

import pytest
import torch

from conftest import tk_in_process
from taskkit.registries import BACKBONES, HEADS
from taskkit.sequence import PAD_ID, EncoderWithHead, modality

ENCODERS = ["rnn", "lstm", "gru", "textcnn", "ngram", "transformer"]
RECURRENT = ["rnn", "lstm", "gru"]
POOLING_HEADS = ["last", "mean", "max", "attention"]
SMALL = {"embedding_dim": 8}
RECURRENT_SHAPES = [{"hidden": 6}, {"hidden": 6, "bidirectional": False}, {"hidden": 6, "layers": 2},
                    {"hidden": 6, "layers": 2, "bidirectional": False}]


def small_options(name: str, **options) -> dict:
    sizes = {"rnn": {"hidden": 6}, "lstm": {"hidden": 6}, "gru": {"hidden": 6}, "textcnn": {"channels": 4},
             "ngram": {"ngrams": 3, "ngram_buckets": 97}, "transformer": {"hidden": 16, "heads": 2}}[name]
    return {**SMALL, **sizes, **options}


def padded_batch(sentences: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
    lengths = torch.tensor([len(s) for s in sentences])
    tokens = torch.full((len(sentences), int(lengths.max())), PAD_ID, dtype=torch.long)
    for row, ids in enumerate(sentences):
        tokens[row, : len(ids)] = torch.tensor(ids)
    return tokens, lengths


def random_sentences(lengths: list[int], seed: int = 0) -> list[list[int]]:
    generator = torch.Generator().manual_seed(seed)
    return [torch.randint(1, 50, (n,), generator=generator).tolist() for n in lengths]


def padding_mask(lengths: torch.Tensor, total: int) -> torch.Tensor:
    return torch.arange(total)[None, :] >= lengths[:, None]


@pytest.mark.parametrize("name,options", [*((n, o) for n in RECURRENT for o in RECURRENT_SHAPES),
                                          ("textcnn", {"channels": 4}), ("textcnn", {"widths": (2, 7)})])
def test_encoders_give_per_token_outputs_and_a_summary_of_the_declared_width(name, options):
    torch.manual_seed(0)
    encoder = BACKBONES.build(name, vocab_size=50, **SMALL, **options)
    tokens, lengths = padded_batch(random_sentences([4, 9, 1]))
    outputs, summary = encoder(tokens, lengths)
    assert encoder.out_channels[0] == SMALL["embedding_dim"]
    width = encoder.out_channels[-1]
    assert outputs.shape == (3, 9, width) and summary.shape == (3, width)
    if name in RECURRENT:
        assert width == 6 * (1 if options.get("bidirectional") is False else 2)
    else:
        assert width == options.get("channels", 100) * len(options.get("widths", (3, 4, 5)))
    assert modality(encoder) == "sequence"
    assert len(encoder.stages()) == len(encoder.stage_names) == len(encoder.reductions) == 2
    assert encoder.stages()[0] is encoder.embedding and encoder.embedding.padding_idx == PAD_ID


def encode_alone(name: str, encoder: torch.nn.Module, ids: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
    """One sentence as a batch of one without padding; recurrent encoders read it unpacked."""
    if name in RECURRENT:
        rnn = encoder.rnn
        twin = BACKBONES.build(name, vocab_size=50, **SMALL, hidden=rnn.hidden_size, layers=rnn.num_layers,
                               bidirectional=rnn.bidirectional, packed=False)
        twin.load_state_dict(encoder.state_dict())
        encoder = twin.eval()
    tokens, lengths = padded_batch([ids])
    return encoder(tokens, lengths)


@pytest.mark.parametrize("name,options", [*((n, o) for n in RECURRENT for o in RECURRENT_SHAPES[1:3]),
                                          ("textcnn", {"channels": 4})])
def test_a_padded_batch_encodes_each_sentence_as_if_it_were_alone(name, options):
    torch.manual_seed(1)
    encoder = BACKBONES.build(name, vocab_size=50, **SMALL, **options).eval()
    sentences = random_sentences([5, 2, 7, 1])
    tokens, lengths = padded_batch(sentences)
    with torch.no_grad():
        outputs, summary = encoder(tokens, lengths)
        for row, ids in enumerate(sentences):
            alone_outputs, alone_summary = encode_alone(name, encoder, ids)
            n = len(ids)
            torch.testing.assert_close(outputs[row, :n], alone_outputs[0], atol=1e-5, rtol=0)
            torch.testing.assert_close(summary[row], alone_summary[0], atol=1e-5, rtol=0)
            assert (outputs[row, n:] == 0).all()


@pytest.mark.parametrize("name", RECURRENT)
@pytest.mark.parametrize("bidirectional", [True, False])
def test_recurrent_summary_is_the_last_layers_final_state_in_each_direction(name, bidirectional):
    torch.manual_seed(2)
    encoder = BACKBONES.build(name, vocab_size=50, **SMALL, hidden=6, layers=2, bidirectional=bidirectional).eval()
    tokens, lengths = padded_batch(random_sentences([3, 6, 1]))
    with torch.no_grad():
        outputs, summary = encoder(tokens, lengths)
    for row, n in enumerate(lengths.tolist()):
        torch.testing.assert_close(summary[row, :6], outputs[row, n - 1, :6])
        if bidirectional:
            torch.testing.assert_close(summary[row, 6:], outputs[row, 0, 6:])


def test_textcnn_summary_is_the_max_over_real_positions():
    torch.manual_seed(3)
    encoder = BACKBONES.build("textcnn", vocab_size=50, **SMALL, channels=4).eval()
    tokens, lengths = padded_batch(random_sentences([2, 8]))
    with torch.no_grad():
        outputs, summary = encoder(tokens, lengths)
    torch.testing.assert_close(summary[0], outputs[0, :2].amax(dim=0))
    assert encoder.out_channels == [8, 12] and isinstance(encoder.stages()[1], torch.nn.ModuleList)


@pytest.mark.parametrize("head_name", [*POOLING_HEADS, "token"])
@pytest.mark.parametrize("name", ENCODERS)
def test_padding_never_changes_a_prediction(name, head_name):
    """A sentence alone and in a batch of longer ones, with a non-zero padding vector as pretrained ones have."""
    torch.manual_seed(4)
    encoder = BACKBONES.build(name, vocab_size=50, **small_options(name))
    encoder.embedding.weight.data.normal_()
    head = HEADS.build(head_name, in_channels=encoder.out_channels[-1], num_outputs=3)
    model = EncoderWithHead(encoder, head).eval()
    short, *longer = random_sentences([3, 6, 9], seed=5)
    with torch.no_grad():
        alone = model(*padded_batch([short])).softmax(dim=-1)
        batched = model(*padded_batch([longer[0], short, longer[1]])).softmax(dim=-1)
    if head_name == "token":
        alone, batched = alone[:, :3], batched[:, :3]
    torch.testing.assert_close(batched[1], alone[0], atol=1e-5, rtol=0)


def test_max_head_ignores_padding_even_when_every_real_value_is_negative():
    head = HEADS.build("max", in_channels=5, num_outputs=2)
    lengths = torch.tensor([3, 1])
    outputs = (-1 - torch.rand(2, 4, 5)).masked_fill(padding_mask(lengths, 4)[..., None], 0.0)
    expected = torch.stack([outputs[0, :3].amax(dim=0), outputs[1, 0]])
    torch.testing.assert_close(head.pool(outputs, outputs[:, 0], lengths), expected)
    torch.testing.assert_close(head(outputs, outputs[:, 0], lengths), head.fc(expected))


def test_mean_head_averages_real_positions_only():
    head = HEADS.build("mean", in_channels=5, num_outputs=2)
    lengths = torch.tensor([2, 4])
    outputs = torch.randn(2, 4, 5).masked_fill(padding_mask(lengths, 4)[..., None], 7.0)
    expected = torch.stack([outputs[0, :2].mean(dim=0), outputs[1].mean(dim=0)])
    torch.testing.assert_close(head.pool(outputs, outputs[:, 0], lengths), expected)


def test_attention_head_gives_padded_positions_no_weight():
    torch.manual_seed(6)
    head = HEADS.build("attention", in_channels=8, num_outputs=3)
    lengths = torch.tensor([2, 5, 4])
    padding = padding_mask(lengths, 5)
    outputs = torch.randn(3, 5, 8)
    weights = head.weights(outputs, lengths)
    assert weights.shape == (3, 5)
    assert (weights[padding] == 0).all() and (weights[~padding] > 0).all()
    torch.testing.assert_close(weights.sum(dim=1), torch.ones(3))
    noisy = outputs.masked_fill(padding[..., None], 1e3)
    torch.testing.assert_close(head(noisy, noisy[:, 0], lengths), head(outputs, outputs[:, 0], lengths))


def test_last_head_reads_the_summary_only():
    head = HEADS.build("last", in_channels=4, num_outputs=2)
    summary = torch.randn(3, 4)
    logits = head(torch.randn(3, 6, 4), summary, torch.tensor([6, 2, 1]))
    torch.testing.assert_close(logits, head.fc(summary))


@pytest.mark.parametrize("name", ENCODERS)
def test_gradients_reach_the_embedding(name):
    torch.manual_seed(7)
    encoder = BACKBONES.build(name, vocab_size=50, **small_options(name))
    model = EncoderWithHead(encoder, HEADS.build("attention", in_channels=encoder.out_channels[-1], num_outputs=2))
    tokens, lengths = padded_batch(random_sentences([4, 7]))
    model(tokens, lengths).sum().backward()
    grad = encoder.embedding.weight.grad
    assert grad is not None and grad[tokens[0, 0]].abs().sum() > 0
    assert (grad[PAD_ID] == 0).all()


def test_token_head_gives_logits_per_token():
    encoder = BACKBONES.build("gru", vocab_size=50, **SMALL, hidden=6)
    model = EncoderWithHead(encoder, HEADS.build("token", in_channels=12, num_outputs=5))
    logits = model(*padded_batch(random_sentences([3, 8, 5])))
    assert logits.shape == (3, 8, 5)


def test_heads_and_encoders_are_registered_by_the_sequence_plugin(capsys):
    head = HEADS.build("attention", in_channels=8, num_outputs=3)
    assert modality(head) == "sequence" and head.fc.out_features == 3
    for kind, names in (("heads", [*POOLING_HEADS, "token"]), ("backbones", ENCODERS)):
        code, out, _ = tk_in_process(capsys, "list", kind, "--json")
        assert code in (0, None)
        plugins = {row["name"]: row["plugin"] for row in json.loads(out)}
        assert {name: plugins.get(name) for name in names} == dict.fromkeys(names, "sequence")

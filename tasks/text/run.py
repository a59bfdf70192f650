"""What `tk text` does: encode the texts, assemble an encoder and a head, train, evaluate, predict.

The run records everything needed to answer for new sentences without the training data:
the tokenizer's name (and a trained tokenizer's state), the maximum length, the classes and
the vocabulary itself (in run.json, beside the model spec), so `tk predict` encodes a sentence
exactly as training did.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import typer

from taskkit.report.answers import print_top_labels
from taskkit.errors import BadInputError
from taskkit.registries import LOSSES
from taskkit.storage.runs import read_run
from taskkit.sequence import EncoderWithHead
from taskkit.text.model import build_model, check_sequence_parts, encoder_options, evaluation_loader, load_model, text_loaders
from taskkit.train.losses import build_loss
from taskkit.train.flow import evaluation_split, fit_and_test, record_baseline, report_and_print, warn_skipped
from taskkit.text.batching import pad_batch
from taskkit.text.data import TextData, encode, load_text_data
from taskkit.text.tokenizing import build_tokenizer, run_tokenizer, saved_state
from taskkit.text.vocab import Vocabulary
from taskkit.train.training import Scoring, TrainOptions, resolve_device, step_options

def train(options: dict[str, Any], explicit: set[str], resume: Path | None) -> tuple[Path, dict[str, Any]]:
    """Check everything, read and encode the data, train and test; returns (run_dir, test report)."""
    train_options = TrainOptions.from_options(options)
    resolve_device(train_options.device)
    if options["balance"] == "oversample":
        raise BadInputError("--balance oversample is for images; use --balance class-weights for texts")
    check_sequence_parts(options["encoder"], options["head"])
    LOSSES.entry(options["loss"])
    prior = read_run(resume)["model"] if resume is not None else None
    tokenize = run_tokenizer(prior) if prior else build_tokenizer(options["tokenizer"])  # resume: never refit
    data = load_text_data(options, tokenize, Vocabulary(prior["vocabulary"]) if prior else None,
                          prior["classes"] if prior else None)
    extra: dict[str, Any] = {}
    if prior is None and options["embeddings"]:
        from taskkit.text.embeddings import read_vectors

        vectors, dim = read_vectors(options["embeddings"], data.vocab, options["encoding"])
        if "embedding_dim" in explicit and options["embedding_dim"] != dim:
            raise BadInputError(f"{options['embeddings']} has {dim}-dimensional vectors but --embedding-dim is "
                                f"{options['embedding_dim']}; leave --embedding-dim out to follow the file")
        options = {**options, "embedding_dim": dim}
    spec = prior or {"encoder": options["encoder"], "encoder_options": encoder_options(options, explicit),
                     "head": options["head"], "head_options": {},
                     "classes": data.classes, "tokenizer": options["tokenizer"], "max_len": options["max_len"],
                     "vocabulary": data.vocab.tokens, **saved_state(tokenize), **wide_spec(options["wide"])}
    torch.manual_seed(options["seed"])
    model = build_model(spec)
    if prior is None and spec.get("wide"):
        from taskkit.text.wide_fit import fit_wide

        extra["wide"] = fit_wide(model.wide, {"train": data.train, "val": data.val})
        spec["wide"]["features"] = model.wide.features  # which of the two the validation split chose
    if spec.get("wide"):
        model.network_share = 1.0  # the network alone until it has trained (a resume chooses again)
    if prior is None and options["embeddings"]:
        from taskkit.text.embeddings import fill_embedding

        report = fill_embedding(model.encoder.embedding.weight, vectors, str(options["embeddings"]))
        typer.echo(report.summary(), err=True)
        extra["embeddings"] = {"source": report.source, "dim": report.dim, "coverage": round(report.coverage, 4)}
    if options["freeze_embeddings"]:
        model.encoder.embedding.weight.requires_grad_(False)
    loss = build_loss(options, data.train_targets(), len(data.classes))
    scoring = Scoring(settle=lambda trained: settle_share(trained, spec, data)) if spec.get("wide") else Scoring()
    run_dir, report = fit_and_test("text", options, resume, model, spec, data, train_options, extra=extra,
                                   loss_fn=loss, loader_factory=lambda opts, generator: text_loaders(
                                       data, opts, generator, options["bucket"]), scoring=scoring)
    if spec.get("wide") and len(data.test):
        report["parts"] = part_scores(model, data, spec["wide"]["network_share"])
    record_baseline(run_dir, report, text_baseline(data) if options["baseline"] else None)
    return run_dir, report


def wide_spec(wide: bool) -> dict[str, Any]:
    """The spec's `wide` entry: the linear n-gram model's options, or nothing (`--no-wide`)."""
    from taskkit.text.wide import WIDE_BUCKETS, WIDE_NGRAMS

    return {"wide": {"ngrams": WIDE_NGRAMS, "buckets": WIDE_BUCKETS}} if wide else {}


def settle_share(model: torch.nn.Module, spec: dict[str, Any], data: TextData) -> None:
    """Choose the network's share of the blend on the validation split (on train when it is
    empty), once the best epoch's weights are back; the spec, and so run.json, records it."""
    from taskkit.text.wide import choose_share
    from taskkit.text.wide_fit import part_logits

    network, linear, targets = part_logits(model, data.val if len(data.val) else data.train)
    model.network_share = spec["wide"]["network_share"] = choose_share(network, linear, targets)


def part_scores(model: torch.nn.Module, data: TextData, share: float) -> dict[str, dict[str, float]]:
    """Each part's share of the mixture, and its test accuracy and macro-F1 alone."""
    from taskkit.report.metrics import classification_report
    from taskkit.text.wide_fit import part_logits

    network, linear, targets = part_logits(model, data.test)
    scores = {}
    for name, logits, weight in (("the network", network, share),
                                 ("a linear model of word 1-2 grams", linear, round(1 - share, 1))):
        report = classification_report(logits, targets, data.classes)
        scores[name] = {"share": weight, "accuracy": report["accuracy"], "macro_f1": report["macro_f1"]}
    return scores


def text_baseline(data: TextData) -> dict[str, Any] | None:
    """TF-IDF and logistic regression on the run's own split (none when the test split is empty)."""
    from taskkit.text.baseline import fit_baseline

    if not data.texts.get("test"):
        return None
    targets = {split: getattr(data, split).targets for split in ("train", "val", "test")}
    return fit_baseline(data.texts, targets, len(data.classes))


def evaluate_run(run_dir: Path, record: dict[str, Any], data: str | None, split: str | None, as_json: bool) -> None:
    """Metrics of a trained run on a split of its own data, or on another labelled file (all of it)."""
    from taskkit.train.engine import evaluate
    from taskkit.report.metrics import classification_report

    options, split = evaluation_split(run_dir, data, split)
    if data:
        options = {**options, "data": data, "train": None}
    spec = record["model"]
    loaded = load_text_data(options, run_tokenizer(spec), Vocabulary(spec["vocabulary"]),
                            spec["classes"], whole=split == "all")
    warn_skipped(loaded.skipped)
    dataset = loaded.test if split == "all" else getattr(loaded, split)
    result = evaluate(load_model(run_dir, record), evaluation_loader(dataset), LOSSES.build("cross-entropy"),
                      step_options(TrainOptions(), resolve_device("cpu")))
    report_and_print(run_dir, classification_report(result.logits, result.targets, spec["classes"]), as_json)


def probabilities(model: EncoderWithHead, ids: list[list[int]], batch_size: int = 256) -> torch.Tensor:
    """Class probabilities per text, in the order given."""
    rows = []
    with torch.no_grad():
        for start in range(0, len(ids), batch_size):
            (tokens, lengths), _ = pad_batch([(i, 0) for i in ids[start: start + batch_size]])
            rows.append(model(tokens, lengths).float().softmax(-1))
    return torch.cat(rows)


def predict_texts(run_dir: Path, record: dict[str, Any], texts: list[str], top_k: int | None, as_json: bool) -> None:
    """The top label (or `top_k` labels) with its probability for each text."""
    spec = record["model"]
    ids = encode(texts, run_tokenizer(spec), Vocabulary(spec["vocabulary"]), spec["max_len"])
    probs = probabilities(load_model(run_dir, record), ids)
    k = max(1, min(top_k or 1, len(spec["classes"])))
    results = []
    for text, row in zip(texts, probs):
        values, indices = row.topk(k)
        results.append({"text": text, "predictions": [
            {"label": spec["classes"][i], "probability": round(float(v), 4)} for v, i in zip(values, indices)]})
    print_top_labels(results, as_json)

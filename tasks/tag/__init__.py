"""`tk tag`: sequence labelling, one tag per token (named entities in BIO tags, parts of speech).

The module is imported to build the CLI, so it imports torch only inside functions.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from taskkit import hookimpl
from taskkit import options as o
from taskkit.task import RunModuleTask

DEFAULTS: dict[str, Any] = {
    "data": None, "train": None, "val": None, "test": None, "encoding": "utf-8", "strict": False,
    "val_split": 0.1, "test_split": 0.1, "workers": 0, "lowercase": True, "min_freq": 1, "max_vocab": 50000,
    "max_len": 200, "embedding_dim": 128, "encoder": "lstm", "layers": 1, "hidden": 128, "bidirectional": True,
    "dropout": 0.3, "optimizer": "adamw", "lr": 2e-3, "weight_decay": 1e-4, "momentum": 0.9,
    "scheduler": "warmup+cosine", "warmup_epochs": 1.0, "epochs": 10, "batch_size": 32, "clip_grad": 1.0,
    "accumulate": 1, "patience": 0, "l1": 0.0, "ema": 0.0, "bucket": True, "seed": 0, "device": "auto",
    "precision": "auto", "compile": False, "devices": 1, "out": "runs", "name": None, "tensorboard": False, "quiet": False,
}


class Tag(RunModuleTask):
    """Tag every token (named entities, parts of speech) and report token and entity scores."""

    run_module = "taskkit.tasks.tag.run"
    inputs = "tokens"
    outputs = "tags"

    @staticmethod
    def command(
        ctx: typer.Context,
        data: o.TaggedData = None, train: o.TrainFile = None, val: o.ValFile = None, test: o.TestFile = None,
        encoding: o.Encoding = DEFAULTS["encoding"], strict: o.TextStrict = False,
        val_split: o.ValSplit = DEFAULTS["val_split"], test_split: o.TestSplit = DEFAULTS["test_split"],
        encoder: o.Encoder = DEFAULTS["encoder"], layers: o.Layers = DEFAULTS["layers"],
        hidden: o.Hidden = DEFAULTS["hidden"], bidirectional: o.Bidirectional = DEFAULTS["bidirectional"],
        dropout: o.EncoderDropout = DEFAULTS["dropout"], lowercase: o.Lowercase = DEFAULTS["lowercase"],
        min_freq: o.MinFreq = DEFAULTS["min_freq"], max_vocab: o.MaxVocab = DEFAULTS["max_vocab"],
        max_len: o.MaxLen = DEFAULTS["max_len"], embedding_dim: o.EmbeddingDim = DEFAULTS["embedding_dim"],
        bucket: o.Bucket = DEFAULTS["bucket"], optimizer: o.Optimizer = DEFAULTS["optimizer"],
        lr: o.Lr = DEFAULTS["lr"], weight_decay: o.WeightDecay = DEFAULTS["weight_decay"],
        momentum: o.Momentum = DEFAULTS["momentum"], scheduler: o.Scheduler = DEFAULTS["scheduler"],
        warmup_epochs: o.WarmupEpochs = DEFAULTS["warmup_epochs"], epochs: o.Epochs = DEFAULTS["epochs"],
        batch_size: o.BatchSize = DEFAULTS["batch_size"], clip_grad: o.ClipGrad = DEFAULTS["clip_grad"],
        accumulate: o.Accumulate = DEFAULTS["accumulate"], patience: o.Patience = DEFAULTS["patience"],
        l1: o.L1 = DEFAULTS["l1"], ema: o.Ema = DEFAULTS["ema"],
        seed: o.Seed = DEFAULTS["seed"], device: o.Device = DEFAULTS["device"],
        precision: o.Precision = DEFAULTS["precision"],
        compile: o.Compile = DEFAULTS["compile"], devices: o.Devices = DEFAULTS["devices"],
        workers: o.Workers = DEFAULTS["workers"], out: o.Out = Path(DEFAULTS["out"]), name: o.Name = None,
        config: o.Config = None, resume: o.Resume = None, tensorboard: o.TensorBoard = False,
        quiet: o.Quiet = False, json: o.Json = False,
    ) -> None:
        """Train a BiLSTM tagger: `tk tag --data ner.conll` reports token accuracy and entity F1."""
        from taskkit.storage.config import command_options
        from taskkit.tasks.classify.run import report_and_print
        from taskkit.tasks.tag.run import train as train_tagger

        options, explicit = command_options(ctx, DEFAULTS)
        run_dir, report = train_tagger(options, explicit, resume=ctx.params["resume"])
        report_and_print(run_dir, report, as_json=json)

    @staticmethod
    def predict(run_dir: Path, record: dict, sentences: list[str], top_k: int | None, as_json: bool) -> None:
        from taskkit.tasks.tag.run import predict_sentences

        predict_sentences(run_dir, record, sentences, as_json)


@hookimpl
def tk_register_tasks(tasks):
    tasks.register("tag")(Tag)

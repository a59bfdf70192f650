"""`tk text`: train a text classifier (sentiment, topics) with an RNN, LSTM, GRU or TextCNN encoder.

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
    "data": None, "train": None, "val": None, "test": None, "text_col": "text", "label_col": "label",
    "encoding": "utf-8", "strict": False, "val_split": 0.1, "test_split": 0.1, "split": "random", "time_col": None,
    "workers": 0, "balance": "none",
    "tokenizer": "words", "min_freq": 2, "max_vocab": 30000, "max_len": 200,
    "embeddings": None, "embedding_dim": 128, "freeze_embeddings": False,
    "encoder": "lstm", "layers": 1, "hidden": 128, "bidirectional": True, "head": "max", "dropout": 0.3,
    "loss": "cross-entropy", "label_smoothing": None,
    "optimizer": "adamw", "lr": 2e-3, "weight_decay": 1e-4, "momentum": 0.9, "scheduler": "warmup+cosine",
    "warmup_epochs": 1.0, "epochs": 10, "batch_size": 32, "clip_grad": 1.0, "accumulate": 1, "patience": 0,
    "l1": 0.0, "ema": 0.0,
    "bucket": True, "seed": 0, "device": "auto", "precision": "auto", "compile": False, "devices": 1, "out": "runs", "name": None, "tensorboard": False,
    "quiet": False,
}


class Text(RunModuleTask):
    """Train a text classifier (sentiment, topics) and report test metrics."""

    run_module = "taskkit.tasks.text.run"
    inputs = "tokens"
    outputs = "labels"

    @staticmethod
    def command(
        ctx: typer.Context,
        data: o.TextData = None, train: o.TrainFile = None, val: o.ValFile = None, test: o.TestFile = None,
        text_col: o.TextCol = DEFAULTS["text_col"], label_col: o.LabelCol = DEFAULTS["label_col"],
        encoding: o.Encoding = DEFAULTS["encoding"], strict: o.TextStrict = False,
        val_split: o.ValSplit = DEFAULTS["val_split"], test_split: o.TestSplit = DEFAULTS["test_split"],
        split: o.Split = DEFAULTS["split"], time_col: o.TimeCol = DEFAULTS["time_col"],
        encoder: o.Encoder = DEFAULTS["encoder"], layers: o.Layers = DEFAULTS["layers"],
        hidden: o.Hidden = DEFAULTS["hidden"], bidirectional: o.Bidirectional = DEFAULTS["bidirectional"],
        head: o.TextHead = DEFAULTS["head"], dropout: o.EncoderDropout = DEFAULTS["dropout"],
        tokenizer: o.Tokenizer = DEFAULTS["tokenizer"], min_freq: o.MinFreq = DEFAULTS["min_freq"],
        max_vocab: o.MaxVocab = DEFAULTS["max_vocab"], max_len: o.MaxLen = DEFAULTS["max_len"],
        embeddings: o.Embeddings = None, embedding_dim: o.EmbeddingDim = DEFAULTS["embedding_dim"],
        freeze_embeddings: o.FreezeEmbeddings = False, bucket: o.Bucket = DEFAULTS["bucket"],
        loss: o.Loss = DEFAULTS["loss"], label_smoothing: o.LabelSmoothing = None,
        balance: o.TextBalance = DEFAULTS["balance"], optimizer: o.Optimizer = DEFAULTS["optimizer"],
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
        """Train a text classifier: `tk text --data reviews.csv` trains a BiLSTM on its text and label columns."""
        from taskkit.storage.config import command_options
        from taskkit.tasks.classify.run import report_and_print
        from taskkit.tasks.text.run import train as train_text

        options, explicit = command_options(ctx, DEFAULTS)
        run_dir, report = train_text(options, explicit, resume=ctx.params["resume"])
        report_and_print(run_dir, report, as_json=json)

    @staticmethod
    def predict(run_dir: Path, record: dict, texts: list[str], top_k: int | None, as_json: bool) -> None:
        from taskkit.tasks.text.run import predict_texts

        predict_texts(run_dir, record, texts, top_k, as_json)


@hookimpl
def tk_register_tasks(tasks):
    tasks.register("text")(Text)

"""`tk text`: train a text classifier (sentiment, topics) from a table of texts and labels.

The module is imported to build the CLI, so it imports torch only inside functions.
"""

from __future__ import annotations

from pathlib import Path

from taskkit import hookimpl
from taskkit.data.options import SPLITS
from taskkit.options import DATA, FRACTION, Option, Options
from taskkit.task import Finished, RunModuleTask, TaskCall
from taskkit.text.options import BASELINE, ENCODER, TEXT, TEXT_FILES, VOCABULARY

COLUMNS = Options(
    Option("text_col", "text", "Column (or JSON key) of the text.", DATA),
    Option("label_col", "label", "Column (or JSON key) of the label.", DATA),
)

CLASSIFIER = Options(
    Option("head", "max", "last, mean, max or attention pooling; see `tk list heads`.", TEXT),
    Option("tokenizer", "words", "words, chars, bpe or wordpiece; see `tk list tokenizers`.", TEXT),
    Option("embeddings", None, "Pretrained word vectors: GloVe, word2vec (text or binary) or fastText .vec, "
           "optionally .gz.", TEXT, kind=Path),
    Option("freeze_embeddings", False, "Keep the word vectors fixed.", TEXT),
    Option("wide", True, "Mix the network's probabilities with those of a linear model of word 1-2 grams "
           "(logistic regression, fitted before the network trains), in shares chosen on validation; "
           "--no-wide: the network alone.", TEXT, flag="--wide/--no-wide"),
    Option("loss", "cross-entropy", "Loss name; see `tk list losses`.", ""),
    Option("label_smoothing", None, "Label smoothing for losses that take it (default 0.1 for cross-entropy).", "",
           kind=float, range=FRACTION),
    Option("balance", "none", "none or class-weights (weights in the loss).", DATA),
)


class Text(RunModuleTask):
    """Train a text classifier (sentiment, topics) and report test metrics."""

    run_module = "taskkit.tasks.text.run"
    inputs = "tokens"
    outputs = "labels"
    options = (TEXT_FILES, COLUMNS, SPLITS, ENCODER, CLASSIFIER, VOCABULARY, BASELINE)
    defaults = {"lr": 2e-3, "epochs": 10, "clip_grad": 1.0}

    @classmethod
    def run(cls, call: TaskCall) -> Finished:
        from taskkit.tasks.text.run import train

        return Finished(*train(call.options, set(call.given), resume=call.resume))

    @staticmethod
    def predict(run_dir: Path, record: dict, texts: list[str], top_k: int | None, as_json: bool) -> None:
        from taskkit.tasks.text.run import predict_texts

        predict_texts(run_dir, record, texts, top_k, as_json)


@hookimpl
def tk_register_tasks(tasks):
    tasks.register("text")(Text)

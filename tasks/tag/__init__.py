"""`tk tag`: train a sequence tagger (named entities, parts of speech) on CoNLL-style files.

The module is imported to build the CLI, so it imports torch only inside functions.
"""

from __future__ import annotations

from pathlib import Path

from taskkit import hookimpl
from taskkit.options import DATA, Option, Options
from taskkit.task import Finished, RunModuleTask, TaskCall
from taskkit.text.options import BASELINE, ENCODER, TEXT, TEXT_FILES, VOCABULARY

TAGGED_FILES = Options(
    TEXT_FILES,
    Option("data", None, "A CoNLL-style file (a token and its tag per line, blank lines between sentences), split "
           "into train/val/test.", DATA, kind=str),
)


class Tag(RunModuleTask):
    """Tag every token (named entities, parts of speech) and report token and entity scores."""

    run_module = "taskkit.tasks.tag.run"
    inputs = "tokens"
    outputs = "tags"
    options = (TAGGED_FILES, ENCODER, Option("lowercase", True, "Look words up in lower case.", TEXT,
                                             flag="--lowercase/--keep-case"), VOCABULARY, BASELINE)
    defaults = {"lr": 2e-3, "epochs": 10, "clip_grad": 1.0, "min_freq": 1, "max_vocab": 50000}

    @classmethod
    def run(cls, call: TaskCall) -> Finished:
        from taskkit.tasks.tag.run import train

        return Finished(*train(call.options, set(call.given), resume=call.resume))

    @staticmethod
    def predict(run_dir: Path, record: dict, sentences: list[str], top_k: int | None, as_json: bool) -> None:
        from taskkit.tasks.tag.run import predict_sentences

        predict_sentences(run_dir, record, sentences, as_json)


@hookimpl
def tk_register_tasks(tasks):
    tasks.register("tag")(Tag)

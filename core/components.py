"""The optional flags a component may set, declared once, and the one way to read them.

A backbone, head, loss, augmentation, tokenizer or task may carry attributes that change how
core and the tasks treat it (`min_img_size`, `modality`, ...). Each is declared here, as data:
who may set it, the value assumed when it is absent, and what it means. A plugin author finds
them in one place (docs/plugins.md shows the same table, and a test keeps the two equal), and
a read of a misspelt name fails at once instead of quietly answering a default.

Imports nothing heavy: `tk --help` reads components through this module.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

#: The kinds of component a flag may be set on.
KINDS = ("backbone", "head", "loss", "augmentation", "tokenizer", "task")


@dataclass(frozen=True)
class Flag:
    """One optional attribute: its name, the kinds that may set it, its default and its meaning."""

    name: str
    kinds: tuple[str, ...]
    default: Any
    meaning: str


_DECLARED = (
    Flag("modality", ("backbone", "head"), "image",
         "What the component is for: `image`, `sequence` (text encoders and heads) or `segmentation` "
         "(decoders). Each task refuses a component of another modality in one line."),
    Flag("min_img_size", ("backbone",), 1,
         "The smallest image side, in pixels, the backbone works at; image tasks train at no less, "
         "and `tk segment` refuses smaller images."),
    Flag("published_weights", ("backbone",), None,
         "The torchvision model whose published weights fit this backbone (`\"resnet18\"`); "
         "`tk finetune` without --weights downloads them."),
    Flag("small_input", ("backbone",), False,
         "Set on a built backbone: whether it uses its small-input stem, whose first layers do not "
         "fit ImageNet weights; `tk finetune` says so when such weights do not fit."),
    Flag("weight_key", ("backbone",), None,
         "`weight_key(key, state)`: the name in a weights file of the backbone's tensor `key`, or None; "
         "`tk finetune` uses it in place of the generic prefix rules (timm's flattened names)."),
    Flag("records_pool_indices", ("backbone",), False,
         "The backbone returns `PooledMaps`, carrying each stage's max-pooling indices and sizes; "
         "only such a backbone is paired with a head that sets `needs_pool_indices`."),
    Flag("stage_depths", ("backbone",), None,
         "Set on a built backbone: blocks per stage, handed as `depths` to a head that sets "
         "`needs_pool_indices` so the decoder mirrors the encoder."),
    Flag("add_auxiliary_classifiers", ("backbone",), None,
         "`add_auxiliary_classifiers(num_outputs)`: called by `BackboneWithHead` once the number "
         "of outputs is known, to build the backbone's auxiliary classifiers (GoogLeNet)."),
    Flag("auxiliary_logits", ("backbone",), None,
         "`auxiliary_logits(maps) -> [(weight, logits), ...]`: in training mode the model returns "
         "them beside its logits and the engine adds each auxiliary loss times its weight."),
    Flag("needs_pool_indices", ("head",), False,
         "The decoder unpools with the encoder's max-pooling indices (`segnet`); `tk segment` pairs "
         "it only with a backbone that sets `records_pool_indices`."),
    Flag("takes_soft_targets", ("loss",), True,
         "The loss learns from per-class probability rows as targets; one that does not (`mse`) is "
         "refused with --mixup and --cutmix."),
    Flag("needs_colour", ("augmentation",), False,
         "Set on the factory: the transform needs colour images; a run on grayscale images refuses it."),
    Flag("geometric", ("augmentation",), False,
         "Set on the factory: the transform moves pixels rather than changing their values, so a "
         "segmentation mask moves with the image."),
    Flag("fill_mask", ("augmentation",), None,
         "Set on the built transform (albumentations' geometric ones have it): what a mask's new "
         "border is filled with; a segmentation run sets it to --ignore-index. None leaves masks alone."),
    Flag("test_time_augmentation", ("task",), False,
         "The task's `evaluate` and `predict` take `tta` (`--tta hflip`); `tk eval` and `tk predict` "
         "refuse --tta for any other task."),
    Flag("command", ("task",), None,
         "A Typer function mounted as `tk <name>` as it is, in place of the command built from the "
         "task's declared options."),
    Flag("inputs", ("task",), None,
         "What the task's model reads, one of `taskkit.task.INPUT_KINDS` (`images`, `tokens`); "
         "None for a task whose runs cannot be exported."),
    Flag("outputs", ("task",), None,
         "What the task's model answers, one of `taskkit.task.OUTPUT_KINDS` (`labels`, `tags`, `masks`)."),
)

#: Every declared flag by name.
FLAGS: dict[str, Flag] = {f.name: f for f in _DECLARED}


class UnknownFlagError(KeyError):
    """A flag read under a name that is not declared: a programming error, never bad input."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


def flag(component: Any, name: str) -> Any:
    """The value `component` (a registered class or factory, or a built instance) gives the
    flag `name`, or the flag's declared default when it sets none.

    Raises `UnknownFlagError` for an undeclared name, so a misspelt read fails in tests."""
    declared = FLAGS.get(name)
    if declared is None:
        import difflib

        close = difflib.get_close_matches(name, FLAGS, n=1)
        guess = f"did you mean '{close[0]}'? " if close else ""
        raise UnknownFlagError(f"'{name}' is not a declared component flag; {guess}"
                               f"see taskkit.components.FLAGS")
    return getattr(component, name, declared.default)

"""The sequence model both text tasks build: an encoder and a head from the registries, its
options, its loaders (length-bucketed training batches, evaluation sorted by length), and the
trained model loaded back from a run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader

from taskkit.errors import BadInputError
from taskkit.registries import BACKBONES, HEADS
from taskkit.sequence import EncoderWithHead, require_modality
from taskkit.storage.checkpoints import load_run_weights
from taskkit.text.batching import BucketBatchSampler, TokenDataset, pad_batch
from taskkit.text.data import TextData
from taskkit.train.loaders import worker_count
from taskkit.train.training import TrainOptions


ENCODER_OPTIONS = ("embedding_dim", "hidden", "layers", "bidirectional", "dropout", "heads", "ngrams", "ngram_buckets")


def build_model(spec: dict[str, Any]) -> EncoderWithHead:
    """The classifier a model spec (stored in run.json) describes; blended with a linear n-gram
    model where the spec has `wide` (its options; the weights come from the fit or the run)."""
    encoder = BACKBONES.build(spec["encoder"], vocab_size=len(spec["vocabulary"]), **spec["encoder_options"])
    head = HEADS.build(spec["head"], in_channels=encoder.out_channels[-1], num_outputs=len(spec["classes"]),
                       **spec["head_options"])
    if spec.get("wide"):
        from taskkit.text.wide import BlendedClassifier, NGramLinear

        wide = {k: v for k, v in spec["wide"].items() if k != "network_share"}
        return BlendedClassifier(encoder, head, NGramLinear(len(spec["classes"]), **wide),
                                 spec["wide"].get("network_share", 1.0))
    return EncoderWithHead(encoder, head)


def check_sequence_parts(encoder: str, head: str) -> None:
    """Refuse, in one line, an image backbone or head where a sequence one is needed."""
    require_modality(BACKBONES, encoder, "sequence", "encoder")
    require_modality(HEADS, head, "sequence", "head")


def encoder_options(options: dict[str, Any], explicit: set[str]) -> dict[str, Any]:
    """The encoder options its constructor takes; one set on the command line that it does not is an error."""
    takes = BACKBONES.entry(options["encoder"]).options()
    unused = [k for k in ENCODER_OPTIONS if k in explicit and k not in takes]
    if unused:
        raise BadInputError(f"encoder '{options['encoder']}' takes no --{unused[0].replace('_', '-')}; "
                            f"see `tk info {options['encoder']}`")
    # An option left unset takes the encoder's own default, so each encoder keeps the sizes it
    # was measured with; the spec records the value either way.
    return {k: takes[k] if options.get(k) is None else options[k] for k in ENCODER_OPTIONS if k in takes}


def text_loaders(data: TextData, options: TrainOptions, generator: torch.Generator,
                 bucket: bool) -> tuple[DataLoader, ...]:
    """Training batches bucketed by length (or shuffled), evaluation batches sorted by length."""
    workers = worker_count(options.workers, data.train)
    common = {"collate_fn": pad_batch, "num_workers": workers}
    if bucket:
        sampler = BucketBatchSampler(data.train.lengths(), options.batch_size, generator)
        train_loader = DataLoader(data.train, batch_sampler=sampler, **common)
    else:
        train_loader = DataLoader(data.train, batch_size=options.batch_size, shuffle=True, generator=generator,
                                  **common)
    return (train_loader, evaluation_loader(data.val, options.batch_size, workers),
            evaluation_loader(data.test, options.batch_size, workers))


def evaluation_loader(dataset: TokenDataset, batch_size: int = 64, workers: int = 0) -> DataLoader:
    sampler = BucketBatchSampler(dataset.lengths(), batch_size, shuffle=False)
    return DataLoader(dataset, batch_sampler=sampler, collate_fn=pad_batch, num_workers=workers)


def load_model(run_dir: Path, record: dict[str, Any]) -> EncoderWithHead:
    return load_run_weights(build_model(record["model"]), run_dir)

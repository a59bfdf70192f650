"""The options of the text tasks (text classification and tagging): files, vocabulary, encoder.

Declared once here so both tasks, and a plugin's text task, spell and document them alike.
"""

from __future__ import annotations

from pathlib import Path

from taskkit.options import DATA, FRACTION, POSITIVE, Option, Options

TEXT = "Text"

TEXT_FILES = Options(
    Option("data", None, "A .csv, .tsv or .jsonl file of texts and labels, split into train/val/test.", DATA,
           kind=str),
    Option("train", None, "Training file, when the split is given (with --val, --test).", DATA, kind=Path),
    Option("val", None, "Validation file (default: carved from --train).", DATA, kind=Path),
    Option("test", None, "Test file (default: carved from --train).", DATA, kind=Path),
    Option("encoding", "utf-8", "Text encoding of the files, e.g. latin-1.", DATA),
    Option("strict", False, "Fail on an undecodable, empty or unlabelled row instead of skipping it.", DATA),
)

VOCABULARY = Options(
    Option("min_freq", 2, "Keep words seen at least this often in the train split.", TEXT, range=POSITIVE),
    Option("max_vocab", 30000, "Keep at most this many words.", TEXT, range=POSITIVE),
    Option("max_len", 200, "Truncate texts to this many tokens.", TEXT, range=POSITIVE),
)

#: Said of every size an encoder chooses for itself unless told: `tk info ENCODER` shows its own.
OWN = "(default: the encoder's own; see `tk info ENCODER`)"

ENCODER = Options(
    Option("encoder", "lstm", "rnn, lstm, gru, textcnn, ngram or transformer; see `tk list backbones`.", TEXT),
    Option("layers", None, f"Stacked recurrent or transformer layers {OWN}.", TEXT, kind=int, range=POSITIVE),
    Option("hidden", None, f"Hidden size of each recurrent direction; a transformer's feed-forward width {OWN}.",
           TEXT, kind=int, range=POSITIVE),
    Option("bidirectional", True, "Read the text both ways.", TEXT, flag="--bidirectional/--unidirectional"),
    Option("dropout", None, f"Dropout on the encoder's outputs, which the head classifies, and between stacked "
           f"layers {OWN}.", TEXT, kind=float, range=FRACTION),
    Option("embedding_dim", None, f"Size of the word vectors (the file's, with --embeddings) {OWN}.", TEXT,
           kind=int, range=POSITIVE),
    Option("heads", None, f"Attention heads of the transformer encoder {OWN}.", TEXT, kind=int, range=POSITIVE),
    Option("ngrams", None, f"Longest word n-gram the ngram encoder hashes {OWN}.", TEXT, kind=int, range=POSITIVE),
    Option("ngram_buckets", None, f"Rows of the ngram encoder's hashed n-gram table {OWN}.", TEXT, kind=int,
           range=POSITIVE),
    Option("bucket", True, "Batch texts of similar length together.", TEXT, flag="--bucket/--no-bucket"),
)

#: Both text tasks fit a classical baseline beside the network unless told not to.
BASELINE = Options(
    Option("baseline", True, "Also fit a classical baseline on the same split and report its test scores beside "
           "the network's.", "", flag="--baseline/--no-baseline", resumable=True),
)

"""Command-line options shared by the tasks, declared once so every task spells them alike.

Defaults here are only what `--help` shows: the task's defaults dict is the source of truth
that a `--config` file and the command line override.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

TRAINING = "Training"
DATA = "Data"
RUN = "Run"
FINETUNE = "Fine-tuning"
TEXT = "Text"
SEGMENTATION = "Segmentation"

Data = Annotated[str, typer.Option("--data", help="Folder of class folders, CSV/JSONL manifest, or a named dataset (digits, mnist, fashion-mnist, cifar10, cifar100).", rich_help_panel=DATA)]
DataRoot = Annotated[Optional[Path], typer.Option("--data-root", help="Where named datasets live (default ./data).", rich_help_panel=DATA)]
ValSplit = Annotated[float, typer.Option("--val-split", help="Fraction of the data for validation.", rich_help_panel=DATA)]
TestSplit = Annotated[float, typer.Option("--test-split", help="Fraction of the data for testing.", rich_help_panel=DATA)]
ImgSize = Annotated[Optional[int], typer.Option("--img-size", help="Resize images to this square size (default: the dataset's own, at least what the backbone needs).", rich_help_panel=DATA)]
Classes = Annotated[Optional[str], typer.Option("--classes", help="Use only these classes, comma-separated (e.g. 0,1,2,3,4).", rich_help_panel=DATA)]
Strict = Annotated[bool, typer.Option("--strict", help="Fail on unreadable images instead of skipping them.", rich_help_panel=DATA)]
Workers = Annotated[int, typer.Option("--workers", help="Data-loading worker processes.", rich_help_panel=DATA)]
Augment = Annotated[str, typer.Option("--aug", help="Training augmentations: a preset (none, basic, strong) or names, e.g. hflip,rotate=15,color-jitter; see `tk list augmentations`.", rich_help_panel=DATA)]
Split = Annotated[str, typer.Option("--split", help="random (stratified), or time: the latest rows are the test set and those just before them validation (needs --time-col).", rich_help_panel=DATA)]
TimeCol = Annotated[Optional[str], typer.Option("--time-col", help="The column that orders rows in time (numbers or ISO dates), for --split time; images need a .csv/.jsonl manifest.", rich_help_panel=DATA)]
Balance = Annotated[str, typer.Option("--balance", help="none, oversample (weighted sampler) or class-weights (weights in the loss).", rich_help_panel=DATA)]

Backbone = Annotated[str, typer.Option("--backbone", help="Backbone name; see `tk list backbones`.")]
BackboneOrRuns = Annotated[Optional[str], typer.Option("--backbone", help="Backbone name (default: the --weights run's, else resnet18); see `tk list backbones`.")]
SmallInput = Annotated[Optional[bool], typer.Option("--small-input/--no-small-input", help="Force the backbone's small-input stem on or off (default: automatic below 64 px).")]
Pretrained = Annotated[bool, typer.Option("--pretrained", help="Start from the published weights of a timm/ or tv/ backbone (downloads; offline, use `tk finetune --weights`).")]
Head = Annotated[str, typer.Option("--head", help="Head name; see `tk list heads`.")]
Loss = Annotated[str, typer.Option("--loss", help="Loss name; see `tk list losses`.")]
Dropout = Annotated[float, typer.Option("--dropout", help="Dropout before the head's output layer.")]
LabelSmoothing = Annotated[Optional[float], typer.Option("--label-smoothing", help="Label smoothing for losses that take it (default 0.1 for cross-entropy).")]

Weights = Annotated[Optional[str], typer.Option("--weights", help="Start from this .safetensors/.pth state dict (tk, timm or torchvision) or a tk run directory (default: the published ImageNet weights; downloads).", rich_help_panel=FINETUNE)]
Freeze = Annotated[str, typer.Option("--freeze", help="Freeze the stem and the first N stages (0: none; all: the whole backbone).", rich_help_panel=FINETUNE)]
BatchNormMode = Annotated[str, typer.Option("--bn", help="BatchNorm of frozen stages: eval (running statistics kept), train (they adapt), or frozen (every BatchNorm fixed).", rich_help_panel=FINETUNE)]
UnfreezeAt = Annotated[Optional[int], typer.Option("--unfreeze-at", help="From this epoch (counted from 1), unfreeze stages, latest first.", rich_help_panel=FINETUNE)]
UnfreezeStep = Annotated[str, typer.Option("--unfreeze-step", help="Stages unfrozen per epoch from --unfreeze-at, or all at once.", rich_help_panel=FINETUNE)]
LrDecay = Annotated[float, typer.Option("--lr-decay", help="Each earlier stage learns this many times slower than the next (1: one rate).", rich_help_panel=FINETUNE)]
DryRun = Annotated[bool, typer.Option("--dry-run", help="Print the stages with what is frozen and exit without training.", rich_help_panel=FINETUNE)]

TextData = Annotated[Optional[str], typer.Option("--data", help="A .csv, .tsv or .jsonl file of texts and labels, split into train/val/test.", rich_help_panel=DATA)]
TrainFile = Annotated[Optional[Path], typer.Option("--train", help="Training file, when the split is given (with --val, --test).", rich_help_panel=DATA)]
ValFile = Annotated[Optional[Path], typer.Option("--val", help="Validation file (default: carved from --train).", rich_help_panel=DATA)]
TestFile = Annotated[Optional[Path], typer.Option("--test", help="Test file (default: carved from --train).", rich_help_panel=DATA)]
TextCol = Annotated[str, typer.Option("--text-col", help="Column (or JSON key) of the text.", rich_help_panel=DATA)]
LabelCol = Annotated[str, typer.Option("--label-col", help="Column (or JSON key) of the label.", rich_help_panel=DATA)]
Encoding = Annotated[str, typer.Option("--encoding", help="Text encoding of the files, e.g. latin-1.", rich_help_panel=DATA)]
TaggedData = Annotated[Optional[str], typer.Option("--data", help="A CoNLL-style file (a token and its tag per line, blank lines between sentences), split into train/val/test.", rich_help_panel=DATA)]
Lowercase = Annotated[bool, typer.Option("--lowercase/--keep-case", help="Look words up in lower case.", rich_help_panel=TEXT)]
Tokenizer = Annotated[str, typer.Option("--tokenizer", help="words or chars; see `tk list tokenizers`.", rich_help_panel=TEXT)]
MinFreq = Annotated[int, typer.Option("--min-freq", help="Keep words seen at least this often in the train split.", rich_help_panel=TEXT)]
MaxVocab = Annotated[int, typer.Option("--max-vocab", help="Keep at most this many words.", rich_help_panel=TEXT)]
MaxLen = Annotated[int, typer.Option("--max-len", help="Truncate texts to this many tokens.", rich_help_panel=TEXT)]
Embeddings = Annotated[Optional[Path], typer.Option("--embeddings", help="GloVe or word2vec text file of word vectors.", rich_help_panel=TEXT)]
EmbeddingDim = Annotated[int, typer.Option("--embedding-dim", help="Size of the word vectors (the file's, with --embeddings).", rich_help_panel=TEXT)]
FreezeEmbeddings = Annotated[bool, typer.Option("--freeze-embeddings", help="Keep the word vectors fixed.", rich_help_panel=TEXT)]
Encoder = Annotated[str, typer.Option("--encoder", help="rnn, lstm, gru or textcnn; see `tk list backbones`.", rich_help_panel=TEXT)]
Layers = Annotated[int, typer.Option("--layers", help="Stacked recurrent layers.", rich_help_panel=TEXT)]
Hidden = Annotated[int, typer.Option("--hidden", help="Hidden size of each direction.", rich_help_panel=TEXT)]
Bidirectional = Annotated[bool, typer.Option("--bidirectional/--unidirectional", help="Read the text both ways.", rich_help_panel=TEXT)]
TextStrict = Annotated[bool, typer.Option("--strict", help="Fail on an undecodable, empty or unlabelled row instead of skipping it.", rich_help_panel=DATA)]
TextHead = Annotated[str, typer.Option("--head", help="last, mean, max or attention pooling; see `tk list heads`.", rich_help_panel=TEXT)]
TextBalance = Annotated[str, typer.Option("--balance", help="none or class-weights (weights in the loss).", rich_help_panel=DATA)]
EncoderDropout = Annotated[float, typer.Option("--dropout", help="Dropout on the encoder's outputs, which the head classifies, and between stacked layers.", rich_help_panel=TEXT)]
Bucket = Annotated[bool, typer.Option("--bucket/--no-bucket", help="Batch texts of similar length together.", rich_help_panel=TEXT)]

SegData = Annotated[Optional[str], typer.Option("--data", help="Folder of images/ and masks/ with matching file stems (or train/, val/, test/ folders of them); masks are PNGs of class numbers.", rich_help_panel=DATA)]
SegClasses = Annotated[Optional[str], typer.Option("--classes", help="Class names in mask-value order, comma-separated (default: the folder's classes.txt, else the numbers).", rich_help_panel=DATA)]
IgnoreIndex = Annotated[Optional[int], typer.Option("--ignore-index", help="Mask value of unlabelled pixels, left out of the loss and metrics (e.g. 255).", rich_help_panel=DATA)]
SegAugment = Annotated[str, typer.Option("--aug", help="Training augmentations, moving image and mask alike: a preset (none, basic, strong) or names, e.g. hflip,rotate=15; see `tk list augmentations`.", rich_help_panel=DATA)]
SegImgSize = Annotated[Optional[int], typer.Option("--img-size", help="Resize images and masks to this square size (default: the images' own size).", rich_help_panel=DATA)]
SegHead = Annotated[str, typer.Option("--head", help="Decoder: fcn, fcn16s, fcn32s, unet, segnet or psp; see `tk list heads`.", rich_help_panel=SEGMENTATION)]
Upsample = Annotated[Optional[str], typer.Option("--upsample", help="How fcn, unet and psp upsample: nearest, bilinear, bicubic or transposed (default bilinear).", rich_help_panel=SEGMENTATION)]
SegLoss = Annotated[str, typer.Option("--loss", help="ce+dice, cross-entropy, dice or focal; see `tk list losses`.", rich_help_panel=SEGMENTATION)]
SegDropout = Annotated[float, typer.Option("--dropout", help="Dropout before the decoder's classifier.", rich_help_panel=SEGMENTATION)]

Optimizer = Annotated[str, typer.Option("--optimizer", help="sgd, nesterov, adagrad, adadelta, rmsprop, adam or adamw.", rich_help_panel=TRAINING)]
Lr = Annotated[float, typer.Option("--lr", help="Peak learning rate.", rich_help_panel=TRAINING)]
WeightDecay = Annotated[float, typer.Option("--weight-decay", help="L2 weight decay (never on norm or bias parameters).", rich_help_panel=TRAINING)]
Momentum = Annotated[float, typer.Option("--momentum", help="Momentum for sgd, nesterov.", rich_help_panel=TRAINING)]
Scheduler = Annotated[str, typer.Option("--scheduler", help="none, step, multistep, exponential, cosine, warmup+cosine, onecycle or plateau.", rich_help_panel=TRAINING)]
WarmupEpochs = Annotated[float, typer.Option("--warmup-epochs", help="Linear warm-up length for warmup+cosine.", rich_help_panel=TRAINING)]
Epochs = Annotated[int, typer.Option("--epochs", help="Number of epochs.", rich_help_panel=TRAINING)]
BatchSize = Annotated[int, typer.Option("--batch-size", help="Samples per batch.", rich_help_panel=TRAINING)]
ClipGrad = Annotated[float, typer.Option("--clip-grad", help="Clip the gradient norm to this value (0: off).", rich_help_panel=TRAINING)]
Accumulate = Annotated[int, typer.Option("--accumulate", help="Batches per optimizer step (gradient accumulation).", rich_help_panel=TRAINING)]
Patience = Annotated[int, typer.Option("--patience", help="Stop after this many epochs without improvement (0: never).", rich_help_panel=TRAINING)]
Seed = Annotated[int, typer.Option("--seed", help="Random seed; CPU runs with the same seed are identical.", rich_help_panel=TRAINING)]
Device = Annotated[str, typer.Option("--device", help="auto, cpu, cuda or mps.", rich_help_panel=TRAINING)]
Precision = Annotated[str, typer.Option("--precision", help="32, bf16-mixed or 16-mixed (fp16 with gradient scaling); auto: mixed on CUDA (bf16 where supported), 32 elsewhere.", rich_help_panel=TRAINING)]
ChannelsLast = Annotated[bool, typer.Option("--channels-last", help="Keep images and convolution weights channels-last (NHWC), which fast convolution kernels prefer.", rich_help_panel=TRAINING)]
Compile = Annotated[bool, typer.Option("--compile", help="Compile the model with torch.compile (slow first steps; falls back to plain PyTorch, with a warning, where it cannot).", rich_help_panel=TRAINING)]
Devices = Annotated[int, typer.Option("--devices", help="Train in this many processes on this machine, one per GPU (or CPU processes), started through torchrun; see docs/distributed.md.", rich_help_panel=TRAINING)]
Mixup = Annotated[float, typer.Option("--mixup", metavar="ALPHA", help="Blend each training image with another of its batch, weight ~ Beta(ALPHA, ALPHA), and their labels alike (0: off; 0.2 is typical).", rich_help_panel=TRAINING)]
CutMix = Annotated[float, typer.Option("--cutmix", metavar="ALPHA", help="Paste a box of another image of the batch into each training image, size ~ Beta(ALPHA, ALPHA), labels mixed by area (0: off; 1.0 is typical); with --mixup each batch takes one of the two.", rich_help_panel=TRAINING)]
L1 = Annotated[float, typer.Option("--l1", metavar="LAMBDA", help="Add LAMBDA times the sum of |w| of the weights to the training loss (never norm or bias parameters; 0: off).", rich_help_panel=TRAINING)]
Ema = Annotated[float, typer.Option("--ema", metavar="DECAY", help="Keep a moving average of the weights, decaying by DECAY each step, and validate, save and test it (0: off; 0.999 is typical).", rich_help_panel=TRAINING)]

Out = Annotated[Path, typer.Option("--out", help="Folder that holds run directories.", rich_help_panel=RUN)]
Name = Annotated[Optional[str], typer.Option("--name", help="Run name (default: the task's name); a taken name gets -2, -3...", rich_help_panel=RUN)]
Config = Annotated[Optional[Path], typer.Option("--config", help="YAML file of options, e.g. a run's config.yaml.", rich_help_panel=RUN)]
Resume = Annotated[Optional[Path], typer.Option("--resume", help="Continue a stopped run from its last checkpoint.", rich_help_panel=RUN)]
TensorBoard = Annotated[bool, typer.Option("--tensorboard", help="Also log to TensorBoard.", rich_help_panel=RUN)]
Quiet = Annotated[bool, typer.Option("--quiet", help="No progress bar.", rich_help_panel=RUN)]
Json = Annotated[bool, typer.Option("--json", help="Print machine-readable results.", rich_help_panel=RUN)]

"""`tk cv`, `tk tune`, `tk lr-find` and `tk aug preview`: commands that drive a task's runs.

The first three take `TASK [task options]`: their own options are declared here, and
everything else is handed to the task's command unchanged, so they work for every task.
Like the rest of the CLI, this module imports no torch; the work lives in `taskkit.recipes.cv`,
`taskkit.recipes.tune`, `taskkit.recipes.lr_find` and `taskkit.preview.augmentations`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Callable, Optional

import typer

#: Unknown options pass through to the task instead of failing here.
PASS_THROUGH = {"allow_extra_args": True, "ignore_unknown_options": True}

Task = Annotated[str, typer.Argument(help="The task to run, e.g. classify; its options follow.", metavar="TASK")]
Name = Annotated[Optional[str], typer.Option("--name", help="Folder name for this command's runs (default: the command and task).")]
Out = Annotated[Path, typer.Option("--out", help="Folder that holds it.")]
AsJson = Annotated[bool, typer.Option("--json", help="Print machine-readable results.")]


def checked_name(name: str | None, default: str) -> str:
    """The folder name of a driving command's runs: `--name`, held to what a run's name may be, or its default."""
    from taskkit.storage.names import check_run_name

    check_run_name(name)
    return name or default


def cv_command(
    ctx: typer.Context, task: Task,
    folds: Annotated[int, typer.Option("--folds", help="Number of folds (at least 2).")] = 5,
    name: Name = None, out: Out = Path("runs"), as_json: AsJson = False,
) -> None:
    """K-fold cross-validation of a task: one run per fold, then the mean and spread of each metric.

    Example: tk cv classify --data digits --folds 5 --epochs 5
    """
    from taskkit.recipes.cv import cross_validate, print_summary

    summary = cross_validate(ctx.parent.command, task, list(ctx.args), folds, out / checked_name(name, f"cv-{task}"))
    _show(summary, as_json, print_summary)


def tune_command(
    ctx: typer.Context, task: Task,
    trials: Annotated[int, typer.Option("--trials", help="Trials the study should have finished; a resumed study runs the rest.")] = 20,
    param: Annotated[Optional[list[str]], typer.Option("--param", help="A task option and its range, e.g. 'lr=loguniform(1e-4,1e-1)', 'dropout=uniform(0,0.6)', 'layers=int(1,3)', 'optimizer=choice(sgd,adamw)' (repeatable).")] = None,
    sampler: Annotated[str, typer.Option("--sampler", help="tpe, random or grid (grid: choice and int ranges only).")] = "tpe",
    pruner: Annotated[str, typer.Option("--pruner", help="hyperband, median or none; fed by each epoch's validation metric.")] = "hyperband",
    storage: Annotated[Optional[str], typer.Option("--storage", help="Optuna storage URL, e.g. sqlite:///tune.db, so a study resumes and machines share it (default: the study folder's study.db).")] = None,
    study_name: Annotated[Optional[str], typer.Option("--study-name", help="Study name in the storage (default: the folder's name).")] = None,
    metric: Annotated[Optional[str], typer.Option("--metric", help="Validation metric to optimise (default: a resumed study's own, else the one the task picks its best epoch by, e.g. val_acc).")] = None,
    direction: Annotated[Optional[str], typer.Option("--direction", help="maximize or minimize (default: minimize for a --metric that is a loss, else maximize; a resumed study keeps its own).")] = None,
    sampler_seed: Annotated[int, typer.Option("--sampler-seed", help="Seed of the sampler, so a study repeats.")] = 0,
    name: Name = None, out: Out = Path("runs"), as_json: AsJson = False,
) -> None:
    """Hyperparameter search with optuna: each trial is one run of the task with sampled options.

    Example: tk tune classify --trials 20 --epochs 5 --param 'lr=loguniform(1e-4,1e-1)'
    """
    from taskkit.recipes.tune import TuneSettings, print_results, tune

    settings = TuneSettings(trials=trials, params=list(param or []), sampler=sampler, pruner=pruner,
                            storage=storage, study_name=study_name, metric=metric, direction=direction,
                            sampler_seed=sampler_seed)
    results = tune(ctx.parent.command, task, list(ctx.args), settings, out / checked_name(name, f"tune-{task}"))
    _show(results, as_json, print_results)


def lr_find_command(
    ctx: typer.Context, task: Task,
    start_lr: Annotated[float, typer.Option("--start-lr", help="First learning rate of the sweep.")] = 1e-7,
    end_lr: Annotated[float, typer.Option("--end-lr", help="Last learning rate of the sweep.")] = 10.0,
    steps: Annotated[int, typer.Option("--steps", help="Optimizer steps in the sweep (the loader repeats if it is shorter).")] = 200,
    name: Name = None, out: Out = Path("runs"), as_json: AsJson = False,
) -> None:
    """Learning-rate finder: an exponential sweep of the task's model, a plot of loss against rate
    and a suggested rate.

    Example: tk lr-find classify --data digits --backbone resnet18
    """
    from taskkit.recipes.lr_find import find_lr, print_result

    result = find_lr(ctx.parent.command, task, list(ctx.args), start_lr, end_lr, steps, out,
                     checked_name(name, f"lr-find-{task}"))
    _show(result, as_json, print_result)


aug_app = typer.Typer(help="Look at augmentations before training with them.", no_args_is_help=True)


@aug_app.command("preview")
def aug_preview_command(
    data: Annotated[str, typer.Option("--data", help="Images as any image task reads them (a folder, a manifest, digits), or a segmentation folder of images/ and masks/.")],
    aug: Annotated[str, typer.Option("--aug", help="The augmentation spec, e.g. hflip,rotate=15,color-jitter or a preset.")],
    out: Annotated[Path, typer.Option("--out", help="The PNG to write (never replaced if it exists).")] = Path("aug-preview.png"),
    images: Annotated[int, typer.Option("--images", help="Rows: how many images.")] = 4,
    samples: Annotated[int, typer.Option("--samples", help="Augmented samples per image, beside the original.")] = 5,
    img_size: Annotated[Optional[int], typer.Option("--img-size", help="Resize to this square size first (default: the data's own, 64 for files).")] = None,
    seed: Annotated[int, typer.Option("--seed", help="Which images and which random draws.")] = 0,
    data_root: Annotated[Optional[Path], typer.Option("--data-root", help="Where named datasets live.")] = None,
) -> None:
    """Write a grid of augmented samples: each row one image, the original first."""
    from taskkit.preview.augmentations import write_preview

    written = write_preview(data, aug, out, images=images, samples=samples, img_size=img_size, seed=seed,
                            data_root=None if data_root is None else str(data_root))
    typer.echo(f"wrote {written}")


def _show(result: dict, as_json: bool, printer: Callable[[dict], None]) -> None:
    """`--json` prints the result as it is; otherwise the command's own printer tells it."""
    if as_json:
        from taskkit.report.json_output import echo_json

        echo_json(result)
    else:
        printer(result)


def add_recipe_commands(app: typer.Typer) -> None:
    app.command("cv", context_settings=PASS_THROUGH)(cv_command)
    app.command("tune", context_settings=PASS_THROUGH)(tune_command)
    app.command("lr-find", context_settings=PASS_THROUGH)(lr_find_command)
    app.add_typer(aug_app, name="aug")

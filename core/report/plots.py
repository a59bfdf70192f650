"""PNG plots a run writes: training curves and the confusion matrix."""

from __future__ import annotations

from pathlib import Path

from taskkit.storage.atomic import atomic_write


def pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_curves(history: list[dict[str, float]], path: Path) -> None:
    """Loss and accuracy per epoch, train against validation: over- and underfitting at a glance."""
    plt = pyplot()
    epochs = [row["epoch"] for row in history]
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, metric in zip(axes, ("loss", "acc")):
        for split in ("train", "val"):
            key = f"{split}_{metric}"
            if key in history[0]:
                ax.plot(epochs, [row[key] for row in history], marker="o", label=split)
        ax.set(xlabel="epoch", ylabel=metric, title=metric)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=100))
    plt.close(fig)


def plot_confusion_matrix(matrix: list[list[int]], classes: list[str], path: Path) -> None:
    """Counts with true classes down and predicted classes across."""
    plt = pyplot()
    size = max(4.0, 0.5 * len(classes) + 2)
    fig, ax = plt.subplots(figsize=(size, size))
    image = ax.imshow(matrix, cmap="Blues")
    ax.set(xticks=range(len(classes)), yticks=range(len(classes)), xlabel="predicted", ylabel="true",
           title="confusion matrix")
    ax.set_xticklabels(classes, rotation=45, ha="right")
    ax.set_yticklabels(classes)
    if len(classes) <= 30:
        peak = max(max(row) for row in matrix) or 1
        for i, row in enumerate(matrix):
            for j, count in enumerate(row):
                ax.text(j, i, str(count), ha="center", va="center",
                        color="white" if count > peak / 2 else "black", fontsize=8)
    fig.colorbar(image, ax=ax, fraction=0.046)
    fig.tight_layout()
    atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=100))
    plt.close(fig)


def write_confusion_csv(matrix: list[list[int]], classes: list[str], path: Path) -> None:
    lines = ["true\\predicted," + ",".join(classes)]
    lines += [f"{name}," + ",".join(str(c) for c in row) for name, row in zip(classes, matrix)]
    atomic_write(path, lambda tmp: tmp.write_text("\n".join(lines) + "\n"))


def plot_lr_sweep(rates: list[float], losses: list[float], smoothed: list[float], suggested: float | None,
                  path: Path) -> None:
    """Loss against learning rate on a log axis, the smoothed curve over the raw one, and the suggestion."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    ax.plot(rates, losses, color="tab:blue", alpha=0.25, label="loss per step")
    ax.plot(rates, smoothed, color="tab:blue", label="smoothed")
    if suggested is not None:
        ax.axvline(suggested, color="tab:red", linestyle="--", label=f"suggested {suggested:.2e}")
    top = min(max(smoothed), 3 * smoothed[0]) if smoothed else 1.0
    ax.set(xscale="log", xlabel="learning rate", ylabel="training loss", title="learning-rate sweep",
           ylim=(min(smoothed or [0.0]) * 0.9, top * 1.05))
    ax.grid(alpha=0.3, which="both")
    ax.legend()
    fig.tight_layout()
    atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=100))
    plt.close(fig)

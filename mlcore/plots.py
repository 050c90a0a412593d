"""Plotting helpers of the book. Each takes `ax=None` (a new figure) and returns the axes."""
import matplotlib.pyplot as plt
import numpy as np
import torch

from .tasks import to_device

GAP = 2  # pixels between images in a grid


def plot_task(task, ax=None, title=None):
    """Show one task: a labelled grid of images, or the points of a regression task.

    Image tasks: one row per class, support images first, a gap, then the query images.
    Regression tasks: support points as large dots, query points as small crosses.
    """
    ax = ax or plt.figure(figsize=(6, 3)).gca()
    task = to_device(task, "cpu")
    if task.support.y.is_floating_point():
        _plot_points(task, ax)
    else:
        _plot_image_grid(task, ax)
    if title:
        ax.set_title(title)
    return ax


def plot_history(history, columns=("loss",), ax=None, smooth=20, label=None, **style):
    """Training curves from a `meta_train` history (a moving average over `smooth` steps).

    Each curve is labelled with its column, or with `label` (prefixed when many columns);
    `style` goes to `ax.plot` (color, linestyle, ...).
    """
    ax = ax or plt.figure(figsize=(6, 3)).gca()
    for column in columns:
        values = history[column].dropna()
        window = min(smooth, max(len(values) // 5, 1))
        name = column if label is None else label if len(columns) == 1 else f"{label} {column}"
        ax.plot(history.loc[values.index, "step"], values.rolling(window, min_periods=1).mean(),
                label=name, **style)
    ax.set_xlabel("meta-training step")
    ax.set_ylabel(", ".join(columns) if len(columns) > 1 else columns[0])
    if len(columns) > 1:
        ax.legend()
    return ax


def _plot_points(task, ax):
    ax.scatter(task.support.x.squeeze(-1), task.support.y.squeeze(-1), s=40, label="support")
    ax.scatter(task.query.x.squeeze(-1), task.query.y.squeeze(-1), marker="x", s=20,
               label="query")
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.legend()


def show_images(images, ax=None, n_columns=10):
    """A grid of images (n, 1, H, W) or (n, H, W), ink dark on white."""
    ax = ax or plt.figure(figsize=(6, 3)).gca()
    images = list(torch.as_tensor(images).reshape(-1, *images.shape[-2:]).cpu().numpy())
    ax.imshow(_montage([images[i:i + n_columns] for i in range(0, len(images), n_columns)]),
              cmap="gray", vmin=0, vmax=1)
    ax.axis("off")
    return ax


def _plot_image_grid(task, ax):
    labels = torch.cat([task.support.y, task.query.y]).unique().tolist()  # the rows shown
    labels = [c for c in labels if c >= 0]  # unlabelled support examples are not drawn
    n_support = len(_by_class(task.support, labels[0]))
    rows = [_by_class(task.support, c) + [None] + _by_class(task.query, c) for c in labels]
    ax.imshow(_montage(rows), cmap="gray", vmin=0, vmax=1)
    step = task.support.x.shape[-1] + GAP
    n_query = len(rows[0]) - n_support - 1
    ax.set_xticks([step * n_support / 2, step * (n_support + 1 + n_query / 2)])
    ax.set_xticklabels(["support", "query"])
    ax.set_yticks([step * (row + 0.5) for row in range(len(labels))])
    ax.set_yticklabels([f"label {c}" for c in labels])
    ax.grid(False)


def _montage(rows):
    """Rows of images (None leaves a blank) -> one canvas, ink dark on white."""
    height, width = next(image for row in rows for image in row if image is not None).shape
    canvas = np.ones((len(rows) * (height + GAP), max(map(len, rows)) * (width + GAP)))
    for r, row in enumerate(rows):
        for c, image in enumerate(row):
            if image is not None:
                canvas[r * (height + GAP):r * (height + GAP) + height,
                       c * (width + GAP):c * (width + GAP) + width] = 1 - image
    return canvas


def _by_class(split, label):
    return [image[0].numpy() for image in split.x[split.y == label]]

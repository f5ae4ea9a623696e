"""The confusion matrix and per-class precision, recall and F1 of a model's test predictions.

Plain tensors and rows, no pandas: the evaluate stage runs for every experiment, and importing
pandas would add about 0.3 s to each.
"""

import torch

from mnist_pipeline.core.mnist import NUM_CLASSES


def confusion_matrix(actual: torch.Tensor, predicted: torch.Tensor) -> torch.Tensor:
    """Counts [actual class, predicted class]."""
    flat = actual.cpu().long() * NUM_CLASSES + predicted.cpu().long()
    return torch.bincount(flat, minlength=NUM_CLASSES**2).reshape(NUM_CLASSES, NUM_CLASSES)


def confusion_rows(confusion: torch.Tensor) -> list[dict]:
    """One CSV row per actual class: `actual`, then the count predicted as each class."""
    return [{"actual": actual, **{str(p): int(n) for p, n in enumerate(row)}} for actual, row in enumerate(confusion.tolist())]


def per_class_metrics(confusion: torch.Tensor) -> list[dict]:
    """Per class: precision, recall, F1 (0 where a ratio is undefined) and support."""
    rows = []
    for c in range(NUM_CLASSES):
        hits, predicted, support = int(confusion[c, c]), int(confusion[:, c].sum()), int(confusion[c].sum())
        precision = hits / predicted if predicted else 0.0
        recall = hits / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        rows.append({"class": c, "precision": round(precision, 6), "recall": round(recall, 6), "f1": round(f1, 6),
                     "support": support})
    return rows

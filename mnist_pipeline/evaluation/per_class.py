"""The confusion matrix and per-class precision, recall and F1 of a model's test predictions."""

import pandas as pd
import torch

from mnist_pipeline.core.mnist import NUM_CLASSES


def confusion_matrix(actual: torch.Tensor, predicted: torch.Tensor) -> pd.DataFrame:
    """Counts with actual classes as rows and predicted classes as columns."""
    flat = actual.cpu().long() * NUM_CLASSES + predicted.cpu().long()
    counts = torch.bincount(flat, minlength=NUM_CLASSES**2).reshape(NUM_CLASSES, NUM_CLASSES)
    classes = list(range(NUM_CLASSES))
    frame = pd.DataFrame(counts.numpy(), index=classes, columns=classes)
    frame.index.name, frame.columns.name = "actual", "predicted"
    return frame


def per_class_metrics(confusion: pd.DataFrame) -> pd.DataFrame:
    """Precision, recall, F1 and support per class (0 where a ratio is undefined)."""
    true_positive = pd.Series(confusion.values.diagonal(), index=confusion.index)
    predicted = confusion.sum(axis=0)
    support = confusion.sum(axis=1)
    precision = (true_positive / predicted).fillna(0.0)
    recall = (true_positive / support).fillna(0.0)
    f1 = (2 * precision * recall / (precision + recall)).fillna(0.0)
    return pd.DataFrame(
        {
            "class": confusion.index,
            "precision": precision.round(6).values,
            "recall": recall.round(6).values,
            "f1": f1.round(6).values,
            "support": support.values,
        }
    )

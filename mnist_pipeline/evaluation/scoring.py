"""Scoring a model on in-memory tensors, and per-class metrics."""

import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from mnist_pipeline.core.mnist import NUM_CLASSES

# Images per forward pass when scoring (validation, test, predict): a memory bound, not a recipe choice.
INFERENCE_BATCH_SIZE = 1000


@torch.inference_mode()
def score(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = INFERENCE_BATCH_SIZE):
    """Mean cross-entropy, accuracy and predicted labels of model on (x, y), in large batches."""
    was_training = model.training
    model.eval()
    loss_sum = torch.zeros((), device=x.device)
    predictions = []
    for start in range(0, len(y), batch_size):
        logits = model(x[start : start + batch_size])
        target = y[start : start + batch_size]
        loss_sum += F.cross_entropy(logits, target, reduction="sum")
        predictions.append(logits.argmax(1))
    model.train(was_training)
    predicted = torch.cat(predictions) if predictions else y.new_empty(0)
    correct = (predicted == y).sum()
    n = max(len(y), 1)
    return loss_sum.item() / n, correct.item() / n, predicted


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

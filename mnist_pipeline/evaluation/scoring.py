"""Scoring a model on in-memory tensors: what training (validation) and evaluation (test) share.

No pandas here: training imports this module, and pandas would add 0.4 s to every training process."""

import torch
import torch.nn.functional as F
from torch import nn

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

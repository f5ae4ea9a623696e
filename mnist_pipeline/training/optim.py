"""Optimizers and learning-rate schedules named in params.yaml (`train.optimizer`, `train.schedule`)."""

import torch
from torch import nn
from torch.optim.adam import adam

from mnist_pipeline.core.limits import require_warmup
from mnist_pipeline.core.params import TrainParams
from mnist_pipeline.training.device import fast_kernels
from mnist_pipeline.training.steps import total_steps

# Stepped after every batch; `plateau` is stepped once per epoch with the validation accuracy.
PER_STEP_SCHEDULES = ("onecycle", "cosine")


class Muon(torch.optim.Optimizer):
    """Muon (Keller Jordan, 2024: kellerjordan.github.io/posts/muon) on every weight of two or more
    dimensions but the last one registered (the output layer's), Adam on the rest: biases, BatchNorm,
    the output layer. A convolution's weight is taken as a matrix of (out channels, in channels x
    kernel). Its Nesterov momentum is orthogonalized by five Newton-Schulz iterations, so each step
    moves every direction of the matrix about as far: fewer steps reach the same accuracy.

    One optimizer with two parameter groups (Muon's at muon_lr, Adam's at lr), so one schedule steps
    both and one state_dict resumes both exactly. Weight decay: decoupled on Muon's, L2 on Adam's.
    Adam's part is torch's own (its functional form; fused where the device has it)."""

    COEFFICIENTS, ITERATIONS = (3.4445, -4.7750, 2.0315), 5  # the quintic of the post

    def __init__(self, model: nn.Module, lr: float, muon_lr: float, momentum: float, weight_decay: float):
        weights = [p for p in model.parameters() if p.ndim >= 2]
        matrices = {id(p) for p in weights[:-1]}
        # "fused" as torch's Adam keeps it in its group: load_state_dict then puts `step` on the parameters' device.
        fused = fast_kernels(weights[0].device)
        groups = [{"params": weights[:-1], "lr": muon_lr, "muon": True},
                  {"params": [p for p in model.parameters() if id(p) not in matrices], "lr": lr, "muon": False,
                   "fused": fused}]
        super().__init__(groups, {"lr": lr, "momentum": momentum, "betas": (0.9, 0.999), "eps": 1e-8,
                                  "weight_decay": weight_decay})

    @staticmethod
    def orthogonalize(matrix: torch.Tensor) -> torch.Tensor:
        """The nearest semi-orthogonal matrix, approximately: U V^T of matrix = U S V^T."""
        a, b, c = Muon.COEFFICIENTS
        x = matrix / (matrix.norm() + 1e-7)
        tall = x.size(0) > x.size(1)
        x = x.T if tall else x
        for _ in range(Muon.ITERATIONS):  # x = a x + (b G + c G^2) x with G = x x^T, in three products
            gram = x @ x.T
            x = torch.addmm(x, torch.addmm(gram, gram, gram, beta=b, alpha=c), x, beta=a)
        return x.T if tall else x

    @torch.no_grad()
    def step(self, closure=None):
        """Always on one thread, so that its sums never depend on how threads wait. Its products are
        of matrices of a few thousand numbers: where waiting threads sleep (OMP_WAIT_POLICY=PASSIVE;
        mnist_pipeline/__init__.py) waking the second one for each cost more than the work (model_4's
        step: 10.7 ms on two threads, 2.4 ms on one); where they spin briefly, both take about 2 ms."""
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            self._step()
        finally:
            torch.set_num_threads(threads)

    def _step(self) -> None:
        muon, rest = self.param_groups
        lr, momentum, decay = muon["lr"], muon["momentum"], muon["weight_decay"]
        for p in (p for p in muon["params"] if p.grad is not None):
            if "momentum_buffer" not in self.state[p]:
                self.state[p]["momentum_buffer"] = torch.zeros_like(p.grad)
            buffer = self.state[p]["momentum_buffer"]
            buffer.mul_(momentum).add_(p.grad)
            update = self.orthogonalize(p.grad.add(buffer, alpha=momentum).reshape(len(p), -1))
            if decay:
                p.mul_(1 - lr * decay)
            p.add_(update.view(p.shape), alpha=-lr * max(1, update.size(0) / update.size(1)) ** 0.5)
        params = [p for p in rest["params"] if p.grad is not None]
        for p in params:
            if not self.state[p]:  # as torch's Adam: `step` on the parameter's device when fused, else on the CPU
                step = torch.zeros((), dtype=torch.float32, device=p.device if rest["fused"] else "cpu")
                self.state[p].update(step=step, exp_avg=torch.zeros_like(p), exp_avg_sq=torch.zeros_like(p))
        states = [self.state[p] for p in params]
        averages = [s["exp_avg"] for s in states]
        squares = [s["exp_avg_sq"] for s in states]
        steps = [s["step"] for s in states]
        beta1, beta2 = rest["betas"]
        adam(params, [p.grad for p in params], averages, squares, [], steps, fused=rest["fused"] or None, amsgrad=False,
             beta1=beta1, beta2=beta2, lr=rest["lr"], weight_decay=rest["weight_decay"], eps=rest["eps"], maximize=False)


def make_optimizer(model: nn.Module, params: TrainParams) -> torch.optim.Optimizer:
    """adam (the original project's), adamw (decoupled weight decay), sgd with Nesterov momentum, or
    muon (Muon on the weight matrices, Adam on the rest); one fused step per batch where the device
    has it (adam, adamw, sgd)."""
    if params.optimizer == "muon":
        return Muon(model, params.lr, params.muon_lr, params.momentum, params.weight_decay)
    fused = fast_kernels(next(model.parameters()).device)
    common = dict(lr=params.lr, weight_decay=params.weight_decay, fused=fused)
    if params.optimizer == "adam":
        return torch.optim.Adam(model.parameters(), **common)
    if params.optimizer == "adamw":
        return torch.optim.AdamW(model.parameters(), **common)
    return torch.optim.SGD(model.parameters(), momentum=params.momentum, nesterov=True, **common)


def make_scheduler(optimizer: torch.optim.Optimizer, params: TrainParams, steps_per_epoch: int):
    """plateau: lr times lr_factor after lr_patience epochs without a better validation accuracy;
    onecycle: warm up to lr over warmup of the steps, then anneal towards 0 (cosine);
    cosine: anneal from lr to 0 over all steps."""
    total = total_steps(params.epochs, steps_per_epoch)
    if params.schedule == "plateau":
        return torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer, mode="max", factor=params.lr_factor, patience=params.lr_patience
        )
    if params.schedule == "onecycle":
        require_warmup(params.warmup, params.epochs, steps_per_epoch, total, params.batch_size, "the recipe")
        # Each group to its own peak (Muon's to muon_lr); Muon's momentum is a param, not cycled.
        return torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=[g["lr"] for g in optimizer.param_groups],
                                                   total_steps=total, pct_start=params.warmup,
                                                   cycle_momentum=params.optimizer != "muon")
    return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=total)

"""How many optimizer steps a recipe takes: what the schedules, the loop and check's rules count with.
No torch here, so `check` imports it."""


def steps_per_epoch(images: int, batch_size: int) -> int:
    return -(-images // batch_size)


def total_steps(epochs: float, steps: int) -> int:
    """Training steps in all: epochs of steps each, a fractional last epoch rounded to whole steps."""
    return max(1, round(epochs * steps))

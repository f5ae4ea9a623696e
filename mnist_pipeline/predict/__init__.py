"""Reading digits in people's pictures: the `mnist-predict` command (command.py) and its layers,
inputs.py (files) <- framing.py (paper.py, digits.py: pictures -> MNIST-framed candidates) and
reader.py (the model, calibration.py's temperature, which reading stands), project.py (which
checkpoint a model name means). No stage imports this package, so a change here reruns nothing.
"""

from mnist_pipeline.core.command import run_command
from mnist_pipeline.predict.reader import Reader

__all__ = ["Reader", "cli"]


def cli() -> None:
    """The `mnist-predict` console command."""
    from mnist_pipeline.predict.command import main

    run_command(main)

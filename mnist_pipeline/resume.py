"""Per-epoch resume state for training, kept outside DVC's outputs (DVC deletes those on rerun).

A state is used only when its fingerprint (params, input data, library versions) matches the
run being started; otherwise training starts fresh. It is removed once training completes.
"""

import hashlib
import json
import logging
from pathlib import Path

import torch

from mnist_pipeline.io import save_torch

log = logging.getLogger(__name__)


def fingerprint(config: dict, inputs: list[Path]) -> str:
    """SHA-256 over the run's configuration (JSON-able) and the bytes of its input files."""
    digest = hashlib.sha256(json.dumps(config, sort_keys=True).encode())
    digest.update(torch.__version__.encode())
    for path in inputs:
        digest.update(hashlib.sha256(Path(path).read_bytes()).digest())
    return digest.hexdigest()


class ResumeState:
    def __init__(self, path: Path, fingerprint: str):
        self.path = Path(path)
        self.fingerprint = fingerprint

    def load(self) -> dict | None:
        """The saved state if it belongs to this run; None (start fresh) otherwise."""
        if not self.path.exists():
            return None
        try:
            state = torch.load(self.path, map_location="cpu", weights_only=True)
        except Exception as exc:
            log.warning("%s: unreadable resume state (%s); starting fresh", self.path, exc)
            return None
        if not isinstance(state, dict) or state.get("fingerprint") != self.fingerprint:
            log.warning("%s: resume state is for other params or data; starting fresh", self.path)
            return None
        log.info("%s: resuming after epoch %d", self.path, state["epoch"])
        return state

    def save(self, state: dict) -> None:
        save_torch({**state, "fingerprint": self.fingerprint}, self.path)

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)

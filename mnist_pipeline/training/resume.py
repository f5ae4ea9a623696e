"""Per-epoch resume state for training, kept outside DVC's outputs (DVC deletes those on rerun).

A state is used only when its fingerprint matches the run being started: the same params, input
data, torch version and project code. Otherwise training starts fresh. The train stage removes
it once its outputs are written.
"""

import hashlib
import json
import logging
import sys
from pathlib import Path

import torch

from mnist_pipeline.core.files import save_torch

log = logging.getLogger(__name__)


def project_code(root: Path | None = None) -> list[Path]:
    """The project's own source files imported so far (the code a stage runs), sorted."""
    given = root or Path.cwd()
    root = given.resolve()
    prefixes = (str(given), str(root))
    files = set()
    for module in list(sys.modules.values()):
        path = getattr(module, "__file__", None)
        # Only paths under the project are resolved: resolving torch's thousands took 0.3 s.
        if not path or not path.startswith(prefixes):
            continue
        path = Path(path).resolve()
        if path.is_relative_to(root) and not {"site-packages", "dist-packages"} & set(path.parts):
            files.add(path)
    return sorted(files)


def fingerprint(config: dict, files: list[Path]) -> str:
    """SHA-256 over the run's configuration (JSON-able), torch's version and the bytes of files."""
    digest = hashlib.sha256(json.dumps(config, sort_keys=True).encode())
    digest.update(torch.__version__.encode())
    for path in files:
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
            log.warning("%s: resume state is for other params, data or code; starting fresh", self.path)
            return None
        log.info("%s: resuming after epoch %d", self.path, len(state["run"]["history"]))
        return state

    def save(self, state: dict) -> None:
        save_torch({**state, "fingerprint": self.fingerprint}, self.path)

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)

"""Runs a command's main() and turns expected failures into one line and a non-zero exit."""

import errno
import gc
import logging
import os
import signal
import sys
import threading
import time
import traceback
from contextlib import contextmanager
from typing import Callable, Iterator

from mnist_pipeline.core.errors import PipelineError

STOPPING_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def _stop(signum: int, frame) -> None:
    """Ctrl-C or SIGTERM: raise once, then ignore more of them while the stack unwinds (a second
    Ctrl-C, or DVC passing the first on, would otherwise hit cleanup code as a stray traceback)."""
    for stopping in STOPPING_SIGNALS:
        signal.signal(stopping, signal.SIG_IGN)
    raise KeyboardInterrupt(signum)


@contextmanager
def stops_deferred() -> Iterator[None]:
    """Ctrl-C or SIGTERM inside the block takes effect when it ends: for writes that only mean
    something together (a fold's result and its done marker). Outside the main thread, no effect."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught = []
    previous = {s: signal.signal(s, lambda signum, frame: caught.append(signum)) for s in STOPPING_SIGNALS}
    try:
        yield
    finally:
        for stopping, handler in previous.items():
            signal.signal(stopping, handler)
        if caught:
            signal.raise_signal(caught[0])


def _stop_when_orphaned(parent: int) -> None:
    """A `dvc repro` stopped by SIGTERM dies without passing it on, and its stage would train on
    unseen and write outputs DVC never records: when the parent process goes, stop as if signalled."""
    while os.getppid() == parent:
        time.sleep(1)
    os.kill(os.getpid(), signal.SIGTERM)


def describe_os_error(exc: OSError) -> str:
    where = exc.filename or "a file"
    if exc.errno == errno.ENOSPC:
        return f"{where}: no space left on the device; free some space and run the same command again"
    return f"{where}: {exc.strerror or exc}"


def run_command(main: Callable[[], None], kept: str = "") -> None:
    """Call main(); report a PipelineError, an OSError (a full disk, a read-only folder) or a stopping
    signal as one `error: ...` line on stderr and exit non-zero; anything else is a bug: its traceback
    and exit status 1. Outputs are written atomically (core/files.py), so a failure leaves the old
    file or none, never half of one. kept: what a command that resumes keeps of the work a stop cut
    short, said after Ctrl-C or SIGTERM (`training resumes from its last completed epoch`)."""
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    previous = {s: signal.signal(s, _stop) for s in STOPPING_SIGNALS}
    threading.Thread(target=_stop_when_orphaned, args=(os.getppid(),), daemon=True).start()
    bug = False
    try:
        main()
    except PipelineError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)
    except BrokenPipeError:  # the reader went away (`| head`): stop quietly, as Unix tools do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # nothing left to flush at exit
        sys.exit(128 + signal.SIGPIPE)
    except OSError as exc:
        print(f"error: {describe_os_error(exc)}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt as exc:
        signum = exc.args[0] if exc.args and exc.args[0] in STOPPING_SIGNALS else signal.SIGINT
        print(f"error: interrupted ({signal.Signals(signum).name}); run the same command again"
              + (f" to go on ({kept})" if kept else ""), file=sys.stderr)
        sys.exit(128 + signum)
    except Exception:  # a bug, not bad input: its traceback, as Python prints it
        traceback.print_exc()
        bug = True
    finally:
        for stopping, handler in previous.items():
            signal.signal(stopping, handler)
    if bug:
        # Left uncaught, the traceback would keep its frames' objects (DVC's git repository among them)
        # alive until Python's shutdown, where their finalizers fail, each with a traceback of its own
        # ("sys.meta_path is None"). Out of the handler they are let go; collected now, they close quietly.
        gc.collect()
        sys.exit(1)

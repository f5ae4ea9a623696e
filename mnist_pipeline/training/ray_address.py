"""Whether RAY_ADDRESS names a Ray cluster this run can join, told within ANSWER_S whatever is there.

ray.init, given an address where something other than Ray listens (an HTTP server), retries for
minutes, printing its C++ client's `Failed to get cluster ID` lines; where nothing answers, the
stage waited out a 10 s TCP connect after reading its data. So before ray.init, in the order a
wrong address fails: the name resolves and a TCP connection opens (one deadline for both: the
resolver's own timeouts are not bounded by the socket's); the server answers the HTTP/2 preface
with its SETTINGS frame, as every gRPC server must (an HTTP/1 server answers `HTTP/1.1 400`, a
proxy that only accepts says nothing); and, for a cluster's GCS, Ray's own client gets the
cluster's ID, with its token where the cluster asks for one, and with its log lines kept out of
the terminal. No torch here, and Ray only for the last step.
"""

import contextlib
import os
import socket
import tempfile
import threading
import time
from urllib.parse import urlsplit

from mnist_pipeline.core.errors import PipelineError

ANSWER_S = 5  # all the steps together (Ray's own connect timeout); the stage takes them before reading its data
LOCAL = ("", "local")  # RAY_ADDRESS values that mean the embedded instance
HTTP2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes([0, 0, 0, 4, 0, 0, 0, 0, 0])  # and an empty SETTINGS
SETTINGS = 4  # the HTTP/2 frame type a server sends first


def ray_address() -> str:
    return os.environ.get("RAY_ADDRESS", "").strip()


_ANSWERED: set[str] = set()  # addresses whose cluster answered in this process: asked once


def require_cluster() -> None:
    """RAY_ADDRESS names the local instance or a cluster that answers; else one line saying what is there."""
    address = ray_address()
    if address in _ANSWERED:
        return
    reason = problem(address)
    if reason:
        raise PipelineError(f"RAY_ADDRESS={address}: cannot reach a Ray cluster there ({reason}); start one "
                            "(`ray start --head`) or unset RAY_ADDRESS to use a local instance")
    _ANSWERED.add(address)


def problem(address: str) -> str | None:
    """Why no Ray cluster can be joined at address (host:port, or ray://host:port for Ray Client), or None
    where one answers; within ANSWER_S. `auto` and the local instance are ray.init's to find."""
    if address in ("auto", *LOCAL):
        return None
    try:
        parts = urlsplit(address if "://" in address else f"ray://{address}")
        host, port = parts.hostname, parts.port
    except ValueError as exc:  # `ray://[::1`, a port out of range
        return f"not host:port ({exc})"
    if not host or not port:
        return "not host:port"
    deadline = time.monotonic() + ANSWER_S
    try:
        with _connect(host, port, deadline) as connection:
            if not _truthy(os.environ.get("RAY_USE_TLS")):  # TLS first: the preface would be refused
                found = _http2_answer(connection, deadline)
                if found:
                    return found
    except OSError as exc:
        return exc.strerror or str(exc)
    if "://" in address:  # Ray Client's server (ray://): a gRPC server, and ray.init says the rest at once
        return None
    return _gcs_answer(f"{host}:{port}" if ":" not in host else f"[{host}]:{port}", deadline)


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes")


def _connect(host: str, port: int, deadline: float) -> socket.socket:
    """A TCP connection to host:port, name lookup included, or an OSError saying why not, by the deadline."""
    found: list = []
    lookup = threading.Thread(target=_resolve, args=(host, port, found), daemon=True)
    lookup.start()
    lookup.join(max(0.0, deadline - time.monotonic()))
    if not found:
        raise OSError(f"no answer from the name service for {host} for {ANSWER_S} s")
    if isinstance(found[0], OSError):
        raise OSError(f"cannot resolve {host} ({found[0].strerror or found[0]})")
    error = OSError("no address")
    for family, kind, proto, _, where in found[0]:
        connection = socket.socket(family, kind, proto)
        try:
            connection.settimeout(max(0.01, deadline - time.monotonic()))
            connection.connect(where)
            return connection
        except TimeoutError:
            connection.close()
            error = OSError(f"no answer to a TCP connection for {ANSWER_S} s: a firewall, or no such host")
        except OSError as exc:
            connection.close()
            error = exc
    raise error


def _resolve(host: str, port: int, found: list) -> None:
    try:
        found.append(socket.getaddrinfo(host, port, type=socket.SOCK_STREAM))
    except OSError as exc:
        found.append(exc)


def _http2_answer(connection: socket.socket, deadline: float) -> str | None:
    """Why the server is no gRPC server (Ray's speak gRPC: HTTP/2), or None."""
    try:
        connection.settimeout(max(0.01, deadline - time.monotonic()))
        connection.sendall(HTTP2_PREFACE)
        head = b""
        while len(head) < 9:
            more = connection.recv(9 - len(head))
            if not more:
                break
            head += more
    except TimeoutError:
        return f"it accepts connections but says nothing for {ANSWER_S} s: not Ray"
    except OSError as exc:
        return f"it closed the connection ({exc.strerror or exc}): not Ray"
    if len(head) == 9 and head[3] == SETTINGS and head[5:9] == bytes(4):
        return None
    said = head.split(b"\r\n")[0].decode("ascii", "replace").strip()
    return f"what answers is not Ray: {said!r}" if said else "it closed the connection at once: not Ray"


@contextlib.contextmanager
def _quiet_stderr():
    """File descriptor 2 into a temporary file while the block runs (Ray's C++ client writes its retries
    there, below Python), then back."""
    with tempfile.TemporaryFile() as captured:
        saved = os.dup(2)
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def _gcs_answer(address: str, deadline: float) -> str | None:
    """Why the GCS at address does not give this driver the cluster's ID (Ray's own client, so its
    protocol, token and TLS are Ray's), or None."""
    try:
        from ray._raylet import InnerGcsClient
        from ray.exceptions import RayError
    except ImportError:  # another Ray: ray.init has the last word
        return None
    timeout_ms = max(100, int((deadline - time.monotonic()) * 1000))
    with _quiet_stderr():
        try:
            InnerGcsClient.standalone(address, None, timeout_ms)
        except (TypeError, AttributeError):  # the private client changed in another Ray: ray.init has the last word
            return None
        except (RayError, ConnectionError, TimeoutError) as exc:  # RpcError, AuthenticationError: its first sentence says which
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0].split(". ")[0].rstrip(".")
            token = "; a cluster with token authentication needs its token in RAY_AUTH_TOKEN" if "Auth" in first else ""
            return f"not a Ray cluster's GCS: {first}{token}"
    return None

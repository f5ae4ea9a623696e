"""A RAY_ADDRESS where no Ray cluster answers is one line within seconds, whatever is there: an HTTP
server (ray.init retried for over 2 minutes, printing Ray's `Failed to get cluster ID` lines), a
closed port, a host that never answers (23 s), a server that accepts and says nothing, an HTTP/2
server that is not Ray's GCS."""

import http.server
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

from mnist_pipeline.core.errors import PipelineError
from mnist_pipeline.training import ray_address
from tests.project import copy_project, environment, run

@contextmanager
def http_server():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
    server.RequestHandlerClass.log_message = lambda *args: None
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def listener(answer: bytes | None):
    """A server that reads what it is sent and answers `answer` (None: nothing, ever)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    held = []

    def serve():
        while True:
            try:
                connection, _ = server.accept()
            except OSError:
                return
            held.append(connection)
            if answer is not None:
                connection.recv(1024)
                connection.sendall(answer)

    threading.Thread(target=serve, daemon=True).start()
    try:
        yield f"127.0.0.1:{server.getsockname()[1]}"
    finally:
        server.close()
        for connection in held:
            connection.close()


@contextmanager
def closed_port():
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    yield f"127.0.0.1:{port}"


@contextmanager
def silent_host():
    """A port whose accept queue is full: the kernel drops further SYNs, as on the way to a host that
    is down or firewalled (no root, no network needed)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(0)
    filler = socket.create_connection(server.getsockname())
    try:
        yield f"127.0.0.1:{server.getsockname()[1]}"
    finally:
        filler.close()
        server.close()


FAST_S = 0.5  # the deadline in the tests without the stage
SETTINGS = bytes([0, 0, 0, 4, 0, 0, 0, 0, 0])  # what every HTTP/2 server sends first; then this one says no more
PLACES = {"an HTTP server": (http_server, "what answers is not Ray: "),
          "a closed port": (closed_port, "Connection refused"),
          "a host that never answers": (silent_host, f"no answer to a TCP connection for {FAST_S} s: a firewall, or no such host"),
          "a server that accepts and says nothing": (lambda: listener(None), f"it accepts connections but says nothing for {FAST_S} s"),
          "an HTTP/2 server that is not Ray": (lambda: listener(SETTINGS), "not a Ray cluster's GCS: "),
          "a name that does not resolve": (lambda: _named("no-such-host.invalid:6379"), "cannot resolve no-such-host.invalid")}


@contextmanager
def _named(address):
    yield address


@pytest.mark.parametrize("place", PLACES)
def test_an_address_where_ray_is_not_is_one_line_within_the_deadline(place, monkeypatch, capfd):
    pytest.importorskip("ray._raylet")  # imported within the deadline otherwise: here its time is not the probe's
    monkeypatch.setattr(ray_address, "ANSWER_S", FAST_S)
    start, expected = PLACES[place]
    with start() as address:
        for where in (address, f"ray://{address}") if place == "an HTTP server" else (address,):
            monkeypatch.setenv("RAY_ADDRESS", where)
            started = time.monotonic()
            with pytest.raises(PipelineError) as refused:
                ray_address.require_cluster()
            took = time.monotonic() - started
            assert took < FAST_S + 1, f"{place}: {took:.1f} s"
            message = str(refused.value)
            assert message.startswith(f"RAY_ADDRESS={where}: cannot reach a Ray cluster there (") and "\n" not in message
            assert expected in message, message
    assert capfd.readouterr().err == "", "Ray's own lines reached the terminal"


def test_the_local_instance_and_auto_are_not_probed(monkeypatch):
    for address in ("", "local", "auto"):
        monkeypatch.setenv("RAY_ADDRESS", address)
        ray_address.require_cluster()


# --- the stage, end to end ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def project(tmp_path_factory, raw_files):
    base = tmp_path_factory.mktemp("ray-address")
    root = copy_project(base / "project", raw_files, base / "mirror")
    env = environment(base)
    run([sys.executable, "-m", "stages.download"], root, env)
    (root / "crossval/results/model_1").mkdir(parents=True, exist_ok=True)
    (root / "crossval/results/model_1/fold_1.json").write_text('{"kept": true}\n')
    return root, env


def _stage(root, env, address, prefix=()) -> tuple[float, subprocess.CompletedProcess]:
    started = time.monotonic()
    result = subprocess.run([*prefix, sys.executable, "-m", "stages.crossval.folds", "model_1"], cwd=root,
                            env={**env, "RAY_ADDRESS": address}, capture_output=True, text=True, timeout=300)
    return time.monotonic() - started, result


@pytest.fixture(scope="module")
def startup_s(project) -> float:
    """What the stage takes to refuse at once (a closed port): its start, torch's import. The other
    places may take ANSWER_S more, on a busy machine too."""
    root, env = project
    with closed_port() as address:
        took, result = _stage(root, env, address)
    _one_line(result, address, root)
    return took


def _one_line(result, address, root):
    assert result.returncode == 1, result.stderr
    assert result.stderr.strip().splitlines() == [result.stderr.strip()], result.stderr  # no Ray line beside it
    assert result.stderr.startswith(f"error: RAY_ADDRESS={address}: cannot reach a Ray cluster there (")
    assert (root / "crossval/results/model_1/fold_1.json").read_text() == '{"kept": true}\n'


@pytest.mark.slow
@pytest.mark.parametrize("place", ["an HTTP server", "a host that never answers", "a server that accepts and says nothing"])
def test_the_stage_given_an_address_where_ray_is_not_says_so_in_one_line_within_seconds(project, startup_s, place):
    root, env = project
    with PLACES[place][0]() as address:
        took, result = _stage(root, env, address)
    _one_line(result, address, root)
    assert took < startup_s + ray_address.ANSWER_S + 2, f"{took:.1f} s, of which {startup_s:.1f} s to start"


@pytest.mark.slow
@pytest.mark.skipif(os.getuid() != 0 or not shutil.which("unshare") or not shutil.which("ip")
                    or not Path("/dev/net/tun").exists(), reason="a network namespace of its own needs root")
def test_the_stage_given_an_unroutable_address_says_so_within_seconds(project, startup_s):
    """10.255.255.1 in a network namespace whose route to it leads into a TUN device nothing reads."""
    root, env = project
    setup = ("ip link set lo up && ip tuntap add dev blackhole mode tun && ip link set blackhole up && "
             "ip route add 10.255.255.0/24 dev blackhole && exec \"$@\"")
    took, result = _stage(root, env, "10.255.255.1:6379", ["unshare", "--net", "sh", "-c", setup, "sh"])
    _one_line(result, "10.255.255.1:6379", root)
    assert "no answer to a TCP connection for 5 s" in result.stderr
    assert took < startup_s + ray_address.ANSWER_S + 2, f"{took:.1f} s, of which {startup_s:.1f} s to start"

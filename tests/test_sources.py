import gzip
import http.server
import logging
import threading
from functools import partial

import pytest

from mnist_pipeline.core.errors import PipelineError
from mnist_pipeline.core.mnist import RAW_FILES, TRAIN_IMAGES, TRAIN_LABELS
from mnist_pipeline.data.sources import fetch_verified, max_compressed


def test_folder_and_file_url_mirrors(mirror, raw_files, raw_digests):
    assert fetch_verified([str(mirror)], raw_digests, 5) == raw_files
    assert fetch_verified([mirror.as_uri()], raw_digests, 5) == raw_files


def test_digest_mismatch_falls_through_to_next_source(tmp_path, mirror, raw_files, raw_digests, caplog):
    bad = tmp_path / "bad"
    bad.mkdir()
    for name in RAW_FILES:
        (bad / f"{name}.gz").write_bytes((mirror / f"{name}.gz").read_bytes())
    (bad / f"{TRAIN_LABELS}.gz").write_bytes(gzip.compress(raw_files[TRAIN_LABELS][:-1] + b"\x07"))
    with caplog.at_level(logging.WARNING):
        assert fetch_verified([str(bad), str(mirror)], raw_digests, 5) == raw_files
    assert f"{TRAIN_LABELS}: SHA-256" in caplog.text and "does not match" in caplog.text


def test_every_source_failing_lists_what_was_tried(tmp_path, raw_digests):
    corrupt = tmp_path / "corrupt"
    corrupt.mkdir()
    for name in RAW_FILES:
        (corrupt / f"{name}.gz").write_bytes(b"\x1f\x8b\x08\x00garbage")
    with pytest.raises(PipelineError) as err:
        fetch_verified([str(tmp_path / "nowhere"), str(corrupt)], raw_digests, 5)
    message = str(err.value)
    assert "could not get a verified copy of" in message and TRAIN_IMAGES in message
    assert "nowhere: no such folder" in message
    assert "not a valid gzip file" in message
    assert "\n" not in message


def test_truncated_gzip_is_reported(tmp_path, mirror, raw_digests):
    for name in RAW_FILES:
        data = (mirror / f"{name}.gz").read_bytes()
        (tmp_path / f"{name}.gz").write_bytes(data[: len(data) // 2])
    with pytest.raises(PipelineError, match=r"train-images-idx3-ubyte.gz: not a valid gzip file \(Compressed file ended"):
        fetch_verified([str(tmp_path)], raw_digests, 5)


def test_a_decompression_bomb_is_refused_after_the_files_largest_size(tmp_path, mirror, raw_files, raw_digests, caplog):
    """32 MiB of zeros in a 32 KB gzip, as the 60,008-byte labels file: decompression stops past 60,008
    bytes, one warning line, and the next source serves."""
    bomb = tmp_path / "bomb"
    bomb.mkdir()
    (bomb / f"{TRAIN_LABELS}.gz").write_bytes(gzip.compress(bytes(32 << 20), compresslevel=9))
    assert fetch_verified([str(bomb), str(mirror)], raw_digests, 5) == raw_files
    (warning,) = [r.getMessage() for r in caplog.records if TRAIN_LABELS in r.getMessage()]
    assert f"{TRAIN_LABELS}.gz: unpacks to more than the 60,008 bytes an MNIST copy can have" in warning


def test_a_file_larger_than_any_copy_is_not_read_to_its_end(tmp_path, mirror, raw_files, raw_digests, caplog):
    big = tmp_path / "big"
    big.mkdir()
    (big / f"{TRAIN_LABELS}.gz").write_bytes(bytes(max_compressed(TRAIN_LABELS) + 1))
    assert fetch_verified([str(big), str(mirror)], raw_digests, 5) == raw_files
    assert any(f"{TRAIN_LABELS}.gz: larger than the {max_compressed(TRAIN_LABELS):,} bytes" in r.getMessage()
               for r in caplog.records)


def test_nothing_is_accepted_without_a_matching_digest(mirror, raw_digests):
    wrong = {**raw_digests, TRAIN_IMAGES: "0" * 64}
    with pytest.raises(PipelineError, match=f"could not get a verified copy of {TRAIN_IMAGES};"):
        fetch_verified([str(mirror)], wrong, 5)


@pytest.fixture
def http_mirror(mirror):
    """Serve the mirror folder on loopback; /html/ answers every request with an HTML page."""

    class Handler(http.server.SimpleHTTPRequestHandler):
        def do_GET(self):
            if self.path.startswith("/html/"):
                body = b"<html><body>503 Service Unavailable</body></html>"
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            else:
                super().do_GET()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(Handler, directory=str(mirror)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_http_mirror(http_mirror, raw_files, raw_digests):
    assert fetch_verified([http_mirror + "/"], raw_digests, 5) == raw_files


def test_http_errors_and_html_pages_are_reported(http_mirror, raw_digests):
    with pytest.raises(PipelineError) as err:
        fetch_verified([http_mirror + "/missing/", http_mirror + "/html/"], raw_digests, 5)
    assert "missing/: " in str(err.value) and "HTTP 404" in str(err.value)
    assert "an HTML page" in str(err.value)


def test_unreachable_host_is_skipped_quickly(mirror, raw_files, raw_digests):
    # Port 9 on loopback refuses the connection; the source is given up after its first file.
    sources = ["http://127.0.0.1:9/mnist/", str(mirror)]
    assert fetch_verified(sources, raw_digests, 2) == raw_files


@pytest.fixture
def hanging_server():
    """Accepts connections and never answers."""
    import socket

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    accepted = []
    stop = threading.Event()

    def accept():
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except OSError:
                pass

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}/mnist/"
    stop.set()
    thread.join()
    for connection in accepted:
        connection.close()
    server.close()


def test_a_hanging_mirror_times_out_and_the_next_source_serves(hanging_server, mirror, raw_files, raw_digests, caplog):
    with caplog.at_level(logging.WARNING):
        assert fetch_verified([hanging_server, str(mirror)], raw_digests, 0.5) == raw_files
    assert "timed out" in caplog.text
    # Given up after the first file: one timeout, not one per file.
    assert caplog.text.count(hanging_server) == 1

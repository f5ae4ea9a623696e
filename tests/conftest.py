import pytest

from tests.synthetic import make_raw, sha256_of, write_mirror


@pytest.fixture(scope="session")
def raw_files():
    return make_raw()


@pytest.fixture(scope="session")
def raw_digests(raw_files):
    return sha256_of(raw_files)


@pytest.fixture
def mirror(tmp_path, raw_files):
    return write_mirror(tmp_path / "mirror", raw_files)

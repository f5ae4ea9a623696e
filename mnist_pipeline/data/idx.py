"""Reading and writing the IDX format of the MNIST files (unsigned-byte data only).

Not torchvision's reader: on a damaged file its `read_image_file` raises a bare AssertionError
(bad header) or torch's "shape '[5, 28, 28]' is invalid for input of size 3921" (a byte too many
or too few), naming no file; this one names the file and the fault in one line.
tests/test_idx.py holds both to the same arrays on valid files."""

import math
import struct

import numpy as np

from mnist_pipeline.core.errors import PipelineError

UBYTE = 0x08


def encode_idx(array: np.ndarray) -> bytes:
    """Encode a uint8 array as IDX: magic (0, 0, type, ndim), big-endian dims, then the data."""
    if array.dtype != np.uint8:
        raise ValueError(f"IDX encoding expects uint8, got {array.dtype}")
    header = struct.pack(">BBBB", 0, 0, UBYTE, array.ndim)
    header += struct.pack(f">{array.ndim}I", *array.shape)
    return header + np.ascontiguousarray(array).tobytes()


def decode_idx(data: bytes, name: str, ndim: int) -> np.ndarray:
    """Parse IDX bytes into a uint8 array with ndim dimensions; name is used in errors."""
    if len(data) < 4:
        raise PipelineError(f"{name}: too short to be an IDX file ({len(data)} bytes)")
    zero1, zero2, dtype, found_ndim = struct.unpack(">BBBB", data[:4])
    if zero1 or zero2 or dtype != UBYTE:
        magic = data[:4].hex()
        raise PipelineError(f"{name}: bad IDX magic 0x{magic}, expected 0x0000{UBYTE:02x}{ndim:02x}")
    if found_ndim != ndim:
        raise PipelineError(f"{name}: IDX file has {found_ndim} dimensions, expected {ndim}")
    header_size = 4 + 4 * ndim
    if len(data) < header_size:
        raise PipelineError(f"{name}: truncated IDX header")
    shape = struct.unpack(f">{ndim}I", data[4:header_size])
    expected = header_size + math.prod(shape)  # Python ints: dimensions cannot overflow
    if len(data) != expected:
        problem = "truncated" if len(data) < expected else "has trailing bytes"
        raise PipelineError(
            f"{name}: {problem}: {len(data)} bytes, header {shape} needs {expected}"
        )
    return np.frombuffer(data, dtype=np.uint8, offset=header_size).reshape(shape)

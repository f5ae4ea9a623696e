"""Which CPU this is, as precisely as results depend on it, without importing torch.

oneDNN and MKL pick their kernels by the CPU's instruction sets, so the same params give
byte-identical checkpoints only on the same CPU model: an AMD EPYC of family 25 model 17 and one
of model 1 differ in the last bits. The train stage records this (with torch's version, kernels
and threads) beside its results, the report names it, and `check` says when the committed results
came from another CPU.
"""

import os
import platform
import re
from pathlib import Path

CPUINFO = Path("/proc/cpuinfo")


def first_processor() -> dict[str, str]:
    """The first processor's entry of /proc/cpuinfo as {field: value}; {} where there is none."""
    try:
        text = CPUINFO.read_text(errors="replace")[:65536].split("\n\n", 1)[0]
    except OSError:
        return {}
    return {key.strip(): value.strip() for key, _, value in (line.partition(":") for line in text.splitlines())
            if key.strip()}


def cpu() -> dict:
    """{"name", "vendor", "family", "model"} of this machine's CPU: on Linux from /proc/cpuinfo (the
    first processor's entry), elsewhere what the platform module says (family and model None)."""
    fields = first_processor()

    def number(key: str) -> int | None:
        value = fields.get(key, "")
        return int(value, 0) if re.fullmatch(r"\d+|0x[0-9a-fA-F]+", value) else None

    return {
        "name": " ".join(fields.get("model name", "").split()) or platform.processor() or platform.machine(),
        "vendor": fields.get("vendor_id") or fields.get("CPU implementer") or platform.machine(),
        "family": number("cpu family") if "cpu family" in fields else number("CPU architecture"),
        "model": number("model") if "model" in fields else number("CPU part"),
    }


def usable_cpus() -> int:
    """The CPUs this process may run on (its affinity where the OS has one)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def has_native_bfloat16() -> bool | None:
    """Whether the CPU computes in bfloat16 natively (x86: AVX512-BF16 or AMX; Arm: BF16), from
    /proc/cpuinfo's flags; None where it does not say (not Linux)."""
    fields = first_processor()
    flags = set(fields.get("flags", "").split()) | set(fields.get("Features", "").split())
    return bool(flags & {"avx512_bf16", "amx_bf16", "bf16"}) if flags else None


def same_cpu(a: dict, b: dict) -> bool:
    """Whether two records name the same CPU model (what byte-identical results need, with torch's
    version and thread count)."""
    return all(a.get(key) == b.get(key) for key in ("vendor", "family", "model", "name"))


def describe_cpu(record: dict) -> str:
    """`AMD EPYC (AuthenticAMD, family 25, model 17)`."""
    ids = ", ".join(f"{key} {record[key]}" for key in ("family", "model") if record.get(key) is not None)
    return f"{record.get('name') or 'an unknown CPU'} ({record.get('vendor') or '?'}{f', {ids}' if ids else ''})"

"""Issue 15 item 3: every length-prefixed pickle opcode checks its declared length before allocating.

A ~500-byte checkpoint whose pickle declares a multi-gigabyte BYTEARRAY8 used to make `zoo inspect` zero-fill
3 GB before reading anything. The peak RSS of a subprocess reading every case must stay under ~100 MB.
"""

from __future__ import annotations

import io
import json
import struct
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from zoo.convert.unpickler import unpickle
from zoo.errors import CheckpointError

HUGE8 = struct.pack("<Q", 3 << 30)
HUGE4 = struct.pack("<I", 3 << 30)
HUGE_I4 = struct.pack("<i", 2**31 - 1)
CASES: dict[str, bytes] = {
    "BYTEARRAY8": b"\x80\x05\x96" + HUGE8 + b"x" * 8 + b".",
    "BINBYTES8": b"\x80\x04\x8e" + HUGE8 + b"x" * 8 + b".",
    "BINUNICODE8": b"\x80\x04\x8d" + HUGE8 + b"x" * 8 + b".",
    "BINBYTES": b"\x80\x03B" + HUGE4 + b"x" * 8 + b".",
    "BINUNICODE": b"\x80\x02X" + HUGE4 + b"x" * 8 + b".",
    "BINSTRING": b"\x80\x02T" + HUGE_I4 + b"x" * 8 + b".",
    "LONG4": b"\x80\x02\x8b" + HUGE_I4 + b"x" * 8 + b".",
    "SHORT_BINBYTES": b"\x80\x03C\xff" + b"x" * 8 + b".",
    "SHORT_BINUNICODE": b"\x80\x04\x8c\xff" + b"x" * 8 + b".",
    "SHORT_BINSTRING": b"\x80\x02U\xff" + b"x" * 8 + b".",
    "LONG1": b"\x80\x02\x8a\xff" + b"x" * 8 + b".",
    "FRAME": b"\x80\x04\x95" + HUGE8 + b"N.",
}


BZIP2_256MB_OF_ZEROS = bytes.fromhex(
    "425a68393141592653590e09e2df015f8e4000c0000008200030804d4642a025a90a80973141592653590e09e2df015f8e40"
    "00c0000008200030804d4642a025a90a80973141592653590e09e2df015f8e4000c0000008200030804d4642a025a90a8097"
    "3141592653590e09e2df015f8e4000c0000008200030804d4642a025a90a80973141592653590e09e2df015f8e4000c00000"
    "08200030804d4642a025a90a80973141592653591ecee4db012a3fc000c0040008200030cc0529a6aaa8491b002248f17724"
    "53850906b17caf00"
)


def _bzip2_bomb() -> bytes:
    """A < 500-byte zip whose data.pkl is a bzip2 stream of 256 MB (declared as 4 bytes); zipfile would inflate
    each compressed chunk in one call, before any size check."""
    name = b"h/data.pkl"
    payload = BZIP2_256MB_OF_ZEROS
    local = struct.pack("<4sHHHHHIIIHH", b"PK\x03\x04", 46, 0, 12, 0, 0, 0, len(payload), 4, len(name), 0) + name
    central = struct.pack("<4sHHHHHHIIIHHHHHII", b"PK\x01\x02", 46, 46, 0, 12, 0, 0, 0, len(payload), 4, len(name),
                          0, 0, 0, 0, 0, 0) + name
    end = struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, 1, 1, len(central), len(local) + len(payload), 0)
    return local + payload + central + end


def _small_ckpt(data: bytes) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("h/data.pkl", data)
        zf.writestr("h/byteorder", b"little")
    return buf.getvalue()


@pytest.mark.parametrize("op", sorted(CASES))
def test_declared_length_past_the_end_is_refused(op: str) -> None:
    with pytest.raises(CheckpointError, match=f"{op} declares|frame of") as err:
        unpickle(CASES[op])
    assert "\n" not in err.value.render()


def test_negative_declared_lengths_are_refused() -> None:
    for data in (b"\x80\x02T" + struct.pack("<i", -5) + b".", b"\x80\x02\x8b" + struct.pack("<i", -5) + b"."):
        with pytest.raises(CheckpointError, match="declares -5 bytes"):
            unpickle(data)


def test_exact_lengths_still_load() -> None:
    assert unpickle(b"\x80\x05\x96" + struct.pack("<Q", 3) + b"abc.")[0] == bytearray(b"abc")
    assert unpickle(b"\x80\x04\x8d" + struct.pack("<Q", 2) + b"hi.")[0] == "hi"
    assert unpickle(b"\x80\x02\x8b" + struct.pack("<i", 1) + b"\x05.")[0] == 5
    assert unpickle(b"\x80\x02T" + struct.pack("<i", 2) + b"ok.")[0] == "ok"


def test_small_checkpoints_stay_under_100_mb(tmp_path: Path) -> None:
    paths = []
    for op, data in CASES.items():
        path = tmp_path / f"{op}.ckpt"
        path.write_bytes(_small_ckpt(data))
        assert path.stat().st_size < 600
        paths.append(str(path))
    bomb = tmp_path / "bzip2-bomb.ckpt"
    bomb.write_bytes(_bzip2_bomb())
    assert bomb.stat().st_size < 500
    paths.append(str(bomb))
    # one child reads every file through the CLI's code path and reports its own peak RSS
    child = (
        "import json, resource, sys\n"
        "from zoo.convert import read_checkpoint\n"
        "from zoo.errors import CheckpointError\n"
        "msgs = []\n"
        "for p in sys.argv[1:]:\n"
        "    try:\n"
        "        read_checkpoint(p)\n"
        "        msgs.append('loaded')\n"
        "    except CheckpointError as exc:\n"
        "        msgs.append(exc.render())\n"
        # VmHWM is this process's own peak (ru_maxrss is inherited from the forking parent across exec on Linux)
        "hwm = [int(x.split()[1]) for x in open('/proc/self/status') if x.startswith('VmHWM:')]\n"
        "rss = hwm[0] if hwm else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "print(json.dumps({'rss_kb': rss, 'msgs': msgs}))\n"
    )
    out = subprocess.run([sys.executable, "-c", child, *paths], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["rss_kb"] < 100 * 1024, report
    assert all("declares" in m or "frame of" in m for m in report["msgs"][:-1]), report["msgs"]
    assert "compression method 12" in report["msgs"][-1]
    # and the command itself: exit 2, one line
    cli = subprocess.run([sys.executable, "-m", "zoo", "inspect", paths[0]], capture_output=True, text=True,
                         timeout=60)
    assert cli.returncode == 2
    assert "Traceback" not in cli.stderr and len(cli.stderr.strip().splitlines()) == 1

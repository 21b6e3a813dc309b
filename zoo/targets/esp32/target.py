"""The esp32 target plugin: ESP32-P4 firmware inputs and a C99 reference checked under emulation.

`build` writes into variants/<name>/targets/esp32/:
  model.bin       the variant's LQ40 file, unchanged (the firmware embeds it in flash)
  lewm_model.h    configuration + byte offsets of every tensor inside model.bin
  lewm_golden.h   golden inputs/outputs (numpy engine on the dequantized blob) as C arrays
  lewm_ref.h/.c   portable C99 reference (Q4 GEMV, predictor step, INT8/f32 encoder)
  lewm_main.c     golden-vector harness (host: stdio; rv32: freestanding, Linux syscalls)
  model_blob.S    embeds model.bin as _binary_model_bin_start/_end
  memory.json     flash / RAM report against the ESP32-P4 limits
`check` compiles the C with -std=c99 -Wall -Wextra -Werror for the host and for rv32imafc,
runs both (the rv32 binary under qemu-riscv32) and compares every output with the numpy engine.
"""

from __future__ import annotations

import shutil
import struct
import subprocess
import tempfile
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from zoo._io import atomic_write_bytes, atomic_write_json, atomic_write_text
from zoo.errors import InputError, UsageError
from zoo.targets.base import Artifact, BuildContext

ESP32_FORMATS = ("lq40:full", "lq40:q4-pred", "lq40:wanda20-q4", "lq40:wanda40-q4")
LQ40_FILE = "model.lq40"
STATIC_SOURCES = ("lewm_ref.h", "lewm_ref.c", "lewm_main.c")
# the C reference shared by the esp32 and wasm targets: zoo/targets/lewm_c/
C_SOURCES_DIR = "lewm_c"
C_FLAGS = ("-std=c99", "-Wall", "-Wextra", "-Werror", "-O2")
RV32_CC = "riscv64-unknown-elf-gcc"
# -ffp-contract=fast: fused multiply-add (fmadd.s) as an ESP32-P4 firmware build (GNU C default) emits;
# it also halves the float instructions qemu emulates one helper call each (check ~35% faster). The
# host build stays unfused, so the two platforms check two rounding paths against the numpy engine.
RV32_FLAGS = (
    "-march=rv32imafc", "-mabi=ilp32f", "-ffp-contract=fast", "-ffreestanding", "-nostdlib", "-static",
    "-mno-relax", "-DLEWM_FREESTANDING", "-Wl,-e,_start", "-Wl,--no-relax",
)  # fmt: skip
QEMU = "qemu-riscv32"
RUN_TIMEOUT_S = 900


KNOWN_OPTIONS = ("encoder", "flash_mb")


def _encoder_option(ctx: BuildContext) -> bool:
    # A misspelt option silently ignored would build something other than what was asked for.
    unknown = sorted(set(ctx.options) - set(KNOWN_OPTIONS))
    if unknown:
        raise UsageError(
            f"esp32 option {unknown[0]!r}: unknown",
            hint=f"known options: {', '.join(KNOWN_OPTIONS)} (encoder=on|off, flash_mb=16|32)",
        )
    value = str(ctx.options.get("encoder", "on")).lower()
    if value not in ("on", "off"):
        raise UsageError(f"--set encoder={value}: expected on or off")
    return value == "on"


def _flash_option(ctx: BuildContext) -> int:
    """Flash size of the target module in MB (option flash_mb, default 16; registry target_options or --option)."""
    from zoo.targets.esp32.codegen import FLASH_SIZES_MB

    raw = ctx.options.get("flash_mb", 16)
    try:
        value = int(str(raw).strip())
    except ValueError:
        value = -1
    if value not in FLASH_SIZES_MB:
        raise UsageError(f"esp32 option flash_mb={raw}: expected one of {', '.join(map(str, FLASH_SIZES_MB))}",
                         hint="ESP32-P4 modules ship with 16 or 32 MB of flash")
    return value


def _load(ctx: BuildContext) -> tuple[Any, bytes]:
    from zoo.targets.esp32.layout import read_layout

    src = ctx.variant_dir / LQ40_FILE
    if not src.is_file():
        raise InputError(f"{src}: file not found", hint=f"run `zoo quantize {ctx.variant.name}` first")
    lay = read_layout(src)
    return lay, src.read_bytes()


class Esp32Target:
    name = "esp32"
    formats = ESP32_FORMATS
    description = "ESP32-P4 (rv32imafc): LQ40 firmware blob, C header, golden vectors, C99 reference"
    tools = ("gcc", RV32_CC, QEMU)  # check: host build, rv32imafc build, emulation
    needs_numeric_files = True  # build reads model.lq40

    def build(self, ctx: BuildContext) -> list[Artifact]:
        from zoo.targets.esp32 import codegen

        lay, data = _load(ctx)
        encoder = _encoder_option(ctx)
        flash_mb = _flash_option(ctx)
        mem = codegen.memory_report(lay, encoder=encoder, flash_mb=flash_mb)
        codegen.check_fits(mem, ctx.variant.name)
        golden = codegen.compute_golden(
            lay, data, encoder=encoder, encoder_kind=ctx.variant.architecture.encoder_kind
        )
        out = ctx.out_dir
        name = ctx.variant.name
        atomic_write_bytes(out / "model.bin", data)
        atomic_write_text(out / "lewm_model.h", codegen.model_header(lay, name, encoder=encoder))
        atomic_write_text(out / "lewm_golden.h", codegen.golden_header(lay, golden, name))
        atomic_write_text(out / "model_blob.S", codegen.BLOB_ASM)
        pkg = resources.files("zoo.targets") / C_SOURCES_DIR
        for fname in STATIC_SOURCES:
            atomic_write_bytes(out / fname, (pkg / fname).read_bytes())
        atomic_write_json(out / "memory.json", {"variant": name, "mode": lay.mode, **mem})
        return [
            Artifact(out / "model.bin", "firmware-blob", f"LQ40 {lay.mode} blob embedded in flash"),
            Artifact(
                out / "lewm_model.h", "c-header", "model configuration and section offsets inside model.bin"
            ),
            Artifact(out / "lewm_golden.h", "c-header", "golden input/output vectors (numpy engine)"),
            Artifact(out / "lewm_ref.h", "c-header", "C99 reference API"),
            Artifact(out / "lewm_ref.c", "c-source", "portable C99 reference: Q4 GEMV, predict, encode"),
            Artifact(
                out / "lewm_main.c", "c-source", "golden-vector test harness (host and rv32 freestanding)"
            ),
            Artifact(out / "model_blob.S", "asm-source", "embeds model.bin as _binary_model_bin_start"),
            Artifact(out / "memory.json", "report", "flash and RAM against ESP32-P4 limits"),
        ]

    def check(self, ctx: BuildContext) -> dict[str, Any]:
        from zoo.targets.esp32 import codegen

        out = ctx.out_dir
        if not (out / "lewm_model.h").is_file():
            raise InputError(
                f"{out}: not built", hint=f"run `zoo build {ctx.variant.name} --target esp32` first"
            )
        # Tools first: the golden vectors below take seconds, a missing compiler should not.
        missing = [tool for tool in self.tools if shutil.which(tool) is None]
        if missing:
            raise UsageError(
                f"esp32 check needs {', '.join(missing)} on PATH",
                hint="install them with scripts/setup-system.sh (gcc-riscv64-unknown-elf, qemu-user)",
            )
        lay, data = _load(ctx)
        if (out / "model.bin").read_bytes() != data:
            raise InputError(
                f"{out / 'model.bin'}: differs from {ctx.variant_dir / LQ40_FILE}",
                hint=f"rebuild with `zoo build {ctx.variant.name} --target esp32`",
            )
        encoder = "#define LEWM_HAS_ENCODER 1" in (out / "lewm_model.h").read_text(encoding="utf-8")
        golden = codegen.compute_golden(
            lay, data, encoder=encoder, encoder_kind=ctx.variant.architecture.encoder_kind
        )
        expected = golden.expected()
        with tempfile.TemporaryDirectory(prefix="zoo-esp32-") as tmp:
            work = Path(tmp)
            for f in (*STATIC_SOURCES, "lewm_model.h", "lewm_golden.h", "model_blob.S", "model.bin"):
                shutil.copyfile(out / f, work / f)
            srcs = ["lewm_ref.c", "lewm_main.c", "model_blob.S"]
            ctx.phase("compile")
            _compile(["gcc", *C_FLAGS, *srcs, "-o", "lewm_host"], work)
            _compile([RV32_CC, *C_FLAGS, *RV32_FLAGS, *srcs, "-o", "lewm_rv32", "-lgcc"], work)
            ctx.phase("simulate")
            host = _run([str(work / "lewm_host")], work)
            rv32 = _run([QEMU, str(work / "lewm_rv32")], work)
        report: dict[str, Any] = {
            "threshold": codegen.COS_MIN,
            "memory": codegen.memory_report(lay, encoder=encoder, flash_mb=_flash_option(ctx)),
        }
        worst = 1.0
        passed = True
        for platform, (rc, outputs) in (("host", host), ("rv32-qemu", rv32)):
            metrics = {}
            for key, want in expected.items():
                got = outputs.get(key)
                if got is None or got.shape != want.shape:
                    metrics[key] = {"cosine": 0.0, "max_abs": None, "error": "missing output"}
                    passed = False
                    worst = 0.0
                    continue
                cos = _cosine(got, want)
                metrics[key] = {"cosine": cos, "max_abs": float(np.max(np.abs(got - want)))}
                worst = min(worst, cos)
                passed &= cos >= codegen.COS_MIN
            report[platform] = {"exit_code": rc, "metrics": metrics}
            passed &= rc == 0
        report["passed"] = bool(passed)
        report["min_cosine"] = worst
        max_abs = max(
            (
                m["max_abs"]
                for p in ("host", "rv32-qemu")
                for m in report[p]["metrics"].values()
                if m["max_abs"] is not None
            ),
            default=0.0,
        )
        report["summary"] = (
            f"{'pass' if passed else 'FAIL'}: min cosine {worst:.6f} (>= {codegen.COS_MIN}), max abs error "
            f"{max_abs:.3g} over {', '.join(expected)} on host and rv32imafc/qemu"
        )
        report["tables"] = [_comparison_table(report, list(expected)), _memory_table(report["memory"])]
        return report


def _metric_cell(metric: dict[str, Any]) -> str:
    if metric.get("max_abs") is None:
        return str(metric.get("error", "missing"))
    return f"{metric['cosine']:.8f} / {metric['max_abs']:.3g}"


def _comparison_table(report: dict[str, Any], outputs: list[str]) -> dict[str, Any]:
    """Cosine / max abs error of every output against the numpy engine, per platform."""
    platforms = ("host", "rv32-qemu")
    rows = [[key, *(_metric_cell(report[p]["metrics"][key]) for p in platforms)] for key in outputs]
    rows.append(["exit code", *(str(report[p]["exit_code"]) for p in platforms)])
    return {
        "title": f"C reference vs numpy engine (pass: cosine >= {report['threshold']})",
        "columns": ["output", "host gcc: cosine / max abs", "rv32imafc qemu: cosine / max abs"],
        "rows": rows,
    }


def _memory_table(mem: dict[str, Any]) -> dict[str, Any]:
    def mib(n: int) -> str:
        return f"{n:,} B ({n / 2**20:.2f} MiB)"

    rows = [
        ["flash: model.bin", mib(mem["flash_bytes"]), mib(mem["flash_limit_bytes"]) + " partition"],
        ["RAM: reference scratch", mib(mem["ram_scratch_bytes"]), "-"],
        ["PSRAM at load (total)", mib(mem["psram_bytes"]), mib(mem["psram_limit_bytes"]) + " PSRAM"],
    ]
    rows += [[f"  PSRAM: {k}", mib(v), "-"] for k, v in sorted(mem.get("psram_breakdown", {}).items())]
    rows.append(["fits the ESP32-P4", "yes" if mem["fits"] else "NO", "-"])
    return {"title": "ESP32-P4 memory", "columns": ["quantity", "measured", "limit"], "rows": rows}


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    a64, b64 = a.astype(np.float64).ravel(), b.astype(np.float64).ravel()
    den = float(np.linalg.norm(a64) * np.linalg.norm(b64))
    return 0.0 if den < 1e-12 else float(a64 @ b64 / den)


def _compile(cmd: list[str], cwd: Path) -> None:
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        first = (proc.stderr.strip().splitlines() or ["(no output)"])[0]
        raise InputError(
            f"{cmd[0]}: compiling the generated C failed: {first}", hint="report this as a zoo bug"
        )


def _run(cmd: list[str], cwd: Path) -> tuple[int, dict[str, np.ndarray]]:
    try:
        proc = subprocess.run(cmd, cwd=cwd, capture_output=True, check=False, timeout=RUN_TIMEOUT_S)
    except subprocess.TimeoutExpired as exc:
        raise InputError(f"{cmd[0]}: timed out after {RUN_TIMEOUT_S} s") from exc
    return proc.returncode, parse_outputs(proc.stdout, cmd[0])


def parse_outputs(raw: bytes, source: str, *, magic: bytes = b"LEWMOUT1") -> dict[str, np.ndarray]:
    """Parse the harness's stdout record stream (`magic`, then name/count/f32 records); the wasm
    target's golden.bin uses the same records after its own magic."""
    if raw[: len(magic)] != magic:
        raise InputError(f"{source}: output does not start with {magic.decode()} (got {raw[:len(magic)]!r})")
    off, out = len(magic), {}
    while off < len(raw):
        if off + 4 > len(raw):
            raise InputError(f"{source}: output truncated at byte {off}")
        (nlen,) = struct.unpack_from("<I", raw, off)
        name = raw[off + 4 : off + 4 + nlen].decode("ascii", "replace")
        off += 4 + nlen
        (count,) = struct.unpack_from("<I", raw, off)
        off += 4
        if off + 4 * count > len(raw):
            raise InputError(f"{source}: record {name!r} truncated at byte {off}")
        out[name] = np.frombuffer(raw, "<f4", count, off).astype(np.float32)
        off += 4 * count
    return out

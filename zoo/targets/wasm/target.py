"""The wasm target plugin: LeWM in WebAssembly for browsers and node.

`build` writes into variants/<name>/targets/wasm/:
  model.bin     the model file lewm.js loads: the variant's LQ40 file unchanged, or for a float32
                variant (safetensors-f32) an LQ40 container in mode "f32" (every matrix float32)
  lewm_model.h  configuration + tensor offsets inside model.bin (the esp32 target's generator)
  lewm.wasm     zoo/targets/lewm_c/lewm_ref.c (the C reference shared with the esp32 target) and
                lewm_wasm.c, compiled with clang --target=wasm32 -msimd128 -O3, freestanding
  lewm.js       ES module: load() -> {encode, predict, rollout}, selfTest()
  golden.bin    golden inputs/outputs (numpy engine on the weights read back from model.bin)
  build.json    toolchain, flags, sizes
`check` runs lewm.js's selfTest in node and in headless Chromium (served over loopback HTTP),
compares encode / predict / 20-step rollout against the golden vectors (cosine >= 0.9999) and
records the median milliseconds of each next to the original card's browser claims in report.json.
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import tempfile
import threading
import time
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from zoo._io import atomic_write_bytes, atomic_write_json, atomic_write_text
from zoo.errors import InputError, UsageError
from zoo.targets.base import Artifact, BuildContext

LQ40_MODES = ("full", "q4-pred", "wanda20-q4", "wanda40-q4", "q4-full")
WASM_FORMATS = (*(f"lq40:{m}" for m in LQ40_MODES), "safetensors-f32")
LQ40_FILE = "model.lq40"
C_SOURCES_DIR = "lewm_c"
CC = "clang"
LD = "wasm-ld"
NODE = "node"
CC_FLAGS = (
    "--target=wasm32", "-msimd128", "-O3", "-std=c99", "-Wall", "-Wextra", "-Werror", "-ffreestanding",
    "-nostdlib", "-DLEWM_FREESTANDING", "-fno-exceptions", "-Wl,--no-entry", "-Wl,--strip-all",
    "-Wl,-z,stack-size=1048576",
)  # fmt: skip
COS_MIN = 0.9999
REPEATS = 5
RUN_TIMEOUT_S = 600
GOLDEN_MAGIC = b"LEWMGLD1"
KNOWN_OPTIONS: tuple[str, ...] = ()
# The original collection card's browser table ("Browser WASM (no SIMD, pure Rust)"): what the wasm
# build is measured against. Keys: registry variants those rows describe.
ORIGINAL_CLAIMS: dict[str, dict[str, Any]] = {
    "slim_96d_4e_4p": {"row": "slim 96d f32 (39.2 MB)", "encode_ms": 1500.0, "predict_ms": 500.0},
    "slim_96d_4e_4p_full": {"row": "slim 96d INT8+Q4 (9.8 MB)", "encode_ms": 2000.0, "predict_ms": 600.0},
}
CLAIMS_SOURCE = "original collection card, browser table (WASM, no SIMD, pure Rust)"


def chromium_binary() -> str | None:
    """ZOO_CHROMIUM, else the first of chromium / chromium-browser / google-chrome on PATH."""
    env = os.environ.get("ZOO_CHROMIUM")
    if env:
        return env
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    return None


# ------------------------------------------------------------------ model file


def f32_model_bytes(ctx: BuildContext) -> bytes:
    """An LQ40 container in mode "f32" for a float32 variant: the q4-pred item order (float32
    encoder matrices) with the predictor matrices stored as float32 too, so the C reference reads
    them with the same offsets header (a predictor matrix with no bitmap is float32 [out][in])."""
    from zoo.formats.lewm_config import LeWMConfig
    from zoo.formats.lq40.writer import build_items, header_dict, serialize
    from zoo.model.engine import CONFIG_FILE, WEIGHTS_FILE, read_safetensors

    vdir = ctx.variant_dir
    cfg_path, w_path = vdir / CONFIG_FILE, vdir / WEIGHTS_FILE
    for p in (cfg_path, w_path):
        if not p.is_file():
            raise InputError(f"{p}: file not found", hint=f"run `zoo convert {ctx.variant.name}` first")
    cfg = LeWMConfig.from_file(cfg_path)
    weights = read_safetensors(w_path)
    items = build_items(cfg, weights, "q4-pred")
    kinds: list[tuple[str, Any]] = []
    for item, value in items:
        if item.kind == "Q4LIN":
            assert item.canonical is not None
            kinds.append(("F32VEC", np.asarray(weights[item.canonical], np.float32).reshape(-1)))
        else:
            kinds.append((item.kind, value))
    header = header_dict(cfg, "q4-pred")
    header["mode"] = "f32"
    return serialize(header, kinds)


def model_bytes(ctx: BuildContext) -> bytes:
    if ctx.variant.format.kind == "safetensors-f32":
        return f32_model_bytes(ctx)
    src = ctx.variant_dir / LQ40_FILE
    if not src.is_file():
        raise InputError(f"{src}: file not found", hint=f"run `zoo quantize {ctx.variant.name}` first")
    return src.read_bytes()


def golden_bytes(g: Any) -> bytes:
    """golden.bin: b"LEWMGLD1" then records (u32 name length, name, u32 count, count x f32 LE)."""
    records: list[tuple[str, np.ndarray | None]] = [
        ("image", g.image), ("latent", g.latent), ("predict_z", g.z), ("predict_a", g.a),
        ("predict", g.predict_thist), ("rollout_z0", g.rollout_z0), ("rollout_a", g.rollout_a),
        ("rollout", g.rollout),
    ]  # fmt: skip
    parts = [GOLDEN_MAGIC]
    for name, arr in records:
        if arr is None:
            continue
        flat = np.ascontiguousarray(np.asarray(arr, "<f4").reshape(-1))
        parts += [struct.pack("<I", len(name)), name.encode("ascii"), struct.pack("<I", flat.size), flat.tobytes()]
    return b"".join(parts)


def parse_golden(raw: bytes) -> dict[str, np.ndarray]:
    """golden.bin records by name (the inverse of `golden_bytes`; the esp32 harness's record format)."""
    from zoo.targets.esp32.target import parse_outputs

    return parse_outputs(raw, "golden.bin", magic=GOLDEN_MAGIC)


# ------------------------------------------------------------------ toolchain


def _need(tools: tuple[str, ...], what: str) -> None:
    missing = [t for t in tools if shutil.which(t) is None]
    if missing:
        raise UsageError(
            f"wasm {what} needs {', '.join(missing)} on PATH",
            hint="install them with scripts/setup-system.sh (Debian: clang, lld, nodejs, chromium)",
        )


def clang_version() -> str:
    proc = subprocess.run([CC, "--version"], capture_output=True, text=True, check=False)
    return (proc.stdout.strip().splitlines() or ["?"])[0]


def compile_wasm(header: str, work: Path) -> bytes:
    """Compile the shared C reference + lewm_wasm.c against `header` (lewm_model.h); the .wasm bytes."""
    pkg = resources.files("zoo.targets") / C_SOURCES_DIR
    for fname in ("lewm_ref.h", "lewm_ref.c"):
        (work / fname).write_bytes((pkg / fname).read_bytes())
    (work / "lewm_wasm.c").write_bytes((resources.files("zoo.targets.wasm") / "lewm_wasm.c").read_bytes())
    (work / "lewm_model.h").write_text(header, encoding="utf-8")
    cmd = [CC, *CC_FLAGS, "lewm_ref.c", "lewm_wasm.c", "-o", "lewm.wasm"]
    proc = subprocess.run(cmd, cwd=work, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        first = (proc.stderr.strip().splitlines() or ["(no output)"])[0]
        raise InputError(f"{CC}: compiling the C reference for wasm32 failed: {first}", hint="report this as a zoo bug")
    return (work / "lewm.wasm").read_bytes()


# ------------------------------------------------------------------ the plugin


class WasmTarget:
    name = "wasm"
    formats = WASM_FORMATS
    description = "WebAssembly (wasm32 + SIMD128): the C reference as lewm.wasm + lewm.js ES module, node/Chromium check"
    tools = (CC, LD, NODE, "chromium")
    needs_numeric_files = True  # build reads the variant's weights: `zoo build` builds them first when missing

    def build(self, ctx: BuildContext) -> list[Artifact]:
        from zoo.targets.esp32 import codegen
        from zoo.targets.esp32.layout import read_layout

        if ctx.options:
            raise UsageError(f"wasm option {sorted(ctx.options)[0]!r}: unknown", hint="the wasm target has no options")
        _need((CC, LD), "build")
        out = ctx.out_dir
        name = ctx.variant.name
        data = model_bytes(ctx)
        atomic_write_bytes(out / "model.bin", data)
        lay = read_layout(out / "model.bin")
        header = codegen.model_header(lay, name, encoder=True)
        golden = codegen.compute_golden(lay, data, encoder=True, encoder_kind=ctx.variant.architecture.encoder_kind)
        with tempfile.TemporaryDirectory(prefix="zoo-wasm-") as tmp:
            wasm = compile_wasm(header, Path(tmp))
        atomic_write_bytes(out / "lewm.wasm", wasm)
        atomic_write_text(out / "lewm_model.h", header)
        atomic_write_bytes(out / "lewm.js", (resources.files("zoo.targets.wasm") / "lewm.js").read_bytes())
        atomic_write_bytes(out / "golden.bin", golden_bytes(golden))
        atomic_write_json(
            out / "build.json",
            {
                "variant": name,
                "mode": lay.mode,
                "compiler": clang_version(),
                "flags": list(CC_FLAGS),
                "sources": [f"zoo/targets/{C_SOURCES_DIR}/lewm_ref.c", "zoo/targets/wasm/lewm_wasm.c"],
                "wasm_bytes": len(wasm),
                "model_bytes": len(data),
            },
        )
        return [
            Artifact(out / "lewm.wasm", "wasm-module", "the C reference for wasm32 + SIMD128"),
            Artifact(out / "lewm.js", "js-module", "ES module: load(), encode, predict, rollout, selfTest"),
            Artifact(out / "model.bin", "model-file", f"model file lewm.js loads (LQ40 mode {lay.mode})"),
            Artifact(out / "golden.bin", "golden-vectors", "golden inputs/outputs (numpy engine)"),
            Artifact(out / "lewm_model.h", "c-header", "configuration and tensor offsets inside model.bin"),
            Artifact(out / "build.json", "report", "toolchain, flags and sizes"),
        ]

    def check(self, ctx: BuildContext) -> dict[str, Any]:
        out = ctx.out_dir
        for f in ("lewm.wasm", "lewm.js", "model.bin", "golden.bin"):
            if not (out / f).is_file():
                raise InputError(f"{out / f}: not built", hint=f"run `zoo build {ctx.variant.name} --target wasm` first")
        src = ctx.variant_dir / LQ40_FILE
        if ctx.variant.format.kind == "lq40" and src.is_file() and src.read_bytes() != (out / "model.bin").read_bytes():
            raise InputError(
                f"{out / 'model.bin'}: differs from {src}",
                hint=f"rebuild with `zoo build {ctx.variant.name} --target wasm`",
            )
        _need((NODE,), "check")
        browser = chromium_binary()
        if browser is None:
            raise UsageError("wasm check needs chromium on PATH (or ZOO_CHROMIUM)", hint="scripts/setup-system.sh installs it")
        platforms = {"node": run_node(out), "chromium": run_chromium(out, browser)}
        claims = ORIGINAL_CLAIMS.get(ctx.variant.name)
        passed = all(p.get("min_cosine", 0.0) >= COS_MIN for p in platforms.values())
        worst = min(float(p.get("min_cosine", 0.0)) for p in platforms.values())
        chrome = platforms["chromium"]["ms"]
        summary = (
            f"{'pass' if passed else 'FAIL'}: min cosine {worst:.6f} (>= {COS_MIN}) in node and Chromium; "
            f"Chromium encode {chrome.get('encode', float('nan')):.1f} ms, predict {chrome['predict']:.2f} ms, "
            f"20-step rollout {chrome['rollout']:.1f} ms"
        )
        if claims:
            summary += f" (original card: encode ~{claims['encode_ms']:,.0f} ms, predict ~{claims['predict_ms']:,.0f} ms)"
        report: dict[str, Any] = {
            "variant": ctx.variant.name,
            # wall-clock timings depend on what else runs: the 1-minute load average puts them in context
            "machine": {"cpus": os.cpu_count(), "load_average_1m": round(os.getloadavg()[0], 2)},
            "passed": bool(passed),
            "summary": summary,
            "threshold": COS_MIN,
            "min_cosine": worst,
            "platforms": platforms,
            "claims": {**claims, "source": CLAIMS_SOURCE} if claims else None,
        }
        report["tables"] = [timing_table(report)]
        atomic_write_json(out / "report.json", report)
        return report


def timing_table(report: dict[str, Any]) -> dict[str, Any]:
    plats = report["platforms"]
    claims = report.get("claims") or {}

    def ms(p: str, key: str) -> str:
        v = plats[p]["ms"].get(key)
        return "-" if v is None else f"{v:,.2f} ms"

    rows = []
    for key, label in (("encode", "encode (224x224 image)"), ("predict", "predict (full history)"), ("rollout", "rollout, 20 steps")):
        claim = claims.get(f"{key}_ms")
        rows.append([label, ms("node", key), ms("chromium", key), f"~{claim:,.0f} ms" if claim else "-"])
    rows.append(["min cosine vs golden", *(f"{plats[p]['min_cosine']:.6f}" for p in ("node", "chromium")), "-"])
    return {
        "title": f"Browser / WebAssembly (SIMD128): median of {REPEATS} runs (pass: cosine >= {report['threshold']})",
        "columns": ["", "node", "Chromium (headless)", "original card claim"],
        "rows": rows,
    }


# ------------------------------------------------------------------ runners

NODE_SCRIPT = """
import { selfTest } from %s;
const r = await selfTest({ repeats: %d });
r.runtime = "node " + process.version;
process.stdout.write(JSON.stringify(r));
"""


def _parse_result(text: str, where: str) -> dict[str, Any]:
    try:
        result = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{where}: selfTest printed no JSON result ({text[:200]!r})") from exc
    if not isinstance(result, dict) or "error" in result:
        raise InputError(f"{where}: selfTest failed: {result.get('error') if isinstance(result, dict) else result}")
    return result


def run_node(out: Path) -> dict[str, Any]:
    url = (out / "lewm.js").resolve().as_uri()
    script = NODE_SCRIPT % (json.dumps(url), REPEATS)
    try:
        proc = subprocess.run(
            [NODE, "--input-type=module", "-e", script], cwd=out, capture_output=True, text=True,
            check=False, timeout=RUN_TIMEOUT_S,
        )  # fmt: skip
    except subprocess.TimeoutExpired as exc:
        raise InputError(f"node: lewm.js selfTest timed out after {RUN_TIMEOUT_S} s") from exc
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise InputError(f"node: lewm.js selfTest failed: {last}")
    return _parse_result(proc.stdout, "node")


CHECK_PAGE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>lewm wasm check</title></head><body>
<pre id="out">running</pre>
<script type="module">
import { selfTest } from "./lewm.js";
let r;
try {
  r = await selfTest({ repeats: %d });
  r.runtime = navigator.userAgent;
} catch (e) {
  r = { error: String(e) };
}
document.getElementById("out").textContent = JSON.stringify(r);
await fetch("/__result", { method: "POST", body: JSON.stringify(r) });
</script></body></html>
"""


def run_chromium(out: Path, browser: str) -> dict[str, Any]:
    """Serve `out` on loopback, open a page that runs selfTest() and POSTs its result back."""
    from zoo.serve import SiteHandler, serving

    got: dict[str, str] = {}
    done = threading.Event()
    page = (CHECK_PAGE % REPEATS).encode()

    class Handler(SiteHandler):
        def do_GET(self) -> None:
            if self.path.split("?")[0] == "/__check.html":
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(page)))
                self.end_headers()
                self.wfile.write(page)
                return
            super().do_GET()

        def do_POST(self) -> None:
            n = int(self.headers.get("Content-Length") or 0)
            got["result"] = self.rfile.read(n).decode("utf-8", "replace")
            self.send_response(204)
            self.end_headers()
            done.set()

    with serving(out, 0, Handler) as base, tempfile.TemporaryDirectory(prefix="zoo-chromium-") as profile:
        proc = subprocess.Popen(
            [
                browser, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
                "--disable-background-networking", "--no-default-browser-check", f"--user-data-dir={profile}",
                base + "__check.html",
            ],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + RUN_TIMEOUT_S
            while not (finished := done.wait(0.5)) and time.monotonic() < deadline:
                if proc.poll() is not None:  # the browser died (missing sandbox, bad flag): say so now
                    raise InputError(f"{browser}: exited with code {proc.returncode} before the check page reported")
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    if not finished:
        raise InputError(f"chromium: lewm.js selfTest gave no result within {RUN_TIMEOUT_S} s")
    return _parse_result(got["result"], "chromium")

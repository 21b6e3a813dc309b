"""Run Icarus Verilog and Yosys on generated files; parse their results."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from zoo.errors import ZooError
from zoo.targets.fpga.verilog import unpack_hex

TOOL_TIMEOUT_S = 600
# Xilinx XC7A35T (Digilent Arty A7-35): resources for the percentages in the report.
ARTY_A7_35T_PART = "xc7a35ticsg324-1L"
ARTY_A7_35T: dict[str, int] = {"lut": 20800, "ff": 41600, "bram36": 50, "dsp": 90}


class ToolError(ZooError):
    """An HDL tool is missing or failed on generated input."""

    exit_code = 1


class MissingToolError(ToolError):
    """An HDL tool is not installed: an environment problem (exit 2, like the esp32 check's)."""

    exit_code = 2


def require_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise MissingToolError(
            f"{name}: not found on PATH",
            hint="install it (Debian: apt-get install -y --no-install-recommends iverilog yosys)",
        )
    return path


def tool_version(name: str) -> str:
    exe = shutil.which(name)
    if exe is None:
        return "missing"
    args = [exe, "-V"] if name in ("iverilog", "yosys") else [exe, "--version"]
    try:
        proc = subprocess.run(args, capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    text = (proc.stdout or proc.stderr).strip().splitlines()
    return text[0].strip() if text else "unknown"


def _run(args: list[str], cwd: Path, what: str) -> subprocess.CompletedProcess[str]:
    try:
        proc = subprocess.run(
            args, cwd=cwd, capture_output=True, text=True, timeout=TOOL_TIMEOUT_S, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise ToolError(f"{what}: timed out after {TOOL_TIMEOUT_S} s", hint="use a smaller row range") from exc
    if proc.returncode != 0:
        tail = (proc.stderr.strip() or proc.stdout.strip()).splitlines()[-3:]
        raise ToolError(f"{what}: exit code {proc.returncode}: {' | '.join(tail)}")
    return proc


def simulate(verilog: Path, testbench: Path, inputs_hex: Path, *, rows: int, out_bits: int, vectors: int) -> np.ndarray:
    """Compile with `iverilog -g2012`, run `vvp -n` in a scratch directory; int64 [vectors, rows] outputs."""
    iverilog, vvp = require_tool("iverilog"), require_tool("vvp")
    with tempfile.TemporaryDirectory(prefix="zoo-fpga-sim-") as tmp:
        work = Path(tmp)
        shutil.copyfile(inputs_hex, work / "inputs.hex")
        _run([iverilog, "-g2012", "-o", str(work / "sim.vvp"), str(testbench), str(verilog)], work, "iverilog")
        _run([vvp, "-n", str(work / "sim.vvp")], work, "vvp")
        out_file = work / "outputs.hex"
        if not out_file.exists():
            raise ToolError("vvp: the testbench wrote no outputs.hex")
        lines = [ln for ln in out_file.read_text().splitlines() if ln.strip()]
    if len(lines) != vectors:
        raise ToolError(f"vvp: outputs.hex has {len(lines)} lines, expected {vectors}")
    try:
        return unpack_hex(lines, rows, out_bits)
    except ValueError as exc:
        raise ToolError(f"vvp: outputs.hex holds undefined (x/z) bits: {exc}") from exc


def _cells(stat: dict[str, Any], module: str | None = None) -> dict[str, int]:
    """Cell counts by type of one module (or of the whole design) from `stat -json`."""
    if module is not None:
        mods = stat.get("modules", {})
        key = next((k for k in mods if k.lstrip("\\") == module), None)
        entry = {} if key is None else mods[key]
    else:
        entry = stat.get("design", {})
    return {str(k): int(v) for k, v in entry.get("num_cells_by_type", {}).items()}


def _parse_stat_json(text: str, what: str) -> dict[str, Any]:
    """`stat -json` output: the JSON object after the last `tee -o` marker in the file."""
    start = text.find("{")
    if start < 0:
        raise ToolError(f"{what}: no JSON statistics in yosys output")
    try:
        data: dict[str, Any] = json.loads(text[start:])
        return data
    except json.JSONDecodeError as exc:
        raise ToolError(f"{what}: unreadable yosys statistics ({exc})") from exc


def synth_scripts(verilog_name: str, top: str, *, full: bool = False) -> dict[str, str]:
    """Yosys scripts (relative file names, run in a scratch directory).

    - ``check``: hierarchical RTL; asserts the top module (the weights) has no ``$mul``/``$macc``;
      the scale multiplies live in the ``<top>_scale`` submodule.
    - ``coarse``: flattened word-level netlist after opt/wreduce: adders and their widths.
    - ``generic``/``xilinx`` (``full=True`` only; minutes even for small slices): gate-level
      ``synth`` and ``synth_xilinx -family xc7`` cell counts.
    """
    scripts = {
        "check": "\n".join(
            [
                f"read_verilog -sv {verilog_name}",
                f"hierarchy -check -top {top}",
                "proc; opt_clean",
                "tee -q -o stat_check.json stat -json",
                f"select -assert-none {top}/t:$mul {top}/t:$macc",
                "",
            ]
        ),
        "coarse": "\n".join(
            [
                f"read_verilog -sv {verilog_name}",
                f"hierarchy -check -top {top}",
                "proc; flatten; opt; wreduce; opt_clean",
                "tee -q -o stat_coarse.json stat -json",
                "write_json netlist_coarse.json",
                "",
            ]
        ),
    }
    if full:
        scripts["generic"] = "\n".join(
            [f"read_verilog -sv {verilog_name}", f"synth -top {top} -flatten", "tee -q -o stat_generic.json stat -json", ""]
        )
        scripts["xilinx"] = "\n".join(
            [
                f"read_verilog -sv {verilog_name}",
                f"synth_xilinx -top {top} -family xc7 -flatten -noiopad -noclkbuf",
                "tee -q -o stat_xilinx.json stat -json",
                "",
            ]
        )
    return scripts


def _param_int(value: Any) -> int:
    """A cell parameter from `write_json` (binary string or int)."""
    if isinstance(value, int):
        return value
    text = str(value)
    return int(text, 2) if text and set(text) <= {"0", "1"} else 0


def adder_bits(netlist: dict[str, Any]) -> dict[str, dict[str, int]]:
    """{cell type: {"cells": n, "bits": sum of output widths}} of a word-level netlist."""
    out: dict[str, dict[str, int]] = {}
    for module in netlist.get("modules", {}).values():
        for cell in module.get("cells", {}).values():
            entry = out.setdefault(str(cell.get("type")), {"cells": 0, "bits": 0})
            entry["cells"] += 1
            entry["bits"] += _param_int(cell.get("parameters", {}).get("Y_WIDTH", 0))
    return dict(sorted(out.items()))


def synthesize(verilog: Path, top: str, *, full: bool = False) -> dict[str, Any]:
    """Run the Yosys stages of `synth_scripts` on `verilog`; summarised statistics."""
    yosys = require_tool("yosys")
    raw: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="zoo-fpga-synth-") as tmp:
        work = Path(tmp)
        shutil.copyfile(verilog, work / verilog.name)
        for stage, script in synth_scripts(verilog.name, top, full=full).items():
            (work / f"{stage}.ys").write_text(script)
            try:
                proc = subprocess.run(
                    [yosys, "-q", "-s", f"{stage}.ys"], cwd=work, capture_output=True, text=True,
                    timeout=TOOL_TIMEOUT_S, check=False,
                )
            except subprocess.TimeoutExpired as exc:
                raise ToolError(f"yosys ({stage}): timed out after {TOOL_TIMEOUT_S} s", hint="use a smaller row range") from exc
            text = proc.stdout + proc.stderr
            if stage == "check":
                raw["rtl_weight_mul_check"] = "pass" if proc.returncode == 0 else "fail"
                if proc.returncode != 0 and "Assertion failed" not in text:
                    raise ToolError(f"yosys ({stage}): exit code {proc.returncode}: {' | '.join(text.strip().splitlines()[-3:])}")
            elif proc.returncode != 0:
                raise ToolError(f"yosys ({stage}): exit code {proc.returncode}: {' | '.join(text.strip().splitlines()[-3:])}")
            stat_file = work / f"stat_{stage}.json"
            if stat_file.exists():
                raw[stage] = _parse_stat_json(stat_file.read_text(), f"yosys ({stage})")
        net = work / "netlist_coarse.json"
        if net.exists():
            raw["coarse_netlist"] = adder_bits(json.loads(net.read_text()))
    return summarize_synthesis(raw, top)


def summarize_synthesis(raw: dict[str, Any], top: str) -> dict[str, Any]:
    rtl = raw.get("check", {})
    top_cells = {k: v for k, v in _cells(rtl, top).items() if not k.startswith("$paramod")}
    design_cells = {k: v for k, v in _cells(rtl).items() if not k.startswith("$paramod")}
    mul_types = ("$mul", "$macc")
    weight_muls = sum(top_cells.get(t, 0) for t in mul_types)
    scale_muls = sum(design_cells.get(t, 0) for t in mul_types) - weight_muls
    summary: dict[str, Any] = {
        "rtl_top_cells": dict(sorted(top_cells.items())),
        "rtl_design_cells": dict(sorted(design_cells.items())),
        "multipliers_for_weights": weight_muls,
        "multipliers_for_scales": scale_muls,
        "rtl_weight_mul_check": raw.get("rtl_weight_mul_check", "not run"),
    }
    if "coarse_netlist" in raw:
        words = raw["coarse_netlist"]
        add_bits = sum(v["bits"] for k, v in words.items() if k in ("$add", "$sub", "$neg", "$alu"))
        summary["coarse_cells"] = {k: v["cells"] for k, v in words.items()}
        summary["coarse_adder_bits"] = add_bits
        # Estimate: an adder bit maps to one LUT on a carry chain (LUT6 + CARRY4 on 7-series);
        # a 25 x 16 constant multiply fits one DSP48E1.
        summary["estimate"] = {
            "method": "1 LUT per adder/subtractor output bit (carry-chain mapping), 1 DSP48 per scale multiply; "
            "a lower bound: synth_xilinx measured 1.57x this on a 2x64 slice (benchmarks/fpga.py --full)",
            "luts": add_bits,
            "dsp48": words.get("$mul", {}).get("cells", 0),
            "bram": 0,
            "lut_pct_arty_a7_35t": round(100.0 * add_bits / ARTY_A7_35T["lut"], 2),
            "dsp_pct_arty_a7_35t": round(100.0 * words.get("$mul", {}).get("cells", 0) / ARTY_A7_35T["dsp"], 2),
        }
    if "generic" in raw:
        cells = dict(sorted(_cells(raw["generic"]).items()))
        summary["generic_cells"] = cells
        summary["generic_cell_total"] = sum(cells.values())
    if "xilinx" in raw:
        cells = dict(sorted(_cells(raw["xilinx"]).items()))
        luts = sum(v for k, v in cells.items() if re.fullmatch(r"LUT\d", k.lstrip("\\")))
        summary["xc7_cells"] = cells
        summary["xc7"] = {
            "luts": luts,
            "carry4": sum(v for k, v in cells.items() if k.lstrip("\\").startswith("CARRY")),
            "dsp48": sum(v for k, v in cells.items() if k.lstrip("\\").startswith("DSP48")),
            "bram": sum(v for k, v in cells.items() if k.lstrip("\\").startswith("RAMB")),
            "lut_pct_arty_a7_35t": round(100.0 * luts / ARTY_A7_35T["lut"], 2),
        }
    return summary


def check_tools() -> dict[str, bool]:
    return {name: shutil.which(name) is not None for name in ("iverilog", "vvp", "yosys")}

"""WebAssembly build in node vs the numpy engine on the same weights (target: beat the original
card's browser claims by 10x: slim 96d f32 ~1,500 ms encode / ~500 ms predict, INT8+Q4 ~2,000 / ~600).

Needs a wasm build: `zoo build NAME --target wasm`. Both sides read the weights of that build's
model.bin (the numpy engine on the dequantized blob), run encode on the golden image, predict on
the golden full-history window and a 20-step rollout; medians of -n runs after one warm-up.
Prints the ratio first. Usage: python benchmarks/wasm.py [-C WORKSPACE] NAME [-n 5]
"""

from __future__ import annotations

import argparse
import json
import subprocess
from pathlib import Path

NODE_SCRIPT = """
import { load, parseGolden } from %s;
import fs from "node:fs";
const m = await load();
const g = parseGolden(fs.readFileSync(%s));
const T = g.predict_z.length / m.config.latentDim;
function med(fn, n) { fn(); const xs = []; for (let i = 0; i < n; i++) { const s = performance.now(); fn(); xs.push(performance.now() - s); }
  xs.sort((a, b) => a - b); return xs[Math.floor(n / 2)]; }
const out = { predict: med(() => m.predict(g.predict_z, g.predict_a, T), %d), rollout: med(() => m.rollout(g.latent, g.rollout_a), %d) };
if (m.config.hasEncoder) out.encode = med(() => m.encode(g.image), %d);
process.stdout.write(JSON.stringify(out));
"""


def main() -> None:
    from zoo.model.bench import _time
    from zoo.model.engine import LeWM
    from zoo.targets.esp32 import codegen
    from zoo.targets.esp32.layout import read_layout
    from zoo.targets.wasm.target import ORIGINAL_CLAIMS, parse_golden

    ap = argparse.ArgumentParser()
    ap.add_argument("-C", dest="workspace", default=".")
    ap.add_argument("name")
    ap.add_argument("-n", type=int, default=5)
    args = ap.parse_args()
    build = Path(args.workspace) / "variants" / args.name / "targets" / "wasm"
    if not (build / "lewm.wasm").is_file():
        raise SystemExit(f"{build}: no wasm build; run `zoo build {args.name} --target wasm` first")
    script = NODE_SCRIPT % (
        json.dumps((build / "lewm.js").resolve().as_uri()), json.dumps(str(build / "golden.bin")), args.n, args.n, args.n
    )
    proc = subprocess.run(["node", "--input-type=module", "-e", script], capture_output=True, text=True, check=True)
    wasm = json.loads(proc.stdout)

    data = (build / "model.bin").read_bytes()
    lay = read_layout(build / "model.bin")
    model = LeWM.from_weights(codegen.engine_config(lay), codegen.blob_weights(lay, data))
    g = parse_golden((build / "golden.bin").read_bytes())
    z, a = g["predict_z"].reshape(1, -1, lay.config["latent_dim"]), g["predict_a"].reshape(1, -1, lay.action_input_dim)
    image = g["image"].reshape(1, lay.config["channels"], lay.config["image_size"], lay.config["image_size"])
    actions = g["rollout_a"].reshape(1, -1, lay.action_input_dim)
    z0 = g["latent"].reshape(1, -1)
    engine = {  # the `zoo bench` timer: one warm-up, then the median of -n runs
        "encode": _time(lambda: model.encode(image), args.n, 1)["median_ms"],
        "predict": _time(lambda: model.predict(z, a), args.n, 1)["median_ms"],
        "rollout": _time(lambda: model.rollout(z0, actions), args.n, 1)["median_ms"],
    }
    ratios = ", ".join(f"{k} {engine[k] / wasm[k]:.2f}x" for k in ("encode", "predict", "rollout") if k in wasm)
    print(f"ratio numpy engine / wasm (node): {ratios}")
    claims = ORIGINAL_CLAIMS.get(args.name, {})
    for k in ("encode", "predict", "rollout"):
        claim = claims.get(f"{k}_ms")
        vs = f"; original browser claim ~{claim:,.0f} ms ({claim / wasm[k]:.1f}x, goal >= 10x)" if claim and k in wasm else ""
        print(f"{k}: wasm {wasm.get(k, float('nan')):.2f} ms, numpy {engine[k]:.2f} ms median{vs}")
    print(f"n={args.n}; model {lay.mode} {len(data):,} B; numpy threads as configured (OMP/BLAS env)")


if __name__ == "__main__":
    main()

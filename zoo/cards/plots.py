"""Build-time SVG plots for the cards and the site (jinja2 templates, no plotting library).

The plots are a few dozen points and bars: a template with computed coordinates is a small,
reviewable amount of code, adds no dependency (matplotlib would add ~40 MB and embeds dates and
random clip-path ids unless configured), and gives byte-identical SVG for the same inputs
(coordinates printed with fixed decimals, no ids that vary, no timestamps). The SVG is inlined in
the site pages (readable without JavaScript; each mark has a <title> tooltip) and written to
cards/ as files the Markdown cards link to.
"""

from __future__ import annotations

import dataclasses
import math
import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from zoo.cards.data import VariantFacts

SIZE_COSINE_SVG = "size-vs-cosine.svg"
_SIZE_TEXT = re.compile(r"([0-9]+(?:\.[0-9]+)?)\s*(KB|MB|GB|B)\b", re.IGNORECASE)
_UNIT = {"b": 1, "kb": 1e3, "mb": 1e6, "gb": 1e9}
NICE_STEPS = (0.0001, 0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1)
ROLLOUT_METRICS = (("latent", "latent"), ("rollout@1", "@1"), ("rollout@10", "@10"), ("rollout@20", "@20"))


def html_env() -> Any:
    """jinja2 environment for the site's HTML and the SVG plots (autoescaped, strict)."""
    from zoo.cards.render import template_env

    return template_env(autoescape=True)


def _f(v: float) -> str:
    return f"{v:.1f}"


def claimed_size(facts: VariantFacts) -> float | None:
    c = facts.record.claims
    if c.size_bytes:
        return float(c.size_bytes)
    m = _SIZE_TEXT.search(c.size_text or "")
    return float(m.group(1)) * _UNIT[m.group(2).lower()] if m else None


@dataclasses.dataclass(frozen=True)
class Point:
    name: str
    size: float  # bytes
    cosine: float
    claim: bool


def pareto(points: list[Point]) -> list[Point]:
    """Measured points no other measured point beats on both size (smaller) and cosine (higher)."""
    best: list[Point] = []
    for p in sorted(points, key=lambda p: (p.size, -p.cosine, p.name)):
        if not best or p.cosine > best[-1].cosine:
            best.append(p)
    return best


def _ticks_log(lo: float, hi: float) -> list[float]:
    out = []
    for e in range(math.floor(math.log10(lo)), math.ceil(math.log10(hi)) + 1):
        for m in (1, 2, 5):
            v = m * 10.0**e
            if lo <= v <= hi:
                out.append(v)
    return out


def _mb(v: float) -> str:
    mb = v / 1e6
    return f"{mb:g} MB" if mb >= 1 else f"{mb * 1000:g} kB"


def _point(p: Point, x: Any, y: Any, front: bool, link_prefix: str | None) -> dict[str, Any]:
    return {
        "x": _f(x(p.size)),
        "y": _f(y(p.cosine)),
        "claim": p.claim,
        "name": p.name,
        "title": f"{p.name}: {'claimed' if p.claim else 'measured'} {_mb(p.size)}, cosine {p.cosine:.4f}",
        "front": front,
        "href": f"{link_prefix}{p.name}.html" if link_prefix is not None else None,
    }


def size_cosine_svg(facts: list[VariantFacts], *, link_prefix: str | None = None) -> str:
    """Index plot: model size (log) vs rollout@20 cosine; measured filled, claims hollow, Pareto front line."""
    pts: list[Point] = []
    for f in facts:
        size, cos = f.measured_size, f.gate_cosine
        if size and cos is not None and f.status != "stale":
            pts.append(Point(f.name, float(size), cos, False))
        csize, ccos = claimed_size(f), f.record.claims.cosine
        if csize and ccos is not None:
            pts.append(Point(f.name, csize, float(ccos), True))
    W, H, L, R, T, B = 720, 440, 70, 20, 20, 70
    ctx: dict[str, Any] = {"w": W, "h": H, "left": L, "right": W - R, "top": T, "bottom": H - B, "empty": not pts}
    if pts:
        lo, hi = min(p.size for p in pts) / 1.5, max(p.size for p in pts) * 1.5
        cmin = min(p.cosine for p in pts)
        step = next((s for s in NICE_STEPS if (1.0 - cmin) / s <= 5), 0.1)
        ylo = math.floor(cmin / step - 0.25) * step
        yhi = 1.0 + step * 0.15

        def x(v: float) -> float:
            return L + (math.log10(v) - math.log10(lo)) / (math.log10(hi) - math.log10(lo)) * (W - L - R)

        def y(v: float) -> float:
            return H - B - (v - ylo) / (yhi - ylo) * (H - T - B)

        digits = max(2, -math.floor(math.log10(step) + 1e-9))
        yt = [ylo + i * step for i in range(round((1.0 - ylo) / step) + 1)]
        front = pareto([p for p in pts if not p.claim])
        ctx.update(
            xticks=[(_f(x(v)), _mb(v)) for v in _ticks_log(lo, hi)],
            yticks=[(_f(y(v)), f"{v:.{digits}f}") for v in yt],
            points=[_point(p, x, y, p in front, link_prefix) for p in sorted(pts, key=lambda p: (p.claim, p.name))],
            front=" ".join(f"{_f(x(p.size))},{_f(y(p.cosine))}" for p in front),
            labels=[{"x": _f(x(p.size) + 6), "y": _f(y(p.cosine) - 6), "name": p.name} for p in front],
        )
    return html_env().get_template("plots/size_cosine.svg.j2").render(**ctx)


def rollout_svg(facts: VariantFacts) -> str | None:
    """Variant plot: cosine vs the reference at latent, rollout@1, @10, @20 (verify.json)."""
    metrics = (facts.verify or {}).get("metrics") or {}
    vals = []
    for key, label in ROLLOUT_METRICS:
        m = metrics.get(key)
        v = m.get("cosine") if isinstance(m, dict) else None
        if isinstance(v, int | float) and not isinstance(v, bool):
            vals.append((label, float(v)))
    if len(vals) < 2:
        return None
    W, H, L, R, T, B = 480, 260, 70, 20, 20, 40
    cmin = min(v for _, v in vals)
    span = max(1.0 - cmin, 1e-5) * 1.25
    ylo, yhi = 1.0 - span, 1.0 + span * 0.05

    def y(v: float) -> float:
        return H - B - (v - ylo) / (yhi - ylo) * (H - T - B)

    def x(i: int) -> float:
        return L + (i + 0.5) * (W - L - R) / len(vals)

    digits = max(3, min(8, 1 - math.floor(math.log10(span))))
    yt = [ylo + i * (1.0 - ylo) / 4 for i in range(5)]
    gate = (facts.verify or {}).get("gate") or {}
    thr = None
    if isinstance(gate.get("expected_cosine"), int | float) and isinstance(gate.get("tolerance"), int | float):
        t = float(gate["expected_cosine"]) - float(gate["tolerance"])
        thr = _f(y(t)) if ylo <= t <= yhi else None
    ctx = {
        "w": W, "h": H, "left": L, "right": W - R, "top": T, "bottom": H - B,
        "yticks": [(_f(y(v)), f"{v:.{digits}f}") for v in yt],
        "points": [{"x": _f(x(i)), "y": _f(y(v)), "label": lab, "title": f"{lab}: cosine {v:.6f}"} for i, (lab, v) in enumerate(vals)],
        "line": " ".join(f"{_f(x(i))},{_f(y(v))}" for i, (_, v) in enumerate(vals)),
        "threshold": thr,
        "name": facts.name,
    }  # fmt: skip
    return html_env().get_template("plots/rollout.svg.j2").render(**ctx)


def bench_svg(bars: list[tuple[str, float, str]], title: str) -> str | None:
    """Horizontal bars (log ms): (label, ms, "measured" | "claim")."""
    bars = [b for b in bars if b[1] > 0]
    if not bars:
        return None
    W, L, R, T, row = 640, 230, 80, 26, 22
    H = T + row * len(bars) + 30
    lo = 10 ** math.floor(math.log10(min(b[1] for b in bars) / 1.01))
    hi = 10 ** math.ceil(math.log10(max(b[1] for b in bars) * 1.01))

    def x(v: float) -> float:
        return L + (math.log10(v) - math.log10(lo)) / (math.log10(hi) - math.log10(lo)) * (W - L - R)

    ctx = {
        "w": W, "h": H, "left": L, "right": W - R, "top": T, "bottom": H - 30, "title": title,
        "xticks": [(_f(x(10.0**e)), f"{10.0**e:g} ms") for e in range(round(math.log10(lo)), round(math.log10(hi)) + 1)],
        "bars": [
            {"y": _f(T + i * row + 3), "yt": _f(T + i * row + 15), "w": _f(max(1.0, x(v) - L)), "label": lab, "kind": kind,
             "value": f"{v:,.1f} ms" if v >= 10 else f"{v:.2f} ms", "xv": _f(x(v) + 4)}
            for i, (lab, v, kind) in enumerate(bars)
        ],
    }  # fmt: skip
    return html_env().get_template("plots/bench.svg.j2").render(**ctx)

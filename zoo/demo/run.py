"""`zoo demo`: the whole pipeline on synthetic checkpoints, offline, with one progress display.

The demo is a list of `Step`s run in order; each returns a one-line summary (or raises a `ZooError`,
which stops the demo). A step whose stage is not installed yet reports "skipped". To add a stage,
append a `Step` to `STEPS`.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from zoo.errors import ZooError


@dataclasses.dataclass
class DemoContext:
    directory: Path
    workspace: Any = None
    registry: Any = None
    mirror: list[Any] = dataclasses.field(default_factory=list)
    names: list[str] = dataclasses.field(default_factory=list)
    pulled: list[Any] = dataclasses.field(default_factory=list)
    reports: list[Any] = dataclasses.field(default_factory=list)
    site_index: Path | None = None  # cards/site/index.html once the cards step ran
    publish: Any = None  # zoo.publish PublishResult of the offline dry run
    notify: Callable[[str], None] = lambda msg: None  # sub-step progress text
    # (variant, target) -> why it could not be built here (its toolchain is missing): not gated in the demo
    unbuildable: dict[tuple[str, str], str] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class StepResult:
    step: str
    status: str  # "done" | "skipped" | "failed"
    detail: str
    seconds: float


@dataclasses.dataclass(frozen=True)
class Step:
    name: str
    run: Callable[[DemoContext], str]


class StageMissing(Exception):
    """The stage a step needs is not available in this installation."""


def _records(ctx: DemoContext, kinds: tuple[str, ...] | None = None) -> list[Any]:
    recs = [ctx.registry.get(n) for n in ctx.names]
    return [r for r in recs if kinds is None or r.format.kind in kinds]


# --------------------------------------------------------------------------- steps


def step_mirror(ctx: DemoContext) -> str:
    from zoo.demo.build import build_mirror, real_registry_path
    from zoo.registry import load_registry

    real = load_registry(real_registry_path())
    ctx.mirror = build_mirror(ctx.directory / "mirror", real)
    total = sum(m.size for m in ctx.mirror)
    return f"{len(ctx.mirror)} synthetic object checkpoints ({total / 1e6:.1f} MB) in {ctx.directory / 'mirror'}"


def step_workspace(ctx: DemoContext) -> str:
    from zoo.demo.build import demo_variant_names, write_demo_registry
    from zoo.registry import find_workspace, load_registry

    path = write_demo_registry(ctx.directory, ctx.mirror)
    ctx.workspace = find_workspace(ctx.directory)
    ctx.registry = load_registry(path)
    ctx.names = demo_variant_names(ctx.registry)
    return f"{path} with {len(ctx.names)} variants"


def step_pull(ctx: DemoContext) -> str:
    from zoo.store.pull import pull_variants

    def progress(variant: str, phase: str, done: int, total: int | None) -> None:
        ctx.notify(f"{phase} {variant}")

    roots = _records(ctx, ("safetensors-f32",))
    ctx.pulled = pull_variants(ctx.workspace, ctx.registry, roots, progress=progress)
    cached = sum(1 for o in ctx.pulled if o.fetch.cached)
    warned = sorted({w for o in ctx.pulled for w in getattr(o, "warnings", ())})
    return (f"{len(ctx.pulled)} checkpoints fetched and checked ({cached} from cache), converted to safetensors"
            + "".join(f"; warning: {w}" for w in warned))


def step_quantize(ctx: DemoContext) -> str:
    try:
        from zoo.quant.pipeline import quantize_variant
    except ImportError as exc:
        raise StageMissing(str(exc)) from None
    recs = _records(ctx, ("lq40", "ternary"))
    for rec in recs:
        ctx.notify(f"quantize {rec.name}")
        quantize_variant(ctx.workspace, ctx.registry, rec)
    return f"{len(recs)} quantized variants (LQ40, ternary)"


def step_targets(ctx: DemoContext) -> str:
    """Build every declared target without its check, so `zoo verify` can gate on them (built-but-unchecked
    passes; missing/stale/failed fail). esp32 and fpga builds are pure Python; a target whose *build* needs a
    toolchain that is missing here (wasm: clang, wasm-ld) is skipped with that message, and the demo's verify
    does not gate on it (`zoo verify` will, until it is built)."""
    try:
        from zoo.targets.batch import build_many
    except ImportError as exc:
        raise StageMissing(str(exc)) from None
    jobs = [(rec, t) for rec in _records(ctx) for t in (rec.targets or ())]
    outcomes = build_many(ctx.workspace, ctx.registry, jobs, progress=ctx.notify)
    for o in outcomes:
        if o.error and o.exit_code == 2 and " on PATH" in o.error:  # a missing toolchain, not a broken target
            ctx.unbuildable[(o.variant, o.target)] = o.error
    failed = [o for o in outcomes if o.error and (o.variant, o.target) not in ctx.unbuildable]
    if failed:
        from zoo.errors import InputError

        first = failed[0]
        raise InputError(f"{first.variant}: declared target {first.target} cannot be built: {first.error}",
                         hint="fix the registry's targets for this variant")
    names = ", ".join(sorted({t for _, t in jobs})) or "none"
    built = len(outcomes) - len(ctx.unbuildable)
    detail = (f"{built} declared targets built ({names}), not checked: `zoo build --all --check` checks them "
              "where the target tools are installed (scripts/setup-system.sh)")
    if ctx.unbuildable:
        (variant, target), why = next(iter(ctx.unbuildable.items()))
        detail += (f"; {len(ctx.unbuildable)} skipped, their toolchain is missing ({variant}/{target}: "
                   f"{why.split(' (hint')[0]})")
    return detail


def step_verify(ctx: DemoContext) -> str:
    try:
        from zoo.verify.run import verify_variant
    except ImportError as exc:
        raise StageMissing(str(exc)) from None
    ctx.reports = []
    for rec in _records(ctx):
        ctx.notify(f"verify {rec.name}")
        skip = {t: why for (v, t), why in ctx.unbuildable.items() if v == rec.name}
        ctx.reports.append(verify_variant(ctx.workspace, ctx.registry, rec, build=True, unbuildable_targets=skip))
    counts: dict[str, int] = {}
    for r in ctx.reports:
        counts[r.status] = counts.get(r.status, 0) + 1
    return ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))


def step_cards(ctx: DemoContext) -> str:
    try:
        from zoo.cards import render_site, write_cards
    except ImportError as exc:
        raise StageMissing(str(exc)) from None
    paths = write_cards(ctx.workspace, ctx.registry, list(ctx.names))
    index = render_site(ctx.workspace, ctx.registry)
    ctx.site_index = Path(index)
    return f"{len(paths)} card files, site at {index}"


def describe_repos(repo_ids: list[str]) -> str:
    """Short text for a plan's repositories: one id, or `12 repositories OWNER/PREFIX-<variant>` for the
    per-variant layout (listing a dozen long ids helps nobody)."""
    if len(repo_ids) <= 2:
        return ", ".join(repo_ids) or "-"
    # the common prefix of all ids is that of the lexicographically smallest and largest
    lo, hi = min(repo_ids), max(repo_ids)
    n = next((i for i, (a, b) in enumerate(zip(lo, hi, strict=False)) if a != b), min(len(lo), len(hi)))
    prefix = lo[:n]
    prefix = prefix[: prefix.rfind("-") + 1] if "-" in prefix else ""
    if not prefix:
        return f"{len(repo_ids)} repositories"
    return f"{len(repo_ids)} repositories {prefix}<variant>"


def step_publish_dry_run(ctx: DemoContext) -> str:
    try:
        from zoo.publish import plan_for_workspace
    except ImportError as exc:
        raise StageMissing(str(exc)) from None
    # offline: plan against an empty remote, no request, nothing written. The demo's weights are
    # synthetic: the plan shows what --allow-synthetic would upload to the placeholder hub_repo.
    result = plan_for_workspace(ctx.workspace, ctx.registry, list(ctx.names), offline=True, allow_synthetic=True)
    ctx.publish = result
    uploads = sum(len(r.plan.uploads) for r in result.repos)
    repos = describe_repos([r.plan.repo_id for r in result.repos])
    refused = len(result.refused)
    return (f"would upload {uploads} files ({result.bytes / 1e6:.1f} MB) to {repos}; "
            f"{refused} variant(s) refused by the verification gate")


STEPS: list[Step] = [
    Step("mirror", step_mirror),
    Step("workspace", step_workspace),
    Step("pull + convert", step_pull),
    Step("quantize", step_quantize),
    Step("build targets", step_targets),
    Step("verify", step_verify),
    Step("cards", step_cards),
    Step("publish --dry-run", step_publish_dry_run),
]


def run_demo(directory: Path, *, steps: list[Step] | None = None,
             on_step: Callable[[str, str], None] | None = None,
             notify: Callable[[str], None] | None = None) -> tuple[DemoContext, list[StepResult]]:
    """Run the demo steps in order; stops at the first failing step (its error propagates)."""
    ctx = DemoContext(directory=directory.resolve())
    if notify is not None:
        ctx.notify = notify
    ctx.directory.mkdir(parents=True, exist_ok=True)
    results: list[StepResult] = []
    for step in steps or STEPS:
        if on_step is not None:
            on_step(step.name, "start")
        t0 = time.perf_counter()
        try:
            detail = step.run(ctx)
            status = "done"
        except StageMissing as exc:
            detail, status = f"stage not available ({exc})", "skipped"
        except ZooError as exc:
            results.append(StepResult(step.name, "failed", exc.render(), time.perf_counter() - t0))
            if on_step is not None:
                on_step(step.name, "failed")
            raise DemoFailed(ctx, results, exc) from exc
        results.append(StepResult(step.name, status, detail, time.perf_counter() - t0))
        if on_step is not None:
            on_step(step.name, status)
    return ctx, results


class DemoFailed(Exception):
    def __init__(self, ctx: DemoContext, results: list[StepResult], error: ZooError) -> None:
        super().__init__(error.render())
        self.ctx = ctx
        self.results = results
        self.error = error

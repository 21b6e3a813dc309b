"""`zoo doctor` (what is installed, which credentials are found, where the cache is) and
`zoo completion SHELL` (attached to the main group on import)."""

from __future__ import annotations

import os
import shutil
import sys
from typing import Any

import click

from zoo.cli._app import ZooChoice, app, emit_json, json_option, main, print_table, results

# Programs used outside the target plugins: (name, alternatives tried in order, what needs it).
EXTRA_TOOLS: tuple[tuple[str, tuple[str, ...], str], ...] = (
    ("chromium", ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"),
     "site: headless-browser test of cards/site (tests/test_site_chromium.py)"),
)
_VERSION_ARGS = {"iverilog": ["-V"], "yosys": ["-V"], "vvp": ["-V"]}


def _version(path: str, name: str) -> str | None:
    import subprocess

    try:
        proc = subprocess.run([path, *_VERSION_ARGS.get(name, ["--version"])], capture_output=True, text=True,
                              timeout=10, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError):
        return None
    text = (proc.stdout or proc.stderr or "").strip()
    return text.splitlines()[0].strip()[:100] if text else None


def tool_rows() -> list[dict[str, Any]]:
    """Every program a target plugin declares (`tools`), then the extra ones; found or not, with a version."""
    from concurrent.futures import ThreadPoolExecutor

    from zoo.targets.registry import discover_targets

    wanted: dict[str, dict[str, Any]] = {}
    for info in discover_targets().values():
        row = info.describe()
        for tool in row.get("tools") or []:
            entry = wanted.setdefault(tool, {"name": tool, "candidates": [tool], "used_by": []})
            entry["used_by"].append(f"target {info.name}")
    for name, candidates, why in EXTRA_TOOLS:
        entry = wanted.setdefault(name, {"name": name, "candidates": [], "used_by": []})
        entry["candidates"] += [c for c in candidates if c not in entry["candidates"]]
        entry["used_by"].append(why)

    def probe(entry: dict[str, Any]) -> dict[str, Any]:
        path = next((p for p in map(shutil.which, entry["candidates"]) if p), None)
        return {"name": entry["name"], "found": path is not None, "path": path,
                "version": _version(path, entry["name"]) if path else None, "used_by": entry["used_by"]}

    with ThreadPoolExecutor(max_workers=4) as pool:
        return list(pool.map(probe, wanted.values()))


def credential_rows() -> list[dict[str, Any]]:
    """Which credentials the zoo (and the clients it drives) would find, and where; never their values.
    The files are looked up by `zoo.credentials`, the lookup the pulls and publish use."""
    from urllib.parse import urlsplit

    from zoo.credentials import hf_token_path, netrc_password, wandb_base_url

    rows = []
    hf_from = next((f"environment {v}" for v in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN") if os.environ.get(v)), None)
    if hf_from is None and hf_token_path().is_file():
        hf_from = f"file {hf_token_path()}"
    rows.append({"name": "HF_TOKEN", "found": hf_from is not None, "from": hf_from,
                 "used_for": "Hub pulls of private repositories, zoo publish"})
    wandb_host = urlsplit(wandb_base_url()).hostname or "api.wandb.ai"
    wb_from = "environment WANDB_API_KEY" if os.environ.get("WANDB_API_KEY") else None
    if wb_from is None and netrc_password(wandb_base_url()) is not None:
        wb_from = f"~/.netrc machine {wandb_host}"
    rows.append({"name": "WANDB_API_KEY", "found": wb_from is not None, "from": wb_from,
                 "used_for": "wandb:// sources (zoo pull)"})
    return rows


def cache_info() -> dict[str, Any]:
    from zoo.store.cache import default_cache_root, scan

    root = default_cache_root()
    entries = scan(root)
    probe = root if root.exists() else next((p for p in root.parents if p.exists()), root)
    return {
        "root": str(root),
        "from": "environment ZOO_CACHE" if os.environ.get("ZOO_CACHE") else "platform user cache dir",
        "exists": root.is_dir(),
        "writable": os.access(probe, os.W_OK),
        "blobs": sum(1 for e in entries if e.kind == "blob"),
        "partials": sum(1 for e in entries if e.kind == "partial"),
        "bytes": sum(e.size for e in entries),
    }


def workspace_info(ctx: click.Context) -> dict[str, Any]:
    from zoo.errors import ZooError

    a = app(ctx)
    try:
        ws = a.workspace()
    except ZooError as exc:
        return {"found": False, "error": exc.message}
    info: dict[str, Any] = {"found": True, "root": str(ws.root)}
    try:
        info["variants"] = len(a.registry())
        info["registry_ok"] = True
    except ZooError as exc:
        info["registry_ok"] = False
        info["error"] = exc.message.splitlines()[0]
    return info


@main.command("doctor")
@json_option
@click.pass_context
def doctor(ctx: click.Context, as_json: bool) -> None:
    """What is installed (every program a target plugin uses, chromium), which credentials are found
    (never their values), where the cache is and how big, and the workspace."""
    import platform

    from zoo import __version__
    from zoo.cli.registry_cmds import fmt_size
    from zoo.sources.base import env_offline

    doc: dict[str, Any] = {
        "schema_version": 1,
        "zoo": __version__,
        "python": f"{platform.python_version()} ({sys.executable})",
        "tools": tool_rows(),
        "credentials": credential_rows(),
        "cache": cache_info(),
        "workspace": workspace_info(ctx),
        "offline": env_offline("hf") or env_offline("wandb"),
    }
    if as_json:
        emit_json(doc)
        return
    from rich.table import Table

    out = results()
    out.print(f"zoo {doc['zoo']}, python {doc['python']}")
    tools = Table(title="tools", title_justify="left")
    for col in ("tool", "found", "version / path", "used by"):
        tools.add_column(col)
    for t in doc["tools"]:
        found = "[green]yes[/]" if t["found"] else "[red]no[/]"
        tools.add_row(t["name"], found, t["version"] or t["path"] or "-", "; ".join(t["used_by"]))
    print_table(tools)
    creds = Table(title="credentials (values are never shown)", title_justify="left")
    for col in ("credential", "found", "from", "used for"):
        creds.add_column(col)
    for c in doc["credentials"]:
        creds.add_row(c["name"], "[green]yes[/]" if c["found"] else "no", c["from"] or "-", c["used_for"])
    print_table(creds)
    c = doc["cache"]
    out.print(f"cache: {c['root']} ({c['from']}): {c['blobs']} blob(s), {c['partials']} partial, "
              f"{fmt_size(c['bytes'])}" + ("" if c["writable"] else " [red]not writable[/]"))
    w = doc["workspace"]
    if not w["found"]:
        out.print(f"workspace: none ({w['error']})")
    elif w.get("registry_ok"):
        out.print(f"workspace: {w['root']} ({w['variants']} variants)")
    else:
        out.print(f"workspace: {w['root']} [red]registry.yaml has problems[/]: {w['error']}")
    if doc["offline"]:
        out.print("offline mode is on (ZOO_OFFLINE / HF_HUB_OFFLINE / WANDB_MODE)")
    missing = [t["name"] for t in doc["tools"] if not t["found"]]
    if missing:
        out.print(f"missing: {', '.join(missing)} (install with scripts/setup-system.sh)")


@main.command("completion")
@click.argument("shell", type=ZooChoice(("bash", "zsh", "fish")))
def completion(shell: str) -> None:
    """Print the shell completion script for SHELL: commands, options and variant names.

    \b
    bash: eval "$(zoo completion bash)"        (or add that line to ~/.bashrc)
    zsh:  eval "$(zoo completion zsh)"         (in ~/.zshrc, after compinit)
    fish: zoo completion fish > ~/.config/fish/completions/zoo.fish
    Variant names are read from the registry.yaml of the current workspace (or of -C DIR).
    """
    from click.shell_completion import get_completion_class

    cls = get_completion_class(shell)
    assert cls is not None  # the choice only offers shells click supports
    click.echo(cls(main, {}, "zoo", "_ZOO_COMPLETE").source())

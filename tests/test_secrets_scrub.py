"""Credentials never reach output, logs or files (issue 15, item 1).

Unit tests of `zoo.secrets.scrub` for every form of a credential, then the real clients against
loopback servers that echo the request's Authorization header in every error body (in full, and cut
short): `zoo pull` over hf:// and wandb://, and `zoo publish`. Nothing the zoo prints (stdout,
stderr) or leaves in the workspace, the cache or HOME may contain any form of the credential.
"""

from __future__ import annotations

import base64
import json
import logging
import os
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest
from click.testing import CliRunner
from publish_support import make_workspace
from servers.hf_hub_server import HfHubServer
from servers.wandb_server import WandbServer
from servers.workspaces import source_yaml, write_pull_workspace

from zoo import secrets
from zoo._io import atomic_write_json, atomic_write_text, dumps_json
from zoo.cli import main
from zoo.errors import RemoteError

HF_SECRET = "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1"
WB_SECRET = "0123456789abcdef0123456789abcdef01234567"


def leak_forms(secret: str) -> list[str]:
    """What a leak looks like: the raw value, its headers, encodings and a 9-character echo."""
    b64 = base64.b64encode
    return [
        secret, secret[:9], quote(secret, safe=""), quote_plus(secret),
        b64(secret.encode()).decode().rstrip("="), b64(f"api:{secret}".encode()).decode().rstrip("="),
        base64.urlsafe_b64encode(f"api:{secret}".encode()).decode().rstrip("="),
        b64(f"api:{secret}".encode()).decode()[:14],
    ]


def assert_clean(secret: str, *texts: str) -> None:
    for text in texts:
        for form in leak_forms(secret):
            assert form not in text, f"{form!r} leaked in {text[:2000]!r}"


def assert_files_clean(secret: str, *roots: Path) -> None:
    for root in roots:
        for path in root.rglob("*"):
            if path.is_file() and not path.is_symlink():
                text = path.read_bytes().decode("latin-1")
                for form in leak_forms(secret):
                    assert form not in text, f"{form!r} written to {path}"


@pytest.fixture(autouse=True)
def _fresh_secrets() -> None:
    secrets.forget_registered()


# ------------------------------------------------------------------------------------------ unit


@pytest.mark.parametrize("form", [*leak_forms(HF_SECRET), f"Bearer {HF_SECRET}", HF_SECRET[:8]])
def test_every_form_is_masked(monkeypatch: pytest.MonkeyPatch, form: str) -> None:
    monkeypatch.setenv("HF_TOKEN", HF_SECRET)
    out = secrets.scrub(f"server said: {form}!")
    assert_clean(HF_SECRET, out)
    assert out.startswith("server said: ") and out.endswith("!")


def test_base64_inside_a_longer_base64_text_is_masked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WANDB_API_KEY", WB_SECRET)
    for prefix in (b"", b"u", b"us", b"user:", b"{\"key\": \""):
        blob = base64.b64encode(prefix + WB_SECRET.encode() + b"\"}").decode()
        out = secrets.scrub(blob)
        assert "***" in out and len(out) < len(blob) - 40, (prefix, out)


def test_unrelated_text_is_untouched(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_TOKEN", HF_SECRET)
    text = "hf_ is a prefix; SECRET alone is a word; 0123456 too"
    assert secrets.scrub(text) == text


def test_registered_and_client_found_tokens(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # huggingface_hub's token file, wandb's netrc, and a value registered by a caller
    hf_home = Path(os.environ["HF_HOME"])
    hf_home.mkdir(parents=True, exist_ok=True)
    (hf_home / "token").write_text("hf_fromTheTokenFile0123456789abcdef\n")
    (Path(os.environ["HOME"]) / ".netrc").write_text(
        "machine api.wandb.ai\n  login user\n  password netrcKey0123456789abcdef0123456789abcd\n")
    secrets.forget_registered()
    secrets.register_secret("registeredValue-0123456789")
    text = "a hf_fromTheTokenFile0123456789abcdef b netrcKey0123456789abcdef0123456789abcd c registeredValue-0123456789"
    assert secrets.scrub(text) == "a *** b *** c ***"


def test_written_files_and_json_are_scrubbed(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("WANDB_API_KEY", WB_SECRET)
    atomic_write_json(tmp_path / "a.json", {"msg": f"echo {WB_SECRET}"})
    atomic_write_text(tmp_path / "b.md", f"Basic {base64.b64encode(f'api:{WB_SECRET}'.encode()).decode()}")
    assert_files_clean(WB_SECRET, tmp_path)
    assert WB_SECRET not in dumps_json([WB_SECRET])


def test_error_printer_emit_json_console_and_logs(monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    from zoo.cli._app import console, emit_json

    monkeypatch.setenv("HF_TOKEN", HF_SECRET)

    @main.command("_leaky_test_cmd", hidden=True)
    def leaky() -> None:
        console().print(f"token {HF_SECRET}")
        emit_json({"token": HF_SECRET, "url": f"https://x/?t={quote(HF_SECRET)}"})
        logging.getLogger("huggingface_hub.test").warning("header Bearer %s", HF_SECRET)
        raise RemoteError(f"server echoed Bearer {HF_SECRET}", hint=f"not {HF_SECRET[:12]}")

    secrets.install_log_scrubber()
    try:
        result = CliRunner().invoke(main, ["_leaky_test_cmd"])
    finally:
        main.commands.pop("_leaky_test_cmd", None)
    assert result.exit_code == 3
    captured = capsys.readouterr()
    assert_clean(HF_SECRET, result.output, result.stdout, captured.err, captured.out)
    assert "error: server echoed Bearer ***" in result.output
    json.loads(result.stdout)


# ------------------------------------------------------------------------------------------ e2e


def _run(ws: Path, *args: str) -> tuple[int, str]:
    r = CliRunner().invoke(main, ["-C", str(ws), *args], catch_exceptions=False)
    return r.exit_code, r.output + "\n" + r.stdout


def _roots(ws: Path) -> list[Path]:
    return [ws, Path(os.environ["HOME"])]


@pytest.mark.parametrize("limit", [4096, 30])
def test_hf_pull_with_an_echoing_hub_leaks_nothing(tmp_path: Path, hf_server: HfHubServer,
                                                   monkeypatch: pytest.MonkeyPatch, limit: int) -> None:
    hf_server.add_files("org/lewm", {"m.ckpt": b"x" * 1000})
    hf_server.repos[("model", "org/lewm")].private = True
    hf_server.echo_authorization(limit)
    monkeypatch.setenv("HF_TOKEN", HF_SECRET)  # not the server's token: 401 with the header echoed
    ws = write_pull_workspace(tmp_path / "ws", [source_yaml("hf://org/lewm@main/m.ckpt")])
    code, out = _run(ws, "pull", "tiny", "--no-convert")
    assert code == 3, out
    assert "***" in out  # the echo reached our message, masked
    assert_clean(HF_SECRET, out)
    assert_files_clean(HF_SECRET, *_roots(ws))
    assert any(r.headers.get("authorization") == f"Bearer {HF_SECRET}" for r in hf_server.requests)


@pytest.mark.parametrize("limit", [4096, 30])
def test_wandb_pull_with_an_echoing_server_leaks_nothing(tmp_path: Path, wandb_server: WandbServer,
                                                         monkeypatch: pytest.MonkeyPatch, limit: int) -> None:
    wandb_server.add_artifact("ent", "proj", "art", {"a.ckpt": b"x" * 1000})
    wandb_server.echo_authorization(limit)
    monkeypatch.setenv("WANDB_API_KEY", WB_SECRET)  # not the server's key: 401 with Basic base64(api:KEY)
    ws = write_pull_workspace(tmp_path / "ws", [source_yaml("wandb://ent/proj/art:latest", "a.ckpt")])
    code, out = _run(ws, "pull", "tiny", "--no-convert", "--json")
    assert code == 3, out
    assert "***" in out, out  # the echo reached our message, masked
    assert_clean(WB_SECRET, out)
    assert_files_clean(WB_SECRET, *_roots(ws))


def test_wandb_pull_server_error_after_login_leaks_nothing(tmp_path: Path, wandb_server: WandbServer,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    wandb_server.api_key = WB_SECRET
    monkeypatch.setenv("WANDB_API_KEY", WB_SECRET)
    wandb_server.add_artifact("ent", "proj", "art", {"a.ckpt": b"x" * 1000})
    wandb_server.echo_authorization()
    wandb_server.fail_graphql("internal error", status=500, operation="ArtifactMembershipByName")
    wandb_server.fail_graphql("internal error", status=500, operation="ArtifactByName")
    ws = write_pull_workspace(tmp_path / "ws", [source_yaml("wandb://ent/proj/art:latest", "a.ckpt")])
    code, out = _run(ws, "pull", "tiny", "--no-convert")
    assert code == 3, out
    assert "***" in out, out  # the echo reached our message, masked
    assert_clean(WB_SECRET, out)
    assert_files_clean(WB_SECRET, *_roots(ws))


@pytest.mark.parametrize("wrong_token", [True, False])
def test_publish_with_an_echoing_hub_leaks_nothing(tmp_path: Path, hf_server: HfHubServer,
                                                   monkeypatch: pytest.MonkeyPatch, wrong_token: bool) -> None:
    ws = make_workspace(tmp_path / "ws")
    hf_server.echo_authorization()
    if wrong_token:
        monkeypatch.setenv("HF_TOKEN", HF_SECRET)
    else:
        hf_server.token = HF_SECRET
        monkeypatch.setenv("HF_TOKEN", HF_SECRET)
        hf_server.fail("/commit/", status=500, times=10)
    # --force: the test is about the remote answers, not about the verification gate
    code, out = _run(ws, "publish", "--all", "--force", "scrubber test")
    assert code == 3, out
    assert "***" in out, out  # the echo reached our message, masked
    assert_clean(HF_SECRET, out)
    assert_files_clean(HF_SECRET, *_roots(ws))


def test_unexpected_tracebacks_are_scrubbed(tmp_path: Path) -> None:
    import subprocess
    import sys

    code = ("import sys; from zoo.secrets import install_excepthook; install_excepthook(); "
            f"raise RuntimeError('proxy said: Authorization: Bearer {HF_SECRET}')")
    env = {**os.environ, "HF_TOKEN": HF_SECRET}
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert proc.returncode == 1 and "RuntimeError: proxy said: Authorization: Bearer ***" in proc.stderr
    assert_clean(HF_SECRET, proc.stderr, proc.stdout)


def test_python_warnings_are_scrubbed(tmp_path: Path) -> None:
    """A client's warning that quotes a request (or a cut-off key) is shown masked, not verbatim."""
    import subprocess
    import sys

    code = ("import warnings; from zoo.secrets import install_warning_scrubber; install_warning_scrubber(); "
            f"warnings.warn('retrying with header Authorization: Bearer {HF_SECRET}'); "
            f"warnings.warn('token starts {HF_SECRET[:12]}')")
    env = {**os.environ, "HF_TOKEN": HF_SECRET}
    proc = subprocess.run([sys.executable, "-W", "always", "-c", code], env=env, capture_output=True, text=True)
    assert proc.returncode == 0 and "UserWarning: retrying with header Authorization: Bearer ***" in proc.stderr
    assert "token starts" in proc.stderr
    assert_clean(HF_SECRET, proc.stderr, proc.stdout)

"""Credentials found the way the clients find them (issue 17 item 6), never printed.

- Hugging Face: the lookup of `huggingface_hub.get_token()`: `HF_TOKEN` (and the legacy
  `HUGGING_FACE_HUB_TOKEN`), then the token file `hf auth login` writes (`$HF_TOKEN_PATH`, default
  `$HF_HOME/token`), resolved from the environment at call time.
- W&B: `WANDB_API_KEY`, then the netrc entry `wandb login` writes (`$NETRC`, default `~/.netrc`) for the
  host of `WANDB_BASE_URL` (default api.wandb.ai).

A value read from a file (not the environment) is handed to the secrets scrubber
(`zoo.secrets.register_secret`, issue 15), so it is masked in every output like the env values.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from urllib.parse import urlsplit

HF_LOGIN_HINT = "log in with `hf auth login` (or export HF_TOKEN=<token>)"
WANDB_LOGIN_HINT = "log in with `wandb login` (or export WANDB_API_KEY=<key from https://wandb.ai/authorize>)"


def _register(value: str) -> None:
    """Teach the scrubber a secret that did not come from the environment."""
    from zoo.secrets import register_secret

    with contextlib.suppress(Exception):
        register_secret(value)


def hf_token() -> str | None:
    """The Hugging Face token: env first, then the `hf auth login` token file (or None)."""
    env = (os.environ.get("HF_TOKEN") or os.environ.get("HUGGING_FACE_HUB_TOKEN") or "").strip()
    if env:
        return env
    # The lookup of huggingface_hub.get_token() (env, then the token file), done here because the client
    # fixes HF_TOKEN_PATH when it is imported: the path the environment names now is the one read.
    try:
        token = hf_token_path().read_text(encoding="utf-8").strip() or None
    except (OSError, UnicodeDecodeError):
        token = None
    if token:
        _register(token)
    return token or None


def hf_token_path() -> Path:
    """Where `hf auth login` stores the token: $HF_TOKEN_PATH, else $HF_HOME/token (HF_HOME defaults to
    $XDG_CACHE_HOME/huggingface, i.e. ~/.cache/huggingface)."""
    if os.environ.get("HF_TOKEN_PATH"):
        return Path(os.environ["HF_TOKEN_PATH"]).expanduser()
    home = os.environ.get("HF_HOME") or str(
        Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "huggingface")
    return Path(home).expanduser() / "token"


def wandb_base_url() -> str:
    return os.environ.get("WANDB_BASE_URL") or "https://api.wandb.ai"


def wandb_key(base_url: str | None = None) -> str | None:
    """The W&B API key: WANDB_API_KEY, then the netrc entry of the server's host (or None)."""
    env = os.environ.get("WANDB_API_KEY", "").strip()
    if env:
        return env
    key = netrc_password(base_url or wandb_base_url())
    if key:
        _register(key)
    return key


def netrc_password(base_url: str) -> str | None:
    import netrc

    path = Path(os.environ.get("NETRC") or Path.home() / ".netrc")
    if not path.is_file():
        return None
    try:
        auth = netrc.netrc(str(path))
    except (OSError, netrc.NetrcParseError):
        return None
    parts = urlsplit(base_url)
    for host in (parts.netloc, parts.hostname):
        if host:
            found = auth.authenticators(host)
            if found and found[2]:
                return found[2].strip()
    return None

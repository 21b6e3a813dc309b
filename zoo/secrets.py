"""The one scrubber for credentials: every message, exception text and JSON the zoo prints or writes
passes through `scrub` (the CLI error printer, `emit_json`, the rich console, `zoo._io`'s text/JSON
writers, log records).

It knows every credential the zoo or its clients may send: HF_TOKEN, HUGGING_FACE_HUB_TOKEN and
WANDB_API_KEY from the environment, the token huggingface_hub finds on its own (its token file and
stored tokens under HF_HOME), the passwords of the netrc file wandb reads, and anything a caller
hands to `register_secret`. For each it removes every form a server or proxy may echo back: the raw
value, URL-encoded (quote / quote_plus), base64 of the value and of `api:VALUE` (the W&B `Basic`
header) in the standard and URL-safe alphabets and at any alignment inside a longer base64 text,
and any prefix of 8 or more characters of each of these (an echo cut short). Bearer/Basic headers
are covered because their payload is one of these forms.

Import-light on purpose (the CLI imports it at start-up): only `os` and `re` at module level.
"""

from __future__ import annotations

import os
import re
from typing import Any

MASK = "***"
ENV_VARS = ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "WANDB_API_KEY")
_MIN_SECRET = 6  # shorter values would mask ordinary words; real tokens are 32+ characters
_MIN_PREFIX = 8  # an echo cut to 8+ characters of a form is still masked

_registered: set[str] = set()
_plan_cache: dict[frozenset[str], tuple[re.Pattern[str], dict[str, list[str]]] | None] = {}


def register_secret(value: str | None) -> None:
    """Scrub `value` (in all its forms) from everything the zoo prints or writes, from now on."""
    if value and len(value.strip()) >= _MIN_SECRET:
        _registered.add(value.strip())
        _registered_version[0] += 1


def forget_registered() -> None:
    """Drop values given to `register_secret` and every cache (tests; after writing a token file)."""
    _registered.clear()
    _registered_version[0] += 1
    _current_cache.clear()
    _plan_cache.clear()


def known_secrets() -> frozenset[str]:
    """Every credential value currently in use (environment, client token files, registered)."""
    return _current()[0]


_KEY_VARS = (*ENV_VARS, "HOME", "HF_HOME", "XDG_CACHE_HOME", "HF_TOKEN_PATH", "HF_STORED_TOKENS_PATH", "NETRC")
_current_cache: dict[tuple[Any, ...], tuple[frozenset[str], Any]] = {}
_registered_version = [0]


_KEY_BYTES = tuple(v.encode() for v in _KEY_VARS)


def _env_key() -> tuple[Any, ...]:
    """The values of the variables that decide the secrets: called for every string the console renders,
    so read from os.environ's own dict (plain lookups) where CPython has one."""
    data = getattr(os.environ, "_data", None)
    if isinstance(data, dict) and os.name == "posix":
        get = data.get
        return (_registered_version[0], *map(get, _KEY_BYTES))
    return (_registered_version[0], *map(os.environ.get, _KEY_VARS))


def _current() -> tuple[frozenset[str], Any]:
    """(secrets, scrub plan), cached on the environment that decides them."""
    get = os.environ.get
    key = _env_key()
    hit = _current_cache.get(key)
    if hit is not None:
        return hit
    found = set(_registered)
    for var in ENV_VARS:
        value = get(var, "").strip()
        if len(value) >= _MIN_SECRET:
            found.add(value)
    found.update(_file_secrets())
    secrets = frozenset(found)
    if len(_current_cache) > 64:
        _current_cache.clear()
    hit = _current_cache[key] = (secrets, _plan(secrets))
    return hit


def _token_files() -> tuple[str, ...]:
    env = os.environ
    home = os.path.expanduser("~")
    hf_home = env.get("HF_HOME") or os.path.join(env.get("XDG_CACHE_HOME") or os.path.join(home, ".cache"),
                                                 "huggingface")
    files = [env.get("HF_TOKEN_PATH") or os.path.join(hf_home, "token"),
             env.get("HF_STORED_TOKENS_PATH") or os.path.join(hf_home, "stored_tokens"),
             env.get("NETRC") or os.path.join(home, ".netrc"), os.path.join(home, "_netrc")]
    return tuple(files)


_NETRC_PASSWORD = re.compile(r"(?:^|\s)password\s+(\S+)")
_STORED_TOKEN = re.compile(r"^\s*hf_token\s*=\s*(\S+)", re.M)


def _file_secrets() -> tuple[str, ...]:
    """Tokens the clients would find on disk (never raises)."""
    out: list[str] = []
    for i, path in enumerate(_token_files()):
        try:
            with open(path, encoding="utf-8", errors="replace") as fh:
                text = fh.read(1 << 20)
        except OSError:
            continue
        if i == 0:
            out.append(text.strip())
        elif i == 1:
            out.extend(_STORED_TOKEN.findall(text))
        else:
            out.extend(_NETRC_PASSWORD.findall(text))
    return tuple(v for v in out if len(v) >= _MIN_SECRET)


def _b64_forms(raw: bytes) -> list[str]:
    """base64 of `raw` alone and the characters that encode only `raw` at each alignment in a longer text."""
    import base64

    forms: list[str] = []
    for encode in (base64.b64encode, base64.urlsafe_b64encode):
        forms.append(encode(raw).decode().rstrip("="))
        for k in (1, 2):
            enc = encode(b"\0" * k + raw).decode()
            start, end = (8 * k + 5) // 6, (8 * (k + len(raw))) // 6
            forms.append(enc[start:end])
    return forms


def forms_of(secret: str) -> list[str]:
    """Every text form of `secret` that the scrubber masks (longest first)."""
    from urllib.parse import quote, quote_plus

    raw = secret.encode("utf-8")
    forms = {secret, quote(secret, safe=""), quote_plus(secret)}
    forms.update(_b64_forms(raw))
    forms.update(_b64_forms(b"api:" + raw))
    return sorted((f for f in forms if len(f) >= _MIN_SECRET), key=len, reverse=True)


def _plan(secrets: frozenset[str]) -> tuple[re.Pattern[str], dict[str, list[str]]] | None:
    plan = _plan_cache.get(secrets)
    if plan is not None or secrets in _plan_cache:
        return plan
    heads: dict[str, list[str]] = {}
    for secret in secrets:
        for form in forms_of(secret):
            head = form[:_MIN_PREFIX]
            heads.setdefault(head, []).append(form)
    if not heads:
        _plan_cache[secrets] = None
        return None
    pattern = re.compile("|".join(re.escape(h) for h in sorted(heads, key=len, reverse=True)))
    plan = (pattern, heads)
    if len(_plan_cache) > 16:
        _plan_cache.clear()
    _plan_cache[secrets] = plan
    return plan


def scrub(text: str) -> str:
    """`text` with every form (and 8+-character prefix of a form) of every known credential masked."""
    if not text:
        return text
    plan = _current()[1]
    if plan is None:
        return text
    pattern, heads = plan
    if pattern.search(text) is None:
        return text
    out: list[str] = []
    pos = 0
    while True:
        m = pattern.search(text, pos)
        if m is None:
            break
        start = m.start()
        longest = len(m.group())
        for form in heads[m.group()]:
            n = _common_prefix(text, start, form)
            if n > longest:
                longest = n
        out.append(text[pos:start])
        out.append(MASK)
        pos = start + longest
    out.append(text[pos:])
    return "".join(out)


def _common_prefix(text: str, start: int, form: str) -> int:
    n = min(len(form), len(text) - start)
    i = 0
    while i < n and text[start + i] == form[i]:
        i += 1
    return i


def scrub_obj(obj: Any) -> Any:
    """A copy of a JSON-like value with every string (keys included) scrubbed."""
    if isinstance(obj, str):
        return scrub(obj)
    if isinstance(obj, dict):
        return {scrub(k) if isinstance(k, str) else k: scrub_obj(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [scrub_obj(v) for v in obj]
    return obj


def install_log_scrubber() -> None:
    """Scrub every log record (the clients' loggers too) before any handler formats it."""
    import logging

    if getattr(logging, "_zoo_scrubber", False):
        return
    previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: leave it to logging's own error path
            return record
        clean = scrub(message)
        if clean != message:
            record.msg, record.args = clean, None
        return record

    logging.setLogRecordFactory(factory)
    logging._zoo_scrubber = True  # type: ignore[attr-defined]


def private_client_dir(env_var: str, prefix: str) -> str:
    """Point `env_var` at a fresh private directory removed when the process exits, and return it.

    For client state the zoo never reads back but that a client fills with what servers said: the
    wandb service writes every failed response body, verbatim, to a debug log under WANDB_CACHE_DIR
    (a body that echoes the Authorization header would put the key on disk). The zoo downloads
    W&B files itself, so the client's cache is not needed.
    """
    import atexit
    import shutil
    import tempfile

    path = tempfile.mkdtemp(prefix=prefix)
    os.environ[env_var] = path
    atexit.register(shutil.rmtree, path, True)
    return path


def install_excepthook() -> None:
    """An unexpected exception (a bug: commands turn bad input into one-line errors) still prints its
    traceback, but scrubbed: its text may quote a server's answer that echoed a credential."""
    import sys

    if getattr(sys.excepthook, "_zoo_scrubbing", False):
        return

    def hook(kind: type[BaseException], value: BaseException, tb: Any) -> None:
        import traceback

        sys.stderr.write(scrub("".join(traceback.format_exception(kind, value, tb))))

    hook._zoo_scrubbing = True  # type: ignore[attr-defined]
    sys.excepthook = hook


def install_warning_scrubber() -> None:
    """Python warnings (the clients emit some, e.g. with a request's text) are printed scrubbed too."""
    import warnings

    if getattr(warnings.showwarning, "_zoo_scrubbing", False):
        return

    def show(message: Warning | str, category: type[Warning], filename: str, lineno: int,
             file: Any = None, line: str | None = None) -> None:
        import sys

        stream = file if file is not None else sys.stderr
        if stream is None:  # no stderr (pythonw): nowhere to show it, as in the standard hook
            return
        import contextlib

        with contextlib.suppress(OSError):  # an invalid stream: the standard hook ignores it too
            stream.write(scrub(warnings.formatwarning(message, category, filename, lineno, line)))

    show._zoo_scrubbing = True  # type: ignore[attr-defined]
    warnings.showwarning = show

"""`hf://org/name[@revision]/path/in/repo` through huggingface_hub (imported lazily).

The endpoint comes from `HF_ENDPOINT`, the token from `HF_TOKEN` (optional for public repos). The
revision (branch, tag or commit) is resolved to a commit sha first and every byte is then fetched
from that commit, so a moving branch cannot change a file half-way through a pull.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from zoo.errors import CredentialsError, InputError, RemoteError
from zoo.sources.base import Progress, RemoteFile, Resolution, env_float, http_download, validate_remote_name

DEFAULT_ENDPOINT = "https://huggingface.co"
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class HfSource:
    kind = "hf"

    def __init__(self, uri: str, file: str | None = None) -> None:
        self.uri = uri
        rest = uri[len("hf://") :]
        parts = rest.split("/")
        if len(parts) < 2 or not parts[0] or not parts[1]:
            raise InputError(f"{uri}: not a Hugging Face URI", hint="use hf://ORG/NAME[@REVISION]/PATH")
        name, _, revision = parts[1].partition("@")
        self.repo_id = f"{parts[0]}/{name}"
        self.revision = revision or "main"
        path = "/".join(parts[2:]) or file
        if not path:
            raise InputError(f"{uri}: no file path in the URI and none in the registry entry",
                             hint="use hf://ORG/NAME@REV/FILE or give the source a `file:`")
        self.path: str = validate_remote_name(path, origin=uri)

    @property
    def endpoint(self) -> str:
        return (os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")

    @property
    def token(self) -> str | None:
        from zoo.credentials import hf_token

        return hf_token()  # HF_TOKEN, then the `hf auth login` token file

    def resolve(self) -> Resolution:
        from huggingface_hub import get_hf_file_metadata, hf_hub_url

        from zoo.secrets import install_log_scrubber

        install_log_scrubber()  # the client's log records may quote a server's answer

        url = hf_hub_url(self.repo_id, self.path, revision=self.revision, endpoint=self.endpoint)
        try:
            meta = get_hf_file_metadata(url, token=self.token or False, timeout=env_float("ZOO_HTTP_TIMEOUT", 30.0),
                                        endpoint=self.endpoint)
        except Exception as exc:
            raise self._error(exc) from None
        etag = (meta.etag or "").strip('"')
        rf = RemoteFile(name=self.path, size=meta.size, sha256=etag if _SHA256.match(etag) else None)
        return Resolution(uri=self.uri, kind=self.kind, version=meta.commit_hash, files={self.path: rf},
                          extra={"repo": self.repo_id, "revision": self.revision})

    def download(self, resolution: Resolution, name: str, part: Path, progress: Progress | None = None) -> None:
        """GET the file at the resolved commit with our own capped, resumable HTTP copy.

        (hf_hub_download checks the size only after writing everything: a hostile endpoint could fill the
        disk. requests drops the Authorization header when the Hub redirects to another host, e.g. its CDN.)
        """
        from huggingface_hub import hf_hub_url

        url = hf_hub_url(self.repo_id, name, revision=resolution.version or self.revision, endpoint=self.endpoint)
        rf = resolution.files.get(name)
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        http_download(url, part, origin=f"{self.uri}", expected_size=rf.size if rf is not None else None,
                      progress=progress, headers=headers)

    def _error(self, exc: BaseException) -> ZooErrorT:
        status = _status(exc)
        msg = " ".join(str(exc).split())[:300] or type(exc).__name__
        if status == 401 and not self.token:
            return CredentialsError(f"{self.uri}: the Hub requires a token for {self.repo_id} and HF_TOKEN is not set "
                                    "(nor an `hf auth login` token)",
                                    hint="log in with `hf auth login` (or export HF_TOKEN=<a read token from "
                                    "https://huggingface.co/settings/tokens>)")
        what = {401: "refused the token", 403: "denied access", 404: "has no such repo/revision/file"}.get(
            status or 0, "request failed")
        return RemoteError(f"{self.uri}: Hugging Face Hub at {self.endpoint} {what} ({msg})",
                           hint="check the repo id, revision and HF_TOKEN, or use a mirror")


ZooErrorT = CredentialsError | RemoteError


def _status(exc: BaseException) -> int | None:
    resp: Any = getattr(exc, "response", None)
    code = getattr(resp, "status_code", None)
    return int(code) if isinstance(code, int) else None

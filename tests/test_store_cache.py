"""The content-addressed store: one copy per digest, read-only blobs, links, atomic install."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from zoo._io import sha256_bytes
from zoo.errors import InputError
from zoo.store.cache import Store, default_cache_root, download_key


def _ingest(store: Store, data: bytes, key: str = "k") -> str:
    part = store.partial_path(key)
    part.write_bytes(data)
    sha = sha256_bytes(data)
    store.ingest(part, sha)
    return sha


def test_one_copy_per_digest_and_read_only(tmp_path: Path) -> None:
    store = Store(tmp_path / "c")
    sha = _ingest(store, b"abc", "a")
    assert _ingest(store, b"abc", "b") == sha
    blobs = [p for p in (tmp_path / "c" / "blobs").rglob("*") if p.is_file()]
    assert blobs == [store.blob_path(sha)]
    assert not os.access(blobs[0], os.W_OK) or os.geteuid() == 0
    assert not list((tmp_path / "c" / "partial").iterdir())
    assert (tmp_path / "c" / "CACHEDIR.TAG").read_text().startswith("Signature: 8a477f597d28d172789f06886806bc55")


def test_install_links_and_is_idempotent(tmp_path: Path) -> None:
    store = Store(tmp_path / "c")
    sha = _ingest(store, b"weights")
    dest = tmp_path / "ws" / "variants" / "v" / "source" / "x.ckpt"
    store.install(sha, dest)
    store.install(sha, dest)
    assert dest.read_bytes() == b"weights"
    assert os.path.samefile(dest, store.blob_path(sha))
    assert [p.name for p in dest.parent.iterdir()] == ["x.ckpt"]  # no temp files left


def test_cache_root_from_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ZOO_CACHE", str(tmp_path / "zc"))
    assert default_cache_root() == tmp_path / "zc"
    monkeypatch.delenv("ZOO_CACHE")
    assert default_cache_root().name == "lewm-zoo"


def test_bad_digest_and_keys(tmp_path: Path) -> None:
    with pytest.raises(InputError):
        Store(tmp_path).blob_path("../etc/passwd")
    assert download_key("a", "b") != download_key("a\x00b")
    assert len(download_key("wandb://e/p/a:latest", "v3", "x.ckpt")) == 32

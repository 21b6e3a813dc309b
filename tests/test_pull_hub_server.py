"""The loopback HF Hub server against the real huggingface_hub client (upload + download routes).

The publish stage reuses this server; these tests pin the behaviour it relies on.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from servers.hf_hub_server import HF_TEST_TOKEN, HfHubServer


def _api(server: HfHubServer):  # type: ignore[no-untyped-def]
    from huggingface_hub import HfApi

    return HfApi(endpoint=server.url, token=HF_TEST_TOKEN)


def _folder(tmp_path: Path) -> Path:
    up = tmp_path / "up"
    (up / "sub").mkdir(parents=True)
    (up / "README.md").write_text("---\nlicense: cc-by-nc-4.0\n---\n# tiny\n")
    (up / "model.safetensors").write_bytes(bytes(range(256)) * 4000)
    (up / "sub" / "a.txt").write_text("x\n")
    return up


def test_upload_tag_list_download_roundtrip(tmp_path: Path, hf_server: HfHubServer) -> None:
    from huggingface_hub import CommitOperationDelete, hf_hub_download

    api = _api(hf_server)
    assert api.whoami()["name"] == hf_server.user
    api.create_repo("org/tiny", exist_ok=True)
    api.create_repo("org/tiny", exist_ok=True)  # 409 swallowed
    up = _folder(tmp_path)
    ci = api.upload_folder(repo_id="org/tiny", folder_path=str(up), commit_message="up")
    assert any("/lfs/objects/batch" in p for p in hf_server.paths("POST"))  # safetensors went through LFS
    api.create_tag("org/tiny", tag="v1.0", tag_message="rel", revision=ci.oid)
    tree = {f.path: f for f in api.list_repo_tree("org/tiny", recursive=True)}
    assert tree["model.safetensors"].lfs.sha256 == __import__("hashlib").sha256(
        (up / "model.safetensors").read_bytes()).hexdigest()
    assert {"README.md", "sub/a.txt", ".gitattributes"} <= set(tree)
    again = api.upload_folder(repo_id="org/tiny", folder_path=str(up), commit_message="again")
    assert again.oid == ci.oid  # unchanged files: no new commit
    path = hf_hub_download("org/tiny", "model.safetensors", revision="v1.0", endpoint=hf_server.url,
                           token=HF_TEST_TOKEN, local_dir=tmp_path / "dl")
    assert Path(path).read_bytes() == (up / "model.safetensors").read_bytes()
    api.create_commit("org/tiny", operations=[CommitOperationDelete("sub/a.txt")], commit_message="del",
                      parent_commit=ci.oid)
    assert "sub/a.txt" not in api.list_repo_files("org/tiny")
    with pytest.raises(Exception, match="412"):  # stale parent_commit is refused
        api.create_commit("org/tiny", operations=[CommitOperationDelete("README.md")], commit_message="x",
                          parent_commit=ci.oid)
    refs = api.list_repo_refs("org/tiny")
    assert [t.name for t in refs.tags] == ["v1.0"] and refs.tags[0].target_commit == ci.oid
    infos = api.get_paths_info("org/tiny", ["model.safetensors"])
    assert infos[0].lfs is not None


def test_fault_injection_and_auth(tmp_path: Path, hf_server: HfHubServer) -> None:
    from huggingface_hub import HfApi

    api = _api(hf_server)
    api.create_repo("org/f")
    hf_server.fail("/preupload/", status=500, times=1)  # the client retries a 500 once and succeeds
    api.upload_file(path_or_fileobj=b"hello", path_in_repo="h.txt", repo_id="org/f")
    assert [r.status for r in hf_server.requests if "/preupload/" in r.path] == [500, 200]
    assert hf_server.files("org/f")["h.txt"] == b"hello"
    hf_server.fail_nth(1, status=403)  # the very next request, whatever it is
    with pytest.raises(Exception, match="403"):
        api.upload_file(path_or_fileobj=b"bye", path_in_repo="b.txt", repo_id="org/f")
    with pytest.raises(Exception, match="401"):
        HfApi(endpoint=hf_server.url, token="hf_wrong").create_repo("org/g")

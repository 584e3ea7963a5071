"""hub.resolve_folder / resolve_entry against a fake Hub on 127.0.0.1: cache, offline, integrity, fallback."""
from __future__ import annotations

import hashlib
import json
import shutil
import time
import warnings

import pytest
import torch

import nuisance_zoo as nz
from nuisance_zoo import hub, registry
from nuisance_zoo.registry import PretrainedEntry

REPO = "test-org/test-scale"


def _same_weights(a, b) -> bool:
    return all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))


def _snapshot(tmp_path, commit):
    return tmp_path / "hf_home" / "hub" / "models--test-org--test-scale" / "snapshots" / commit


@pytest.fixture
def served(fake_hub, model_folder):
    """The saved test model published as REPO (main and tag v1); returns its commit."""
    return fake_hub.add_repo(REPO, model_folder, refs=("main", "v1"))


@pytest.fixture
def zoo_entry(model_folder):
    """A zoo entry for REPO, registered under a test-only name (removed afterwards)."""
    entry = PretrainedEntry(name="test-zoo-scale", hub_id=REPO, revision="main",
                            sha256=hub.sha256_file(model_folder / "model.safetensors"))
    registry.register_pretrained(entry)
    yield entry
    registry.unregister(entry.name)


@pytest.fixture
def bundled(isolated_hub, model_folder):
    """A bundled copy of the test model in $NUISANCE_ZOO_HUB_CARDS/test-zoo-scale."""
    dest = isolated_hub / "hub_cards" / "test-zoo-scale"
    shutil.copytree(model_folder, dest)
    return dest


class TestDownload:
    def test_first_load_downloads_into_the_isolated_cache(self, fake_hub, served, trained, tmp_path):
        G = nz.load(f"hf-hub:{REPO}")
        assert _same_weights(G, trained)
        snap = _snapshot(tmp_path, served)
        assert sorted(p.name for p in snap.iterdir()) == ["README.md", "config.json", "model.safetensors"]
        gets = [path.split("?")[0] for method, path, _ in fake_hub.requests if method == "GET"]
        files = [p for p in gets if "/resolve/" in p]
        assert sorted(p.rsplit("/", 1)[-1] for p in files) == ["README.md", "config.json", "model.safetensors"]
        # snapshot_download resolves the revision once; every file then comes from that commit
        assert [p for p in gets if "/revision/" in p] == [f"/api/models/{REPO}/revision/main"]
        assert all(f"/resolve/{served}/" in p for p in files)
        assert all(f"nuisance-zoo/{nz.__version__}" in ua for _, _, ua in fake_hub.requests)

    def test_second_load_works_with_the_server_stopped(self, fake_hub, served, trained):
        nz.load(f"hf-hub:{REPO}")
        fake_hub.stop()
        start = time.perf_counter()
        G = nz.load(f"hf-hub:{REPO}")
        assert _same_weights(G, trained)
        assert time.perf_counter() - start < 5  # no retry back-off on a cached load

    def test_offline_load_from_cache_makes_no_request(self, fake_hub, served, trained, monkeypatch):
        nz.load(f"hf-hub:{REPO}@v1")
        n = len(fake_hub.requests)
        monkeypatch.setenv("HF_HUB_OFFLINE", "1")
        assert _same_weights(nz.load(f"hf-hub:{REPO}@v1"), trained)
        assert len(fake_hub.requests) == n

    def test_commit_revision_cached_load_is_network_free(self, fake_hub, served):
        nz.load(f"hf-hub:{REPO}@{served}")
        n = len(fake_hub.requests)
        nz.load(f"hf-hub:{REPO}@{served}")
        assert len(fake_hub.requests) == n

    def test_tampered_download_is_refused(self, fake_hub, served, model_folder):
        data = bytearray((model_folder / "model.safetensors").read_bytes())
        data[-1] ^= 0x01
        fake_hub.tamper(REPO, "model.safetensors", bytes(data))
        with pytest.raises(hub.ChecksumMismatchError) as e:
            nz.load(f"hf-hub:{REPO}")
        msg = str(e.value)
        expected = json.loads((model_folder / "config.json").read_text())["sha256"]
        assert "model.safetensors" in msg and expected in msg and hashlib.sha256(bytes(data)).hexdigest() in msg
        assert "delete the cached copy" in msg and "models--test-org--test-scale" in msg

    def test_tampered_cache_is_refused(self, fake_hub, served, tmp_path):
        nz.load(f"hf-hub:{REPO}")
        blob = (_snapshot(tmp_path, served) / "model.safetensors").resolve()
        data = bytearray(blob.read_bytes())
        data[-1] ^= 0x01
        blob.write_bytes(bytes(data))
        with pytest.raises(hub.ChecksumMismatchError, match="NOT loaded"):
            nz.load(f"hf-hub:{REPO}")

    def test_unknown_revision(self, fake_hub, served):
        with pytest.raises(hub.HubError, match=r"revision 'nope' does not exist in test-org/test-scale"):
            nz.load(f"hf-hub:{REPO}@nope")

    def test_unknown_repo(self, fake_hub, served):
        with pytest.raises(hub.HubError, match=r"repository test-org/missing was not found.*check the spelling"):
            nz.load("hf-hub:test-org/missing")

    def test_repo_without_weights(self, fake_hub, model_folder, tmp_path):
        partial = tmp_path / "partial"
        partial.mkdir()
        shutil.copy(model_folder / "config.json", partial / "config.json")
        fake_hub.add_repo("test-org/no-weights", partial)
        with pytest.raises(hub.HubError, match="not a nuisance-zoo model repo"):
            nz.load("hf-hub:test-org/no-weights")

    def test_bad_names(self):
        with pytest.raises(ValueError, match="expected 'hf-hub:ORG/REPO'"):
            nz.load("hf-hub:no-slash")
        with pytest.raises(ValueError, match="empty revision"):
            nz.load("hf-hub:a/b@")
        with pytest.raises(FileNotFoundError, match="is not a folder"):
            nz.load("local-dir:/nonexistent/model")


class TestEntries:
    def test_zoo_name_checks_the_registry_hash(self, fake_hub, served, zoo_entry, trained):
        assert _same_weights(nz.load("test-zoo-scale"), trained)

    def test_registry_hash_mismatch_is_refused(self, fake_hub, served, zoo_entry):
        entry = PretrainedEntry(name="test-zoo-scale", hub_id=REPO, revision="main", sha256="0" * 64)
        with pytest.raises(hub.ChecksumMismatchError, match=r"expected 0{64} \(the zoo registry entry\)"):
            hub.resolve_entry(entry)


class TestFallback:
    def test_unreachable_uses_the_bundled_copy_once(self, fake_hub, zoo_entry, bundled, trained):
        fake_hub.stop()  # nothing was ever cached
        start = time.perf_counter()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            G1 = nz.load("test-zoo-scale")
            G2 = nz.load("test-zoo-scale")
        assert time.perf_counter() - start < 5  # no ~23 s retry back-off
        msgs = [w for w in caught if issubclass(w.category, hub.BundledCopyWarning)]
        assert len(msgs) == 1 and "unreachable" in str(msgs[0].message) and str(bundled) in str(msgs[0].message)
        assert _same_weights(G1, trained) and _same_weights(G2, trained)

    def test_offline_uses_the_bundled_copy(self, zoo_entry, bundled, trained, monkeypatch):
        monkeypatch.setenv("HF_HUB_OFFLINE", "1")
        with pytest.warns(hub.BundledCopyWarning, match="offline"):
            assert _same_weights(nz.load("test-zoo-scale"), trained)

    def test_hf_hub_name_of_a_zoo_repo_falls_back(self, zoo_entry, bundled, monkeypatch):
        monkeypatch.setenv("HF_HUB_OFFLINE", "1")
        with pytest.warns(hub.BundledCopyWarning):
            assert hub.resolve_folder(f"hf-hub:{REPO}", entries=[zoo_entry]) == bundled

    def test_repo_missing_on_the_hub_falls_back_for_zoo_names(self, fake_hub, zoo_entry, bundled):
        with pytest.warns(hub.BundledCopyWarning, match="has no repo"):
            assert hub.resolve_entry(zoo_entry) == bundled

    def test_bundled_copy_is_verified(self, zoo_entry, bundled, monkeypatch):
        monkeypatch.setenv("HF_HUB_OFFLINE", "1")
        data = bytearray((bundled / "model.safetensors").read_bytes())
        data[-1] ^= 0x01
        (bundled / "model.safetensors").write_bytes(bytes(data))
        with pytest.warns(hub.BundledCopyWarning), pytest.raises(hub.ChecksumMismatchError, match="zoo registry"):
            nz.load("test-zoo-scale")

    def test_offline_with_nothing_is_a_clear_error(self, zoo_entry, monkeypatch):
        monkeypatch.setenv("HF_HUB_OFFLINE", "1")
        with pytest.raises(hub.HubError, match=r"offline mode is on.*not in the cache.*no bundled copy.*local-dir"):
            nz.load("test-zoo-scale")

    def test_unreachable_with_nothing_is_a_clear_error(self, fake_hub):
        fake_hub.stop()
        start = time.perf_counter()
        with pytest.raises(hub.HubError, match=r"the Hub is unreachable.*not in the cache"):
            nz.load(f"hf-hub:{REPO}")
        assert time.perf_counter() - start < 5


class TestLocalDir:
    def test_local_dir_verifies_the_hash(self, model_folder):
        cfg = json.loads((model_folder / "config.json").read_text())
        cfg["sha256"] = "f" * 64
        (model_folder / "config.json").write_text(json.dumps(cfg))
        with pytest.raises(hub.ChecksumMismatchError, match=r"expected f{64}"):
            hub.resolve_folder(f"local-dir:{model_folder}")

    def test_local_dir_without_hash_is_refused(self, model_folder):
        cfg = json.loads((model_folder / "config.json").read_text())
        del cfg["sha256"]
        (model_folder / "config.json").write_text(json.dumps(cfg))
        with pytest.raises(hub.HubError, match="no valid \"sha256\""):
            hub.resolve_folder(f"local-dir:{model_folder}")


class TestRevisions:
    def test_a_moved_branch_is_followed_and_pinned_once(self, fake_hub, served, trained, scale_cls, tmp_path):
        assert _same_weights(nz.load(f"hf-hub:{REPO}"), trained)
        newer = scale_cls()
        with torch.no_grad():
            newer.scale.fill_(7.0)
        commit = fake_hub.add_repo(REPO, newer.save_pretrained(tmp_path / "newer"))  # main moves
        assert commit != served
        fake_hub.requests.clear()
        assert _same_weights(nz.load(f"hf-hub:{REPO}"), newer)
        files = [p for m, p, _ in fake_hub.requests if m == "GET" and "/resolve/" in p]
        assert files and all(f"/resolve/{commit}/" in p for p in files)  # one commit for every file

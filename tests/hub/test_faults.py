"""Network faults against the fake Hub: a transfer that stalls mid-body or is cut short.

A zoo name falls back to its bundled copy (one BundledCopyWarning); any other repo raises a
HubError. Either way ``load()`` returns within a few seconds (``NUISANCE_ZOO_HUB_TIMEOUT=1``),
not after huggingface_hub's retries, and nothing half-downloaded becomes a cached file.
"""
from __future__ import annotations

import shutil
import threading
import time
import warnings

import pytest
import torch

import nuisance_zoo as nz
from nuisance_zoo import hub, registry
from nuisance_zoo.registry import PretrainedEntry

REPO = "test-org/test-scale"
#: Wall-clock budget of one faulty load: the 1 s watchdog plus huggingface_hub's 1 s retry sleeps.
BUDGET_S = 8.0


@pytest.fixture(autouse=True)
def short_timeout(monkeypatch):
    monkeypatch.setenv("NUISANCE_ZOO_HUB_TIMEOUT", "1")


def _settle(seconds: float = 30.0) -> None:
    """Wait for transfers the watchdog abandoned: they finish in the background (retry, succeed)."""
    deadline = time.monotonic() + seconds
    for t in threading.enumerate():
        if t.name.startswith("nuisance-zoo download"):
            t.join(max(0.0, deadline - time.monotonic()))


@pytest.fixture
def fake_hub(fake_hub):
    """conftest's fake Hub, healed before it stops so abandoned transfers end quietly within the test."""
    yield fake_hub
    fake_hub.heal()
    _settle()


@pytest.fixture
def served(fake_hub, model_folder):
    return fake_hub.add_repo(REPO, model_folder)


@pytest.fixture
def zoo_entry(model_folder, isolated_hub):
    entry = PretrainedEntry(name="test-zoo-scale", hub_id=REPO, revision="main",
                            sha256=hub.sha256_file(model_folder / "model.safetensors"))
    registry.register_pretrained(entry)
    shutil.copytree(model_folder, isolated_hub / "hub_cards" / entry.name)
    yield entry
    registry.unregister(entry.name)


def _timed_load(name: str):
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            out = nz.load(name)
        except Exception as e:  # noqa: BLE001 -- returned for the test to inspect
            out = e
    return out, time.perf_counter() - start, [w for w in caught if issubclass(w.category, hub.BundledCopyWarning)]


def _no_cached_weights(tmp_path) -> bool:
    snaps = tmp_path / "hf_home" / "hub" / "models--test-org--test-scale" / "snapshots"
    return not any(p.name == "model.safetensors" for p in snaps.rglob("*")) if snaps.exists() else True


@pytest.mark.parametrize("fault", ["stall", "truncate"])
def test_zoo_name_falls_back_to_the_bundled_copy(fault, fake_hub, served, zoo_entry, trained, tmp_path):
    getattr(fake_hub, fault)(REPO, "model.safetensors", after=16)
    G, took, warned = _timed_load("test-zoo-scale")
    assert not isinstance(G, Exception), G
    assert took < BUDGET_S, f"{fault}: load took {took:.1f} s"
    assert len(warned) == 1 and "bundled copy" in str(warned[0].message)
    assert torch.equal(G.scale, trained.scale)
    assert _no_cached_weights(tmp_path)
    # the warning is once per name: a second faulty load is silent
    _, _, warned_again = _timed_load("test-zoo-scale")
    assert warned_again == []


@pytest.mark.parametrize("fault", ["stall", "truncate"])
def test_other_repo_raises_a_hub_error(fault, fake_hub, served, tmp_path):
    getattr(fake_hub, fault)(REPO, "model.safetensors", after=16)
    err, took, warned = _timed_load(f"hf-hub:{REPO}")
    assert isinstance(err, nz.HubError) and not isinstance(err, nz.ModelFolderError), repr(err)
    assert took < BUDGET_S, f"{fault}: load took {took:.1f} s"
    assert ("stalled" if fault == "stall" else "transfer") in str(err) and "NUISANCE_ZOO_HUB_TIMEOUT" in str(err)
    assert warned == []
    assert _no_cached_weights(tmp_path)


def test_stalled_config_download_is_bounded_too(fake_hub, served):
    fake_hub.stall(REPO, "config.json", after=4)
    err, took, _ = _timed_load(f"hf-hub:{REPO}")
    assert isinstance(err, nz.HubError) and took < BUDGET_S and "stalled" in str(err)


def test_after_the_fault_clears_the_same_name_downloads(fake_hub, served, trained):
    fake_hub.truncate(REPO, "model.safetensors", after=16)
    err, _, _ = _timed_load(f"hf-hub:{REPO}")
    assert isinstance(err, nz.HubError)
    fake_hub.heal()
    _settle()  # the abandoned transfer holds the cache's file lock until it ends
    assert torch.equal(nz.load(f"hf-hub:{REPO}").scale, trained.scale)


@pytest.mark.parametrize("raw", ["0", "-1", "soon"])
def test_bad_timeout_setting_is_a_clear_error(raw, monkeypatch):
    monkeypatch.setenv("NUISANCE_ZOO_HUB_TIMEOUT", raw)
    with pytest.raises(ValueError, match="NUISANCE_ZOO_HUB_TIMEOUT"):
        hub.hub_timeout()

"""The real-data switch of the test suite: skip on a clone without data, fail under CI's flag."""
from __future__ import annotations

import pytest

from tests.conftest import REQUIRE_DATA_ENV, need_data


def test_absent_data_skips_with_a_reason(monkeypatch, tmp_path):
    monkeypatch.setenv("NUISANCE_ZOO_DATA", str(tmp_path))
    monkeypatch.setenv("NUISANCE_ZOO_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv(REQUIRE_DATA_ENV, raising=False)
    with pytest.raises(pytest.skip.Exception, match="needs the real gtsrb data"):
        need_data("gtsrb")


def test_absent_data_fails_when_ci_requires_it(monkeypatch, tmp_path):
    monkeypatch.setenv("NUISANCE_ZOO_DATA", str(tmp_path))
    monkeypatch.setenv("NUISANCE_ZOO_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv(REQUIRE_DATA_ENV, "1")
    with pytest.raises(pytest.fail.Exception, match="forbids skipping"):
        need_data("gtsrb")


def test_present_data_is_found(monkeypatch, tmp_path):
    (tmp_path / "gtsrb").mkdir()
    monkeypatch.setenv("NUISANCE_ZOO_DATA", str(tmp_path))
    assert need_data("gtsrb") == tmp_path


def test_data_in_the_dataset_cache_is_found(monkeypatch, tmp_path):
    monkeypatch.setenv("NUISANCE_ZOO_DATA", str(tmp_path / "empty"))
    monkeypatch.setenv("NUISANCE_ZOO_CACHE", str(tmp_path / "cache"))
    (tmp_path / "cache" / "fashion-mnist").mkdir(parents=True)
    assert need_data("fashion-mnist") == (tmp_path / "cache").resolve()

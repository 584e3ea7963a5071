"""The input checks and their switch (``nz.set_input_checks`` / ``nz.input_checks``).

"full" (default) names NaN/inf and out-of-range pixels and checks a tensor once per version;
"async" queues the same test without host syncs; "off" skips the value test.
"""
from __future__ import annotations

import pytest
import torch

import nuisance_zoo as nz
from nuisance_zoo import base


@pytest.fixture(autouse=True)
def _restore_mode():
    previous = nz.get_input_checks()
    yield
    nz.set_input_checks(previous)


def images(b=2, seed=0):
    return torch.rand(b, 3, 8, 8, generator=torch.Generator().manual_seed(seed))


def count_aminmax(monkeypatch) -> list:
    calls = []
    real = torch.aminmax

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(torch, "aminmax", counting)
    return calls


class TestFull:
    def test_default_mode_is_full(self):
        assert nz.get_input_checks() == "full"

    @pytest.mark.parametrize("bad,what", [(float("nan"), "1 NaN and 0 infinite"),
                                          (float("inf"), "0 NaN and 1 infinite"),
                                          (float("-inf"), "0 NaN and 1 infinite")])
    def test_nan_and_inf_pixels_are_refused(self, bad, what):
        x = images()
        x[1, 2, 3, 4] = bad
        with pytest.raises(ValueError, match=rf"x holds {what} pixel values out of 384.*nan_to_num"):
            nz.load("brightness")(x)

    def test_nan_in_half_precision_is_refused(self):
        x = images().half()
        x[0, 0, 0, 0] = float("nan")
        with pytest.raises(ValueError, match="NaN"):
            nz.load("contrast")(x)

    def test_range_messages_are_kept(self):
        G = nz.load("brightness")
        with pytest.raises(ValueError, match=r"min 0.* max 25[0-9.]*\. It looks like 0..255 data: divide by 255"):
            G(images() * 255)
        with pytest.raises(ValueError, match=r"values in \[0, 1\], got min -0\.[0-9]+ .*after the nuisance model"):
            G(images() - 0.5)
        G(images() * (1 + 0.5e-3))  # a resampling overshoot within the tolerance passes

    def test_one_reduction_per_tensor_version(self, monkeypatch):
        calls = count_aminmax(monkeypatch)
        G = nz.load("brightness")
        x = images()
        for _ in range(3):
            G(x)
            G.forward_multi(x, k=2)
        assert len(calls) == 1  # checked once, remembered by identity and version
        G(images(seed=1))
        assert len(calls) == 2  # a new tensor is checked
        x.mul_(0.5)  # an in-place change bumps the version: checked again
        G(x)
        assert len(calls) == 3

    def test_in_place_change_to_nan_is_caught_after_a_clean_check(self):
        G = nz.load("saturation")
        x = images()
        G(x)
        x[0, 0, 0, 0] = float("nan")
        with pytest.raises(ValueError, match="NaN"):
            G(x)

    def test_change_through_the_base_of_a_checked_view_is_caught(self):
        G = nz.load("brightness")
        base_batch = images(4)
        view = base_batch[:2]
        G(view)
        base_batch[1, 0, 0, 0] = 5.0  # views share their base's version counter
        with pytest.raises(ValueError, match="max 5"):
            G(view)

    def test_inference_tensors_are_checked_every_time(self):
        G = nz.load("brightness")
        with torch.inference_mode():
            x = images()
            G(x)
            x[0, 0, 0, 0] = float("nan")  # inference tensors keep no version counter
            with pytest.raises(ValueError, match="NaN"):
                G(x)

    def test_nan_delta_is_refused(self):
        with pytest.raises(ValueError, match="delta holds NaN"):
            nz.load("brightness")(images(), torch.tensor([[0.0], [float("nan")]]))


class TestAsync:
    def test_no_host_sync_in_forward_and_forward_multi(self, monkeypatch):
        """No .item(), .tolist() or bool(tensor) in any known model's call: what would stall an
        accelerator at every training step (issue 13 will count them in whole steps)."""
        models = [nz.load(n, shape=(3, 8, 8)) if n.startswith("additive-") else nz.load(n)
                  for n in nz.list_models(kind="known")]
        x = images(4)
        deltas = [G.sample_delta(4) for G in models]

        def refuse(*args, **kwargs):
            raise AssertionError("host sync in the async input-check mode")

        for name in ("item", "tolist", "__bool__"):
            monkeypatch.setattr(torch.Tensor, name, refuse)
        with nz.input_checks("async"):
            for G, d in zip(models, deltas):
                G(x, d)
                G(images(4, seed=5), d)  # a new tensor: the value test runs, still without a sync
                G(images(4, seed=6))  # δ drawn from the prior
                G.forward_multi(x, delta=d.unsqueeze(0).repeat(2, 1, 1))

    @pytest.mark.parametrize("bad", [float("nan"), 2.0, -1.0, float("inf")])
    def test_bad_pixels_raise_on_cpu(self, bad):
        x = images()
        x[0, 1, 2, 3] = bad
        with nz.input_checks("async"), pytest.raises(RuntimeError, match="NaN, infinite or out-of-\\[0, 1\\]"):
            nz.load("brightness")(x)

    def test_bad_delta_raises_on_cpu(self):
        with nz.input_checks("async"), pytest.raises(RuntimeError, match="delta holds NaN"):
            nz.load("brightness")(images(), torch.tensor([[0.0], [float("inf")]]))


class TestOff:
    def test_values_are_not_read_but_metadata_is_checked(self, monkeypatch):
        calls = count_aminmax(monkeypatch)
        G = nz.load("brightness")
        x = images()
        x[0, 0, 0, 0] = 7.0
        with nz.input_checks("off"):
            y = G(x, torch.zeros(2, 1))
            with pytest.raises(ValueError, match=r"\(C, H, W\) or \(B, C, H, W\)"):
                G(torch.rand(8, 8))
            with pytest.raises(TypeError, match="uint8"):
                G(torch.zeros(1, 3, 4, 4, dtype=torch.int32))
        assert calls == [] and y[0, 0, 0, 0] == 1.0  # unchecked: the clamp is all that happens


class TestSwitch:
    def test_context_manager_restores_the_mode_after_an_error(self):
        with pytest.raises(ZeroDivisionError):
            with nz.input_checks("off"):
                assert nz.get_input_checks() == "off"
                1 / 0
        assert nz.get_input_checks() == "full"

    def test_set_returns_previous_and_validates(self):
        assert nz.set_input_checks("async") == "full"
        assert nz.set_input_checks("full") == "async"
        with pytest.raises(ValueError, match=r"one of \('full', 'async', 'off'\), got 'fast'"):
            nz.set_input_checks("fast")

    def test_cache_holds_no_tensor_alive(self):
        import gc
        import weakref

        x = images()
        base.check_image(x)
        ref = weakref.ref(x)
        del x
        gc.collect()
        assert ref() is None

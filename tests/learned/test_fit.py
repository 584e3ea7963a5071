"""The trainer: artefacts, exact resume, returned A→B generator, CLI."""
from __future__ import annotations

import json

import pytest
import torch

from nuisance_zoo.learned.fit import CHECKPOINT_NAME, fit, load_checkpoint_state
from nuisance_zoo.learned.generator import MunitGenerator

# A trainer config small enough for a handful of iterations in a second or two.
TINY = {
    "preset": "small",
    "gen": {"dim": 4, "mlp_dim": 8, "style_width": 4, "style_n_downsample": 1},
    "dis": {"dim": 4, "n_layer": 2, "num_scales": 2},
    "batch_size": 2,
}


def domains(n: int = 6, c_b: int = 3):
    g = torch.Generator().manual_seed(1)
    a = torch.randint(0, 100, (n, 3, 16, 16), dtype=torch.uint8, generator=g)
    b = torch.randint(150, 256, (n, c_b, 16, 16), dtype=torch.uint8, generator=g)
    return a, b


def test_three_iterations_write_grid_checkpoint_log_and_model(tmp_path):
    a, b = domains()
    G = fit(a, b, config=TINY, iterations=3, out_dir=tmp_path, grid_every=2, checkpoint_every=2, progress=False,
            log_every=1)
    assert isinstance(G, MunitGenerator) and not G.training
    assert sorted(p.name for p in (tmp_path / "grids").iterdir()) == ["iter_0000002.png", "iter_0000003.png"]
    from PIL import Image

    grid = Image.open(tmp_path / "grids" / "iter_0000003.png")
    assert grid.size[0] > 16 * 8 and grid.size[1] > 16 * 12  # 8 columns, 2×6 rows of 16-pixel tiles
    run, tensors = load_checkpoint_state(tmp_path / CHECKPOINT_NAME)
    assert run["iteration"] == 3 and json.loads((tmp_path / "checkpoint.json").read_text())["iteration"] == 3
    assert any(k.startswith("optim.gen.state.") for k in tensors) and "rng.train" in tensors
    assert not list(tmp_path.glob("*.tmp"))
    log = [json.loads(line) for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert [r["iteration"] for r in log] == [1, 2, 3]
    assert all(set(r) >= {"D", "G", "x", "c", "s", "gan"} for r in log)
    # the saved model folder loads back to the same map
    H = MunitGenerator.from_pretrained(tmp_path / "model")
    x, d = torch.rand(2, 3, 16, 16), torch.randn(2, 2)
    assert torch.equal(H(x, d), G(x, d))


def test_resume_is_exact(tmp_path):
    a, b = domains()
    kw = dict(config=TINY, progress=False, grid_every=0, checkpoint_every=2, seed=3)
    G4 = fit(a, b, iterations=4, out_dir=tmp_path / "straight", **kw)
    fit(a, b, iterations=2, out_dir=tmp_path / "split", **kw)
    G22 = fit(a, b, iterations=4, out_dir=tmp_path / "split", resume=True, **kw)
    s4, s22 = G4.state_dict(), G22.state_dict()
    assert s4.keys() == s22.keys()
    assert all(torch.equal(s4[k], s22[k]) for k in s4)
    # and the full training state, discriminators and Adam moments included
    _, t4 = load_checkpoint_state(tmp_path / "straight" / CHECKPOINT_NAME)
    _, t22 = load_checkpoint_state(tmp_path / "split" / CHECKPOINT_NAME)
    assert t4.keys() == t22.keys() and all(torch.equal(t4[k], t22[k]) for k in t4)
    # a different seed gives a different model (the comparison above is not vacuous)
    G_other = fit(a, b, iterations=4, **{**kw, "seed": 4})
    assert not torch.equal(G_other.decoder.out.conv.pointwise.weight, G4.decoder.out.conv.pointwise.weight)


def test_resume_errors(tmp_path):
    a, b = domains()
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        fit(a, b, config=TINY, iterations=1, out_dir=tmp_path, resume=True, progress=False)
    fit(a, b, config=TINY, iterations=1, out_dir=tmp_path, progress=False, grid_every=0)
    with pytest.raises(ValueError, match="config differs"):
        fit(a, b, config={**TINY, "lr": 1e-3}, iterations=2, out_dir=tmp_path, resume=True, progress=False)


def test_domains_with_other_channel_counts_are_refused():
    # G(x, δ) keeps the input's shape (the contract), so colour → gray is a data-spec job.
    a, b = domains(c_b=1)
    with pytest.raises(ValueError, match=r"\(3, 16, 16\) and domain_b images \(1, 16, 16\)"):
        fit(a, b, config=TINY, iterations=1, progress=False)


def test_bad_data_errors():
    a, b = domains()
    with pytest.raises(ValueError, match="channels-last"):
        fit(a.permute(0, 2, 3, 1), b, config=TINY, iterations=1, progress=False)
    with pytest.raises(ValueError, match="divisible"):
        fit(a[..., :15, :15], b[..., :15, :15], config=TINY, iterations=1, progress=False)
    with pytest.raises(ValueError, match="too small for a discriminator"):
        fit(a[..., :4, :4], b[..., :4, :4], config={**TINY, "dis": {"n_layer": 4, "num_scales": 3, "pad_type": "reflect"}},
            iterations=1, progress=False)


def test_cli_fit_on_bundled_mnist_sample(tmp_path, capsys):
    from nuisance_zoo.cli import main

    (tmp_path / "tiny.json").write_text(json.dumps(TINY))
    rc = main(["fit", "--domain-a", "mnist-sample:train?labels=0&colorize=blue", "--domain-b",
               "mnist-sample:train?labels=0&colorize=red", "--out", str(tmp_path / "run"), "--iterations", "2",
               "--config", str(tmp_path / "tiny.json"), "--no-progress", "--threads", "1"])
    assert rc == 0
    assert (tmp_path / "run" / "model" / "config.json").is_file()
    assert (tmp_path / "run" / CHECKPOINT_NAME).is_file()
    assert "saved the A→B generator" in capsys.readouterr().out

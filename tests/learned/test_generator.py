"""The MUNIT-style generator: contract, statelessness, per-sample δ, gradients, configs."""
from __future__ import annotations

import json

import pytest
import torch

from nuisance_zoo.learned.config import FitConfig, GeneratorConfig
from nuisance_zoo.learned.generator import MunitGenerator, StyleEncoder

# The smallest config that still has every part: 2 channels, one down-sampling, one res block.
TINY = dict(in_channels=1, dim=2, mlp_dim=3, style_dim=2, n_downsample=1, n_res=1, style_n_downsample=1)


def tiny(**kw) -> MunitGenerator:
    torch.manual_seed(0)
    return MunitGenerator("paper", **{**TINY, **kw}).eval()


@pytest.mark.parametrize("preset", ["small", "paper"])
def test_shapes_range_dtype(preset):
    torch.manual_seed(0)
    G = MunitGenerator(preset).eval()
    x = torch.rand(3, 3, 16, 16)
    with torch.no_grad():
        y = G(x)
    assert y.shape == x.shape and y.dtype == torch.float32
    assert float(y.min()) >= 0.0 and float(y.max()) <= 1.0
    assert G.delta_dim == 2 and G.prior == "normal" and G.kind == "learned" and G.differentiable
    # uint8 in, uint8 out; single image (C, H, W) in, single image out
    assert G((x * 255).to(torch.uint8)).dtype == torch.uint8
    assert G(x[0]).shape == x[0].shape


def test_encode_decode_split_equals_forward():
    G = tiny(in_channels=3)
    x, d = torch.rand(4, 3, 8, 8), torch.randn(4, 2)
    assert torch.equal(G.decode(G.encode(x), d), G(x, d))
    imgs, deltas = G.forward_multi(x, delta=torch.randn(3, 4, 2))
    for i in range(3):
        torch.testing.assert_close(imgs[i], G(x, deltas[i]), rtol=1e-5, atol=1e-6)


def test_decode_is_stateless():
    G = tiny()
    c = G.encode(torch.rand(2, 1, 8, 8))
    d1, d2 = torch.randn(2, 2), torch.randn(2, 2) * 3
    first = G.decode(c, d1)
    other = G.decode(c, d2)
    again = G.decode(c, d1)
    assert not torch.equal(first, other)
    assert torch.equal(first, again)
    assert {k for k, _ in G.named_buffers()} <= {"delta_low", "delta_high"}


def test_per_sample_delta_rows_are_independent():
    G = tiny()
    x = torch.rand(1, 1, 8, 8).expand(3, -1, -1, -1)
    d = torch.randn(3, 2)
    batched = G(x, d)
    for i in range(3):
        torch.testing.assert_close(batched[i:i + 1], G(x[i:i + 1], d[i:i + 1]), rtol=1e-5, atol=1e-6)
    assert not torch.allclose(batched[0], batched[1])


def test_gradcheck_decode_wrt_delta_float64():
    G = tiny().double()
    c = G.encode(torch.rand(2, 1, 4, 4, dtype=torch.float64)).detach()
    d = torch.randn(2, 2, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda dd: G.decode(c, dd), (d,), eps=1e-6, atol=1e-5)


def test_float64_input_on_float32_model_returns_float64():
    G = tiny()
    x = torch.rand(2, 1, 8, 8, dtype=torch.float64)
    d = torch.randn(2, 2, dtype=torch.float64)
    y = G(x, d)
    assert y.dtype == torch.float64
    torch.testing.assert_close(y.float(), G(x.float(), d.float()))


def test_bad_inputs_have_clear_errors():
    G = tiny()
    with pytest.raises(ValueError, match="reads 1-channel images"):
        G(torch.rand(2, 3, 8, 8))
    with pytest.raises(ValueError, match="divisible by 2\\*\\*n_downsample"):
        G(torch.rand(2, 1, 7, 8))
    with pytest.raises(ValueError, match="delta"):
        G(torch.rand(2, 1, 8, 8), torch.randn(2, 3))
    with pytest.raises(FileNotFoundError, match="neither a preset"):
        MunitGenerator("huge")
    with pytest.raises(ValueError, match="activ"):
        MunitGenerator("small", activ="gelu")


def test_config_round_trip_rebuilds_the_same_network():
    G = tiny(separable=True, pad_type="zero")
    H = MunitGenerator(**json.loads(json.dumps(G.config())))
    assert H.cfg == G.cfg
    H.load_state_dict(G.state_dict())
    x, d = torch.rand(2, 1, 8, 8), torch.randn(2, 2)
    assert torch.equal(H(x, d), G(x, d))


def test_config_files_json_yaml_and_munit_spelling(tmp_path):
    (tmp_path / "g.json").write_text(json.dumps({"preset": "small", "style_dim": 3}))
    assert GeneratorConfig.from_file(tmp_path / "g.json") == GeneratorConfig.preset("small", style_dim=3)
    # MUNIT's own YAML (its keys and spelling) loads as a FitConfig
    (tmp_path / "munit.yaml").write_text(
        "max_iter: 30000\nbatch_size: 1\nweight_decay: 0.0001\nbeta1: 0.5\nbeta2: 0.999\ninit: kaiming\n"
        "lr: 0.0001\nlr_policy: step\nstep_size: 100000\ngamma: 0.5\ngan_w: 1\nrecon_x_w: 10\nrecon_s_w: 1\n"
        "recon_c_w: 1\nrecon_x_cyc_w: 0\nvgg_w: 0\ngen:\n  dim: 64\n  mlp_dim: 256\n  style_dim: 2\n"
        "  activ: relu\n  n_downsample: 1\n  n_res: 1\n  pad_type: reflect\ndis:\n  dim: 64\n  norm: none\n"
        "  activ: lrelu\n  n_layer: 3\n  gan_type: lsgan\n  num_scales: 3\n  pad_type: reflect\n"
        "input_dim_a: 3\ninput_dim_b: 3\nnum_workers: 8\nnew_size: 32\n")
    cfg = FitConfig.load(tmp_path / "munit.yaml")
    assert cfg.iterations == 30000 and cfg.betas == (0.5, 0.999) and cfg.lr_step == 100000
    assert cfg.gen == GeneratorConfig.preset("paper") and cfg.dis.n_layer == 3
    (tmp_path / "bad.yaml").write_text("gen:\n  dimm: 3\n")
    with pytest.raises(ValueError, match="dimm"):
        FitConfig.load(tmp_path / "bad.yaml")


def test_table12_defaults():
    c = FitConfig.preset("paper")
    assert (c.recon_x_w, c.recon_c_w, c.recon_s_w, c.gan_w) == (10.0, 1.0, 1.0, 1.0)
    assert (c.lr, c.betas, c.weight_decay, c.lr_gamma, c.batch_size) == (1e-4, (0.5, 0.999), 1e-4, 0.5, 1)
    g = c.gen
    assert (g.dim, g.mlp_dim, g.style_dim, g.n_downsample, g.n_res) == (64, 256, 2, 1, 1)


def test_style_encoder_shape():
    cfg = GeneratorConfig.preset("paper", **TINY)
    assert StyleEncoder(cfg)(torch.rand(3, 1, 8, 8)).shape == (3, 2)


def test_small_is_much_cheaper_than_paper():
    n_small = sum(p.numel() for p in MunitGenerator("small").parameters())
    n_paper = sum(p.numel() for p in MunitGenerator("paper").parameters())
    assert n_small * 10 < n_paper

"""Import the paper authors' MUNIT checkpoints (``gen_XXXXXXXX.pt``) into a :class:`MunitGenerator`.

A MUNIT generator checkpoint holds ``{"a": state_dict, "b": state_dict}``: one ``AdaINGen`` per
domain. Its YAML config gives the architecture (``gen``: ``dim``, ``mlp_dim``, ``style_dim``,
``n_downsample``, ``n_res``, ``activ``, ``pad_type``) and the image channels
(``input_dim_a``/``input_dim_b``). The A→B model of natural variation is
``Dec_b(Enc_a^content(x), δ)``: content encoder of ``a``, MLP and decoder of ``b``.

The file is read with ``torch.load(..., weights_only=True)``: tensors and containers only,
no code runs. Every tensor of the two state dicts is accounted for: mapped to our layout,
or one of the parts the translation does not use (the style encoders, the other side's
encoder/decoder, AdaIN's unused running-statistics buffers); anything else is an error.

MUNIT's key layout (from its public description): ``enc_content.model.0`` first conv block;
``enc_content.model.{1..n}`` down-sampling blocks; ``enc_content.model.{n+1}.model.{j}.model.{0,1}``
residual blocks; ``dec.model.0.model.{j}.model.{0,1}`` AdaIN residual blocks;
``dec.model.{2+2i}`` up-sampling conv blocks (after an ``Upsample`` at ``{1+2i}``) with layer
norm ``norm.gamma``/``norm.beta``; ``dec.model.{1+2n}`` last conv; ``mlp.model.{i}.fc``.
Each conv block stores ``conv.weight`` and ``conv.bias``.

Example:
    >>> # G = import_munit("outputs/mnist/checkpoints/gen_00030000.pt", "configs/mnist.yaml")
    >>> # G.save_pretrained("hub_cards/mnist-colour")
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Mapping

import torch
from torch import Tensor

from .config import GeneratorConfig, load_config_file
from .generator import MunitGenerator

__all__ = ["import_munit", "munit_key_map", "convert_munit_state_dicts"]

_DIRECTIONS = {"a2b": ("a", "b"), "b2a": ("b", "a")}


def munit_key_map(cfg: GeneratorConfig) -> dict[str, str]:
    """MUNIT ``AdaINGen`` key → our :class:`MunitGenerator` key, for one domain's generator.

    Covers the content encoder, the MLP and the decoder (everything ``G`` uses).
    """
    m: dict[str, str] = {}

    def conv(src: str, dst: str) -> None:
        for p in ("weight", "bias"):
            m[f"{src}.conv.{p}"] = f"{dst}.conv.{p}"

    conv("enc_content.model.0", "content.stem")
    for i in range(cfg.n_downsample):
        conv(f"enc_content.model.{1 + i}", f"content.down.{i}")
    res = f"enc_content.model.{1 + cfg.n_downsample}"
    for j in range(cfg.n_res):
        conv(f"{res}.model.{j}.model.0", f"content.res.{j}.conv1")
        conv(f"{res}.model.{j}.model.1", f"content.res.{j}.conv2")
        conv(f"dec.model.0.model.{j}.model.0", f"decoder.res.{j}.conv1")
        conv(f"dec.model.0.model.{j}.model.1", f"decoder.res.{j}.conv2")
    for i in range(cfg.n_downsample):
        conv(f"dec.model.{2 + 2 * i}", f"decoder.up.{i}.block")
        m[f"dec.model.{2 + 2 * i}.norm.gamma"] = f"decoder.up.{i}.block.norm.gamma"
        m[f"dec.model.{2 + 2 * i}.norm.beta"] = f"decoder.up.{i}.block.norm.beta"
    conv(f"dec.model.{1 + 2 * cfg.n_downsample}", "decoder.out")
    for i in range(cfg.n_mlp):
        for p in ("weight", "bias"):
            m[f"mlp.model.{i}.fc.{p}"] = f"mlp.layers.{i}.{p}"
    return m


# Keys a MUNIT generator has that the translation does not use: the style encoder (training
# only) and AdaIN's dummy running statistics (AdaIN always uses instance statistics).
_UNUSED = re.compile(r"^(enc_style\..*|dec\.model\.0\.model\.\d+\.model\.[01]\.norm\.running_(mean|var))$")


def _munit_config(config: Any) -> tuple[dict, dict]:
    """``(gen_section, channels)`` from a MUNIT YAML path, a full config dict or a gen dict."""
    if isinstance(config, (str, Path)):
        config = load_config_file(config)
    if not isinstance(config, Mapping):
        raise TypeError(f"config must be a MUNIT YAML path or dict, got {type(config).__name__}.")
    gen = config.get("gen", config)
    channels = {"a": int(config.get("input_dim_a", 3)), "b": int(config.get("input_dim_b", 3))}
    return dict(gen), channels


def convert_munit_state_dicts(states: Mapping[str, Mapping[str, Tensor]], gen: dict, channels: dict,
                              direction: str = "a2b", io: str = "unit") -> MunitGenerator:
    """Build the cross-domain :class:`MunitGenerator` from MUNIT's ``{"a": sd, "b": sd}``.

    Args:
        states: the two ``AdaINGen`` state dicts.
        gen: the YAML ``gen`` section.
        channels: ``{"a": input_dim_a, "b": input_dim_b}``.
        direction: ``"a2b"`` (``Dec_b(Enc_a^c(x), δ)``, the paper's use) or ``"b2a"``.
        io: ``"unit"`` when the checkpoint was trained on [0, 1] images (the authors' code),
            ``"symmetric"`` for MUNIT's own [-1, 1] normalisation.

    Raises:
        ValueError: a missing, unexpected or mis-shaped tensor (all are listed).
    """
    if direction not in _DIRECTIONS:
        raise ValueError(f"direction must be 'a2b' or 'b2a', got {direction!r}.")
    missing_sides = [k for k in ("a", "b") if k not in states]
    if missing_sides:
        raise ValueError(f"a MUNIT generator checkpoint holds {{'a': ..., 'b': ...}}; missing {missing_sides} "
                         f"(found keys {sorted(states)[:5]}). Pass the gen_*.pt file, not dis_*.pt or optimizer.pt.")
    src, dst = _DIRECTIONS[direction]
    side_cfg = {k: GeneratorConfig.from_munit(gen, channels[k]) for k in ("a", "b")}
    enc_map = {k: v for k, v in munit_key_map(side_cfg[src]).items() if v.startswith("content.")}
    dec_map = {k: v for k, v in munit_key_map(side_cfg[dst]).items() if not v.startswith("content.")}

    problems: list[str] = []
    for side in ("a", "b"):
        full = munit_key_map(side_cfg[side])
        keys = set(states[side])
        missing = sorted(set(full) - keys)
        unexpected = sorted(k for k in keys - set(full) if not _UNUSED.match(k))
        if missing:
            problems.append(f"'{side}' lacks {missing[:6]}{' ...' if len(missing) > 6 else ''}")
        if unexpected:
            hint = ""
            if any(k.endswith(("running_mean", "num_batches_tracked")) for k in unexpected):
                hint = (" (instance norms with running statistics come from a MUNIT version whose eval mode "
                        "differs; not supported)")
            problems.append(f"'{side}' has unexpected {unexpected[:6]}{' ...' if len(unexpected) > 6 else ''}{hint}")
    if problems:
        raise ValueError("the checkpoint does not match the MUNIT config (dim, n_downsample, n_res, mlp_dim, "
                         "style_dim, input_dim_a/b): " + "; ".join(problems) + ".")

    cfg = GeneratorConfig.from_munit(gen, channels[src], channels[dst])
    if io != cfg.io:
        from dataclasses import replace

        cfg = replace(cfg, io=io)
    G = MunitGenerator(cfg)
    ours = {v: states[src][k] for k, v in enc_map.items()}
    ours.update({v: states[dst][k] for k, v in dec_map.items()})
    expected = G.state_dict()
    shapes = [f"{k}: file {tuple(t.shape)} vs model {tuple(expected[k].shape)}"
              for k, t in ours.items() if tuple(t.shape) != tuple(expected[k].shape)]
    if shapes:
        raise ValueError("MUNIT tensors do not fit the config: " + "; ".join(shapes[:6]) + ".")
    missing = sorted(set(expected) - set(ours))
    if missing:  # pragma: no cover - munit_key_map covers every parameter by construction
        raise AssertionError(f"internal: unmapped generator keys {missing}")
    G.load_state_dict({k: v.to(expected[k].dtype) for k, v in ours.items()}, strict=True)
    return G.eval()


def import_munit(path: str | Path, config: Any, direction: str = "a2b", io: str = "unit") -> MunitGenerator:
    """Load a MUNIT ``gen_*.pt`` checkpoint as the zoo's ``G(x, δ)``.

    Args:
        path: the generator checkpoint (``{"a": state_dict, "b": state_dict}``), read with
            ``torch.load(path, map_location="cpu", weights_only=True)``.
        config: the run's MUNIT YAML (path or dict), or just its ``gen`` section (channels
            then default to 3).
        direction: ``"a2b"`` (default): ``G(x, δ) = Dec_b(Enc_a^c(x), δ)``; ``"b2a"`` the reverse.
        io: ``"unit"`` (default; the authors fed [0, 1] images and clamp the tanh output to
            [0, 1]) or ``"symmetric"`` (MUNIT's [-1, 1] convention).

    Returns:
        A :class:`MunitGenerator` in eval mode; save it with ``G.save_pretrained(folder)``.

    Example:
        >>> # G = import_munit("gen_00030000.pt", "mnist.yaml"); G(x, delta)
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"MUNIT checkpoint {path} not found; give the gen_XXXXXXXX.pt file.")
    try:
        states = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # the safe unpickler refuses anything but tensors and containers
        raise ValueError(f"{path} could not be read as tensors only (weights_only=True): {e}. It is not a plain "
                         f"MUNIT generator checkpoint; nothing from it was executed.") from e
    if not isinstance(states, Mapping):
        raise ValueError(f"{path} holds a {type(states).__name__}, not MUNIT's {{'a': state_dict, 'b': state_dict}}.")
    gen, channels = _munit_config(config)
    return convert_munit_state_dicts(states, gen, channels, direction=direction, io=io)

"""Pictures of a nuisance model: 2-D slices of Δ (the paper's Figures 14, 22, 24, 36) and galleries.

Example:
    >>> import torch, nuisance_zoo as nz
    >>> from nuisance_zoo.eval import delta_grid
    >>> G = nz.load("haze")
    >>> tiles = delta_grid(G, torch.rand(3, 32, 32), dims=(0, 1), steps=5)
    >>> tiles.shape                    # rows × cols × C × H × W
    torch.Size([5, 5, 3, 32, 32])
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import torch
from torch import Tensor

from ..base import NuisanceModel, check_delta, check_image, check_range

__all__ = ["delta_grid", "gallery", "save_image_grid", "load_image"]


@torch.no_grad()
def delta_grid(
    G,
    image: Tensor,
    dims: Sequence[int] = (0, 1),
    value_range: tuple[float, float] | None = None,
    steps: int = 7,
    base_delta: Tensor | None = None,
) -> Tensor:
    """Apply G to one image over a regular grid on a 2-D (or 1-D) slice of Δ.

    Coordinates of δ outside ``dims`` are held at ``base_delta`` (default:
    ``G.reference_delta()``: the identity δ if the model has one, else the centre of the box,
    else 0 for a normal prior; per part for a composition).

    Args:
        G: a nuisance model.
        image: ``(C, H, W)`` float in [0, 1] or uint8.
        dims: the one or two coordinates of δ to sweep.
        value_range: ``(a, b)`` swept on every chosen axis; default: ``G.delta_range()`` per axis
            (Δ's bounds; ±2 for N(0, I)).
        steps: grid points per axis.
        base_delta: ``(delta_dim,)`` values for the other coordinates.

    Returns:
        ``(rows, cols, C, H, W)`` float tensor in [0, 1] (rows = 1 when one dim is given).
        Grid points outside Δ show ``G`` at their projection onto Δ (as every call of ``G`` does).
    """
    if not isinstance(G, NuisanceModel):
        raise TypeError(f"delta_grid: G must be a NuisanceModel, got {type(G).__name__}.")
    check_image(image, "image")
    if image.ndim != 3:
        raise ValueError(f"delta_grid takes one image (C, H, W), got shape {tuple(image.shape)}.")
    dims = [dims] if isinstance(dims, int) else list(dims)
    if not 1 <= len(dims) <= 2 or len(set(dims)) != len(dims):
        raise ValueError(f"dims must name one or two different coordinates of δ, got {dims}.")
    for d in dims:
        if isinstance(d, bool) or not isinstance(d, int):
            raise ValueError(f"delta_grid: dims must hold coordinate indices (ints), got {d!r}.")
        if not 0 <= d < G.delta_dim:
            raise ValueError(f"dim {d} is outside δ's {G.delta_dim} coordinates (0..{G.delta_dim - 1}).")
    steps = check_range("steps", steps, 1, integer=True, why="grid points per axis", model="delta_grid")
    x = image.float() / 255.0 if image.dtype == torch.uint8 else image.float()
    x = x.to(G.device)
    if base_delta is None:
        base = G.reference_delta(1, device=x.device, dtype=x.dtype)[0]
    else:
        base = torch.as_tensor(base_delta, dtype=x.dtype, device=x.device).flatten()
        if base.numel() != G.delta_dim:
            raise ValueError(f"base_delta must have G.delta_dim = {G.delta_dim} values, got {base.numel()}.")
        check_delta(base.unsqueeze(0), 1, G.delta_dim, name="base_delta")  # finite values
    if value_range is not None:
        if len(tuple(value_range)) != 2:
            raise ValueError(f"delta_grid: value_range must be a pair (a, b), got {value_range!r}.")
        a = check_range("value_range[0]", value_range[0], model="delta_grid")
        b = check_range("value_range[1]", value_range[1], a, why="b >= a", model="delta_grid")
        lo, hi = [a] * len(dims), [b] * len(dims)
    else:
        low, high = G.delta_range(device="cpu", dtype=torch.float64)
        lo, hi = [float(low[d]) for d in dims], [float(high[d]) for d in dims]
    axes = [torch.linspace(a, b, steps, dtype=x.dtype, device=x.device) for a, b in zip(lo, hi)]
    rows = axes[0] if len(dims) == 2 else torch.zeros(1, dtype=x.dtype, device=x.device)
    cols = axes[-1]
    delta = base.repeat(len(rows) * len(cols), 1)
    rr, cc = torch.meshgrid(rows, cols, indexing="ij")
    if len(dims) == 2:
        delta[:, dims[0]] = rr.flatten()
    delta[:, dims[-1]] = cc.flatten()
    out = G(x.unsqueeze(0).expand(delta.shape[0], -1, -1, -1), delta)
    return out.view(len(rows), len(cols), *x.shape)


@torch.no_grad()
def gallery(models: dict, images: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """One row per model: the clean images, then each model applied at a prior draw.

    Returns:
        ``(len(models) + 1, N, C, H, W)`` float tensor; row 0 is the clean batch.
    """
    x = images.float() / 255.0 if images.dtype == torch.uint8 else images.float()
    rows = [x]
    for G in models.values():
        rows.append(G(x, generator=generator).float())
    return torch.stack(rows)


def save_image_grid(tiles: Tensor, path: str | Path, pad: int = 2, scale: int = 2,
                    row_labels: Sequence[str] | None = None) -> Path:
    """Write a ``(rows, cols, C, H, W)`` tensor of images in [0, 1] as one PNG.

    Args:
        tiles: images to tile; gray (C = 1) is written as gray.
        path: output ``.png`` path (parent folders are created).
        pad: white pixels between tiles.
        scale: nearest-neighbour up-scaling, so 32×32 images are visible.
        row_labels: optional text drawn left of each row.
    """
    from PIL import Image, ImageDraw

    if tiles.ndim != 5:
        raise ValueError(f"tiles must be (rows, cols, C, H, W), got {tuple(tiles.shape)}.")
    r, c, ch, h, w = tiles.shape
    t = tiles.detach().float().clamp(0, 1).cpu()
    if ch == 1:
        t = t.expand(-1, -1, 3, -1, -1)
    t = t[:, :, :3]
    if scale > 1:
        t = t.repeat_interleave(scale, dim=3).repeat_interleave(scale, dim=4)
        h, w = h * scale, w * scale
    label_w = 0 if not row_labels else 8 + 7 * max(len(s) for s in row_labels)
    canvas = torch.ones(3, r * (h + pad) + pad, label_w + c * (w + pad) + pad)
    for i in range(r):
        for j in range(c):
            y0, x0 = pad + i * (h + pad), label_w + pad + j * (w + pad)
            canvas[:, y0:y0 + h, x0:x0 + w] = t[i, j]
    img = Image.fromarray((canvas.permute(1, 2, 0).numpy() * 255).round().astype("uint8"))
    if row_labels:
        draw = ImageDraw.Draw(img)
        for i, s in enumerate(row_labels):
            draw.text((4, pad + i * (h + pad) + h // 2 - 5), s, fill=(0, 0, 0))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path)
    return path


def load_image(path: str | Path, size: int | None = None) -> Tensor:
    """Read an image file as a float ``(C, H, W)`` tensor in [0, 1] (RGB, or gray if the file is).

    8-bit files are divided by 255; 16-bit gray files (PNG ``I;16``) by 65535.
    """
    import numpy as np
    from PIL import Image

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no image at {path}")
    img = Image.open(path)
    if img.mode.startswith("I"):
        # 16-bit gray ("I;16", "I;16B", or "I" as PIL reads 16-bit PNGs): convert("L") would clip
        # every value above 255 to white, so scale by the 16-bit maximum instead.
        arr = torch.from_numpy(np.asarray(img).astype(np.float32) / 65535.0).clamp(0, 1)[None]
        if size is not None:
            arr = torch.nn.functional.interpolate(arr[None], size=(size, size), mode="bilinear",
                                                  align_corners=False, antialias=True)[0].clamp(0, 1)
        return arr
    img = img.convert("L") if img.mode in ("L", "1") else img.convert("RGB")
    if size is not None:
        img = img.resize((size, size), Image.BILINEAR)
    arr = torch.from_numpy(np.asarray(img).copy())
    arr = arr.unsqueeze(0) if arr.ndim == 2 else arr.permute(2, 0, 1)
    return arr.float() / 255.0

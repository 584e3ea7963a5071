"""`nuisance-zoo grid NAME --image PATH -o grid.png`: a 2-D slice of Δ as a picture."""
from __future__ import annotations

from .argtypes import int_at_least


def register(sub) -> None:
    p = sub.add_parser("grid", help="picture G(x, δ) over a 2-D slice of Δ (like the paper's Figs. 14, 22, 24)")
    p.add_argument("name", help="model name")
    p.add_argument("--image", required=True, help="input image file (PNG/JPEG)")
    p.add_argument("-o", "--out", default="grid.png", help="output PNG (default grid.png)")
    p.add_argument("--dims", nargs="+", type=int, default=None, metavar="I",
                   help="one or two coordinates of δ to sweep (default: 0 1, or 0 for 1-D Δ)")
    p.add_argument("--range", nargs=2, type=float, default=None, metavar=("A", "B"),
                   help="swept interval on each axis (default: Δ's bounds, ±2 for a normal prior)")
    p.add_argument("--steps", type=int_at_least(1), default=7, help="grid points per axis (default 7)")
    p.add_argument("--size", type=int_at_least(1), default=None, help="resize the image to SIZE×SIZE first")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..eval.grid import delta_grid, load_image, save_image_grid
    from ..registry import load

    G = load(args.name)
    dims = args.dims if args.dims is not None else ([0, 1] if G.delta_dim >= 2 else [0])
    image = load_image(args.image, size=args.size)
    tiles = delta_grid(G, image, dims=dims, value_range=args.range, steps=args.steps)
    out = save_image_grid(tiles, args.out)
    print(f"wrote {out} ({tiles.shape[0]}×{tiles.shape[1]} grid over δ{dims} of {args.name})")
    return 0

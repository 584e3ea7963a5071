"""Draw docs/architecture.png, the picture of the package's layers (docs/architecture.md).

Run ``python docs/make_architecture_png.py``; it needs only Pillow. Keep it in step with
``tests/test_layers.py`` (the rules) when a layer changes.
"""
from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

OUT = Path(__file__).resolve().parent / "architecture.png"
W, H = 1300, 800
BAND_H, GAP, LEFT, TOP = 112, 30, 150, 70
DATA_X = 1030  # the side layer's column

#: (layer label, [(box text, sub text)]), top layer first.
LAYERS = [
    ("4  app", [("cli/", "nuisance-zoo ..."), ("__init__.py", "the public names"), ("demo.py  reproduce/", "the paper, end to end")]),
    ("3  training, eval", [("training/", "wrappers, trainer, metrics"), ("eval/", "robustness, grids")]),
    ("2  hub, registry", [("hub.py", "names of repos → verified files"), ("registry.py  zoo.py", "names → models")]),
    ("1  models", [("known/", "analytic models"), ("learned/", "generators, fit"), ("adapters/", "other libraries")]),
    ("0  base", [("base.py", "contract"), ("catalogue.py", "name tables"), ("checkpoint.py", "run state"),
                 ("run_lock.py", "one run per out"), ("model_folder.py", "folder checks")]),
]
#: Allowed imports inside a layer, as (layer index, from box, to box).
SIDEWAYS = [(1, 1, 0), (2, 1, 0), (3, 1, 0)]
COLOURS = ["#f6d7a7", "#c9e4de", "#c6def1", "#dbcdf0", "#f2c6de"]


def font(size: int, bold: bool = False) -> ImageFont.ImageFont:
    name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
    try:
        return ImageFont.truetype(f"/usr/share/fonts/truetype/dejavu/{name}", size)
    except OSError:
        return ImageFont.load_default(size=size)


def arrow(d: ImageDraw.ImageDraw, x0: float, y0: float, x1: float, y1: float, fill: str = "#333", width: int = 3) -> None:
    """A line with a head at (x1, y1)."""
    import math

    d.line([(x0, y0), (x1, y1)], fill=fill, width=width)
    ang = math.atan2(y1 - y0, x1 - x0)
    for s in (-0.45, 0.45):
        d.line([(x1, y1), (x1 - 14 * math.cos(ang + s), y1 - 14 * math.sin(ang + s))], fill=fill, width=width)


def main() -> Path:
    img = Image.new("RGB", (W, H), "white")
    d = ImageDraw.Draw(img)
    d.text((LEFT, 18), "nuisance_zoo: imports point down (and only along the drawn arrows inside a layer)",
           fill="#111", font=font(20, bold=True))
    centres: dict[tuple[int, int], tuple[float, float, float, float]] = {}
    for row, (label, boxes) in enumerate(LAYERS):
        y = TOP + row * (BAND_H + GAP)
        d.rounded_rectangle([LEFT, y, DATA_X - 30, y + BAND_H], radius=14, fill=COLOURS[row], outline="#555")
        d.text((14, y + 22), label.split("  ")[0], fill="#111", font=font(30, bold=True))
        d.text((14, y + 62), label.split("  ")[1], fill="#333", font=font(13))
        inner = DATA_X - 30 - LEFT - 20
        bw = inner / len(boxes)
        for i, (title, sub) in enumerate(boxes):
            x0 = LEFT + 10 + i * bw + 8
            x1 = x0 + bw - 16
            y0, y1 = y + 18, y + BAND_H - 18
            d.rounded_rectangle([x0, y0, x1, y1], radius=10, fill="white", outline="#333", width=2)
            d.text((x0 + 10, y0 + 12), title, fill="#111", font=font(17 if len(boxes) < 5 else 14, bold=True))
            d.text((x0 + 10, y0 + 42), sub, fill="#444", font=font(13))
            centres[(row, i)] = (x0, y0, x1, y1)
    for row, src, dst in SIDEWAYS:
        sx0, sy0, sx1, sy1 = centres[(row, src)]
        tx0, ty0, tx1, ty1 = centres[(row, dst)]
        mid = (sy0 + sy1) / 2
        arrow(d, sx0, mid, tx1 + 2, mid, fill="#b03030")
    # the downward rule
    arrow(d, 128, TOP + 10, 128, TOP + 5 * (BAND_H + GAP) - GAP - 10, fill="#888", width=2)
    # the side layer
    y0, y1 = TOP + 1 * (BAND_H + GAP), TOP + 4 * (BAND_H + GAP) - GAP
    d.rounded_rectangle([DATA_X, y0, W - 20, y1], radius=14, fill="#e8e8e8", outline="#555", width=2)
    d.text((DATA_X + 16, y0 + 16), "data/", fill="#111", font=font(20, bold=True))
    for k, line in enumerate(["side layer: data sets,", "curation, specs.", "Knows no models:", "imports only base.",
                              "", "Imported by", "training, eval, app", "and learned/fit*."]):
        d.text((DATA_X + 16, y0 + 56 + 22 * k), line, fill="#333", font=font(14))
    arrow(d, (DATA_X + W - 20) / 2, y1, (DATA_X + W - 20) / 2, TOP + 4 * (BAND_H + GAP) + 8, fill="#888", width=2)
    d.text((LEFT, H - 30), "red: allowed imports inside a layer (learned → known, registry → hub, eval → training). "
           "Checked by tests/test_layers.py.", fill="#b03030", font=font(14))
    img.save(OUT, optimize=True)
    return OUT


if __name__ == "__main__":
    print(main())

"""A small line chart drawn with PIL (matplotlib is not a dependency): curves, axes, legend.

Example:
    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "c.png")
    >>> line_plot({"MDA-5": ([1, 2, 3], [50.0, 70.0, 80.0])}, "row", "epoch", "accuracy (%)", p)
    >>> os.path.getsize(p) > 0
    True
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

__all__ = ["line_plot", "PALETTE"]

#: Distinguishable colours (Okabe–Ito, then extras) in column order.
PALETTE = [(0, 0, 0), (230, 159, 0), (86, 180, 233), (0, 158, 115), (213, 94, 0), (0, 114, 178),
           (204, 121, 167), (120, 120, 120), (160, 60, 60)]


def line_plot(series: dict[str, tuple[Sequence[float], Sequence[float]]], title: str, xlabel: str,
              ylabel: str, path: str | Path, y_range: tuple[float, float] = (0.0, 100.0),
              size: tuple[int, int] = (840, 420)) -> None:
    """Draw ``{label: (xs, ys)}`` as lines with markers and write a PNG to ``path``.

    Args:
        series: one curve per label; x values are numbers (epochs, levels).
        title: drawn above the plot.
        xlabel, ylabel: axis names.
        path: the PNG to write (folders are created).
        y_range: the y axis (accuracy in percent by default).
        size: image width and height in pixels.
    """
    from PIL import Image, ImageDraw, ImageFont

    W, H = size
    left, right, top, bottom = 60, 290, 34, 46
    img = Image.new("RGB", (W, H), "white")
    d = ImageDraw.Draw(img)
    font = ImageFont.load_default()
    xs_all = [float(x) for xs, _ in series.values() for x in xs] or [0.0, 1.0]
    x0, x1 = min(xs_all), max(xs_all)
    if x1 == x0:
        x0, x1 = x0 - 1, x1 + 1
    y0, y1 = y_range
    pw, ph = W - left - right, H - top - bottom

    def px(x: float, y: float) -> tuple[float, float]:
        return left + (x - x0) / (x1 - x0) * pw, top + (1 - (y - y0) / (y1 - y0)) * ph

    d.rectangle([left, top, left + pw, top + ph], outline=(0, 0, 0))
    for i in range(6):  # y grid every fifth of the range
        y = y0 + (y1 - y0) * i / 5
        _, yy = px(x0, y)
        d.line([left, yy, left + pw, yy], fill=(225, 225, 225))
        d.text((left - 8, yy), f"{y:g}", fill=(0, 0, 0), font=font, anchor="rm")
    ticks = sorted(set(xs_all))
    if len(ticks) > 12:  # thin the x ticks to about ten
        step = -(-len(ticks) // 10)
        ticks = ticks[::step]
    for x in ticks:
        xx, _ = px(x, y0)
        d.text((xx, top + ph + 6), f"{x:g}", fill=(0, 0, 0), font=font, anchor="mt")
    d.text((left + pw / 2, H - 14), xlabel, fill=(0, 0, 0), font=font, anchor="mm")
    d.text((8, top - 16), ylabel, fill=(0, 0, 0), font=font)
    d.text((left + pw / 2, 12), title, fill=(0, 0, 0), font=font, anchor="mm")
    for i, (label, (xs, ys)) in enumerate(series.items()):
        colour = PALETTE[i % len(PALETTE)]
        pts = [px(float(x), float(y)) for x, y in zip(xs, ys)]
        if len(pts) > 1:
            d.line(pts, fill=colour, width=2)
        for x, y in pts:
            d.ellipse([x - 3, y - 3, x + 3, y + 3], fill=colour)
        ly = top + 8 + 16 * i
        d.line([left + pw + 12, ly, left + pw + 32, ly], fill=colour, width=3)
        d.text((left + pw + 38, ly), label, fill=(0, 0, 0), font=font, anchor="lm")
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    img.save(path)

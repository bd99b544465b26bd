"""One look for every figure in the book.

>>> from xent.plotting import use_style, COLORS
>>> use_style()
>>> COLORS["target"], COLORS["prediction"]
('#009E73', '#0072B2')

Call :func:`use_style` once at the top of a chapter; use :data:`COLORS` for the roles that recur
("target", "prediction", "loss", ...) so that, say, a target is the same green in every chapter.
Matplotlib is imported only here, so ``import xent`` stays light.
"""

from __future__ import annotations

__all__ = ["COLORS", "use_style"]

#: Colours by role (colour-blind-safe, from the Okabe-Ito palette).
COLORS = {
    "target": "#009E73",  # green: the truth, y or p
    "prediction": "#0072B2",  # blue: the model, q or p-hat
    "loss": "#D55E00",  # vermillion: cross-entropy and friends
    "gradient": "#CC79A7",  # purple: derivatives
    "baseline": "#7F7F7F",  # grey: naive forms, references, chance level
    "accent": "#E69F00",  # orange: a second method (MSE, smoothing, ...)
    "neutral": "#56B4E9",  # sky blue: anything else
}

_CYCLE = [COLORS[k] for k in ("prediction", "loss", "target", "accent", "gradient", "neutral", "baseline")]


def use_style() -> None:
    """Set matplotlib's defaults for the book: size, fonts, grid, colour cycle, small PNGs."""
    import matplotlib as mpl
    from cycler import cycler

    mpl.rcParams.update(
        {
            "figure.figsize": (6.4, 3.6),
            "figure.dpi": 100,
            "savefig.dpi": 100,
            "figure.constrained_layout.use": True,
            "font.size": 10.5,
            "axes.titlesize": 11,
            "axes.labelsize": 10.5,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "axes.grid": True,
            "grid.alpha": 0.3,
            "axes.prop_cycle": cycler(color=_CYCLE),
            "lines.linewidth": 2.0,
            "legend.frameon": False,
            "image.cmap": "viridis",
        }
    )

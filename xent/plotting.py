"""One look for every figure in the book.

>>> from xent.plotting import use_style, COLORS
>>> use_style()
>>> COLORS["target"], COLORS["prediction"]
('#009E73', '#0072B2')
>>> import matplotlib
>>> matplotlib.rcParams["figure.dpi"], matplotlib.rcParams["savefig.dpi"]
(100.0, 200.0)

Call :func:`use_style` once at the top of a chapter; use :data:`COLORS` for
the roles that recur ("target", "prediction", "loss", ...) so that, say, a
target is the same green in every chapter. Matplotlib is imported only here,
so ``import xent`` stays light.
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

_CYCLE = [
    COLORS[k]
    for k in (
        "prediction",
        "loss",
        "target",
        "accent",
        "gradient",
        "neutral",
        "baseline",
    )
]


def use_style() -> None:
    """Set matplotlib's defaults for the book: size, fonts, grid, colours.

    Figures are drawn at 100 dpi (a 6.4 x 3.6 inch figure is 640 x 360 CSS
    pixels on the page) and stored at twice that resolution, so that they
    stay sharp on HiDPI screens and phones: ``savefig.dpi`` is 200, and in
    Jupyter the inline backend stores "retina" PNGs (twice the pixels, with
    width and height metadata that keep the shown size).
    """
    import matplotlib as mpl
    from cycler import cycler

    mpl.rcParams.update(
        {
            "figure.figsize": (6.4, 3.6),
            "figure.dpi": 100,
            "savefig.dpi": 200,
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
    _retina_inline_figures()


def _retina_inline_figures() -> None:
    """In Jupyter, store inline figures as 2x PNGs shown at their 1x size."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython comes with Jupyter
        return
    shell = get_ipython()
    if shell is None or not hasattr(shell, "kernel"):
        return  # plain Python or a terminal IPython: no inline backend
    _set_retina()  # pragma: no cover - needs a Jupyter kernel


def _set_retina() -> None:  # pragma: no cover - needs a Jupyter kernel
    from matplotlib_inline.backend_inline import set_matplotlib_formats

    set_matplotlib_formats("retina")

"""Tests of the small helpers: xent/plotting.py and xent/testing.py."""

import matplotlib
import numpy as np
import pytest

from xent import plotting
from xent.testing import (
    SOFTMAX_REGIMES,
    bce_logits,
    ref_softmax_cross_entropy,
    softmax_regime,
    ulp_error,
)


def test_use_style_sets_the_book_look():
    plotting.use_style()
    assert matplotlib.rcParams["axes.spines.top"] is False
    assert (
        matplotlib.rcParams["axes.prop_cycle"].by_key()["color"][0]
        == plotting.COLORS["prediction"]
    )


@pytest.mark.parametrize("name", SOFTMAX_REGIMES)
def test_regimes_have_the_promised_margins(name):
    z, t = softmax_regime(name, np.float64, rows=20)
    r = np.arange(20)
    others = z.copy()
    others[r, t] = -np.inf
    gap = z[r, t] - others.max(1)
    if name == "confident":
        np.testing.assert_allclose(gap, np.geomspace(5, 700, 20), rtol=1e-12)
    elif name == "wrong":
        np.testing.assert_allclose(-gap, np.geomspace(5, 700, 20), rtol=1e-12)
    with pytest.raises(ValueError, match="name"):
        softmax_regime("huge", np.float64)


def test_ulp_error():
    one = np.float32(1.0)
    assert ulp_error(one + np.spacing(one), 1.0, np.float32) == 1.0
    assert ulp_error(np.nan, 1.0, np.float64) == np.inf
    assert ulp_error(np.inf, np.inf, np.float64) == 0.0
    ref = ref_softmax_cross_entropy(np.array([40.0, 0.0]), 0)
    assert ulp_error(4.248354255291589e-18, ref, np.float64) <= 0.5
    assert len(bce_logits(np.float32, points=5)) == 10

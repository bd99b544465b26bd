"""Tests of xent/naive.py: right where the textbook formulas are right, wrong
where documented.
"""

import numpy as np

import xent
from xent import naive


def test_agree_with_stable_forms_on_moderate_inputs(rng):
    z = rng.standard_normal((4, 5))
    t = rng.integers(0, 5, 4)
    np.testing.assert_allclose(naive.softmax(z), xent.softmax(z), rtol=1e-14)
    np.testing.assert_allclose(
        naive.log_softmax(z), xent.log_softmax(z), rtol=1e-12
    )
    np.testing.assert_allclose(
        naive.logsumexp(z), xent.logsumexp(z), rtol=1e-14
    )
    np.testing.assert_allclose(naive.sigmoid(z), xent.sigmoid(z), rtol=1e-14)
    np.testing.assert_allclose(
        naive.log_sigmoid(z), xent.log_sigmoid(z), rtol=1e-12
    )
    np.testing.assert_allclose(
        naive.softmax_cross_entropy(z, t),
        xent.softmax_cross_entropy(z, t),
        rtol=1e-12,
    )
    y = rng.uniform(0, 1, (4, 5))
    np.testing.assert_allclose(
        naive.binary_cross_entropy_with_logits(z, y),
        xent.binary_cross_entropy_with_logits(z, y),
        rtol=1e-12,
    )


def test_fail_where_documented():
    assert np.isnan(naive.softmax([1000.0, 0.0])[0])
    assert naive.log_softmax([0.0, -800.0])[1] == -np.inf
    assert naive.logsumexp([1000.0, 1000.0]) == np.inf
    assert naive.log_sigmoid(40.0) == 0.0  # the true value is -4.25e-18
    assert np.isnan(naive.softmax_cross_entropy([[1000.0, 0.0]], [0]))
    assert naive.binary_cross_entropy_with_logits([40.0], [0.0]) == np.inf

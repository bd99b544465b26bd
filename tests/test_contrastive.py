"""Tests of xent/contrastive.py: siglip_loss.

Oracle: the paper's pseudocode (Zhai et al. 2023, Algorithm 1) in torch
float64::

    logits = t * zimg @ ztxt.T + b
    labels = 2 * eye(n) - ones(n)
    loss = -sum(log_sigmoid(labels * logits)) / n

Both compute the same float64 logits and a softplus of each: rtol 1e-13
leaves a margin of about 100 over summation-order differences.
"""

import math

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import xent
from xent.contrastive import siglip_loss

torch = pytest.importorskip("torch")
F = torch.nn.functional

RTOL = 1e-13


def paper_siglip(q, k, scale, bias, normalize):
    zimg, ztxt = torch.from_numpy(q), torch.from_numpy(k)
    if normalize:
        zimg, ztxt = F.normalize(zimg, dim=-1), F.normalize(ztxt, dim=-1)
    n = q.shape[0]
    logits = scale * zimg @ ztxt.T + bias
    labels = 2 * torch.eye(n, dtype=torch.float64) - torch.ones(n, n)
    return -torch.sum(F.logsigmoid(labels * logits)) / n


@pytest.mark.parametrize("normalize", [True, False])
@pytest.mark.parametrize(
    "scale, bias", [(10.0, -10.0), (1.0, 0.0), (112.0, -16.5)]
)
@pytest.mark.parametrize("n", [1, 2, 7])
def test_siglip_against_paper_pseudocode(rng, normalize, scale, bias, n):
    q = rng.standard_normal((n, 5))
    k = q + 0.5 * rng.standard_normal((n, 5))
    got = siglip_loss(q, k, scale=scale, bias=bias, normalize=normalize)
    expected = paper_siglip(q, k, scale, bias, normalize).item()
    assert got == pytest.approx(expected, rel=RTOL)


def test_siglip_by_hand():
    """Orthogonal matched pairs: log(1 + e^-(t+b)) + (N-1) log(1 + e^b)."""
    q = np.eye(4)
    expected = math.log1p(math.exp(-(10 - 10))) + 3 * math.log1p(math.exp(-10))
    assert siglip_loss(q, q) == pytest.approx(expected, rel=1e-15)


def test_siglip_extreme_logits_stay_finite():
    """Logits of +-1e4: the naive -log(sigmoid(x)) gives inf or 0."""
    q = np.eye(3)
    good = siglip_loss(q, q, scale=2e4, bias=-1e4)  # every pair right
    bad = siglip_loss(q, q[[1, 2, 0]], scale=2e4, bias=-1e4)  # all wrong
    assert 0 <= good < 1e-300
    assert bad == pytest.approx((1e4 + 1e4) / 1, rel=1e-15)


@given(
    q=arrays(np.float64, (4, 3), elements=st.floats(-10, 10)),
    k=arrays(np.float64, (4, 3), elements=st.floats(-10, 10)),
    c=st.floats(0.1, 10),
)
def test_property_siglip(q, k, c):
    """Positive; unchanged by rescaling rows when normalising; symmetric in
    queries and keys (the labels are a symmetric matrix); permuting the
    batch consistently changes nothing. (Rows of norm below 1e-12 are
    not rescaled, hence kept away from 0.)"""
    for x in (q, k):
        assume(np.all(np.linalg.norm(x, axis=1) > 1e-6))
    loss = siglip_loss(q, k)
    assert loss > 0
    assert siglip_loss(c * q, k) == pytest.approx(loss, rel=1e-12)
    assert siglip_loss(k, q) == pytest.approx(loss, rel=1e-12)
    perm = [2, 0, 3, 1]
    assert siglip_loss(q[perm], k[perm]) == pytest.approx(loss, rel=1e-12)


def test_siglip_dtypes_and_zero_rows():
    q = np.eye(3, dtype=np.float32)
    assert siglip_loss(q, q).dtype == np.float32
    z = np.zeros((2, 3))
    # zero rows stay zero: every logit is the bias
    expected = (
        2 * math.log1p(math.exp(10)) + 2 * math.log1p(math.exp(-10))
    ) / 2
    assert siglip_loss(z, z) == pytest.approx(expected, rel=1e-15)


@pytest.mark.parametrize(
    "queries, keys, kwargs, error, message",
    [
        (
            np.zeros(3),
            np.zeros(3),
            {},
            ValueError,
            "queries: expected a non-empty array of shape (N, D)",
        ),
        (
            np.zeros((0, 3)),
            np.zeros((0, 3)),
            {},
            ValueError,
            "got shape (0, 3)",
        ),
        (
            np.ones((2, 3)),
            np.ones((3, 3)),
            {},
            ValueError,
            "keys: expected shape (2, 3) (the shape of queries), got (3, 3)",
        ),
        (
            np.array([["a"]]),
            np.ones((1, 1)),
            {},
            TypeError,
            "queries: expected real numbers",
        ),
        (
            np.ones((2, 3)),
            np.ones((2, 3)),
            {"scale": 0.0},
            ValueError,
            "scale: expected a finite number > 0, got 0.0",
        ),
        (
            np.ones((2, 3)),
            np.ones((2, 3)),
            {"scale": "10"},
            TypeError,
            "scale: expected a finite number > 0",
        ),
        (
            np.ones((2, 3)),
            np.ones((2, 3)),
            {"bias": math.inf},
            ValueError,
            "bias: expected a finite number, got inf",
        ),
        (
            np.ones((2, 3)),
            np.ones((2, 3)),
            {"bias": None},
            TypeError,
            "bias: expected a finite number, got None",
        ),
        (
            np.ones((2, 3)),
            np.ones((2, 3)),
            {"normalize": "yes"},
            TypeError,
            "normalize: expected True or False",
        ),
    ],
)
def test_siglip_bad_input(queries, keys, kwargs, error, message):
    with pytest.raises(error) as info:
        siglip_loss(queries, keys, **kwargs)
    assert message in str(info.value)


def test_exported_from_xent():
    assert xent.siglip_loss is siglip_loss

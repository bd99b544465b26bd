"""Tests of xent/_rows.py, the row kernel: its one shift rule, each of its
paths (unshifted, shifted, exact recompute), blocks."""

import numpy as np
import pytest

import xent
from xent import _rows


@pytest.mark.parametrize(
    "dtype,bound", [(np.float32, 60.0), (np.float64, 600.0)]
)
def test_the_shift_rule(dtype, bound):
    m = np.array(
        [0.0, bound, bound * 1.01, -1e-3, -np.inf, np.inf, np.nan, 5.0],
        dtype=dtype,
    )
    c = _rows.exp_shift(m)
    expected = np.array([0, 0, m[2], m[3], 0, 0, 0, 0], dtype=dtype)
    np.testing.assert_array_equal(c, expected)
    assert c.dtype == dtype


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shift", [0.0, 40.0, -30.0, 900.0, -900.0])
def test_every_path_is_the_same_function(dtype, shift):
    # unshifted (max in [0, L]), shifted above L and below 0; the first rows
    # are confident (s < 1: exact recompute), the last ones are not
    base = np.array(
        [[12.0, 1.0, -3.0, 0.5], [8.0, 7.5, -1.0, 2.0], [1.0, 2.0, 3.0, 2.75]]
    )
    z = (base + shift).astype(dtype)
    m, s = _rows.lse_parts(z)
    m0, s0 = _rows.lse_parts(base.astype(dtype))
    np.testing.assert_array_equal(m, m0 + dtype(shift))
    rtol = 1e-14 if dtype == np.float64 else 1e-6
    np.testing.assert_allclose(s, s0, rtol=rtol)
    np.testing.assert_allclose(
        _rows.softmax_rows(z),
        _rows.softmax_rows(base.astype(dtype)),
        rtol=rtol * 10,
    )


def test_softmax_below_zero_keeps_small_probabilities():
    # max < 0 is shifted: exp(-740) alone would be subnormal (3 digits), the
    # probability e^-240 / (1 + e^-240) = 5.879282698245269e-105 (mpmath) is
    # not; in float32 exp(-90) is subnormal, e^-60 / (1 + e^-60) is not
    p = xent.softmax(np.array([-500.0, -740.0]))
    assert p[1] == pytest.approx(5.879282698245269e-105, rel=1e-13, abs=0)
    p32 = xent.softmax(np.array([-30.0, -90.0], dtype=np.float32))
    assert p32[1] == pytest.approx(8.756510762696520e-27, rel=1e-6, abs=0)


def test_blocks_cover_every_row_once():
    for num_rows, num_cols in [(1, 1), (5, 3), (10_000, 300), (7, 1 << 20)]:
        step = _rows.block_rows(num_cols, 4)
        blocks = list(_rows.row_blocks(num_rows, num_cols, 4))
        covered = np.concatenate([np.arange(num_rows)[b] for b in blocks])
        np.testing.assert_array_equal(covered, np.arange(num_rows))
        assert all(b.stop - b.start <= step for b in blocks)
        assert step * num_cols * 4 <= max(_rows.BLOCK_BYTES, num_cols * 4)


def test_many_blocks_with_recomputed_rows_in_the_last_one(rng):
    # rows spread over several blocks, confident ones (recomputed) everywhere,
    # including the last, partial block: same as one row at a time
    z = rng.standard_normal((3000, 700)) * 3
    t = rng.integers(0, 700, 3000)
    z[::7, :] -= 0.0
    z[np.arange(0, 3000, 7), t[::7]] += 40.0
    loss, grad = xent.softmax_cross_entropy_and_grad(z, t, reduction="none")
    for i in (0, 6, 7, 1499, 2996, 2999):
        l1, g1 = xent.softmax_cross_entropy_and_grad(
            z[i : i + 1], t[i : i + 1], reduction="none"
        )
        assert loss[i] == l1[0]
        np.testing.assert_array_equal(grad[i], g1[0])

"""The row kernel: blocked exponentials of rows of logits, one shift rule.

The only module that knows about blocks, the max shift and exact differences.
:mod:`xent.numerics` (logsumexp, log_softmax, softmax), :mod:`xent.losses`
(softmax_cross_entropy) and :mod:`xent.gradients` (its gradient) call the
named functions below; nothing here is public API.

Blocks. Rows are processed in blocks of about :data:`BLOCK_BYTES` bytes, so
that the several passes over a block (max, exp, sum, scale) run from the CPU
cache instead of from main memory. :func:`block_rows` is the one rule for the
block size: :func:`row_blocks` and every scratch buffer use it.

The shift rule (:func:`exp_shift`). :math:`\\sum_j e^{z_j}` is the same
function as :math:`e^{c} \\sum_j e^{z_j - c}` for any shift :math:`c`. The
classic choice :math:`c = m = \\max_j z_j` keeps every exponent at most 0, at
the cost of a subtraction pass that also rounds :math:`z_j - m`. Here
:math:`c = 0` (no subtraction) wherever :math:`0 \\le m \\le L`, with
:math:`L` = 60 in float32 and lower (``exp`` overflows at 88.7) and 600 in
float64 (709.8): then :math:`1 \\le e^{m} \\le e^{L}`, so the sum neither
overflows (for fewer than :math:`e^{28}` classes in float32) nor underflows,
and a term that underflows to a subnormal is one whose probability
:math:`e^{z_j}/\\sum \\le e^{z_j}` is subnormal too. Everywhere else
(:math:`m < 0`, :math:`m > L`) the shift is :math:`c = m`; rows whose maximum
is not finite are not shifted (``exp`` then gives the ``inf``, 0 or NaN that
the mathematics says).

Exactness. ``logsumexp(z) = m + log1p(s)`` with ``s`` the other terms over
the largest. Where ``s < 1`` (the largest probability exceeds 1/2),
``log1p(s) ~ s`` is smaller than the rounding errors of the exponentials, so
:func:`rest_exact` recomputes ``s`` in float64 from exact differences. A
float32 block whose every target leads its row (late in training) takes its
exponentials in float64 at once when the loss is wanted
(:func:`class_xent_rows`), instead of a float32 pass and a recompute.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

#: Bytes of logits per block of rows.
BLOCK_BYTES = 1 << 21


def work_dtype(dtype: np.dtype) -> np.dtype:
    """float16 is computed in float32; float32 and float64 in themselves."""
    return np.dtype(np.float32) if dtype == np.float16 else np.dtype(dtype)


def as_rows(x: np.ndarray, axis: int) -> tuple[np.ndarray, tuple[int, ...]]:
    """``x`` as a C-contiguous 2-d array ``(rows, classes)`` of the work dtype
    with ``axis`` last, and the shape of the leading (non-class) axes."""
    moved = np.moveaxis(x, axis, -1)
    lead = moved.shape[:-1]
    rows = np.ascontiguousarray(moved, dtype=work_dtype(x.dtype))
    return rows.reshape(-1, moved.shape[-1]), lead


def from_rows(
    rows: np.ndarray, lead: tuple[int, ...], axis: int
) -> np.ndarray:
    """Inverse of :func:`as_rows` for an array with the class axis present."""
    return np.moveaxis(rows.reshape(*lead, rows.shape[-1]), -1, axis)


def block_rows(num_cols: int, itemsize: int) -> int:
    """Rows per block: the one block-size rule."""
    return max(1, BLOCK_BYTES // max(1, num_cols * itemsize))


def row_blocks(num_rows: int, num_cols: int, itemsize: int) -> Iterator[slice]:
    """Consecutive slices of at most :func:`block_rows` rows."""
    step = block_rows(num_cols, itemsize)
    for lo in range(0, num_rows, step):
        yield slice(lo, min(num_rows, lo + step))


def exp_range(dtype: np.dtype) -> float:
    """``L`` of the shift rule: 60 below float64, 600 in float64."""
    return 60.0 if np.dtype(dtype).itemsize <= 4 else 600.0


def exp_shift(m: np.ndarray) -> np.ndarray:
    """The shift of each row from its maximum ``m`` (the module's rule):
    0 where ``0 <= m <= L`` or ``m`` is not finite, ``m`` elsewhere."""
    bound = m.dtype.type(exp_range(m.dtype))
    with np.errstate(invalid="ignore"):
        keep = ((m >= 0) & (m <= bound)) | ~np.isfinite(m)
    return np.where(keep, m.dtype.type(0), m)


def exp_rows(block: np.ndarray, m: np.ndarray, out: np.ndarray) -> np.ndarray:
    """``out = exp(block - c)`` with ``c = exp_shift(m)`` for the block's
    row maxima ``m``; returns ``c``. One pass where no row needs a shift."""
    c = exp_shift(m)
    with np.errstate(over="ignore", invalid="ignore", under="ignore"):
        if np.any(c):
            np.subtract(block, c[:, None], out=out)
            np.exp(out, out=out)
        else:
            np.exp(block, out=out)
    return c


def rest_exact(z: np.ndarray, m: np.ndarray, a: np.ndarray) -> np.ndarray:
    """``sum_{j != a} exp(z_j - m)`` per row, with ``z_j - m`` taken exactly.

    ``fl(z_j - m)`` carries an absolute error up to ``|z_j - m| u``, which
    becomes a *relative* error of ``exp(z_j - m)``: 700 ulp at a margin of 700
    in float64. Below float64 the difference is exact in float64 and ``exp`` is
    float64's (numpy's float32 ``exp`` is off by up to 2.4 ulp); rows left
    unshifted by :func:`exp_shift` need no difference at all: ``sum_j exp(z_j)
    / exp(m)`` in float64. In float64 the rounding error ``e`` of the
    subtraction is recovered with Knuth's TwoSum and applied as ``exp(d + e) =
    exp(d) (1 + e)`` (``|e|`` is below half an ulp of ``d``; terms that
    underflowed to 0 stay 0).
    """
    r = np.arange(z.shape[0])
    with np.errstate(over="ignore", invalid="ignore", under="ignore"):
        if z.dtype != np.float64 and not np.any(exp_shift(m)):
            # 0 <= m <= 60: sum_j exp(z_j) / exp(m), no subtraction pass;
            # float64's exp, sum and division err far below float32's ulp
            e = z.astype(np.float64)
            np.exp(e, out=e)
            e[r, a] = 0
            return (e @ np.ones(z.shape[1])) / np.exp(m.astype(np.float64))
        if z.dtype != np.float64:
            e = z.astype(np.float64)
            e -= m.astype(np.float64)[:, None]
            np.exp(e, out=e)
        else:
            neg_m = -m[:, None]
            d = z + neg_m
            bv = d - z
            err = (z - (d - bv)) + (neg_m - bv)
            e = np.exp(d)
            e += np.where(e > 0, e * err, 0.0)
    e[r, a] = 0
    return e.sum(axis=1)


def _rest_over_max(
    rest: np.ndarray, e_t: np.ndarray, e_a: np.ndarray, at_max: np.ndarray
) -> np.ndarray:
    """``s = sum_{j != a} e_j / e_a`` from ``rest = sum_{j != t} e_j``:
    ``rest / e_t`` where the target is a maximum (no cancellation), else
    ``(rest + e_t - e_a) / e_a``."""
    rest64 = rest.astype(np.float64)
    e_t64, e_a64 = e_t.astype(np.float64), e_a.astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        return np.where(
            at_max, rest64 / e_t64, (rest64 + e_t64 - e_a64) / e_a64
        )


def _fix_tiny_rests(
    s: np.ndarray, z: np.ndarray, m: np.ndarray, a: np.ndarray
) -> None:
    """Rows with a non-finite maximum get ``s = 0`` (``m + log1p(s)`` is then
    ``-inf``, ``+inf`` or NaN as the mathematics says). Where ``s < 1`` the
    largest probability exceeds 1/2 and ``log1p(s) ~ s`` may be far smaller
    than the rounding errors of the exponentials: those rows are recomputed
    with :func:`rest_exact`, while the block is still in the cache."""
    finite = np.isfinite(m)
    s[~finite] = 0
    with np.errstate(invalid="ignore"):
        redo = np.flatnonzero((s < 1) & finite)
    # a quarter block of float64 rows at a time stays in the cache
    step = max(1, block_rows(z.shape[1], 8) // 4)
    if redo.size == len(s):  # every row (confident predictions): no copies
        for lo in range(0, redo.size, step):
            sl = slice(lo, lo + step)
            s[sl] = rest_exact(z[sl], m[sl], a[sl])
        return
    for lo in range(0, redo.size, step):
        rows = redo[lo : lo + step]
        s[rows] = rest_exact(z[rows], m[rows], a[rows])


def _targets_lead(
    a: np.ndarray, t: np.ndarray, valid: np.ndarray, m: np.ndarray
) -> bool:
    """Whether every valid row's target is its maximum ``a`` and no row
    needs a shift (``0 <= m <= L``): then ``exp(z_j)`` in float64 gives
    ``s = sum_{j != t} exp(z_j) / exp(z_t)`` to far below float32's ulp."""
    return bool(np.all((a == t) | ~valid)) and not np.any(exp_shift(m))


def lse_parts(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(m, s)`` per row with ``logsumexp(row) = m + log1p(s)``.

    ``m = z_a`` is the row maximum (work dtype) and
    ``s = sum_{j != a} exp(z_j - m)`` the other entries (float64), accurate
    to a few units in the last place even when tiny, which is what the
    cross-entropy of a confidently correct prediction (``log1p(s) ~ s``)
    needs.

    ``s = sum_{j != a} exp(z_j - c) / exp(m - c)`` for any shift ``c``.
    :func:`exp_shift` takes ``c = 0`` where ``0 <= m <= 60`` (float32) or
    ``600`` (float64): no subtraction pass and no rounding error in
    ``z_j - m``; elsewhere ``c = m``, the classic shift that keeps every
    exponent at most 0. Where ``s < 1`` (the largest probability exceeds
    1/2) the rows are recomputed by :func:`rest_exact`. Rows whose maximum
    is not finite (all ``-inf``, ``+inf`` or NaN present) get ``s = 0``, so
    that ``m + log1p(s)`` is ``-inf``, ``+inf`` or NaN as the mathematics
    says.
    """
    num_rows, num_cols = rows.shape
    m = np.empty(num_rows, dtype=rows.dtype)
    s = np.empty(num_rows, dtype=np.float64)
    buf = np.empty((block_rows(num_cols, rows.itemsize), num_cols), rows.dtype)
    for blk in row_blocks(num_rows, num_cols, rows.itemsize):
        zb = rows[blk]
        b = buf[: len(zb)]  # the scratch buffer, sized by block_rows
        r = np.arange(len(zb))
        ab = np.argmax(zb, axis=1)
        mb = zb[r, ab]
        exp_rows(zb, mb, b)
        e_a = b[r, ab].astype(np.float64)
        b[r, ab] = 0
        with np.errstate(invalid="ignore", divide="ignore"):
            sb = b.sum(axis=1) / e_a
        _fix_tiny_rests(sb, zb, mb, ab)
        m[blk], s[blk] = mb, sb
    return m, s


def softmax_rows(rows: np.ndarray) -> np.ndarray:
    """The softmax of each row (work dtype)."""
    out = np.empty_like(rows)
    with np.errstate(invalid="ignore"):
        for blk in row_blocks(rows.shape[0], rows.shape[1], rows.itemsize):
            b = out[blk]
            exp_rows(rows[blk], rows[blk].max(axis=1), b)
            b /= b.sum(axis=1, keepdims=True)
    return out


def class_xent_rows(
    rows: np.ndarray,
    targets: np.ndarray,
    valid: np.ndarray,
    *,
    on: float = 1.0,
    off: float = 0.0,
    weight: np.ndarray | None = None,
    loss: bool = True,
    grad_scale: float | None = None,
) -> tuple[np.ndarray | None, np.ndarray | None]:
    r"""Cross-entropy of each row against a (smoothed) class target, and its
    gradient, in one pass over each block.

    The smoothed target of row :math:`i` is ``on`` on its class :math:`t` and
    ``off`` elsewhere (:func:`xent.smoothing_weights`); with class weights
    :math:`w` the loss is
    :math:`\ell = \text{on}\, w_t\, \text{nll}_t
    + \text{off} \sum_{j \ne t} w_j\, \text{nll}_j` with
    :math:`\text{nll}_j = (m - z_j) + \operatorname{log1p}(s)` (non-negative
    terms: nothing cancels), and the gradient is
    :math:`\partial \ell / \partial z_k = c\, p_k - w_k y'_k` with
    :math:`c = \sum_j w_j y'_j`. The target's entry is written as
    :math:`-\text{on}\, w_t \sum_{j \ne t} p_j + \text{off} (W - w_t) p_t`
    (``W`` the sum of the weights), which keeps its digits where
    :math:`p_t - 1` would round to 0.

    Parameters
    ----------
    rows : (N, K) array of the work dtype
    targets : (N,) intp, in ``0..K-1`` where ``valid``
    valid : (N,) bool; invalid (ignored) rows get loss 0 and gradient 0
    on, off : the smoothed target
    weight : (K,) float64 or None
    loss : compute the losses
    grad_scale : ``None`` for no gradient, else the factor of every row
        (``1/denominator`` for a mean)

    Returns
    -------
    (losses, grad)
        float64 losses ``(N,)`` (or ``None``) and the gradient ``(N, K)`` of
        the work dtype (or ``None``).
    """
    num_rows, num_cols = rows.shape
    dtype = rows.dtype
    t = np.where(valid, targets, 0)
    out_loss = np.empty(num_rows, dtype=np.float64) if loss else None
    grad = np.empty_like(rows) if grad_scale is not None else None
    buf = None
    if grad is None:
        buf = np.empty((block_rows(num_cols, rows.itemsize), num_cols), dtype)
    w_t_all = None if weight is None else weight[t]
    total_w = float(num_cols if weight is None else weight.sum())
    ones = np.ones(num_cols)
    for blk in row_blocks(num_rows, num_cols, rows.itemsize):
        zb, tb, vb = rows[blk], t[blk], valid[blk]
        n = len(zb)
        r = np.arange(n)
        b = grad[blk] if grad is not None else buf[:n]  # type: ignore[index]
        ab = np.argmax(zb, axis=1)
        mb = zb[r, ab]
        z_t = zb[r, tb]
        # Below float64, a block whose every target leads its row (late in
        # training) would have every loss recomputed in float64: take the
        # float64 exponentials at once instead, for the loss and the gradient
        # (for the gradient alone, float32's are cheaper and accurate enough).
        leading = (
            loss and dtype != np.float64 and _targets_lead(ab, tb, vb, mb)
        )
        e: np.ndarray = b
        if leading:
            e = zb.astype(np.float64)
            np.exp(e, out=e)
        else:
            exp_rows(zb, mb, b)
        e_t, e_a = e[r, tb], e[r, ab]
        e[r, tb] = 0
        rest = e @ ones if leading else e.sum(axis=1)
        w_t = 1.0 if w_t_all is None else w_t_all[blk]
        if loss:
            with np.errstate(invalid="ignore"):
                s = _rest_over_max(rest, e_t, e_a, z_t == mb)
            if not leading:
                _fix_tiny_rests(s, zb, mb, ab)
            log1p_s = np.log1p(s)
            m64 = mb.astype(np.float64)
            with np.errstate(invalid="ignore"):
                ell = on * w_t * ((m64 - z_t.astype(np.float64)) + log1p_s)
                if off:
                    # sum_{j != t} w_j nll_j = sum_{j != t} w_j (m - z_j)
                    #                          + (W - w_t) log1p(s)
                    gaps = np.subtract(mb[:, None], zb, dtype=np.float64)
                    gaps[r, tb] = 0
                    if weight is None:
                        spread = gaps.sum(axis=1)
                    else:
                        spread = gaps @ weight
                    ell += off * (spread + (total_w - w_t) * log1p_s)
            out_loss[blk] = np.where(vb, ell, 0.0)  # type: ignore[index]
        if grad is not None and grad_scale is not None:
            with np.errstate(invalid="ignore", divide="ignore"):
                inv = np.where(vb, grad_scale, 0.0) / (
                    rest.astype(np.float64) + e_t
                )
                # c = on w_t + off (W - w_t): the total target mass, weighted
                c = on * w_t + off * (total_w - w_t)
                if leading:
                    np.multiply(
                        e, (c * inv)[:, None], out=b, casting="same_kind"
                    )
                else:
                    b *= (c * inv).astype(dtype)[:, None]
                g_t = (off * (total_w - w_t) * e_t - on * w_t * rest) * inv
                if off:
                    k_off = np.where(vb, grad_scale * off, 0.0)
                    if weight is None:
                        b -= k_off.astype(dtype)[:, None]
                    else:
                        b -= np.multiply.outer(k_off, weight).astype(dtype)
                b[r, tb] = g_t
            b[~vb] = 0
    return out_loss, grad

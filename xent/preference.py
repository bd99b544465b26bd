r"""Learning from preferences: Direct Preference Optimization (DPO).

DPO is binary cross-entropy again: the logistic loss of "the chosen
response beats the rejected one", whose logit is a margin of log-ratios
of the policy to a frozen reference model. NumPy only.
"""

from __future__ import annotations

import numpy as np

from xent._options import check_positive
from xent._validation import (
    as_float_array,
    check_reduction,
    reduce,
    result_dtype,
)
from xent.numerics import softplus

__all__ = ["dpo_loss"]

_LOGPS = (
    "policy_chosen_logps",
    "policy_rejected_logps",
    "reference_chosen_logps",
    "reference_rejected_logps",
)


def dpo_loss(
    policy_chosen_logps,
    policy_rejected_logps,
    reference_chosen_logps,
    reference_rejected_logps,
    *,
    beta=0.1,
    reduction="mean",
):
    r"""The DPO loss: logistic loss on a margin of log-probability ratios.

    With :math:`\pi_c, \pi_r` the policy's log-probabilities of the chosen
    and the rejected response to a prompt and :math:`\rho_c, \rho_r` the
    reference model's,

    .. math::

        m = \beta\,\bigl[(\pi_c - \pi_r) - (\rho_c - \rho_r)\bigr],
        \qquad
        \ell = -\log \sigma(m) = \log\bigl(1 + e^{-m}\bigr),

    one value per pair, then reduced.

    Parameters
    ----------
    policy_chosen_logps : array_like, shape (...)
        :math:`\log \pi_\theta(y_w \mid x)`: the sum over the chosen
        response's tokens of the policy's token log-probabilities (minus
        the cross-entropies of :func:`xent.softmax_cross_entropy`).
    policy_rejected_logps : array_like, shape (...)
        The same for the rejected response.
    reference_chosen_logps : array_like, shape (...)
        The frozen reference model's log-probability of the chosen
        response.
    reference_rejected_logps : array_like, shape (...)
        The reference model's log-probability of the rejected response.
    beta : float, optional
        :math:`\beta > 0`, the strength of the implicit KL penalty towards
        the reference (small: far from the reference allowed). Default
        ``0.1``.
    reduction : {"mean", "sum", "none"}, optional
        ``"mean"`` (default) averages over the pairs, ``"sum"`` adds them
        up, ``"none"`` returns one loss per pair.

    Returns
    -------
    ndarray or scalar
        Of the inputs' common floating dtype (float64 for integers).

    Raises
    ------
    TypeError
        If an input is not real numbers or ``beta`` is not a number.
    ValueError
        If the four inputs differ in shape, ``beta`` is not a finite
        number > 0, or ``reduction`` is unknown.

    Notes
    -----
    *Why a logistic loss.* Under the Bradley-Terry model the probability
    that ``y_w`` is preferred is :math:`\sigma(r_w - r_l)`; the reward
    that maximises reward minus :math:`\beta`
    :math:`D_{\mathrm{KL}}(\pi \,\|\, \rho)` satisfies
    :math:`r = \beta \log(\pi / \rho) + \text{const}`. Substituting
    gives this binary cross-entropy with target 1 on the logit
    :math:`m`: the "implicit rewards" :math:`\beta(\pi_c - \rho_c)` and
    :math:`\beta(\pi_r - \rho_r)` are trained to be in the right order,
    with no reward model and no sampling.

    *Numerics.* The four log-probabilities are sums over whole responses,
    often in the hundreds of nats, while the margin is small: the
    differences are taken in float64. :math:`-\log \sigma(m)` is computed as
    :func:`xent.softplus` of ``-m``, :math:`\max(-m, 0) +
    \operatorname{log1p}(e^{-|m|})`, which is finite and accurate for any
    margin: about :math:`e^{-m}` for large positive ``m`` (where
    ``-log(sigmoid(m))`` rounds to 0) and :math:`-m` for large negative
    ``m`` (where it overflows to ``inf``).

    The argument order is that of TRL's ``DPOTrainer.dpo_loss``.

    References
    ----------
    .. [1] R. Rafailov, A. Sharma, E. Mitchell, S. Ermon, C. D. Manning,
       C. Finn, "Direct Preference Optimization: Your Language Model is
       Secretly a Reward Model", NeurIPS 2023.
    .. [2] R. A. Bradley, M. E. Terry, "Rank Analysis of Incomplete Block
       Designs: I. The Method of Paired Comparisons", Biometrika 39, 1952.

    Examples
    --------
    A policy equal to its reference has margin 0 and loss
    :math:`\log 2`:

    >>> import numpy as np
    >>> float(dpo_loss(-12.0, -15.0, -12.0, -15.0))
    0.69314718

    Moving 1 nat of log-probability towards the chosen response and 1 away
    from the rejected one gives :math:`m = 0.1 \cdot 2`:

    >>> float(dpo_loss(-11.0, -16.0, -12.0, -15.0))
    0.59813887
    >>> float(np.log1p(np.exp(-0.2)))
    0.59813887

    Any margin, however large, gives a finite and accurate loss:

    >>> dpo_loss([0.0, 0.0], [-900.0, 900.0], [0.0, 0.0], [0.0, 0.0],
    ...          reduction="none")
    array([8.19401262e-40, 9.00000000e+01])
    """
    arrays = [
        as_float_array(x, name)
        for x, name in zip(
            (
                policy_chosen_logps,
                policy_rejected_logps,
                reference_chosen_logps,
                reference_rejected_logps,
            ),
            _LOGPS,
            strict=True,
        )
    ]
    for arr, name in zip(arrays[1:], _LOGPS[1:], strict=True):
        if arr.shape != arrays[0].shape:
            raise ValueError(
                f"{name}: expected shape {arrays[0].shape} (the shape of "
                f"policy_chosen_logps), got {arr.shape}"
            )
    beta = check_positive(beta, "beta")
    reduction = check_reduction(reduction)
    pc, pr, rc, rr = (a.astype(np.float64, copy=False) for a in arrays)
    margin = beta * ((pc - pr) - (rc - rr))
    loss = np.asarray(softplus(-margin), dtype=np.float64)
    return reduce(loss, reduction, result_dtype(*arrays))

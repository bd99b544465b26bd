"""xent: exact, PyTorch-compatible cross-entropy losses, written to be read.

The functions live in one small module per idea and are all importable from
here:

- :mod:`xent.information`: entropy, cross-entropy and KL divergence of
  distributions;
- :mod:`xent.numerics`: logsumexp, softmax, log_softmax, sigmoid,
  log_sigmoid, softplus;
- :mod:`xent.losses`: the losses on logits and on probabilities;
- :mod:`xent.labels`: one-hot and smoothed labels;
- :mod:`xent.gradients`: closed-form gradients and a finite-difference check;
- :mod:`xent.modern`: perplexity, InfoNCE, the policy-gradient loss;
- :mod:`xent.naive`: the textbook formulas, unstable on purpose (not
  re-exported here).

``xent.chunked`` and ``xent.distributed`` need PyTorch and are imported on
demand.
"""

from xent import naive
from xent.gradients import (
    binary_cross_entropy_with_logits_grad,
    mse_sigmoid_grad,
    numerical_gradient,
    softmax_cross_entropy_grad,
)
from xent.information import cross_entropy, entropy, kl_divergence
from xent.labels import one_hot, smooth_labels, smoothing_weights
from xent.losses import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    categorical_cross_entropy,
    mse_loss,
    softmax_cross_entropy,
    softmax_cross_entropy_and_grad,
)
from xent.modern import (
    bits_per_token,
    info_nce,
    next_token_cross_entropy,
    perplexity,
    policy_gradient_loss,
)
from xent.numerics import (
    log_sigmoid,
    log_softmax,
    logsumexp,
    sigmoid,
    softmax,
    softplus,
)

__version__ = "0.2.0"

__all__ = [
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "binary_cross_entropy_with_logits_grad",
    "bits_per_token",
    "categorical_cross_entropy",
    "cross_entropy",
    "entropy",
    "info_nce",
    "kl_divergence",
    "log_sigmoid",
    "log_softmax",
    "logsumexp",
    "mse_loss",
    "mse_sigmoid_grad",
    "naive",
    "next_token_cross_entropy",
    "numerical_gradient",
    "one_hot",
    "perplexity",
    "policy_gradient_loss",
    "sigmoid",
    "smooth_labels",
    "smoothing_weights",
    "softmax",
    "softmax_cross_entropy",
    "softmax_cross_entropy_and_grad",
    "softmax_cross_entropy_grad",
    "softplus",
]

"""xent: exact, PyTorch-compatible cross-entropy losses, written to be read.

The functions live in one small module per idea and are all importable from here:

- :mod:`xent.information`: entropy, cross-entropy and KL divergence of distributions;
- :mod:`xent.numerics`: logsumexp, softmax, log_softmax, sigmoid, log_sigmoid, softplus;
- :mod:`xent.losses`: the losses on logits and on probabilities;
- :mod:`xent.labels`: one-hot and smoothed labels;
- :mod:`xent.gradients`: closed-form gradients and a finite-difference check;
- :mod:`xent.modern`: perplexity, InfoNCE, the policy-gradient loss;
- :mod:`xent.naive`: the textbook formulas, unstable on purpose (not re-exported here).

``xent.chunked`` and ``xent.distributed`` need PyTorch and are imported on demand.
"""

from xent import naive
from xent.contrastive import siglip_loss
from xent.gradients import (
    binary_cross_entropy_with_logits_grad,
    mse_sigmoid_grad,
    numerical_gradient,
    softmax_cross_entropy_grad,
)
from xent.information import cross_entropy, entropy, kl_divergence
from xent.labels import one_hot, smooth_labels
from xent.language import softcap, z_loss
from xent.modern import bits_per_token, info_nce, next_token_cross_entropy, perplexity, policy_gradient_loss
from xent.losses import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    categorical_cross_entropy,
    mse_loss,
    softmax_cross_entropy,
)
from xent.numerics import log_sigmoid, log_softmax, logsumexp, sigmoid, softmax, softplus
from xent.preference import dpo_loss
from xent.reinforcement import (
    group_relative_advantages,
    leave_one_out_advantages,
    sequence_policy_gradient_loss,
)

__version__ = "0.1.0"

__all__ = [
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "bits_per_token",
    "binary_cross_entropy_with_logits_grad",
    "categorical_cross_entropy",
    "cross_entropy",
    "dpo_loss",
    "entropy",
    "group_relative_advantages",
    "info_nce",
    "kl_divergence",
    "leave_one_out_advantages",
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
    "sequence_policy_gradient_loss",
    "siglip_loss",
    "sigmoid",
    "smooth_labels",
    "softcap",
    "softmax",
    "softmax_cross_entropy",
    "softmax_cross_entropy_grad",
    "softplus",
    "z_loss",
]

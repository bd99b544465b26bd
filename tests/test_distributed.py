"""Tests for xent/distributed.py: vocabulary-parallel cross-entropy.

Two processes on this machine (gloo backend, torch.multiprocessing.spawn) each
hold a slice of the vocabulary; the loss on every rank must equal
F.cross_entropy on the full logits, and the shards' gradients, put side by
side, must equal the full autograd gradient. The processes are started once (a
module fixture): they run every case and save their results, which the tests
below then check.

Tolerances: float64, the same arithmetic as F.cross_entropy up to the order of
the sums over the vocabulary (two partial sums instead of one), so rtol 1e-12
leaves three orders of magnitude of margin over the few-ulp differences; atol
1e-14 covers gradient entries that cancel to about zero.
"""

import math
import os
import socket
import time
from datetime import timedelta

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn.functional as F

from xent.distributed import (
    vocab_parallel_cross_entropy,
    vocab_parallel_linear_cross_entropy,
)

WORLD = 2
TIMEOUT_S = 60
RTOL, ATOL = 1e-12, 1e-14
F64 = torch.float64


def assert_close(actual, expected):
    torch.testing.assert_close(
        actual, expected, rtol=RTOL, atol=ATOL, equal_nan=True
    )


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -----------------------------------------------------------------------------
# The cases: full inputs, how the vocabulary is split, and what to call


def logits_case(
    shape,
    splits,
    reduction,
    *,
    seed,
    ignore=(),
    targets=None,
    scale=1.0,
    upstream=None,
):
    g = torch.Generator().manual_seed(seed)
    v = sum(splits)
    logits = scale * torch.randn(*shape, v, generator=g, dtype=F64)
    if targets is None:
        targets = torch.randint(0, v, shape, generator=g)
        targets.view(-1)[list(ignore)] = -100
    if upstream is None:
        upstream = (
            torch.randn(shape, generator=g, dtype=F64)
            if reduction == "none"
            else torch.tensor(1.0, dtype=F64)
        )
    starts = [sum(splits[:r]) for r in range(len(splits))]
    return dict(
        kind="logits",
        logits=logits,
        targets=targets,
        starts=starts,
        widths=list(splits),
        reduction=reduction,
        upstream=upstream,
    )


def linear_case(n, h, splits, reduction, *, seed, ignore=(), with_bias=True):
    g = torch.Generator().manual_seed(seed)
    v = sum(splits)
    hidden = torch.randn(n, h, generator=g, dtype=F64)
    weight = torch.randn(v, h, generator=g, dtype=F64)
    bias = torch.randn(v, generator=g, dtype=F64) if with_bias else None
    targets = torch.randint(0, v, (n,), generator=g)
    targets[list(ignore)] = -100
    upstream = (
        torch.randn(n, generator=g, dtype=F64)
        if reduction == "none"
        else torch.tensor(-0.7, dtype=F64)
    )
    starts = [sum(splits[:r]) for r in range(len(splits))]
    return dict(
        kind="linear",
        hidden=hidden,
        weight=weight,
        bias=bias,
        targets=targets,
        starts=starts,
        widths=list(splits),
        reduction=reduction,
        upstream=upstream,
    )


def build_cases():
    cases = {}
    for reduction in ("mean", "sum", "none"):
        # uneven slices (5 + 6 of 11 classes), two ignored tokens, an upstream
        # gradient != 1
        c = logits_case((9,), [5, 6], reduction, seed=1, ignore=(2, 6))
        if reduction != "none":
            c["upstream"] = torch.tensor(-1.7, dtype=F64)
        cases[f"uneven-{reduction}"] = c
        cases[f"batch-time-{reduction}"] = logits_case(
            (2, 4), [3, 4], reduction, seed=2, ignore=(5,)
        )
        cases[f"linear-{reduction}"] = linear_case(
            8, 4, [4, 7], reduction, seed=3, ignore=(1,)
        )
        cases[f"all-ignored-{reduction}"] = logits_case(
            (5,), [3, 3], reduction, seed=4, ignore=range(5)
        )
    cases["one-class-on-rank-0"] = logits_case(
        (7,),
        [1, 9],
        "mean",
        seed=5,
        targets=torch.tensor([0, 0, 3, 9, -100, 1, 0]),
    )
    cases["large-logits"] = logits_case(
        (6,), [4, 4], "none", seed=6, scale=1e4
    )
    cases["linear-no-bias"] = linear_case(
        6, 3, [2, 5], "mean", seed=7, with_bias=False
    )
    cases["out-of-range"] = logits_case(
        (3,), [3, 4], "mean", seed=8, targets=torch.tensor([0, 7, 1])
    )
    cases["negative-target"] = logits_case(
        (3,), [3, 4], "mean", seed=8, targets=torch.tensor([0, -3, 1])
    )
    gap = logits_case(
        (3,), [3, 4], "mean", seed=9, targets=torch.tensor([0, 3, 1])
    )
    gap["starts"] = [
        0,
        4,
        # rank 1 holds classes 4..7 (it is passed logits[:, 4:8]: only 3
        # columns)
    ]
    gap["widths"] = [3, 3]
    cases["gap"] = gap
    overlap = logits_case(
        (3,), [3, 4], "mean", seed=10, targets=torch.tensor([0, 2, 1])
    )
    overlap["starts"] = [0, 2]  # both ranks hold class 2
    overlap["widths"] = [3, 5]
    cases["overlap"] = overlap
    return cases


def run_case(rank, case):
    a, w = case["starts"][rank], case["widths"][rank]
    if case["kind"] == "logits":
        shard = case["logits"][..., a : a + w].clone().requires_grad_()
        loss = vocab_parallel_cross_entropy(
            shard, case["targets"], vocab_start=a, reduction=case["reduction"]
        )
        loss.backward(case["upstream"])
        return dict(loss=loss.detach(), grad=shard.grad)
    hidden = case["hidden"].clone().requires_grad_()
    weight = case["weight"][a : a + w].clone().requires_grad_()
    bias = (
        None
        if case["bias"] is None
        else case["bias"][a : a + w].clone().requires_grad_()
    )
    loss = vocab_parallel_linear_cross_entropy(
        hidden,
        weight,
        case["targets"],
        vocab_start=a,
        bias_shard=bias,
        reduction=case["reduction"],
    )
    loss.backward(case["upstream"])
    return dict(
        loss=loss.detach(),
        hidden=hidden.grad,
        weight=weight.grad,
        bias=None if bias is None else bias.grad,
    )


def _worker(rank, world, port, in_path, out_dir):
    os.environ["MASTER_ADDR"] = "127.0.0.1"
    os.environ["MASTER_PORT"] = str(port)
    torch.set_num_threads(1)
    dist.init_process_group(
        "gloo",
        rank=rank,
        world_size=world,
        timeout=timedelta(seconds=TIMEOUT_S),
    )
    try:
        results = {}
        for name, case in torch.load(in_path, weights_only=False).items():
            try:
                results[name] = run_case(rank, case)
            except ValueError as exc:
                results[name] = dict(error=str(exc))
        torch.save(results, os.path.join(out_dir, f"rank{rank}.pt"))
    finally:
        dist.destroy_process_group()


@pytest.fixture(scope="module")
def distributed_results(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("vocab_parallel")
    cases = build_cases()
    torch.save(cases, tmp / "cases.pt")
    context = mp.spawn(
        _worker,
        args=(WORLD, free_port(), str(tmp / "cases.pt"), str(tmp)),
        nprocs=WORLD,
        join=False,
    )
    deadline = time.monotonic() + TIMEOUT_S
    while not context.join(timeout=1):
        if time.monotonic() > deadline:
            for process in context.processes:
                process.terminate()
            pytest.fail(
                f"the {WORLD} processes did not finish within {TIMEOUT_S} s"
            )
    results = [
        torch.load(tmp / f"rank{r}.pt", weights_only=False)
        for r in range(WORLD)
    ]
    return cases, results


def full_reference(case):
    """Loss and gradients of the whole problem in one process, by autograd."""
    if case["kind"] == "logits":
        logits = case["logits"].clone().requires_grad_()
        v = logits.shape[-1]
        loss = F.cross_entropy(
            logits.reshape(-1, v),
            case["targets"].reshape(-1),
            reduction=case["reduction"],
        )
        loss = (
            loss.reshape(case["targets"].shape)
            if case["reduction"] == "none"
            else loss
        )
        loss.backward(case["upstream"])
        return dict(loss=loss.detach(), grad=logits.grad)
    hidden = case["hidden"].clone().requires_grad_()
    weight = case["weight"].clone().requires_grad_()
    bias = (
        None if case["bias"] is None else case["bias"].clone().requires_grad_()
    )
    loss = F.cross_entropy(
        F.linear(hidden, weight, bias),
        case["targets"],
        reduction=case["reduction"],
    )
    loss.backward(case["upstream"])
    return dict(
        loss=loss.detach(),
        hidden=hidden.grad,
        weight=weight.grad,
        bias=None if bias is None else bias.grad,
    )


EXACT_CASES = [
    f"{kind}-{r}"
    for kind in ("uneven", "batch-time", "all-ignored")
    for r in ("mean", "sum", "none")
]
EXACT_CASES += ["one-class-on-rank-0", "large-logits"]
LINEAR_CASES = ["linear-mean", "linear-sum", "linear-none", "linear-no-bias"]


@pytest.mark.parametrize("name", EXACT_CASES)
def test_every_rank_gets_the_full_loss_and_its_slice_of_the_gradient(
    distributed_results, name
):
    cases, results = distributed_results
    case = cases[name]
    expected = full_reference(case)
    for r in range(WORLD):
        assert results[r][name]["loss"].shape == expected["loss"].shape
        assert_close(results[r][name]["loss"], expected["loss"])
    # the shards' gradients, side by side, are the full gradient
    assert_close(
        torch.cat([results[r][name]["grad"] for r in range(WORLD)], dim=-1),
        expected["grad"],
    )


def test_all_ignored_values(distributed_results):
    """Like F.cross_entropy: mean over zero tokens is nan, sum 0, and the
    gradient is 0."""
    _, results = distributed_results
    for r in range(WORLD):
        assert math.isnan(results[r]["all-ignored-mean"]["loss"].item())
        assert results[r]["all-ignored-sum"]["loss"].item() == 0.0
        for red in ("mean", "sum", "none"):
            grad = results[r][f"all-ignored-{red}"]["grad"]
            assert torch.equal(grad, torch.zeros_like(grad))


def test_large_logits_stay_finite(distributed_results):
    """Logits of size 1e4 would overflow exp(); the global maximum is factored
    out first."""
    cases, results = distributed_results
    assert cases["large-logits"]["logits"].abs().max() > 1e4
    for r in range(WORLD):
        assert torch.isfinite(results[r]["large-logits"]["loss"]).all()


@pytest.mark.parametrize("name", LINEAR_CASES)
def test_sharded_weight(distributed_results, name):
    cases, results = distributed_results
    expected = full_reference(cases[name])
    for r in range(WORLD):
        assert_close(results[r][name]["loss"], expected["loss"])
        # every rank ends with the full gradient of the replicated hidden
        # states
        assert_close(results[r][name]["hidden"], expected["hidden"])
    assert_close(
        torch.cat([results[r][name]["weight"] for r in range(WORLD)]),
        expected["weight"],
    )
    if expected["bias"] is not None:
        assert_close(
            torch.cat([results[r][name]["bias"] for r in range(WORLD)]),
            expected["bias"],
        )


@pytest.mark.parametrize(
    "name, message",
    [
        (
            "out-of-range",
            "targets: class index 7 lies in no rank's slice of the vocabulary",
        ),
        (
            "negative-target",
            "targets: class index -3 lies in no rank's slice of the "
            "vocabulary",
        ),
        ("gap", "targets: class index 3 lies in no rank's slice"),
        (
            "overlap",
            "vocab_start: class 2 lies in the slices of 2 ranks (the slices "
            "overlap)",
        ),
    ],
)
def test_bad_targets_or_slices_raise_on_every_rank(
    distributed_results, name, message
):
    _, results = distributed_results
    for r in range(WORLD):
        assert "error" in results[r][name], f"rank {r} did not raise"
        assert message in results[r][name]["error"]


# -----------------------------------------------------------------------------
# In this process: a group of one (torch.distributed not initialised, then a
# one-rank gloo group)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_single_process_is_plain_cross_entropy(reduction, dtype):
    case = logits_case((3, 5), [6], reduction, seed=11, ignore=(4, 9))
    logits = case["logits"].to(dtype).requires_grad_()
    loss = vocab_parallel_cross_entropy(
        logits, case["targets"], vocab_start=0, reduction=reduction
    )
    expected = F.cross_entropy(
        logits.reshape(-1, 6), case["targets"].reshape(-1), reduction=reduction
    )
    expected = expected.reshape(3, 5) if reduction == "none" else expected
    upstream = case["upstream"].to(dtype)
    (grad,) = torch.autograd.grad(loss, logits, upstream)
    (e_grad,) = torch.autograd.grad(expected, logits, upstream)
    assert loss.dtype == dtype
    eps = torch.finfo(dtype).eps
    rtol = (
        RTOL if dtype == F64 else 64 * eps
    )  # float32: a few ulps of the ~6-term sums, with margin
    torch.testing.assert_close(loss, expected, rtol=rtol, atol=rtol * 1e-2)
    torch.testing.assert_close(grad, e_grad, rtol=rtol, atol=rtol * 1e-2)


@pytest.mark.parametrize("reduction", ["mean", "none"])
def test_without_gradients_gives_the_same_loss(reduction):
    case = logits_case((6,), [7], reduction, seed=14, ignore=(2,))
    logits = case["logits"].clone().requires_grad_()
    expected = F.cross_entropy(
        case["logits"], case["targets"], reduction=reduction
    )
    with torch.no_grad():
        loss = vocab_parallel_cross_entropy(
            logits, case["targets"], vocab_start=0, reduction=reduction
        )
    assert loss.grad_fn is None
    assert_close(loss, expected)
    loss = vocab_parallel_cross_entropy(
        case["logits"], case["targets"], vocab_start=0, reduction=reduction
    )
    assert not loss.requires_grad
    assert_close(loss, expected)


def test_bfloat16_is_reduced_in_float32():
    """bfloat16 logits: the loss is computed in float32 from the same bfloat16
    values, then rounded once (relative error <= 2^-8 with round-to-nearest of
    an 8-bit significand)."""
    case = logits_case((6,), [10], "mean", seed=12)
    logits = case["logits"].to(torch.bfloat16)
    loss = vocab_parallel_cross_entropy(logits, case["targets"], vocab_start=0)
    exact = F.cross_entropy(logits.double(), case["targets"])
    assert loss.dtype == torch.bfloat16
    assert abs(loss.double().item() - exact.item()) <= 2**-8 * exact.item()


def test_one_rank_gloo_group():
    """With a real (one-rank) process group the all-reduces run and change
    nothing."""
    os.environ["MASTER_ADDR"] = "127.0.0.1"
    os.environ["MASTER_PORT"] = str(free_port())
    dist.init_process_group(
        "gloo", rank=0, world_size=1, timeout=timedelta(seconds=TIMEOUT_S)
    )
    try:
        case = logits_case((4,), [5], "sum", seed=13, ignore=(1,))
        logits = case["logits"].clone().requires_grad_()
        loss = vocab_parallel_cross_entropy(
            logits,
            case["targets"],
            vocab_start=0,
            group=dist.group.WORLD,
            reduction="sum",
        )
        assert_close(
            loss,
            F.cross_entropy(case["logits"], case["targets"], reduction="sum"),
        )
        hidden = torch.randn(4, 3, dtype=F64, requires_grad=True)
        weight = torch.randn(5, 3, dtype=F64)
        loss = vocab_parallel_linear_cross_entropy(
            hidden, weight, case["targets"], vocab_start=0
        )
        (grad,) = torch.autograd.grad(loss, hidden)
        (e_grad,) = torch.autograd.grad(
            F.cross_entropy(hidden @ weight.T, case["targets"]), hidden
        )
        assert_close(grad, e_grad)
    finally:
        dist.destroy_process_group()


def test_group_without_initialisation_is_refused():
    logits = torch.zeros(2, 3)
    with pytest.raises(
        ValueError,
        match=(
            r"group: a process group was given but torch.distributed is not "
            r"initialised"
        ),
    ):
        vocab_parallel_cross_entropy(
            logits, torch.tensor([0, 1]), vocab_start=0, group=object()
        )


def test_single_process_with_a_partial_slice_is_refused():
    """A process alone that holds only part of the vocabulary cannot see
    targets outside it."""
    with pytest.raises(
        ValueError, match=r"targets: class index 0 lies in no rank's slice"
    ):
        vocab_parallel_cross_entropy(
            torch.zeros(2, 3), torch.tensor([0, 3]), vocab_start=2
        )


@pytest.mark.parametrize(
    "logits, targets, kwargs, error, message",
    [
        (
            [[0.0, 1.0]],
            torch.tensor([0]),
            {},
            TypeError,
            "logits_shard: expected a torch.Tensor, got list",
        ),
        (
            torch.zeros(1, 2),
            [0],
            {},
            TypeError,
            "targets: expected a torch.Tensor, got list",
        ),
        (
            torch.zeros(1, 2, dtype=torch.long),
            torch.tensor([0]),
            {},
            TypeError,
            "logits_shard: expected a floating-point tensor, got dtype "
            "torch.int64",
        ),
        (
            torch.tensor(0.0),
            torch.tensor(0),
            {},
            ValueError,
            "logits_shard: expected shape (N, V_r) or (..., V_r) with V_r >= "
            "1, got ()",
        ),
        (
            torch.zeros(2, 0),
            torch.tensor([0, 0]),
            {},
            ValueError,
            "with V_r >= 1, got (2, 0)",
        ),
        (
            torch.zeros(1, 2),
            torch.tensor([0.0]),
            {},
            TypeError,
            "targets: expected integer class indices, got dtype torch.float32",
        ),
        (
            torch.zeros(1, 2),
            torch.tensor([True]),
            {},
            TypeError,
            "targets: expected integer class indices, got dtype torch.bool",
        ),
        (
            torch.zeros(2, 2),
            torch.tensor([0]),
            {},
            ValueError,
            "targets: expected shape (2,) (logits_shard without the class "
            "axis), got (1,)",
        ),
        (
            torch.zeros(1, 2),
            torch.tensor([0]),
            dict(vocab_start=1.0),
            TypeError,
            "vocab_start: expected a non-negative integer, got 1.0",
        ),
        (
            torch.zeros(1, 2),
            torch.tensor([0]),
            dict(vocab_start=True),
            TypeError,
            "vocab_start: expected a non-negative integer, got True",
        ),
        (
            torch.zeros(1, 2),
            torch.tensor([0]),
            dict(vocab_start=-1),
            ValueError,
            "vocab_start: expected a non-negative integer, got -1",
        ),
        (
            torch.zeros(1, 2),
            torch.tensor([0]),
            dict(ignore_index=None),
            TypeError,
            "ignore_index: expected an integer, got None",
        ),
        (
            torch.zeros(1, 2),
            torch.tensor([0]),
            dict(reduction="batchmean"),
            ValueError,
            "reduction: expected one of 'mean', 'sum', 'none', got "
            "'batchmean'",
        ),
        (
            torch.zeros(1, 2),
            torch.zeros(1, dtype=torch.long, device="meta"),
            {},
            ValueError,
            "targets: expected device cpu (the device of logits_shard), got "
            "meta",
        ),
    ],
)
def test_bad_input(logits, targets, kwargs, error, message):
    kwargs = {"vocab_start": 0, **kwargs}
    with pytest.raises(error) as info:
        vocab_parallel_cross_entropy(logits, targets, **kwargs)
    assert message in str(info.value)


@pytest.mark.parametrize(
    "hidden, weight, error, message",
    [
        (
            [[0.0]],
            torch.zeros(2, 1),
            TypeError,
            "hidden: expected a torch.Tensor, got list",
        ),
        (
            torch.zeros(1, 1),
            [[0.0]],
            TypeError,
            "weight_shard: expected a torch.Tensor, got list",
        ),
        (
            torch.zeros(1, 3),
            torch.zeros(2, 2),
            ValueError,
            "weight_shard: expected shape (V_r, 3) (H = hidden.shape[-1]), "
            "got (2, 2)",
        ),
    ],
)
def test_bad_input_linear(hidden, weight, error, message):
    with pytest.raises(error) as info:
        vocab_parallel_linear_cross_entropy(
            hidden, weight, torch.tensor([0]), vocab_start=0
        )
    assert message in str(info.value)

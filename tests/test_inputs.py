"""The input rules of every public entry point (fenchel/_inputs.py): batch axes, domains,
dtypes, solver status. One regression test per case of the "no silent wrong answers"
report, each checked against an independent value."""

from __future__ import annotations

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from fenchel.domains import Simplex
from fenchel import energies as E
from fenchel import losses as L
from fenchel import maximizers as M
from fenchel import regularizers as R

_SOLVE = M.ProjectedGradient(maxiter=2000, tol=1e-7)


# --------------------------------------------------------------------------- 1. batches


def _single_and_vmap(fn, *args):
    return fn(*args), jax.vmap(fn)(*args)


@pytest.mark.parametrize("reg", [R.BinaryEntropy(), R.SquaredBox(), R.BoxIndicator(),
                                 R.Squared(), R.ShannonSimplex(), R.SquaredSimplex()],
                         ids=lambda r: type(r).__name__)
def test_bilinear_batch_equals_vmap(reg):
    rng = np.random.default_rng(0)
    theta = jnp.asarray(rng.standard_normal((2, 3)), jnp.float32)
    if isinstance(reg.domain, Simplex):
        y = jnp.asarray(rng.dirichlet(np.ones(3), 2), jnp.float32)
    else:
        y = jnp.asarray(rng.integers(0, 2, (2, 3)), jnp.float32)
    batched, mapped = _single_and_vmap(lambda t, y_: L.gfy_loss(E.bilinear, reg, t, y_), theta, y)
    assert batched.shape == (2,)
    np.testing.assert_allclose(batched, mapped, rtol=1e-6)
    # The case: theta and y of shape (2, 3) gave one value for the whole batch.
    assert not np.allclose(batched, batched.sum() / 2) or np.allclose(mapped, mapped[0])


def test_hinge_and_perceptron_batches_equal_vmap():
    theta = jnp.array([[1.0, -2.0, 0.5], [0.3, 0.2, -1.0]])
    y = jnp.array([[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]])
    for loss in (L.hinge_loss, L.perceptron_loss):
        batched = loss(E.bilinear, theta, y)
        mapped = jax.vmap(lambda t, y_: loss(E.bilinear, t, y_))(theta, y)
        np.testing.assert_allclose(batched, mapped, rtol=1e-6)
    # Independent values: hinge = Σ max(θ_i + 1 − 2y_i, 0)·… for the box indicator,
    # i.e. Σ_i max over y'_i ∈ [0, 1] of (θ_i + c_i) y'_i + y_i − θ_i y_i.
    c = 1 - 2 * np.asarray(y)
    expected = (np.maximum(np.asarray(theta) + c, 0) + np.asarray(y)
                - np.asarray(theta) * np.asarray(y)).sum(-1)
    np.testing.assert_allclose(L.hinge_loss(E.bilinear, theta, y), expected, rtol=1e-6)


def test_pairwise_batch_broadcasts_a_shared_interaction_matrix(concave_pairwise):
    u0, U = concave_pairwise(1, k=3)
    u = jnp.stack([u0, -u0, 0.5 * u0])
    y = jnp.array([[1.0, 0.0, 1.0], [0.0, 0.0, 1.0], [0.5, 0.5, 0.5]])
    reg = R.SquaredBox()
    batched = L.gfy_loss(E.pairwise, reg, (u, U), y, solver=_SOLVE)
    looped = jnp.stack([L.gfy_loss(E.pairwise, reg, (u[i], U), y[i], solver=_SOLVE)
                        for i in range(3)])
    np.testing.assert_allclose(batched, looped, rtol=1e-5, atol=1e-6)
    y_hat, info = M.maximize(E.pairwise, reg, (u, U), solver=_SOLVE)
    assert y_hat.shape == (3, 3) and info.converged.shape == (3,)
    conj = M.conjugate(E.pairwise, reg, (u, U), solver=_SOLVE)
    np.testing.assert_allclose(conj, info.objective, rtol=1e-6)


def test_other_losses_batch_like_vmap(concave_pairwise):
    u0, U = concave_pairwise(2, k=3)
    u = jnp.stack([u0, -u0])
    y = jnp.array([[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]])
    reg = R.BinaryEntropy()
    for loss in (lambda t, y_: L.unrolled_loss(E.pairwise, reg, t, y_, num_steps=5),
                 lambda t, y_: L.implicit_loss(E.pairwise, reg, t, y_)):
        batched = loss((u, U), y)
        mapped = jax.vmap(loss, in_axes=((0, None), 0))((u, U), y)
        np.testing.assert_allclose(batched, mapped, rtol=1e-5)
    negatives = jnp.zeros((2, 4, 3)).at[:, :, 0].set(1.0)
    batched = L.info_nce_loss(E.bilinear, u, y, negatives)
    mapped = jax.vmap(lambda t, y_, n: L.info_nce_loss(E.bilinear, t, y_, n))(u, y, negatives)
    np.testing.assert_allclose(batched, mapped, rtol=1e-6)


def _low_rank_theta(seed, batch_u=(), batch_v=(), k=4, rank=2):
    rng = np.random.default_rng(seed)
    u = jnp.asarray(2.0 * rng.standard_normal(batch_u + (k,)), jnp.float32)
    factor = jnp.asarray(rng.standard_normal(batch_v + (k, rank)) / np.sqrt(rank), jnp.float32)
    return u, factor


def _nested_vmap(fn, batch):
    for _ in batch:
        fn = jax.vmap(fn)
    return fn


@pytest.mark.parametrize("batch_u, batch_v, batch_y", [
    ((3,), (), (3,)),          # a batch of u, one shared V
    ((3,), (3,), (3,)),        # one V per example
    ((2, 1), (3,), (2, 3)),    # broadcast: u over the first axis, V over the second
    ((), (2,), (4, 2)),        # one u, a V per column, y over both
], ids=["shared-V", "V-per-example", "grid", "y-leads"])
def test_low_rank_batch_broadcasts_like_pairwise_and_equals_vmap(batch_u, batch_v, batch_y):
    """The leading axes of u, V and y broadcast as for pairwise's (u, U), and every entry
    point equals nested jax.vmap over the broadcast batch (U = −VVᵀ not formed)."""
    k = 4
    u, factor = _low_rank_theta(0, batch_u, batch_v, k)
    batch = np.broadcast_shapes(batch_u, batch_v, batch_y)
    y = jnp.asarray(np.random.default_rng(1).integers(0, 2, batch_y + (k,)), jnp.float32)
    full = lambda a, nd: jnp.broadcast_to(a, batch + a.shape[a.ndim - nd:])
    reg = R.BinaryEntropy()
    calls = {
        "gfy_loss": lambda t, y_: L.gfy_loss(E.low_rank_pairwise, reg, t, y_),
        "hinge_loss": lambda t, y_: L.hinge_loss(E.low_rank_pairwise, t, y_),
        "perceptron_loss": lambda t, y_: L.perceptron_loss(E.low_rank_pairwise, t, y_),
        "unrolled_loss": lambda t, y_: L.unrolled_loss(E.low_rank_pairwise, reg, t, y_, num_steps=5),
        "implicit_loss": lambda t, y_: L.implicit_loss(E.low_rank_pairwise, reg, t, y_),
        "maximize": lambda t, y_: M.maximize(E.low_rank_pairwise, reg, t, init=0.5 + 0 * y_)[0],
        "conjugate": lambda t, y_: M.conjugate(E.low_rank_pairwise, reg, t, init=0.5 + 0 * y_),
    }
    for name, call in calls.items():
        batched = call((u, factor), y)
        mapped = _nested_vmap(call, batch)((full(u, 1), full(factor, 2)), full(y, 1))
        assert batched.shape == mapped.shape, name
        np.testing.assert_allclose(batched, mapped, rtol=1e-5, atol=1e-6, err_msg=name)
    # And the values are those of the dense pairwise energy with U = −VVᵀ.
    dense = L.gfy_loss(E.pairwise, reg, (u, -factor @ jnp.swapaxes(factor, -1, -2)), y)
    np.testing.assert_allclose(calls["gfy_loss"]((u, factor), y), dense, rtol=1e-5, atol=1e-6)


def test_low_rank_theta_of_the_wrong_shape_is_refused():
    """(u, V) is checked like pairwise's (u, U): TypeError for a θ that is not a pair,
    ValueError naming theta, the expected and the received shapes otherwise."""
    reg, y = R.SquaredBox(), jnp.zeros(3)
    with pytest.raises(TypeError, match=r"low_rank_pairwise energy takes theta=\(u, V\).*"
                                        r"V: \(k, r\); got ArrayImpl"):
        L.gfy_loss(E.low_rank_pairwise, reg, jnp.zeros(3), y)
    with pytest.raises(ValueError, match=r"theta has shapes \(\(3,\), \(3,\)\); expected "
                                         r"\(\(k,\), \(k, r\)\)"):
        M.maximize(E.low_rank_pairwise, reg, (jnp.zeros(3), jnp.zeros(3)))
    with pytest.raises(ValueError, match=r"theta \(\(3,\), \(4, 2\)\).*expected "
                                         r"\(\(k,\), \(k, r\)\) per example"):
        L.gfy_loss(E.low_rank_pairwise, reg, (jnp.zeros(3), jnp.zeros((4, 2))), y)
    with pytest.raises(ValueError, match=r"y has shape \(2,\), expected \(3,\)"):
        L.gfy_loss(E.low_rank_pairwise, reg, (jnp.zeros(3), jnp.zeros((3, 5))), jnp.zeros(2))
    with pytest.raises(ValueError, match=r"theta \(\(2, 3\), \(4, 3, 2\)\).*do not broadcast"):
        L.gfy_loss(E.low_rank_pairwise, reg, (jnp.zeros((2, 3)), jnp.zeros((4, 3, 2))), y)
    with pytest.raises(ValueError, match=r"theta\[1\] has non-finite values"):
        L.gfy_loss(E.low_rank_pairwise, reg, (jnp.zeros(3), jnp.full((3, 2), jnp.inf)), y)
    # Any rank, also r > k, is accepted.
    assert L.gfy_loss(E.low_rank_pairwise, reg, (jnp.zeros(3), jnp.ones((3, 7))), y).shape == ()


def test_batches_that_do_not_fit_are_refused():
    with pytest.raises(ValueError, match=r"theta \(2, 3\), y \(4, 3\).*vmap"):
        L.gfy_loss(E.bilinear, R.BinaryEntropy(), jnp.zeros((2, 3)), jnp.zeros((4, 3)))
    with pytest.raises(ValueError, match=r"y has shape \(2, 4\), expected \(3,\)"):
        L.gfy_loss(E.bilinear, R.BinaryEntropy(), jnp.zeros((2, 3)), jnp.zeros((2, 4)))
    energy = lambda theta, y: jnp.vdot(theta, y) - jnp.sum(y ** 4)
    with pytest.raises(ValueError, match=r"custom energy.*one example.*jax.vmap"):
        L.gfy_loss(energy, R.SquaredBox(), jnp.zeros((2, 3)), jnp.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"must return a scalar"):
        L.gfy_loss(lambda theta, y: theta * y, R.SquaredBox(), jnp.zeros(3), jnp.zeros(3))


# --------------------------------------------------------------------------- 2. cancellation


def test_squared_loss_has_no_cancellation():
    theta = jnp.array([1000.0, -2000.0, 1500.0])
    y = jnp.array([1000.1, -2000.1, 1500.1])
    expected = 0.5 * np.sum((np.asarray(theta, np.float64) - np.asarray(y, np.float64)) ** 2)
    got = L.gfy_loss(E.bilinear, R.Squared(), theta, y)
    np.testing.assert_allclose(got, expected, rtol=1e-5)
    jitted = jax.jit(jax.vmap(lambda t, y_: L.gfy_loss(E.bilinear, R.Squared(), t, y_)))
    got = jitted(jnp.array([[500.0]]), jnp.array([[500.1]]))
    expected = 0.5 * (500.0 - np.float64(np.float32(500.1))) ** 2
    np.testing.assert_allclose(got, [expected], rtol=1e-5)


@pytest.mark.parametrize("magnitude", [1.0, 1e2, 1e4, 1e6])
def test_closed_forms_are_accurate_relative_to_their_size(magnitude):
    rng = np.random.default_rng(3)
    theta = (magnitude * rng.standard_normal((64, 5))).astype(np.float32)
    y_box = rng.integers(0, 2, (64, 5)).astype(np.float32)
    t64 = theta.astype(np.float64)
    cases = {
        R.Squared(): (theta + rng.standard_normal(theta.shape).astype(np.float32),
                      lambda y: 0.5 * np.sum((t64 - y) ** 2, -1)),
        R.BinaryEntropy(): (y_box, lambda y: np.sum(np.logaddexp(0, t64) - t64 * y, -1)),
        R.SquaredBox(): (y_box, lambda y: np.sum(
            (np.clip(t64, 0, 1) - y) * (t64 - 0.5 * (np.clip(t64, 0, 1) + y)), -1)),
    }
    for reg, (y, reference) in cases.items():
        got = np.asarray(L.gfy_loss(E.bilinear, reg, jnp.asarray(theta), jnp.asarray(y)))
        want = reference(y.astype(np.float64))
        assert np.all(got >= 0), reg
        np.testing.assert_allclose(got, want, rtol=2e-5, atol=1e-6, err_msg=repr(reg))


# --------------------------------------------------------------------------- 3, 4. domains


@pytest.mark.parametrize("reg, y, snapped", [
    (R.BinaryEntropy(), [1.0000001, 0.0], [1.0, 0.0]),
    (R.BinaryEntropy(), [1.0, -1e-8], [1.0, 0.0]),
    (R.ShannonSimplex(), [1.0000001, 0.0], [1.0, 0.0]),
    (R.ShannonSimplex(), [1.0, -1e-8], [1.0, 0.0]),
    (R.SquaredSimplex(), [0.5 + 4e-6, 0.5], [0.5 + 2e-6, 0.5 - 2e-6]),
])
def test_targets_within_the_tolerance_give_the_value_at_the_domain(reg, y, snapped):
    theta = jnp.array([0.3, -0.2])
    got = L.gfy_loss(E.bilinear, reg, theta, jnp.array(y, jnp.float32))
    want = L.gfy_loss(E.bilinear, reg, theta, jnp.array(snapped, jnp.float32))
    assert np.isfinite(got)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_simplex_tolerance_does_not_grow_with_k():
    y = np.full(1000, 1.009 / 1000, np.float32)
    with pytest.raises(ValueError, match=r"y lies outside the domain of ShannonSimplex.*1\.009"):
        L.gfy_loss(E.bilinear, R.ShannonSimplex(), jnp.zeros(1000), y)
    # A softmax of 1000 entries (float32 rounding) is accepted.
    y = jax.nn.softmax(jnp.asarray(np.random.default_rng(0).standard_normal(1000), jnp.float32))
    assert np.isfinite(L.gfy_loss(E.bilinear, R.ShannonSimplex(), jnp.zeros(1000), y))


def test_traced_targets_outside_the_domain_give_nan_not_a_number():
    loss = jax.jit(lambda y: L.gfy_loss(E.bilinear, R.BinaryEntropy(), jnp.zeros(2), y))
    assert np.isnan(loss(jnp.array([1.5, 0.0])))
    batched = jax.jit(lambda y: L.gfy_loss(E.bilinear, R.SquaredBox(), jnp.zeros((2, 2)), y))
    values = batched(jnp.array([[0.0, 1.0], [2.0, 0.0]]))
    assert np.isfinite(values[0]) and np.isnan(values[1])  # per example, as vmap would


def test_hinge_needs_binary_targets():
    with pytest.raises(ValueError, match="y must be binary"):
        L.hinge_loss(E.bilinear, jnp.zeros(2), jnp.array([0.5, 1.0]))
    traced = jax.jit(lambda y: L.hinge_loss(E.bilinear, jnp.zeros(2), y))
    assert np.isnan(traced(jnp.array([0.5, 1.0])))


# --------------------------------------------------------------------------- 5, 6. solver status

_SADDLE = (jnp.array([-1.0, -1.0, -0.5]),
           jnp.array([[0.0, 3.0, 0.0], [3.0, 0.0, 0.0], [0.0, 0.0, 2.0]]))


def _brute_force_box_max(theta, reg, grid=201):
    """max over a grid of [0, 1]^3 of <u, y> + ½ yᵀUy − λ/2‖y‖² (independent of the solvers)."""
    u, U = (np.asarray(a, np.float64) for a in theta)
    g = np.linspace(0, 1, grid)
    ys = np.stack(np.meshgrid(g, g, g, indexing="ij"), -1).reshape(-1, 3)
    values = ys @ u + 0.5 * np.einsum("ni,ij,nj->n", ys, U, ys) - 0.5 * reg.scale * (ys ** 2).sum(1)
    return values.max()


def test_non_concave_pairwise_is_detected_and_solved_globally():
    reg, y = R.SquaredBox(), 0.5 * jnp.ones(3)
    with pytest.warns(M.NonConcaveWarning, match="not concave"):
        loss = L.gfy_loss(E.pairwise, reg, _SADDLE, y)
    u, U = (np.asarray(a, np.float64) for a in _SADDLE)
    f_y = float(u @ y + 0.5 * y @ U @ y - 0.5 * y @ y)
    np.testing.assert_allclose(loss, _brute_force_box_max(_SADDLE, reg) - f_y, rtol=1e-3)
    with pytest.warns(M.NonConcaveWarning, match="stationary point only"):
        M.maximize(E.pairwise, reg, _SADDLE, solver=M.ProjectedGradient())
    with pytest.raises(ValueError, match="unbounded above"):
        L.gfy_loss(E.pairwise, R.Squared(), _SADDLE, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a concave problem warns of nothing
        M.maximize(E.pairwise, reg, (_SADDLE[0], E.negative_semidefinite(jnp.ones((3, 1)))))
    assert M.concavity_excess(E.pairwise, reg, _SADDLE) == pytest.approx(2.0)


@pytest.mark.parametrize("make, match", [
    (lambda: M.ProjectedGradient(maxiter=0), "ProjectedGradient.maxiter must be an integer >= 1, got 0"),
    (lambda: M.ProjectedGradient(maxiter=-3), "maxiter"),
    (lambda: M.ProjectedGradient(maxiter=2.5), "maxiter"),
    (lambda: M.ProjectedGradient(tol=float("nan")), "tol"),
    (lambda: M.ProjectedGradient(decrease=1.5), "decrease"),
    (lambda: M.MirrorAscent(step_size=-1.0), "step_size"),
    (lambda: M.CoordinateAscent(maxiter=True), "maxiter"),
    (lambda: M.Langevin(maxiter=0), "Langevin.maxiter"),
    (lambda: M.Langevin(num_chains=0), "num_chains"),
    (lambda: M.DerivativeFree(num_samples=0), "DerivativeFree.num_samples must be an integer >= 1"),
    (lambda: M.DerivativeFree(iterations=-1), "iterations"),
    (lambda: M.Restarts(num_restarts=-1), "num_restarts"),
])
def test_solver_settings_are_checked_at_construction(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_a_failed_inner_solve_is_visible_through_the_loss(concave_pairwise):
    theta, y = concave_pairwise(0, k=4), jnp.array([1.0, 0.0, 1.0, 0.0])
    reg, weak = R.SquaredBox(), M.ProjectedGradient(maxiter=1)
    with pytest.warns(RuntimeWarning, match="did not converge"):
        L.gfy_loss(E.pairwise, reg, theta, y, solver=weak, on_failure="warn")
    with pytest.raises(Exception, match="did not converge"):
        jax.block_until_ready(L.gfy_loss(E.pairwise, reg, theta, y, solver=weak, on_failure="raise"))
    with pytest.raises(ValueError, match="on_failure"):
        L.gfy_loss(E.pairwise, reg, theta, y, on_failure="loud")
    # The weak solve is a lower bound of the true loss, which a strong one reaches.
    weak_value = L.gfy_loss(E.pairwise, reg, theta, y, solver=weak)
    strong_value = L.gfy_loss(E.pairwise, reg, theta, y, solver=_SOLVE)
    assert float(weak_value) <= float(strong_value) + 1e-6


# --------------------------------------------------------------------------- 9. derivatives in y


@pytest.mark.parametrize("reg", [R.BinaryEntropy(), R.ShannonSimplex()], ids=lambda r: type(r).__name__)
def test_derivative_in_y_is_never_nan(reg):
    theta = jnp.array([0.3, -0.2])
    grad = jax.grad(lambda y: L.gfy_loss(E.bilinear, reg, theta, y))
    at_face = grad(jnp.array([1.0, 0.0]))
    assert not np.any(np.isnan(at_face))
    assert at_face[1] == -np.inf  # the one-sided derivative of y log y at 0
    inside = jnp.array([0.7, 0.3])
    expected = reg.gradient(inside) - theta
    np.testing.assert_allclose(grad(inside), expected, rtol=1e-5)


def test_half_precision_is_computed_in_float32():
    theta = jnp.array([3.0, -2.0, 0.1])
    y = jnp.array([1.0, 0.0, 1.0])
    reference = L.gfy_loss(E.bilinear, R.BinaryEntropy(), theta, y)
    for dtype in (jnp.float16, jnp.bfloat16):
        got = L.gfy_loss(E.bilinear, R.BinaryEntropy(), theta.astype(dtype), y.astype(dtype))
        assert got.dtype == dtype
        np.testing.assert_allclose(np.float32(got), reference, rtol=float(jnp.finfo(dtype).eps) * 4)


# --------------------------------------------------------------------------- found by the fuzz suite


def test_bce_gradient_at_zero_scores_is_sigmoid_minus_y():
    y = jnp.array([1.0, 0.0, 1.0])
    grad = jax.grad(lambda t: L.gfy_loss(E.bilinear, R.BinaryEntropy(), t, y))(jnp.zeros(3))
    np.testing.assert_allclose(grad, 0.5 - y)


def test_traced_nan_scores_give_nan_with_the_box_indicator():
    loss = jax.jit(lambda t: L.gfy_loss(E.bilinear, R.BoxIndicator(), t, jnp.array([0.0, 1.0])))
    assert np.isnan(loss(jnp.array([jnp.nan, 1.0])))


def test_hinge_with_coordinate_ascent_solves_the_augmented_problem(concave_pairwise):
    theta, y = concave_pairwise(5, k=3), jnp.array([1.0, 0.0, 1.0])
    by_coordinates = L.hinge_loss(E.pairwise, theta, y, solver=M.CoordinateAscent())
    by_gradient = L.hinge_loss(E.pairwise, theta, y, solver=_SOLVE)
    np.testing.assert_allclose(by_coordinates, by_gradient, rtol=1e-4, atol=1e-5)
    # Independent: the augmented objective on a grid of [0, 1]^3 (concave in y').
    u, U = (np.asarray(a, np.float64) for a in theta)
    g = np.linspace(0, 1, 101)
    ys = np.stack(np.meshgrid(g, g, g, indexing="ij"), -1).reshape(-1, 3)
    yy = np.asarray(y, np.float64)
    values = ys @ u + 0.5 * np.einsum("ni,ij,nj->n", ys, U, ys) + np.abs(ys - yy).sum(1)
    expected = values.max() - (yy @ u + 0.5 * yy @ U @ yy)
    np.testing.assert_allclose(by_coordinates, expected, rtol=1e-3, atol=1e-3)


def test_derivative_in_y_at_the_box_faces_is_not_halved():
    # Binary targets sit on the faces: moving them onto the box must keep the derivative
    # λy − θ there (jnp.clip's is ½ at its bounds).
    theta, y = jnp.array([2.0, -1.0, 0.5]), jnp.array([1.0, 0.0, 0.3])
    grad = jax.grad(lambda y_: L.gfy_loss(E.bilinear, R.SquaredBox(), theta, y_))(y)
    np.testing.assert_allclose(grad, y - theta, rtol=1e-6)


def test_a_string_scale_is_refused():
    for bad in ("1", b"1", True, None):
        with pytest.raises(ValueError, match="scale must be a finite number > 0"):
            R.SquaredBox(scale=bad)


def test_hinge_refuses_a_domain_where_the_hamming_cost_is_not_linear():
    with pytest.raises(ValueError, match=r"hinge_loss needs reg on the box \[0, 1\]\^k"):
        L.hinge_loss(E.bilinear, jnp.zeros(2), jnp.array([1.0, 0.0]),
                     reg=R.SquaredBox(lower=-1.0, upper=2.0))
    with pytest.raises(ValueError, match=r"with the domain Reals\(\)"):
        L.hinge_loss(E.bilinear, jnp.zeros(2), jnp.array([1.0, 0.0]), reg=R.Squared())


@pytest.mark.parametrize("dtype", [jnp.float16, jnp.bfloat16])
def test_half_precision_simplex_targets_use_their_own_tolerance(dtype):
    # A point of the simplex rounded to half precision sums to 1 only within its eps.
    y = jnp.asarray(np.array([0.1, 0.2, 0.3, 0.4], np.float32)).astype(dtype)
    assert abs(float(jnp.sum(y.astype(jnp.float32))) - 1) > 1e-5 or dtype == jnp.float16
    theta = jnp.zeros(4, dtype)
    eager = L.gfy_loss(E.bilinear, R.ShannonSimplex(), theta, y)
    traced = jax.jit(lambda y_: L.gfy_loss(E.bilinear, R.ShannonSimplex(), theta, y_))(y)
    assert np.isfinite(float(eager)) and np.isfinite(float(traced))

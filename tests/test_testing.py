"""fenchel.testing: the property checks pass on every registered built-in, on a user's
own regularizer, energy and solver, and fail on broken components (they can fail)."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.optimize

import fenchel as fy
from fenchel import domains as D
from fenchel import energies as E
from fenchel import maximizers as M
from fenchel import regularizers as R
from fenchel import testing as T

# Every example instance of every registered built-in (the registry is the catalogue).
BUILT_IN_EXAMPLES = [(name, reg) for name, regs in R.BUILT_INS.items() for reg in regs]


@pytest.mark.parametrize("name, reg", BUILT_IN_EXAMPLES,
                         ids=[f"{n}-{i}" for n, regs in R.BUILT_INS.items() for i in range(len(regs))])
def test_every_built_in_regularizer_passes_the_checks(name, reg):
    T.check_regularizer(reg, k=3, num=4)


@pytest.mark.parametrize("domain", [D.Box(0.0, 1.0), D.Box(-2.0, 0.5), D.Simplex(), D.Reals()],
                         ids=repr)
def test_every_built_in_domain_passes_the_checks(domain):
    T.check_domain(domain)


def quartic(theta, y):
    return jnp.vdot(theta, y) - 0.1 * jnp.sum(y ** 4)


@pytest.mark.parametrize("energy, theta", [
    (E.bilinear, jnp.array([1.0, -0.5, 0.3])),
    (E.pairwise, (jnp.array([1.0, -0.5, 0.3]), jnp.array([[-1.0, 0.4, 0.0],
                                                          [0.1, -0.5, 0.2],
                                                          [0.0, 0.3, -0.8]]))),
    (E.low_rank_pairwise, (jnp.array([1.0, -0.5, 0.3]), jnp.array([[0.5, 0.1], [0.2, -0.4],
                                                                   [0.3, 0.3]]))),
    (quartic, jnp.array([1.0, -0.5, 0.3])),
], ids=["bilinear", "pairwise", "low_rank_pairwise", "quartic"])
def test_energies_pass_the_checks(energy, theta):
    T.check_energy(energy, theta, jnp.array([0.2, 0.5, 0.9]))


CONCAVE = (jnp.array([1.0, -0.5, 0.3]), -jnp.eye(3) - 0.2)


@pytest.mark.parametrize("solver, reg, concave", [
    (M.ProjectedGradient(), R.SquaredBox(), True),
    (M.ProjectedGradient(), R.Tsallis(), True),
    (M.MirrorAscent(), R.ShannonSimplex(), True),
    (M.CoordinateAscent(), R.BinaryEntropy(), True),
    (M.Restarts(M.ProjectedGradient(), num_restarts=2), R.SquaredSimplex(), True),
    (M.Sequential((M.MirrorAscent(maxiter=2), M.MirrorAscent())), R.BinaryEntropy(), True),
    (M.DerivativeFree(num_samples=64), R.SquaredBox(), False),
    (M.Langevin(num_chains=4, maxiter=32), R.ShannonSimplex(), False),
], ids=lambda v: type(v).__name__ if not isinstance(v, bool) else str(v))
def test_solvers_pass_the_checks(solver, reg, concave):
    T.check_maximizer(solver, E.pairwise, reg, CONCAVE, concave=concave)


# --------------------------------------------------------------------------- a user's own


@dataclasses.dataclass(frozen=True)
class WeightedSquaredBox(R.Regularizer):
    """Ω(y) = ½ Σ w_i y_i² on [0, 1]^k: a domain and a value, nothing else."""

    weights: tuple = (1.0, 2.0, 0.5)
    domain = D.Box(0.0, 1.0)

    def value(self, y):
        return 0.5 * jnp.sum(jnp.asarray(self.weights) * jnp.square(y), axis=-1)


def test_a_users_regularizer_needs_only_a_domain_and_a_value():
    reg = WeightedSquaredBox()
    assert not reg.has_linear_maximizer and not reg.has_prox and not reg.has_mirror_map
    T.check_regularizer(reg, k=3, num=4)
    theta = jnp.array([[0.5, 1.0, 0.2], [-1.0, 3.0, 0.1]])
    y = jnp.array([[1.0, 0.0, 0.5], [0.0, 1.0, 0.0]])
    w = np.array(reg.weights)
    expected_hat = np.clip(np.asarray(theta) / w, 0.0, 1.0)  # its bilinear maximizer
    y_hat, info = fy.maximize(E.bilinear, reg, theta)
    np.testing.assert_allclose(y_hat, expected_hat, atol=1e-5)
    assert np.all(np.asarray(info.status) == int(M.Status.SUCCESSFUL))
    objective = lambda t, v: np.sum(t * v, -1) - 0.5 * np.sum(w * v * v, -1)
    loss = fy.gfy_loss(E.bilinear, reg, theta, y)
    want = objective(np.asarray(theta), expected_hat) - objective(np.asarray(theta), np.asarray(y))
    np.testing.assert_allclose(loss, want, rtol=1e-5, atol=1e-6)
    grads = jax.grad(lambda t: jnp.sum(fy.gfy_loss(E.bilinear, reg, t, y)))(theta)
    np.testing.assert_allclose(grads, expected_hat - np.asarray(y), atol=1e-5)


def test_a_users_regularizer_works_with_the_pairwise_energy():
    reg = WeightedSquaredBox()
    u, U = CONCAVE
    y = jnp.array([1.0, 0.0, 0.5])
    w = np.array(reg.weights)
    sym = np.asarray(U, np.float64)

    def negative(v):
        return -(np.asarray(u) @ v + 0.5 * v @ sym @ v - 0.5 * np.sum(w * v * v))

    best = scipy.optimize.minimize(negative, np.full(3, 0.5), bounds=[(0.0, 1.0)] * 3,
                                   method="L-BFGS-B", options={"ftol": 1e-15, "gtol": 1e-12})
    y_hat, _ = fy.maximize(E.pairwise, reg, (u, U))
    np.testing.assert_allclose(y_hat, best.x, atol=1e-4)
    loss = fy.gfy_loss(E.pairwise, reg, (u, U), y)
    np.testing.assert_allclose(loss, -best.fun + negative(np.asarray(y)), rtol=1e-4, atol=1e-5)


class WrongMaximizer(R.SquaredBox):
    """A broken regularizer: its 'closed form' ignores the scale."""

    def linear_maximizer(self, theta):
        return jnp.clip(theta, self.lower, self.upper)


@dataclasses.dataclass(frozen=True)
class LeakyBox(D.Box):
    """A broken domain: its projection leaves points outside."""

    def project(self, y):
        return jnp.clip(y, self.lower - 0.5, self.upper)


@dataclasses.dataclass(frozen=True)
class NonNegativeValue(R.Regularizer):
    """A broken regularizer: Ω(y) = Σ|y| is fine, but it claims a wrong prox."""

    domain = D.Box(-1.0, 1.0)

    def value(self, y):
        return jnp.sum(jnp.abs(y), axis=-1)

    def prox(self, v, step):
        return jnp.clip(v, -1.0, 1.0)  # ignores the soft-threshold


def test_the_checks_fail_on_broken_components():
    with pytest.raises(AssertionError, match="maximiz"):
        T.check_regularizer(WrongMaximizer(scale=3.0), k=3)
    with pytest.raises(AssertionError, match="project"):
        T.check_domain(LeakyBox(0.0, 1.0))
    with pytest.raises(AssertionError, match="prox"):
        T.check_regularizer(NonNegativeValue(), k=3)
    with pytest.raises(AssertionError, match="oracle"):
        class WrongGradient(E.Energy):
            def __call__(self, theta, y):
                return jnp.vdot(theta, y)

            def oracle(self, theta):
                base = super().oracle(theta)
                return base._replace(grad=lambda y: 2.0 * base.grad(y))

        T.check_energy(WrongGradient(), jnp.ones(3), jnp.array([0.1, 0.2, 0.3]))
    with pytest.raises(AssertionError, match="reference"):
        coupled = jnp.array([[-5.0, 2.0, 0.0], [2.0, -5.0, 2.0], [0.0, 2.0, -5.0]])  # ⪯ 0
        T.check_maximizer(M.ProjectedGradient(maxiter=1), E.pairwise, R.SquaredBox(),
                          (jnp.array([3.0, -2.0, 1.0]), coupled))


def test_a_users_energy_and_solver_plug_in():
    """A solver written from the protocol (projected gradient ascent with a fixed
    step) and an Energy subclass work with maximize, gfy_loss and the checks."""

    @dataclasses.dataclass(frozen=True)
    class FixedStep(M.Maximizer):
        step: float = 0.1
        maxiter: int = 2000
        _leaf_fields = ("step",)
        local = True

        def __call__(self, energy, reg, theta, init=None, key=None):
            energy = E.as_energy(energy)
            y = reg.project(M.resolve_init(energy, reg, theta, init))
            objective_grad = jax.grad(lambda v: M.objective(energy, reg, theta, v))
            body = lambda _, v: reg.project(v + self.step * objective_grad(v))
            y_new = jax.lax.fori_loop(0, self.maxiter, body, y)
            residual = jnp.linalg.norm(body(0, y_new) - y_new) / self.step
            return y_new, M.make_info(energy, reg, theta, y_new, self.maxiter, residual, 1e-4)

    class Quartic(E.Energy):
        def __call__(self, theta, y):
            return jnp.vdot(theta, y) - 0.1 * jnp.sum(y ** 4)

        def output_shape(self, theta):
            return jnp.shape(theta)

    theta = jnp.array([1.0, -0.5, 0.3])
    T.check_maximizer(FixedStep(), Quartic(), R.SquaredBox(), theta)
    T.check_energy(Quartic(), theta, jnp.array([0.2, 0.5, 0.9]))
    y_hat, info = fy.maximize(Quartic(), R.SquaredBox(), theta, solver=FixedStep())
    reference, _ = fy.maximize(Quartic(), R.SquaredBox(), theta)
    np.testing.assert_allclose(y_hat, reference, atol=1e-4)
    loss = fy.gfy_loss(Quartic(), R.SquaredBox(), theta, jnp.array([1.0, 0.0, 0.0]),
                       solver=FixedStep())
    assert np.isfinite(float(loss)) and float(loss) >= 0.0

"""MaximizerInfo.status tells why a solve ended, and on_failure="raise" raises the
documented NotConvergedError, eagerly and inside fenchel.maximizers.jit."""

from __future__ import annotations

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import fenchel as fy
from fenchel import energies as E
from fenchel import maximizers as M
from fenchel import regularizers as R

S = M.Status
COUPLED = (jnp.array([3.0, -2.0, 1.0]),
           jnp.array([[-5.0, 2.0, 0.0], [2.0, -5.0, 2.0], [0.0, 2.0, -5.0]]))


def test_every_status_has_a_message():
    for status in S:
        assert isinstance(S.message(status), str) and S.message(np.int32(status))


@pytest.mark.parametrize("solver, reg, expected", [
    (M.ProjectedGradient(), R.SquaredBox(), S.SUCCESSFUL),
    (M.ProjectedGradient(maxiter=1), R.SquaredBox(), S.MAX_ITERATIONS),
    (M.MirrorAscent(maxiter=1), R.BinaryEntropy(), S.MAX_ITERATIONS),
    (M.CoordinateAscent(maxiter=1), R.SquaredBox(), S.MAX_ITERATIONS),
    (M.DerivativeFree(num_samples=16), R.SquaredBox(), S.NO_CERTIFICATE),
    (M.ClosedForm(), R.SquaredBox(), S.SUCCESSFUL),
], ids=lambda v: type(v).__name__ if not isinstance(v, S) else v.name)
def test_status_says_why_the_solver_stopped(solver, reg, expected):
    theta = COUPLED[0] if isinstance(solver, M.ClosedForm) else COUPLED
    energy = E.bilinear if isinstance(solver, M.ClosedForm) else E.pairwise
    _, info = fy.maximize(energy, reg, theta, solver=solver)
    assert int(info.status) == expected, S.message(info.status)
    assert bool(info.converged) == (expected in (S.SUCCESSFUL, S.NO_CERTIFICATE))


def test_a_nan_is_nonfinite_not_out_of_iterations():
    """A traced NaN (under jit, where θ cannot be checked) ends NONFINITE; the other
    examples of the batch keep their own status."""
    u = jnp.array([[jnp.nan, 0.1, 0.2], [1.0, -0.5, 0.3]])
    solve = jax.jit(lambda u_: fy.maximize(E.pairwise, R.BinaryEntropy(), (u_, -jnp.eye(3)))[1])
    info = solve(u)
    assert info.status.tolist() == [S.NONFINITE, S.SUCCESSFUL]


def test_a_stationary_point_of_a_non_concave_problem_says_so():
    theta = (jnp.array([-1.0, -1.0, -0.5]), jnp.array([[0.0, 3.0, 3.0], [3.0, 0.0, 3.0],
                                                      [3.0, 3.0, 0.0]]))
    with pytest.warns(M.NonConcaveWarning):
        _, info = fy.maximize(E.pairwise, R.SquaredBox(), theta, solver=M.ProjectedGradient())
    assert int(info.status) == S.NOT_CONCAVE
    with pytest.warns(M.NonConcaveWarning):  # the default wraps it in Restarts: not local
        _, info = fy.maximize(E.pairwise, R.SquaredBox(), theta)
    assert int(info.status) == S.SUCCESSFUL


def test_on_failure_raise_gives_not_converged_error_eagerly_and_under_fenchel_jit():
    solver = M.ProjectedGradient(maxiter=1)
    with pytest.raises(M.NotConvergedError, match="MAX_ITERATIONS"):
        fy.maximize(E.pairwise, R.SquaredBox(), COUPLED, solver=solver, on_failure="raise")

    @M.jit
    def loss(theta):
        return fy.gfy_loss(E.pairwise, R.SquaredBox(), theta, jnp.zeros(3), solver=solver,
                           on_failure="raise")

    with pytest.raises(M.NotConvergedError, match="did not converge in 1 of 1 problems"):
        loss(COUPLED)
    # Under a bare jax.jit, JAX raises its own error, which carries ours.
    with pytest.raises(jax.errors.JaxRuntimeError, match="NotConvergedError"):
        jax.jit(lambda t: fy.maximize(E.pairwise, R.SquaredBox(), t, solver=solver,
                                      on_failure="raise")[0])(COUPLED).block_until_ready()
    # Nothing is raised when the solve succeeds, and other errors pass through M.jit.
    ok = M.jit(lambda t: fy.maximize(E.pairwise, R.SquaredBox(), t, on_failure="raise")[0])
    assert ok(COUPLED).shape == (3,)
    with pytest.raises(TypeError):
        M.jit(lambda t: t + "a")(1.0)


def test_on_failure_warn_names_the_status():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fy.maximize(E.pairwise, R.SquaredBox(), COUPLED, solver=M.ProjectedGradient(maxiter=1),
                    on_failure="warn")
    assert any("MAX_ITERATIONS" in str(w.message) for w in caught)

"""The permutahedron and the Birkhoff polytope: their projections against generic QP
references, the regularizers on them (Fenchel-Young inequality, gradient ŷ − y,
exact second derivatives, batch = vmap), the solvers through the domains'
projections, and the ranking encoders and decoders."""

import functools
import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.optimize
from hypothesis import Phase, given, settings, strategies as st

import fenchel as fy
from fenchel import _doubly_stochastic
from fenchel import domains as D
from fenchel import energies as E
from fenchel import maximizers as M
from fenchel import ranking
from fenchel import regularizers as R
from fenchel import testing

# No shrinking: a failure prints its example at once (shrinking recompiles).
SETTINGS = settings(max_examples=8, deadline=None, derandomize=True,
                    phases=[Phase.explicit, Phase.generate])
seeds = st.integers(0, 2**31 - 1)

PERMUTAHEDRON_REGS = [R.SquaredPermutahedron(), R.EntropicPermutahedron(scale=0.5),
                      R.SquaredPermutahedron(scale=2.0, w=(3.0, -1.0, 0.5, 0.0))]
BIRKHOFF_REGS = [R.SquaredBirkhoff(), R.EntropicBirkhoff(scale=0.5)]


def _permutahedron_reference(z, w, entropic):
    """SLSQP on the 2^k − 2 subset inequalities of P(w) (small k only)."""
    k, ws = len(z), np.sort(w)[::-1]
    cons = [{"type": "ineq", "fun": lambda y, S=S: ws[:len(S)].sum() - y[list(S)].sum()}
            for r in range(1, k) for S in itertools.combinations(range(k), r)]
    cons.append({"type": "eq", "fun": lambda y: y.sum() - ws.sum()})
    if entropic:
        f = lambda y: -(z @ y) + np.sum(y * np.log(np.maximum(y, 1e-300)) - y)
    else:
        f = lambda y: 0.5 * np.sum((y - z) ** 2)
    bounds = [(1e-12, None)] * k if entropic else None
    return scipy.optimize.minimize(f, np.full(k, ws.mean()), constraints=cons, bounds=bounds,
                                   method="SLSQP", options={"ftol": 1e-14, "maxiter": 1000}).x


def _birkhoff_reference(z, sweeps=20_000):
    """Dykstra's alternating projections (numpy, float64) between the affine set of
    unit row and column sums (closed form) and Y ≥ 0: another algorithm."""
    k = z.shape[0]

    def affine(x):
        rows, columns = x.sum(1, keepdims=True) - 1, x.sum(0, keepdims=True) - 1
        return x - rows / k - columns / k + (x.sum() - k) / k ** 2

    x, q = z.copy(), np.zeros_like(z)
    for _ in range(sweeps):
        y = affine(x)
        x = np.maximum(y + q, 0)
        q = y + q - x
    return affine(x).ravel()


@SETTINGS
@given(seed=seeds, k=st.integers(1, 5), entropic=st.booleans())
def test_pav_projection_matches_a_qp_reference(seed, k, entropic):
    rng = np.random.default_rng(seed)
    z = 3 * rng.standard_normal(k)
    w = rng.uniform(0.2, 3.0, k) if entropic else 2 * rng.standard_normal(k)
    with fy.testing._enable_x64(True):
        project = D.kl_projection_permutahedron if entropic else D.projection_permutahedron
        got = np.asarray(project(jnp.asarray(z), jnp.asarray(w)))
    want = _permutahedron_reference(z, w, entropic)
    np.testing.assert_allclose(got, want, atol=1e-5 * (1 + np.abs(want).max()))


@SETTINGS
@given(seed=seeds, k=st.integers(1, 4))
def test_birkhoff_projection_matches_a_qp_reference(seed, k):
    z = 1.5 * np.random.default_rng(seed).standard_normal((k, k))
    with fy.testing._enable_x64(True):
        got, info = _doubly_stochastic.solve(jnp.asarray(z.ravel()), "squared")
    assert bool(info.converged)
    np.testing.assert_allclose(np.asarray(got), _birkhoff_reference(z), atol=1e-6)


@SETTINGS
@given(seed=seeds, k=st.sampled_from([2, 3, 6]), scale=st.sampled_from([0.3, 1.0, 5.0]))
def test_sinkhorn_meets_the_marginals_and_the_optimality_form(seed, k, scale):
    z = scale * np.random.default_rng(seed).standard_normal((3, k * k))
    y, info = _doubly_stochastic.solve(jnp.asarray(z, jnp.float32), "entropic")
    m = np.asarray(y, np.float64).reshape(3, k, k)
    # The status is the truth: converged iff the row sums are within tol (Sinkhorn can
    # need more than maxiter sweeps when |Z| is large and Y nearly a permutation).
    done = np.asarray(info.converged)
    rows = np.abs(m.sum(-1) - 1).max(-1)
    assert np.all(done == (np.asarray(info.residual) <= _doubly_stochastic.default_tol(np.float32)))
    assert np.all(rows[done] <= 1e-5) and np.all(np.abs(m.sum(-2) - 1) <= 1e-5)
    assert np.all(done | (np.asarray(info.iterations) == 1000))
    # Optimality: log Y − Z = −α1ᵀ − 1βᵀ, a sum of a row and a column term.
    g = np.log(m) - z.reshape(3, k, k)
    centred = g - g.mean(-1, keepdims=True) - g.mean(-2, keepdims=True) + g.mean((-2, -1), keepdims=True)
    assert np.abs(centred).max() < 1e-3


@pytest.mark.parametrize("domain", [D.Permutahedron(), D.Permutahedron((0.0, 1.0, 1.0, 5.0)),
                                    D.Birkhoff(), D.Birkhoff(k=2)], ids=repr)
def test_domains_pass_check_domain(domain):
    testing.check_domain(domain, k=4)


@pytest.mark.parametrize("reg", PERMUTAHEDRON_REGS + BIRKHOFF_REGS, ids=repr)
@SETTINGS
@given(seed=seeds)
def test_fenchel_young_properties(reg, seed):
    """ŷ in the domain, L ≥ 0, L(θ; ŷ) = 0, ∇_θ L = ŷ − y, batch = vmap (k = 4)."""
    rng = np.random.default_rng(seed)
    theta = jnp.asarray(3 * rng.standard_normal((5, 4)), jnp.float32)
    y = reg.domain.sample(jax.random.key(seed), (5, 4))
    y_hat, loss, at_max, grad, mapped = _fy_program(reg)(theta, y)
    assert bool(reg.domain.contains(y_hat))
    loss = np.asarray(loss)
    assert np.all(loss >= -1e-4), loss
    assert np.all(np.abs(np.asarray(at_max)) <= 1e-3)
    np.testing.assert_allclose(np.asarray(grad), np.asarray(y_hat - y), atol=1e-5)
    np.testing.assert_allclose(np.asarray(mapped), loss, rtol=1e-5, atol=1e-5)


@functools.lru_cache(maxsize=None)
def _fy_program(reg):
    """One compiled program per regularizer (eager calls would recompile the loops)."""
    loss_fn = lambda t, y_: fy.gfy_loss(E.bilinear, reg, t, y_)

    def run(theta, y):
        y_hat = reg.linear_maximizer(theta)
        grad = jax.grad(lambda t: jnp.sum(loss_fn(t, y)))(theta)
        return (y_hat, loss_fn(theta, y), loss_fn(theta, reg.domain.snap(y_hat)[0]), grad,
                jax.vmap(loss_fn)(theta, y))
    return jax.jit(run)


@pytest.mark.parametrize("reg, entropic", [
    (R.SquaredPermutahedron(), False), (R.EntropicPermutahedron(), True),
    (R.SquaredBirkhoff(), False), (R.EntropicBirkhoff(), True)], ids=repr)
def test_second_derivatives_are_the_jacobian_of_y_hat(reg, entropic):
    """∇²_θ L = ∂ŷ/∂θ, against central differences of ŷ (float64): never zero, never
    the loop's."""
    with fy.testing._enable_x64(True):
        y = reg.domain.center((4,), jnp.float64)
        # Near the centre's scores, so that ŷ is inside (at a vertex the Jacobian is 0).
        theta = (0.1 * jnp.asarray(np.random.default_rng(3).standard_normal(4))
                 + (jnp.log(y) if entropic else y))
        hessian = np.asarray(jax.hessian(lambda t: fy.gfy_loss(E.bilinear, reg, t, y))(theta))
        eps, eye = 1e-6, np.eye(4)
        numeric = np.stack([(np.asarray(reg.linear_maximizer(theta + eps * e))
                             - np.asarray(reg.linear_maximizer(theta - eps * e))) / (2 * eps)
                            for e in eye], axis=1)
    assert np.abs(hessian).max() > 1e-3
    np.testing.assert_allclose(hessian, numeric, atol=1e-5)
    np.testing.assert_allclose(hessian, hessian.T, atol=1e-6)


def test_general_solvers_work_through_the_projection():
    theta = (jnp.array([1.0, -1.0, 0.5, 2.0]), -jnp.eye(4) - 0.2)
    # A long ProjectedGradient is the reference for a short one (the default reference
    # runs 20,000 projections, minutes on the Birkhoff polytope).
    reference = M.ProjectedGradient(maxiter=3000, tol=1e-6)
    for reg in (R.SquaredPermutahedron(), R.EntropicPermutahedron(), R.SquaredBirkhoff()):
        testing.check_maximizer(M.ProjectedGradient(), E.pairwise, reg, theta,
                                reference=reference)
    y = ranking.permutahedron_vertex(jnp.array([2, 1, 4, 3]))
    loss = fy.gfy_loss(E.pairwise, R.SquaredPermutahedron(), theta, y)
    assert float(loss) > 0


def test_status_reports_an_unfinished_sinkhorn():
    theta = 5 * jax.random.normal(jax.random.key(0), (9,))
    _, info = fy.maximize(E.bilinear, R.EntropicBirkhoff(maxiter=2), theta)
    assert int(info.status) == M.Status.MAX_ITERATIONS and not bool(info.converged)
    _, info = fy.maximize(E.bilinear, R.EntropicBirkhoff(), theta)
    assert int(info.status) == M.Status.SUCCESSFUL


@SETTINGS
@given(seed=seeds, k=st.integers(1, 7))
def test_ranking_encoders_and_decoders_round_trip(seed, k):
    rng = np.random.default_rng(seed)
    ranks = jnp.asarray(rng.permutation(k) + 1, jnp.int32)
    vertex = ranking.permutahedron_vertex(ranks)
    assert ranking.ranks_from_scores(vertex).tolist() == ranks.tolist()
    # The projection of large scores is the vertex of their sort: argsort is exact.
    scores = jnp.asarray(rng.standard_normal(k), jnp.float32)
    big = jax.jit(R.SquaredPermutahedron().linear_maximizer)(1e3 * scores)
    assert ranking.ranks_from_scores(big).tolist() == ranking.ranks_from_scores(scores).tolist()
    matrix = np.asarray(ranking.permutation_matrix(ranks))
    noisy = 0.6 * matrix + 0.4 / k
    assert ranking.permutation_from_doubly_stochastic(noisy).tolist() == ranks.tolist()


def test_ties_are_broken_by_position():
    assert ranking.ranks_from_scores(jnp.array([[0.0, 0.0, 0.0]])).tolist() == [[1, 2, 3]]


@pytest.mark.parametrize("call, match", [
    (lambda: D.Permutahedron((1.0, 2.0)).project(jnp.zeros(3)), "w"),
    (lambda: D.Permutahedron("ab"), "w"),
    (lambda: R.EntropicPermutahedron(w=(1.0, 0.0)), "w > 0"),
    (lambda: D.Birkhoff().project(jnp.zeros(5)), "not a square"),
    (lambda: D.Birkhoff(k=3).contains(jnp.zeros(4)), "k=3"),
    (lambda: R.SquaredBirkhoff(maxiter=0), "maxiter"),
    (lambda: R.EntropicBirkhoff(tol=-1.0), "tol"),
    (lambda: ranking.permutahedron_vertex(jnp.array([1, 1, 2])), "permutation of 1..3"),
    (lambda: fy.gfy_loss(E.bilinear, R.SquaredPermutahedron(), jnp.zeros(3),
                         jnp.array([3.0, 3.0, 0.0])), "permutahedron"),
])
def test_refusals_name_the_argument(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_the_host_decoder_refuses_a_trace():
    with pytest.raises(TypeError, match="outside jax.jit"):
        jax.jit(ranking.permutation_from_doubly_stochastic)(jnp.ones(4) / 2)

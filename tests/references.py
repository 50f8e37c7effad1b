"""Independent references for the core tests, in numpy/scipy float64.

Nothing here calls fenchel's numerics: a regularizer is only read for its class
name and its parameters (``scale``, ``lower``, ``upper``), and every value,
maximizer, conjugate and argmax is written out again from its definition, by
a closed form, by exhaustive enumeration on small k, or by scipy at high
accuracy. The tests compare fenchel against these before any clamp, so a
wrong solver, a truncated solver or a wrong closed form shows up as a
disagreement instead of being hidden by ``max(·, 0)``.

Test modules load it by path (they are imported with ``--import-mode=importlib``,
so this folder is not on ``sys.path``) under one shared module name, see
``_load_references`` at the top of tests/test_losses.py.
"""

from __future__ import annotations

import itertools

import numpy as np
import scipy.optimize
import scipy.special

# --------------------------------------------------------------------------- sparsemax


def sparsemax(v) -> np.ndarray:
    """Sort-based sparsemax over the last axis (Martins & Astudillo, 2016, Alg. 1).

    With z sorted in decreasing order, the support size is
    ``k(z) = max{j : 1 + j z_(j) > Σ_{i ≤ j} z_(i)}``, the threshold is
    ``τ = (Σ_{i ≤ k(z)} z_(i) − 1) / k(z)``, and ``sparsemax(z) = max(z − τ, 0)``.
    """
    z = np.asarray(v, np.float64)
    z_sorted = -np.sort(-z, axis=-1)
    j = np.arange(1, z.shape[-1] + 1, dtype=np.float64)
    cumulative = np.cumsum(z_sorted, axis=-1)
    in_support = 1.0 + j * z_sorted > cumulative
    support_size = np.sum(in_support, axis=-1, keepdims=True)  # the condition holds on a prefix
    tau = (np.take_along_axis(cumulative, support_size - 1, axis=-1) - 1.0) / support_size
    return np.maximum(z - tau, 0.0)


def sparsemax_by_bisection(v, iterations: int = 200) -> np.ndarray:
    """Sparsemax by bisection on the threshold τ of ``Σ max(v − τ, 0) = 1`` (a second,
    unrelated algorithm, to check :func:`sparsemax` itself). One vector ``(k,)``."""
    z = np.asarray(v, np.float64)
    lo, hi = np.max(z) - 1.0, np.max(z)  # Σ max(z − lo, 0) ≥ 1 ≥ Σ max(z − hi, 0) = 0
    for _ in range(iterations):
        mid = 0.5 * (lo + hi)
        if np.sum(np.maximum(z - mid, 0.0)) > 1.0:
            lo = mid
        else:
            hi = mid
    return np.maximum(z - 0.5 * (lo + hi), 0.0)


def simplex_projection_kkt(v, p, atol: float) -> list[str]:
    """The KKT conditions of ``p = argmin_{q ∈ △} ‖q − v‖²`` for one vector, as a list
    of violated conditions (empty when all hold up to ``atol``):

    ``p ≥ 0``, ``Σ p = 1``, and one threshold τ with ``v_i − p_i = τ`` where ``p_i > 0``
    and ``v_i ≤ τ`` where ``p_i = 0``."""
    v, p = np.asarray(v, np.float64), np.asarray(p, np.float64)
    problems = []
    if np.min(p) < -atol:
        problems.append(f"negative entry {np.min(p)}")
    if abs(np.sum(p) - 1.0) > atol:
        problems.append(f"sum {np.sum(p)} != 1")
    support = p > atol
    if not np.any(support):
        return problems + ["empty support"]
    shifts = (v - p)[support]
    tau = np.mean(shifts)
    if np.ptp(shifts) > 2 * atol:
        problems.append(f"v - p not constant on the support: {shifts}")
    if np.any(v[~support] > tau + 2 * atol):
        problems.append(f"an entry off the support above the threshold {tau}: {v[~support]}")
    return problems


# --------------------------------------------------------------------------- regularizers

_BOX = ("BinaryEntropy", "SquaredBox", "BoxIndicator")
_SIMPLEX = ("ShannonSimplex", "SquaredSimplex", "Tsallis")
_QUADRATIC = ("SquaredBox", "Squared", "SquaredSimplex")


def kind(reg) -> str:
    name = type(reg).__name__
    if name not in _BOX + _SIMPLEX + ("Squared",):
        raise TypeError(f"no reference for {name}")
    return name


def bounds(reg) -> tuple[float, float]:
    """The box of a box regularizer, read from its parameters."""
    assert kind(reg) in _BOX
    return float(reg.lower), float(reg.upper)


def curvature(reg) -> float:
    """λ for the quadratic regularizers (λ/2‖y‖²), 0 for the box indicator."""
    name = kind(reg)
    if name in _QUADRATIC:
        return float(reg.scale)
    if name == "BoxIndicator":
        return 0.0
    raise TypeError(f"{name} is not quadratic")


def value(reg, y) -> np.ndarray:
    """Ω(y) summed over the last axis (y assumed in dom Ω), float64."""
    y = np.asarray(y, np.float64)
    lam, name = float(reg.scale), kind(reg)
    if name == "BinaryEntropy":
        return lam * np.sum(scipy.special.xlogy(y, y) + scipy.special.xlogy(1 - y, 1 - y), axis=-1)
    if name == "ShannonSimplex":
        return lam * np.sum(scipy.special.xlogy(y, y), axis=-1)
    if name == "BoxIndicator":
        return np.zeros(y.shape[:-1])
    if name == "Tsallis":
        a, yc = float(reg.alpha), np.clip(y, 0.0, None)
        return lam * np.sum(yc ** a - yc, axis=-1) / (a * (a - 1.0))
    return 0.5 * lam * np.sum(y * y, axis=-1)


def linear_maximizer(reg, theta) -> np.ndarray:
    """``argmax_{y ∈ dom Ω} <θ, y> − Ω(y)`` in closed form, float64."""
    theta = np.asarray(theta, np.float64)
    t, name = theta / float(reg.scale), kind(reg)
    if name == "BinaryEntropy":
        return scipy.special.expit(t)
    if name == "SquaredBox":
        return np.clip(t, *bounds(reg))
    if name == "BoxIndicator":
        lower, upper = bounds(reg)
        return np.where(theta > 0, upper, lower)
    if name == "Squared":
        return t
    if name == "ShannonSimplex":
        return scipy.special.softmax(t, axis=-1)
    if name == "Tsallis":
        return entmax(t, float(reg.alpha))
    return sparsemax(t)


def entmax(t, alpha: float) -> np.ndarray:
    """α-entmax in float64: p = [(α−1)t − τ]₊^{1/(α−1)}, τ by 200 bisection steps on
    Σp = 1 (with the largest (α−1)t at 0, τ lies in [−1, −k^{1−α}]; 200 halvings reach
    float64's last bit)."""
    z = (alpha - 1.0) * np.asarray(t, np.float64)
    z = z - np.max(z, axis=-1, keepdims=True)
    k = z.shape[-1]
    lo = np.full(z.shape[:-1] + (1,), -1.0)
    hi = np.full_like(lo, -(k ** (1.0 - alpha)))
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        mass = np.sum(np.maximum(z - mid, 0.0) ** (1.0 / (alpha - 1.0)), -1, keepdims=True)
        lo, hi = np.where(mass >= 1.0, mid, lo), np.where(mass >= 1.0, hi, mid)
    p = np.maximum(z - 0.5 * (lo + hi), 0.0) ** (1.0 / (alpha - 1.0))
    return p / p.sum(-1, keepdims=True)


def conjugate(reg, theta) -> np.ndarray:
    """Ω*(θ) in closed form, written out per regularizer, float64."""
    theta = np.asarray(theta, np.float64)
    lam, name = float(reg.scale), kind(reg)
    if name == "BinaryEntropy":
        return lam * np.sum(np.logaddexp(0.0, theta / lam), axis=-1)  # λ Σ log(1 + e^{θ/λ})
    if name == "ShannonSimplex":
        return lam * scipy.special.logsumexp(theta / lam, axis=-1)
    if name == "BoxIndicator":
        lower, upper = bounds(reg)
        return np.sum(np.maximum(lower * theta, upper * theta), axis=-1)
    if name == "Squared":
        return np.sum(theta * theta, axis=-1) / (2 * lam)
    if name == "Tsallis":
        y = linear_maximizer(reg, theta)
        return np.sum(theta * y, axis=-1) - value(reg, y)
    # SquaredBox, SquaredSimplex: <θ, ŷ> − λ/2 ‖ŷ‖² at the closed-form maximizer.
    y = linear_maximizer(reg, theta)
    return np.sum(theta * y, axis=-1) - 0.5 * lam * np.sum(y * y, axis=-1)


def conjugate_by_grid(reg, theta, points: int = 200_001) -> float:
    """Ω*(θ) for a separable box regularizer by brute force: each coordinate's
    ``max_{y_i} θ_i y_i − Ω(y_i)`` over a fine grid of the interval (ends included).
    Accurate to about ``λ·(upper − lower)²/points²`` times Ω's curvature."""
    lower, upper = bounds(reg)
    grid = np.linspace(lower, upper, points)
    omega = value(reg, grid[:, None])  # Ω of each grid point as a 1-vector
    return float(sum(np.max(t * grid - omega) for t in np.asarray(theta, np.float64)))


# --------------------------------------------------------------------------- pairwise problems


def pairwise_objective(reg, theta, y) -> float:
    """``F(y) = <u, y> + ½ <y, U y> − Ω(y)`` in float64 (y assumed in dom Ω)."""
    u, interactions = (np.asarray(t, np.float64) for t in theta)
    y = np.asarray(y, np.float64)
    return float(u @ y + 0.5 * y @ interactions @ y - value(reg, y))


def _quadratic_max_box(u, q, lower, upper):
    """Global max of ``<u, y> + ½ yᵀ Q y`` over ``[lower, upper]^k`` (Q symmetric, any
    sign) by enumerating the 3^k faces: on each, the stationary point of the free
    coordinates, kept when it lies in the face. The maximum is attained at such a
    point (flat directions of Q only move it onto a smaller face), so this is exact."""
    k = u.shape[0]
    best, best_y = -np.inf, None
    for pattern in itertools.product((0, 1, 2), repeat=k):  # 0: lower, 1: upper, 2: free
        pattern = np.asarray(pattern)
        y = np.where(pattern == 0, lower, upper).astype(np.float64)
        free = pattern == 2
        if np.any(free):
            fixed = ~free
            rhs = -(u[free] + q[np.ix_(free, fixed)] @ y[fixed])
            sol, *_ = np.linalg.lstsq(q[np.ix_(free, free)], rhs, rcond=None)
            if np.max(np.abs(q[np.ix_(free, free)] @ sol - rhs)) > 1e-9 * (1 + np.max(np.abs(rhs))):
                continue  # no stationary point on this face
            if np.any(sol < lower - 1e-12) or np.any(sol > upper + 1e-12):
                continue
            y[free] = np.clip(sol, lower, upper)
        f = u @ y + 0.5 * y @ q @ y
        if f > best:
            best, best_y = f, y
    return best_y


def _quadratic_max_simplex(u, q):
    """Global max of ``<u, y> + ½ yᵀ Q y`` over the simplex by enumerating the
    2^k − 1 supports: on each, the KKT system ``Q_FF y_F + u_F = ν 1, Σ y_F = 1``."""
    k = u.shape[0]
    best, best_y = -np.inf, None
    for size in range(1, k + 1):
        for support in itertools.combinations(range(k), size):
            support = np.asarray(support)
            system = np.zeros((size + 1, size + 1))
            system[:size, :size] = q[np.ix_(support, support)]
            system[:size, size] = -1.0
            system[size, :size] = 1.0
            rhs = np.concatenate([-u[support], [1.0]])
            sol, *_ = np.linalg.lstsq(system, rhs, rcond=None)
            if np.max(np.abs(system @ sol - rhs)) > 1e-9 * (1 + np.max(np.abs(rhs))):
                continue
            y_support = sol[:size]
            if np.any(y_support < -1e-12):
                continue
            y = np.zeros(k)
            y[support] = np.maximum(y_support, 0.0)
            y /= np.sum(y)
            f = u @ y + 0.5 * y @ q @ y
            if f > best:
                best, best_y = f, y
    return best_y


def _entropic_argmax(reg, u, sym):
    """The unique interior stationary point of a concave entropic problem, as the
    root (scipy ``hybr``) of the stationarity condition in logit coordinates."""
    lam, k = float(reg.scale), u.shape[0]
    if kind(reg) == "BinaryEntropy":
        # u + S σ(z) − λ z = 0, z = logit(y).
        def equations(z):
            return u + sym @ scipy.special.expit(z) - lam * z

        def jacobian(z):
            y = scipy.special.expit(z)
            return sym * (y * (1 - y))[None, :] - lam * np.eye(k)

        to_y = scipy.special.expit
    else:
        # y = softmax(z) with z = (u + S y)/λ up to a constant: equations on the
        # differences to the last entry, and Σ z = 0 to fix the constant.
        def residual(z):
            return z - (u + sym @ scipy.special.softmax(z)) / lam

        def equations(z):
            r = residual(z)
            return np.concatenate([r[:-1] - r[-1], [np.sum(z)]])

        def jacobian(z):
            y = scipy.special.softmax(z)
            jr = np.eye(k) - sym @ (np.diag(y) - np.outer(y, y)) / lam
            return np.vstack([jr[:-1] - jr[-1], np.ones((1, k))])

        to_y = lambda z: scipy.special.softmax(z)
    solution = scipy.optimize.root(equations, np.zeros(k), jac=jacobian, method="hybr",
                                   options={"xtol": 1e-15})
    assert np.max(np.abs(equations(solution.x))) < 1e-10, solution
    return to_y(solution.x)


def pairwise_argmax(reg, theta) -> np.ndarray:
    """``argmax_{y ∈ dom Ω} <u, y> + ½ <y, U y> − Ω(y)`` in float64.

    Exact and global for the quadratic regularizers and the box indicator (face or
    support enumeration, or a linear solve for Squared), whatever the sign of U;
    for the entropic ones, the stationary point, which is the maximizer only when
    the problem is concave (U ⪯ 0)."""
    u, interactions = (np.asarray(t, np.float64) for t in theta)
    sym = 0.5 * (interactions + interactions.T)
    name = kind(reg)
    if name in ("BinaryEntropy", "ShannonSimplex"):
        return _entropic_argmax(reg, u, sym)
    if name == "Tsallis":
        return _tsallis_argmax(reg, u, sym)
    q = sym - curvature(reg) * np.eye(u.shape[0])
    if name == "Squared":
        return np.linalg.solve(-q, u)
    if name == "SquaredSimplex":
        return _quadratic_max_simplex(u, q)
    return _quadratic_max_box(u, q, *bounds(reg))


def _tsallis_argmax(reg, u, sym) -> np.ndarray:
    """The Tsallis maximizer: with U = 0, the threshold τ of Σ[(α−1)u/λ − τ]₊^{1/(α−1)} = 1
    by Brent's method (not the bisection of :func:`entmax`); otherwise SLSQP on the
    simplex (the problem is concave for U ⪯ 0)."""
    lam, a = float(reg.scale), float(reg.alpha)
    if not np.any(sym):
        z = (a - 1.0) * u / lam
        mass = lambda tau: np.sum(np.maximum(z - tau, 0.0) ** (1.0 / (a - 1.0))) - 1.0
        tau = scipy.optimize.brentq(mass, z.max() - 1.0, z.max(), xtol=1e-15, rtol=1e-15,
                                    maxiter=500)
        return np.maximum(z - tau, 0.0) ** (1.0 / (a - 1.0))
    k = u.shape[0]
    objective = lambda y: -(u @ y + 0.5 * y @ sym @ y - float(value(reg, y)))
    gradient = lambda y: -(u + sym @ y - lam * (a * np.clip(y, 0, None) ** (a - 1) - 1) / (a * (a - 1)))
    result = scipy.optimize.minimize(
        objective, np.full(k, 1.0 / k), jac=gradient, method="SLSQP", bounds=[(0.0, 1.0)] * k,
        constraints=[{"type": "eq", "fun": lambda y: np.sum(y) - 1.0, "jac": lambda y: np.ones(k)}],
        options={"ftol": 1e-15, "maxiter": 1000})
    return result.x


def pairwise_max(reg, theta) -> float:
    """``max_{y ∈ dom Ω} F(y)`` (see :func:`pairwise_argmax`)."""
    return pairwise_objective(reg, theta, pairwise_argmax(reg, theta))


def conjugate_by_maximization(reg, theta) -> float:
    """Ω*(θ) as the pairwise maximum with U = 0 (enumeration, linear solve or root)."""
    theta = np.asarray(theta, np.float64)
    return pairwise_max(reg, (theta, np.zeros((theta.shape[0],) * 2)))


def hinge(reg, theta, y, pairwise: bool) -> float:
    """The structured hinge loss with a Hamming cost, unclamped:
    ``max_{y' ∈ dom Ω} [Φ(θ, y') + Σ|y − y'| − Ω(y')] − Φ(θ, y) + Ω(y)`` for y ∈ {0, 1}^k,
    where ``Σ|y − y'| = <1 − 2y, y'> + Σ y`` on the box."""
    y = np.asarray(y, np.float64)
    cost = 1.0 - 2.0 * y
    if pairwise:
        u, interactions = (np.asarray(t, np.float64) for t in theta)
        augmented = pairwise_max(reg, (u + cost, interactions))
        at_y = pairwise_objective(reg, (u, interactions), y)
    else:
        theta = np.asarray(theta, np.float64)
        augmented = float(conjugate(reg, theta + cost))
        at_y = float(theta @ y - value(reg, y))
    return augmented + float(np.sum(y)) - at_y


def hinge_by_enumeration(theta, y, pairwise: bool) -> float:
    """The discrete structured hinge loss: the max over y' ∈ {0, 1}^k (Ω = 0)."""
    y = np.asarray(y, np.float64)
    if pairwise:
        u, interactions = (np.asarray(t, np.float64) for t in theta)
        energy = lambda v: u @ v + 0.5 * v @ interactions @ v
    else:
        energy = lambda v: np.asarray(theta, np.float64) @ v
    best = max(energy(np.asarray(v)) + np.sum(np.abs(y - np.asarray(v)))
               for v in itertools.product((0.0, 1.0), repeat=y.shape[0]))
    return float(best - energy(y))


def project(reg, v) -> np.ndarray:
    """Euclidean projection onto dom Ω: a clip to the box, sparsemax onto the simplex,
    the identity on R^k."""
    name = kind(reg)
    if name in _BOX:
        return np.clip(np.asarray(v, np.float64), *bounds(reg))
    if name in _SIMPLEX:
        return sparsemax(v)
    return np.asarray(v, np.float64)


def quadratic_upper_bound(reg, theta) -> float:
    """An upper bound of ``max_{y ∈ dom Ω} F(y)`` for any U (not only U ⪯ 0): the
    exact global max for the quadratic regularizers and the box indicator; for the
    entropic ones, the global max of the quadratic part over the domain plus
    ``−min Ω`` (λ k log 2 on the unit box, λ log k on the simplex)."""
    name = kind(reg)
    if name not in ("BinaryEntropy", "ShannonSimplex"):
        return pairwise_max(reg, theta)
    u, interactions = (np.asarray(t, np.float64) for t in theta)
    sym = 0.5 * (interactions + interactions.T)
    k, lam = u.shape[0], float(reg.scale)
    if name == "BinaryEntropy":
        y = _quadratic_max_box(u, sym, 0.0, 1.0)
        return float(u @ y + 0.5 * y @ sym @ y) + lam * k * np.log(2.0)
    y = _quadratic_max_simplex(u, sym)
    return float(u @ y + 0.5 * y @ sym @ y) + lam * np.log(k)

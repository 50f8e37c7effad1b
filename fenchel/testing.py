"""Property checks for regularizers, energies and solvers: yours and ours.

The same properties the project's own tests check on the built-ins (derived from
:data:`fenchel.regularizers.BUILT_INS`), offered for your components, as
scikit-learn offers ``check_estimator``:

* :func:`check_domain` — centre and samples inside, projection inside and
  idempotent, NaN never inside, batch membership per example;
* :func:`check_regularizer` — the domain, Ω finite and batch-wise on it, the
  Fenchel-Young inequality ``L(θ; y) ≥ 0``, ``L(θ; ŷ) = 0`` at the maximizer,
  ŷ in the domain, the bilinear gradient ``ŷ − y``, a batch equal to ``vmap``,
  the caller's dtype kept, and each optional capability (closed form, prox,
  mirror map, coordinate maximizer) against a generic solver or a grid;
* :func:`check_energy` — a scalar, the oracle's value and gradient against
  autodiff, the curvature estimate a lower bound of ‖∇²Φ‖, ``gap``,
  ``add_linear``, ``scores``, the coordinate oracle, and the batching rule
  against ``jax.vmap``;
* :func:`check_maximizer` — ŷ in the domain, a valid status, an objective at
  least the starting point's (local solvers) and close to a reference solve on a
  concave problem, and ``jit``/``vmap`` giving the same answer.

Each raises ``AssertionError`` naming the property, the component and the numbers.

Example:
  >>> import fenchel as fy
  >>> from fenchel.testing import check_regularizer
  >>> check_regularizer(fy.regularizers.SquaredBox())
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from fenchel import domains as _domains
from fenchel import energies as _energies
from fenchel import losses as _losses
from fenchel import maximizers as _max
from fenchel import regularizers as _regs

Array = jax.Array

# jax.enable_x64 is JAX ≥ 0.8; the lower bound (0.7.2) has it in jax.experimental.
if hasattr(jax, "enable_x64"):
    _enable_x64 = jax.enable_x64
else:  # pragma: no cover (older JAX)
    from jax.experimental import enable_x64 as _enable_x64

__all__ = ["check_domain", "check_regularizer", "check_energy", "check_maximizer"]


def _fail(what: str, component: Any, detail: str) -> AssertionError:
    return AssertionError(f"{what} fails for {component!r}: {detail}")


def _scores(rng: np.random.Generator, shape, scale: float = 2.0) -> Array:
    return jnp.asarray(scale * rng.standard_normal(shape), jnp.float32)


def check_domain(domain: _domains.Domain, *, k: int = 4, seed: int = 0, num: int = 8) -> None:
    """Check a :class:`~fenchel.domains.Domain`: ``center`` and ``sample`` lie
    inside, ``project`` lands inside and is idempotent, NaN is never inside, and
    membership is per example over a batch.

    Example:
      >>> import fenchel as fy
      >>> fy.testing.check_domain(fy.domains.Box(-1.0, 2.0))
    """
    for method in ("project", "contains_each", "contains", "snap", "center", "sample",
                   "interior", "describe", "describe_violation"):
        if not callable(getattr(domain, method, None)):
            raise _fail("the domain protocol", domain, f"no method {method}()")
    rng = np.random.default_rng(seed)
    center = domain.center((k,), jnp.float32)
    if not bool(domain.contains(center)):
        raise _fail("center() inside", domain, f"center {np.asarray(center)} is outside")
    samples = domain.sample(jax.random.key(seed), (num, k), jnp.float32)
    if tuple(samples.shape) != (num, k) or not bool(domain.contains(samples)):
        raise _fail("sample() inside", domain, f"shape {samples.shape}, inside "
                    f"{np.asarray(domain.contains_each(samples))}")
    points = _scores(rng, (num, k), 3.0)
    projected = domain.project(points)
    if not bool(domain.contains(projected)):
        raise _fail("project() lands inside", domain, f"{np.asarray(projected)}")
    again = domain.project(projected)
    if not np.allclose(np.asarray(again), np.asarray(projected), atol=1e-5):
        raise _fail("project() idempotent", domain, f"{np.asarray(projected)} -> {np.asarray(again)}")
    if not np.all(np.linalg.norm(np.asarray(samples - domain.project(samples)), axis=-1) < 1e-5):
        raise _fail("project() keeps points inside", domain, "a sample moved")
    nan = center.at[0].set(jnp.nan)
    if bool(domain.contains(nan)):
        raise _fail("NaN is never inside", domain, f"{np.asarray(nan)} counted as inside")
    mixed = jnp.stack([center, nan])
    each = np.asarray(domain.contains_each(mixed))
    if each.shape != (2,) or not each[0] or each[1]:
        raise _fail("contains_each per example", domain, f"got {each} for [inside, NaN]")
    if not isinstance(domain.describe(1e-5), str):
        raise _fail("describe() returns text", domain, repr(domain.describe(1e-5)))


def _targets(reg, rng, num, k) -> Array:
    return reg.domain.sample(jax.random.key(int(rng.integers(2**31))), (num, k), jnp.float32)


def check_regularizer(reg: _regs.Regularizer, *, k: int = 4, seed: int = 0, num: int = 6,
                      rtol: float = 1e-3, atol: float = 1e-4) -> None:
    """Check a regularizer with the bilinear energy and the default solvers.

    Properties: its domain passes :func:`check_domain`; Ω is finite on the domain
    and a batch equals ``vmap``; for random θ and y in the domain the GFY loss is
    ≥ 0 (the Fenchel-Young inequality) and ≈ 0 at ŷ; ŷ lies in the domain and
    maximizes ``<θ, y> − Ω(y)`` over sampled y; ``∇_θ L = ŷ − y``; the batched loss
    equals ``vmap``; the dtype is kept (float32, and float64 under x64); a closed
    form agrees with an iterative solver; a prox, a mirror map and a coordinate
    maximizer satisfy their definitions.

    Example:
      >>> import fenchel as fy
      >>> fy.testing.check_regularizer(fy.regularizers.Tsallis(alpha=1.5))
    """
    if not isinstance(reg, _regs.Regularizer):
        raise TypeError(f"reg must be a fenchel.regularizers.Regularizer, got {type(reg).__name__}")
    check_domain(reg.domain, k=k, seed=seed)
    rng = np.random.default_rng(seed)
    bilinear = _energies.bilinear
    theta = _scores(rng, (num, k))
    ys = _targets(reg, rng, num, k)

    values = np.asarray(reg.value(ys))
    if values.shape != (num,) or not np.all(np.isfinite(values)):
        raise _fail("Ω finite on its domain, one value per example", reg,
                    f"value of {num} samples gave {values}")
    single = np.asarray(jax.vmap(reg.value)(ys))
    if not np.allclose(single, values, rtol=rtol, atol=atol):
        raise _fail("Ω of a batch equals vmap", reg, f"{values} vs {single}")

    if reg.has_prox:
        step = 0.7
        v = _scores(rng, (k,))
        p = reg.prox(v, step)
        prox_objective = lambda y: step * reg.value(y) + 0.5 * jnp.sum((y - v) ** 2)
        # Random points of the domain, and small moves of p along each axis (projected):
        # a point that beats p means p is not the minimizer.
        moves = 1e-2 * jnp.concatenate([jnp.eye(k), -jnp.eye(k)])
        trials = jnp.concatenate([
            reg.domain.sample(jax.random.key(seed + 2), (256, k), jnp.float32),
            reg.domain.project(p[None] + moves)])
        if np.min(np.asarray(jax.vmap(prox_objective)(trials))) < float(prox_objective(p)) - 1e-5:
            raise _fail("prox(v, t) minimizes t·Ω(y) + ½‖y − v‖²", reg, f"prox {np.asarray(p)}")
    if reg.has_mirror_map:
        inside = reg.domain.interior(ys, 1e-3)
        back = reg.mirror_inverse(reg.mirror_map(inside))
        if not np.allclose(np.asarray(back), np.asarray(inside), atol=1e-4):
            raise _fail("mirror_inverse(mirror_map(y)) = y", reg,
                        f"{np.asarray(inside)} -> {np.asarray(back)}")
    if reg.has_coordinate_maximizer:
        domain = reg.domain
        grid = jnp.linspace(domain.lower, domain.upper, 2001)
        for s_i, d_i in ((0.7, 0.0), (-1.3, -2.0), (2.5, -0.5), (0.2, 0.4)):
            t = float(reg.coordinate_maximizer(jnp.float32(s_i), jnp.float32(d_i)))
            one = lambda x: s_i * x + 0.5 * d_i * x * x - reg.value(jnp.reshape(x, (1,)))
            values = np.asarray(jax.vmap(one)(grid))
            if float(one(jnp.float32(t))) < values.max() - 1e-3:
                raise _fail("coordinate_maximizer(s, d) maximizes s t + ½ d t² − Ω_i(t)", reg,
                            f"s={s_i}, d={d_i}: t={t} below the grid's best "
                            f"{float(grid[int(values.argmax())])}")


    y_hat, info = _max.maximize(bilinear, reg, theta)
    if not bool(reg.domain.contains(y_hat, atol=1e-4)):
        raise _fail("ŷ lies in the domain", reg, f"ŷ = {np.asarray(y_hat)}")
    loss = np.asarray(_losses.gfy_loss(bilinear, reg, theta, ys))
    if loss.shape != (num,) or not np.all(loss >= -atol):
        raise _fail("the Fenchel-Young inequality L(θ; y) ≥ 0", reg, f"losses {loss}")
    at_max = np.asarray(_losses.gfy_loss(bilinear, reg, theta, reg.domain.project(y_hat)))
    scale = 1.0 + np.abs(np.asarray(info.objective))
    if not np.all(np.abs(at_max) <= 1e-3 * scale):
        raise _fail("L(θ; ŷ) = 0 at the maximizer", reg, f"losses at ŷ {at_max}")
    objective = lambda t, y: jnp.sum(t * y, axis=-1) - reg.value(y)
    others = reg.domain.sample(jax.random.key(seed + 1), (32, num, k), jnp.float32)
    worse = np.asarray(jax.vmap(lambda y: objective(theta, y))(others))
    best = np.asarray(objective(theta, y_hat))
    if not np.all(worse <= best[None] + 1e-3 * scale):
        raise _fail("ŷ maximizes <θ, y> − Ω(y)", reg,
                    f"a sampled y reached {worse.max(axis=0)} above {best}")

    grads = np.asarray(jax.grad(lambda t: jnp.sum(_losses.gfy_loss(bilinear, reg, t, ys)))(theta))
    if not np.allclose(grads, np.asarray(y_hat - ys), rtol=rtol, atol=10 * atol):
        raise _fail("the bilinear gradient ∇_θ L = ŷ − y", reg,
                    f"max deviation {np.max(np.abs(grads - np.asarray(y_hat - ys))):.3g}")
    mapped = np.asarray(jax.vmap(lambda t, y: _losses.gfy_loss(bilinear, reg, t, y))(theta, ys))
    if not np.allclose(mapped, loss, rtol=rtol, atol=atol):
        raise _fail("a batch equals jax.vmap", reg, f"{loss} vs {mapped}")
    half = _losses.gfy_loss(bilinear, reg, theta.astype(jnp.bfloat16), ys.astype(jnp.bfloat16))
    if half.dtype != jnp.bfloat16:
        raise _fail("the caller's dtype is kept", reg, f"bfloat16 in, {half.dtype} out")
    with _enable_x64(True):
        wide = _losses.gfy_loss(bilinear, reg, np.asarray(theta, np.float64),
                                np.asarray(ys, np.float64))
        if wide.dtype != jnp.float64:
            raise _fail("the caller's dtype is kept", reg, f"float64 in, {wide.dtype} out")

    if reg.has_linear_maximizer:
        iterative = (_max.MirrorAscent(maxiter=5000, tol=1e-7) if reg.has_mirror_map
                     else _max.ProjectedGradient(maxiter=5000, tol=1e-7))
        try:
            iterative.check(bilinear, reg)
        except TypeError:
            iterative = None
        if iterative is not None:
            y_iter, _ = _max.maximize(bilinear, reg, theta, solver=iterative)
            gap = np.asarray(objective(theta, y_hat) - objective(theta, y_iter))
            if not np.all(gap >= -1e-3 * scale):
                raise _fail("the closed form agrees with an iterative solver", reg,
                            f"objective gaps {gap}")


def check_energy(energy: Any, theta: Any, y: Array, *,
                 reg: _regs.Regularizer | None = None, rtol: float = 1e-4,
                 atol: float = 1e-4) -> None:
    """Check an energy at one example ``(theta, y)``.

    Properties: ``energy(theta, y)`` is a scalar; the oracle's value and gradient
    equal autodiff's; the curvature estimate is a lower bound of ``‖∇²_y Φ‖₂``
    (up to rounding); ``gap(θ, a, b) = Φ(a) − Φ(b)`` in value and θ-gradient;
    ``add_linear`` adds ``<c, y>``; ``scores`` gives Φ for an energy linear in y; a
    coordinate oracle reads ``∂_i Φ`` and updates it; a stated batching rule makes
    the GFY loss (with ``reg``, default ``SquaredBox()``) of a batch equal ``vmap``.

    Example:
      >>> import jax.numpy as jnp
      >>> import fenchel as fy
      >>> fy.testing.check_energy(fy.energies.pairwise, (jnp.ones(3), -jnp.eye(3)),
      ...                         jnp.array([0.2, 0.5, 0.9]))
    """
    energy = _energies.as_energy(energy)
    reg = _regs.SquaredBox() if reg is None else reg
    y = jnp.asarray(y, jnp.float32)
    value = energy(theta, y)
    if jnp.shape(value) != ():
        raise _fail("Φ(θ, y) is a scalar", energy, f"shape {jnp.shape(value)}")
    oracle = energy.oracle(theta)
    auto_value, auto_grad = jax.value_and_grad(lambda y_: energy(theta, y_))(y)
    o_value, o_grad = oracle.value_and_grad(y)
    if not (np.allclose(o_value, auto_value, rtol=rtol, atol=atol)
            and np.allclose(o_grad, auto_grad, rtol=rtol, atol=atol)
            and np.allclose(oracle.grad(y), auto_grad, rtol=rtol, atol=atol)):
        raise _fail("the oracle's (Φ, ∇_y Φ) equal autodiff's", energy,
                    f"{o_value}, {np.asarray(o_grad)} vs {auto_value}, {np.asarray(auto_grad)}")
    hessian = np.asarray(jax.hessian(lambda y_: energy(theta, y_))(y), np.float64)
    hessian = hessian.reshape(y.size, y.size)
    norm = np.linalg.norm(hessian, 2)
    if float(oracle.curvature(y)) > norm * (1 + 1e-3) + atol:
        raise _fail("the curvature estimate is a lower bound of ‖∇²_y Φ‖₂", energy,
                    f"{float(oracle.curvature(y))} > {norm}")
    if oracle.quadratic:
        z = y + 0.3
        if not np.allclose(oracle.grad(z) - oracle.grad(y), hessian @ np.asarray(z - y).ravel(),
                           rtol=1e-3, atol=atol):
            raise _fail("a quadratic energy's gradient is affine", energy, "it is not")
    b = 0.5 * y + 0.1
    gap = energy.gap(theta, y, b)
    if not np.allclose(gap, energy(theta, y) - energy(theta, b), rtol=1e-3, atol=atol):
        raise _fail("gap(θ, a, b) = Φ(a) − Φ(b)", energy,
                    f"{gap} vs {energy(theta, y) - energy(theta, b)}")
    g_gap = jax.grad(lambda t: energy.gap(t, y, b))(theta)
    g_ref = jax.grad(lambda t: energy(t, y) - energy(t, b))(theta)
    for got, want in zip(jax.tree.leaves(g_gap), jax.tree.leaves(g_ref)):
        if not np.allclose(got, want, rtol=1e-3, atol=atol):
            raise _fail("∇_θ gap = ∇_θ Φ(a) − ∇_θ Φ(b)", energy, "the θ-gradients differ")
    c = jnp.linspace(-1.0, 1.0, y.size).reshape(y.shape)
    shifted = energy.add_linear(theta, c)
    if shifted is not None and not np.allclose(energy(shifted, y), value + jnp.vdot(c, y),
                                               rtol=rtol, atol=atol):
        raise _fail("add_linear(θ, c) adds <c, y>", energy, f"{energy(shifted, y)} vs "
                    f"{value + jnp.vdot(c, y)}")
    if energy.linear_in_y and not np.allclose(jnp.vdot(energy.scores(theta), y), value,
                                              rtol=rtol, atol=atol):
        raise _fail("Φ(θ, y) = <scores(θ), y>", energy, "it does not")
    coordinate = energy.coordinate_oracle(theta)
    if coordinate is not None:
        state = coordinate.start(y)
        fields = np.array([float(coordinate.field(state, i)) for i in range(y.size)])
        if not np.allclose(fields, np.asarray(auto_grad), rtol=1e-3, atol=atol):
            raise _fail("the coordinate oracle's field is ∂_i Φ", energy,
                        f"{fields} vs {np.asarray(auto_grad)}")
        if not np.allclose(np.asarray(coordinate.diagonal), np.diag(hessian), rtol=1e-3, atol=atol):
            raise _fail("the coordinate oracle's diagonal is diag ∇²Φ", energy, "it differs")
        moved = coordinate.move(state, 0, 0.25)
        after = energy.oracle(theta).grad(y.at[0].add(0.25))
        if not np.allclose(float(coordinate.field(moved, 1 % y.size)), after[1 % y.size],
                           rtol=1e-3, atol=atol):
            raise _fail("the coordinate oracle's move updates the field", energy, "it does not")
    if energy.batching(theta) is not None:
        thetas = jax.tree.map(lambda leaf: jnp.stack([leaf, 0.5 * leaf]), theta)
        ys = jnp.stack([reg.project(y), reg.project(1.0 - y)])
        batched = _losses.gfy_loss(energy, reg, thetas, ys)
        mapped = jax.vmap(lambda t, y_: _losses.gfy_loss(energy, reg, t, y_))(thetas, ys)
        if not np.allclose(batched, mapped, rtol=1e-3, atol=atol):
            raise _fail("the batching rule gives what jax.vmap gives", energy,
                        f"{np.asarray(batched)} vs {np.asarray(mapped)}")


def check_maximizer(solver: Any, energy: Any, reg: _regs.Regularizer, theta: Any, *,
                    init: Array | None = None, reference: Any = None,
                    concave: bool = True, atol: float = 1e-3) -> None:
    """Check a solver on one problem ``max_y Φ(θ, y) − Ω(y)``.

    Properties: the solver accepts the pair (``check``); ŷ has y's shape and lies in
    the domain; the info has a valid :class:`~fenchel.maximizers.Status`; a local
    solver does not end below its starting point; on a concave problem the
    objective is within ``atol`` (relative) of a reference solver's
    (default: ``ProjectedGradient``/``MirrorAscent`` run long); and ``jax.jit`` and
    ``jax.vmap`` give the same answer.

    Example:
      >>> import jax.numpy as jnp
      >>> import fenchel as fy
      >>> fy.testing.check_maximizer(fy.maximizers.CoordinateAscent(), fy.energies.pairwise,
      ...                            fy.regularizers.SquaredBox(), (jnp.ones(3), -jnp.eye(3)))
    """
    energy = _energies.as_energy(energy)
    solver.check(energy, reg)
    init = _max.resolve_init(energy, reg, theta, init)
    y_hat, info = solver(energy, reg, theta, init, jax.random.key(0))
    if tuple(jnp.shape(y_hat)) != tuple(init.shape):
        raise _fail("ŷ has the shape of y", solver, f"{jnp.shape(y_hat)} vs {init.shape}")
    if not bool(reg.domain.contains(y_hat, atol=1e-4)):
        raise _fail("ŷ lies in the domain", solver, f"ŷ = {np.asarray(y_hat)}")
    status = info.status
    if status is not None and int(status) not in {int(s) for s in _max.Status}:
        raise _fail("a valid status", solver, f"status {status}")
    reached = float(_max.objective(energy, reg, theta, y_hat))
    start = float(_max.objective(energy, reg, theta, reg.domain.project(init)))
    scale = 1.0 + abs(reached)
    if getattr(solver, "local", False) and reached < start - atol * scale:
        raise _fail("a local solver ends at least at its start", solver, f"{reached} < {start}")
    if concave:
        if reference is None:
            reference = (_max.MirrorAscent(maxiter=20_000, tol=1e-8) if reg.has_mirror_map
                         else _max.ProjectedGradient(maxiter=20_000, tol=1e-8))
        y_ref, _ = reference(energy, reg, theta, init, jax.random.key(0))
        best = float(_max.objective(energy, reg, theta, y_ref))
        if reached < best - atol * (1.0 + abs(best)):
            raise _fail("the objective reaches a reference solve's", solver,
                        f"{reached} below {best}")
    jitted, _ = jax.jit(lambda t, i: solver(energy, reg, t, i, jax.random.key(0)))(theta, init)
    if not np.allclose(np.asarray(jitted), np.asarray(y_hat), atol=1e-4):
        raise _fail("jax.jit gives the same ŷ", solver, f"{np.asarray(jitted)} vs {np.asarray(y_hat)}")
    thetas = jax.tree.map(lambda leaf: jnp.stack([leaf, leaf]), theta)
    mapped, _ = jax.vmap(lambda t: solver(energy, reg, t, init, jax.random.key(0)))(thetas)
    if not np.allclose(np.asarray(mapped[0]), np.asarray(y_hat), atol=1e-4):
        raise _fail("jax.vmap gives the same ŷ", solver, f"{np.asarray(mapped[0])} vs "
                    f"{np.asarray(y_hat)}")

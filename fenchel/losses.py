"""Generalized Fenchel-Young losses and the baselines they are compared with.

Every loss takes θ first and one example, ``y: (k,)``. For the built-in energies
leading axes of θ and y are batch axes that broadcast, and the result (one value
per example) equals ``jax.vmap`` of the single-example call; a custom energy
takes one example per call and refuses a batch (see :mod:`fenchel._inputs`).
Every loss returns its true value (a lower bound when an inner solver is
inexact), never a surrogate; inputs it cannot evaluate raise ``ValueError`` or
``TypeError``, and a traced target outside ``dom Ω`` gives NaN.

* :func:`gfy_loss` — ``Ω^Φ(θ) + Ω(y) − Φ(θ, y)``, gradient by Danskin.
* :func:`perceptron_loss` — the GFY loss with Ω the box indicator.
* :func:`hinge_loss` — structured hinge (SSVM) with a Hamming cost.
* :func:`unrolled_loss` — a task loss of ŷ, differentiated through K solver steps.
* :func:`implicit_loss` — a task loss of ŷ, differentiated by the implicit
  function theorem at the solution.
* :func:`info_nce_loss` — InfoNCE with sampled counter-examples (implicit BC).
* :func:`squared_error`, :func:`binary_cross_entropy` — the usual baselines.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np
import optax

from fenchel import _inputs
from fenchel import domains as _domains
from fenchel import energies as _energies
from fenchel.energies import _vdot
from fenchel import maximizers as _max
from fenchel import regularizers as _regs

Array = jax.Array
Energy = _energies.Energy


def _gfy_one(energy, reg, solver, key, atol, theta, y, init):
    """The GFY loss of one example by an inner solve (no closed form)."""
    y_inside, inside = _inputs.onto_domain(reg, y, atol)
    if init is None:
        init = _max.default_init(reg, jnp.shape(y), y.dtype)
    # Nothing is differentiated through the solver, neither in θ nor in Ω's scale.
    y_hat, info = solver(energy, jax.lax.stop_gradient(reg), jax.lax.stop_gradient(theta),
                         init, key)
    y_hat = jax.lax.stop_gradient(y_hat)
    # max(F(ŷ), F(y)) − F(y): y is feasible, so this is still a lower bound of the
    # true loss, and it is exact up to the solver's accuracy.
    gap = _max.objective_gap(energy, reg, theta, y_hat, y_inside)
    return _inputs.nan_outside(inside, jnp.where(gap < 0, jnp.zeros_like(gap), gap)), info


def gfy_loss(energy: Energy, reg: _regs.Regularizer, theta: Any, y: Array, *,
             solver: _max.Maximizer | None = None, init: Array | None = None,
             key: Array | None = None, on_failure: str = "ignore") -> Array:
    """Generalized Fenchel-Young loss.

    .. math:: L(θ; y) = Ω^Φ(θ) + Ω(y) − Φ(θ, y), \\qquad
              Ω^Φ(θ) = \\max_{y' ∈ \\operatorname{dom} Ω} Φ(θ, y') − Ω(y')

    Non-negative, and zero iff y is a maximizer. Its gradient is given by
    Danskin's theorem, ``∇_θ L = ∇_θ Φ(θ, ŷ) − ∇_θ Φ(θ, y)``: ŷ is computed under
    ``stop_gradient``, nothing is differentiated through the solver. The loss
    is also differentiable in y in the interior of ``dom Ω``:
    ``∇_y L = ∇Ω(y) − ∇_y Φ(θ, y)``; on the faces of an entropic Ω that derivative
    is ±inf (the true one-sided value), never NaN.

    With the bilinear energy and a closed form, the loss is computed by
    :meth:`~fenchel.regularizers.Regularizer.fenchel_young_loss`, a sum of
    non-negative residual terms, accurate relative to its size for any ``|θ|``. With an
    inexact solver, the conjugate is estimated by the best of ŷ and y (both are
    feasible, so this is still a lower bound of Ω^Φ(θ)); the value is ≥ 0 and
    exact up to the solver's accuracy (``on_failure`` reports a solve that did
    not converge).

    Args:
      energy: ``Φ(theta, y) -> scalar``.
      reg: Ω.
      theta: θ for one example (any pytree); for the built-in energies, leading
        axes are batch axes.
      y: target in ``dom Ω``, ``(k,)`` (or ``(..., k)`` for a batch). Values
        outside the domain by more than
        :func:`~fenchel.regularizers.domain_tolerance` raise ``ValueError``.
      solver: inner maximizer; ``None`` picks the closed form when there is one.
      init: warm start for the solver (default: the centre of ``dom Ω``).
      key: PRNG key for randomized solvers.
      on_failure: ``"ignore"``, ``"warn"`` or ``"raise"`` when the inner solver
        did not converge (as in :func:`~fenchel.maximizers.maximize`).

    Returns:
      A scalar, or one value per example of a batch.

    Example:
      >>> import jax.numpy as jnp
      >>> import fenchel
      >>> from fenchel.losses import gfy_loss
      >>> gfy_loss(fenchel.energies.bilinear, fenchel.regularizers.BinaryEntropy(),
      ...          jnp.array([0.0]), jnp.array([1.0])).item()  # log 2
      0.693...

    References:
      Blondel et al. Learning Energy Networks with Generalized Fenchel-Young
      Losses. NeurIPS 2022.
    """
    _max.check_on_failure(on_failure)
    energy = _energies.as_energy(energy)
    solver, not_concave = _max._policy._resolve(energy, reg, theta, solver)
    theta, arrays, _, batch, result = _max.read_inputs(energy, theta, ("y", y), ("init", init))
    y = arrays["y"]
    atol = _regs.domain_tolerance(result)  # of the caller's dtype, before any cast up
    _max.check_output(reg, y, atol=atol)
    if getattr(solver, "closed_form", False):
        def closed(theta_, y):
            return reg.fenchel_young_loss_or_nan(energy.scores(theta_), y, atol)
        if energy.batching(theta) is not None:  # Ω's forms take leading batch axes
            return closed(theta, y).astype(result)
        return _inputs.map_examples(closed, energy, batch, theta, {"y": y}).astype(result)
    one = functools.partial(_gfy_one, energy, reg, solver, key, atol)
    value, info = _inputs.map_examples(one, energy, batch, theta, arrays)
    _max.report(_max.mark_not_concave(info, not_concave), on_failure)
    return value.astype(result)


def make_gfy_loss(energy: Energy, reg: _regs.Regularizer,
                  solver: _max.Maximizer | None = None, *,
                  on_failure: str = "ignore") -> Callable[..., Array]:
    """A GFY loss ``loss(theta, y, *, init=None, key=None)`` for a fixed energy,
    regularizer and solver: a plain function that ``jax.jit``, ``jax.vmap`` and
    ``jax.grad`` take with no static arguments (like optax's
    ``make_fenchel_young_loss``).

    .. math:: L(θ; y) = Ω^Φ(θ) + Ω(y) − Φ(θ, y)

    The arguments are checked now (types, solver-regularizer fit), not at the
    first call. To vary Ω's scale without recompiling, pass the regularizer as an
    argument instead: ``jax.jit(gfy_loss, static_argnums=0)(energy, reg, theta, y)``
    (regularizers are pytrees whose leaf is ``scale``).

    Example:
      >>> import jax, jax.numpy as jnp
      >>> import fenchel as fy
      >>> loss = fy.losses.make_gfy_loss(fy.energies.bilinear, fy.regularizers.ShannonSimplex())
      >>> float(jax.jit(loss)(jnp.zeros(2), jnp.array([1.0, 0.0])))  # log 2
      0.693...
    """
    _max.check_on_failure(on_failure)
    _max.resolve_solver(energy, reg, None, solver)  # fail early on a bad combination

    def loss(theta: Any, y: Array, *, init: Array | None = None,
             key: Array | None = None) -> Array:
        return gfy_loss(energy, reg, theta, y, solver=solver, init=init, key=key,
                        on_failure=on_failure)

    name = getattr(energy, "__name__", type(energy).__name__)
    loss.__name__ = f"gfy_loss_{name}_{type(reg).__name__}"
    loss.__doc__ = (f"GFY loss of energy {name!r} with {reg!r} and solver "
                    f"{solver!r}: ``loss(theta, y, *, init=None, key=None)``.")
    return loss


def perceptron_loss(energy: Energy, theta: Any, y: Array, *, lower: float = 0.0,
                    upper: float = 1.0, solver: _max.Maximizer | None = None,
                    init: Array | None = None, key: Array | None = None,
                    on_failure: str = "ignore") -> Array:
    """Generalized perceptron loss: the GFY loss with Ω the box indicator.

    .. math:: L(θ; y) = \\max_{y' ∈ [l, u]^k} Φ(θ, y') − Φ(θ, y)

    Example:
      >>> import jax.numpy as jnp
      >>> import fenchel
      >>> from fenchel.losses import perceptron_loss
      >>> perceptron_loss(fenchel.energies.bilinear, jnp.array([1.0, -1.0]),
      ...                 jnp.array([0.0, 0.0])).item()
      1.0
    """
    reg = _regs.BoxIndicator(lower=lower, upper=upper)
    return gfy_loss(energy, reg, theta, y, solver=solver, init=init, key=key,
                    on_failure=on_failure)


def _check_binary(y: Array, atol: float) -> None:
    if not _inputs.is_concrete(y):
        return
    array = np.asarray(y, np.float64)
    off = np.abs(array - np.round(array)) > atol
    if np.any(off) or np.any((np.round(array) != 0) & (np.round(array) != 1)):
        bad = array[off | ((np.round(array) != 0) & (np.round(array) != 1))].ravel()[0]
        raise ValueError(f"y must be binary (entries in {{0, 1}}, ±{atol:g}) for the "
                         f"Hamming cost of hinge_loss, got an entry {bad:.9g}")


def _hinge_one(energy, reg, solver, key, theta, y, init):
    cost = 1.0 - 2.0 * y  # Δ(y, y') = <1 − 2y, y'> + Σ y for binary y
    # Loss-augmented inference: where the energy can absorb <cost, y'> into θ (the
    # built-ins shift their unaries), it keeps the structure the solvers use (e.g.
    # CoordinateAscent); otherwise the cost is added to a generic energy.
    theta_aug = energy.add_linear(theta, cost)
    if theta_aug is not None:
        augmented = energy
    else:
        augmented = _energies.FunctionEnergy(
            lambda theta_, y_: energy(theta_, y_) + _vdot(cost, y_))
        theta_aug = theta
    if init is None:
        init = _max.default_init(reg, jnp.shape(y), y.dtype)
    y_hat, info = solver(augmented, jax.lax.stop_gradient(reg),
                         jax.lax.stop_gradient(theta_aug), init, key)
    y_hat = jax.lax.stop_gradient(y_hat)
    gap = _max.objective_gap(energy, reg, theta, y_hat, y) + _vdot(cost, y_hat) + jnp.sum(y)
    return jnp.where(gap < 0, jnp.zeros_like(gap), gap), info


def hinge_loss(energy: Energy, theta: Any, y: Array, *,
               reg: _regs.Regularizer | None = None,
               solver: _max.Maximizer | None = None, init: Array | None = None,
               key: Array | None = None, on_failure: str = "ignore") -> Array:
    """Structured hinge (SSVM) loss with a Hamming cost, relaxed to the box.

    .. math:: L(θ; y) = \\max_{y' ∈ \\operatorname{dom} Ω} \\big[Φ(θ, y') + Δ(y, y') − Ω(y')\\big]
              − Φ(θ, y) + Ω(y),
              \\qquad Δ(y, y') = \\sum_i |y_i − y'_i|

    For ``y ∈ {0, 1}^k`` the Hamming cost is linear in y', ``Δ = <1 − 2y, y'> +
    Σ y``, so loss-augmented inference runs through the same maximizers with
    the energy ``Φ(θ, y') + <1 − 2y, y'>``; with the bilinear energy and a closed
    form the loss is ``FY(θ + 1 − 2y; y)`` (see
    :meth:`~fenchel.regularizers.Regularizer.fenchel_young_loss`). Ω defaults to
    the [0, 1] box indicator (the classic margin-rescaled SSVM); pass a strongly
    convex Ω to smooth it. Subgradient: ``∇_θ Φ(θ, ŷ_aug) − ∇_θ Φ(θ, y)``.

    Args:
      energy: Φ; ``theta`` and ``y`` as in :func:`gfy_loss`.
      y: binary target ``(k,)``; a concrete non-binary y raises ``ValueError``,
        a traced one gives NaN.
      reg: Ω on the box [0, 1]^k (default ``BoxIndicator()``); another domain raises
        ``ValueError``, since the Hamming cost is linear in y' only there.
      on_failure: as in :func:`gfy_loss`.

    Returns:
      A scalar ≥ 0 (one per example of a batch).

    Example:
      >>> import jax.numpy as jnp
      >>> import fenchel
      >>> from fenchel.losses import hinge_loss
      >>> hinge_loss(fenchel.energies.bilinear, jnp.array([0.0]), jnp.array([1.0])).item()
      1.0
    """
    _max.check_on_failure(on_failure)
    energy = _energies.as_energy(energy)
    reg = _regs.BoxIndicator() if reg is None else reg
    solver = _max.resolve_solver(energy, reg, theta, solver)
    if reg.domain != _domains.Box(0.0, 1.0):
        raise ValueError("hinge_loss needs reg on the box [0, 1]^k, where the Hamming cost "
                         f"Σ|y − y'| is linear in y'; got {type(reg).__name__} with the domain "
                         f"{reg.domain!r}")
    theta, arrays, _, batch, result = _max.read_inputs(energy, theta, ("y", y), ("init", init))
    y = arrays["y"]
    atol = _regs.domain_tolerance(result)
    _max.check_output(reg, y, atol=atol)
    _check_binary(y, atol)
    rounded = jnp.round(y)
    arrays["y"] = rounded
    if getattr(solver, "closed_form", False):
        # Augmenting a bilinear energy shifts θ by the cost, which keeps the closed form.
        value = reg.fenchel_young_loss(energy.scores(theta) + (1.0 - 2.0 * rounded), rounded)
    else:
        one = functools.partial(_hinge_one, energy, reg, solver, key)
        value, info = _inputs.map_examples(one, energy, batch, theta, arrays)
        _max.report(info, on_failure)
    near_binary = jnp.all(jnp.abs(y - rounded) <= atol, axis=-1)
    value = jnp.where(near_binary & reg.contains_each(y), value, jnp.nan)
    return value.astype(result)


def squared_error(prediction: Array, y: Array) -> Array:
    """Half squared error summed over the last axis: ``½‖ŷ − y‖²``.

    Example:
      >>> import jax.numpy as jnp
      >>> from fenchel.losses import squared_error
      >>> squared_error(jnp.array([1.0, 0.0]), jnp.array([0.0, 0.0])).item()
      0.5
    """
    return 0.5 * jnp.sum(jnp.square(prediction - y), axis=-1)


def binary_cross_entropy(logits: Array, y: Array) -> Array:
    """Sigmoid binary cross-entropy from logits, summed over the last axis.

    .. math:: \\sum_i \\log(1 + e^{θ_i}) − θ_i y_i

    (optax's ``sigmoid_binary_cross_entropy``; equal to the bilinear GFY loss
    with :class:`~fenchel.regularizers.BinaryEntropy` for binary y.)

    Example:
      >>> import jax.numpy as jnp
      >>> from fenchel.losses import binary_cross_entropy
      >>> binary_cross_entropy(jnp.array([0.0]), jnp.array([1.0])).item()  # log 2
      0.693...
    """
    return jnp.sum(optax.sigmoid_binary_cross_entropy(logits, y), axis=-1)


def _probability_cross_entropy(prediction: Array, y: Array, eps: float = 1e-6) -> Array:
    p = jnp.clip(prediction, eps, 1 - eps)
    return -jnp.sum(y * jnp.log(p) + (1 - y) * jnp.log1p(-p), axis=-1)


TASK_LOSSES: dict[str, Callable[[Array, Array], Array]] = {
    "squared": squared_error,
    "cross_entropy": _probability_cross_entropy,
}


def _task_loss(task_loss):
    if callable(task_loss):
        return task_loss
    try:
        return TASK_LOSSES[task_loss]
    except KeyError:
        raise ValueError(f"task_loss must be a callable or one of {sorted(TASK_LOSSES)}, "
                         f"got {task_loss!r}") from None


def unrolled_loss(energy: Energy, reg: _regs.Regularizer, theta: Any, y: Array, *,
                  solver: _max.Maximizer | None = None, num_steps: int = 50,
                  task_loss: str | Callable = "squared", init: Array | None = None,
                  key: Array | None = None) -> Array:
    """Task loss of the solver's output, differentiated through ``num_steps``
    unrolled iterations (the usual way of training energy networks, e.g. SPENs).

    .. math:: L(θ; y) = ℓ(ŷ_K(θ), y), \\qquad ŷ_K = \\text{K steps of the solver}

    Memory and time of the backward pass grow linearly with K.

    Args:
      solver: an iterative solver with an ``unroll`` field (ProjectedGradient,
        MirrorAscent, CoordinateAscent); default by :func:`~fenchel.maximizers.default_solver`.
      num_steps: K.
      task_loss: ``"squared"`` (½‖ŷ − y‖²), ``"cross_entropy"`` (for y ∈ [0, 1])
        or a callable ``(y_hat, y) -> scalar``.

    Returns:
      A scalar.
    """
    task = _task_loss(task_loss)
    _check_steps(num_steps)
    solver = _max.resolve_solver(energy, reg, theta, solver)
    if not getattr(solver, "closed_form", False):
        if "unroll" not in {f.name for f in dataclasses.fields(solver)}:
            raise TypeError(f"{type(solver).__name__} cannot be unrolled; use "
                            "ProjectedGradient, MirrorAscent or CoordinateAscent")
        solver = dataclasses.replace(solver, unroll=True, maxiter=num_steps)
    theta, arrays, _, batch, result = _max.read_inputs(energy, theta, ("y", y), ("init", init))

    def one(theta_, y, init):
        if getattr(solver, "closed_form", False):
            y_hat = reg.linear_maximizer(_energies.as_energy(energy).scores(theta_))
        else:
            if init is None:
                init = _max.default_init(reg, jnp.shape(y), y.dtype)
            y_hat, _ = solver(energy, reg, theta_, init, key)
        return task(y_hat, y)

    return _inputs.map_examples(one, energy, batch, theta, arrays).astype(result)


def _check_steps(num_steps):
    if isinstance(num_steps, bool) or not isinstance(num_steps, (int, np.integer)) or num_steps < 1:
        raise ValueError(f"num_steps must be an integer >= 1, got {num_steps!r}")


def _implicit_argmax(energy, reg, solver, init, key):
    """ŷ(θ) with a custom VJP from the implicit function theorem applied to the
    solver's fixed-point map T: ŷ = T(θ, ŷ) ⇒ (I − ∂_y T) dŷ = ∂_θ T dθ."""

    @jax.custom_vjp
    def argmax(theta):
        y_hat, _ = _max.maximize(energy, reg, theta, solver=solver, init=init, key=key)
        return y_hat

    def forward(theta):
        y_hat = argmax(theta)
        return y_hat, (theta, y_hat)

    def backward(residuals, cotangent):
        theta, y_hat = residuals
        _, vjp_y = jax.vjp(lambda y_: solver.fixed_point_map(energy, reg, theta, y_), y_hat)
        # Solve (I − ∂_y Tᵀ) w = cotangent.
        matvec = lambda w: w - vjp_y(w)[0]
        w, _ = jax.scipy.sparse.linalg.gmres(matvec, cotangent, tol=1e-6, maxiter=50)
        _, vjp_theta = jax.vjp(lambda t: solver.fixed_point_map(energy, reg, t, y_hat), theta)
        return vjp_theta(w)

    argmax.defvjp(forward, backward)
    return argmax


def implicit_loss(energy: Energy, reg: _regs.Regularizer, theta: Any, y: Array, *,
                  solver: _max.Maximizer | None = None,
                  task_loss: str | Callable = "squared", init: Array | None = None,
                  key: Array | None = None) -> Array:
    """Task loss of the solution, differentiated implicitly at the solution.

    .. math:: L(θ; y) = ℓ(ŷ(θ), y), \\qquad
              \\frac{∂ŷ}{∂θ} = (I − ∂_y T)^{-1} ∂_θ T

    where ``T`` is the solver's fixed-point map (``ŷ = T(θ, ŷ)``). The linear
    system is solved with GMRES from vector-Jacobian products only. Exact only
    at an exact (and locally unique) solution.

    Args:
      solver: the forward solver (default by
        :func:`~fenchel.maximizers.default_solver`).
      task_loss: as in :func:`unrolled_loss`.

    Returns:
      A scalar.
    """
    task = _task_loss(task_loss)
    solver = _max.resolve_solver(energy, reg, theta, solver)
    theta, arrays, _, batch, result = _max.read_inputs(energy, theta, ("y", y), ("init", init))

    def one(theta_, y, init):
        if init is None:
            init = _max.default_init(reg, jnp.shape(y), y.dtype)
        return task(_implicit_argmax(energy, reg, solver, init, key)(theta_), y)

    return _inputs.map_examples(one, energy, batch, theta, arrays).astype(result)


def info_nce_loss(energy: Energy, theta: Any, y: Array, negatives: Array, *,
                  temperature: float = 1.0) -> Array:
    """InfoNCE loss with sampled counter-examples (implicit behavioral cloning).

    .. math:: L(θ; y) = −\\log \\frac{e^{Φ(θ, y)/τ}}{e^{Φ(θ, y)/τ} + \\sum_{j=1}^{M} e^{Φ(θ, ỹ_j)/τ}}

    Args:
      energy: Φ.
      theta: θ for one example.
      y: ``(k,)`` the expert's output.
      negatives: ``(M, k)`` counter-examples, e.g. from :func:`sample_box`.
      temperature: τ > 0.

    Returns:
      A scalar ≥ 0.

    Example:
      >>> import jax.numpy as jnp
      >>> import fenchel
      >>> from fenchel.losses import info_nce_loss
      >>> info_nce_loss(fenchel.energies.bilinear, jnp.zeros(1), jnp.ones(1),
      ...               jnp.zeros((1, 1))).item()  # log 2
      0.693...
    """
    if not (isinstance(temperature, (int, float, np.integer, np.floating))
            and not isinstance(temperature, bool) and np.isfinite(temperature) and temperature > 0):
        raise ValueError(f"temperature must be a finite number > 0, got {temperature!r}")
    negatives = jnp.asarray(negatives)
    if jnp.ndim(y) < 1 or negatives.ndim < 2 or negatives.shape[-1] != jnp.shape(y)[-1]:
        raise ValueError(f"negatives must have shape (M, k) with y of shape (k,) (leading "
                         f"batch axes allowed), got negatives {tuple(negatives.shape)} and y "
                         f"{tuple(jnp.shape(y))}")
    theta, arrays, extra, batch, result = _max.read_inputs(
        energy, theta, ("y", y), extra={"negatives": (negatives, 2)})

    def one(theta_, y, negatives):
        candidates = jnp.concatenate([y[None], negatives])
        logits = jax.vmap(lambda c: energy(theta_, c))(candidates) / temperature
        return jax.nn.logsumexp(logits) - logits[0]

    return _inputs.map_examples(one, energy, batch, theta, arrays, extra).astype(result)


def sample_box(key: Array, num: int, shape: tuple[int, ...], lower: float = 0.0,
               upper: float = 1.0) -> Array:
    """``num`` points uniform in ``[lower, upper]^shape``: counter-examples for
    :func:`info_nce_loss`. Returns ``(num,) + shape``."""
    return jax.random.uniform(key, (num,) + tuple(shape), minval=lower, maxval=upper)


__all__ = [
    "gfy_loss",
    "make_gfy_loss",
    "perceptron_loss",
    "hinge_loss",
    "unrolled_loss",
    "implicit_loss",
    "info_nce_loss",
    "sample_box",
    "squared_error",
    "binary_cross_entropy",
    "TASK_LOSSES",
]

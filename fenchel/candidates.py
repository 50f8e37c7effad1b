"""The GFY loss over a finite candidate set: from the hard-max GFY loss to InfoNCE.

Over a finite set ``C = {c_0 = y, c_1, …, c_M}`` of outputs with scores
``v_j = F(c_j) = Φ(θ, c_j) − Ω(c_j)`` (``Ω = 0`` without a regularizer), the
generalized Fenchel-Young loss of the bilinear coupling ``⟨v, p⟩`` on the
simplex ``△^{M+1}`` with the Shannon negentropy ``τ Σ_j p_j log p_j`` is

.. math:: L_τ(θ; y) = τ \\log \\sum_{j=0}^{M} e^{(v_j − v_0)/τ}
          = \\max_{p ∈ △} ⟨p, v⟩ − τ \\sum_j p_j \\log p_j − v_0 ,

the target being the vertex ``e_0``, where the negentropy is 0. So

* at ``τ > 0`` it is ``τ`` times the InfoNCE loss at temperature τ
  (:func:`fenchel.losses.info_nce_loss` with ``negatives = c_1..c_M``),
  ``−τ log softmax(v/τ)_0``;
* at ``τ = 0`` it is its limit, the hard max ``max_j v_j − v_0 = max_{c ∈ C} F(c) − F(y)``:
  the GFY loss with the maximum over ``dom Ω`` replaced by the maximum over C
  (:func:`fenchel.losses.gfy_loss` exactly when C holds the solver's ŷ, e.g.
  ``C = {y, ŷ}``).

In between, ``τ ↦ L_τ`` is convex and non-decreasing: its derivative is the
entropy of ``softmax(v/τ)`` (envelope theorem), so
``L_0 ≤ L_τ ≤ L_0 + τ log(M + 1)``; and ``L_τ ≥ 0`` because ``y ∈ C``. Its gradient
is ``∇_θ L_τ = E_{j ∼ softmax(v/τ)}[∇_θ F(c_j)] − ∇_θ F(y)`` (Danskin), with the
candidates held fixed.

* :func:`candidate_set_loss` — ``L_τ`` for given candidates.
* :func:`hard_negatives` — candidates from an inner solver run from random starts.
* :func:`sample_candidates` — uniform points of ``dom Ω`` and hard negatives together.

References:
  Blondel et al. Learning Energy Networks with Generalized Fenchel-Young
  Losses. NeurIPS 2022 (the GFY loss; InfoNCE as implicit behavioral cloning's loss).
  Florence et al. Implicit Behavioral Cloning. CoRL 2021.
"""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from fenchel import _inputs
from fenchel import energies as _energies
from fenchel import maximizers as _max
from fenchel import regularizers as _regs

Array = jax.Array
Energy = _energies.Energy


class _NoRegularizer:
    """Ω = 0, for :func:`fenchel.maximizers.objective_gap` (which reads only
    ``value_difference``)."""

    @staticmethod
    def value_difference(a, b):
        return jnp.zeros((), jnp.result_type(a, b))


def _floating(array) -> Array:
    """``array`` as a jax array, integer and boolean ones converted to floats (the
    library's dtype rules then cast it to the compute dtype)."""
    array = jnp.asarray(array)
    return array if jnp.issubdtype(array.dtype, jnp.inexact) else array.astype(float)


def _check_temperature(temperature) -> None:
    if (isinstance(temperature, (np.ndarray, jax.Array)) and _inputs.is_concrete(temperature)
            and temperature.ndim == 0):
        temperature = temperature.item()
    if not _inputs.is_concrete(temperature):
        return  # traced, e.g. under jax.grad with respect to τ
    ok = (not isinstance(temperature, bool)
          and isinstance(temperature, (int, float, np.integer, np.floating))
          and np.isfinite(temperature) and temperature >= 0)
    if not ok:
        raise ValueError(f"temperature must be a finite number >= 0 (0 is the hard max), "
                         f"got {temperature!r}")


def _check_reg(reg) -> None:
    if reg is not None and not isinstance(reg, _regs.Regularizer):
        raise TypeError(f"reg must be a fenchel.regularizers.Regularizer or None, got "
                        f"{type(reg).__name__}")


def _require_reg(reg, role: str) -> None:
    """:func:`_check_reg`, and refuse None: ``role`` says what the domain is for."""
    _check_reg(reg)
    if reg is None:
        raise TypeError(f"reg must be a fenchel.regularizers.Regularizer ({role}), got None")


def _soft_max_gap(gaps: Array, temperature: Array) -> Array:
    """``τ log Σ_j exp(d_j/τ)`` for ``τ > 0`` and ``max_j d_j`` at ``τ = 0``.

    Written as ``m + τ log Σ_j exp((d_j − m)/τ)`` with ``m = max_j d_j``: every
    exponent is ≤ 0 and the largest is 0, so nothing overflows however small τ
    or large |d|, and ``τ → 0`` reaches ``m`` without a division by 0.
    """
    top = jnp.max(gaps)
    shift = jax.lax.stop_gradient(top)  # the value is independent of it
    positive = temperature > 0
    safe = jnp.where(positive, temperature, jnp.ones_like(temperature))
    soft = shift + safe * jnp.log(jnp.sum(jnp.exp((gaps - shift) / safe)))
    return jnp.where(positive, soft, top)


def _candidate_one(energy, reg, atol, theta, y, candidates, temperature):
    if reg is None:
        inside = jnp.asarray(True)
        reg_ = _NoRegularizer()
    else:
        y, inside_y = _inputs.onto_domain(reg, y, atol)
        candidates, inside_c = _inputs.onto_domain(reg, candidates, atol)
        inside = inside_y & jnp.all(inside_c)
        reg_ = reg
    # F(c_j) − F(y) from differences (<θ, c − y> for bilinear ...): scores that are
    # large but close keep their gap.
    gaps = jax.vmap(lambda c: _max.objective_gap(energy, reg_, theta, c, y))(candidates)
    gaps = jnp.concatenate([jnp.zeros((1,), gaps.dtype), gaps])  # c_0 = y: gap exactly 0
    return _inputs.nan_outside(inside, _soft_max_gap(gaps, temperature.astype(gaps.dtype)))


def candidate_set_loss(energy: Energy, theta: Any, y: Array, candidates: Array, *,
                       temperature: float = 1.0,
                       reg: _regs.Regularizer | None = None) -> Array:
    """The GFY loss over the candidate set ``C = {y} ∪ candidates`` at temperature τ.

    .. math:: L_τ(θ; y) = τ \\log \\sum_{j=0}^{M} \\exp\\frac{v_j − v_0}{τ},
              \\qquad v_j = Φ(θ, c_j) − Ω(c_j), \\quad c_0 = y,

    and ``L_0 = max_j v_j − v_0``. It equals
    ``τ · info_nce_loss(energy, theta, y, candidates, temperature=τ)`` (Ω = 0), and
    ``gfy_loss`` when τ = 0 and C holds the solver's ŷ. Always ≥ 0 (y ∈ C),
    non-decreasing and convex in τ, with ``L_0 ≤ L_τ ≤ L_0 + τ log(M + 1)``.
    Gradient: ``E_{softmax((v − v_0)/τ)}[∇_θ F(c_j)] − ∇_θ F(y)``; the candidates
    are data (hold them under ``stop_gradient`` when they come from θ, as
    :func:`hard_negatives` does).

    Computed from the gaps ``v_j − v_0`` (differences formed before the sums for
    the built-in energies) minus their maximum, so it is exact for any τ ≥ 0,
    including τ far below the gaps, and any ``|v|``.

    Args:
      energy: ``Φ(theta, y) -> scalar``.
      theta: θ for one example; for the built-in energies leading axes are batch
        axes (the result equals ``jax.vmap``).
      y: the target ``(k,)`` (``(..., k)`` for a batch with a built-in energy).
      candidates: ``(M, k)`` other outputs (``(..., M, k)`` for a batch), e.g. from
        :func:`sample_candidates`; ``M = 0`` gives 0.
      temperature: τ ≥ 0, a number (0: the hard max) or a traced scalar.
      reg: Ω, or ``None`` for Ω = 0. With Ω, y and the candidates must lie in
        ``dom Ω`` (``ValueError`` when concrete, NaN when traced).

    Returns:
      A scalar ≥ 0 (one value per example of a batch).

    Raises:
      ValueError: τ negative or not finite, candidates whose shape does not fit
        y's, non-finite θ or candidates, points outside ``dom Ω``, a batch with a
        custom energy.
      TypeError: ``reg`` not a regularizer.

    Example:
      >>> import jax.numpy as jnp
      >>> import fenchel
      >>> from fenchel.candidates import candidate_set_loss
      >>> theta, y = jnp.array([1.0, -1.0]), jnp.array([0.0, 0.0])
      >>> candidates = jnp.array([[1.0, 0.0], [0.0, 1.0]])  # scores 1 and −1; y scores 0
      >>> candidate_set_loss(fenchel.energies.bilinear, theta, y, candidates,
      ...                    temperature=0.0).item()  # the hard max: 1 − 0
      1.0
      >>> round(candidate_set_loss(fenchel.energies.bilinear, theta, y, candidates).item(), 4)
      1.4076

    References:
      Blondel et al. Learning Energy Networks with Generalized Fenchel-Young
      Losses. NeurIPS 2022.
    """
    _check_temperature(temperature)
    _check_reg(reg)
    if not callable(energy):
        raise TypeError(f"energy must be a callable energy(theta, y), got {type(energy).__name__}")
    candidates = _floating(candidates)
    if jnp.ndim(y) < 1 or candidates.ndim < 2 or candidates.shape[-1] != jnp.shape(y)[-1]:
        raise ValueError(f"candidates must have shape (M, k) with y of shape (k,) (leading "
                         f"batch axes allowed for the built-in energies), got candidates "
                         f"{tuple(candidates.shape)} and y {tuple(jnp.shape(y))}")
    theta, arrays, extra, batch, result = _max.read_inputs(
        energy, theta, ("y", y), extra={"candidates": (candidates, 2)})
    _inputs.check_theta(extra["candidates"][0], "candidates")
    _inputs.check_theta(arrays["y"], "y")
    atol = _regs.domain_tolerance(result)
    if reg is not None:
        _max.check_output(reg, arrays["y"], atol=atol)
        _max.check_output(reg, extra["candidates"][0], name="candidates", atol=atol)
    temperature = jnp.asarray(temperature)
    one = functools.partial(_candidate_one, energy, reg, atol, temperature=temperature)
    return _inputs.map_examples(one, energy, batch, theta, arrays, extra).astype(result)


def _check_count(name: str, value, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")


def _check_key(key) -> None:
    if not (isinstance(key, jax.Array) and (jnp.issubdtype(key.dtype, jax.dtypes.prng_key)
                                            or (key.dtype == jnp.uint32 and key.shape == (2,)))):
        raise TypeError(f"key must be a PRNG key (jax.random.key(seed)), got {key!r}")


def _output_shape(energy, theta, shape):
    expected = _energies.output_shape(energy, theta)
    if shape is None:
        if expected is None:
            name = getattr(energy, "__name__", type(energy).__name__)
            raise ValueError(f"the output shape of energy {name!r} is unknown: pass shape= "
                             "(the shape of y, e.g. (k,))")
        return expected
    shape = tuple(shape)
    if expected is not None and expected != shape:
        raise ValueError(f"shape must be {expected} for this theta, got {shape}")
    return shape


def hard_negatives(energy: Energy, reg: _regs.Regularizer, theta: Any, key: Array,
                   num: int, *, solver: _max.Maximizer | None = None,
                   shape: tuple[int, ...] | None = None) -> Array:
    """``num`` local maximizers of ``F = Φ(θ, ·) − Ω``: the solver run from
    ``num`` random points of ``dom Ω``, under ``stop_gradient``.

    .. math:: c_j = \\text{solver}(θ, c_j^{(0)}), \\qquad
              c_j^{(0)} ∼ \\text{random\\_init}(Ω), \\quad j = 1..\\text{num}

    The points a loss should push down: with them in the candidate set of
    :func:`candidate_set_loss`, the hard max at τ = 0 reaches the GFY loss of the
    best of these runs (the runs of :class:`~fenchel.maximizers.Restarts`, all kept).

    Args:
      energy, reg, theta: Φ, Ω and θ of one example (θ is not differentiated).
      key: PRNG key for the starting points and the solver.
      num: how many runs, ≥ 0.
      solver: the inner solver (default :func:`~fenchel.maximizers.default_solver`).
      shape: the shape of y, needed when the energy's is unknown (custom energies).

    Returns:
      ``(num,) + shape`` points of ``dom Ω``.

    Example:
      >>> import jax, jax.numpy as jnp
      >>> import fenchel
      >>> from fenchel.candidates import hard_negatives
      >>> c = hard_negatives(fenchel.energies.bilinear, fenchel.regularizers.SquaredBox(),
      ...                    jnp.array([5.0, -5.0]), jax.random.key(0), 2)
      >>> c.tolist()
      [[1.0, 0.0], [1.0, 0.0]]
    """
    _check_count("num", num, 0)
    _check_key(key)
    _require_reg(reg, "the domain the solver searches")
    solver = _max.resolve_solver(energy, reg, theta, solver)
    theta, _, _, batch, _ = _max.read_inputs(energy, theta)
    if batch:
        raise ValueError(f"hard_negatives takes theta for one example, got theta of shapes "
                         f"{_inputs._shape_text(theta)} (a batch of {batch}): batch with jax.vmap")
    shape = _output_shape(energy, theta, shape)
    dtype, _ = _inputs.compute_dtype(theta)
    theta, reg = jax.lax.stop_gradient(theta), jax.lax.stop_gradient(reg)
    init_key, run_key = jax.random.split(key)
    inits = _max.random_init(reg, init_key, (num,) + shape, dtype)
    keys = jax.random.split(run_key, num)
    points, _ = jax.vmap(lambda y0, k: solver(energy, reg, theta, y0, k))(inits, keys)
    return jax.lax.stop_gradient(points)


def sample_candidates(energy: Energy, reg: _regs.Regularizer, theta: Any, key: Array, *,
                      num_random: int, num_hard: int = 0,
                      solver: _max.Maximizer | None = None,
                      shape: tuple[int, ...] | None = None) -> Array:
    """Candidates for :func:`candidate_set_loss`: ``num_random`` random points of
    ``dom Ω`` (uniform on a box, flat Dirichlet on the simplex, standard normal on
    R^k: :func:`~fenchel.maximizers.random_init`) followed by ``num_hard``
    :func:`hard_negatives`.

    .. math:: C \\setminus \\{y\\} = \\{u_1..u_{R}\\} ∪ \\{\\text{solver}(θ, ·) \\text{ from K random starts}\\}

    Args:
      energy, reg, theta, solver, shape: as in :func:`hard_negatives`.
      key: PRNG key.
      num_random: R ≥ 0, random points.
      num_hard: K ≥ 0, solver outputs.

    Returns:
      ``(R + K,) + shape`` points of ``dom Ω``, constant in θ.

    Example:
      >>> import jax, jax.numpy as jnp
      >>> import fenchel
      >>> from fenchel.candidates import candidate_set_loss, sample_candidates
      >>> energy, reg = fenchel.energies.bilinear, fenchel.regularizers.BoxIndicator()
      >>> theta, y = jnp.array([1.0, -1.0]), jnp.array([0.0, 0.0])
      >>> c = sample_candidates(energy, reg, theta, jax.random.key(0), num_random=8, num_hard=1)
      >>> c.shape
      (9, 2)
      >>> candidate_set_loss(energy, theta, y, c, temperature=0.0, reg=reg).item()  # = perceptron
      1.0
    """
    _check_count("num_random", num_random, 0)
    _check_count("num_hard", num_hard, 0)
    _check_key(key)
    _require_reg(reg, "the domain to sample")
    random_key, hard_key = jax.random.split(key)
    checked, _, _, batch, _ = _max.read_inputs(energy, theta)
    if batch:
        raise ValueError(f"sample_candidates takes theta for one example, got theta of shapes "
                         f"{_inputs._shape_text(checked)} (a batch of {batch}): batch with "
                         "jax.vmap")
    shape = _output_shape(energy, checked, shape)
    dtype, _ = _inputs.compute_dtype(checked)
    uniform = _max.random_init(reg, random_key, (num_random,) + shape, dtype)
    hard = hard_negatives(energy, reg, theta, hard_key, num_hard, solver=solver, shape=shape)
    return jnp.concatenate([uniform, hard.astype(dtype)])


__all__ = [
    "candidate_set_loss",
    "hard_negatives",
    "sample_candidates",
]

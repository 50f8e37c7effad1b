"""The learned log-partition ("min-min") loss: maximum likelihood, and Fenchel-Young
losses over huge output sets, without computing the partition function.

For the Gibbs model ``p(y') ∝ exp Φ(θ, y')`` with respect to a base measure μ
(counting measure on a finite set such as ``{0, 1}^k``, Lebesgue measure on a
box), the negative log-likelihood needs ``log Z(θ) = log ∫ e^{Φ(θ, y')} dμ(y')``.
Since ``log z = min_τ τ + z e^{−τ} − 1``,

.. math:: −\\log p(y) = −Φ(θ, y) + \\log Z(θ)
          = \\min_{τ ∈ ℝ}\\; τ + e^{−τ} Z(θ) − 1 − Φ(θ, y),

with the minimum at ``τ = log Z(θ)``, and ``Z(θ) = E_{y' ∼ q}[e^{Φ(θ, y')}/q(y')]``
for any sampling density q (w.r.t. μ) that covers the support. Learning τ jointly
with θ (one τ per example, or a network ``τ_v(x)``) turns maximum likelihood into a
min-min problem with an **unbiased** stochastic objective: samples from q, no MCMC.

The same holds for the Fenchel-Young losses of the α-divergences
(Tsallis α-entropies; α = 1: Shannon, α = 2: sparsemax/Gini). With
``f_α(u) = (u^α − 1 − α(u − 1))/(α(α − 1))`` (``u log u − u + 1`` at α = 1) and
``Ω(p) = ∫ f_α(p) dμ``, the loss ``Ω*(Φ(θ, ·)) + Ω(δ_y) − Φ(θ, y)`` (over a finite
set with the counting measure) is

.. math:: L_α(θ; y) = \\min_{τ ∈ ℝ}\\; τ + ∫ h_α(Φ(θ, y') − τ)\\, dμ(y') − \\frac1α − Φ(θ, y),
          \\qquad h_α(s) = f_α^*(s) + f_α(0) = \\frac{[1 + (α − 1)s]_+^{α/(α−1)}}{α}

(``h_1(s) = e^s``: the first formula), minimized where
``p(y') = [1 + (α − 1)(Φ(θ, y') − τ)]_+^{1/(α−1)}`` sums to 1 (τ is the Lagrange
multiplier of that constraint; the model for α > 1 is sparse).

* :func:`min_min_loss` — the unbiased estimate of the objective in brackets.
* :func:`uniform_binary_samples`, :func:`uniform_box_samples` — q uniform on
  ``{0, 1}^k`` or on a box, with its log-density.

The paper's own convention — base measure the prior q, samples from q — is
``sample_log_density = 0``: then ``Z = E_q[e^Φ]`` and the loss is
``τ + E_q[f_α^*(Φ − τ)] − Φ(θ, y)``, the NLL of ``p ∝ q e^Φ`` up to the constant
``−log q(y)``.

References:
  Sander, Roulet, Liu, Blondel. Joint Learning of Energy-based Models and their
  Partition Function. ICML 2025 (arXiv:2501.18528).
  Roulet, Liu, Vieillard, Sander, Blondel. Loss Functions and Operators Generated
  by f-Divergences. ICML 2025 (arXiv:2501.18537).
"""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from fenchel import _inputs
from fenchel import energies as _energies
from fenchel import maximizers as _max

Array = jax.Array
Energy = _energies.Energy


def _floating(array) -> Array:
    """``array`` as a jax array, integer and boolean ones converted to floats (then cast
    to the compute dtype by the library's dtype rules)."""
    array = jnp.asarray(array)
    return array if jnp.issubdtype(array.dtype, jnp.inexact) else array.astype(float)


def _check_alpha(alpha) -> float:
    ok = (not isinstance(alpha, bool) and isinstance(alpha, (int, float, np.integer, np.floating))
          and math.isfinite(alpha) and alpha >= 1)
    if not ok:
        raise ValueError(f"alpha must be a finite number >= 1 (1: Shannon/log-partition, "
                         f"2: sparsemax), got {alpha!r}")
    return float(alpha)


def _log_alpha_h(s: Array, alpha: float) -> Array:
    """``log(α h_α(s))``: ``s`` at α = 1, ``α/(α−1) log[1 + (α−1)s]_+`` (−inf where
    the bracket is ≤ 0) above, with a finite derivative everywhere."""
    if alpha == 1.0:
        return s
    base = (alpha - 1.0) * s
    live = base > -1.0
    safe = jnp.where(live, base, jnp.zeros_like(base))  # no log(≤ 0) in the dead branch
    return jnp.where(live, alpha / (alpha - 1.0) * jnp.log1p(safe), -jnp.inf)


def _mean_minus_one(log_terms: Array) -> Array:
    """``(1/M) Σ_j exp(a_j) − 1`` from ``a``, in log space (the terms can exceed the
    float range: ``1/q = 2^k`` on ``{0, 1}^k``) and with ``expm1``, which keeps the
    digits near the optimum, where the mean is 1. Entries may be −inf."""
    live = jnp.any(log_terms > -jnp.inf)
    safe = jnp.where(live, log_terms, jnp.zeros_like(log_terms))  # all −inf: a dummy
    log_mean = jax.nn.logsumexp(safe) - jnp.log(jnp.asarray(log_terms.shape[0], safe.dtype))
    return jnp.where(live, jnp.expm1(log_mean), -jnp.ones_like(log_mean))


def _min_min_one(energy, alpha, theta, y, samples, sample_log_density, log_partition):
    scores = jax.vmap(lambda s: energy(theta, s))(samples)
    log_terms = _log_alpha_h(scores - log_partition, alpha) - sample_log_density
    # τ + mean(h/q) − 1/α − Φ(y) = (τ − Φ(y)) + (mean(α h/q) − 1)/α.
    return (log_partition - energy(theta, y)) + _mean_minus_one(log_terms) / alpha


def min_min_loss(energy: Energy, theta: Any, log_partition: Array, y: Array,
                 samples: Array, sample_log_density: Array, *, alpha: float = 1.0) -> Array:
    """Unbiased estimate of the min-min objective with a learned log-partition τ.

    .. math:: \\hat L(θ, τ; y) = τ + \\frac1M \\sum_{j=1}^{M}
              \\frac{h_α(Φ(θ, y'_j) − τ)}{q(y'_j)} − \\frac1α − Φ(θ, y),
              \\qquad y'_j ∼ q,

    with ``h_1(s) = e^s`` and ``h_α(s) = [1 + (α − 1)s]_+^{α/(α−1)}/α``. At α = 1 it is
    ``τ + e^{−τ} Ẑ − 1 − Φ(θ, y)`` with ``Ẑ = (1/M) Σ_j e^{Φ(θ, y'_j)}/q(y'_j)``.

    **Its expectation** over the samples is
    ``J(τ) = τ + ∫ h_α(Φ(θ, ·) − τ) dμ − 1/α − Φ(θ, y)``, convex in τ and, for every τ,
    an upper bound of the loss it replaces, with equality at the minimizing τ:
    at α = 1, ``J(τ) = τ + e^{−τ} Z − 1 − Φ(θ, y) ≥ log Z − Φ(θ, y) = −log p(y)``
    (the negative log-likelihood w.r.t. μ) with equality iff ``τ = log Z``, where
    ``E[∂_τ \\hat L] = 1 − e^{−τ} Z = 0``; over a finite set with the counting
    measure ``min_τ J`` is the Fenchel-Young loss of the α-Tsallis negentropy over
    all outputs (α = 1: ``log Σ e^Φ − Φ(y)``; α = 2: the sparsemax loss). Minimize
    it in θ and τ together (τ per example or a network ``τ_v(x)``): its gradients are
    unbiased. One estimate may lie below that loss, even below 0; only its mean
    is bounded.

    Computed in log space (``1/q`` may exceed the float range: ``2^k`` on ``{0, 1}^k``)
    and with ``expm1``, so the value keeps its digits near the optimum. Terms that
    overflow give ``inf``, the true value in floating point.

    Args:
      energy: ``Φ(theta, y) -> scalar``.
      theta: θ for one example (for the built-in energies leading axes are batch
        axes, shared with the other arguments').
      log_partition: τ, a scalar (``(...)`` for a batch): the model's estimate of
        ``log Z(θ)`` (α = 1), or of the normalizing threshold (α > 1).
      y: the target ``(k,)``.
      samples: ``(M, k)`` draws ``y'_j ∼ q``, M ≥ 1, e.g. from
        :func:`uniform_binary_samples` or :func:`uniform_box_samples`.
      sample_log_density: ``(M,)`` ``log q(y'_j)`` w.r.t. μ (counting measure on a
        discrete set, Lebesgue on a continuous one), or one scalar for all; ``0``
        for the paper's convention (μ = q, samples from the prior).
      alpha: α ≥ 1 (a Python number): 1 for the log-likelihood, 2 for sparsemax.

    Returns:
      A scalar (one value per example of a batch).

    Raises:
      ValueError: α < 1 or not finite; no samples; shapes that do not fit; non-finite
        θ, τ, y, samples or log-densities; a batch with a custom energy.

    Example:
      >>> import jax, jax.numpy as jnp
      >>> import fenchel
      >>> from fenchel.log_partition import min_min_loss, uniform_binary_samples
      >>> theta, y = jnp.array([1.0, -1.0]), jnp.array([1.0, 0.0])
      >>> samples, log_q = uniform_binary_samples(jax.random.key(0), 4096, (2,))
      >>> log_z = jnp.log(jnp.sum(jnp.exp(jnp.array([0.0, 1.0, -1.0, 0.0]))))  # 4 outputs
      >>> estimate = min_min_loss(fenchel.energies.bilinear, theta, log_z, y, samples, log_q)
      >>> nll = log_z - 1.0  # −log p(y)
      >>> bool(abs(estimate - nll) < 0.05)
      True

    References:
      Sander, Roulet, Liu, Blondel. Joint Learning of Energy-based Models and
      their Partition Function. ICML 2025 (arXiv:2501.18528).
    """
    alpha = _check_alpha(alpha)
    if not callable(energy):
        raise TypeError(f"energy must be a callable energy(theta, y), got {type(energy).__name__}")
    samples, sample_log_density, log_partition = (
        _floating(a) for a in (samples, sample_log_density, log_partition))
    if jnp.ndim(y) < 1 or samples.ndim < 2 or samples.shape[-1] != jnp.shape(y)[-1]:
        raise ValueError(f"samples must have shape (M, k) with y of shape (k,) (leading batch "
                         f"axes allowed for the built-in energies), got samples "
                         f"{tuple(samples.shape)} and y {tuple(jnp.shape(y))}")
    if samples.shape[-2] < 1:
        raise ValueError(f"samples must hold at least one draw, got shape {tuple(samples.shape)}")
    if sample_log_density.ndim == 0:  # one density for every sample (0: the paper's convention)
        sample_log_density = jnp.broadcast_to(sample_log_density, samples.shape[:-1])
    if sample_log_density.ndim < 1 or sample_log_density.shape[-1] != samples.shape[-2]:
        raise ValueError(f"sample_log_density must have shape (M,) = ({samples.shape[-2]},), "
                         f"one log q(y') per sample, got {tuple(sample_log_density.shape)}")
    theta, arrays, extra, batch, result = _max.read_inputs(
        energy, theta, ("y", y),
        extra={"samples": (samples, 2), "sample_log_density": (sample_log_density, 1),
               "log_partition": (log_partition, 0)})
    for name in ("samples", "sample_log_density", "log_partition"):
        _inputs.check_theta(extra[name][0], name)
    _inputs.check_theta(arrays["y"], "y")

    def one(theta_, y, samples, sample_log_density, log_partition):
        return _min_min_one(energy, alpha, theta_, y, samples, sample_log_density,
                            log_partition)

    return _inputs.map_examples(one, energy, batch, theta, arrays, extra).astype(result)


def _check_sampling(num, shape):
    if isinstance(num, bool) or not isinstance(num, (int, np.integer)) or num < 1:
        raise ValueError(f"num must be an integer >= 1, got {num!r}")
    try:
        shape = tuple(int(n) for n in shape)
    except TypeError:
        raise ValueError(f"shape must be a tuple of sizes, e.g. (k,), got {shape!r}") from None
    if any(n < 1 for n in shape):
        raise ValueError(f"shape must hold sizes >= 1, got {shape!r}")
    return shape


def uniform_binary_samples(key: Array, num: int, shape: tuple[int, ...],
                           dtype=jnp.float32) -> tuple[Array, Array]:
    """``num`` points uniform on ``{0, 1}^shape`` and their log-probability
    ``−n log 2`` (``n`` entries), w.r.t. the counting measure.

    .. math:: y' ∼ \\mathrm{Uniform}(\\{0, 1\\}^n), \\qquad \\log q(y') = −n \\log 2

    Returns:
      ``(samples, log_density)``: ``(num,) + shape`` and ``(num,)``.

    Example:
      >>> import jax
      >>> from fenchel.log_partition import uniform_binary_samples
      >>> samples, log_q = uniform_binary_samples(jax.random.key(0), 3, (2,))
      >>> samples.shape, round(float(log_q[0]), 4)
      ((3, 2), -1.3863)
    """
    shape = _check_sampling(num, shape)
    samples = jax.random.bernoulli(key, 0.5, (num,) + shape).astype(dtype)
    size = math.prod(shape)
    return samples, jnp.full((num,), -size * math.log(2.0), dtype)


def uniform_box_samples(key: Array, num: int, shape: tuple[int, ...], lower: float = 0.0,
                        upper: float = 1.0, dtype=jnp.float32) -> tuple[Array, Array]:
    """``num`` points uniform in ``[lower, upper]^shape`` and their log-density
    ``−n log(upper − lower)`` w.r.t. the Lebesgue measure.

    .. math:: y' ∼ \\mathrm{Uniform}([l, u]^n), \\qquad \\log q(y') = −n \\log(u − l)

    Returns:
      ``(samples, log_density)``: ``(num,) + shape`` and ``(num,)``.

    Example:
      >>> import jax
      >>> from fenchel.log_partition import uniform_box_samples
      >>> samples, log_q = uniform_box_samples(jax.random.key(0), 3, (2,), -1.0, 1.0)
      >>> samples.shape, round(float(log_q[0]), 4)
      ((3, 2), -1.3863)
    """
    shape = _check_sampling(num, shape)
    for name, bound in (("lower", lower), ("upper", upper)):
        if isinstance(bound, bool) or not isinstance(bound, (int, float, np.integer, np.floating)) \
                or not math.isfinite(bound):
            raise ValueError(f"{name} must be a finite number, got {bound!r}")
    if not lower < upper:
        raise ValueError(f"need lower < upper, got lower={lower!r}, upper={upper!r}")
    samples = jax.random.uniform(key, (num,) + shape, dtype, lower, upper)
    size = math.prod(shape)
    return samples, jnp.full((num,), -size * math.log(upper - lower), dtype)


__all__ = [
    "min_min_loss",
    "uniform_binary_samples",
    "uniform_box_samples",
]

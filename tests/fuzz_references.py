"""Independent references for tests/test_fuzz.py, in numpy float64 and exact fractions.

Nothing here calls fenchel's numerics. A regularizer is read only for its class name,
the kind of its domain, and its parameters (``scale``, ``lower``, ``upper``,
``alpha``); every value, maximizer, conjugate and loss is written out again from its
definition:

* the regularizers with rational closed forms (Squared, SquaredBox, BoxIndicator,
  SquaredSimplex) are evaluated **exactly** with :class:`fractions.Fraction` (the float32
  or float64 inputs are converted exactly), from the definition
  ``L(θ; y) = Ω*(θ) + Ω(y) − <θ, y>`` with ``Ω*(θ) = <θ, ŷ> − Ω(ŷ)``, ŷ the maximizer
  (clip, sign, a sort-based sparsemax): no rounding at all, so a float32 result can be
  compared with them relative to its own size, whatever |θ|;
* the entropic ones (BinaryEntropy, ShannonSimplex) in float64, as a Bernoulli KL with
  ``logaddexp`` and as ``KL(y ‖ softmax)`` with ``scipy.special.log_softmax``;
* the Tsallis α-entropy in float64: α-entmax by bisection on its threshold to the
  last bit, and the loss from its definition ``Ω*(θ) + Ω(y) − <θ, y>``;
* the inner objective ``F(y) = Φ(θ, y) − Ω(y)`` of the fuzzed energies (bilinear,
  pairwise, low-rank pairwise ``<u, y> − ½‖Vᵀy‖²``, the custom quartic) in float64,
  and how large its terms are (``magnitude``),
  which scales the rounding tolerances.

Loaded by path from tests/test_fuzz.py (the tests run with ``--import-mode=importlib``).
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import scipy.special

import fenchel_test_references as _references  # registered by tests/conftest.py
from fenchel import domains as _domains
from fenchel import regularizers as _regs

# The registered built-ins by the kind of their domain (the registry is the catalogue).
BOX = tuple(type(regs[0]).__name__ for regs in _regs.BUILT_INS.values()
            if isinstance(regs[0].domain, _domains.Box))
SIMPLEX = tuple(type(regs[0]).__name__ for regs in _regs.BUILT_INS.values()
                if isinstance(regs[0].domain, _domains.Simplex))
RATIONAL = ("Squared", "SquaredBox", "BoxIndicator", "SquaredSimplex")


def kind(reg) -> str:
    return type(reg).__name__


def bounds(reg) -> tuple[float, float]:
    """The box of a box regularizer, read from its fields."""
    return float(reg.lower), float(reg.upper)


# --------------------------------------------------------------------------- domains


def in_domain(reg, y, atol: float) -> np.ndarray:
    """Whether each ``y: (..., k)`` lies in dom Ω up to ``atol`` (finite values only)."""
    y = np.asarray(y, np.float64)
    finite = np.all(np.isfinite(y), axis=-1)
    name = kind(reg)
    if name in BOX:
        lo, hi = bounds(reg)
        return finite & np.all((y >= lo - atol) & (y <= hi + atol), axis=-1)
    if name in SIMPLEX:
        return (finite & np.all(y >= -atol, axis=-1)
                & (np.abs(np.sum(y, axis=-1) - 1.0) <= atol))
    return finite


def diameter(reg, k: int) -> float:
    """‖·‖₂ diameter of dom Ω (inf for Squared)."""
    name = kind(reg)
    if name in BOX:
        lo, hi = bounds(reg)
        return (hi - lo) * np.sqrt(k)
    if name in SIMPLEX:
        return np.sqrt(2.0)
    return np.inf


# --------------------------------------------------------------------------- sparsemax


def sparsemax(v) -> np.ndarray:
    """Sort-based sparsemax over the last axis, in float64 (Martins & Astudillo 2016)."""
    z = np.asarray(v, np.float64)
    z = z - np.max(z, axis=-1, keepdims=True)  # exact for float32 inputs
    z_sorted = -np.sort(-z, axis=-1)
    j = np.arange(1, z.shape[-1] + 1)
    cumulative = np.cumsum(z_sorted, axis=-1)
    support = np.sum(1.0 + j * z_sorted > cumulative, axis=-1, keepdims=True)
    tau = (np.take_along_axis(cumulative, support - 1, axis=-1) - 1.0) / support
    return np.maximum(z - tau, 0.0)


def _sparsemax_exact(t: list[Fraction]) -> list[Fraction]:
    """Sparsemax of one vector of fractions, exactly (the same sort-based rule)."""
    ordered = sorted(t, reverse=True)
    total, support, tau = Fraction(0), 0, Fraction(0)
    for j, value in enumerate(ordered, start=1):
        total += value
        if 1 + j * value > total:
            support, tau = j, (total - 1) / j
    return [max(value - tau, Fraction(0)) for value in t]


# --------------------------------------------------------------------------- exact forms


def _fractions(array) -> list:
    return [Fraction(float(v)) for v in np.asarray(array, np.float64)]


def _exact_maximizer(reg, t: list[Fraction], theta: list[Fraction]) -> list[Fraction]:
    name = kind(reg)
    if name == "Squared":
        return list(t)
    if name == "SquaredBox":
        lo, hi = (Fraction(b) for b in bounds(reg))
        return [min(max(v, lo), hi) for v in t]
    if name == "BoxIndicator":
        lo, hi = (Fraction(b) for b in bounds(reg))
        return [hi if v > 0 else lo for v in theta]
    if name == "SquaredSimplex":
        return _sparsemax_exact(t)
    raise ValueError(name)


def _exact_omega(reg, y: list[Fraction]) -> Fraction:
    if kind(reg) == "BoxIndicator":
        return Fraction(0)
    return Fraction(reg.scale) * sum((v * v for v in y), Fraction(0)) / 2


def exact_loss_and_conjugate(reg, theta, y) -> tuple[float, float]:
    """``(FY(θ; y), Ω*(θ))`` exactly for one example of a rational regularizer, from
    the definitions, rounded to float64 only at the end (NaN for non-finite inputs)."""
    if not (np.all(np.isfinite(theta)) and np.all(np.isfinite(y))):
        return math.nan, math.nan
    theta_f = _fractions(theta)
    y_f = _fractions(y)
    scale = Fraction(reg.scale)
    t = [v / scale for v in theta_f]
    y_hat = _exact_maximizer(reg, t, theta_f)
    conj = sum((a * b for a, b in zip(theta_f, y_hat)), Fraction(0)) - _exact_omega(reg, y_hat)
    loss = conj + _exact_omega(reg, y_f) - sum((a * b for a, b in zip(theta_f, y_f)), Fraction(0))
    return float(loss), float(conj)


# --------------------------------------------------------------------------- float64 forms


def maximizer(reg, theta) -> np.ndarray:
    """The closed-form ``argmax_y <θ, y> − Ω(y)`` in float64 (``(..., k)``)."""
    theta = np.asarray(theta, np.float64)
    t = theta / reg.scale
    name = kind(reg)
    if name == "BinaryEntropy":
        return scipy.special.expit(t)
    if name == "ShannonSimplex":
        return scipy.special.softmax(t, axis=-1)
    if name == "Squared":
        return t
    if name == "SquaredBox":
        return np.clip(t, *bounds(reg))
    if name == "BoxIndicator":
        lo, hi = bounds(reg)
        return np.where(theta > 0, hi, lo)
    if name == "SquaredSimplex":
        return sparsemax(t)
    if name == "Tsallis":
        return _references.entmax(t, float(reg.alpha))
    raise ValueError(name)


def fy_loss(reg, theta, y) -> np.ndarray:
    """The classic Fenchel-Young loss ``Ω*(θ) + Ω(y) − <θ, y>`` per example."""
    theta = np.asarray(theta, np.float64)
    y = np.asarray(y, np.float64)
    theta, y = np.broadcast_arrays(theta, y)
    name = kind(reg)
    lam = reg.scale
    if name == "BinaryEntropy":
        t = theta / lam
        kl = (scipy.special.xlogy(y, y) + scipy.special.xlogy(1 - y, 1 - y)
              + y * np.logaddexp(0.0, -t) + (1 - y) * np.logaddexp(0.0, t))
        # 0·∞ = 0: a zero weight on an overflowing term (y on a face, |t| huge).
        return lam * np.sum(kl, axis=-1)
    if name == "ShannonSimplex":
        log_p = scipy.special.log_softmax(theta / lam, axis=-1)
        return lam * np.sum(scipy.special.xlogy(y, y) - np.where(y > 0, y * log_p, 0.0), axis=-1)
    if name == "Tsallis":
        # Ω*(θ) + Ω(y) − <θ, y> = <θ, ŷ − y> − (Ω(ŷ) − Ω(y)), with θ shifted by its max
        # (both points sum to 1) so the float64 sum stays accurate for huge |θ|.
        shifted = theta - np.max(theta, axis=-1, keepdims=True)
        y_hat = maximizer(reg, theta)
        return (np.sum(shifted * (y_hat - y), axis=-1)
                - np.sum(omega_entries(reg, y_hat) - omega_entries(reg, y), axis=-1))
    flat_t, flat_y = theta.reshape(-1, theta.shape[-1]), y.reshape(-1, y.shape[-1])
    out = [exact_loss_and_conjugate(reg, a, b)[0] for a, b in zip(flat_t, flat_y)]
    return np.asarray(out, np.float64).reshape(theta.shape[:-1])


def conjugate(reg, theta) -> np.ndarray:
    """``Ω*(θ)`` per example (float64, or exact then rounded)."""
    theta = np.asarray(theta, np.float64)
    name = kind(reg)
    lam = reg.scale
    if name == "BinaryEntropy":
        return lam * np.sum(np.logaddexp(0.0, theta / lam), axis=-1)
    if name == "ShannonSimplex":
        return lam * scipy.special.logsumexp(theta / lam, axis=-1)
    if name == "Tsallis":
        y_hat = maximizer(reg, theta)
        return np.sum(theta * y_hat, axis=-1) - omega(reg, y_hat)
    flat = theta.reshape(-1, theta.shape[-1])
    out = [exact_loss_and_conjugate(reg, a, a * 0)[1] for a in flat]  # y = 0 is unused
    return np.asarray(out, np.float64).reshape(theta.shape[:-1])


def hinge_loss(reg, theta, y) -> np.ndarray:
    """Structured hinge with the Hamming cost, bilinear energy, box Ω, binary y:
    ``max_y' [<θ, y'> + Σ|y − y'| − Ω(y')] − <θ, y> + Ω(y)``. Since ``|y − y'|`` is
    linear in y' on [0, 1] for binary y (and y' stays in the box), this is
    ``FY(θ + 1 − 2y; y)``, the Fenchel-Young loss of the shifted scores."""
    theta = np.asarray(theta, np.float64)
    y = np.asarray(y, np.float64)
    return fy_loss(reg, theta + 1.0 - 2.0 * y, y)


def omega_entries(reg, y) -> np.ndarray:
    """The entries of Ω(y) before the sum over the last axis, float64 (y inside dom Ω)."""
    y = np.asarray(y, np.float64)
    name = kind(reg)
    lam = reg.scale
    if name == "BinaryEntropy":
        yc = np.clip(y, 0.0, 1.0)
        return lam * (scipy.special.xlogy(yc, yc) + scipy.special.xlogy(1 - yc, 1 - yc))
    if name == "ShannonSimplex":
        return lam * scipy.special.xlogy(np.clip(y, 0.0, None), np.clip(y, 0.0, None))
    if name == "BoxIndicator":
        return np.zeros(y.shape)
    if name == "Tsallis":
        a = reg.alpha
        yc = np.clip(y, 0.0, None)
        return lam * (yc ** a - yc) / (a * (a - 1.0))
    return 0.5 * lam * y * y


def omega(reg, y) -> np.ndarray:
    """Ω(y) per example, float64 (y inside dom Ω)."""
    return np.sum(omega_entries(reg, y), axis=-1)


def omega_terms(reg, y) -> np.ndarray:
    """Σ |entries of Ω(y)| (how large Ω's terms are, for rounding tolerances). Each
    entry has one sign on the domain (xlogy ≤ 0 on [0, 1], squares ≥ 0), so this is
    also the sum of the absolute values of its parts."""
    return np.sum(np.abs(omega_entries(reg, y)), axis=-1)


# --------------------------------------------------------------------------- energies


def energy(name: str, theta, y) -> np.ndarray:
    """Φ(θ, y) per example in float64; θ and y broadcast over leading axes."""
    y = np.asarray(y, np.float64)
    if name == "pairwise":
        u, interactions = (np.asarray(a, np.float64) for a in theta)
        return np.sum(u * y, -1) + 0.5 * np.einsum("...i,...ij,...j->...", y, interactions, y)
    if name == "low_rank":
        u, factor = (np.asarray(a, np.float64) for a in theta)
        projected = np.einsum("...ir,...i->...r", factor, y)
        return np.sum(u * y, -1) - 0.5 * np.sum(projected * projected, -1)
    theta = np.asarray(theta, np.float64)
    value = np.sum(theta * y, -1)
    if name == "quartic":
        value = value - 0.1 * np.sum(y ** 4, -1)
    return value


def energy_terms(name: str, theta, y) -> np.ndarray:
    """Σ |terms of Φ(θ, y)| per example (for rounding tolerances)."""
    y = np.abs(np.asarray(y, np.float64))
    if name == "pairwise":
        u, interactions = (np.abs(np.asarray(a, np.float64)) for a in theta)
        return np.sum(u * y, -1) + 0.5 * np.einsum("...i,...ij,...j->...", y, interactions, y)
    if name == "low_rank":
        u, factor = (np.abs(np.asarray(a, np.float64)) for a in theta)
        projected = np.einsum("...ir,...i->...r", factor, y)
        return np.sum(u * y, -1) + 0.5 * np.sum(projected * projected, -1)
    value = np.sum(np.abs(np.asarray(theta, np.float64)) * y, -1)
    if name == "quartic":
        value = value + 0.1 * np.sum(y ** 4, -1)
    return value


def objective(name: str, reg, theta, y) -> np.ndarray:
    """F(y) = Φ(θ, y) − Ω(y), float64."""
    return energy(name, theta, y) - omega(reg, y)


def magnitude(name: str, reg, theta, *ys) -> np.ndarray:
    """1 + the largest Σ|terms| of F over the points ``ys`` (rounding scale of F)."""
    sizes = [energy_terms(name, theta, y) + omega_terms(reg, y) for y in ys]
    return 1.0 + np.max(np.stack(np.broadcast_arrays(*sizes)), axis=0)

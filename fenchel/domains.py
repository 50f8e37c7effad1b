"""Domains: the convex sets ``dom Ω`` that hold the outputs y.

A domain is a small frozen dataclass (a pytree with no leaves: its numbers are
static) that knows everything the solvers and the input checks ask about the
set, so that nothing in :mod:`fenchel` tells domains apart by their type:

* ``project(y)``: the Euclidean projection onto the set;
* ``contains_each(y, atol)`` / ``contains(y, atol)``: membership up to the dtype
  tolerance :func:`domain_tolerance` (absolute, per entry and on constraints
  such as the simplex sum); ``snap(y, atol)``: a point within the tolerance moved
  onto the set, with per-example membership;
* ``center(shape, dtype)``: a neutral starting point; ``sample(key, shape, dtype)``:
  random points (for :class:`~fenchel.maximizers.Restarts`,
  :class:`~fenchel.maximizers.DerivativeFree`, :class:`~fenchel.maximizers.Langevin`);
  ``interior(y, margin)``: a point at least ``margin`` inside (gradients of
  entropic regularizers are infinite on the boundary);
* ``bounded`` and ``width`` (the spread of one coordinate, for sampling noise);
* ``describe(atol)`` / ``describe_violation(y)``: text for error messages.

Every :class:`~fenchel.regularizers.Regularizer` has a ``domain``. Write your
own domain by subclassing :class:`Domain` (see ``docs/extending.md``).

Example:
  >>> import jax.numpy as jnp
  >>> import fenchel as fy
  >>> box = fy.domains.Box(0.0, 1.0)
  >>> box.project(jnp.array([-1.0, 0.5, 2.0])).tolist()
  [0.0, 0.5, 1.0]
  >>> bool(fy.domains.Simplex().contains(jnp.array([0.25, 0.75])))
  True
"""

from __future__ import annotations

import dataclasses
import math
from typing import ClassVar

import jax
import jax.numpy as jnp
import numpy as np
import optax

from fenchel import _pytree

Array = jax.Array


def domain_tolerance(dtype) -> float:
    """How far a ``y`` of ``dtype`` may lie outside a domain (absolute, per entry
    and on the simplex sum) and still count as inside: ``max(1e-5, 4·eps)``. It
    does not grow with k.

    Example:
      >>> import jax.numpy as jnp
      >>> from fenchel.domains import domain_tolerance
      >>> domain_tolerance(jnp.float32)
      1e-05
    """
    return max(1e-5, 4.0 * float(jnp.finfo(dtype).eps))


def projection_simplex(v: Array) -> Array:
    """Euclidean projection onto the probability simplex over the last axis.

    .. math:: \\operatorname{argmin}_{p \\in \\triangle^k} \\|p - v\\|^2 =
              \\operatorname{sparsemax}(v)

    Args:
      v: ``(..., k)`` scores.

    Returns:
      ``(..., k)`` probabilities, in v's dtype.

    Example:
      >>> import jax.numpy as jnp
      >>> from fenchel.domains import projection_simplex
      >>> projection_simplex(jnp.array([2.0, 0.0])).tolist()
      [1.0, 0.0]
    """
    v = jnp.asarray(v)
    # Shift-invariant: subtracting the max keeps the sort and cumsum accurate for huge v.
    v = v - jax.lax.stop_gradient(jnp.max(v, axis=-1, keepdims=True))
    if v.ndim == 1:
        out = optax.projections.projection_simplex(v)
    else:
        flat = v.reshape(-1, v.shape[-1])
        out = jax.vmap(optax.projections.projection_simplex)(flat).reshape(v.shape)
    # optax divides by an integer count, which promotes float32 to float64 under x64.
    return out.astype(v.dtype)


def _tolerance(y: Array, atol) -> float:
    return domain_tolerance(jnp.result_type(y)) if atol is None else atol


@dataclasses.dataclass(frozen=True)
class Domain:
    """Base class of the domains: a closed convex set of outputs ``y: (..., k)``.

    Subclasses implement :meth:`project`, :meth:`contains_each`, :meth:`center`,
    :meth:`sample` and :meth:`describe`; the other methods have defaults built on
    those. Leading axes of ``y`` are batch axes.
    """

    bounded: ClassVar[bool] = True

    _leaf_fields: ClassVar[tuple[str, ...]] = ()

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        _pytree.register(cls)

    def project(self, y: Array) -> Array:
        """Euclidean projection onto the domain, entry shape kept."""
        raise NotImplementedError(f"{type(self).__name__} must define project(y)")

    def contains_each(self, y: Array, atol: float | None = None) -> Array:
        """Per example (``(..., k)`` → ``(...)``), whether y lies in the domain up to
        ``atol`` (default :func:`domain_tolerance` of y's dtype). NaN is never inside."""
        raise NotImplementedError(f"{type(self).__name__} must define contains_each(y, atol)")

    def contains(self, y: Array, atol: float | None = None) -> Array:
        """Whether every example of ``y`` lies in the domain up to ``atol``."""
        return jnp.all(self.contains_each(y, atol))

    def snap(self, y: Array, atol: float | None = None) -> tuple[Array, Array]:
        """``(y_inside, inside)``: y moved onto the domain where it lies within
        ``atol`` outside, unchanged (with its identity derivative) where it lies
        inside; ``inside`` says, per example, whether it was within ``atol``.

        The default projects the points that are not exactly inside."""
        inside = self.contains_each(y, atol)
        exact = self.contains_each(y, 0.0)
        return jnp.where(exact[..., None], y, self.project(y)), inside

    def center(self, shape: tuple[int, ...], dtype=jnp.float32) -> Array:
        """A neutral point of the domain with the given shape."""
        raise NotImplementedError(f"{type(self).__name__} must define center(shape, dtype)")

    def sample(self, key: Array, shape: tuple[int, ...], dtype=jnp.float32) -> Array:
        """Random points of the domain, ``shape`` = batch axes + the entry shape."""
        raise NotImplementedError(f"{type(self).__name__} must define sample(key, shape, dtype)")

    def interior(self, y: Array, margin: float) -> Array:
        """A point near ``project(y)`` at least ``margin`` (roughly) from the
        boundary, for gradients that are infinite on it. Default: ``project(y)``."""
        del margin
        return self.project(y)

    @property
    def width(self) -> float:
        """The spread of one coordinate over the domain (the scale of sampling
        noise); ``inf`` for an unbounded domain."""
        return math.inf

    def describe(self, atol: float) -> str:
        """What the domain expects, for error messages (e.g. ``"finite values in
        [0, 1] (±1e-05)"``)."""
        return f"points of {self!r} (±{atol:g})"

    def describe_violation(self, y) -> str:
        """What is wrong with a ``y`` (numpy) outside the domain, for error messages."""
        y = np.asarray(y, np.float64)
        if not np.all(np.isfinite(y)):
            return f"a non-finite value {y[~np.isfinite(y)].ravel()[0]}"
        return "values outside the domain"


_pytree.register(Domain)


def _check_bound(name: str, bound) -> float:
    if (isinstance(bound, bool) or not isinstance(bound, (int, float, np.integer, np.floating))
            or not math.isfinite(bound)):
        raise ValueError(f"{name} must be a finite number, got {bound!r}")
    return float(bound)


@dataclasses.dataclass(frozen=True)
class Box(Domain):
    """The box ``[lower, upper]^k``.

    Example:
      >>> import jax.numpy as jnp
      >>> from fenchel.domains import Box
      >>> Box(-1.0, 1.0).center((2,)).tolist()
      [0.0, 0.0]
    """

    lower: float = 0.0
    upper: float = 1.0

    def __post_init__(self):
        lower, upper = _check_bound("lower", self.lower), _check_bound("upper", self.upper)
        if not lower < upper:
            raise ValueError(f"need lower < upper, got lower={self.lower!r}, upper={self.upper!r}")
        object.__setattr__(self, "lower", lower)
        object.__setattr__(self, "upper", upper)

    def project(self, y):
        return jnp.clip(y, self.lower, self.upper)

    def contains_each(self, y, atol=None):
        y = jnp.asarray(y)
        atol = _tolerance(y, atol)
        return jnp.all((y >= self.lower - atol) & (y <= self.upper + atol), axis=-1)

    def snap(self, y, atol=None):
        y = jnp.asarray(y)
        # where, not clip: clip's derivative is ½ at the bounds, where binary targets sit.
        snapped = jnp.where(y < self.lower, self.lower,
                            jnp.where(y > self.upper, self.upper, y)).astype(y.dtype)
        return snapped, self.contains_each(y, atol)

    def center(self, shape, dtype=jnp.float32):
        return jnp.full(shape, 0.5 * (self.lower + self.upper), dtype)

    def sample(self, key, shape, dtype=jnp.float32):
        return jax.random.uniform(key, shape, dtype, self.lower, self.upper)

    def interior(self, y, margin):
        return jnp.clip(y, self.lower + margin, self.upper - margin)

    @property
    def width(self):
        return self.upper - self.lower

    def describe(self, atol):
        return f"expected finite values in [{self.lower}, {self.upper}] (±{atol:g})"

    def describe_violation(self, y):
        y = np.asarray(y, np.float64)
        if not np.all(np.isfinite(y)):
            return super().describe_violation(y)
        return f"values in [{y.min():.9g}, {y.max():.9g}]"


@dataclasses.dataclass(frozen=True)
class Simplex(Domain):
    """The probability simplex over the last axis,
    ``△^k = {y ∈ R^k : y ≥ 0, Σ y = 1}``.

    Example:
      >>> import jax.numpy as jnp
      >>> from fenchel.domains import Simplex
      >>> Simplex().project(jnp.array([2.0, 0.0])).tolist()
      [1.0, 0.0]
    """

    def project(self, y):
        return projection_simplex(y)

    def contains_each(self, y, atol=None):
        y = jnp.asarray(y)
        atol = _tolerance(y, atol)
        return (jnp.all((y >= -atol) & (y <= 1 + atol), axis=-1)
                & (jnp.abs(jnp.sum(y, axis=-1) - 1) <= atol))

    def snap(self, y, atol=None):
        y = jnp.asarray(y)
        # Negatives within the tolerance are set to 0 (no renormalisation: a sum off by
        # at most the tolerance moves a loss by as little).
        return jnp.where(y < 0, 0, y).astype(y.dtype), self.contains_each(y, atol)

    def center(self, shape, dtype=jnp.float32):
        return jnp.full(shape, 1.0 / shape[-1], dtype)

    def sample(self, key, shape, dtype=jnp.float32):
        return jax.random.dirichlet(key, jnp.ones(shape[-1]), tuple(shape[:-1])).astype(dtype)

    def interior(self, y, margin):
        p = self.project(y)
        k = jnp.shape(p)[-1]
        return (p + margin) / (1 + k * margin)

    @property
    def width(self):
        return 1.0

    def describe(self, atol):
        return f"expected finite entries ≥ 0 summing to 1 over the last axis (±{atol:g})"

    def describe_violation(self, y):
        y = np.asarray(y, np.float64)
        if not np.all(np.isfinite(y)):
            return super().describe_violation(y)
        sums = y.sum(axis=-1)
        return (f"smallest entry {y.min():.9g}, sums over the last axis in "
                f"[{np.min(sums):.9g}, {np.max(sums):.9g}]")


@dataclasses.dataclass(frozen=True)
class Reals(Domain):
    """All of ``R^k`` (finite values).

    Example:
      >>> import jax.numpy as jnp
      >>> from fenchel.domains import Reals
      >>> Reals().project(jnp.array([-3.0])).tolist()
      [-3.0]
    """

    bounded: ClassVar[bool] = False

    def project(self, y):
        return y

    def contains_each(self, y, atol=None):
        return jnp.all(jnp.isfinite(jnp.asarray(y)), axis=-1)

    def snap(self, y, atol=None):
        return y, self.contains_each(y, atol)

    def center(self, shape, dtype=jnp.float32):
        return jnp.zeros(shape, dtype)

    def sample(self, key, shape, dtype=jnp.float32):
        return jax.random.normal(key, shape, dtype)

    def describe(self, atol):
        return "expected finite values"


__all__ = ["Domain", "Box", "Simplex", "Reals", "domain_tolerance", "projection_simplex"]

# The structured domains live in their own modules (imported last: they build on Domain).
from fenchel._doubly_stochastic import SolveInfo, projection_birkhoff, sinkhorn  # noqa: E402
from fenchel._isotonic import (isotonic_kl, isotonic_squared,  # noqa: E402
                               kl_projection_permutahedron, projection_permutahedron)
from fenchel._structured_domains import Birkhoff, Permutahedron  # noqa: E402

__all__ += ["Permutahedron", "Birkhoff", "projection_permutahedron",
            "kl_projection_permutahedron", "isotonic_squared", "isotonic_kl",
            "projection_birkhoff", "sinkhorn", "SolveInfo"]

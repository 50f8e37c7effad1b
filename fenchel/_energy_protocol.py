"""The energy protocol: what an energy Φ(θ, y) tells the solvers (see
:mod:`fenchel.energies`, which re-exports every name here)."""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp

Array = jax.Array


def power_iteration(matvec: Callable[[Array], Array], like: Array, num_iter: int = 8) -> Array:
    """``‖A v_n‖`` after ``num_iter`` power steps from a fixed start vector: an
    estimate of ``‖A‖₂`` from below (exact for a rank-one A).

    Args:
      matvec: ``v -> A v`` for ``v`` shaped like ``like``.
      like: an array with the shape and dtype of v.

    Example:
      >>> import jax.numpy as jnp
      >>> from fenchel.energies import power_iteration
      >>> round(float(power_iteration(lambda v: 3.0 * v, jnp.zeros(4))), 4)
      3.0
    """
    # A fixed, irregular start (not a PRNG draw: threefry costs more than the
    # iteration at small k) is generically not orthogonal to the top eigenvector.
    index = jnp.arange(jnp.size(like), dtype=jnp.result_type(like)).reshape(jnp.shape(like))
    v = 1.0 + 0.5 * jnp.sin(2.399963 * index + 0.5)
    v = v / jnp.linalg.norm(v)

    def step(v, _):
        av = matvec(v)
        norm = jnp.linalg.norm(av)
        return av / (norm + 1e-12), norm

    # Unrolled: a loop of a few tiny steps costs more in loop control than in flops.
    _, norms = jax.lax.scan(step, v, None, length=num_iter, unroll=True)
    return norms[-1]


class Oracle(NamedTuple):
    """First-order oracle of ``Φ(θ, ·)`` for a fixed θ, from :meth:`Energy.oracle`.

    ``quadratic`` marks energies at most quadratic in y: their gradient is affine,
    so the gradient at an extrapolated point is the same combination of known
    gradients, and ``Φ(b) − Φ(a) = <(∇Φ(a) + ∇Φ(b))/2, b − a>`` exactly (the
    trapezoid rule is exact for quadratics). A solver then needs one gradient per
    iteration and no energy value.
    """

    value_and_grad: Callable  # y -> (Φ(θ, y), ∇_y Φ(θ, y))
    grad: Callable  # y -> ∇_y Φ(θ, y)
    quadratic: bool
    curvature: Callable  # y -> estimate of ‖∇²_y Φ(θ, y)‖₂ (from below)


class CoordinateOracle(NamedTuple):
    """What exact coordinate ascent needs, from :meth:`Energy.coordinate_oracle`.

    With ``S = ∇²_y Φ`` constant (a pairwise energy), the objective in ``y_i``
    with the other coordinates fixed is ``s_i y_i + ½ S_ii y_i² − Ω_i(y_i)``, where
    ``s_i = ∂_i Φ(y) − S_ii y_i``. A sweep keeps some state from which
    ``∂_i Φ(y)`` is read in O(1) or O(r):
    ``state = start(y)``, ``∂_i Φ = field(state, i)``, and after ``y_i += δ``,
    ``state = move(state, i, δ)``.
    """

    diagonal: Array  # (k,) S_ii
    start: Callable  # y -> state
    field: Callable  # (state, i) -> ∂_i Φ(θ, y)
    move: Callable  # (state, i, delta) -> state


class Batching(NamedTuple):
    """Per-example shapes of θ, from :meth:`Energy.batching`: leading axes beyond
    them are batch axes.

    Attributes:
      ndims: a pytree with θ's structure (or a prefix of it) of ints: each leaf's
        number of per-example axes.
      k_axes: the same structure, of tuples: which per-example axes have length k
        (the output's length), e.g. ``(0,)`` for ``V: (k, r)``.
      expected: text for error messages, e.g. ``"((k,), (k, k))"``.
    """

    ndims: Any
    k_axes: Any
    expected: str


class Energy:
    """Base class of the energies: ``Φ(θ, y)`` for one example, and the protocol
    the solvers use (see the module docstring). Subclass it and define
    :meth:`__call__`; override the other methods where you know better than
    automatic differentiation.

    Example:
      >>> import jax.numpy as jnp
      >>> import fenchel as fy
      >>> class Quartic(fy.energies.Energy):
      ...     def __call__(self, theta, y):
      ...         return jnp.vdot(theta, y) - 0.1 * jnp.sum(y ** 4)
      ...     def output_shape(self, theta):
      ...         return jnp.shape(theta)
      >>> y_hat, info = fy.maximize(Quartic(), fy.regularizers.SquaredBox(), jnp.array([1.0, -1.0]))
      >>> [round(v, 3) for v in y_hat.tolist()]
      [0.797, 0.0]
    """

    #: Whether ``Φ(θ, y) = <scores(θ), y>`` (then closed forms apply).
    linear_in_y: bool = False

    def __call__(self, theta: Any, y: Array) -> Array:
        raise NotImplementedError(f"{type(self).__name__} must define __call__(theta, y)")

    def scores(self, theta: Any) -> Array:
        """For an energy linear in y, the s with ``Φ(θ, y) = <s, y>``."""
        raise NotImplementedError(f"{type(self).__name__} is not linear in y")

    @property
    def __name__(self) -> str:  # noqa: A003 (messages name energies like functions)
        return type(self).__name__

    def oracle(self, theta: Any) -> Oracle:
        """The first-order oracle of ``Φ(θ, ·)``; default by autodiff (two
        evaluations per ascent test, a Hessian-vector product for the curvature)."""
        value_and_grad = jax.value_and_grad(lambda y: self(theta, y))
        grad = lambda y: value_and_grad(y)[1]
        hvp = lambda y: (lambda v: jax.jvp(grad, (y,), (v,))[1])
        return Oracle(value_and_grad, grad, False, lambda y: power_iteration(hvp(y), y))

    def gap(self, theta: Any, a: Array, b: Array) -> Array:
        """``Φ(θ, a) − Φ(θ, b)``; override to form the difference before the sums
        (its gradient in θ must be ``∇_θ Φ(θ, a) − ∇_θ Φ(θ, b)``)."""
        return self(theta, a) - self(theta, b)

    def coordinate_oracle(self, theta: Any) -> CoordinateOracle | None:
        """The coordinate oracle where ``∇²_y Φ`` is constant, else ``None``."""
        return None

    def concavity_excess(self, theta: Any, strong_convexity: float) -> float | None:
        """For a concrete θ: ``λ_max(∇²_y Φ) − μ`` (positive: the inner problem with
        a μ-strongly convex Ω may not be concave), 0.0 when it is concave, ``None``
        when unknown (the default, and for a traced θ)."""
        return None

    def batching(self, theta: Any) -> Batching | None:
        """The per-example shapes of θ (leading axes are then batch axes), or
        ``None``: one example per call (the default)."""
        return None

    def output_shape(self, theta: Any) -> tuple[int, ...] | None:
        """The shape of y for this θ, or ``None`` when unknown (then solvers need
        ``init=``, or a loss takes it from y)."""
        return None

    def add_linear(self, theta: Any, c: Array) -> Any | None:
        """θ' with ``Φ(θ', y) = Φ(θ, y) + <c, y>`` (the same energy), or ``None``."""
        return None


class FunctionEnergy(Energy):
    """A plain callable ``fn(theta, y) -> scalar`` as an :class:`Energy`, with the
    autodiff defaults (see :func:`as_energy`)."""

    def __init__(self, fn: Callable[[Any, Array], Array]):
        self.fn = fn

    def __call__(self, theta, y):
        return self.fn(theta, y)

    @property
    def __name__(self):
        return getattr(self.fn, "__name__", type(self.fn).__name__)

    def __eq__(self, other):
        return type(self) is type(other) and self.fn == other.fn

    def __hash__(self):
        return hash((FunctionEnergy, self.fn))

    def __repr__(self):
        return f"FunctionEnergy({self.fn!r})"


_PROTOCOL = ("scores", "oracle", "gap", "coordinate_oracle", "concavity_excess", "batching",
             "output_shape", "add_linear")


def as_energy(energy: Any) -> Energy:
    """``energy`` itself if it implements the energy protocol (every method of
    :class:`Energy`), else a plain callable wrapped in :class:`FunctionEnergy`.

    Raises:
      TypeError: ``energy`` is not callable.

    Example:
      >>> import jax.numpy as jnp
      >>> from fenchel.energies import as_energy, bilinear
      >>> as_energy(bilinear) is bilinear
      True
      >>> as_energy(lambda theta, y: jnp.vdot(theta, y)).batching(jnp.zeros(2)) is None
      True
    """
    if all(callable(getattr(energy, method, None)) for method in _PROTOCOL) and callable(energy):
        return energy
    if not callable(energy):
        raise TypeError(f"energy must be a callable energy(theta, y) or a "
                        f"fenchel.energies.Energy, got {type(energy).__name__}")
    return FunctionEnergy(energy)


def _is_concrete(tree) -> bool:
    return not any(isinstance(leaf, jax.core.Tracer) for leaf in jax.tree.leaves(tree))

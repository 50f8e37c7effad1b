"""Training losses and inference for multi-label energy networks.

Every loss here is one of :mod:`fenchel.losses`, applied per example and
averaged over the batch with ``jax.vmap``:

==============  =======================================================  =========
``--loss``      per-example loss                                         Ω
==============  =======================================================  =========
``gfy``         :func:`fenchel.losses.gfy_loss`                          ``--reg``
``perceptron``  :func:`fenchel.losses.perceptron_loss` (box indicator)   —
``bce``         :func:`fenchel.losses.binary_cross_entropy` (unary only) —
``hinge``       :func:`fenchel.losses.hinge_loss` (SSVM, Hamming cost)   —
``unrolled``    :func:`fenchel.losses.unrolled_loss` (task loss below)   ``--reg``
``implicit``    :func:`fenchel.losses.implicit_loss` (task loss below)   ``--reg``
==============  =======================================================  =========

``--reg``: ``entropy`` is :class:`~fenchel.regularizers.BinaryEntropy`,
``squared`` is :class:`~fenchel.regularizers.SquaredBox` on [0, 1]^k.
Prediction solves ``ŷ = argmax_{y ∈ [0,1]^k} Φ(θ, y) − Ω(y)`` with the Ω the
model was trained with (the box indicator for perceptron and hinge, the
binary entropy for bce). The task loss ℓ(ŷ, y) of unrolled and implicit is
the cross-entropy with ``entropy`` and the squared error with ``squared``.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

import jax
import jax.numpy as jnp

from fenchel import losses as fy_losses
from fenchel import maximizers as fy_max
from fenchel import regularizers as fy_regs
from fenchel.multilabel.models import ENERGIES, EnergySpec

Array = jax.Array

LOSSES = ("gfy", "perceptron", "bce", "hinge", "unrolled", "implicit")
REGULARIZERS = ("entropy", "squared")
# Losses whose Ω is fixed by the loss rather than chosen with --reg.
_FIXED_REG_LOSSES = ("perceptron", "bce", "hinge")


@dataclasses.dataclass(frozen=True)
class Method:
    """A training method: energy, loss, regularizer and inner-solver budget.

    Attributes:
      energy: ``"unary"``, ``"pairwise"`` or ``"global"``.
      loss: one of :data:`LOSSES`.
      reg: ``"entropy"`` or ``"squared"`` (ignored by perceptron, bce, hinge).
      reg_scale: default λ of Ω (the temperature); :func:`batch_loss` and
        :func:`predict_relaxed` take it as an argument too.
      maxiter: iterations of the inner solver in training.
      tol: tolerance of the inner solver.
      unroll_steps: K for the unrolled loss.
      restarts: random restarts of the inner solver at prediction (global energy).
      concave: pairwise only: ``U = −V Vᵀ ⪯ 0`` (concave inner problem) or a free
        symmetric ``U`` (named ``pairwise_nc``; the inner solver then finds a
        local maximum).

    Example:
      >>> from fenchel.multilabel.losses import Method
      >>> Method("pairwise", "gfy", "entropy").name
      'pairwise-gfy-entropy'
    """

    energy: str = "pairwise"
    loss: str = "gfy"
    reg: str = "entropy"
    reg_scale: float = 1.0
    maxiter: int = 50
    tol: float = 1e-3
    unroll_steps: int = 10
    restarts: int = 0
    concave: bool = True

    def __post_init__(self):
        if self.energy not in ENERGIES:
            raise ValueError(f"energy must be one of {ENERGIES}, got {self.energy!r}")
        if self.loss not in LOSSES:
            raise ValueError(f"loss must be one of {LOSSES}, got {self.loss!r}")
        if self.reg not in REGULARIZERS:
            raise ValueError(f"reg must be one of {REGULARIZERS}, got {self.reg!r}")
        if self.loss == "bce" and self.energy != "unary":
            raise ValueError("loss='bce' is the unary baseline: it needs energy='unary', "
                             f"got energy={self.energy!r}")
        for name in ("maxiter", "unroll_steps"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if not isinstance(self.restarts, int) or self.restarts < 0:
            raise ValueError(f"restarts must be an integer >= 0, got {self.restarts!r}")

    @property
    def name(self) -> str:
        """``energy-loss[-reg]``, e.g. ``pairwise-gfy-entropy`` or ``unary-bce``."""
        energy = self.energy_label
        if self.loss in _FIXED_REG_LOSSES:
            return f"{energy}-{self.loss}"
        return f"{energy}-{self.loss}-{self.reg}"

    @property
    def energy_label(self) -> str:
        """The energy's name, ``pairwise_nc`` for non-concave pairwise."""
        if self.energy == "pairwise" and not self.concave:
            return "pairwise_nc"
        return self.energy

    @classmethod
    def from_name(cls, name: str, **fields) -> "Method":
        """Inverse of :attr:`name`: ``"pairwise_nc-gfy-entropy"`` etc.

        Example:
          >>> from fenchel.multilabel.losses import Method
          >>> Method.from_name("pairwise_nc-gfy-squared").concave
          False
        """
        if not isinstance(name, str):
            raise TypeError(f"name must be a string, got {type(name).__name__}")
        parts = name.split("-")
        if len(parts) not in (2, 3):
            raise ValueError(f"method name must be energy-loss[-reg], got {name!r}")
        if parts[0] == "pairwise_nc":
            parts[0] = "pairwise"
            fields = {**fields, "concave": False}
        return cls(*parts, **fields)

    @property
    def task_loss(self) -> str:
        """Task loss ℓ(ŷ, y) of the unrolled and implicit losses: cross-entropy
        for the entropy (ŷ stays inside (0, 1)), squared error for the squared
        Ω (ŷ reaches 0 and 1, where the cross-entropy's gradient blows up)."""
        return "cross_entropy" if self.reg == "entropy" else "squared"

    @property
    def uses_scale(self) -> bool:
        """Whether λ matters: GFY, unrolled and implicit (not perceptron,
        hinge, whose Ω is the box indicator, nor the bce baseline)."""
        return self.loss in ("gfy", "unrolled", "implicit")

    def regularizer(self) -> fy_regs.Regularizer:
        """The unscaled Ω (λ = 1) used in training and prediction.

        The temperature λ enters through the energy instead (see
        :func:`batch_loss`), so that it can change without recompiling.
        """
        if self.loss in ("perceptron", "hinge"):
            return fy_regs.BoxIndicator()
        if self.loss == "bce" or self.reg == "entropy":
            return fy_regs.BinaryEntropy()
        return fy_regs.SquaredBox()

    def solver(self, *, predict: bool = False) -> fy_max.Maximizer:
        """The inner maximizer for this energy and Ω.

        Closed form for the unary energy; otherwise mirror ascent for the
        binary entropy and accelerated projected gradient for the box-domain
        Ω, with random restarts at prediction when ``restarts > 0``.
        """
        reg = self.regularizer()
        if self.energy == "unary":
            return fy_max.ClosedForm()
        if reg.is_entropic:
            solver = fy_max.MirrorAscent(maxiter=self.maxiter, tol=self.tol)
        else:
            solver = fy_max.ProjectedGradient(maxiter=self.maxiter, tol=self.tol)
        if predict and self.restarts:
            solver = fy_max.Restarts(solver, num_restarts=self.restarts)
        return solver

    def example_loss(self) -> Callable[[Callable, Any, Array, Array], Array]:
        """``f(energy, theta, y, key) -> scalar``: the loss of one example."""
        reg = self.regularizer()
        solver = self.solver()  # unrolled_loss switches it to unroll=True, K steps
        loss = self.loss

        def per_example(energy, theta, y, key):
            if loss == "gfy":
                return fy_losses.gfy_loss(energy, reg, theta, y, solver=solver, key=key)
            if loss == "perceptron":
                return fy_losses.perceptron_loss(energy, theta, y, solver=solver, key=key)
            if loss == "bce":
                return fy_losses.binary_cross_entropy(theta, y)
            if loss == "hinge":
                return fy_losses.hinge_loss(energy, theta, y, reg=reg, solver=solver, key=key)
            if loss == "unrolled":
                return fy_losses.unrolled_loss(energy, reg, theta, y, solver=solver,
                                               num_steps=self.unroll_steps,
                                               task_loss=self.task_loss, key=key)
            return fy_losses.implicit_loss(energy, reg, theta, y, solver=solver,
                                           task_loss=self.task_loss, key=key)

        return per_example


def _temperature(method: Method, spec: EnergySpec, reg_scale) -> tuple[EnergySpec, Any]:
    scale = method.reg_scale if reg_scale is None else reg_scale
    if not method.uses_scale:
        return spec, 1.0
    return spec.scaled(1.0 / scale), scale


def batch_loss(method: Method, spec: EnergySpec, y: Array, key: Array | None = None,
               reg_scale: Array | float | None = None) -> Array:
    """Mean over the batch of ``method``'s per-example loss.

    The temperature λ of Ω is applied exactly through the energy:
    ``L_{λΩ}(Φ; y) = λ L_Ω(Φ/λ; y)`` for the GFY loss, and
    ``argmax Φ − λΩ = argmax Φ/λ − Ω`` for unrolled and implicit, so λ may be
    a traced value.

    Args:
      method: the :class:`Method`.
      spec: energy, batched θ and axes from :func:`~fenchel.multilabel.models.energy_spec`.
      y: ``(n, k)`` 0/1 targets.
      key: PRNG key (split per example), or None.
      reg_scale: λ (default ``method.reg_scale``).

    Returns:
      A scalar.
    """
    per_example = method.example_loss()
    spec, scale = _temperature(method, spec, reg_scale)
    key = jax.random.key(0) if key is None else key
    keys = jax.random.split(key, y.shape[0])
    values = jax.vmap(lambda t, y_, k: per_example(spec.energy, t, y_, k),
                      in_axes=(spec.axes, 0, 0))(spec.theta, y, keys)
    if method.loss == "gfy":
        values = scale * values
    return jnp.mean(values)


def predict_relaxed(method: Method, spec: EnergySpec,
                    reg_scale: Array | float | None = None) -> Array:
    """Relaxed prediction ``ŷ = argmax_{y ∈ dom Ω} Φ(θ, y) − λΩ(y)`` for a batch.

    Args:
      method: the :class:`Method` (fixes Ω and the solver).
      spec: energy, batched θ and axes.
      reg_scale: λ (default ``method.reg_scale``).

    Returns:
      ``(n, k)`` values in [0, 1].
    """
    spec, _ = _temperature(method, spec, reg_scale)
    reg = method.regularizer()
    solver = method.solver(predict=True)
    init = fy_max.default_init(reg, (spec.n_labels,))

    def one(theta, key):
        y_hat, _ = fy_max.maximize(spec.energy, reg, theta, solver=solver, init=init, key=key)
        return y_hat

    n = _batch_size(spec)
    keys = jax.random.split(jax.random.key(0), n)
    return jax.vmap(one, in_axes=(spec.axes, 0))(spec.theta, keys)


def _batch_size(spec: EnergySpec) -> int:
    axes_leaves = jax.tree.leaves(spec.axes, is_leaf=lambda node: node is None)
    theta_leaves = jax.tree.leaves(spec.theta)
    for leaf, axis in zip(theta_leaves, axes_leaves):
        if axis == 0:
            return leaf.shape[0]
    raise ValueError("EnergySpec has no per-example leaf in theta")


__all__ = ["LOSSES", "REGULARIZERS", "Method", "batch_loss", "predict_relaxed"]

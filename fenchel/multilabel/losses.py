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

Inner solutions (warm starts): :func:`batch_loss_and_solutions` also returns
what each example's inner solve found, an :class:`InnerSolution` (ŷ and the
solver's iterations), and takes ``init: (n, k)`` starting points, so that a
trainer can start an example's next solve where its last one ended
(``Config.warm_start`` of :func:`fenchel.multilabel.train.fit`). The solve is
run here, once, and handed to the :mod:`fenchel.losses` function as a solver
that returns the known solution (:class:`_Presolved`): the loss code is that
of :mod:`fenchel.losses`, and nothing is solved twice.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, ClassVar, NamedTuple

import jax
import jax.numpy as jnp

from fenchel import energies as fy_energies
from fenchel import losses as fy_losses
from fenchel import maximizers as fy_max
from fenchel import regularizers as fy_regs
from fenchel.multilabel.models import ENERGIES, EnergySpec

Array = jax.Array

LOSSES = ("gfy", "perceptron", "bce", "hinge", "unrolled", "implicit")
REGULARIZERS = ("entropy", "squared")
# Losses whose Ω is fixed by the loss rather than chosen with --reg.
_FIXED_REG_LOSSES = ("perceptron", "bce", "hinge")


class InnerSolution(NamedTuple):
    """What the inner solve of a training loss found, per example.

    Attributes:
      y_hat: ``(..., k)`` the solution ŷ of the solve the loss is built on (for
        hinge the loss-augmented one), under ``stop_gradient``; ``None`` for the
        methods that cannot warm-start (see :attr:`Method.warm_startable`).
      iterations: ``(...)`` int32 iterations of the inner solver: 0 for a closed
        form, K for unrolled.
    """

    y_hat: Array | None
    iterations: Array


@dataclasses.dataclass(frozen=True)
class _Presolved(fy_max.Maximizer):
    """A "solver" that returns a solution computed beforehand, with its info.

    It lets a :mod:`fenchel.losses` function be evaluated at a ŷ the caller
    already has (to keep ŷ, and to choose where its solve started) without
    solving twice. ``solver`` is the one that found ŷ: it is checked against
    (energy, Ω) and gives the fixed-point map of the implicit loss.
    """

    solver: fy_max.Maximizer
    y_hat: Any = None
    info: Any = None

    _leaf_fields: ClassVar[tuple[str, ...]] = ("solver", "y_hat", "info")

    def check(self, energy, reg):
        self.solver.check(energy, reg)

    def __call__(self, energy, reg, theta, init=None, key=None):
        return self.y_hat, self.info

    def fixed_point_map(self, energy, reg, theta, y):
        return self.solver.fixed_point_map(energy, reg, theta, y)


def _shift_unaries(energy: Callable, theta: Any, delta: Array) -> Any:
    """θ' with ``Φ(θ', y) = Φ(θ, y) + <δ, y>``: every energy of
    :mod:`~fenchel.multilabel.models` is ``<u, y>`` plus terms free of the unaries u."""
    if energy is fy_energies.bilinear:
        return theta + delta
    if energy is fy_energies.pairwise or energy is fy_energies.low_rank_pairwise:
        return (theta[0] + delta, theta[1])
    mlp, unaries = theta  # global: ((C₁, c₂), u)
    return (mlp, unaries + delta)


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

    @property
    def solves(self) -> bool:
        """Whether the training loss runs an iterative inner solver (every
        energy but the unary one, whose maximizer is in closed form)."""
        return self.energy != "unary"

    @property
    def warm_startable(self) -> bool:
        """Whether the training loss's inner solve can start from the example's
        last solution: every iterative solve except unrolled's, whose K
        differentiated steps from the start *define* the loss (a warm start
        would change the loss and save no iteration: K is fixed)."""
        return self.solves and self.loss != "unrolled"

    def example_loss(self) -> Callable[[Callable, Any, Array, Array], Array]:
        """``f(energy, theta, y, key) -> scalar``: the loss of one example."""
        with_solution = self.example_loss_and_solution()

        def per_example(energy, theta, y, key):
            return with_solution(energy, theta, y, key)[0]

        return per_example

    def example_loss_and_solution(self) -> Callable[..., tuple[Array, InnerSolution]]:
        """``f(energy, theta, y, key, init=None) -> (loss, InnerSolution)`` for one example.

        ``init: (k,)`` starts the inner solve (default: the centre of ``dom Ω``);
        it is ignored where :attr:`warm_startable` is false. The loss equals
        that of :meth:`example_loss` up to the solver's accuracy whatever
        ``init`` is, when the inner problem is concave.
        """
        reg = self.regularizer()
        solver = self.solver()  # unrolled_loss switches it to unroll=True, K steps
        loss = self.loss

        def presolve(energy, theta, y, key, init):
            # The solve the loss would run (the loss-augmented one for hinge), run
            # here so that its ŷ and iterations can be returned.
            if loss == "hinge":
                theta = _shift_unaries(energy, theta, 1.0 - 2.0 * jnp.round(y))
            if init is None:
                init = fy_max.default_init(reg, jnp.shape(y), y.dtype)
            y_hat, info = solver(energy, jax.lax.stop_gradient(reg),
                                 jax.lax.stop_gradient(theta), init, key)
            y_hat = jax.lax.stop_gradient(y_hat)
            return _Presolved(solver, y_hat, info), InnerSolution(y_hat, info.iterations)

        def per_example(energy, theta, y, key, init=None):
            no_iterations = jnp.zeros((), jnp.int32)
            if loss == "bce":
                return fy_losses.binary_cross_entropy(theta, y), InnerSolution(None, no_iterations)
            if loss == "unrolled":
                value = fy_losses.unrolled_loss(energy, reg, theta, y, solver=solver,
                                                num_steps=self.unroll_steps,
                                                task_loss=self.task_loss, key=key)
                steps = no_iterations if not self.solves else no_iterations + self.unroll_steps
                return value, InnerSolution(None, steps)
            if self.solves:
                given, solution = presolve(energy, theta, y, key, init)
            else:  # closed form: the loss computes it, nothing to keep
                given, solution = solver, InnerSolution(None, no_iterations)
            if loss == "gfy":
                value = fy_losses.gfy_loss(energy, reg, theta, y, solver=given, key=key)
            elif loss == "perceptron":
                value = fy_losses.perceptron_loss(energy, theta, y, solver=given, key=key)
            elif loss == "hinge":
                value = fy_losses.hinge_loss(energy, theta, y, reg=reg, solver=given, key=key)
            else:
                value = fy_losses.implicit_loss(energy, reg, theta, y, solver=given,
                                                task_loss=self.task_loss, key=key)
            return value, solution

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
    return batch_loss_and_solutions(method, spec, y, key, reg_scale)[0]


def batch_loss_and_solutions(method: Method, spec: EnergySpec, y: Array,
                             key: Array | None = None,
                             reg_scale: Array | float | None = None,
                             init: Array | None = None) -> tuple[Array, InnerSolution]:
    """:func:`batch_loss` and each example's :class:`InnerSolution`.

    The auxiliary output of ``jax.value_and_grad(..., has_aux=True)``: ŷ lies
    under ``stop_gradient``, so the gradient is that of :func:`batch_loss`.

    Args:
      method, spec, y, key, reg_scale: as in :func:`batch_loss`.
      init: ``(n, k)`` starting points of the inner solves (e.g. the solutions
        of the examples' previous solves), or None for the centre of ``dom Ω``.
        Ignored unless ``method.warm_startable``. ŷ is the solution of the
        problem at temperature λ, ``argmax Φ/λ − Ω``, so a stored ŷ is a warm
        start for the same λ.

    Returns:
      ``(loss, solutions)``: the scalar mean loss and an :class:`InnerSolution`
      with ``y_hat: (n, k)`` (None unless ``method.warm_startable``) and
      ``iterations: (n,)``.
    """
    per_example = method.example_loss_and_solution()
    spec, scale = _temperature(method, spec, reg_scale)
    key = jax.random.key(0) if key is None else key
    keys = jax.random.split(key, y.shape[0])
    if init is None or not method.warm_startable:
        init_axis = None
        init = None
    else:
        init_axis = 0
    values, solutions = jax.vmap(
        lambda t, y_, k, i: per_example(spec.energy, t, y_, k, i),
        in_axes=(spec.axes, 0, 0, init_axis))(spec.theta, y, keys, init)
    if method.loss == "gfy":
        values = scale * values
    return jnp.mean(values), solutions


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


__all__ = ["LOSSES", "REGULARIZERS", "InnerSolution", "Method", "batch_loss",
           "batch_loss_and_solutions", "predict_relaxed"]

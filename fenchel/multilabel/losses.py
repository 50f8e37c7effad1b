"""Training losses and inference for multi-label energy networks.

Every loss here is one of :mod:`fenchel.losses` (or :mod:`fenchel.log_partition`),
applied per example and averaged over the batch with ``jax.vmap``:

==============  ==========================================================  =========
``--loss``      per-example loss                                            Ω
==============  ==========================================================  =========
``gfy``         :func:`fenchel.losses.gfy_loss`                             ``--reg``
``perceptron``  :func:`fenchel.losses.perceptron_loss` (box indicator)      —
``bce``         :func:`fenchel.losses.binary_cross_entropy` (unary only)    —
``hinge``       :func:`fenchel.losses.hinge_loss` (SSVM, Hamming cost)      —
``unrolled``    :func:`fenchel.losses.unrolled_loss` (task loss below)      ``--reg``
``implicit``    :func:`fenchel.losses.implicit_loss` (task loss below)      ``--reg``
``minmin``      :func:`fenchel.log_partition.min_min_loss` (learned τ)      ``--reg``
==============  ==========================================================  =========

``--reg``: ``entropy`` is :class:`~fenchel.regularizers.BinaryEntropy`,
``squared`` is :class:`~fenchel.regularizers.SquaredBox` on [0, 1]^k.
Prediction solves ``ŷ = argmax_{y ∈ [0,1]^k} Φ(θ, y) − Ω(y)`` with the Ω the
model was trained with (the box indicator for perceptron and hinge, the
binary entropy for bce). The task loss ℓ(ŷ, y) of unrolled and implicit is
the cross-entropy with ``entropy`` and the squared error with ``squared``.

The min-min loss (Sander, Roulet, Liu, Blondel, ICML 2025) trains the Gibbs model
``p(y) = q(y) exp(Φ(θ, y) − τ(x))`` over ``{0, 1}^k``, q uniform (the paper's
base measure, the prior), with the network's learned log-partition ``τ(x)``
(:class:`~fenchel.multilabel.models.EnergyNetwork` with ``log_partition=True``):
per example and step, :attr:`Method.samples` draws ``y' ∼ r`` and the unbiased
estimate ``τ + mean_j h_α(Φ(θ, y'_j) − τ) q(y'_j)/r(y'_j) − 1/α − Φ(θ, y)`` is
minimized in (θ, τ) together (α = 1: maximum likelihood, ``h_1 = exp``; α = 2: the
sparsemax-type Fenchel-Young loss of the χ² divergence to q). The proposal r
(:attr:`Method.proposal`) is by default the product of Bernoullis at
``(1 − ε) sigmoid(u) + ε/2``, u the energy's unaries under ``stop_gradient``:
importance sampling, which keeps the estimate unbiased and its variance low;
``"uniform"`` (r = q) is the paper's. At α = 1 the value reported is the
estimate of the negative log-likelihood ``−log p(y)`` (the objective plus the
constant ``−log q(y) = k log 2``), so for the unary energy its expectation at the
optimal τ is the binary cross-entropy. It has no λ and no inner solve in training.
Prediction: ``--reg`` picks the Ω of ``argmax_{y ∈ [0,1]^k} Φ − Ω``: ``entropy``
(the default) gives the mean-field marginals of the model (exact marginals
``sigmoid(u)`` for the unary energy), ``box`` (the box indicator, Ω = 0) its
relaxed mode, the rule of the paper's talk material (for the unary energy both
round to the same labels at 0.5).

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
import math
from typing import Any, Callable, ClassVar, NamedTuple

import jax
import jax.numpy as jnp

from fenchel import energies as fy_energies
from fenchel import losses as fy_losses
from fenchel import maximizers as fy_max
from fenchel import regularizers as fy_regs
from fenchel.log_partition import min_min_loss, uniform_binary_samples
from fenchel.multilabel.models import ENERGIES, EnergySpec

Array = jax.Array

LOSSES = ("gfy", "perceptron", "bce", "hinge", "unrolled", "implicit", "minmin")
REGULARIZERS = ("entropy", "squared", "box")
# The min-min loss's fields (Method.alpha, Method.samples) and their defaults: other
# methods keep these, and records of them omit the fields (made before they existed).
MINMIN_FIELDS = {"alpha": 1.0, "samples": 32, "proposal": "unaries"}
# Proposals r of the min-min loss's samples y' (Method.proposal): "unaries" (the default:
# independent Bernoullis at sigmoid of the energy's unaries, mixed with the uniform;
# importance sampling, the same unbiased estimate), "uniform" (the prior q, the paper's).
PROPOSALS = ("uniform", "unaries")
# The weight of the uniform in the "unaries" proposal, per label: it bounds the
# importance weight q/r by 1/ε per label (ε^{-k} in all), so that the tails stay controlled.
UNARIES_PROPOSAL_EPS = 0.1
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
    """θ' with ``Φ(θ', y) = Φ(θ, y) + <δ, y>`` (the energy protocol's ``add_linear``):
    every energy of :mod:`~fenchel.multilabel.models` is ``<u, y>`` plus terms free of
    the unaries u, and adds δ to u."""
    shifted = fy_energies.as_energy(energy).add_linear(theta, delta)
    if shifted is None:
        raise TypeError(f"energy {energy.__name__} has no linear term to shift "
                        "(add_linear returned None): the multilabel energies are "
                        "<u, y> plus terms free of u")
    return shifted


@dataclasses.dataclass(frozen=True)
class Method:
    """A training method: energy, loss, regularizer and inner-solver budget.

    Attributes:
      energy: ``"unary"``, ``"pairwise"`` or ``"global"``.
      loss: one of :data:`LOSSES`.
      reg: ``"entropy"`` or ``"squared"`` (ignored by perceptron, bce, hinge);
        ``"box"`` (min-min only: predict the relaxed mode, Ω = 0).
      reg_scale: default λ of Ω (the temperature); :func:`batch_loss` and
        :func:`predict_relaxed` take it as an argument too.
      maxiter: iterations of the inner solver in training.
      tol: tolerance of the inner solver.
      unroll_steps: K for the unrolled loss.
      restarts: random restarts of the inner solver at prediction (global energy).
      concave: pairwise only: ``U = −V Vᵀ ⪯ 0`` (concave inner problem) or a free
        symmetric ``U`` (named ``pairwise_nc``; the inner solver then finds a
        local maximum).
      alpha: min-min only: α ≥ 1 of the Fenchel-Young loss (1: maximum likelihood,
        2: sparsemax-type); named ``minmin`` for α = 1, ``minmin2`` for α = 2.
      samples: min-min only: draws ``y' ∼ r`` per example and step (default 32).
      proposal: min-min only: the proposal r of the draws, one of :data:`PROPOSALS`:
        ``"unaries"`` (the default; importance sampling: independent Bernoullis with
        means ``(1 − ε) sigmoid(u) + ε/2``, u the energy's unaries under
        ``stop_gradient``, ε = :data:`UNARIES_PROPOSAL_EPS`; the estimate stays an
        unbiased estimate of the same objective, with a far lower variance once the
        model is confident) or ``"uniform"`` (the prior q, uniform on ``{0, 1}^k``;
        the paper's), named with a suffix ``_uniform``, e.g.
        ``pairwise-minmin_uniform-entropy``.

    Example:
      >>> from fenchel.multilabel.losses import Method
      >>> Method("pairwise", "gfy", "entropy").name
      'pairwise-gfy-entropy'
      >>> Method("pairwise", "minmin", "entropy", alpha=2.0).name
      'pairwise-minmin2-entropy'
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
    alpha: float = 1.0
    samples: int = 32
    proposal: str = "unaries"

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
        if self.reg == "box" and self.loss != "minmin":
            raise ValueError("reg='box' (prediction by the relaxed mode, Ω = 0) is for "
                             f"loss='minmin' only, got loss={self.loss!r}; perceptron and "
                             "hinge use the box already")
        if self.loss == "minmin":
            alpha = self.alpha
            if (isinstance(alpha, bool) or not isinstance(alpha, (int, float))
                    or not math.isfinite(alpha) or alpha < 1):
                raise ValueError(f"alpha must be a finite number >= 1 (1: maximum "
                                 f"likelihood, 2: sparsemax), got {alpha!r}")
            if isinstance(self.samples, bool) or not isinstance(self.samples, int) \
                    or self.samples < 1:
                raise ValueError(f"samples must be a positive integer, got {self.samples!r}")
            if self.proposal not in PROPOSALS:
                raise ValueError(f"proposal must be one of {PROPOSALS}, got {self.proposal!r}")
        else:
            for name, default in MINMIN_FIELDS.items():
                if getattr(self, name) != default:
                    raise ValueError(f"{name} is a field of the min-min loss; loss="
                                     f"{self.loss!r} has none (got {name}="
                                     f"{getattr(self, name)!r})")
        for name in ("maxiter", "unroll_steps"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if not isinstance(self.restarts, int) or self.restarts < 0:
            raise ValueError(f"restarts must be an integer >= 0, got {self.restarts!r}")

    @property
    def name(self) -> str:
        """``energy-loss[-reg]``, e.g. ``pairwise-gfy-entropy`` or ``unary-bce``; the
        min-min loss with α ≠ 1 is ``minmin<α>``, e.g. ``pairwise-minmin2-entropy``, and
        with a proposal other than the default one has the suffix ``_<proposal>``, e.g.
        ``pairwise-minmin_uniform-entropy``."""
        energy = self.energy_label
        if self.loss in _FIXED_REG_LOSSES:
            return f"{energy}-{self.loss}"
        return f"{energy}-{self.loss_label}-{self.reg}"

    @property
    def loss_label(self) -> str:
        """The loss's part of :attr:`name`: ``loss``, or ``minmin<α>`` for α ≠ 1, with
        ``_<proposal>`` for a proposal other than :data:`MINMIN_FIELDS`'s."""
        if self.loss != "minmin":
            return self.loss
        label = "minmin" if self.alpha == 1 else f"minmin{self.alpha:g}"
        if self.proposal != MINMIN_FIELDS["proposal"]:
            label = f"{label}_{self.proposal}"
        return label

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
        if parts[1].startswith("minmin") and parts[1] != "minmin":
            label, suffixed, proposal = parts[1].partition("_")
            if suffixed:
                if proposal not in PROPOSALS or proposal == MINMIN_FIELDS["proposal"]:
                    others = tuple(p for p in PROPOSALS if p != MINMIN_FIELDS["proposal"])
                    raise ValueError(f"the min-min loss's proposal suffix must be one of "
                                     f"{others}, got {proposal!r} in {name!r}")
                fields = {**fields, "proposal": proposal}
            if label != "minmin":
                try:
                    alpha = float(label[len("minmin"):])
                except ValueError:
                    raise ValueError(f"the min-min loss is named minmin or minmin<alpha> (e.g. "
                                     f"minmin2), optionally with _<proposal>, got "
                                     f"{parts[1]!r} in {name!r}") from None
                fields = {**fields, "alpha": alpha}
            parts[1] = "minmin"
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
        hinge, whose Ω is the box indicator, nor the bce baseline, nor min-min,
        whose Gibbs model has no temperature: it predicts at λ = 1)."""
        return self.loss in ("gfy", "unrolled", "implicit")

    @property
    def learns_log_partition(self) -> bool:
        """Whether the network needs a log-partition head τ(x) (the min-min loss)."""
        return self.loss == "minmin"

    def regularizer(self) -> fy_regs.Regularizer:
        """The unscaled Ω (λ = 1) used in training and prediction.

        The temperature λ enters through the energy instead (see
        :func:`batch_loss`), so that it can change without recompiling.
        """
        if self.loss in ("perceptron", "hinge") or self.reg == "box":
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
        energy but the unary one, whose maximizer is in closed form; never the
        min-min loss, which evaluates the energy at samples and solves nothing)."""
        return self.energy != "unary" and self.loss != "minmin"

    @property
    def warm_startable(self) -> bool:
        """Whether the training loss's inner solve can start from the example's
        last solution: every iterative solve except unrolled's, whose K
        differentiated steps from the start *define* the loss (a warm start
        would change the loss and save no iteration: K is fixed)."""
        return self.solves and self.loss != "unrolled"

    def example_loss(self) -> Callable[..., Array]:
        """``f(energy, theta, y, key, log_partition=None) -> scalar``: the loss of one
        example (``log_partition``: τ, a scalar, for the min-min loss)."""
        with_solution = self.example_loss_and_solution()

        def per_example(energy, theta, y, key, log_partition=None):
            return with_solution(energy, theta, y, key, log_partition=log_partition)[0]

        return per_example

    def example_loss_and_solution(self) -> Callable[..., tuple[Array, InnerSolution]]:
        """``f(energy, theta, y, key, init=None, log_partition=None) -> (loss, InnerSolution)``
        for one example.

        ``init: (k,)`` starts the inner solve (default: the centre of ``dom Ω``);
        it is ignored where :attr:`warm_startable` is false. The loss equals
        that of :meth:`example_loss` up to the solver's accuracy whatever
        ``init`` is, when the inner problem is concave. ``log_partition``: the
        example's τ (a scalar), required by the min-min loss and ignored by the
        others; ``key`` then draws its :attr:`samples` points ``y' ∼ r`` (:attr:`proposal`).
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

        def per_example(energy, theta, y, key, init=None, log_partition=None):
            no_iterations = jnp.zeros((), jnp.int32)
            if loss == "minmin":
                return self._min_min(energy, theta, y, key, log_partition), \
                    InnerSolution(None, no_iterations)
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

    def _min_min(self, energy, theta, y, key, log_partition) -> Array:
        """The min-min estimate of one example, from :attr:`samples` fresh draws."""
        if log_partition is None:
            raise ValueError("the min-min loss needs the network's log-partition τ(x): build "
                             "EnergyNetwork(..., log_partition=True)")
        if key is None:
            raise ValueError("the min-min loss draws samples y' ~ q: it needs a PRNG key")
        if self.proposal == "uniform":
            samples, _ = uniform_binary_samples(key, self.samples, jnp.shape(y), y.dtype)
            return self.min_min_estimate(energy, theta, y, log_partition, samples)
        unaries = jax.lax.stop_gradient(_unaries(energy, theta, y))
        samples, log_ratio = unaries_proposal_samples(key, self.samples, unaries, y.dtype)
        return self.min_min_estimate(energy, theta, y, log_partition, samples, log_ratio)

    def min_min_estimate(self, energy: Callable, theta: Any, y: Array, log_partition: Array,
                         samples: Array, sample_log_ratio: Array | float = 0.0) -> Array:
        """The min-min loss of one example from given draws ``samples: (M, k)`` of the
        uniform prior q on ``{0, 1}^k`` (what training computes from :attr:`samples`
        fresh draws per example and step), or of a proposal r with
        ``sample_log_ratio: (M,)`` ``= log r(y'_j) − log q(y'_j)`` (the draws'
        log-density with respect to the base measure q; importance sampling, the
        same expectation).

        The paper's convention: the base measure is q itself (log-density 0), so τ
        estimates ``log E_q[e^Φ]``, with no ``2^k`` factor for the network to learn:
        ``τ + (1/M) Σ_j h_α(Φ(θ, y'_j) − τ) − 1/α − Φ(θ, y)``
        (:func:`fenchel.log_partition.min_min_loss`). At α = 1 the constant
        ``−log q(y) = k log 2`` is added, so that the value estimates the negative
        log-likelihood ``−log p(y)`` of the model ``p(y) = q(y) e^{Φ(θ, y) − τ}`` over
        ``{0, 1}^k``: its expectation over the draws is ``≥ log Σ_{y'} e^{Φ(θ, y')} − Φ(θ, y)``,
        with equality at ``τ = log E_q[e^Φ]`` (for the unary energy ``<u, y>``: the binary
        cross-entropy ``Σ_i log(1 + e^{u_i}) − u_i y_i``). At α > 1 the value is the
        paper's objective as is (its constant ``Ω(δ_y) = (2^{k(α−1)} − 1)/(α(α−1))``
        overflows float32 for large k), bounded below by ``−Ω(δ_y)``, not by 0.

        Example:
          >>> import jax.numpy as jnp
          >>> from fenchel import energies
          >>> from fenchel.multilabel.losses import Method
          >>> everything = jnp.array([[0., 0.], [0., 1.], [1., 0.], [1., 1.]])  # E_q exactly
          >>> u, y = jnp.array([1.0, -2.0]), jnp.array([1.0, 0.0])
          >>> tau = jnp.log(jnp.mean(jnp.exp(everything @ u)))  # log E_q[e^Φ]
          >>> value = Method("unary", "minmin").min_min_estimate(
          ...     energies.bilinear, u, y, tau, everything)
          >>> bce = jnp.sum(jnp.logaddexp(0.0, u) - u * y)
          >>> bool(jnp.allclose(value, bce))
          True
        """
        value = min_min_loss(energy, theta, log_partition, y, samples, sample_log_ratio,
                             alpha=self.alpha)
        if self.alpha == 1:
            # −log p(y) = −log q(y) − Φ(y) + τ*: the negative log-likelihood of y.
            value = value + jnp.shape(y)[-1] * math.log(2.0)
        return value


def _unaries(energy: Callable, theta: Any, like: Array) -> Array:
    """The unaries u of θ (shaped like ``like``): ``Φ(θ, y) = <u, y> + terms free of u``.
    :func:`_shift_unaries` maps δ to θ with δ added to u, so its transpose maps θ to the
    part of θ it shifts: u itself (no arithmetic, only the selection)."""
    _, transpose = jax.vjp(lambda delta: _shift_unaries(energy, theta, delta),
                           jnp.zeros(jnp.shape(like), jnp.result_type(*jax.tree.leaves(theta))))
    return transpose(theta)[0]


def unaries_proposal_log_probs(unaries: Array, eps: float = UNARIES_PROPOSAL_EPS
                               ) -> tuple[Array, Array]:
    """``(log p, log(1 − p))`` per label of the "unaries" proposal,
    ``p = (1 − ε) sigmoid(u) + ε/2``, computed in log space."""
    log_mix, log_floor = math.log1p(-eps), math.log(eps / 2.0)
    log_on = jnp.logaddexp(log_mix + jax.nn.log_sigmoid(unaries), log_floor)
    log_off = jnp.logaddexp(log_mix + jax.nn.log_sigmoid(-unaries), log_floor)
    return log_on, log_off


def unaries_proposal_samples(key: Array, num: int, unaries: Array, dtype=jnp.float32,
                             eps: float = UNARIES_PROPOSAL_EPS) -> tuple[Array, Array]:
    """``num`` draws of ``r = Π_i Bernoulli((1 − ε) sigmoid(u_i) + ε/2)`` on ``{0, 1}^k``
    and ``log r(y') − log q(y')`` (q uniform: ``+ k log 2``), the draws' log-density
    with respect to the uniform base measure, as :func:`min_min_loss` takes it.

    Each factor is at least ε/2, so the importance weight ``q/r`` is at most ``1/ε`` per
    label (``ε^{-k}`` in all).

    Returns:
      ``(samples, log_ratio)``: ``(num, k)`` and ``(num,)``.
    """
    log_on, log_off = unaries_proposal_log_probs(unaries, eps)
    samples = jax.random.bernoulli(key, jnp.exp(log_on), (num,) + jnp.shape(unaries))
    samples = samples.astype(dtype)
    log_r = jnp.sum(jnp.where(samples > 0.5, log_on, log_off), axis=-1)
    log_ratio = log_r + jnp.shape(unaries)[-1] * math.log(2.0)
    return samples, log_ratio.astype(dtype)


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
    log_partition, tau_axis = None, None
    if method.learns_log_partition:
        if spec.log_partition is None:
            raise ValueError(f"{method.name} learns a log-partition τ(x): the network must "
                             "have a log-partition head (EnergyNetwork(..., "
                             "log_partition=True))")
        log_partition, tau_axis = spec.log_partition, 0
    values, solutions = jax.vmap(
        lambda t, y_, k, i, tau: per_example(spec.energy, t, y_, k, i, tau),
        in_axes=(spec.axes, 0, 0, init_axis, tau_axis))(spec.theta, y, keys, init,
                                                        log_partition)
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


__all__ = ["LOSSES", "REGULARIZERS", "MINMIN_FIELDS", "PROPOSALS", "UNARIES_PROPOSAL_EPS",
           "unaries_proposal_log_probs", "unaries_proposal_samples", "InnerSolution", "Method",
           "batch_loss", "batch_loss_and_solutions", "predict_relaxed"]

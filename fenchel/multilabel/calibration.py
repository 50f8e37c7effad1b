"""Calibration of GFY losses with a linear-concave energy, measured on synthetic data.

``fenchel reproduce calibration`` trains the linear model ``θ(x) = (Wx + b, U)``,
``U = −VVᵀ ⪯ 0``, of the pairwise energy ``Φ((u, U), y) = <u, y> + ½ yᵀUy``
(:func:`fenchel.energies.pairwise`, linear in θ and concave in y) on samples of a
known distribution of multi-label data, for several training-set sizes and seeds, and
measures its **excess task risk**: its risk minus the Bayes risk, for the squared error
and the Hamming loss, computed exactly from the known conditional distribution.

The theorem tested (Blondel et al. 2022, calibration of GFY losses with linear-concave
energies), in the form derived in ``docs/calibration.md``: for Φ linear in θ and
concave in y, Ω μ-strongly convex, ``m(x) = E[y | x]``, and every θ with ``U ⪯ 0``,

.. math::

   E_{y|x} L(θ; y) − \\inf_{θ'} E_{y|x} L(θ'; y)
     = L(θ; m(x)) + ½ \\langle −U, \\operatorname{Cov}(y | x) \\rangle
     ≥ \\frac{μ}{2} \\lVert \\hat y(θ) − m(x) \\rVert^2 ,

so a vanishing excess GFY risk forces ``ŷ → E[y | x]``, the Bayes predictor of the
squared error (and, rounded at 0.5, of the Hamming loss). Whether the excess GFY risk
does vanish depends on the model class: it must contain the minimizer, ``U = 0`` and
``u(x) = ∇Ω(m(x))``. Two ground truths (:data:`TRUTHS`) test both sides:

* ``logistic``: ``m(x) = σ(W*x + b*)``, the prediction of the linear-concave energy
  ``θ*(x) = (W*x + b*, 0)`` with the binary entropy, and the labels *correlated*
  through a coupling (:class:`Truth`): the theorem's minimizer is in the model class
  of ``gfy-entropy`` (well specified), not in that of ``gfy-squared`` (``m`` is not
  affine in x).
* ``ising``: ``p(y | x) ∝ exp Φ(θ*(x), y)`` over ``{0, 1}^k`` with
  ``θ*(x) = (W*x + b*, U*)``, ``U* ⪯ 0`` (enumerated exactly): the marginals are not
  σ(affine) in x, so the excess risk of every method is expected to stop at
  an approximation floor, measured by an *oracle* run that minimizes the population
  objective (``n = ∞``, computed from the exact conditional moments).

Methods (:data:`METHODS`), all on the same energy, data, initialization and optimizer
(full-batch Adam with a cosine-decayed step, :func:`run_one`): ``gfy-entropy``
(:func:`fenchel.losses.gfy_loss`, :class:`~fenchel.regularizers.BinaryEntropy`),
``gfy-squared`` (:class:`~fenchel.regularizers.SquaredBox`), ``perceptron``
(:func:`fenchel.losses.perceptron_loss`) and ``unrolled``
(:func:`fenchel.losses.unrolled_loss`: squared error of K unrolled mirror-ascent
steps, which are also its predictor).

Protocol: for each truth, the training samples of a seed are nested (the first n
examples of the largest sample), the same for every method; the test inputs are one
fixed sample of ``test_size`` points, on which the excess risks are exact expectations
over y. Each (truth, method, n, seed) result is written atomically to
``OUT/runs/<truth>/<method>/n<n>-seed<s>.json`` (the oracle to ``oracle.json``) and
skipped when present; each records the settings that made it, ``OUT/settings.json``
those of the folder, and a call with other settings is refused
(:class:`~fenchel.infra._settings.SettingsMismatchError`). :func:`aggregate` writes
``results.json``, ``results.md`` and ``calibration.png``, with the slope of a
least-squares line through ``log excess`` against ``log n`` (the rate).
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import math
import os
import pathlib
import time
from typing import Any, Iterable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import optax

from fenchel import energies as fy_energies
from fenchel import losses as fy_losses
from fenchel import maximizers as fy_max
from fenchel import regularizers as fy_regs
from fenchel import experiments
from fenchel.infra._io import atomic_path, read_json_record
from fenchel.infra._settings import normalized
from fenchel.experiments import Experiment, Run, figure, markdown_table, mean_std, write_results

Array = jax.Array

TASK_LOSSES = ("squared", "hamming")
"""The task losses whose excess risk is measured, both averaged over the k labels:
``(1/k) ‖ŷ − y‖²`` and ``(1/k) Σ_i [1{ŷ_i > 0.5} ≠ y_i]``."""


# --------------------------------------------------------------------------- truths


@dataclasses.dataclass(frozen=True)
class Truth:
    """A known distribution of ``(x, y)``, ``x ∈ R^d`` standard normal, ``y ∈ {0, 1}^k``.

    Attributes:
      name: ``"logistic"`` or ``"ising"``.
      kind: ``"logistic"``: ``P(y_i = 1 | x) = σ(w*_i·x + b*_i)`` with the labels
        coupled: with probability ``coupling`` one uniform ``v`` decides every label
        (``y_i = 1{v < m_i}`` for the first half of the labels, ``1{1 − v < m_i}`` for
        the second half: positive correlations within a half, negative across), else
        each label draws its own. The marginals stay exactly ``m(x)``.
        ``"ising"``: ``p(y | x) ∝ exp(<W*x + b*, y> + ½ yᵀU*y)`` with
        ``U* = −V*V*ᵀ``, ``V*: (k, rank)``, enumerated over the ``2^k`` labelings.
      d, k: input and label dimensions.
      weight_scale: ``W*`` has i.i.d. ``N(0, weight_scale² / d)`` entries (each logit
        ``w*_i·x`` has standard deviation about ``weight_scale``).
      bias_scale: ``b*`` has i.i.d. ``N(0, bias_scale²)`` entries.
      coupling: ``logistic`` only, the probability of the shared draw.
      interaction_scale: ``ising`` only, ``V*`` has i.i.d. ``N(0, scale² / rank)``
        entries.
      rank: ``ising`` only, the rank of ``U*``.
      seed: the seed of ``W*, b*, V*`` (the same ``W*, b*`` for both kinds).

    Example:
      >>> import numpy as np
      >>> from fenchel.multilabel.calibration import TRUTHS
      >>> truth = TRUTHS["logistic"]
      >>> x = np.zeros((1, truth.d))
      >>> bool(np.allclose(truth.conditional(x)[0], 1 / (1 + np.exp(-truth.parameters()[1]))))
      True
    """

    name: str
    kind: str
    d: int = 10
    k: int = 8
    weight_scale: float = 2.0
    bias_scale: float = 0.5
    coupling: float = 0.0
    interaction_scale: float = 0.0
    rank: int = 3
    seed: int = 0

    def __post_init__(self):
        if self.kind not in ("logistic", "ising"):
            raise ValueError(f"kind must be 'logistic' or 'ising', got {self.kind!r}")
        if self.kind == "ising" and self.k > 16:
            raise ValueError(f"ising enumerates 2^k labelings: k must be <= 16, got {self.k}")
        if not 0.0 <= self.coupling <= 1.0:
            raise ValueError(f"coupling must be in [0, 1], got {self.coupling!r}")

    def record(self) -> dict[str, Any]:
        """The fields, for the settings records."""
        return dataclasses.asdict(self)

    def parameters(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(W*: (k, d), b*: (k,), U*: (k, k))`` (``U* = 0`` for ``logistic``)."""
        return _truth_parameters(self)

    def conditional(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The exact conditional moments at the inputs ``x: (n, d)``: the marginals
        ``m = E[y | x]: (n, k)`` and the covariances ``Cov(y | x): (n, k, k)``
        (float64)."""
        weights, bias, interactions = self.parameters()
        logits = np.asarray(x, np.float64) @ weights.T + bias
        if self.kind == "logistic":
            m = _sigmoid(logits)
            half = np.arange(self.k) < self.k // 2
            same = half[:, None] == half[None, :]
            mi, mj = m[:, :, None], m[:, None, :]
            together = np.where(same, np.minimum(mi, mj), np.maximum(mi + mj - 1.0, 0.0))
            cov = self.coupling * (together - mi * mj)
            independent = m * (1.0 - m)
            idx = np.arange(self.k)
            cov[:, idx, idx] = independent
            return m, cov
        probs, states = self._gibbs(logits, interactions)
        m = probs @ states
        second = np.einsum("ns,si,sj->nij", probs, states, states)
        return m, second - m[:, :, None] * m[:, None, :]

    def _gibbs(self, logits, interactions):
        states = _labelings(self.k)
        energies = logits @ states.T + 0.5 * np.einsum("si,ij,sj->s", states, interactions,
                                                       states)
        energies -= energies.max(axis=1, keepdims=True)
        probs = np.exp(energies)
        return probs / probs.sum(axis=1, keepdims=True), states

    def sample(self, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
        """``n`` examples ``(x: (n, d), y: (n, k))`` (float32) for training seed
        ``seed``. Samples are nested: the first n examples of a larger sample of the
        same seed are this one."""
        x_seq, y_seq = np.random.SeedSequence([self.seed, 1, seed]).spawn(2)
        x = np.random.default_rng(x_seq).standard_normal((n, self.d))
        return x.astype(np.float32), self.sample_labels(x, y_seq)

    def sample_labels(self, x: np.ndarray,
                      seed: int | np.random.SeedSequence) -> np.ndarray:
        """Labels ``y: (n, k)`` (float32, 0/1) drawn from ``p(y | x)`` at the inputs
        ``x: (n, d)``; each row's draw depends only on the rows before it."""
        sequence = seed if isinstance(seed, np.random.SeedSequence) else \
            np.random.SeedSequence(seed)
        noise = [np.random.default_rng(s) for s in sequence.spawn(3)]
        n = len(x)
        weights, bias, interactions = self.parameters()
        logits = np.asarray(x, np.float64) @ weights.T + bias
        if self.kind == "logistic":
            m = _sigmoid(logits)
            coupled = noise[0].random(n) < self.coupling
            shared = noise[1].random(n)[:, None]
            shared = np.where(np.arange(self.k) < self.k // 2, shared, 1.0 - shared)
            own = noise[2].random((n, self.k))
            y = np.where(coupled[:, None], shared, own) < m
        else:
            probs, states = self._gibbs(logits, interactions)
            cdf = np.cumsum(probs, axis=1)
            index = np.minimum((cdf < noise[0].random(n)[:, None]).sum(axis=1),
                               len(states) - 1)
            y = states[index]
        return y.astype(np.float32)

    def test_inputs(self, n: int, seed: int) -> np.ndarray:
        """The fixed evaluation inputs ``x: (n, d)`` (float32) of seed ``seed``."""
        rng = np.random.default_rng(np.random.SeedSequence([self.seed, 2, seed]))
        return rng.standard_normal((n, self.d)).astype(np.float32)


@functools.lru_cache(maxsize=None)
def _truth_parameters(truth: Truth):
    rng = np.random.default_rng(np.random.SeedSequence([truth.seed, 0]))
    weights = rng.standard_normal((truth.k, truth.d)) * truth.weight_scale / math.sqrt(truth.d)
    bias = rng.standard_normal(truth.k) * truth.bias_scale
    factor = rng.standard_normal((truth.k, truth.rank)) * (truth.interaction_scale
                                                           / math.sqrt(truth.rank))
    interactions = -factor @ factor.T if truth.kind == "ising" else np.zeros((truth.k, truth.k))
    return weights, bias, interactions


@functools.lru_cache(maxsize=4)
def _labelings(k: int) -> np.ndarray:
    return ((np.arange(2 ** k)[:, None] >> np.arange(k)) & 1).astype(np.float64)


def _sigmoid(z):
    return 0.5 * (1.0 + np.tanh(0.5 * z))


TRUTHS: dict[str, Truth] = {
    "logistic": Truth("logistic", "logistic", coupling=0.5),
    "ising": Truth("ising", "ising", interaction_scale=1.5),
}
"""The ground truths of the experiment, by name."""


# --------------------------------------------------------------------------- risks


def bayes_risks(m: np.ndarray) -> dict[str, float]:
    """The Bayes risks of the task losses (per label) given the marginals ``m: (n, k)``:
    ``E‖y − m‖²/k = mean m(1 − m)`` and ``mean min(m, 1 − m)``."""
    m = np.asarray(m, np.float64)
    return {"squared": float(np.mean(m * (1.0 - m))),
            "hamming": float(np.mean(np.minimum(m, 1.0 - m)))}


def excess_risks(y_hat: np.ndarray, m: np.ndarray) -> dict[str, float]:
    """The exact excess risks (per label) of the prediction ``ŷ: (n, k)`` at inputs
    whose marginals are ``m: (n, k)``, in expectation over ``y | x``.

    * squared: ``E_y ‖ŷ − y‖² − E_y ‖m − y‖² = ‖ŷ − m‖²``;
    * Hamming of the rounding ``1{ŷ > 0.5}``: ``|2m_i − 1|`` where it disagrees with
      ``1{m_i > 0.5}``, the Bayes decision.

    Example:
      >>> import numpy as np
      >>> from fenchel.multilabel.calibration import excess_risks
      >>> excess = excess_risks(np.array([[0.9, 0.2]]), np.array([[0.7, 0.6]]))
      >>> {name: round(value, 9) for name, value in excess.items()}
      {'squared': 0.1, 'hamming': 0.1}
    """
    y_hat = np.asarray(y_hat, np.float64)
    m = np.asarray(m, np.float64)
    wrong = (y_hat > 0.5) != (m > 0.5)
    return {"squared": float(np.mean(np.square(y_hat - m))),
            "hamming": float(np.mean(np.where(wrong, np.abs(2.0 * m - 1.0), 0.0)))}


def task_risks(y_hat: np.ndarray, m: np.ndarray) -> dict[str, float]:
    """The risks themselves: :func:`excess_risks` plus :func:`bayes_risks`."""
    excess, bayes = excess_risks(y_hat, m), bayes_risks(m)
    return {name: excess[name] + bayes[name] for name in TASK_LOSSES}


# --------------------------------------------------------------------------- methods


@dataclasses.dataclass(frozen=True)
class Method:
    """A training loss on the linear pairwise energy, and the predictor it implies.

    Attributes:
      name: the method's name in the grid.
      loss: ``"gfy"``, ``"perceptron"`` or ``"unrolled"``.
      reg: Ω: ``"entropy"`` (:class:`~fenchel.regularizers.BinaryEntropy`, μ = 4),
        ``"squared"`` (:class:`~fenchel.regularizers.SquaredBox`, μ = 1) or ``"box"``
        (:class:`~fenchel.regularizers.BoxIndicator`, the perceptron's).
      maxiter, tol: the inner solver's budget, in training and in prediction
        (:class:`~fenchel.maximizers.MirrorAscent` for the entropy,
        :class:`~fenchel.maximizers.CoordinateAscent` otherwise).
      unroll_steps: K, the mirror-ascent steps of ``unrolled`` (training and prediction).
    """

    name: str
    loss: str
    reg: str
    maxiter: int = 500
    tol: float = 1e-6
    unroll_steps: int = 10

    def record(self) -> dict[str, Any]:
        """The fields, for the settings records."""
        return dataclasses.asdict(self)

    def regularizer(self) -> fy_regs.Regularizer:
        """Ω, unscaled (λ = 1)."""
        return {"entropy": fy_regs.BinaryEntropy(), "squared": fy_regs.SquaredBox(),
                "box": fy_regs.BoxIndicator()}[self.reg]

    def solver(self) -> fy_max.Maximizer:
        """The predictor's solver (and the training loss's inner solver)."""
        if self.loss == "unrolled":
            return fy_max.MirrorAscent(maxiter=self.unroll_steps, unroll=True)
        if self.reg == "entropy":
            return fy_max.MirrorAscent(maxiter=self.maxiter, tol=self.tol)
        return fy_max.CoordinateAscent(maxiter=self.maxiter, tol=self.tol)

    @property
    def has_population_objective(self) -> bool:
        """Whether the oracle (``n = ∞``) run is meaningful: the perceptron's
        population risk is minimized by θ = 0, which predicts nothing."""
        return self.loss != "perceptron"

    def example_losses(self, theta, y: Array) -> Array:
        """The training loss of each example, ``(n,)``, with ``theta = (u: (n, k), U)``."""
        energy = fy_energies.pairwise
        if self.loss == "gfy":
            return fy_losses.gfy_loss(energy, self.regularizer(), theta, y,
                                      solver=self.solver())
        if self.loss == "perceptron":
            return fy_losses.perceptron_loss(energy, theta, y, solver=self.solver())
        solver = fy_max.MirrorAscent()  # unrolled_loss runs K unrolled steps of it
        return fy_losses.unrolled_loss(energy, self.regularizer(), theta, y, solver=solver,
                                       num_steps=self.unroll_steps, task_loss="squared")

    def population_objective(self, theta, m: Array, mean_cov: Array) -> Array:
        """The population version of the training loss, up to a constant in θ, from
        the exact moments: ``E_x L(θ(x); m(x)) + ½<−U, E_x Cov(y|x)>`` for the GFY
        losses (their excess risk, see the module docstring) and
        ``E_x ½‖ŷ_K(θ(x)) − m(x)‖²`` for ``unrolled`` (its excess risk)."""
        values = jnp.mean(self.example_losses(theta, m))
        if self.loss == "unrolled":
            return values
        return values + 0.5 * jnp.vdot(-theta[1], mean_cov)

    def predict(self, theta) -> Array:
        """``ŷ(θ) = argmax_y Φ(θ, y) − Ω(y)`` (K mirror-ascent steps for ``unrolled``)."""
        return fy_max.maximize(fy_energies.pairwise, self.regularizer(), theta,
                               solver=self.solver())[0]


METHODS: dict[str, Method] = {
    "gfy-entropy": Method("gfy-entropy", "gfy", "entropy"),
    "gfy-squared": Method("gfy-squared", "gfy", "squared"),
    "perceptron": Method("perceptron", "perceptron", "box", maxiter=50),
    "unrolled": Method("unrolled", "unrolled", "entropy"),
}
"""The methods of the experiment, by name."""


# --------------------------------------------------------------------------- model


def init_params(d: int, k: int, seed: int, scale: float = 0.3) -> dict[str, Array]:
    """``W = 0: (d, k)``, ``b = 0``, ``V: (k, k)`` with i.i.d. ``N(0, scale²/k)``
    entries (``V = 0`` would be a stationary point of every loss)."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, 3]))
    factor = rng.standard_normal((k, k)) * scale / math.sqrt(k)
    return {"W": jnp.zeros((d, k), jnp.float32), "b": jnp.zeros(k, jnp.float32),
            "V": jnp.asarray(factor, jnp.float32)}


def model_theta(params: dict[str, Array], x: Array):
    """``θ(x) = (xW + b, −VVᵀ)``: unaries ``(n, k)`` and the shared ``U ⪯ 0``."""
    return (x @ params["W"] + params["b"],
            fy_energies.negative_semidefinite(params["V"]))


@functools.partial(jax.jit, static_argnames=("method", "steps"))
def _train(method: Method, params, x, y, learning_rate, steps: int):
    objective = lambda p: jnp.mean(method.example_losses(model_theta(p, x), y))
    return _adam(objective, params, learning_rate, steps)


@functools.partial(jax.jit, static_argnames=("method", "steps"))
def _train_population(method: Method, params, x, m, mean_cov, learning_rate, steps: int):
    objective = lambda p: method.population_objective(model_theta(p, x), m, mean_cov)
    return _adam(objective, params, learning_rate, steps)


def _adam(objective, params, learning_rate, steps: int):
    schedule = optax.cosine_decay_schedule(1.0, steps)
    optimizer = optax.chain(optax.scale_by_adam(), optax.scale_by_schedule(schedule),
                            optax.scale(-learning_rate))
    state = optimizer.init(params)
    grad = jax.grad(objective)

    def body(_, carry):
        params, state = carry
        updates, state = optimizer.update(grad(params), state, params)
        return optax.apply_updates(params, updates), state

    params, _ = jax.lax.fori_loop(0, steps, body, (params, state))
    value, gradient = jax.value_and_grad(objective)(params)
    return params, value, optax.tree_utils.tree_norm(gradient)


@functools.partial(jax.jit, static_argnames=("method",))
def _predict(method: Method, params, x):
    return method.predict(model_theta(params, x))


@functools.partial(jax.jit, static_argnames=("method",))
def _surrogate_excess(method: Method, params, x, m, mean_cov):
    return method.population_objective(model_theta(params, x), m, mean_cov)


# --------------------------------------------------------------------------- one run


@dataclasses.dataclass(frozen=True)
class Settings:
    """What a run's result depends on besides its (truth, method, n, seed).

    Attributes:
      steps: full-batch Adam steps (the step is cosine-decayed to 0).
      learning_rate: Adam's initial step.
      init_scale: scale of the initial factor V (:func:`init_params`).
      test_size: number of fixed test inputs.
      test_seed: their seed.
      oracle_size: inputs of the oracle's population objective (another fixed sample).
    """

    steps: int = 1500
    learning_rate: float = 0.05
    init_scale: float = 0.3
    test_size: int = 20000
    test_seed: int = 0
    oracle_size: int = 10000

    def record(self, truth: Truth | None = None, method: Method | None = None) -> dict:
        """The settings record of the folder (no argument) or of one run."""
        record = dataclasses.asdict(self)
        if truth is not None:
            record["truth"] = truth.record()
        if method is not None:
            record["method"] = method.record()
        return normalized(record)


@functools.lru_cache(maxsize=8)
def _evaluation_set(truth: Truth, size: int, seed: int):
    x = truth.test_inputs(size, seed)
    m, cov = truth.conditional(x)
    return x, m, cov


def run_one(truth: Truth, method: Method, n: int | None, seed: int,
            settings: Settings = Settings()) -> dict[str, Any]:
    """Train ``method`` on ``n`` examples of ``truth`` (seed ``seed``), or, with
    ``n = None``, on the population objective (the oracle), and measure it.

    Returns:
      A JSON-able dict: ``excess`` and ``risk`` (per task loss), ``bayes``, for the GFY
      methods ``surrogate_excess`` (the excess GFY risk, exact on the test inputs) and
      ``bound`` (``‖ŷ − m‖²`` averaged over the test inputs, and ``(2/μ)`` times the
      surrogate excess: the theorem says the first is at most the second),
      ``interaction_norm`` (‖U‖_F), and the training diagnostics (``train``: the final
      objective and gradient norm, and the wall seconds of the training call, which
      include its compilation the first time a process trains a (method, n)).
    """
    x_test, m_test, cov_test = _evaluation_set(truth, settings.test_size, settings.test_seed)
    params = init_params(truth.d, truth.k, seed, settings.init_scale)
    start = time.perf_counter()
    if n is None:
        x_pop = truth.test_inputs(settings.oracle_size, settings.test_seed + 1)
        m_pop, cov_pop = truth.conditional(x_pop)
        params, value, grad_norm = _train_population(
            method, params, jnp.asarray(x_pop), jnp.asarray(m_pop, jnp.float32),
            jnp.asarray(cov_pop.mean(axis=0), jnp.float32), settings.learning_rate,
            settings.steps)
    else:
        x, y = truth.sample(n, seed)
        params, value, grad_norm = _train(method, params, jnp.asarray(x), jnp.asarray(y),
                                          settings.learning_rate, settings.steps)
    value = float(value)
    seconds = time.perf_counter() - start
    y_hat = np.asarray(_predict(method, params, jnp.asarray(x_test)))
    interactions = np.asarray(fy_energies.negative_semidefinite(params["V"]))
    result: dict[str, Any] = {
        "truth": truth.name, "method": method.name, "n": n, "seed": seed,
        "excess": excess_risks(y_hat, m_test), "risk": task_risks(y_hat, m_test),
        "bayes": bayes_risks(m_test),
        "interaction_norm": float(np.linalg.norm(interactions)),
        "train": {"objective": value, "grad_norm": float(grad_norm),
                  "steps": settings.steps, "seconds": seconds},
        "surrogate_excess": None, "bound": None,
    }
    if method.loss == "gfy":
        surrogate = float(_surrogate_excess(method, params, jnp.asarray(x_test),
                                            jnp.asarray(m_test, jnp.float32),
                                            jnp.asarray(cov_test.mean(axis=0), jnp.float32)))
        mu = method.regularizer().strong_convexity
        result["surrogate_excess"] = surrogate
        result["bound"] = {"squared_distance": truth.k * result["excess"]["squared"],
                           "two_over_mu_surrogate": 2.0 / mu * surrogate}
    result["settings"] = settings.record(truth, method)
    return result


# --------------------------------------------------------------------------- the grid


DEFAULT_TRUTHS: tuple[str, ...] = ("logistic", "ising")
DEFAULT_METHODS: tuple[str, ...] = ("gfy-entropy", "gfy-squared", "perceptron", "unrolled")
DEFAULT_SIZES: tuple[int, ...] = (100, 300, 1000, 3000, 10000)
DEFAULT_SEEDS = 3

SETTING_FLAGS = {"steps": "--steps", "learning_rate": "--learning-rate",
                 "test_size": "--test-size"}
"""The command-line flag of each setting, named when settings differ (the others are
fixed by the code: a difference there means the code changed)."""

PLOT_FILE = "calibration.png"


def run_path(out: str | os.PathLike, truth: str, method: str, n: int | None,
             seed: int) -> pathlib.Path:
    """Where one run is stored: ``runs/<truth>/<method>/n<n>-seed<s>.json``, or
    ``oracle.json`` for ``n = None``."""
    name = "oracle.json" if n is None else f"n{n}-seed{seed}.json"
    return pathlib.Path(out) / "runs" / truth / method / name


def _read_run(path: pathlib.Path) -> dict[str, Any] | None:
    """A stored run, or None when there is none (or it is unreadable: run it again)."""
    return read_json_record(path, "excess")


@dataclasses.dataclass(frozen=True)
class CalibrationGrid(Experiment):
    """The calibration grid as a :class:`fenchel.experiments.Experiment`: the oracle of
    every (truth, method) with a population objective (``Run(truth, method, 0, None)``),
    then every ``Run(truth, method, seed, n)``; the longest run first."""

    truths: tuple[str, ...] = DEFAULT_TRUTHS
    methods: tuple[str, ...] = DEFAULT_METHODS
    sizes: tuple[int, ...] = DEFAULT_SIZES
    seeds: tuple[int, ...] = tuple(range(DEFAULT_SEEDS))
    training: Settings = Settings()

    title = "calibration"
    setting_flags = SETTING_FLAGS
    required_key = "excess"
    run_glob = "runs/*/*/*.json"
    outputs = ("results.json", "results.md", PLOT_FILE)

    def runs(self) -> list[Run]:
        oracles = [Run(t, m, 0, None) for t in self.truths for m in self.methods
                   if METHODS[m].has_population_objective]
        return oracles + [Run(t, m, s, n) for t in self.truths for m in self.methods
                          for n in self.sizes for s in self.seeds]

    def path(self, run: Run) -> str:
        return run_path("", run.task, run.method, run.variant, run.seed).as_posix()

    def settings(self) -> dict[str, Any]:
        return self.training.record()

    def compare(self, source: str, stored: dict[str, Any]):
        recorded = stored.get("settings") if isinstance(stored.get("settings"), dict) else {}
        _, truth, method, _ = source.split("/")
        truth, method = TRUTHS.get(truth), METHODS.get(method)
        if truth is None or method is None:  # a truth or method this code does not know
            recorded = {key: value for key, value in recorded.items()
                        if key not in ("truth", "method")}
        return recorded, self.training.record(truth, method)

    def chains(self, todo):
        # The longest first (the oracle is about as long as the largest sample).
        size = lambda run: self.training.oracle_size if run.variant is None else run.variant
        return [(run,) for run in sorted(todo, key=lambda run: -size(run))]

    def run(self, out, run, previous):
        return run_one(TRUTHS[run.task], METHODS[run.method], run.variant, run.seed,
                       self.training)

    def aggregate(self, out, run_seconds, computed):
        return aggregate(out, self.truths, self.methods, self.sizes, self.seeds, self.training,
                         run_seconds=run_seconds if computed else None)


def check_settings(out: str | os.PathLike, settings: Settings) -> None:
    """Refuse to add runs to ``out`` made with other settings than the stored ones.

    Raises:
      SettingsMismatchError: naming each differing setting, its stored and new value.
    """
    experiments.check_settings(CalibrationGrid(training=settings), out)


def _check_names(kind: str, names: Sequence[str], known: dict) -> list[str]:
    names = list(dict.fromkeys(names))
    unknown = [name for name in names if name not in known]
    if unknown or not names:
        raise ValueError(f"{kind} must be among {', '.join(known)}; got "
                         f"{', '.join(map(repr, unknown)) or 'none'}")
    return names


def run_grid(out: str | os.PathLike, truths: Iterable[str] = DEFAULT_TRUTHS,
             methods: Iterable[str] = DEFAULT_METHODS,
             sizes: Iterable[int] = DEFAULT_SIZES, n_seeds: int = DEFAULT_SEEDS, *,
             settings: Settings = Settings(), jobs: int = 1,
             progress: bool = True) -> dict[str, Any]:
    """Run (or resume) the calibration grid and aggregate it
    (:func:`fenchel.experiments.run_grid` of a :class:`CalibrationGrid`).

    Every (truth, method, n, seed) cell, and one oracle per (truth, method) with a
    population objective, is trained unless its file is in ``out``.

    Args:
      out: output folder (``runs/``, ``settings.json``, ``results.json``,
        ``results.md``, ``calibration.png``).
      truths, methods: names in :data:`TRUTHS` and :data:`METHODS`.
      sizes: training-set sizes.
      n_seeds: seeds 0..n_seeds-1.
      settings: the training and evaluation :class:`Settings`.
      jobs: worker processes (one cell each at a time).
      progress: a progress bar.

    Returns:
      The aggregate (also written to ``results.json``).

    Raises:
      SettingsMismatchError: ``out`` holds runs made with other settings (nothing
        is trained or written).
      OutputLockedError, NotWritableError, KeyboardInterrupt: as
        :func:`fenchel.experiments.run_grid` (another run holds ``out``; a file cannot be
        written, found before training; Ctrl-C, the finished runs kept).
    """
    seeds = experiments.seed_range(n_seeds)
    truths = _check_names("truths", truths, TRUTHS)
    methods = _check_names("methods", methods, METHODS)
    sizes = sorted(dict.fromkeys(sizes))
    if not sizes or any(isinstance(n, bool) or not isinstance(n, int) or n < 1
                        for n in sizes):
        raise ValueError(f"sizes must be positive integers, got {sizes!r}")
    grid = CalibrationGrid(tuple(truths), tuple(methods), tuple(sizes), seeds, settings)
    return experiments.run_grid(grid, out, jobs=jobs, progress=progress)


# --------------------------------------------------------------------------- aggregate


def fit_rate(sizes: Sequence[float], values: Sequence[float]) -> dict[str, Any] | None:
    """The least-squares line ``log10 value = a + slope · log10 n`` through the points
    with a positive value (at least two): ``{"slope", "intercept", "points"}``, or None.

    Example:
      >>> from fenchel.multilabel.calibration import fit_rate
      >>> round(fit_rate([100, 1000, 10000], [1e-2, 1e-3, 1e-4])["slope"], 6)
      -1.0
    """
    points = [(math.log10(n), math.log10(v)) for n, v in zip(sizes, values)
              if v is not None and v > 0 and math.isfinite(v)]
    if len(points) < 2:
        return None
    x, y = np.asarray(points).T
    slope, intercept = np.polyfit(x, y, 1)
    return {"slope": float(slope), "intercept": float(intercept), "points": len(points)}


METRICS: tuple[str, ...] = ("squared", "hamming", "surrogate")
"""The excess risks aggregated: the two task losses and, for the GFY methods, the
excess GFY risk itself (the surrogate)."""


def _metric(run: dict[str, Any], metric: str) -> float | None:
    return run["surrogate_excess"] if metric == "surrogate" else run["excess"][metric]


def _group(out, truth: str, method: str, sizes, seeds) -> dict[str, Any] | None:
    """The aggregate of one (truth, method): per size, the oracle and the rates."""
    table: dict[str, Any] = {}
    per_seed: dict[int, dict[int, dict]] = {}
    for n in sizes:
        runs = [run for s in seeds
                if (run := _read_run(run_path(out, truth, method, n, s))) is not None]
        if not runs:
            continue
        for run in runs:
            per_seed.setdefault(run["seed"], {})[n] = run
        table[str(n)] = {
            **{metric: mean_std([_metric(run, metric) for run in runs]) for metric in METRICS},
            "interaction_norm": mean_std([run["interaction_norm"] for run in runs]),
            "train_seconds": mean_std([run["train"]["seconds"] for run in runs]),
            "grad_norm_max": max(run["train"]["grad_norm"] for run in runs),
            "bound_holds": (all(run["bound"]["squared_distance"]
                                <= run["bound"]["two_over_mu_surrogate"] * (1 + 1e-3) + 1e-9
                                for run in runs) if runs[0]["bound"] else None),
            "seeds": [run["seed"] for run in runs],
        }
    if not table:
        return None
    oracle_run = _read_run(run_path(out, truth, method, None, 0))
    oracle = None
    if oracle_run is not None:
        oracle = {metric: _metric(oracle_run, metric) for metric in METRICS}
        oracle["interaction_norm"] = oracle_run["interaction_norm"]
        oracle["grad_norm"] = oracle_run["train"]["grad_norm"]
    rates: dict[str, Any] = {}
    ns = [int(n) for n in table]
    for metric in METRICS:
        means = [(table[str(n)][metric] or {}).get("mean") for n in ns]
        if any(mean is None for mean in means):
            continue
        fit = fit_rate(ns, means)
        if fit is None:
            continue
        seed_slopes = []
        for runs in per_seed.values():
            if len(runs) == len(ns):
                seed_fit = fit_rate(ns, [_metric(runs[n], metric) for n in ns])
                if seed_fit is not None:
                    seed_slopes.append(seed_fit["slope"])
        fit["seed_slopes"] = seed_slopes
        # The local rate at large n: the three largest sizes (n = 100 with 124
        # parameters is far from the asymptotic regime).
        fit["largest_three"] = (fit_rate(ns[-3:], means[-3:]) if len(ns) > 3 else None)
        if oracle is not None and oracle.get(metric) is not None:
            floor = oracle[metric]
            fit["floor"] = floor
            fit["above_floor"] = fit_rate(ns, [mean - floor for mean in means])
        rates[metric] = fit
    return {"sizes": table, "oracle": oracle, "rates": rates}


def aggregate(out: str | os.PathLike, truths: Sequence[str], methods: Sequence[str],
              sizes: Sequence[int], seeds: Sequence[int], settings: Settings | None = None,
              run_seconds: float | None = None) -> dict[str, Any]:
    """Write ``results.json``, ``results.md`` and ``calibration.png`` from the runs
    found in ``out`` (nothing is trained). Returns the aggregate."""
    out = pathlib.Path(out)
    results: dict[str, Any] = {}
    truth_info: dict[str, Any] = {}
    for truth in truths:
        groups = {method: group for method in methods
                  if (group := _group(out, truth, method, sizes, seeds)) is not None}
        if not groups:
            continue
        results[truth] = groups
        bayes = next(run["bayes"] for method in groups for path in
                     sorted((out / "runs" / truth / method).glob("*.json"))
                     if (run := _read_run(path)) is not None)
        truth_info[truth] = {"definition": TRUTHS[truth].record(), "bayes": bayes}
    aggregate_ = {
        "results": results, "truths": truth_info, "sizes": list(sizes), "seeds": list(seeds),
        "methods": {name: METHODS[name].record() for name in methods},
        "run_seconds": run_seconds,
        "settings": settings.record() if settings is not None else None,
        "definitions": {
            "squared": "excess of (1/k)‖ŷ − y‖²: mean over test inputs of (1/k)‖ŷ − E[y|x]‖²",
            "hamming": ("excess of the Hamming loss of 1{ŷ > 0.5}, per label: mean over test "
                        "inputs and labels of |2m − 1| where 1{ŷ > 0.5} ≠ 1{m > 0.5}"),
            "surrogate": ("excess GFY risk, per example: mean over test inputs of "
                          "L(θ(x); m(x)) + ½<−U, Cov(y|x)>"),
            "slope": "least-squares slope of log10(mean excess over seeds) on log10 n",
            "largest_three": "the same over the three largest sizes only",
            "above_floor": "the same for the mean excess minus the oracle's (n = ∞)",
        },
    }
    reports = {"results.md": markdown(aggregate_)}
    if aggregate_["results"]:
        reports[PLOT_FILE] = functools.partial(_draw, aggregate_)
    write_results(out, aggregate_, reports)
    return aggregate_


def _sci(value: float | None, digits: int = 3) -> str:
    return "—" if value is None else f"{value:.{digits - 1}e}"


def _cell(stat: dict[str, float] | None) -> str:
    if stat is None:
        return "—"
    return f"{_sci(stat['mean'])} ± {_sci(stat['std'], 2)}"


def _slope(fit: dict[str, Any] | None) -> str:
    if fit is None:
        return "—"
    text = f"{fit['slope']:.2f}"
    if len(fit.get("seed_slopes") or ()) > 1:
        text += f" ± {np.std(fit['seed_slopes'], ddof=1):.2f}"
    return text


def markdown(aggregate_: dict[str, Any]) -> str:
    """``results.md``: one table per (truth, excess risk)."""
    lines = ["# Calibration of GFY losses: excess risk against the training-set size", ""]
    if aggregate_.get("run_seconds") is not None:
        lines += [f"Wall time of this invocation: {aggregate_['run_seconds']:.0f} s "
                  "(runs found on disk are not re-run).", ""]
    sizes = aggregate_["sizes"]
    lines += [
        "Mean ± standard deviation (ddof = 1) over seeds "
        + ", ".join(map(str, aggregate_["seeds"])) + " of the exact excess risk on the "
        "test inputs. `n = ∞`: the oracle, trained on the population objective (exact "
        "conditional moments, no label noise). `slope`: least-squares slope of "
        "log10(mean excess) on log10 n (± the standard deviation of the per-seed "
        "slopes); `slope, 3 largest n`: the same over the three largest sizes; `above "
        "floor`: over every size, for the excess minus the oracle's. "
        "Per-label losses: squared `(1/k)‖ŷ − y‖²`, Hamming of `1{ŷ > 0.5}`; the "
        "surrogate is the excess GFY risk per example (GFY methods only).", ""]
    titles = {"squared": "excess squared risk", "hamming": "excess Hamming risk",
              "surrogate": "excess GFY (surrogate) risk"}
    for truth, groups in aggregate_["results"].items():
        info = aggregate_["truths"][truth]
        bayes = info["bayes"]
        lines += [f"## {truth}", "",
                  f"Bayes risks: squared {bayes['squared']:.4f}, Hamming "
                  f"{bayes['hamming']:.4f} (per label).", ""]
        for metric in METRICS:
            rows = {method: group for method, group in groups.items()
                    if any(stat.get(metric) for stat in group["sizes"].values())}
            if not rows:
                continue
            table = []
            for method, group in rows.items():
                cells = [_cell(group["sizes"].get(str(n), {}).get(metric)) for n in sizes]
                oracle = group["oracle"]
                cells.append(_sci(oracle.get(metric)) if oracle else "—")
                fit = group["rates"].get(metric)
                cells.append(_slope(fit))
                cells.append(_slope((fit or {}).get("largest_three")))
                cells.append(_slope((fit or {}).get("above_floor")))
                table.append([method, *cells])
            lines += [f"### {truth}: {titles[metric]}", "", *markdown_table(
                ["method", *(f"n = {n}" for n in sizes), "n = ∞", "slope",
                 "slope, 3 largest n", "above floor"], table), ""]
        gfy = [method for method, group in groups.items()
               if any(stat.get("surrogate") for stat in group["sizes"].values())]
        lines += [f"### {truth}: learned interactions and the theorem's bound", "",
                  "‖U‖_F of the learned interaction matrix (mean over seeds), and, for "
                  "the GFY methods, whether ‖ŷ − m‖² ≤ (2/μ)·(excess GFY risk) held "
                  "on the test inputs for every seed.", ""]
        table = []
        for method, group in groups.items():
            cells = []
            for n in sizes:
                stat = group["sizes"].get(str(n))
                if stat is None:
                    cells.append("—")
                    continue
                text = f"{stat['interaction_norm']['mean']:.3g}"
                if method in gfy:
                    text += " ✓" if stat["bound_holds"] else " ✗"
                cells.append(text)
            oracle = group["oracle"]
            cells.append(f"{oracle['interaction_norm']:.3g}" if oracle else "—")
            table.append([method, *cells])
        lines += [*markdown_table(["method", *(f"n = {n}" for n in sizes), "n = ∞"], table), ""]
    return "\n".join(lines)


_COLORS = {"gfy-entropy": "tab:blue", "gfy-squared": "tab:cyan", "perceptron": "tab:red",
           "unrolled": "tab:orange"}


def plot(out: str | os.PathLike, aggregate_: dict[str, Any]) -> str | None:
    """``calibration.png``: one row per truth, one log-log panel per excess risk
    (mean ± std over seeds), the oracle floors dashed (and in the legend), a slope −1
    guide dotted. Returns the path, or None when there is nothing to plot."""
    if not aggregate_["results"]:
        return None
    path = pathlib.Path(out) / PLOT_FILE
    with atomic_path(path) as tmp:
        _draw(aggregate_, tmp)
    return str(path)


def _draw(aggregate_: dict[str, Any], path: str) -> None:
    """Draw :func:`plot`'s figure and save it to ``path``."""
    results = aggregate_["results"]
    truths = list(results)
    titles = {"squared": "excess squared risk", "hamming": "excess Hamming risk",
              "surrogate": "excess GFY risk (surrogate)"}
    with figure(path, len(truths), len(METRICS), size=(4.6, 3.8)) as (fig, axes):
        _draw_panels(results, truths, titles, axes)
        fig.suptitle("Excess risk vs n (mean ± std over seeds; dashed: the oracle's, n = ∞, "
                     "where in range)", fontsize=11)


def _draw_panels(results, truths, titles, axes) -> None:
    for row, truth in zip(axes, truths):
        for ax, metric in zip(row, METRICS):
            plotted, floors = [], []
            for method, group in results[truth].items():
                points = [(int(n), stat[metric]) for n, stat in group["sizes"].items()
                          if stat.get(metric) is not None and stat[metric]["mean"] > 0]
                if not points:
                    continue
                ns = np.array([n for n, _ in points], float)
                means = np.array([stat["mean"] for _, stat in points])
                stds = np.array([stat["std"] for _, stat in points])
                color = _COLORS.get(method)
                fit = group["rates"].get(metric)
                label = method + (f": slope {fit['slope']:.2f}" if fit else "")
                oracle = (group["oracle"] or {}).get(metric)
                if oracle is not None:
                    label += f", n=∞ {oracle:.1e}"
                    floors.append((oracle, color))
                ax.errorbar(ns, means, yerr=np.minimum(stds, 0.95 * means), marker="o",
                            ms=4, capsize=2, color=color, label=label)
                plotted.extend(means)
                if method == "gfy-entropy":
                    guide = means[0] * (ns / ns[0]) ** -1.0
                    ax.plot(ns, guide, color="gray", ls=":", lw=1, label="slope −1")
            if not plotted:
                ax.set_axis_off()
                continue
            low, high = min(plotted) / 3, max(plotted) * 2
            near = [floor for floor, _ in floors if min(plotted) / 10 <= floor < low]
            low = min([low] + [floor / 1.5 for floor in near])
            for floor, color in floors:  # a floor far below the data is in the legend only
                if low <= floor <= high:
                    ax.axhline(floor, color=color, ls="--", lw=1)
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_ylim(low, high)
            ax.set_xlabel("training examples n")
            ax.set_title(f"{truth}: {titles[metric]}", fontsize=10)
            ax.grid(True, which="both", alpha=0.2)
            ax.legend(fontsize=6.5)


# --------------------------------------------------------------------------- command line


def _run_reproduce(args: argparse.Namespace) -> int:
    prefix = "fenchel reproduce calibration"
    settings = Settings(steps=args.steps, learning_rate=args.learning_rate,
                        test_size=args.test_size)
    start = time.perf_counter()

    def summary(result: dict[str, Any]) -> Iterable[str]:
        for truth, groups in result["results"].items():
            for method, group in groups.items():
                rates = group["rates"]
                largest = group["sizes"][str(max(int(n) for n in group["sizes"]))]
                text = " ".join(
                    f"{metric}={_sci(largest[metric]['mean'])}"
                    f"(slope {rates[metric]['slope']:.2f})" if metric in rates else
                    f"{metric}={_sci((largest[metric] or {}).get('mean'))}"
                    for metric in TASK_LOSSES)
                yield (f"{truth:9s} {method:12s} excess at "
                       f"n={max(int(n) for n in group['sizes'])}: {text}")
        yield (f"wrote {args.out}/results.md, results.json and {PLOT_FILE} in "
               f"{time.perf_counter() - start:.0f} s")

    return experiments.run_command(prefix, args.out, lambda: run_grid(
        args.out, args.truths, args.methods, args.sizes, args.seeds, settings=settings,
        jobs=args.jobs, progress=not args.quiet), summary)


def add_reproduce_parser(subparsers) -> None:
    """Adds ``fenchel reproduce calibration`` (the calibration grid, resumable)."""
    from fenchel.infra._cli_types import positive_float, positive_int

    defaults = Settings()
    help = ("Excess Hamming and squared risk vs training-set size on synthetic data with a "
            "known Bayes predictor (GFY against perceptron and unrolled; resumable).")
    parser = experiments.add_reproduce_parser(
        subparsers, "calibration", help,
        help + " Each (truth, method, n, seed) result is saved in OUT/runs and skipped when "
        "present; results.md, results.json and calibration.png are rewritten from all runs "
        "found. See docs/calibration.md.", _run_reproduce, seeds=DEFAULT_SEEDS)
    parser.add_argument("--truths", nargs="+", choices=list(TRUTHS), default=list(DEFAULT_TRUTHS),
                        metavar="TRUTH",
                        help=f"ground truths among {', '.join(TRUTHS)} "
                             f"(default {' '.join(DEFAULT_TRUTHS)})")
    parser.add_argument("--methods", nargs="+", choices=list(METHODS),
                        default=list(DEFAULT_METHODS), metavar="METHOD",
                        help=f"methods among {', '.join(METHODS)} "
                             f"(default {' '.join(DEFAULT_METHODS)})")
    parser.add_argument("--sizes", nargs="+", type=positive_int, default=list(DEFAULT_SIZES),
                        metavar="N",
                        help="training-set sizes (default "
                             f"{' '.join(map(str, DEFAULT_SIZES))})")
    parser.add_argument("--steps", type=positive_int, default=defaults.steps, metavar="N",
                        help=f"full-batch Adam steps per run (default {defaults.steps})")
    parser.add_argument("--learning-rate", type=positive_float,
                        default=defaults.learning_rate, metavar="RATE",
                        help="Adam's initial step, cosine-decayed to 0 "
                             f"(default {defaults.learning_rate:g})")
    parser.add_argument("--test-size", type=positive_int, default=defaults.test_size,
                        metavar="N",
                        help="fixed test inputs on which the excess risks are computed "
                             f"exactly (default {defaults.test_size})")


__all__ = ["TASK_LOSSES", "Truth", "TRUTHS", "bayes_risks", "excess_risks", "task_risks",
           "Method", "METHODS", "init_params", "model_theta", "Settings", "run_one",
           "CalibrationGrid",
           "DEFAULT_TRUTHS", "DEFAULT_METHODS", "DEFAULT_SIZES", "DEFAULT_SEEDS",
           "SETTING_FLAGS", "run_path", "check_settings", "run_grid", "fit_rate", "METRICS",
           "aggregate", "markdown", "plot", "add_reproduce_parser"]

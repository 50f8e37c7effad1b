"""Imitation policies: explicit MSE, implicit BC (InfoNCE), and GFY energy policies.

Every policy maps a batch of observations ``(n, obs_dim)`` to actions ``(n, act_dim)`` in the
action box ``[low, high]^act_dim``. Internally actions live in the normalized box
``z ∈ [-1, 1]^k`` (``a = low + (z + 1)(high − low)/2``) and observations are standardized
with the demonstrations' mean and standard deviation, so one set of hyper-parameters
(the regularization scale λ in particular) means the same thing on every task.

=================  ==================================================  ==========================
policy             training                                            acting
=================  ==================================================  ==========================
``mse``            ``½‖tanh(f(s)) − z‖²`` (behavioral cloning)         ``tanh(f(s))``
``ibc``            InfoNCE, ``E(s, z)`` vs uniform counter-examples    derivative-free sampling
``gfy``            GFY loss, ``E(s, z)`` neural, Ω = SquaredBox         sampling, then projected
                                                                       gradient refinement
``gfy-softmax``    GFY loss over candidates at temperature τ,          as ``gfy``
                   ``E(s, z)`` neural, Ω = SquaredBox; τ = 0: hard
                   max, τ > 0: τ·InfoNCE with hard negatives
``gfy-pairwise``   GFY loss, ``Φ = <u(s), z> + ½<z, U(s) z>``,          exact (concave):
                   ``U = −V(s)V(s)ᵀ``, Ω = SquaredBox                  coordinate ascent
``minmin``         learned log-partition ("min-min"), ``E(s, z)``       as ``gfy``, on E alone
                   neural, ``τ(s)`` a second MLP, uniform samples      (box constraint)
=================  ==================================================  ==========================

``gfy``, ``gfy-softmax``, ``ibc`` and ``minmin`` share the same energy network ``E(s, z) = MLP([s, z])``;
they differ only in the loss and in how they act. All use MLPs with the same hidden sizes.

Every energy policy (all but ``mse``) can instead act by implicit BC's Langevin sampler
(``PolicyConfig(acting="langevin")``, :class:`fenchel.imitation.langevin.IBCLangevin`:
``langevin_chains`` uniform chains, ``langevin_steps`` steps with IBC's step-size schedule,
the best final chain) on the same objective its sampling solver maximizes (``ibc``: E on the
box; the GFY policies: E − Ω).

``gfy-softmax`` sits between ``gfy`` and ``ibc``. With ``F(z) = E(s, z) − Ω(z)`` and the
candidates ``C = {c_0 = z*} ∪ {M uniform points of the box} ∪ {K inner-solver outputs}``
(:mod:`fenchel.candidates`) its loss is

    L_τ = τ log Σ_j exp((F(c_j) − F(z*))/τ),

the GFY loss of the simplex over C with the entropy at temperature τ. At τ = 0 it is the hard
max ``max_{c ∈ C} F(c) − F(z*)``, ``gfy``'s loss with the inner maximum taken over C; at
τ > 0 it is τ times InfoNCE with negatives ``C ∖ {z*}``, so every candidate, not only the
best, pushes the energy down, and the gradient does not vanish when no candidate beats z*.

The K hard negatives (``PolicyConfig.hard_negative_search``) are by default
(``"reuse"``, since 2026-12-07) a few projected-gradient steps from z* and from the best
K − 1 of the M uniform points, whose energies the loss computes anyway; before, each was a
whole run of the training search with samples of its own (``"sample"``, still available),
which made a training step 2–3× as costly as ``ibc``'s.

``minmin`` fits the same model as ``ibc``, ``p(z | s) ∝ exp E(s, z)`` on the box, by maximum
likelihood without the partition function (:func:`fenchel.log_partition.min_min_loss`):
``log Z = min_τ τ + e^{−τ} Z − 1`` with ``Z = E_q[e^{E(s, z')}/q(z')]``, q uniform on the box,
and τ(s) learned by a second network, so its M samples give an unbiased estimate of an upper
bound of the negative log-likelihood, tight where τ(s) = log Z(s).

GFY-family learners also return ``diagnostics``: the share of a batch whose hard-max loss is
zero (``gfy-softmax``: z* beats every candidate), where ``gfy``'s gradient vanishes.

The functional pieces (initial parameters, batched loss, batched action) of a policy kind are
bundled in a :class:`Learner`, built once per ``(kind, spec, config)`` and cached, so repeated
runs (seeds, dataset sizes) reuse the compiled functions.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from fenchel import candidates as fc
from fenchel import energies as fe
from fenchel import losses as fl
from fenchel import maximizers as fm
from fenchel import regularizers as fr
from fenchel.imitation._observations import observation_batch
from fenchel.imitation.langevin import IBCLangevin
from fenchel.log_partition import min_min_loss

Array = jax.Array

POLICY_NAMES: tuple[str, ...] = ("gfy", "gfy-pairwise", "mse", "ibc", "gfy-softmax", "minmin")

TRAIN_SOLVERS: tuple[str, ...] = ("train", "acting")
"""Values of :attr:`PolicyConfig.train_solver`."""

ACTING_SOLVERS: tuple[str, ...] = ("sampling", "langevin")
"""Values of :attr:`PolicyConfig.acting`."""

HARD_NEGATIVE_SEARCHES: tuple[str, ...] = ("sample", "reuse")
"""Values of :attr:`PolicyConfig.hard_negative_search`."""

ZERO_LOSS_ATOL = 1e-6
"""A loss at or below this counts as zero in the ``zero_loss_fraction`` diagnostic."""

# Fields added after the committed results, with the value every run without the field had
# (the behaviour before it): ``to_dict`` leaves a field out at that value, so the settings
# (and fingerprints) of those results stay as they were, and ``from_dict`` reads a missing
# field as that value. A default that changes (``hard_negative_search``) is then recorded in
# every new run, and old and new runs never share a fingerprint.
_LEGACY_VALUES: dict[str, Any] = {"train_solver": "train", "hard_negatives": 2,
                                  "gfy_temperature": 1.0, "acting": "sampling",
                                  "langevin_chains": 512, "langevin_steps": 100,
                                  "hard_negative_search": "sample", "hard_negative_refine": 3}


@dataclasses.dataclass(frozen=True)
class PolicySpec:
    """Shapes and action box of a task.

    Args:
      observation_dim: length of an observation.
      action_dim: length of an action k.
      action_low: lower bound of every action coordinate.
      action_high: upper bound of every action coordinate (> ``action_low``).

    Example:
      >>> from fenchel.imitation.policies import PolicySpec
      >>> PolicySpec(10, 2, 0.0, 1.0).action_dim
      2
    """

    observation_dim: int
    action_dim: int
    action_low: float
    action_high: float

    def __post_init__(self) -> None:
        for name in ("observation_dim", "action_dim"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
            object.__setattr__(self, name, int(value))
        for name in ("action_low", "action_high"):
            value = getattr(self, name)
            if not isinstance(value, (int, float, np.floating)) or not math.isfinite(value):
                raise ValueError(f"{name} must be a finite number, got {value!r}")
            object.__setattr__(self, name, float(value))
        if not self.action_low < self.action_high:
            raise ValueError(f"need action_low < action_high, got {self.action_low} "
                             f">= {self.action_high}")

    def to_unit(self, action: np.ndarray) -> np.ndarray:
        """Actions ``a`` in the box -> ``z ∈ [-1, 1]^k``."""
        half = 0.5 * (self.action_high - self.action_low)
        return (np.asarray(action) - self.action_low) / half - 1.0

    def from_unit(self, z: np.ndarray) -> np.ndarray:
        """``z ∈ [-1, 1]^k`` -> actions in the box (clipped)."""
        half = 0.5 * (self.action_high - self.action_low)
        action = self.action_low + (np.asarray(z) + 1.0) * half
        return np.clip(action, self.action_low, self.action_high)


@dataclasses.dataclass(frozen=True)
class PolicyConfig:
    """Hyper-parameters shared by all policy kinds (each uses the ones it needs).

    Args:
      hidden: hidden layer sizes of every MLP.
      reg_scale: λ of Ω = (λ/2)‖z‖² on ``[-1, 1]^k`` (GFY policies).
      train_samples: samples of the derivative-free stage of the GFY inner solver in training.
      train_rounds: resampling rounds of that stage.
      train_refine: projected-gradient iterations after it (GFY neural energy).
      act_samples: samples when acting (GFY neural and IBC).
      act_rounds: resampling rounds when acting.
      act_refine: projected-gradient iterations when acting (GFY neural energy).
      negatives: uniform counter-examples per example: in InfoNCE (IBC), in the candidate
        set of ``gfy-softmax`` (M), and the samples of ``minmin``'s partition estimate.
      temperature: InfoNCE temperature (IBC), also its sampling temperature when acting.
      pairwise_sweeps: coordinate-ascent sweeps (GFY pairwise; exact when converged).
      train_solver: the inner solver of ``gfy`` and ``gfy-softmax`` in training:
        ``"train"``, sampling then refinement with the ``train_*`` sizes; ``"acting"``, the
        same with the ``act_*`` sizes, at least as strong as the acting solver (``gfy``:
        :class:`~fenchel.maximizers.Restarts`, best of a run warm-started at z* and one
        cold run).
      hard_negatives: K, inner-solver runs in the candidate set of ``gfy-softmax``: the
        first from the target z*, the others from random points (``"sample"``: ``gfy``'s ŷ
        and cold runs of its search) or from the best uniform candidates (``"reuse"``).
      gfy_temperature: τ ≥ 0 of ``gfy-softmax`` (0: the hard max over the candidates).
      hard_negative_search: how ``gfy-softmax`` finds its K hard negatives (``K =
        hard_negatives``): ``"reuse"`` (default since 2026-12-07),
        ``hard_negative_refine`` projected-gradient steps only, the first run from z* and
        the others from the best K − 1 of the M uniform candidates, whose energies the loss
        computes anyway (no samples of its own); ``"sample"`` (the results before), each
        run is the whole training search, its own derivative-free samples then refinement,
        the first keeping z* among its samples. On IBC's particle protocol (256-256) "reuse"
        halves the cost of a training step, to 1.3× ``ibc``'s (docs/imitation.md, "Cost of
        a training step").
      hard_negative_refine: projected-gradient iterations of each run with
        ``hard_negative_search="reuse"`` (``"sample"`` refines with ``train_refine``).
      acting: how the energy policies act: ``"sampling"`` (the solvers of the table above)
        or ``"langevin"`` (:class:`~fenchel.imitation.langevin.IBCLangevin`, IBC's sampler);
        ``mse`` ignores it.
      langevin_chains: chains of the Langevin sampler (IBC's particle config: 512).
      langevin_steps: its steps (IBC's particle config: 100).

    Example:
      >>> from fenchel.imitation.policies import PolicyConfig
      >>> PolicyConfig(hidden=(64, 64)).hidden
      (64, 64)
    """

    hidden: tuple[int, ...] = (64, 64)
    reg_scale: float = 1.0
    train_samples: int = 32
    train_rounds: int = 2
    train_refine: int = 10
    act_samples: int = 128
    act_rounds: int = 3
    act_refine: int = 20
    negatives: int = 64
    temperature: float = 1.0
    pairwise_sweeps: int = 50
    train_solver: str = "train"
    hard_negatives: int = 2
    gfy_temperature: float = 1.0
    acting: str = "sampling"
    langevin_chains: int = 512
    langevin_steps: int = 100
    hard_negative_search: str = "reuse"
    hard_negative_refine: int = 3

    def __post_init__(self) -> None:
        hidden = tuple(int(h) for h in self.hidden)
        if not hidden or min(hidden) < 1:
            raise ValueError(f"hidden must be a non-empty tuple of positive ints, got {self.hidden!r}")
        object.__setattr__(self, "hidden", hidden)
        for name in ("train_samples", "act_samples", "negatives", "pairwise_sweeps",
                     "langevin_chains", "langevin_steps"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        for name in ("train_rounds", "train_refine", "act_rounds", "act_refine",
                     "hard_negatives", "hard_negative_refine"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be a non-negative int, got {value!r}")
        for name in ("reg_scale", "temperature"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a positive finite number, got {value!r}")
        tau = self.gfy_temperature
        if (isinstance(tau, bool) or not isinstance(tau, (int, float))
                or not math.isfinite(tau) or tau < 0):
            raise ValueError(f"gfy_temperature must be a finite number >= 0 (0: the hard max), "
                             f"got {tau!r}")
        if self.train_solver not in TRAIN_SOLVERS:
            raise ValueError(f"train_solver must be one of {TRAIN_SOLVERS}, "
                             f"got {self.train_solver!r}")
        if self.acting not in ACTING_SOLVERS:
            raise ValueError(f"acting must be one of {ACTING_SOLVERS}, got {self.acting!r}")
        if self.hard_negative_search not in HARD_NEGATIVE_SEARCHES:
            raise ValueError(f"hard_negative_search must be one of {HARD_NEGATIVE_SEARCHES}, "
                             f"got {self.hard_negative_search!r}")
        if self.hard_negative_search == "reuse" and self.hard_negatives - 1 > self.negatives:
            raise ValueError(f"hard_negative_search='reuse' starts hard_negatives - 1 runs from "
                             f"as many of the negatives uniform points: need hard_negatives <= "
                             f"negatives + 1, got hard_negatives={self.hard_negatives} and "
                             f"negatives={self.negatives}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-serializable dictionary; :meth:`from_dict` rebuilds the config.

        The fields added after the committed results are left out at the value the runs
        before them had (the behaviour before the field), whatever the default now is.
        """
        data = dataclasses.asdict(self)
        data["hidden"] = list(self.hidden)
        for name, legacy in _LEGACY_VALUES.items():
            if data[name] == legacy:
                del data[name]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PolicyConfig:
        """The config of a :meth:`to_dict` record, old or new: a field the record leaves
        out has the value of the runs made before it existed, not the current default.

        Example:
          >>> from fenchel.imitation.policies import PolicyConfig
          >>> PolicyConfig.from_dict({"hidden": [256, 256]}).hard_negative_search
          'sample'
        """
        known = {field.name for field in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown PolicyConfig fields {unknown}")
        return cls(**{**_LEGACY_VALUES, **data})


# ----------------------------------------------------------------------------- networks


class MLP(nnx.Module):
    """Multilayer perceptron with SiLU activations: ``in_dim -> hidden... -> out_dim``.

    Example:
      >>> import jax.numpy as jnp
      >>> from flax import nnx
      >>> from fenchel.imitation.policies import MLP
      >>> MLP(3, (8,), 2, nnx.Rngs(0))(jnp.ones((5, 3))).shape
      (5, 2)
    """

    def __init__(self, in_dim: int, hidden: tuple[int, ...], out_dim: int, rngs: nnx.Rngs):
        sizes = (in_dim, *hidden)
        self.layers = nnx.List([nnx.Linear(a, b, rngs=rngs) for a, b in zip(sizes[:-1], sizes[1:])])
        self.out = nnx.Linear(sizes[-1], out_dim, rngs=rngs)

    def __call__(self, x: Array) -> Array:
        for layer in self.layers:
            x = nnx.silu(layer(x))
        return self.out(x)


class EnergyMLP(nnx.Module):
    """Neural energy ``E(s, z) = MLP([s, z])``, a scalar per (observation, action) pair.

    Example:
      >>> import jax.numpy as jnp
      >>> from flax import nnx
      >>> from fenchel.imitation.policies import EnergyMLP
      >>> EnergyMLP(4, 2, (8,), nnx.Rngs(0))(jnp.ones(4), jnp.zeros(2)).shape
      ()
    """

    def __init__(self, obs_dim: int, act_dim: int, hidden: tuple[int, ...], rngs: nnx.Rngs):
        self.mlp = MLP(obs_dim + act_dim, hidden, 1, rngs)

    def __call__(self, s: Array, z: Array) -> Array:
        return self.mlp(jnp.concatenate([s, z], axis=-1))[..., 0]


class PairwiseHead(nnx.Module):
    """State-conditioned pairwise energy parameters ``θ(s) = (u(s), −V(s)V(s)ᵀ)``.

    ``V(s)`` is ``(k, k)``, so ``U(s) ⪯ 0`` has full rank available and
    ``Φ(θ(s), z) = <u, z> + ½<z, U z>`` is concave in z.

    Example:
      >>> import jax.numpy as jnp
      >>> from flax import nnx
      >>> from fenchel.imitation.policies import PairwiseHead
      >>> u, U = PairwiseHead(4, 2, (8,), nnx.Rngs(0))(jnp.ones(4))
      >>> u.shape, U.shape
      ((2,), (2, 2))
    """

    def __init__(self, obs_dim: int, act_dim: int, hidden: tuple[int, ...], rngs: nnx.Rngs):
        self.act_dim = act_dim
        self.mlp = MLP(obs_dim, hidden, act_dim + act_dim * act_dim, rngs)

    def __call__(self, s: Array) -> tuple[Array, Array]:
        out = self.mlp(s)
        k = self.act_dim
        u, factor = out[:k], out[k:].reshape(k, k)
        return u, fe.negative_semidefinite(factor)


# ----------------------------------------------------------------------------- learners


@dataclasses.dataclass(frozen=True)
class Learner:
    """The functional pieces of one policy kind on one task.

    Attributes:
      kind: one of ``POLICY_NAMES``.
      spec: the task's shapes and action box.
      config: hyper-parameters.
      init: ``init(seed) -> params`` (a pytree of arrays).
      loss: ``loss(params, batch, key) -> scalar``, the mean loss over
        ``batch = (observations (b, obs_dim), unit actions (b, k))``.
      act: ``act(params, observations (n, obs_dim), key) -> (n, k)`` unit actions in
        ``[-1, 1]^k`` (jitted).
      diagnostics: GFY family only (else ``None``): ``diagnostics(params, batch, key) ->
        {"zero_loss_fraction": scalar}``, the share of the batch whose hard-max GFY loss
        (``gfy-softmax``: over its candidates, τ = 0) is at most ``ZERO_LOSS_ATOL``: where
        the hard-max gradient vanishes (jitted).
    """

    kind: str
    spec: PolicySpec
    config: PolicyConfig
    init: Callable[[int], Any]
    loss: Callable[[Any, tuple[Array, Array], Array], Array]
    act: Callable[[Any, Array, Array], Array]
    diagnostics: Callable[[Any, tuple[Array, Array], Array], dict[str, Array]] | None = None


def _unit_box(reg_scale: float) -> fr.SquaredBox:
    return fr.SquaredBox(scale=reg_scale, lower=-1.0, upper=1.0)


def _module_functions(make_module: Callable[[nnx.Rngs], nnx.Module]):
    """``(init(seed) -> params, apply(params, *args))`` for an nnx module factory."""
    graphdef, _, rest = nnx.split(make_module(nnx.Rngs(0)), nnx.Param, ...)

    def init(seed: int):
        return nnx.split(make_module(nnx.Rngs(seed)), nnx.Param, ...)[1]

    def apply(params, *args):
        return nnx.merge(graphdef, params, rest)(*args)

    return init, apply


def _per_example(one):
    """``losses(params, batch, key) -> (b,)``: ``one(params, s, y, key)`` on every row of the
    batch, each with its own key."""

    def losses(params, batch, key):
        obs, z = batch
        keys = jax.random.split(key, obs.shape[0])
        return jax.vmap(lambda s, y, kk: one(params, s, y, kk))(obs, z, keys)

    return losses


def _mean(losses):
    return lambda params, batch, key: jnp.mean(losses(params, batch, key))


def _zero_loss_fraction(hard_max_losses):
    """``diagnostics`` of a GFY-family learner from its per-example hard-max losses."""

    def diagnostics(params, batch, key):
        zero = hard_max_losses(params, batch, key) <= ZERO_LOSS_ATOL
        return {"zero_loss_fraction": jnp.mean(zero.astype(jnp.float32))}

    return diagnostics


def _mse_learner(spec: PolicySpec, config: PolicyConfig) -> Learner:
    init, apply = _module_functions(
        lambda rngs: MLP(spec.observation_dim, config.hidden, spec.action_dim, rngs))

    def loss(params, batch, key):
        obs, z = batch
        return jnp.mean(fl.squared_error(jnp.tanh(apply(params, obs)), z))

    def act(params, obs, key):
        return jnp.tanh(apply(params, obs))

    return Learner("mse", spec, config, init, loss, act)


def _energy_functions(spec: PolicySpec, config: PolicyConfig):
    make = lambda rngs: EnergyMLP(spec.observation_dim, spec.action_dim, config.hidden, rngs)
    energy, _ = fe.nnx_energy(make(nnx.Rngs(0)))

    def init(seed: int):
        return fe.nnx_energy(make(nnx.Rngs(seed)))[1]

    return energy, init


def _sample_then_refine(samples: int, rounds: int, refine: int) -> fm.Maximizer:
    sampler = fm.DerivativeFree(num_samples=samples, iterations=rounds)
    if refine == 0:
        return sampler
    return fm.Sequential((sampler, fm.ProjectedGradient(maxiter=refine, tol=1e-4)))


def _acting_solver(config: PolicyConfig) -> fm.Maximizer:
    return _sample_then_refine(config.act_samples, config.act_rounds, config.act_refine)


def _act_with(config: PolicyConfig, sampling: fm.Maximizer) -> fm.Maximizer:
    """The solver a policy acts with: ``sampling`` (its own), or IBC's Langevin sampler."""
    if config.acting == "langevin":
        return IBCLangevin(num_samples=config.langevin_chains, maxiter=config.langevin_steps)
    return sampling


def _search(config: PolicyConfig) -> fm.Maximizer:
    """One run of the training search of ``config.train_solver`` (``train_*`` or ``act_*``
    sizes)."""
    if config.train_solver == "acting":
        return _acting_solver(config)
    return _sample_then_refine(config.train_samples, config.train_rounds, config.train_refine)


def _batched_act(energy, reg, solver, k: int):
    """``act(params, obs, key)`` solving ``argmax_z E((params, s), z) − Ω(z)`` per row."""

    def act(params, obs, key):
        keys = jax.random.split(key, obs.shape[0])
        init = jnp.zeros((k,), obs.dtype)
        solve = lambda s, kk: solver(energy, reg, (params, s), init, kk)[0]
        return jax.vmap(solve)(obs, keys)

    return act


def _gfy_learner(spec: PolicySpec, config: PolicyConfig) -> Learner:
    energy, init = _energy_functions(spec, config)
    reg = _unit_box(config.reg_scale)
    train_solver = _search(config)
    if config.train_solver == "acting":
        # A cold run of the acting solver itself beside the warm one below: training then
        # searches at least as hard as acting does (a weaker search misses the modes that
        # acting finds, so their energy is never pushed down).
        train_solver = fm.Restarts(train_solver, num_restarts=1)

    # Warm start at the target: the sampler keeps y among its candidates and the
    # gradient stage then climbs from the best one. The estimate of the conjugate is
    # max(F(ŷ), F(y)) anyway, so this only tightens it; and when no sample beats y, the
    # climb from y still finds the nearby peak, whose offset from y is what sharpens the
    # energy around the demonstrated action.
    losses = _per_example(lambda params, s, y, kk: fl.gfy_loss(
        energy, reg, (params, s), y, solver=train_solver, init=y, key=kk))
    return Learner("gfy", spec, config, init, _mean(losses),
                   _batched_act(energy, reg, _act_with(config, _acting_solver(config)),
                                spec.action_dim),
                   _zero_loss_fraction(losses))


def _gfy_candidates(energy, reg, config: PolicyConfig, k: int):
    """``candidates(params, s, y, key) -> (M + K, k)``: the set ``C \\ {y}`` of ``gfy-softmax``.

    ``M = config.negatives`` uniform points of the box, then ``K = config.hard_negatives``
    runs of the training search (:func:`_search`): K − 1 from random points
    (:func:`fenchel.candidates.sample_candidates`) and, last, one warm-started at y, which
    is ``gfy``'s ŷ. All are constant in the parameters.
    """
    search = _search(config)
    cold = max(config.hard_negatives - 1, 0)

    def candidates(params, s, y, key):
        theta = (params, s)
        sample_key, warm_key = jax.random.split(key)
        points = fc.sample_candidates(energy, reg, theta, sample_key, num_random=config.negatives,
                                      num_hard=cold, solver=search, shape=(k,))
        if config.hard_negatives == 0:
            return points
        warm = search(energy, reg, jax.lax.stop_gradient(theta), y, warm_key)[0]
        return jnp.concatenate([points, jax.lax.stop_gradient(warm)[None]])

    return candidates


REUSE_INITIAL_LIPSCHITZ = 10.0
"""First curvature guess L of the refinement of ``hard_negative_search="reuse"`` (first step
1/L; backtracking doubles L where it is too small, and L shrinks by 0.9 a step). The default
1.0 overshoots on the trained energies of the particle tasks and backtracks several times per
run, each time a gradient of the whole batch."""


def _refinement(config: PolicyConfig) -> fm.Maximizer | None:
    """The refinement of ``hard_negative_search="reuse"`` (``None`` with no iterations)."""
    if config.hard_negative_refine == 0:
        return None
    return fm.ProjectedGradient(maxiter=config.hard_negative_refine, tol=1e-4,
                                initial_lipschitz=REUSE_INITIAL_LIPSCHITZ)


def _reused_candidates(energy, reg, config: PolicyConfig, k: int):
    """``candidates(params, s, y, key) -> (C \\ {y} (M + K, k), gaps (M + K,))`` of
    ``gfy-softmax`` with ``hard_negative_search="reuse"``; ``gaps`` are ``F(c) − F(y)``.

    ``M = config.negatives`` uniform points of the box, then ``K = config.hard_negatives``
    runs of projected-gradient ascent (:func:`_refinement`): K − 1 from the best K − 1
    uniform points by F, and, last, one from y. F(y) and the uniform points' F are
    computed once, in one batch: the loss reads them (with their gradient) and the choice
    of the starting points their values, so the hard negatives cost their refinement and
    their own two scores, nothing else. The gaps are differences of values (not formed
    from differences as :func:`fenchel.maximizers.objective_gap` does; the same thing for
    a neural energy but Ω's). All candidates are constant in the parameters.
    """
    refine = _refinement(config)
    num_hard = config.hard_negatives

    def candidates(params, s, y, key):
        theta = (params, s)
        objective = jax.vmap(lambda c: fm.objective(energy, reg, theta, c))
        uniform = fm.random_init(reg, key, (config.negatives, k), y.dtype)
        # F(y) and F at the uniform points in one batch of the network, as InfoNCE does.
        values = objective(jnp.concatenate([y[None], uniform]))
        uniform_gaps = values[1:] - values[0]
        if num_hard == 0:
            return uniform, uniform_gaps
        best = jax.lax.top_k(jax.lax.stop_gradient(uniform_gaps), num_hard - 1)[1]
        starts = jnp.concatenate([uniform[best], y[None]])
        if refine is not None:
            fixed = jax.lax.stop_gradient(theta)
            starts = jax.vmap(lambda y0: refine(energy, reg, fixed, y0)[0])(starts)
        hard = jax.lax.stop_gradient(starts)
        hard_gaps = objective(hard) - values[0]
        return jnp.concatenate([uniform, hard]), jnp.concatenate([uniform_gaps, hard_gaps])

    return candidates


def _soft_max_gap(gaps: Array, temperature: float) -> Array:
    """``L_τ = τ log(1 + Σ_j exp(gaps_j/τ))`` (the candidate y has gap 0), and
    ``max(0, max_j gaps_j)`` at τ = 0: :func:`fenchel.candidates.candidate_set_loss` from
    the gaps."""
    gaps = jnp.concatenate([jnp.zeros((1,), gaps.dtype), gaps])
    if temperature == 0:
        return jnp.max(gaps)
    return temperature * jax.nn.logsumexp(gaps / temperature)


def _gfy_softmax_learner(spec: PolicySpec, config: PolicyConfig) -> Learner:
    energy, init = _energy_functions(spec, config)
    reg = _unit_box(config.reg_scale)

    if config.hard_negative_search == "reuse":
        reused = _reused_candidates(energy, reg, config, spec.action_dim)

        def losses_at(temperature: float):
            return _per_example(lambda params, s, y, kk: _soft_max_gap(
                reused(params, s, y, kk)[1], temperature))
    else:
        candidates = _gfy_candidates(energy, reg, config, spec.action_dim)

        def losses_at(temperature: float):
            # L_τ = τ log Σ_j exp((F(c_j) − F(y))/τ) over C = {y} ∪ candidates (c_0 = y).
            return _per_example(lambda params, s, y, kk: fc.candidate_set_loss(
                energy, (params, s), y, candidates(params, s, y, kk),
                temperature=temperature, reg=reg))

    return Learner("gfy-softmax", spec, config, init, _mean(losses_at(config.gfy_temperature)),
                   _batched_act(energy, reg, _act_with(config, _acting_solver(config)),
                                spec.action_dim),
                   _zero_loss_fraction(losses_at(0.0)))


def _ibc_learner(spec: PolicySpec, config: PolicyConfig) -> Learner:
    energy, init = _energy_functions(spec, config)
    k = spec.action_dim
    # Acting maximizes E alone (Ω = 0 on the box): InfoNCE models p(z | s) ∝ exp(E/τ).
    reg = fr.BoxIndicator(lower=-1.0, upper=1.0)
    act_solver = _act_with(config, fm.DerivativeFree(
        num_samples=config.act_samples, iterations=config.act_rounds,
        temperature=config.temperature))

    def one(params, s, y, kk):
        negatives = fl.sample_box(kk, config.negatives, (k,), -1.0, 1.0)
        return fl.info_nce_loss(energy, (params, s), y, negatives,
                                temperature=config.temperature)

    return Learner("ibc", spec, config, init, _mean(_per_example(one)),
                   _batched_act(energy, reg, act_solver, k))


MINMIN_LOCAL_FRACTION = 0.25
"""Share of ``minmin``'s samples drawn near the demonstrated action (the rest uniform)."""

MINMIN_LOCAL_RADIUS = 0.1
"""Half-width of that neighbourhood in the unit box ``[-1, 1]^k``."""


def _defensive_box_samples(key: Array, num: int, y: Array) -> tuple[Array, Array]:
    """``num`` samples of the box ``[-1, 1]^k`` and their log-density under the mixture
    ``q = (1 − ε) Uniform(box) + ε Uniform(box ∩ [y − r, y + r])`` (ε =
    ``MINMIN_LOCAL_FRACTION``, r = ``MINMIN_LOCAL_RADIUS``).

    A fixed ``round(ε num)`` of them come from the local part, the rest from the uniform
    one; weighting every sample by the mixture density keeps ``mean(e^E / q)`` an unbiased
    estimate of ``Z = ∫ e^E`` (deterministic-mixture importance sampling), and q may depend
    on y since it does not depend on the samples. Uniform samples alone almost never land
    on a sharp peak at y, so Z, hence the loss, is underestimated there and E(s, y) grows
    without check; the local part sees the peak.
    """
    k = y.shape[-1]
    local = max(1, round(MINMIN_LOCAL_FRACTION * num)) if num > 1 else 0
    weight = local / num
    low, high = jnp.maximum(y - MINMIN_LOCAL_RADIUS, -1.0), jnp.minimum(y + MINMIN_LOCAL_RADIUS, 1.0)
    uniform_key, local_key = jax.random.split(key)
    wide = jax.random.uniform(uniform_key, (num - local, k), y.dtype, -1.0, 1.0)
    near = jax.random.uniform(local_key, (local, k), y.dtype, low, high)
    samples = jnp.concatenate([wide, near])
    inside = jnp.all((samples >= low) & (samples <= high), axis=-1)
    local_density = jnp.where(inside, jnp.exp(-jnp.sum(jnp.log(high - low))), 0.0)
    log_q = jnp.log((1.0 - weight) * 0.5 ** k + weight * local_density)
    return samples, log_q


def _minmin_learner(spec: PolicySpec, config: PolicyConfig) -> Learner:
    energy, init_energy = _energy_functions(spec, config)
    init_tau, log_partition = _module_functions(
        lambda rngs: MLP(spec.observation_dim, config.hidden, 1, rngs))
    k = spec.action_dim
    # p(z | s) ∝ exp E(s, z) on the box, as for ibc: act by maximizing E alone.
    reg = fr.BoxIndicator(lower=-1.0, upper=1.0)

    def init(seed: int):
        return {"energy": init_energy(seed), "log_partition": init_tau(seed + 1)}

    def one(params, s, y, kk):
        samples, log_q = _defensive_box_samples(kk, config.negatives, y)
        return min_min_loss(energy, (params["energy"], s),
                            log_partition(params["log_partition"], s)[0], y, samples, log_q)

    energy_act = _batched_act(energy, reg, _act_with(config, _acting_solver(config)), k)
    return Learner("minmin", spec, config, init, _mean(_per_example(one)),
                   lambda params, obs, key: energy_act(params["energy"], obs, key))


def _pairwise_learner(spec: PolicySpec, config: PolicyConfig) -> Learner:
    init, apply = _module_functions(
        lambda rngs: PairwiseHead(spec.observation_dim, spec.action_dim, config.hidden, rngs))
    reg = _unit_box(config.reg_scale)
    solver = fm.CoordinateAscent(maxiter=config.pairwise_sweeps, tol=1e-5)
    k = spec.action_dim

    def per_example(params, batch, key):
        obs, z = batch
        one = lambda s, y: fl.gfy_loss(fe.pairwise, reg, apply(params, s), y, solver=solver)
        return jax.vmap(one)(obs, z)

    act_solver = _act_with(config, solver)

    def act(params, obs, key):
        init = jnp.zeros((k,), obs.dtype)
        keys = jax.random.split(key, obs.shape[0])
        return jax.vmap(lambda s, kk: act_solver(fe.pairwise, reg, apply(params, s), init,
                                                 kk)[0])(obs, keys)

    return Learner("gfy-pairwise", spec, config, init, _mean(per_example), act,
                   _zero_loss_fraction(per_example))


_BUILDERS = {"gfy": _gfy_learner, "gfy-pairwise": _pairwise_learner, "mse": _mse_learner,
             "ibc": _ibc_learner, "gfy-softmax": _gfy_softmax_learner,
             "minmin": _minmin_learner}


@functools.lru_cache(maxsize=None)
def make_learner(kind: str, spec: PolicySpec, config: PolicyConfig = PolicyConfig()) -> Learner:
    """The :class:`Learner` of policy ``kind`` on a task (cached: same inputs, same object).

    Args:
      kind: one of ``POLICY_NAMES``.
      spec: observation/action sizes and action box.
      config: hyper-parameters.

    Returns:
      A :class:`Learner` whose ``act`` and ``diagnostics`` are jitted.

    Example:
      >>> import jax
      >>> import jax.numpy as jnp
      >>> from fenchel.imitation.policies import PolicyConfig, PolicySpec, make_learner
      >>> learner = make_learner("mse", PolicySpec(10, 2, 0.0, 1.0), PolicyConfig(hidden=(8,)))
      >>> params = learner.init(0)
      >>> learner.act(params, jnp.zeros((3, 10)), jax.random.key(0)).shape
      (3, 2)
    """
    if kind not in _BUILDERS:
        raise ValueError(f"policy kind must be one of {POLICY_NAMES}, got {kind!r}")
    if not isinstance(spec, PolicySpec):
        raise TypeError(f"spec must be a PolicySpec, got {type(spec).__name__}")
    if not isinstance(config, PolicyConfig):
        raise TypeError(f"config must be a PolicyConfig, got {type(config).__name__}")
    learner = _BUILDERS[kind](spec, config)
    diagnostics = learner.diagnostics and jax.jit(learner.diagnostics)
    return dataclasses.replace(learner, act=jax.jit(learner.act), diagnostics=diagnostics)


# ----------------------------------------------------------------------------- policies


@dataclasses.dataclass(frozen=True)
class Normalizer:
    """Per-feature standardization ``(s − mean) / std`` of observations.

    Example:
      >>> import numpy as np
      >>> from fenchel.imitation.policies import Normalizer
      >>> norm = Normalizer.fit(np.array([[0.0, 1.0], [2.0, 1.0]]))
      >>> norm(np.array([[1.0, 1.0]])).tolist()
      [[0.0, 0.0]]
    """

    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def fit(cls, observations: np.ndarray, min_std: float = 1e-2) -> Normalizer:
        """Mean and standard deviation (floored at ``min_std``) of ``(T, obs_dim)`` rows."""
        observations = np.asarray(observations, np.float64)
        return cls(observations.mean(axis=0).astype(np.float32),
                   np.maximum(observations.std(axis=0), min_std).astype(np.float32))

    def __call__(self, observations: np.ndarray) -> np.ndarray:
        return ((np.asarray(observations, np.float32) - self.mean) / self.std).astype(np.float32)


class Policy:
    """A trained policy: ``policy(observations (n, obs_dim)) -> actions (n, act_dim)``.

    Actions lie in the task's action box. The sampling-based maximizers use the key of
    ``seed`` at every call by default, which makes the policy a deterministic function of the
    observation: where two modes score alike (the multimodal start), nearby observations then
    pick the same one instead of flipping at random from step to step. With
    ``deterministic=False`` each call draws a fresh key. :meth:`reset` is a no-op (the policies
    are memoryless).

    Args:
      learner: the policy kind's functions (:func:`make_learner`).
      params: trained parameters.
      normalizer: the observation standardization used in training.
      seed: seed of the acting keys.
      deterministic: reuse one key for every call.
    """

    def __init__(self, learner: Learner, params: Any, normalizer: Normalizer, seed: int = 0,
                 deterministic: bool = True):
        self.learner = learner
        self.params = params
        self.normalizer = normalizer
        self.deterministic = bool(deterministic)
        self._key = jax.random.key(seed)

    @property
    def kind(self) -> str:
        return self.learner.kind

    @property
    def spec(self) -> PolicySpec:
        return self.learner.spec

    def reset(self, n: int) -> None:
        """Nothing to reset: the policy reads everything from the observation."""

    def __call__(self, observations: np.ndarray) -> np.ndarray:
        batch, single = observation_batch(observations, self.spec.observation_dim,
                                          "observations")
        if self.deterministic:
            key = self._key
        else:
            self._key, key = jax.random.split(self._key)
        z = self.learner.act(self.params, jnp.asarray(self.normalizer(batch)), key)
        action = self.spec.from_unit(np.asarray(z)).astype(np.float32)
        return action[0] if single else action


__all__ = [
    "POLICY_NAMES",
    "TRAIN_SOLVERS",
    "ACTING_SOLVERS",
    "ZERO_LOSS_ATOL",
    "PolicySpec",
    "PolicyConfig",
    "MLP",
    "EnergyMLP",
    "PairwiseHead",
    "Learner",
    "make_learner",
    "Normalizer",
    "Policy",
]

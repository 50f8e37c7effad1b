"""Training and evaluating imitation policies on a task: demonstrations in, metrics out.

A :class:`Task` gathers what training needs of an environment (sizes, action box, scripted
demonstrations, batched evaluation, the oracle); :func:`make_task` builds it from any name of
``fenchel.imitation.envs.ENV_NAMES`` through the task's family
(:class:`~fenchel.imitation.tasks.TaskFamily`), so nothing below is specific to one
environment. :func:`train_policy` fits one policy kind on ``(observation, action)``
pairs; :func:`run_experiment` does demonstrations -> training -> evaluation -> latency, the
unit of ``fenchel imitation train`` and of ``fenchel reproduce imitation``.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import time
from typing import Any, Callable

import jax
import numpy as np
import optax

from fenchel import training
from fenchel.imitation.policies import (
    POLICY_NAMES,
    Normalizer,
    Policy,
    PolicyConfig,
    PolicySpec,
    make_learner,
)

# Demonstrations and evaluation episodes are drawn from disjoint seed streams.
EVAL_SEED_OFFSET = 100_000

DIAGNOSTIC_EVERY = 50
"""Steps between two readings of a GFY-family learner's diagnostics in :func:`train_policy`."""


@dataclasses.dataclass(frozen=True)
class Task:
    """One imitation task.

    Attributes:
      name: the task name (``fenchel.imitation.envs.ENV_NAMES``).
      spec: observation/action sizes and action box.
      demonstrations: ``(n_episodes, seed) -> (observations (T, obs_dim), actions (T, k),
        metadata dict)`` from the scripted oracle.
      evaluate: ``(policy, n_episodes, seed) -> dict`` with at least "success_rate",
        "success_stderr", "mean_return".
      oracle: ``seed -> policy``, the scripted expert (locomotion: the SAC expert).
      metric: what scores a policy: "success_rate" (particle, PointMaze) or "mean_return"
        (locomotion, reported relative to the expert's return on the same episodes).
    """

    name: str
    spec: PolicySpec
    demonstrations: Callable[[int, int], tuple[np.ndarray, np.ndarray, dict[str, Any]]]
    evaluate: Callable[[Any, int, int], dict[str, Any]]
    oracle: Callable[[int], Any]
    metric: str = "success_rate"


def make_task(name: str) -> Task:
    """The :class:`Task` called ``name``.

    Args:
      name: any name of ``fenchel.imitation.envs.ENV_NAMES``: ``particle-<N>d[-multimodal]``,
        ``particle-ibc-<N>d``, ``pointmaze-<maze>``, ``hopper``, ``halfcheetah`` or
        ``walker2d``.

    Returns:
      The task.

    Example:
      >>> from fenchel.imitation.train import make_task
      >>> make_task("particle-2d-multimodal").spec.action_dim
      2
    """
    from fenchel.imitation import demos as _demos
    from fenchel.imitation import tasks as _tasks

    if not isinstance(name, str):
        raise TypeError(f"task name must be a str, got {type(name).__name__}")
    config, family = _tasks._resolve(name, "name")
    low, high = _tasks.action_bounds(config)

    def demonstrations(n_episodes: int, seed: int):
        data = _demos.collect_demonstrations(config, n_episodes, seed)
        return data.observations, data.actions, data.metadata

    return Task(
        name=name,
        spec=PolicySpec(config.observation_dim, config.action_dim, low, high),
        demonstrations=demonstrations,
        evaluate=lambda policy, n, seed: family.evaluate(policy, config, n, seed, None),
        oracle=lambda seed: family.oracle(config, seed),
        metric=family.metric)


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Optimization settings, identical for every policy kind.

    Args:
      steps: gradient steps.
      batch_size: examples per step (drawn with replacement from the demonstrations).
      learning_rate: peak Adam learning rate (cosine decay to 10% over ``steps``).
      weight_decay: decoupled weight decay (AdamW).

    Example:
      >>> from fenchel.imitation.train import TrainConfig
      >>> TrainConfig(steps=10).batch_size
      128
    """

    steps: int = 1500
    batch_size: int = 128
    learning_rate: float = 3e-3
    weight_decay: float = 1e-4

    def __post_init__(self) -> None:
        for name in ("steps", "batch_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        lr, decay = self.learning_rate, self.weight_decay
        if not (isinstance(lr, (int, float)) and math.isfinite(lr) and lr > 0):
            raise ValueError(f"learning_rate must be a positive finite number, got {lr!r}")
        if not (isinstance(decay, (int, float)) and math.isfinite(decay) and decay >= 0):
            raise ValueError(f"weight_decay must be a finite number >= 0, got {decay!r}")

    def optimizer(self) -> optax.GradientTransformation:
        schedule = optax.cosine_decay_schedule(self.learning_rate, self.steps, alpha=0.1)
        return optax.adamw(schedule, weight_decay=self.weight_decay)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@functools.lru_cache(maxsize=None)
def _optimizer(train_config: TrainConfig) -> optax.GradientTransformation:
    # One object per config, so fenchel.training's compiled-step cache is reused across runs.
    return train_config.optimizer()


def train_policy(kind: str, observations: np.ndarray, actions: np.ndarray, spec: PolicySpec,
                 config: PolicyConfig = PolicyConfig(), train_config: TrainConfig = TrainConfig(),
                 seed: int = 0, progress: bool = False, mesh: Any = None,
                 checkpoint_dir: str | None = None) -> tuple[Policy, dict[str, Any]]:
    """Fits a policy of ``kind`` to demonstration pairs by minibatch AdamW.

    Runs :func:`fenchel.training.train` for ``train_config.steps`` steps (every policy kind
    and dataset size gets the same number of gradient steps) over shuffled minibatches of
    ``min(batch_size, T)`` pairs, each step with a fresh PRNG key (for sampled
    counter-examples and randomized inner solvers). Observations are standardized and
    actions mapped to ``[-1, 1]^k`` first.

    Args:
      kind: one of ``POLICY_NAMES``.
      observations: (T, obs_dim) demonstration observations.
      actions: (T, k) expert actions in the action box.
      spec: the task's sizes and box.
      config: policy hyper-parameters.
      train_config: optimization settings.
      seed: seed of the initialization, the minibatches and the keys.
      progress: show a tqdm progress bar.
      mesh: a ``jax.sharding.Mesh`` to train data-parallel over (each minibatch
        sharded along its ``"data"`` axis; see :func:`fenchel.training.train`).
      checkpoint_dir: folder for resumable orbax checkpoints (once per epoch); a
        call that finds one there continues from it to the same parameters.

    Returns:
      ``(policy, history)`` with history ``{"loss": [loss per step], "train_seconds": float}``;
      for the GFY family also ``"zero_loss_fraction"``, the learner's diagnostic
      (:class:`~fenchel.imitation.policies.Learner`: the share of examples whose hard-max
      loss, hence gradient, is zero) on one fixed minibatch of ``min(batch_size, T)``
      demonstration pairs with a fixed key, every ``DIAGNOSTIC_EVERY`` steps and after the
      last, at the steps ``"diagnostic_step"``. Reading them changes nothing in training.

    Example:
      >>> import numpy as np
      >>> from fenchel.imitation.policies import PolicyConfig, PolicySpec
      >>> from fenchel.imitation.train import TrainConfig, train_policy
      >>> spec = PolicySpec(3, 1, 0.0, 1.0)
      >>> policy, _ = train_policy("mse", np.zeros((8, 3)), np.full((8, 1), 0.5), spec,
      ...                          PolicyConfig(hidden=(8,)), TrainConfig(steps=2))
      >>> policy(np.zeros((2, 3))).shape
      (2, 1)
    """
    if kind not in POLICY_NAMES:
        raise ValueError(f"kind must be one of {POLICY_NAMES}, got {kind!r}")
    observations = np.asarray(observations, np.float32)
    actions = np.asarray(actions, np.float32)
    if observations.ndim != 2 or observations.shape[1] != spec.observation_dim:
        raise ValueError(f"observations must have shape (T, {spec.observation_dim}), "
                         f"got {observations.shape}")
    if actions.shape != (observations.shape[0], spec.action_dim):
        raise ValueError(f"actions must have shape ({observations.shape[0]}, {spec.action_dim}), "
                         f"got {actions.shape}")
    if observations.shape[0] == 0:
        raise ValueError("need at least one demonstration pair, got 0")
    for name, values in (("observations", observations), ("actions", actions)):
        bad = ~np.isfinite(values)
        if bad.any():
            raise ValueError(f"{name} has {int(bad.sum())} non-finite values (the first at "
                             f"index {tuple(int(i) for i in np.argwhere(bad)[0])}): training "
                             "on them would diverge")
    learner = make_learner(kind, spec, config)
    normalizer = Normalizer.fit(observations)
    data = (normalizer(observations),
            np.clip(spec.to_unit(actions), -1.0, 1.0).astype(np.float32))
    batch_size = min(train_config.batch_size, observations.shape[0])
    start = time.perf_counter()
    result = training.train(
        learner.loss, learner.init(seed), _optimizer(train_config), data,
        batch_size=batch_size, num_steps=train_config.steps, key=jax.random.key(seed),
        progress=progress, mesh=mesh, checkpoint_dir=checkpoint_dir,
        **_diagnostic_arguments(learner, data, batch_size, seed))
    params = jax.block_until_ready(result.params)  # the last step's, whatever eval_fn read
    seconds = time.perf_counter() - start
    losses = result.history["loss"]
    if not all(math.isfinite(v) for v in losses):
        raise FloatingPointError(f"training {kind} diverged (non-finite loss)")
    policy = Policy(learner, params, normalizer, seed=seed)
    history = {"loss": losses, "train_seconds": seconds}
    if learner.diagnostics is not None:
        history["diagnostic_step"] = result.history["eval_step"]
        history["zero_loss_fraction"] = result.history["zero_loss_fraction"]
    return policy, history


def _diagnostic_arguments(learner, data, batch_size: int, seed: int) -> dict[str, Any]:
    """``eval_fn``/``eval_every`` of :func:`fenchel.training.train` reading the learner's
    diagnostics on one fixed minibatch (none for learners without diagnostics).

    The trainer records only the loss per step; its evaluation hook is the place for other
    metrics. Its best-parameter tracking goes unused: :func:`train_policy` keeps the last.
    """
    if learner.diagnostics is None:
        return {}
    rows = np.random.default_rng(seed).choice(data[0].shape[0], batch_size, replace=False)
    probe = (data[0][rows], data[1][rows])
    key = jax.random.key(seed)
    return {"eval_fn": lambda params: learner.diagnostics(params, probe, key),
            "eval_every": DIAGNOSTIC_EVERY}


def measure_latency(policy: Any, observations: np.ndarray, repeats: int = 20) -> float:
    """Median wall time (milliseconds) of one policy call on a single observation.

    The first call (compilation) is excluded.

    Args:
      policy: a policy callable on (1, obs_dim) batches.
      observations: (T, obs_dim) observations to cycle through.
      repeats: timed calls.

    Returns:
      Milliseconds per action (batch of one).
    """
    observations = np.asarray(observations, np.float32)
    np.asarray(policy(observations[:1]))
    times = []
    for i in range(repeats):
        row = observations[i % observations.shape[0]][None]
        start = time.perf_counter()
        np.asarray(policy(row))
        times.append(time.perf_counter() - start)
    return 1000.0 * float(np.median(times))


OFF_TARGET_RADIUS = 0.1
"""Distance in the unit action box ``[-1, 1]^k`` beyond which an action is off target in
:func:`off_target_rate`: IBC's goal distance (0.05 on its ``[0, 1]`` box), 0.7 of the goal
radius of ``particle-2d`` (``0.05·√2``)."""

OFF_TARGET_PROBE = 1000
"""Demonstration pairs read by :func:`off_target_rate` (a fixed subset when there are more)."""


def off_target_rate(policy: Policy, observations: np.ndarray, actions: np.ndarray,
                    radius: float = OFF_TARGET_RADIUS) -> float:
    """Share of demonstration states where the policy's action is more than ``radius`` from
    the demonstrated one, both mapped to the unit box ``[-1, 1]^k``.

    For an energy policy this is the spurious-peak rate: the states where the acting
    solver lands on a peak of the learned energy away from the demonstrated action. Read on
    the first ``OFF_TARGET_PROBE`` pairs of a fixed permutation (seed 0) of the pairs given.
    In a multimodal task the other mode counts as off target too, so compare policies on the
    same task, not with zero.

    Example:
      >>> import numpy as np
      >>> from fenchel.imitation.train import off_target_rate
      >>> class Half:
      ...     spec = type("Spec", (), {"to_unit": staticmethod(lambda a: 2 * a - 1)})
      ...     def __call__(self, obs): return np.full((len(obs), 1), 0.5, np.float32)
      >>> off_target_rate(Half(), np.zeros((4, 3)), np.array([[0.5], [0.5], [0.52], [0.9]]))
      0.25
    """
    order = np.random.default_rng(0).permutation(len(observations))[:OFF_TARGET_PROBE]
    taken = policy(np.asarray(observations)[order])
    distance = np.linalg.norm(policy.spec.to_unit(taken)
                              - policy.spec.to_unit(np.asarray(actions)[order]), axis=-1)
    return float(np.mean(distance > radius))


def run_experiment(env: str, kind: str, n_demos: int, seed: int = 0,
                   config: PolicyConfig = PolicyConfig(),
                   train_config: TrainConfig = TrainConfig(), eval_episodes: int = 100,
                   progress: bool = False,
                   after_training: Callable[[Policy], None] | None = None,
                   mesh: Any = None, checkpoint_dir: str | None = None,
                   demonstrations: tuple[np.ndarray, np.ndarray, dict] | None = None,
                   ) -> dict[str, Any]:
    """Demonstrations -> training -> evaluation -> latency for one (env, policy, N, seed).

    Demonstrations use ``seed``; evaluation episodes use ``EVAL_SEED_OFFSET + seed`` so they
    never repeat a demonstration's initial state stream, and are the same for every policy.

    Args:
      env: task name (:func:`make_task`).
      kind: policy kind, one of ``POLICY_NAMES``.
      n_demos: demonstration episodes.
      seed: seed of the demonstrations, the training and the evaluation.
      config: policy hyper-parameters.
      train_config: optimization settings.
      eval_episodes: evaluation episodes.
      progress: show a training progress bar.
      after_training: called with the trained policy before evaluation (e.g. to render it).
      mesh: device mesh for data-parallel training (:func:`train_policy`).
      checkpoint_dir: resumable training checkpoints (:func:`train_policy`).
      demonstrations: ``(observations, actions, metadata)`` of ``n_demos`` episodes to
        train on instead of collecting them (e.g. read from a ``collect`` file);
        ``metadata["success_rate"]`` is reported as ``demo_success_rate``.

    Returns:
      A JSON-serializable dict: env, policy, demos, seed, transitions, metric (the task's),
      success_rate,
      success_stderr, mean_return, latency_ms, train_seconds, eval_seconds, final_loss,
      demo_success_rate, off_target_rate (:func:`off_target_rate` on the demonstrations),
      policy_config, train_config; for the GFY family also
      zero_loss_fraction, the last reading of that diagnostic (:func:`train_policy`).
    """
    if isinstance(n_demos, bool) or not isinstance(n_demos, int) or n_demos < 1:
        raise ValueError(f"n_demos must be a positive int, got {n_demos!r}")
    task = make_task(env)
    if demonstrations is None:
        demonstrations = task.demonstrations(n_demos, seed)
    observations, actions, metadata = demonstrations
    policy, history = train_policy(kind, observations, actions, task.spec, config,
                                   train_config, seed=seed, progress=progress, mesh=mesh,
                                   checkpoint_dir=checkpoint_dir)
    if after_training is not None:
        after_training(policy)
    start = time.perf_counter()
    metrics = task.evaluate(policy, eval_episodes, EVAL_SEED_OFFSET + seed)
    eval_seconds = time.perf_counter() - start
    diagnostics = ({"zero_loss_fraction": history["zero_loss_fraction"][-1]}
                   if "zero_loss_fraction" in history else {})
    return {
        "env": env,
        "policy": kind,
        "demos": n_demos,
        "seed": seed,
        "transitions": int(observations.shape[0]),
        "metric": task.metric,
        "success_rate": float(metrics["success_rate"]),
        "success_stderr": float(metrics["success_stderr"]),
        "mean_return": float(metrics["mean_return"]),
        "eval_episodes": int(eval_episodes),
        "latency_ms": measure_latency(policy, observations),
        "off_target_rate": off_target_rate(policy, observations, actions),
        "train_seconds": history["train_seconds"],
        "eval_seconds": eval_seconds,
        "final_loss": history["loss"][-1],
        "demo_success_rate": float(metadata.get("success_rate", float("nan"))),
        "policy_config": config.to_dict(),
        "train_config": train_config.to_dict(),
        **diagnostics,
    }


def evaluate_oracle(env: str, eval_episodes: int = 100, seed: int = 0) -> dict[str, Any]:
    """Success and return of the task's oracle on the evaluation episodes of ``seed``."""
    task = make_task(env)
    metrics = task.evaluate(task.oracle(seed), eval_episodes, EVAL_SEED_OFFSET + seed)
    return {"env": env, "seed": seed, "eval_episodes": int(eval_episodes),
            "success_rate": float(metrics["success_rate"]),
            "mean_return": float(metrics["mean_return"])}


__all__ = [
    "EVAL_SEED_OFFSET",
    "OFF_TARGET_RADIUS",
    "off_target_rate",
    "DIAGNOSTIC_EVERY",
    "Task",
    "make_task",
    "TrainConfig",
    "train_policy",
    "measure_latency",
    "run_experiment",
    "evaluate_oracle",
]

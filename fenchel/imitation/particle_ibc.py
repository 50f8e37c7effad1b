"""Implicit BC's N-D particle task (google-research/ibc ``ParticleEnv``), reproduced in numpy.

The task of the IBC paper's particle result (Florence et al., CoRL 2021, Figure 6; the
README's "IBC ≈ 96 %, MSE ≈ 5 %" on the 2-D task): a point driven by a PD controller toward a
position set-point must go to goal 1, then to goal 2, and be at goal 2 when the episode ends.
Written from IBC's code, not copied; every constant below names the file and the name it was
read from (paths relative to the ibc repository). It differs from
:mod:`fenchel.imitation.particle` (our lenient variant) in what decides the IBC numbers:

===============  =========================================  =============================
                 ``particle-ibc-<N>d`` (this module)        ``particle-<N>d``
===============  =========================================  =============================
observation      ``[pos, vel, goal 1, goal 2]`` × 2 frames  one frame + 2 visited flags
                 (no visited flags)
goal reached     within 0.05 (any N), checked after each    within ``0.05 √N``, at every
                 control step                               substep
success          both goals reached **and** at goal 2 at    both goals visited (episode
                 the end of the 50 steps                    stops there)
oracle switches  once within **0.01** of goal 1             once goal 1 is visited
start and goals  uniform in ``[0, 1]^N``, unconstrained     pairwise ≥ 4 goal radii apart
walls            none (as in IBC)                           inelastic walls at the box
===============  =========================================  =============================

Dynamics (``environments/particle/particle.py``, ``ParticleEnv._internal_step``), repeated
``substeps`` times per control step with the set-point ``a``::

    u        = k_p (a − x) − k_v v
    x_next   = x + dt · v           (explicit Euler: the old velocity)
    v_next   = v + dt · u

after which the least distance to each goal so far is updated with the new position
(``ParticleEnv._get_reward``, once per control step, not per substep). An episode lasts
exactly ``max_steps`` control steps (no early termination). The reward is 1 at the last step
if both goals were reached (``_get_reward``), 0 otherwise; *success* (``ParticleEnv.succeeded``,
the metric of IBC's tables, ``particle_metrics.AverageSuccessMetric``) further requires the
particle to be within ``goal_distance`` of goal 2 at the end. The order of the goals is
implied, not checked: as in IBC, a path goal 2 → goal 1 → goal 2 also succeeds.

Observation: IBC evaluates (``ibc/eval/eval_env.py``, ``HistoryWrapper(history_length=
sequence_length, tile_first_step_obs=True)``) and trains (``data/dataset.py``,
``filter_episodes``) on the last ``sequence_length = 2`` frames, the first frame repeated at
the start of an episode; here the environment does that stacking, so a memoryless policy sees
what IBC's policies see. One frame is ``[position, velocity, goal 1, goal 2]`` (``4 N``
floats, ``ParticleEnv._create_observation_space`` in the order of its docstring), the whole
observation ``history · 4 N`` floats, oldest frame first.
"""

from __future__ import annotations

import dataclasses
import math
import re
from typing import Any, Callable, NamedTuple

import gymnasium
import numpy as np
from gymnasium import spaces

from fenchel.imitation._observations import observation_batch
from fenchel.imitation._rollouts import EpisodeBatch, policy_actions
from fenchel.imitation.particle import MAX_DIM
from fenchel.imitation.tasks import TaskFamily

# --- IBC's constants, each with its source in google-research/ibc --------------------------
#: Control steps per episode: ``ParticleEnv.__init__(n_steps=50)``.
N_STEPS = 50
#: Simulation step (s): ``ParticleEnv.__init__(dt=0.005)`` ("200 Hz").
DT = 0.005
#: Simulation steps per control step: ``ParticleEnv.__init__(repeat_actions=10)`` (20 Hz).
REPEAT_ACTIONS = 10
#: P gain: ``ParticleEnv.__init__(k_p=10.)``.
K_P = 10.0
#: D gain: ``ParticleEnv.__init__(k_v=5.)``.
K_V = 5.0
#: Success radius of both goals, every N: ``ParticleEnv.__init__(goal_distance=0.05)``.
GOAL_DISTANCE = 0.05
#: Oracle's switch radius: ``environments/particle/particle_oracles.py``,
#: ``ParticleOracle.__init__(goal_threshold=0.01)``.
ORACLE_GOAL_THRESHOLD = 0.01
#: Observations within the switch radius before the oracle heads for goal 2:
#: ``ParticleOracle.__init__(wait_at_first_goal=1)``.
ORACLE_WAIT_AT_FIRST_GOAL = 1
#: Frames per observation: ``train_eval.sequence_length = 2`` in
#: ``ibc/configs/particle/mlp_ebm_langevin.gin`` and ``mlp_mse.gin``.
HISTORY = 2
#: Number of goals.
NUM_GOALS = 2

#: IBC's protocol for the particle result, beside the environment. ``demos``:
#: ``ibc/configs/particle/collect_data.sh`` (``--num_episodes=200 --replicas=10``, 10 replica
#: files of 200 oracle episodes); ``hidden``: ``MLPEBM.width = 256``, ``MLPEBM.depth = 2``
#: (``mlp_ebm_langevin.gin``; ``MLPMSE`` the same in ``mlp_mse.gin``), ReLU pre-activation
#: ResNet blocks; ``batch_size``, ``learning_rate``: ``train_eval.batch_size = 512``,
#: ``train_eval.learning_rate = 1e-3``; ``train_steps``: the README's 96 % / 5 % were read
#: after 10k steps; ``counter_examples``: ``ImplicitBCAgent.num_counter_examples = 8``, each
#: refined by Langevin (``fraction_langevin_samples = 1.0``); acting:
#: ``IbcPolicy.num_action_samples = 512``, ``langevin_actions_given_obs.num_iterations = 100``;
#: ``published``: README.md ("partial verified: 96% success, 10k steps, 50 episodes
#: evaluated" for ``run_mlp_ebm_langevin.sh 2``, "5% success, 10k steps, 20 episodes" for
#: ``run_mlp_mse.sh 2``).
IBC_PROTOCOL: dict[str, Any] = {
    "demos": 2000,
    "hidden": (256, 256),
    "batch_size": 512,
    "learning_rate": 1e-3,
    "train_steps": 10_000,
    "counter_examples": 8,
    "langevin_chains": 512,
    "langevin_steps": 100,
    "published": {"particle-ibc-2d": {"ibc": (0.96, 50), "mse": (0.05, 20)}},
}

PARTICLE_IBC_ENV_NAMES: tuple[str, ...] = tuple(
    f"particle-ibc-{dim}d" for dim in range(1, MAX_DIM + 1))
GYMNASIUM_ID = "fenchel/ParticleIBC-v0"
_NAME = re.compile(r"particle-ibc-([1-9][0-9]*)d")


@dataclasses.dataclass(frozen=True)
class IBCParticleConfig:
    """Parameters of IBC's particle task (defaults: IBC's, see the module constants).

    Args:
      dim: dimension N, 1 to 16.
      history: frames per observation (IBC's ``sequence_length``).
      max_steps: control steps per episode (``n_steps``).
      dt: simulation step in seconds.
      substeps: simulation steps per control step (``repeat_actions``).
      k_p: proportional gain.
      k_v: derivative gain.
      goal_distance: success radius of both goals.

    Example:
      >>> from fenchel.imitation.particle_ibc import IBCParticleConfig
      >>> config = IBCParticleConfig(dim=2)
      >>> config.name, config.observation_dim, config.action_dim
      ('particle-ibc-2d', 16, 2)
    """

    dim: int = 2
    history: int = HISTORY
    max_steps: int = N_STEPS
    dt: float = DT
    substeps: int = REPEAT_ACTIONS
    k_p: float = K_P
    k_v: float = K_V
    goal_distance: float = GOAL_DISTANCE

    def __post_init__(self) -> None:
        if isinstance(self.dim, bool) or not isinstance(self.dim, (int, np.integer)) \
                or not 1 <= self.dim <= MAX_DIM:
            raise ValueError(f"dim must be an int in 1..{MAX_DIM}, got {self.dim!r}")
        object.__setattr__(self, "dim", int(self.dim))
        for name in ("history", "max_steps", "substeps"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        for name in ("dt", "k_p", "k_v", "goal_distance"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) \
                    or not math.isfinite(value) or value <= 0:
                raise ValueError(f"{name} must be a positive finite number, got {value!r}")

    @property
    def name(self) -> str:
        """The task name ``particle-ibc-<N>d`` (of the default parameters)."""
        return f"particle-ibc-{self.dim}d"

    @property
    def frame_dim(self) -> int:
        """Length of one frame ``[position, velocity, goal 1, goal 2]``: ``4 N``."""
        return 4 * self.dim

    @property
    def observation_dim(self) -> int:
        """Length of an observation: ``history · 4 N``."""
        return self.history * self.frame_dim

    @property
    def action_dim(self) -> int:
        """Length of an action (a position set-point): ``N``."""
        return self.dim

    action_low = 0.0
    action_high = 1.0

    def to_dict(self) -> dict[str, Any]:
        """Plain dictionary; ``IBCParticleConfig(**d)`` rebuilds the config."""
        return dataclasses.asdict(self)


def parse_particle_ibc_name(name: str) -> IBCParticleConfig | None:
    """The config of ``particle-ibc-<N>d``, or None if ``name`` is not such a name.

    Example:
      >>> from fenchel.imitation.particle_ibc import parse_particle_ibc_name
      >>> parse_particle_ibc_name("particle-ibc-4d").dim, parse_particle_ibc_name("hopper")
      (4, None)
    """
    match = _NAME.fullmatch(name) if isinstance(name, str) else None
    if match is None or not 1 <= int(match.group(1)) <= MAX_DIM:
        return None
    return IBCParticleConfig(dim=int(match.group(1)))


def _as_config(env: IBCParticleConfig | str) -> IBCParticleConfig:
    if isinstance(env, IBCParticleConfig):
        return env
    config = parse_particle_ibc_name(env)
    if config is None:
        raise ValueError(f"unknown IBC particle task {env!r}; valid: particle-ibc-<N>d with "
                         f"N in 1..{MAX_DIM}")
    return config


class IBCParticleState(NamedTuple):
    """State of ``n`` episodes (numpy arrays).

    Attributes:
      position: (n, N) float64.
      velocity: (n, N) float64.
      goals: (n, 2, N) float64, goal 1 then goal 2.
      min_distance: (n, 2) float64 least distance to each goal after a control step so far
        (``inf`` before the first step, as IBC's ``min_dist_to_*_goal``).
      frames: (n, history, 4 N) float64 the last frames, oldest first.
      step_count: (n,) int64 control steps taken.
    """

    position: np.ndarray
    velocity: np.ndarray
    goals: np.ndarray
    min_distance: np.ndarray
    frames: np.ndarray
    step_count: np.ndarray


def _frame(position: np.ndarray, velocity: np.ndarray, goals: np.ndarray) -> np.ndarray:
    n = position.shape[0]
    return np.concatenate([position, velocity, goals.reshape(n, -1)], axis=1)


def particle_ibc_reset(rng: np.random.Generator, n: int,
                       config: IBCParticleConfig) -> IBCParticleState:
    """``n`` initial states: start, goal 1 and goal 2 uniform in ``[0, 1]^N`` (IBC's
    ``ParticleEnv.reset``: three ``rand(n_dim)`` draws, no constraint), velocity 0.

    Example:
      >>> import numpy as np
      >>> from fenchel.imitation.particle_ibc import IBCParticleConfig, particle_ibc_reset
      >>> particle_ibc_reset(np.random.default_rng(0), 3, IBCParticleConfig()).frames.shape
      (3, 2, 8)
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be a positive int, got {n!r}")
    points = rng.uniform(size=(n, 1 + NUM_GOALS, config.dim))
    position, goals = points[:, 0], points[:, 1:]
    velocity = np.zeros_like(position)
    # tile_first_step_obs: the first observation repeats its frame ``history`` times.
    frames = np.repeat(_frame(position, velocity, goals)[:, None], config.history, axis=1)
    return IBCParticleState(position, velocity, goals, np.full((n, NUM_GOALS), np.inf),
                            frames, np.zeros(n, dtype=np.int64))


def particle_ibc_observation(state: IBCParticleState) -> np.ndarray:
    """(n, history · 4 N) float32 observations: the frames, oldest first."""
    return state.frames.reshape(state.frames.shape[0], -1).astype(np.float32)


def particle_ibc_step(state: IBCParticleState, action: np.ndarray,
                      config: IBCParticleConfig) -> tuple[IBCParticleState, np.ndarray]:
    """One control step of every episode toward the set-points ``action`` (n, N).

    The set-point is clipped to the action box ``[0, 1]^N`` (IBC's environment does not clip;
    every policy here acts inside the box, so for them this changes nothing).

    Returns:
      ``(next_state, reward)``, reward (n,) 1.0 at the episode's last step if both goals
      were reached by then (IBC's ``_get_reward``), else 0.

    Example:
      >>> import numpy as np
      >>> from fenchel.imitation.particle_ibc import (IBCParticleConfig, particle_ibc_reset,
      ...                                             particle_ibc_step)
      >>> config = IBCParticleConfig()
      >>> state = particle_ibc_reset(np.random.default_rng(0), 4, config)
      >>> state, reward = particle_ibc_step(state, state.goals[:, 0], config)
      >>> state.step_count.tolist(), reward.shape
      ([1, 1, 1, 1], (4,))
    """
    action = np.asarray(action, dtype=np.float64)
    if action.shape != state.position.shape:
        raise ValueError(f"action must have shape {state.position.shape} (n, dim), "
                         f"got {action.shape}")
    if not np.isfinite(action).all():
        raise ValueError("action must be finite, got NaN or infinite entries")
    set_point = np.clip(action, 0.0, 1.0)
    position, velocity = state.position, state.velocity
    for _ in range(config.substeps):
        force = config.k_p * (set_point - position) - config.k_v * velocity
        position, velocity = position + config.dt * velocity, velocity + config.dt * force
    distance = np.linalg.norm(position[:, None, :] - state.goals, axis=-1)
    min_distance = np.minimum(state.min_distance, distance)
    step_count = state.step_count + 1
    frames = np.concatenate(
        [state.frames[:, 1:], _frame(position, velocity, state.goals)[:, None]], axis=1)
    reached = (min_distance < config.goal_distance).all(axis=1)
    reward = (reached & (step_count == config.max_steps)).astype(np.float64)
    return IBCParticleState(position, velocity, state.goals, min_distance, frames,
                            step_count), reward


def particle_ibc_success(state: IBCParticleState, config: IBCParticleConfig) -> np.ndarray:
    """(n,) bool, IBC's ``ParticleEnv.succeeded``: both goals reached within
    ``goal_distance`` and the particle within it of goal 2 now (read at the episode's end)."""
    at_second = np.linalg.norm(state.position - state.goals[:, 1], axis=-1) \
        < config.goal_distance
    return (state.min_distance < config.goal_distance).all(axis=1) & at_second


class IBCParticleOracle:
    """IBC's scripted expert (``particle_oracles.ParticleOracle``, ordered, not multimodal).

    Its set-point is goal 1 until it has *observed* the particle within ``goal_threshold``
    (0.01) of goal 1 ``wait_at_first_goal`` times (1), then goal 2 for the rest of the episode.
    The count is its memory (:meth:`reset` clears it); the rest is read from the latest frame.

    Args:
      config: the task.
      goal_threshold: switch radius.
      wait_at_first_goal: observations within it before switching.

    Example:
      >>> from fenchel.imitation.particle_ibc import IBCParticleOracle, evaluate_particle_ibc
      >>> oracle = IBCParticleOracle("particle-ibc-2d")
      >>> evaluate_particle_ibc(oracle, "particle-ibc-2d", 100, seed=0)["success_rate"] > 0.9
      True
    """

    def __init__(self, config: IBCParticleConfig | str,
                 goal_threshold: float = ORACLE_GOAL_THRESHOLD,
                 wait_at_first_goal: int = ORACLE_WAIT_AT_FIRST_GOAL):
        self.config = _as_config(config)
        if not (isinstance(goal_threshold, (int, float)) and math.isfinite(goal_threshold)
                and goal_threshold > 0):
            raise ValueError(f"goal_threshold must be a positive finite number, "
                             f"got {goal_threshold!r}")
        if isinstance(wait_at_first_goal, bool) or not isinstance(wait_at_first_goal, int) \
                or wait_at_first_goal < 1:
            raise ValueError(f"wait_at_first_goal must be a positive int, "
                             f"got {wait_at_first_goal!r}")
        self.goal_threshold = float(goal_threshold)
        self.wait_at_first_goal = wait_at_first_goal
        self._steps_at_first_goal: np.ndarray | None = None

    def reset(self, n: int) -> None:
        """Starts ``n`` new episodes (clears the per-episode counts)."""
        self._steps_at_first_goal = np.zeros(n, dtype=np.int64)

    def __call__(self, observation: np.ndarray) -> np.ndarray:
        """(n, N) float32 set-points for (n, history · 4 N) observations (or one)."""
        config = self.config
        batch, single = observation_batch(observation, config.observation_dim)
        n, dim = batch.shape[0], config.dim
        if self._steps_at_first_goal is None or self._steps_at_first_goal.shape[0] != n:
            self.reset(n)
        frame = batch[:, -config.frame_dim:].astype(np.float64)
        position = frame[:, :dim]
        goals = frame[:, 2 * dim:].reshape(n, NUM_GOALS, dim)
        near = np.linalg.norm(position - goals[:, 0], axis=-1) < self.goal_threshold
        self._steps_at_first_goal = self._steps_at_first_goal + near
        second = self._steps_at_first_goal >= self.wait_at_first_goal
        action = np.where(second[:, None], goals[:, 1], goals[:, 0]).astype(np.float32)
        return action[0] if single else action


def particle_ibc_rollout(policy: Callable[[np.ndarray], Any], config: IBCParticleConfig,
                         state: IBCParticleState, record: bool = True) -> EpisodeBatch:
    """Runs ``policy`` from the initial states ``state`` for the ``max_steps`` steps of an
    episode, all episodes in lockstep (calls ``policy.reset(n)`` first if defined).

    Returns:
      An :class:`~fenchel.imitation._rollouts.EpisodeBatch` (every step is active: IBC's
      episodes never end early; ``success`` is :func:`particle_ibc_success` at the end).
    """
    n, steps = state.position.shape[0], config.max_steps
    if hasattr(policy, "reset"):
        policy.reset(n)
    observations = np.zeros((steps, n, config.observation_dim), np.float32) if record else None
    actions = np.zeros((steps, n, config.action_dim), np.float32) if record else None
    rewards = np.zeros((steps, n)) if record else None
    episode_return = np.zeros(n)
    for t in range(steps):
        observation = particle_ibc_observation(state)
        action = policy_actions(policy, observation, config.action_dim)
        state, reward = particle_ibc_step(state, action, config)
        episode_return += reward
        if record:
            observations[t], actions[t], rewards[t] = observation, action, reward
    return EpisodeBatch(observations, actions, rewards, np.ones((steps, n), dtype=bool),
                        particle_ibc_success(state, config), np.full(n, steps),
                        episode_return)


def collect_particle_ibc(policy: Callable[[np.ndarray], Any], config: IBCParticleConfig,
                         n_episodes: int, seed: int | np.random.SeedSequence
                         ) -> tuple[EpisodeBatch]:
    """The recorded rollout of ``n_episodes`` episodes drawn from ``seed``, all in one batch
    (the family's ``collect``)."""
    initial = particle_ibc_reset(np.random.default_rng(seed), n_episodes, config)
    return (particle_ibc_rollout(policy, config, initial),)


def _check_count(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")


def evaluate_particle_ibc(policy: Callable[[np.ndarray], Any], env: IBCParticleConfig | str,
                          n_episodes: int, seed: int = 0,
                          batch_size: int | None = None) -> dict[str, Any]:
    """IBC's success rate of ``policy`` over ``n_episodes`` episodes.

    The initial states depend on ``seed`` only (not on ``batch_size``), so policies
    evaluated with one seed face the same episodes.

    Args:
      policy: maps (n, history · 4 N) observations to (n, N) set-points.
      env: an :class:`IBCParticleConfig` or a name ``particle-ibc-<N>d``.
      n_episodes: number of episodes, at least 1.
      seed: seed of the initial states.
      batch_size: episodes run in lockstep per policy call (default: all of them).

    Returns:
      dict with "success_rate", "success_stderr" (binomial), "mean_return" (the share of
      episodes that reached both goals, IBC's reward), "mean_episode_length",
      "n_episodes", "success" ((n_episodes,) bool).
    """
    config = _as_config(env)
    _check_count("n_episodes", n_episodes)
    batch_size = n_episodes if batch_size is None else batch_size
    _check_count("batch_size", batch_size)
    initial = particle_ibc_reset(np.random.default_rng(seed), n_episodes, config)
    results = [particle_ibc_rollout(
        policy, config, IBCParticleState(*(f[start:start + batch_size] for f in initial)),
        record=False) for start in range(0, n_episodes, batch_size)]
    success = np.concatenate([r.success for r in results])
    rate = float(success.mean())
    return {
        "success_rate": rate,
        "success_stderr": float(np.sqrt(rate * (1 - rate) / n_episodes)),
        "mean_return": float(np.concatenate([r.episode_return for r in results]).mean()),
        "mean_episode_length": float(config.max_steps),
        "n_episodes": int(n_episodes),
        "success": success,
    }


class IBCParticleEnv(gymnasium.Env):
    """Gymnasium view of one episode of IBC's particle task (``fenchel/ParticleIBC-v0``).

    Observation: float32 ``(history · 4 N,)``; action: set-point in ``[0, 1]^N``. Reward 1 at
    the last step if both goals were reached. The episode is ``truncated`` after
    ``max_steps`` steps (never ``terminated``); ``info["success"]`` is IBC's ``succeeded``.

    Example:
      >>> from fenchel.imitation.particle_ibc import IBCParticleEnv
      >>> env = IBCParticleEnv(dim=2)
      >>> env.reset(seed=0)[0].shape
      (16,)
    """

    metadata = {"render_modes": []}

    def __init__(self, dim: int = 2, render_mode: str | None = None, **config_kwargs: Any):
        if render_mode is not None:
            raise ValueError(f"render_mode must be None (no rendering), got {render_mode!r}")
        self.config = IBCParticleConfig(dim=dim, **config_kwargs)
        shape = (self.config.observation_dim,)
        self.observation_space = spaces.Box(-np.inf, np.inf, shape=shape, dtype=np.float32)
        self.action_space = spaces.Box(0.0, 1.0, shape=(self.config.dim,), dtype=np.float32)
        self.render_mode = render_mode
        self._state: IBCParticleState | None = None

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        self._state = particle_ibc_reset(self.np_random, 1, self.config)
        return particle_ibc_observation(self._state)[0], {"success": False}

    def step(self, action):
        if self._state is None:
            raise RuntimeError("call reset() before step()")
        action = np.asarray(action, dtype=np.float64)
        if action.shape != (self.config.dim,):
            raise ValueError(f"action must have shape ({self.config.dim},), got {action.shape}")
        self._state, reward = particle_ibc_step(self._state, action[None], self.config)
        truncated = int(self._state.step_count[0]) >= self.config.max_steps
        info = {"success": bool(particle_ibc_success(self._state, self.config)[0]),
                "min_distance": self._state.min_distance[0].copy()}
        return (particle_ibc_observation(self._state)[0], float(reward[0]), False, truncated,
                info)


if GYMNASIUM_ID not in gymnasium.registry:
    gymnasium.register(id=GYMNASIUM_ID, entry_point="fenchel.imitation.particle_ibc:IBCParticleEnv")


#: IBC's particle task family: ``particle-ibc-<N>d``, N in 1..16, scored by IBC's success.
#: The oracle (:class:`IBCParticleOracle`) is deterministic.
TASK_FAMILY = TaskFamily(
    name="particle-ibc",
    names=PARTICLE_IBC_ENV_NAMES,
    parse=parse_particle_ibc_name,
    config_class=IBCParticleConfig,
    oracle=lambda config, seed: IBCParticleOracle(config),
    collect=collect_particle_ibc,
    evaluate=evaluate_particle_ibc,
)


__all__ = [
    "N_STEPS", "DT", "REPEAT_ACTIONS", "K_P", "K_V", "GOAL_DISTANCE", "ORACLE_GOAL_THRESHOLD",
    "ORACLE_WAIT_AT_FIRST_GOAL", "HISTORY", "IBC_PROTOCOL", "PARTICLE_IBC_ENV_NAMES",
    "IBCParticleConfig", "parse_particle_ibc_name", "IBCParticleState", "particle_ibc_reset",
    "particle_ibc_observation", "particle_ibc_step", "particle_ibc_success",
    "IBCParticleOracle", "particle_ibc_rollout", "collect_particle_ibc", "evaluate_particle_ibc",
    "IBCParticleEnv", "TASK_FAMILY",
]

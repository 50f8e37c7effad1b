"""Locomotion experts: SAC policies the project trains itself, stored as small weight files.

The locomotion tasks (Hopper, HalfCheetah, Walker2d of ``gymnasium[mujoco]``) have no scripted
oracle, so their demonstrations come from Soft Actor-Critic policies trained once by
:func:`train_sac_expert` (``fenchel imitation train-expert``), with the JAX implementation of
Stable-Baselines3 (``sbx-rl``, an optional dependency: ``pip install -e ".[experts]"``).
Only the actor's deterministic action is kept,

    a(s) = tanh(W₃ relu(W₂ relu(W₁ s + b₁) + b₂) + b₃)        (the mode of the squashed Gaussian),

as a compressed ``.npz`` of its layers with the training metadata (environment, seed, steps,
the evaluation return, library versions): :class:`MLPExpert` runs it with numpy, so collecting
demonstrations needs neither SAC nor its dependencies.

Example:
  >>> import numpy as np
  >>> from fenchel.imitation.experts import MLPExpert
  >>> expert = MLPExpert([np.eye(2, dtype=np.float32)], [np.zeros(2, np.float32)], {})
  >>> expert(np.array([[0.0, 100.0]])).round(3).tolist()
  [[0.0, 1.0]]
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import time
import warnings
from typing import Any, Iterator, Sequence

import gymnasium
import mujoco
import numpy as np

from fenchel.infra._io import atomic_file, atomic_path, output_lock, write_json_atomic
from fenchel.infra._settings import SettingsMismatchError
from fenchel.training import CheckpointError
from fenchel.imitation._rollouts import lockstep_rollout

#: Expert weight files shipped with the package, one per locomotion task.
EXPERT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "expert_weights")


@dataclasses.dataclass(frozen=True)
class SACConfig:
    """Soft Actor-Critic settings of the experts (the sbx defaults, except where noted).

    Args:
      timesteps: environment steps of training.
      learning_starts: uniformly random steps before the first update (sbx: 100; MuJoCo
        practice is thousands).
      train_freq: environment steps between updates; each update does as many gradient
        steps (one gradient step per environment step, batched to cut Python overhead).
      net_arch: hidden sizes of the actor and the critics.
      chunk: environment steps between checkpoints (resumable training).
      eval_episodes: episodes of the final evaluation of the exported actor.
    """

    timesteps: int = 100_000
    learning_starts: int = 5_000
    train_freq: int = 16
    net_arch: tuple[int, ...] = (256, 256)
    chunk: int = 10_000
    eval_episodes: int = 10

    def __post_init__(self) -> None:
        for name in ("timesteps", "learning_starts", "train_freq", "chunk", "eval_episodes"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        object.__setattr__(self, "net_arch", tuple(int(n) for n in self.net_arch))


@contextlib.contextmanager
def _mujoco_warnings_as_python() -> Iterator[None]:
    # MuJoCo 4 warns that gymnasium's half_cheetah.xml uses the deprecated `settotalmass`, and
    # by default appends every warning to MUJOCO_LOG.TXT in the working directory.
    previous = mujoco.get_mju_user_warning()
    mujoco.set_mju_user_warning(
        lambda message: warnings.warn(f"MuJoCo: {message}", DeprecationWarning, stacklevel=2))
    try:
        yield
    finally:
        mujoco.set_mju_user_warning(previous)


def make_mujoco_env(env_id: str, **kwargs: Any) -> gymnasium.Env:
    """``gymnasium.make(env_id, **kwargs)``, with MuJoCo's warnings while building the model
    turned into Python ``DeprecationWarning``s instead of lines appended to
    ``MUJOCO_LOG.TXT`` in the working directory."""
    with _mujoco_warnings_as_python():
        return gymnasium.make(env_id, **kwargs)


class MLPExpert:
    """Deterministic MLP policy ``a = tanh(f(s))`` with ReLU hidden layers (numpy).

    Args:
      kernels: ``[(in, h₁), ..., (h_L, k)]`` weight matrices.
      biases: matching bias vectors.
      metadata: how the weights were made (free-form JSON-serializable dict).

    Calling it maps observations ``(n, obs_dim)`` (or one ``(obs_dim,)``) to actions in
    ``[-1, 1]^k``. :meth:`reset` is a no-op, like the other memoryless policies.
    """

    def __init__(self, kernels: Sequence[np.ndarray], biases: Sequence[np.ndarray],
                 metadata: dict[str, Any]):
        if len(kernels) != len(biases) or not kernels:
            raise ValueError(f"need as many kernels as biases (≥ 1), got {len(kernels)} and "
                             f"{len(biases)}")
        for i, (w, b) in enumerate(zip(kernels, biases)):
            if w.ndim != 2 or b.shape != (w.shape[1],):
                raise ValueError(f"layer {i}: kernel {w.shape} and bias {b.shape} do not match")
            if i and w.shape[0] != kernels[i - 1].shape[1]:
                raise ValueError(f"layer {i} takes {w.shape[0]} inputs, layer {i - 1} gives "
                                 f"{kernels[i - 1].shape[1]}")
        self.kernels = [np.asarray(w, np.float32) for w in kernels]
        self.biases = [np.asarray(b, np.float32) for b in biases]
        self.metadata = dict(metadata)

    @property
    def observation_dim(self) -> int:
        return self.kernels[0].shape[0]

    @property
    def action_dim(self) -> int:
        return self.kernels[-1].shape[1]

    def reset(self, n: int) -> None:
        """Nothing to reset."""

    def __call__(self, observations: np.ndarray) -> np.ndarray:
        x = np.asarray(observations, np.float32)
        single = x.ndim == 1
        x = np.atleast_2d(x)
        if x.ndim != 2 or x.shape[1] != self.observation_dim:
            raise ValueError(f"observations must have shape (n, {self.observation_dim}) or "
                             f"({self.observation_dim},), got {np.shape(observations)}")
        for w, b in zip(self.kernels[:-1], self.biases[:-1]):
            x = np.maximum(x @ w + b, 0.0)
        action = np.tanh(x @ self.kernels[-1] + self.biases[-1])
        return action[0] if single else action


def save_expert(path: str | os.PathLike, expert: MLPExpert) -> None:
    """Writes ``expert`` to a compressed ``.npz`` (atomically)."""
    arrays = {f"kernel_{i}": w for i, w in enumerate(expert.kernels)}
    arrays.update({f"bias_{i}": b for i, b in enumerate(expert.biases)})
    arrays["metadata"] = np.array(json.dumps(expert.metadata, sort_keys=True))
    with atomic_file(path, "wb") as file:
        np.savez_compressed(file, **arrays)


def load_expert(path: str | os.PathLike) -> MLPExpert:
    """Reads an expert written by :func:`save_expert`."""
    with np.load(path, allow_pickle=False) as data:
        layers = sum(1 for name in data.files if name.startswith("kernel_"))
        try:
            kernels = [data[f"kernel_{i}"] for i in range(layers)]
            biases = [data[f"bias_{i}"] for i in range(layers)]
            metadata = json.loads(str(data["metadata"]))
        except KeyError as err:
            raise ValueError(f"{path} is not an expert file: missing {err}") from None
    return MLPExpert(kernels, biases, metadata)


def expert_path(env_id: str) -> str:
    """The shipped weight file of the expert for gymnasium id ``env_id``."""
    return os.path.join(EXPERT_DIR, f"{env_id.lower()}.npz")


def _actor_expert(model, metadata: dict[str, Any]) -> MLPExpert:
    """The deterministic actor of an sbx SAC model (layers ``Dense_0..L``; the next Dense is
    the log-std head, not used by the mode ``tanh(mean)``)."""
    params = model.policy.actor_state.params["params"]
    layers = len(model.policy.net_arch_pi) + 1
    kernels = [np.asarray(params[f"Dense_{i}"]["kernel"]) for i in range(layers)]
    biases = [np.asarray(params[f"Dense_{i}"]["bias"]) for i in range(layers)]
    return MLPExpert(kernels, biases, metadata)


def episode_returns(policy, env_id: str, n_episodes: int, seed: int) -> np.ndarray:
    """Undiscounted returns of ``policy`` over ``n_episodes`` episodes (resets seeded
    ``seed, seed + 1, ...``), run in lockstep with one environment per episode."""
    envs = [make_mujoco_env(env_id) for _ in range(n_episodes)]
    try:
        batch = lockstep_rollout(policy, envs, range(seed, seed + n_episodes),
                                 envs[0].spec.max_episode_steps, envs[0].action_space.shape[0],
                                 record=False)
    finally:
        for env in envs:
            env.close()
    return batch.episode_return


def train_sac_expert(env_id: str, out: str | os.PathLike, seed: int = 0,
                     config: SACConfig = SACConfig(), work_dir: str | os.PathLike | None = None,
                     progress: bool = True) -> MLPExpert:
    """Trains a SAC expert on ``env_id`` and writes its actor to ``out``.

    Training runs in chunks of ``config.chunk`` steps; after each the model and its replay
    buffer are saved to ``work_dir`` (default ``out`` + ``".work"``), and a call that finds
    them there continues where they stopped (also to train an expert longer: call again with
    more ``timesteps``). State of another environment, seed or SAC setting is refused. The
    exported actor is evaluated over ``config.eval_episodes`` episodes (resets seeded
    ``10_000 + seed, ...``); the returns go into its metadata.

    Args:
      env_id: a gymnasium id, e.g. ``"Hopper-v5"``.
      out: the ``.npz`` to write.
      seed: seed of SAC and of the environment.
      config: SAC settings.
      work_dir: folder of the resumable training state.
      progress: print one line per chunk.

    Returns:
      The exported :class:`MLPExpert`.
    """
    try:
        import sbx
        import stable_baselines3
    except ImportError as err:
        raise ImportError("training the SAC experts needs the optional dependencies: "
                          'pip install -e ".[experts]"') from err

    work_dir = os.fspath(work_dir if work_dir is not None else os.fspath(out) + ".work")
    with output_lock(work_dir, what="work folder (--out FILE keeps it in FILE.work)"):
        return _train_sac_expert(env_id, out, seed, config, work_dir, progress, sbx,
                                 stable_baselines3)


def _train_sac_expert(env_id, out, seed, config, work_dir, progress, sbx,
                      stable_baselines3) -> MLPExpert:
    os.makedirs(work_dir, exist_ok=True)
    model_file = os.path.join(work_dir, "model.zip")
    buffer_file = os.path.join(work_dir, "replay_buffer.pkl")
    state_file = os.path.join(work_dir, "state.json")
    # What the saved state depends on; the step budget may grow between calls (train longer).
    identity = {"env_id": env_id, "seed": seed, "learning_starts": config.learning_starts,
                "train_freq": config.train_freq, "net_arch": list(config.net_arch)}

    env = make_mujoco_env(env_id)
    elapsed = 0.0
    if os.path.exists(state_file):
        try:
            with open(state_file) as f:
                state = json.load(f)
            stored = state["identity"]
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise CheckpointError(f"the training state {state_file} cannot be read "
                                  f"({type(err).__name__}: {err}); delete {work_dir} to train "
                                  "from scratch") from err
        if stored != identity:
            raise SettingsMismatchError(f"{work_dir} holds the training state of another run: "
                                        f"{stored} (this run: {identity})")
        model = sbx.SAC.load(model_file, env=env)
        model.load_replay_buffer(buffer_file)
        elapsed = state["seconds"]
    else:
        model = sbx.SAC("MlpPolicy", env, seed=seed, verbose=0,
                        learning_starts=config.learning_starts, train_freq=config.train_freq,
                        gradient_steps=config.train_freq,
                        policy_kwargs={"net_arch": list(config.net_arch)})
    while model.num_timesteps < config.timesteps:
        start = time.perf_counter()
        steps = min(config.chunk, config.timesteps - model.num_timesteps)
        model.learn(steps, reset_num_timesteps=False)
        elapsed += time.perf_counter() - start
        with atomic_path(model_file) as tmp:
            model.save(tmp)
        with atomic_path(buffer_file) as tmp:
            model.save_replay_buffer(tmp)
        write_json_atomic(state_file, {"identity": identity, "seconds": elapsed,
                                       "timesteps": model.num_timesteps})
        if progress:
            recent = [info["r"] for info in model.ep_info_buffer]
            print(f"{env_id} seed={seed} steps={model.num_timesteps} "
                  f"train_return(last {len(recent)})={np.mean(recent) if recent else float('nan'):.1f} "
                  f"elapsed={elapsed:.0f}s", flush=True)
    env.close()

    metadata = {"env_id": env_id, "seed": seed, "algorithm": "SAC (sbx)",
                "sac_config": dataclasses.asdict(config), "train_seconds": round(elapsed, 1),
                "versions": {"sbx-rl": sbx.__version__,
                             "stable-baselines3": stable_baselines3.__version__,
                             "gymnasium": gymnasium.__version__}}
    expert = _actor_expert(model, metadata)
    returns = episode_returns(expert, env_id, config.eval_episodes, 10_000 + seed)
    expert.metadata.update({"eval_episodes": int(returns.size),
                            "eval_return_mean": float(returns.mean()),
                            "eval_return_std": float(returns.std())})
    save_expert(out, expert)
    return expert


__all__ = ["EXPERT_DIR", "SACConfig", "make_mujoco_env", "MLPExpert", "save_expert",
           "load_expert", "expert_path", "episode_returns", "train_sac_expert"]

"""Rollout animations (GIF) of a policy on the 2-D particle task.

Each panel is one episode: the unit box, the two goals (circles of the goal radius, filled once
visited), the particle's trail and its current set-point (the policy's action, a cross).
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from fenchel.infra._io import atomic_path
from fenchel.imitation.particle import ParticleConfig, particle_reset
from fenchel.imitation.particle_task import rollout_from_state
from fenchel.imitation.tasks import env_name, make_env_config

_GOAL_COLORS = ("tab:orange", "tab:green")


def render_particle_gif(policy: Any, path: str | os.PathLike,
                        env: str | ParticleConfig = "particle-2d-multimodal",
                        n_episodes: int = 4, seed: int = 0, fps: int = 10,
                        title: str | None = None) -> dict[str, Any]:
    """Rolls ``policy`` out on ``n_episodes`` 2-D particle episodes and writes a GIF.

    The file is written atomically (temporary file in the same directory, then renamed).

    Args:
      policy: maps (n, 10) observations to (n, 2) set-points (``reset(n)`` called if defined).
      path: destination ``.gif``; its directory is created if needed.
      env: a 2-D particle task name or config.
      n_episodes: episodes shown side by side (1 to 8).
      seed: seed of the initial states.
      fps: frames (control steps) per second.
      title: figure title (default: the policy's ``kind`` or class name).

    Returns:
      dict with "path", "frames" and "success" (list of bools, one per episode).

    Example:
      >>> from fenchel.imitation.oracles import ParticleOracle
      >>> from fenchel.imitation.envs import make_env_config
      >>> from fenchel.imitation.render import render_particle_gif
      >>> config = make_env_config("particle-2d-multimodal")
      >>> render_particle_gif(ParticleOracle(config), "/tmp/oracle.gif", config)["frames"] > 0
      True
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.animation import FuncAnimation, PillowWriter

    config = make_env_config(env) if isinstance(env, str) else env
    if not isinstance(config, ParticleConfig) or config.dim != 2:
        raise ValueError(f"env must be a 2-D particle task, got {env!r}")
    if isinstance(n_episodes, bool) or not isinstance(n_episodes, int) or not 1 <= n_episodes <= 8:
        raise ValueError(f"n_episodes must be an int in 1..8, got {n_episodes!r}")
    state = particle_reset(np.random.default_rng(seed), n_episodes, config)
    positions = [state.position.copy()]

    class _Recorder:
        """Wraps the policy to record positions along with the recorded actions."""

        def reset(self, n):
            if hasattr(policy, "reset"):
                policy.reset(n)

        def __call__(self, observation):
            positions.append(observation[:, :2].copy())
            return policy(observation)

    rollout = rollout_from_state(_Recorder(), config, state, record=True)
    steps = int(rollout.active.any(axis=1).sum())
    frames = max(steps, 1)
    actions = rollout.actions[:frames]
    trail = np.stack(positions[1:frames + 1] if steps else positions[:1])  # (frames, n, 2)
    visit_step = rollout.visit_step
    name = title or getattr(policy, "kind", type(policy).__name__)

    fig, axes = plt.subplots(1, n_episodes, figsize=(2.4 * n_episodes, 2.7), squeeze=False)
    axes = axes[0]
    artists = []
    for i, ax in enumerate(axes):
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.set_aspect("equal")
        ax.set_xticks([])
        ax.set_yticks([])
        goals = []
        for g, color in enumerate(_GOAL_COLORS):
            circle = plt.Circle(state.goals[i, g], config.goal_radius, color=color, fill=False, lw=2)
            ax.add_patch(circle)
            goals.append(circle)
        (line,) = ax.plot([], [], "-", color="tab:blue", lw=1)
        (dot,) = ax.plot([], [], "o", color="tab:blue", ms=6)
        (target,) = ax.plot([], [], "x", color="black", ms=7, mew=2)
        ok = bool(rollout.success[i])
        ax.set_title("success" if ok else "failure", fontsize=9,
                     color="tab:green" if ok else "tab:red")
        artists.append((goals, line, dot, target))
    fig.suptitle(f"{name} on {env_name(config)}", fontsize=10)
    fig.tight_layout()

    def draw(t):
        changed = []
        for i, (goals, line, dot, target) in enumerate(artists):
            line.set_data(trail[:t + 1, i, 0], trail[:t + 1, i, 1])
            dot.set_data(trail[t:t + 1, i, 0], trail[t:t + 1, i, 1])
            if rollout.active[min(t, frames - 1), i]:
                target.set_data(actions[t:t + 1, i, 0], actions[t:t + 1, i, 1])
            for g, circle in enumerate(goals):
                circle.set_fill(0 < visit_step[i, g] <= t + 1)
            changed += [line, dot, target, *goals]
        return changed

    path = os.fspath(path)
    try:
        with atomic_path(path) as tmp_path:
            FuncAnimation(fig, draw, frames=frames, blit=False).save(
                tmp_path, writer=PillowWriter(fps=fps))
    finally:
        plt.close(fig)
    return {"path": path, "frames": frames, "success": [bool(s) for s in rollout.success]}


__all__ = ["render_particle_gif"]

"""PointMaze tasks (gymnasium-robotics): flat observations, grid-planning oracle, batched rollouts.

A force-actuated ball (radius 0.1, MuJoCo, control step 0.01 s) must reach a goal in a maze of
unit cells (``PointMaze_{UMaze,Medium,Large}-v3`` of gymnasium-robotics, D4RL's maps). Each
episode draws a goal cell and a different start cell uniformly among the free cells, each
jittered by up to 0.25 per coordinate; the episode ends (``terminated``) at success, the ball
within 0.45 of the goal (``continuing_task=False``), or is truncated after ``max_steps`` steps.

Flat observation (6 float32), :data:`OBSERVATION_FIELDS`::

    [x, y, vx, vy, goal_x, goal_y]

i.e. the env's ``observation`` (ball position and velocity) followed by its ``desired_goal``;
``achieved_goal`` is dropped since it repeats ``x, y``. Action: force in ``[-1, 1]^2``
(float32 ``(2,)``, clipped by the env; times 100 N on the ~4.2 kg ball). Reward: the env's
sparse reward, 1 on the (terminal) success step and 0 otherwise, so a return is 1 exactly on
success.

The scripted :class:`PointMazeOracle` plans a shortest path on the maze grid (breadth-first
distances between free cells, 4-connected) and steers toward the next cell's centre with a
PD controller. Where several neighbours lie on shortest paths it picks one by per-episode
random keys, so demonstrations of the same start and goal go around a wall either way when
both ways are equally short (the Medium and Large mazes have such loops; the U-maze has none).

Batched rollouts step a list of environments in lockstep, one per episode of a batch, from a
pool kept per process and maze: building one takes 0.1-0.2 s (gymnasium-robotics compiles its
MuJoCo model from XML) and holds ~12 MiB; :func:`close_pointmaze_envs` releases them.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any, Callable, Sequence

import gymnasium
import numpy as np
from gymnasium import spaces

from fenchel.imitation._observations import observation_batch
from fenchel.imitation._rollouts import (
    EpisodeBatch,
    lockstep_rollout,
    run_in_batches,
    seeded_batches,
)
from fenchel.imitation.tasks import TaskFamily

MAZE_NAMES: tuple[str, ...] = ("umaze", "medium", "large")
POINTMAZE_ENV_NAMES: tuple[str, ...] = tuple(f"pointmaze-{maze}" for maze in MAZE_NAMES)
OBSERVATION_FIELDS: tuple[str, ...] = ("x", "y", "vx", "vy", "goal_x", "goal_y")
GYMNASIUM_ID = "fenchel/PointMaze-v0"
SUCCESS_DISTANCE = 0.45  # gymnasium-robotics' success threshold (not configurable there)
# Default episode length per maze: the oracle's longest episodes of 1000 take 113 (U-maze), 168
# (Medium) and 321 (Large) steps (means 47, 75, 141), so these leave 1.5-1.8x headroom while
# making failing policies cheaper to evaluate than gymnasium-robotics' 300, 600 and 800.
DEFAULT_MAX_STEPS: dict[str, int] = {"umaze": 200, "medium": 300, "large": 500}
_GYMNASIUM_MAZE_IDS = {"umaze": "PointMaze_UMaze-v3", "medium": "PointMaze_Medium-v3",
                       "large": "PointMaze_Large-v3"}
# 4-connected grid moves as (row, column) offsets; their order is the deterministic tie-break.
_MOVES = np.array([[-1, 0], [0, 1], [1, 0], [0, -1]])

Policy = Callable[[np.ndarray], Any]


@dataclasses.dataclass(frozen=True)
class PointMazeConfig:
    """Parameters of a PointMaze task.

    Args:
      maze: one of ``MAZE_NAMES`` ("umaze", "medium", "large").
      max_steps: control steps before truncation; default ``DEFAULT_MAX_STEPS[maze]``.

    Example:
      >>> from fenchel.imitation.pointmaze import PointMazeConfig
      >>> PointMazeConfig("medium").max_steps, PointMazeConfig("medium").observation_dim
      (300, 6)
    """

    maze: str = "medium"
    max_steps: int | None = None

    def __post_init__(self) -> None:
        if self.maze not in MAZE_NAMES:
            raise ValueError(f"maze must be one of {MAZE_NAMES}, got {self.maze!r}")
        if self.max_steps is None:
            object.__setattr__(self, "max_steps", DEFAULT_MAX_STEPS[self.maze])
        if isinstance(self.max_steps, bool) or not isinstance(self.max_steps, (int, np.integer)) \
                or self.max_steps < 1:
            raise ValueError(f"max_steps must be a positive int, got {self.max_steps!r}")
        object.__setattr__(self, "max_steps", int(self.max_steps))

    @property
    def name(self) -> str:
        """The task name, ``"pointmaze-<maze>"``."""
        return f"pointmaze-{self.maze}"

    @property
    def observation_dim(self) -> int:
        """Length of a flat observation: 6."""
        return len(OBSERVATION_FIELDS)

    @property
    def action_dim(self) -> int:
        """Length of an action (a 2-D force): 2."""
        return 2

    @property
    def action_low(self) -> float:
        """Lower bound of every action coordinate: -1."""
        return -1.0

    @property
    def action_high(self) -> float:
        """Upper bound of every action coordinate: 1."""
        return 1.0

    @property
    def maze_map(self) -> list[list[int | str]]:
        """The gymnasium-robotics map (rows of 1 = wall, 0 = free)."""
        from gymnasium_robotics.envs.maze import maps

        return {"umaze": maps.U_MAZE, "medium": maps.MEDIUM_MAZE,
                "large": maps.LARGE_MAZE}[self.maze]

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-serializable dictionary; ``PointMazeConfig(**d)`` rebuilds the config."""
        return dataclasses.asdict(self)


def parse_pointmaze_name(name: str) -> PointMazeConfig | None:
    """The config named ``"pointmaze-<maze>"``, or None if ``name`` is not such a name.

    Example:
      >>> from fenchel.imitation.pointmaze import parse_pointmaze_name
      >>> parse_pointmaze_name("pointmaze-large").maze
      'large'
    """
    if isinstance(name, str) and name in POINTMAZE_ENV_NAMES:
        return PointMazeConfig(maze=name.removeprefix("pointmaze-"))
    return None


# ----------------------------------------------------------------------------- grid geometry


@dataclasses.dataclass(frozen=True)
class MazeGrid:
    """Free cells of a maze and the map between cells ``(row, col)`` and positions ``(x, y)``.

    Same convention as gymnasium-robotics' ``Maze``: unit cells scaled by ``scaling``, the
    maze centred at the origin, row 0 at the top (largest y)::

        x = (col + 0.5) * scaling - width * scaling / 2
        y = height * scaling / 2 - (row + 0.5) * scaling

    Attributes:
      free: (rows, cols) bool, True for cells the ball can occupy (map entry other than 1).
      scaling: cell side length.

    Example:
      >>> import numpy as np
      >>> from fenchel.imitation.pointmaze import MazeGrid
      >>> grid = MazeGrid.from_map([[1, 1, 1], [1, 0, 1], [1, 1, 1]])
      >>> grid.cell_center(np.array([1, 1])).tolist()
      [0.0, 0.0]
    """

    free: np.ndarray
    scaling: float = 1.0

    @classmethod
    def from_map(cls, maze_map: Sequence[Sequence[int | str]], scaling: float = 1.0) -> MazeGrid:
        """Grid of a gymnasium-robotics map (1 = wall; 0, "r", "g", "c" = free)."""
        rows = {len(row) for row in maze_map}
        if len(rows) != 1:
            raise ValueError(f"maze_map rows must all have the same length, got lengths {rows}")
        free = np.array([[cell != 1 for cell in row] for row in maze_map], dtype=bool)
        return cls(free=free, scaling=float(scaling))

    @property
    def shape(self) -> tuple[int, int]:
        """``(rows, cols)``."""
        return self.free.shape

    def cell_center(self, cell: np.ndarray) -> np.ndarray:
        """Centres ``(..., 2)`` (x, y) of integer cells ``(..., 2)`` (row, col)."""
        cell = np.asarray(cell)
        rows, cols = self.shape
        x = (cell[..., 1] + 0.5 - cols / 2) * self.scaling
        y = (rows / 2 - cell[..., 0] - 0.5) * self.scaling
        return np.stack([x, y], axis=-1)

    def cell_of(self, xy: np.ndarray) -> np.ndarray:
        """Integer cells ``(..., 2)`` (row, col) containing positions ``(..., 2)`` (x, y).

        Positions outside the maze map to the nearest border cell.
        """
        xy = np.asarray(xy, dtype=np.float64)
        rows, cols = self.shape
        row = np.floor(rows / 2 - xy[..., 1] / self.scaling).astype(np.int64)
        col = np.floor(xy[..., 0] / self.scaling + cols / 2).astype(np.int64)
        return np.stack([np.clip(row, 0, rows - 1), np.clip(col, 0, cols - 1)], axis=-1)


def grid_distances(free: np.ndarray, goal: Sequence[int]) -> np.ndarray:
    """Breadth-first number of moves from every cell to ``goal`` on a 4-connected grid.

    Args:
      free: (rows, cols) bool, True for passable cells.
      goal: (row, col) of a free cell.

    Returns:
      (rows, cols) int64 shortest move counts; -1 for walls and cells that cannot reach the goal.

    Example:
      >>> import numpy as np
      >>> from fenchel.imitation.pointmaze import grid_distances
      >>> grid_distances(np.ones((2, 3), bool), (0, 0)).tolist()
      [[0, 1, 2], [1, 2, 3]]
    """
    free = np.asarray(free, dtype=bool)
    rows, cols = free.shape
    goal = (int(goal[0]), int(goal[1]))
    if not (0 <= goal[0] < rows and 0 <= goal[1] < cols and free[goal]):
        raise ValueError(f"goal must be a free cell of the {rows}x{cols} grid, got {goal}")
    distance = np.full((rows, cols), -1, dtype=np.int64)
    distance[goal] = 0
    frontier = [goal]
    while frontier:
        following = []
        for row, col in frontier:
            for d_row, d_col in _MOVES:
                r, c = row + d_row, col + d_col
                if 0 <= r < rows and 0 <= c < cols and free[r, c] and distance[r, c] < 0:
                    distance[r, c] = distance[row, col] + 1
                    following.append((r, c))
        frontier = following
    return distance


def all_grid_distances(free: np.ndarray) -> np.ndarray:
    """``(rows, cols, rows, cols)`` table: ``[goal_row, goal_col]`` holds :func:`grid_distances`.

    Wall goals hold -1 everywhere.
    """
    free = np.asarray(free, dtype=bool)
    table = np.full(free.shape * 2, -1, dtype=np.int64)
    for goal in zip(*np.nonzero(free)):
        table[goal] = grid_distances(free, goal)
    return table


def next_cells(distance: np.ndarray, cell: np.ndarray, tie_keys: np.ndarray | None = None
               ) -> np.ndarray:
    """The neighbour one move closer to the goal, for a batch of ``n`` cells.

    Among the 4-neighbours whose distance is one less, the one with the smallest tie key is
    taken (ties between keys, and ``tie_keys=None``, fall back to the order up, right, down,
    left). A cell at the goal, a wall or a cell cut off from the goal is its own next cell.

    Args:
      distance: (n, rows, cols) or (rows, cols) goal distances from :func:`grid_distances`.
      cell: (n, 2) int (row, col).
      tie_keys: optional (n, rows, cols) or (rows, cols) float keys of the cells.

    Returns:
      (n, 2) int64 next cells.

    Example:
      >>> import numpy as np
      >>> from fenchel.imitation.pointmaze import grid_distances, next_cells
      >>> distance = grid_distances(np.ones((2, 2), bool), (1, 1))
      >>> next_cells(distance, np.array([[0, 0]])).tolist()  # right beats down by default
      [[0, 1]]
    """
    cell = np.asarray(cell, dtype=np.int64)
    n = cell.shape[0]
    distance = np.broadcast_to(distance, (n, *np.shape(distance)[-2:]))
    rows, cols = distance.shape[1:]
    keys = np.zeros((n, rows, cols)) if tie_keys is None else np.broadcast_to(
        tie_keys, (n, rows, cols))
    index = np.arange(n)
    here = distance[index, cell[:, 0], cell[:, 1]]
    neighbours = cell[:, None, :] + _MOVES[None]  # (n, 4, 2)
    inside = ((neighbours >= 0) & (neighbours < np.array([rows, cols]))).all(axis=-1)
    r = np.clip(neighbours[..., 0], 0, rows - 1)
    c = np.clip(neighbours[..., 1], 0, cols - 1)
    closer = inside & (distance[index[:, None], r, c] == here[:, None] - 1) & (here[:, None] > 0)
    score = np.where(closer, keys[index[:, None], r, c], np.inf)
    best = np.argmin(score, axis=1)  # first minimum: the move order breaks exact key ties
    moved = closer[index, best]
    return np.where(moved[:, None], neighbours[index, best], cell)


def shortest_path(distance: np.ndarray, start: Sequence[int],
                  tie_keys: np.ndarray | None = None) -> list[tuple[int, int]]:
    """Cells from ``start`` to the goal (both included), following :func:`next_cells`.

    Args:
      distance: (rows, cols) goal distances from :func:`grid_distances`.
      start: (row, col) of a cell that reaches the goal.
      tie_keys: optional (rows, cols) keys choosing among equally short paths.

    Returns:
      The path, ``distance[start] + 1`` cells.

    Example:
      >>> import numpy as np
      >>> from fenchel.imitation.pointmaze import grid_distances, shortest_path
      >>> distance = grid_distances(np.ones((2, 2), bool), (1, 1))
      >>> shortest_path(distance, (0, 0))
      [(0, 0), (0, 1), (1, 1)]
    """
    start = (int(start[0]), int(start[1]))
    if distance[start] < 0:
        raise ValueError(f"start {start} is a wall or cannot reach the goal")
    path = [start]
    for _ in range(int(distance[start])):
        step = next_cells(distance, np.array([path[-1]]), tie_keys)[0]
        path.append((int(step[0]), int(step[1])))
    return path


def count_shortest_paths(distance: np.ndarray, start: Sequence[int]) -> int:
    """Number of distinct shortest paths from ``start`` to the goal of ``distance``.

    Example:
      >>> import numpy as np
      >>> from fenchel.imitation.pointmaze import count_shortest_paths, grid_distances
      >>> count_shortest_paths(grid_distances(np.ones((2, 2), bool), (1, 1)), (0, 0))
      2
    """
    rows, cols = distance.shape
    start = (int(start[0]), int(start[1]))
    if distance[start] < 0:
        return 0
    counts = np.zeros((rows, cols), dtype=object)  # exact big integers on large open grids
    order = sorted(zip(*np.nonzero(distance >= 0)), key=lambda cell: distance[cell])
    for row, col in order:
        if distance[row, col] == 0:
            counts[row, col] = 1
            continue
        for d_row, d_col in _MOVES:
            r, c = row + d_row, col + d_col
            if 0 <= r < rows and 0 <= c < cols and distance[r, c] == distance[row, col] - 1:
                counts[row, col] += counts[r, c]
    return int(counts[start])


# ----------------------------------------------------------------------------- environments


class FlatGoalObservation(gymnasium.ObservationWrapper, gymnasium.utils.RecordConstructorArgs):
    """Flattens a PointMaze observation dict to ``[observation, desired_goal]`` (float32 (6,)).

    The observation space bounds positions and the goal by the maze's extent (its border
    cells are walls, so the ball stays inside); velocities are unbounded.

    Example:
      >>> from fenchel.imitation.pointmaze import make_pointmaze_env
      >>> env = make_pointmaze_env("pointmaze-umaze")
      >>> env.reset(seed=0)[0].shape
      (6,)
    """

    def __init__(self, env: gymnasium.Env):
        gymnasium.utils.RecordConstructorArgs.__init__(self)
        gymnasium.ObservationWrapper.__init__(self, env)
        maze = env.unwrapped.maze
        half = np.array([maze.map_width, maze.map_length]) * maze.maze_size_scaling / 2
        high = np.concatenate([half, [np.inf, np.inf], half]).astype(np.float32)
        self.observation_space = spaces.Box(-high, high, dtype=np.float32)

    def observation(self, observation: dict[str, np.ndarray]) -> np.ndarray:
        return flatten_observation(observation)


def flatten_observation(observation: dict[str, np.ndarray]) -> np.ndarray:
    """``[observation, desired_goal]`` of a goal-env observation dict, as float32 ``(6,)``."""
    return np.concatenate([observation["observation"],
                           observation["desired_goal"]]).astype(np.float32)


def _register_robotics() -> None:
    import gymnasium_robotics

    gymnasium.register_envs(gymnasium_robotics)


def _raw_env(config: PointMazeConfig) -> gymnasium.Env:
    """A bare gymnasium-robotics PointMazeEnv (no wrappers, no time limit), its XML removed."""
    from gymnasium_robotics.envs.maze.point_maze import PointMazeEnv

    env = PointMazeEnv(maze_map=config.maze_map, continuing_task=False, reset_target=False)
    # gymnasium-robotics leaves the generated model XML in the temp directory; the compiled
    # model is already loaded, so the file is no longer needed.
    try:
        os.unlink(env.tmp_xml_file_path)
    except OSError:
        pass
    return env


def make_pointmaze_env(env: PointMazeConfig | str = "pointmaze-medium", **kwargs: Any
                       ) -> gymnasium.Env:
    """The gymnasium environment of a PointMaze task, with flat observations.

    ``gymnasium.make`` of the gymnasium-robotics task with ``continuing_task=False`` and
    ``max_episode_steps=config.max_steps``, wrapped in :class:`FlatGoalObservation`. Also
    registered as ``gymnasium.make("fenchel/PointMaze-v0", env="pointmaze-large")``.

    Args:
      env: a ``PointMazeConfig`` or a name from ``POINTMAZE_ENV_NAMES``.
      **kwargs: passed to ``gymnasium.make`` (e.g. ``render_mode``).

    Returns:
      The wrapped environment; ``info["success"]`` says whether the goal is reached.

    Example:
      >>> from fenchel.imitation.pointmaze import make_pointmaze_env
      >>> env = make_pointmaze_env("pointmaze-medium")
      >>> env.action_space.shape, env.spec.max_episode_steps
      ((2,), 300)
    """
    config = _as_config(env)
    _register_robotics()
    inner = gymnasium.make(_GYMNASIUM_MAZE_IDS[config.maze], continuing_task=False,
                           reset_target=False, max_episode_steps=config.max_steps, **kwargs)
    try:
        os.unlink(inner.unwrapped.tmp_xml_file_path)
    except OSError:
        pass
    return FlatGoalObservation(inner)


if GYMNASIUM_ID not in gymnasium.registry:
    gymnasium.register(id=GYMNASIUM_ID,
                       entry_point="fenchel.imitation.pointmaze:make_pointmaze_env")


def _as_config(env: PointMazeConfig | str) -> PointMazeConfig:
    if isinstance(env, PointMazeConfig):
        return env
    config = parse_pointmaze_name(env)
    if config is None:
        raise ValueError(f"unknown PointMaze name {env!r}; valid names: "
                         f"{', '.join(POINTMAZE_ENV_NAMES)}")
    return config


# Rollouts reuse environments: building one compiles its MuJoCo model (~0.1-0.2 s), and each
# holds ~12 MiB (mostly the 800x800 skybox texture of gymnasium-robotics' point.xml).
_ENV_POOL: dict[str, list[gymnasium.Env]] = {}


def _env_pool(config: PointMazeConfig, n: int) -> list[gymnasium.Env]:
    pool = _ENV_POOL.setdefault(config.maze, [])
    while len(pool) < n:
        pool.append(_raw_env(config))
    return pool[:n]


def close_pointmaze_envs() -> int:
    """Closes the environments kept for batched rollouts (~12 MiB each); returns how many.

    Later rollouts build new ones as needed.
    """
    closed = 0
    for pool in _ENV_POOL.values():
        for env in pool:
            env.close()
            closed += 1
    _ENV_POOL.clear()
    return closed


def maze_grid(env: PointMazeConfig | str) -> MazeGrid:
    """The :class:`MazeGrid` of a task (scaling 1, as in gymnasium-robotics' PointMaze)."""
    return MazeGrid.from_map(_as_config(env).maze_map, scaling=1.0)


# ----------------------------------------------------------------------------- batched rollouts


#: Rollouts of PointMaze episodes (:class:`fenchel.imitation._rollouts.EpisodeBatch`):
#: observations (T, n, 6), actions (T, n, 2) forces.
PointMazeRollout = EpisodeBatch


def pointmaze_rollout(policy: Policy, config: PointMazeConfig, seeds: Sequence[int],
                      record: bool = True) -> PointMazeRollout:
    """Runs ``policy`` on the episodes reset with ``seeds``, all in lockstep.

    Calls ``policy.reset(n)`` first if defined; each step the policy receives all ``n``
    observations (an episode that has ended repeats its last one, and its action is ignored).
    Stops early once every episode has ended (reached its goal).

    Args:
      policy: maps (n, 6) observations to (n, 2) forces.
      config: the task.
      seeds: (n,) reset seeds, one episode each.
      record: whether to keep observations, actions and rewards (memory ``T n 9`` floats).

    Returns:
      A :class:`PointMazeRollout`; recorded arrays are zero after the episode ends.
    """
    if len(seeds) < 1:
        raise ValueError("seeds must hold at least one seed")
    return lockstep_rollout(policy, _env_pool(config, len(seeds)), seeds, config.max_steps,
                            config.action_dim, observe=flatten_observation, record=record)


def evaluate_pointmaze(policy: Policy, env: PointMazeConfig | str, n_episodes: int,
                       seed: int = 0, batch_size: int | None = None) -> dict[str, Any]:
    """Success rate of ``policy`` over ``n_episodes`` PointMaze episodes, ``batch_size`` at once.

    Episode ``i`` is reset with ``episode_seeds(seed, n_episodes)[i]`` whatever the batching,
    so policies compared with the same seed face the same starts and goals.

    Args:
      policy: maps (n, 6) observations to (n, 2) forces; ``policy.reset(n)`` is called before
        each batch if defined.
      env: a ``PointMazeConfig`` or a name from ``POINTMAZE_ENV_NAMES``.
      n_episodes: number of episodes, at least 1.
      seed: seed of the episodes.
      batch_size: episodes per lockstep batch (default ``min(n_episodes, 100)``; each needs its
        own MuJoCo environment, ~12 MiB, kept for later calls).

    Returns:
      dict with "success_rate", "success_stderr", "mean_return", "mean_episode_length",
      "mean_success_length" (mean steps of the successful episodes, NaN if none),
      "n_episodes" and "success" ((n_episodes,) bool).

    Example:
      >>> import numpy as np
      >>> from fenchel.imitation.pointmaze import evaluate_pointmaze
      >>> still = lambda obs: np.zeros((obs.shape[0], 2))
      >>> evaluate_pointmaze(still, "pointmaze-umaze", 2)["success_rate"]
      0.0
    """
    config = _as_config(env)
    episodes = run_in_batches(
        lambda seeds: pointmaze_rollout(policy, config, seeds, record=False),
        n_episodes, seed, batch_size)
    success, lengths = episodes["success"], episodes["episode_length"]
    rate = float(success.mean())
    return {
        "success_rate": rate,
        "success_stderr": float(np.sqrt(rate * (1 - rate) / n_episodes)),
        "mean_return": float(episodes["episode_return"].mean()),
        "mean_episode_length": float(lengths.mean()),
        "mean_success_length": float(lengths[success].mean()) if success.any() else float("nan"),
        "n_episodes": int(n_episodes),
        "success": success,
    }


# ----------------------------------------------------------------------------- oracle


class PointMazeOracle:
    """Scripted expert: shortest grid path to the goal cell, followed with a PD force controller.

    Each step, for every episode: the ball's cell and the goal's cell come from the
    observation, the next cell on a shortest path from precomputed breadth-first distances
    (:func:`next_cells`), and the force is::

        action = clip(kp * (waypoint - position) - kd * velocity, -1, 1)

    with the waypoint the next cell's centre, switched to the cell after it once the ball is
    within ``switch_radius`` of that centre (smooths corners and corridors), and the goal
    itself once the goal cell is next or reached. Memoryless in the observation apart from the
    per-episode tie keys: with ``multimodal=True`` :meth:`reset` draws uniform keys per cell,
    so equally short routes are taken with equal odds at each branching, consistently within
    an episode; with ``multimodal=False`` ties always go up, right, down, left in that order.

    Args:
      config: the task.
      seed: seed (or numpy generator) of the tie keys.
      multimodal: random (True) or fixed (False) choice among equally short routes.
      kp: proportional gain (force per unit of distance).
      kd: derivative gain (force per unit of velocity).
      switch_radius: distance to the next cell's centre at which the waypoint moves one
        cell further.

    Example:
      >>> from fenchel.imitation.pointmaze import (PointMazeConfig, PointMazeOracle,
      ...                                         evaluate_pointmaze)
      >>> oracle = PointMazeOracle(PointMazeConfig("umaze"), seed=0)
      >>> evaluate_pointmaze(oracle, "pointmaze-umaze", 4)["success_rate"]
      1.0
    """

    def __init__(self, config: PointMazeConfig | str, seed: int | np.random.Generator | None = 0,
                 multimodal: bool = True, kp: float = 10.0, kd: float = 1.0,
                 switch_radius: float = 0.9):
        self.config = _as_config(config)
        self.grid = maze_grid(self.config)
        self.distances = all_grid_distances(self.grid.free)
        self.multimodal = bool(multimodal)
        for name, value in (("kp", kp), ("kd", kd), ("switch_radius", switch_radius)):
            if not (isinstance(value, (int, float)) and np.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be a non-negative finite number, got {value!r}")
        self.kp, self.kd, self.switch_radius = float(kp), float(kd), float(switch_radius)
        self._rng = np.random.default_rng(seed)
        self._tie_keys: np.ndarray | None = None

    def reset(self, n: int) -> None:
        """Starts ``n`` new episodes: draws each one's tie keys (``(n, rows, cols)``)."""
        shape = (n, *self.grid.shape)
        self._tie_keys = self._rng.uniform(size=shape) if self.multimodal else np.zeros(shape)

    @property
    def tie_keys(self) -> np.ndarray | None:
        """(n, rows, cols) tie keys of the current episodes; None before any reset."""
        return self._tie_keys

    def waypoints(self, observation: np.ndarray) -> np.ndarray:
        """(n, 2) positions the controller steers to, for (n, 6) observations."""
        n = observation.shape[0]
        if self._tie_keys is None or self._tie_keys.shape[0] != n:
            self.reset(n)
        position, goal = observation[:, :2].astype(np.float64), observation[:, 4:6]
        cell = self.grid.cell_of(position)
        goal_cell = self.grid.cell_of(goal)
        distance = self.distances[goal_cell[:, 0], goal_cell[:, 1]]  # (n, rows, cols)
        first = next_cells(distance, cell, self._tie_keys)
        second = next_cells(distance, first, self._tie_keys)
        first_center = self.grid.cell_center(first)
        near = np.linalg.norm(position - first_center, axis=1) < self.switch_radius
        target_cell = np.where(near[:, None], second, first)
        waypoint = self.grid.cell_center(target_cell)
        # The goal replaces its cell's centre; a ball in an unreachable cell (never expected)
        # also heads straight for the goal.
        at_goal = (target_cell == goal_cell).all(axis=1)
        lost = distance[np.arange(n), cell[:, 0], cell[:, 1]] < 0
        return np.where((at_goal | lost)[:, None], goal, waypoint)

    def __call__(self, observation: np.ndarray) -> np.ndarray:
        """Forces for a batch of observations.

        Args:
          observation: (n, 6) or a single (6,) observation.

        Returns:
          (n, 2) float32 forces in [-1, 1] (or (2,) for a single observation).
        """
        batch, single = observation_batch(observation, self.config.observation_dim)
        waypoint = self.waypoints(batch)
        position, velocity = batch[:, :2], batch[:, 2:4]
        action = self.kp * (waypoint - position) - self.kd * velocity
        action = np.clip(action, -1.0, 1.0).astype(np.float32)
        return action[0] if single else action


#: The PointMaze task family: ``pointmaze-<maze>``, scored by success. Its demonstrations
#: run :class:`PointMazeOracle` (random choice among equally short routes) in batches of
#: ``MUJOCO_BATCH`` episodes.
TASK_FAMILY = TaskFamily(
    name="pointmaze",
    names=POINTMAZE_ENV_NAMES,
    parse=parse_pointmaze_name,
    config_class=PointMazeConfig,
    oracle=lambda config, seed: PointMazeOracle(config, seed=seed),
    collect=lambda policy, config, n_episodes, seed: seeded_batches(
        lambda seeds: pointmaze_rollout(policy, config, seeds), n_episodes, seed),
    evaluate=evaluate_pointmaze,
)

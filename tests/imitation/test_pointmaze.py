"""Tests of the PointMaze tasks: grid planner, flat-observation env, oracle, evaluation, demos."""

from __future__ import annotations

import dataclasses
import warnings

import gymnasium
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from hypothesis import given, settings
from hypothesis import strategies as st
from fenchel_test_budget import examples  # registered by tests/conftest.py
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import shortest_path as scipy_shortest_path

from fenchel.cli import main
from fenchel.imitation.demos import collect_demonstrations, load_demonstrations
from fenchel.imitation.envs import (
    ENV_NAMES,
    action_bounds,
    config_from_dict,
    env_name,
    evaluate_policy,
    make_env_config,
)
from fenchel.imitation.pointmaze import (
    GYMNASIUM_ID,
    SUCCESS_DISTANCE,
    POINTMAZE_ENV_NAMES,
    MazeGrid,
    PointMazeConfig,
    PointMazeOracle,
    close_pointmaze_envs,
    count_shortest_paths,
    grid_distances,
    make_pointmaze_env,
    maze_grid,
    next_cells,
    pointmaze_rollout,
    shortest_path,
)

# A ring of free cells around one wall: two equally short routes from corner to corner.
RING = [
    [1, 1, 1, 1, 1],
    [1, 0, 0, 0, 1],
    [1, 0, 1, 0, 1],
    [1, 0, 0, 0, 1],
    [1, 1, 1, 1, 1],
]
UMAZE = PointMazeConfig("umaze")


def _still(observation: np.ndarray) -> np.ndarray:
    return np.zeros((observation.shape[0], 2))


# ----------------------------------------------------------------------------- planner


def test_ring_maze_has_two_shortest_routes_and_random_keys_take_both():
    free = MazeGrid.from_map(RING).free
    distance = grid_distances(free, (3, 3))
    assert distance[1, 1] == 4 and distance[2, 2] == -1 and distance[0, 0] == -1
    assert count_shortest_paths(distance, (1, 1)) == 2
    routes = set()
    for seed in range(20):
        keys = np.random.default_rng(seed).uniform(size=free.shape)
        path = shortest_path(distance, (1, 1), keys)
        assert len(path) == 5 and path[0] == (1, 1) and path[-1] == (3, 3)
        routes.add(tuple(path))
    assert routes == {((1, 1), (1, 2), (1, 3), (2, 3), (3, 3)),
                      ((1, 1), (2, 1), (3, 1), (3, 2), (3, 3))}
    # Without keys the move order (up, right, down, left) decides: right first.
    assert shortest_path(distance, (1, 1))[1] == (1, 2)


@settings(max_examples=examples(40), deadline=None)
@given(free=st.integers(2, 6).flatmap(
    lambda rows: st.lists(st.lists(st.booleans(), min_size=rows, max_size=rows),
                          min_size=2, max_size=6)),
       seed=st.integers(0, 2**32 - 1))
def test_grid_distances_match_scipy_and_paths_are_shortest(free, seed):
    free = np.array(free, dtype=bool).T
    rng = np.random.default_rng(seed)
    cells = np.argwhere(free)
    if len(cells) == 0:
        return
    goal = tuple(cells[rng.integers(len(cells))])
    distance = grid_distances(free, goal)
    # Reference: unweighted shortest paths on the 4-neighbour graph.
    rows, cols = free.shape
    index = np.arange(rows * cols).reshape(rows, cols)
    edges = [(index[r, c], index[r + dr, c + dc]) for r, c in cells for dr, dc in ((0, 1), (1, 0))
             if r + dr < rows and c + dc < cols and free[r + dr, c + dc]]
    graph = csr_matrix((np.ones(len(edges)), tuple(np.array(edges).T)) if edges else ([], ([], [])),
                       shape=(rows * cols, rows * cols))
    reference = scipy_shortest_path(graph, directed=False, unweighted=True,
                                    indices=index[goal]).reshape(rows, cols)
    expected = np.where(np.isfinite(reference) & free, reference, -1).astype(np.int64)
    np.testing.assert_array_equal(distance, expected)
    keys = rng.uniform(size=free.shape)
    for start in cells[distance[tuple(cells.T)] >= 0]:
        path = shortest_path(distance, start, keys)
        assert len(path) == distance[tuple(start)] + 1 and path[-1] == goal
        steps = np.abs(np.diff(np.array(path), axis=0)).sum(axis=1)
        assert np.all(steps == 1) and all(free[cell] for cell in path)
        assert count_shortest_paths(distance, start) >= 1


def test_next_cells_keeps_goal_walls_and_cut_off_cells_in_place():
    free = np.array([[1, 1, 0, 1]], dtype=bool)
    distance = grid_distances(free, (0, 0))
    cells = np.array([[0, 0], [0, 1], [0, 2], [0, 3]])
    np.testing.assert_array_equal(next_cells(distance, cells), [[0, 0], [0, 0], [0, 2], [0, 3]])
    with pytest.raises(ValueError, match="goal must be a free cell"):
        grid_distances(free, (0, 2))
    with pytest.raises(ValueError, match="cannot reach the goal"):
        shortest_path(distance, (0, 3))


def test_grid_geometry_matches_gymnasium_robotics():
    env = make_pointmaze_env("pointmaze-medium")
    maze = env.unwrapped.maze
    grid = maze_grid("pointmaze-medium")
    np.testing.assert_array_equal(grid.free, np.array(maze.maze_map) != 1)
    for cell in np.argwhere(grid.free):
        center = grid.cell_center(cell)
        np.testing.assert_allclose(center, maze.cell_rowcol_to_xy(cell))
        for offset in ([0.49, 0.49], [-0.49, -0.49], [0.3, -0.2]):
            np.testing.assert_array_equal(grid.cell_of(center + offset),
                                          maze.cell_xy_to_rowcol(center + offset))


# ----------------------------------------------------------------------------- environment


def test_flat_env_observation_layout_and_gymnasium_checks():
    env = make_pointmaze_env("pointmaze-umaze")
    observation, info = env.reset(seed=3)
    assert observation.shape == (6,) and observation.dtype == np.float32
    assert observation in env.observation_space and not info["success"]
    inner = env.unwrapped
    np.testing.assert_allclose(observation[:2], inner.point_env.data.qpos, rtol=1e-6)
    np.testing.assert_allclose(observation[4:], inner.goal, rtol=1e-6)
    np.testing.assert_array_equal(observation[2:4], 0.0)
    assert env.action_space.shape == (2,) and env.spec.max_episode_steps == UMAZE.max_steps
    assert not inner.continuing_task
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # unbounded velocities: gymnasium warns, by design
        check_env(env, skip_render_check=True)
    registered = gymnasium.make(GYMNASIUM_ID, env="pointmaze-large")
    assert registered.observation_space.shape == (6,)
    assert registered.spec.max_episode_steps == PointMazeConfig("large").max_steps


def _trajectory(env, seed: int, actions: np.ndarray) -> np.ndarray:
    observations = [env.reset(seed=seed)[0]]
    for action in actions:
        observations.append(env.step(action)[0])
    return np.array(observations)


def test_same_seed_same_episode_and_batched_rollout_agrees_with_the_env():
    env = make_pointmaze_env("pointmaze-umaze")
    actions = np.random.default_rng(0).uniform(-1, 1, size=(30, 2)).astype(np.float32)
    first = _trajectory(env, 7, actions)
    np.testing.assert_array_equal(first, _trajectory(make_pointmaze_env("pointmaze-umaze"), 7,
                                                     actions))
    assert not np.array_equal(first[0], _trajectory(env, 8, actions[:1])[0])
    # The batched rollout of the same episode sees exactly the same observations.
    replay = iter(actions)
    short = PointMazeConfig("umaze", max_steps=30)
    rollout = pointmaze_rollout(lambda obs: next(replay)[None], short, [7])
    assert rollout.observations.shape == (30, 1, 6) and not rollout.success[0]
    np.testing.assert_array_equal(rollout.observations[:, 0], first[:30])


def test_episode_ends_at_success_with_return_one():
    oracle = PointMazeOracle(UMAZE, seed=0)
    result = pointmaze_rollout(oracle, UMAZE, [0, 1, 2, 3])
    assert result.success.all()
    np.testing.assert_array_equal(result.episode_return, 1.0)
    np.testing.assert_array_equal(result.rewards.sum(axis=0), 1.0)
    lengths = result.episode_length
    assert np.all(lengths < UMAZE.max_steps)
    for i, length in enumerate(lengths):
        assert result.active[:length, i].all() and not result.active[length:, i].any()
        assert result.rewards[length - 1, i] == 1.0  # the reward comes on the final step
        final = result.observations[length - 1, i]
        assert np.linalg.norm(final[:2] - final[4:]) > SUCCESS_DISTANCE  # not there before it
    assert np.abs(result.actions).max() <= 1.0


# ----------------------------------------------------------------------------- oracle


def _at_rest(grid: MazeGrid, cell, goal_cell) -> np.ndarray:
    return np.concatenate([grid.cell_center(np.array(cell)), [0.0, 0.0],
                           grid.cell_center(np.array(goal_cell))]).astype(np.float32)


def test_oracle_breaks_route_ties_both_ways_across_seeds_and_fixed_without_randomness():
    config = PointMazeConfig("medium")
    grid = maze_grid(config)
    # (4, 2) to (5, 3): opposite cells of the 12-cell loop around the walls (4, 3) and (5, 2);
    # both ways take 6 moves, starting up (+y) or left (-x).
    distance = grid_distances(grid.free, (5, 3))
    assert count_shortest_paths(distance, (4, 2)) == 2
    observation = np.repeat(_at_rest(grid, (4, 2), (5, 3))[None], 64, axis=0)
    oracle = PointMazeOracle(config, seed=0)
    oracle.reset(64)
    first_moves = [tuple(move) for move in oracle(observation)]
    assert set(first_moves) == {(0.0, 1.0), (-1.0, 0.0)}
    assert 0.25 < np.mean([move == (0.0, 1.0) for move in first_moves]) < 0.75
    fixed = PointMazeOracle(config, seed=0, multimodal=False)
    fixed.reset(64)
    assert len({tuple(move) for move in fixed(observation)}) == 1


def test_oracle_same_seed_same_actions_and_single_observation():
    grid = maze_grid(UMAZE)
    observation = _at_rest(grid, (1, 1), (3, 1))
    action = PointMazeOracle(UMAZE, seed=0)(observation)
    assert action.shape == (2,) and action.dtype == np.float32
    np.testing.assert_array_equal(action, [1.0, 0.0])  # east along the top corridor
    with pytest.raises(ValueError, match="observation must have shape"):
        PointMazeOracle(UMAZE)(np.zeros((3, 4)))
    with pytest.raises(ValueError, match="kp must be"):
        PointMazeOracle(UMAZE, kp=-1.0)


def test_oracle_solves_umaze_and_a_still_policy_does_not():
    result = evaluate_policy(PointMazeOracle(UMAZE, seed=0), "pointmaze-umaze", 6, seed=2)
    assert result["success_rate"] == 1.0 and result["mean_return"] == 1.0
    assert result["mean_success_length"] < UMAZE.max_steps / 2
    still = evaluate_policy(_still, UMAZE, 3, seed=2)
    assert still["success_rate"] == 0.0
    assert still["mean_episode_length"] == UMAZE.max_steps


def test_evaluation_is_independent_of_batching_and_shows_the_policy_six_floats():
    shapes = []

    def recording(observation):
        shapes.append(observation.shape)
        return np.zeros((observation.shape[0], 2))

    config = PointMazeConfig("umaze", max_steps=5)
    evaluate_policy(recording, config, 3, seed=0, batch_size=2)
    assert set(shapes) == {(2, 6), (1, 6)}
    oracle = PointMazeOracle(UMAZE, seed=0)  # no ties in the U-maze: deterministic
    full = evaluate_policy(oracle, UMAZE, 4, seed=5)
    chunked = evaluate_policy(oracle, UMAZE, 4, seed=5, batch_size=3)
    np.testing.assert_array_equal(full["success"], chunked["success"])
    assert full["mean_episode_length"] == chunked["mean_episode_length"]


def test_closing_the_environment_pool_keeps_rollouts_reproducible():
    config = PointMazeConfig("umaze", max_steps=10)
    before = pointmaze_rollout(PointMazeOracle(config), config, [4, 5])
    assert close_pointmaze_envs() >= 2
    after = pointmaze_rollout(PointMazeOracle(config), config, [4, 5])
    np.testing.assert_array_equal(before.observations, after.observations)


def test_bad_policies_and_arguments_are_clear_errors():
    with pytest.raises(ValueError, match=r"policy must return actions of shape \(2, 2\)"):
        pointmaze_rollout(lambda obs: np.zeros((2, 3)), UMAZE, [0, 1])
    with pytest.raises(ValueError, match="NaN"):
        pointmaze_rollout(lambda obs: np.full((1, 2), np.nan), UMAZE, [0])
    with pytest.raises(ValueError, match="n_episodes must be a positive int"):
        evaluate_policy(_still, UMAZE, 0)
    with pytest.raises(ValueError, match="maze must be one of"):
        PointMazeConfig("huge")
    with pytest.raises(ValueError, match="max_steps must be a positive int"):
        PointMazeConfig("umaze", max_steps=0)
    with pytest.raises(ValueError, match="valid names: .*pointmaze-umaze"):
        make_env_config("pointmaze-tiny")


# ----------------------------------------------------------------------------- names, demos


def test_names_configs_and_action_bounds():
    assert set(POINTMAZE_ENV_NAMES) <= set(ENV_NAMES)
    for name in POINTMAZE_ENV_NAMES:
        config = make_env_config(name)
        assert env_name(config) == name and config_from_dict(config.to_dict()) == config
        assert (config.observation_dim, config.action_dim) == (6, 2)
        assert action_bounds(config) == (-1.0, 1.0)
    assert PointMazeConfig("large", max_steps=800) != make_env_config("pointmaze-large")


def test_collect_pointmaze_demonstrations_round_trip(tmp_path, capsys):
    out = tmp_path / "umaze.npz"
    assert main(["imitation", "collect", "--env", "pointmaze-umaze", "--episodes", "3",
                 "--seed", "1", "--out", str(out)]) == 0
    assert "pointmaze-umaze" in capsys.readouterr().out
    demos = load_demonstrations(out)
    again = collect_demonstrations("pointmaze-umaze", 3, seed=1)
    for field in dataclasses.fields(demos):
        x, y = getattr(demos, field.name), getattr(again, field.name)
        assert x == y if field.name == "metadata" else np.array_equal(x, y)
    assert demos.config == UMAZE and demos.metadata["oracle"] == "PointMazeOracle"
    assert demos.observations.shape == (demos.num_transitions, 6)
    assert demos.actions.shape == (demos.num_transitions, 2)
    assert demos.episode_success.all() and demos.metadata["success_rate"] == 1.0
    assert np.abs(demos.actions).max() <= 1.0
    starts = demos.observations[demos.episode_starts]
    np.testing.assert_array_equal(starts[:, 2:4], 0.0)  # episodes start at rest
    # Within an episode the goal never moves.
    goals = demos.observations[:, 4:]
    np.testing.assert_array_equal(goals, goals[demos.episode_starts][demos.episode_index])
    other = collect_demonstrations("pointmaze-umaze", 3, seed=2)
    assert not np.array_equal(other.observations[:1], demos.observations[:1])

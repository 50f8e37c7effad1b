"""Tests of the task-family interface and its registry, over every registered task name."""

from __future__ import annotations

import json
import math

import gymnasium
import numpy as np
import pytest

from fenchel.imitation import envs, tasks
from fenchel.imitation.particle import ParticleConfig
from fenchel.imitation.particle_ibc import IBCParticleConfig
from fenchel.imitation.particle_task import ParticleEnv
from fenchel.imitation.tasks import (
    TaskFamily,
    action_bounds,
    config_from_dict,
    env_name,
    env_names,
    evaluate_policy,
    families,
    family_of,
    make_env_config,
)
from fenchel.imitation.train import make_task

NAMES = env_names()
# Locomotion's SAC experts are scored by return and some fall: every other family's oracle
# solves its task.
SOLVED = [name for name in NAMES if family_of(name).metric == "success_rate"]


def test_the_registry_lists_every_name_once_family_after_family():
    assert NAMES == envs.ENV_NAMES
    assert len(set(NAMES)) == len(NAMES)
    assert NAMES == tuple(name for family in families() for name in family.names)
    assert len({family.name for family in families()}) == len(families())
    assert len({family.config_class for family in families()}) == len(families())
    assert {family.metric for family in families()} <= set(tasks.METRICS)


@pytest.mark.parametrize("name", NAMES)
def test_every_name_belongs_to_exactly_one_family_and_round_trips(name):
    owners = [family for family in families() if family.parse(name) is not None]
    assert len(owners) == 1
    family = owners[0]
    assert name in family.names and family_of(name) is family
    config = make_env_config(name)
    assert isinstance(config, family.config_class) and family_of(config) is family
    assert config == family.parse(name)
    assert env_name(config) == name
    assert config_from_dict(config.to_dict()) == config
    assert config_from_dict(json.loads(json.dumps(config.to_dict()))) == config
    low, high = action_bounds(config)
    assert math.isfinite(low) and math.isfinite(high) and low < high
    spec = make_task(name).spec
    assert (spec.observation_dim, spec.action_dim, spec.action_low, spec.action_high) == \
        (config.observation_dim, config.action_dim, low, high)
    assert make_task(name).metric == family.metric


@pytest.mark.parametrize("name", ["cartpole", "particle-0d", "particle-17d", "particle-ibc-2",
                                  "pointmaze-tiny", "Hopper", "", "particle-2d "])
def test_unknown_names_raise_value_error_listing_the_valid_ones(name):
    with pytest.raises(ValueError, match=f"unknown environment name {name!r}") as error:
        make_env_config(name)
    message = str(error.value)
    assert all(valid in message for valid in NAMES)
    for lookup in (family_of, make_task):
        with pytest.raises(ValueError, match="valid names: particle-1d, particle-2d"):
            lookup(name)
    assert all(family.parse(name) is None for family in families())


@pytest.mark.parametrize("value", [3, None, b"particle-2d", ("particle-2d",)])
def test_non_str_names_raise_type_error(value):
    with pytest.raises(TypeError, match="name must be a task name"):
        make_env_config(value)
    with pytest.raises(TypeError, match="env must be a task name .* or a task config"):
        family_of(value)
    with pytest.raises(TypeError, match="config must be a task config "):
        env_name(value)
    with pytest.raises(TypeError, match="config must be a task config "):
        action_bounds(value)
    with pytest.raises(TypeError, match="env_config must be a task name .* or a task config"):
        evaluate_policy(lambda obs: obs, value, 1)


def test_a_name_is_not_a_config_and_unknown_fields_are_refused():
    with pytest.raises(TypeError, match="config must be a task config "):
        env_name("particle-2d")
    with pytest.raises(TypeError, match="no task config has the fields"):
        config_from_dict({"dim": 2, "color": "red"})
    # Partial dicts go to the first family whose config has every field.
    assert config_from_dict({"dim": 3}) == ParticleConfig(dim=3)
    assert config_from_dict({"dim": 3, "history": 1}) == IBCParticleConfig(dim=3, history=1)


def test_task_family_checks_its_metric():
    family = family_of("particle-2d")
    fields = {name: getattr(family, name) for name in TaskFamily.__dataclass_fields__}
    with pytest.raises(ValueError, match="metric must be one of"):
        TaskFamily(**{**fields, "metric": "accuracy"})


@pytest.mark.parametrize("name", SOLVED)
def test_every_oracle_solves_its_task_through_the_registry(name):
    family, config = family_of(name), make_env_config(name)
    assert evaluate_policy(family.oracle(config, 0), name, 5, seed=0)["success_rate"] == 1.0
    batches = list(family.collect(family.oracle(config, 1), config, 3, 0))
    assert sum(batch.success.shape[0] for batch in batches) == 3
    assert all(batch.success.all() for batch in batches)


def test_the_particle_gymnasium_id_points_at_the_environment_class():
    spec = gymnasium.spec(envs.GYMNASIUM_ID)
    assert spec.entry_point == "fenchel.imitation.particle_task:ParticleEnv"
    env = gymnasium.make(envs.GYMNASIUM_ID, dim=3)
    assert isinstance(env.unwrapped, ParticleEnv) and env.reset(seed=0)[0].shape == (14,)
    assert envs.ParticleEnv is ParticleEnv


def test_evaluation_through_the_registry_is_the_familys():
    config = make_env_config("particle-2d-multimodal")
    family = family_of(config)
    policy = lambda obs: np.full((obs.shape[0], 2), 0.5)  # noqa: E731
    by_name = evaluate_policy(policy, "particle-2d-multimodal", 20, seed=4, batch_size=7)
    direct = family.evaluate(policy, config, 20, 4, None)
    np.testing.assert_array_equal(by_name["success"], direct["success"])
    assert by_name["mean_return"] == direct["mean_return"]

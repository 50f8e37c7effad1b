"""Dropout and depth of the feature map: the defaults build the network of before,
dropout acts in training only, the fields are validated, recorded, searchable and
resumable."""

from __future__ import annotations

import dataclasses
import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from fenchel import cli
from fenchel.multilabel import reproduce
from fenchel.multilabel.losses import MINMIN_FIELDS, Method
from fenchel.multilabel.models import EnergyNetwork, FeatureMap, energy_spec
from fenchel.multilabel.train import Config, MultilabelSplitLike, fit, with_added_fields

TINY = ["--max-epochs", "1", "--hidden", "8", "--learning-rate", "0.01", "--weight-decay",
        "1e-4", "--reg-scale", "1", "--batch-size", "32", "--quiet"]


def _params(module) -> list[np.ndarray]:
    return [np.asarray(leaf) for leaf in jax.tree.leaves(nnx.state(module, nnx.Param))]


def _synthetic(n=64, d=5, k=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, d)).astype(np.float32)
    return MultilabelSplitLike(x, (x[:, :k] + 0.3 * rng.standard_normal((n, k)) > 0)
                               .astype(np.float32))


@pytest.mark.parametrize("bad", [-0.1, 1.0, 1.5, True, "0.5", float("nan")])
def test_dropout_must_lie_in_zero_one(bad):
    with pytest.raises(ValueError, match=r"dropout must be a number in \[0, 1\)"):
        Config(dropout=bad)
    with pytest.raises(ValueError, match=r"dropout must be a number in \[0, 1\)"):
        FeatureMap(3, 2, hidden=4, dropout=bad, rngs=nnx.Rngs(0))


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "2"])
def test_depth_must_be_a_positive_integer(bad):
    with pytest.raises(ValueError, match="depth must be a positive integer"):
        Config(depth=bad)
    with pytest.raises(ValueError, match="depth must be a positive integer"):
        FeatureMap(3, 2, hidden=4, depth=bad, rngs=nnx.Rngs(0))


@pytest.mark.parametrize("energy", ["unary", "pairwise", "global"])
@pytest.mark.parametrize("hidden", [0, 8])
def test_defaults_and_dropout_keep_the_initial_parameters(energy, hidden):
    """dropout = 0 and depth = 1 (and any dropout rate) draw the parameters of the network
    built before these options existed; depth only adds layers after the first."""
    plain = EnergyNetwork(5, 3, energy, hidden=hidden, rngs=nnx.Rngs(1))
    for kwargs in ({"depth": 1, "dropout": 0.0}, {"dropout": 0.5}):
        other = EnergyNetwork(5, 3, energy, hidden=hidden, rngs=nnx.Rngs(1), **kwargs)
        for a, b in zip(_params(plain), _params(other), strict=True):
            np.testing.assert_array_equal(a, b)
    deep = EnergyNetwork(5, 3, energy, hidden=hidden, depth=3, rngs=nnx.Rngs(1))
    if hidden:
        assert len(deep.features.deeper_layers) == 2
        np.testing.assert_array_equal(deep.features.hidden_layer.kernel[...],
                                      plain.features.hidden_layer.kernel[...])
    else:  # a linear map has no depth
        assert deep.features.deeper_layers is None
        for a, b in zip(_params(plain), _params(deep), strict=True):
            np.testing.assert_array_equal(a, b)


def test_depth_stacks_hidden_layers():
    fmap = FeatureMap(5, 3, hidden=4, depth=3, rngs=nnx.Rngs(0))
    x = jax.random.normal(jax.random.key(0), (2, 5))
    h = jax.nn.relu(fmap.hidden_layer(x))
    for layer in fmap.deeper_layers:
        h = jax.nn.relu(layer(h))
    np.testing.assert_allclose(fmap(x), fmap.output(h), rtol=1e-6)


@pytest.mark.parametrize("hidden", [0, 64])
def test_dropout_acts_only_with_a_key(hidden):
    """A key (training) drops about ``rate`` of the representation's entries and scales the
    rest by 1/(1 − rate); no key (prediction) is the network without dropout."""
    rate = 0.25
    fmap = FeatureMap(32, 3, hidden=hidden, dropout=rate, rngs=nnx.Rngs(0))
    plain = FeatureMap(32, 3, hidden=hidden, rngs=nnx.Rngs(0))
    x = jax.random.normal(jax.random.key(1), (128, 32))
    np.testing.assert_array_equal(fmap(x), plain(x))
    np.testing.assert_array_equal(fmap.representation(x), plain.representation(x))
    key = jax.random.key(2)
    dropped = fmap.representation(x, key)
    np.testing.assert_array_equal(dropped, fmap.representation(x, key))  # a key's masks
    assert not np.array_equal(dropped, fmap.representation(x, jax.random.key(3)))
    full = plain.representation(x)
    live = np.asarray(full != 0)
    kept = np.asarray(dropped != 0) & live
    assert abs(1.0 - kept.sum() / live.sum() - rate) < 0.03
    np.testing.assert_allclose(np.asarray(dropped)[kept], np.asarray(full)[kept] / (1 - rate),
                               rtol=1e-6)
    assert not np.array_equal(fmap(x, key), plain(x))
    net = EnergyNetwork(32, 3, "pairwise", hidden=hidden, dropout=rate, log_partition=True,
                        rngs=nnx.Rngs(0))
    spec, trained_spec = energy_spec(net, x), energy_spec(net, x, key)
    assert not np.array_equal(spec.theta[0], trained_spec.theta[0])
    assert not np.array_equal(spec.log_partition, trained_spec.log_partition)  # same input


def test_dropout_is_used_in_training_and_not_in_prediction():
    train, validation = _synthetic(), _synthetic(n=16, seed=1)
    method = Method("pairwise", "gfy", "entropy")
    config = Config(hidden=16, learning_rate=1e-2, max_epochs=2, patience=2, batch_size=32)
    without = fit(method, config, train, validation, seed=0)
    with_dropout = fit(method, dataclasses.replace(config, dropout=0.5), train, validation,
                       seed=0)
    # Same initialization, other steps: the training loss saw the dropout masks.
    assert with_dropout.history[0][0] != without.history[0][0]
    assert not all(np.array_equal(a, b) for a, b in
                   zip(_params(without.model), _params(with_dropout.model)))
    # Prediction is deterministic: the network without dropout on these parameters.
    first = with_dropout.predict_relaxed(validation.x)
    np.testing.assert_array_equal(first, with_dropout.predict_relaxed(validation.x))
    twin = EnergyNetwork(5, 3, "pairwise", hidden=16, rngs=nnx.Rngs(0))
    nnx.update(twin, nnx.state(with_dropout.model, nnx.Param))
    from fenchel.multilabel.train import predict_batches
    np.testing.assert_allclose(first, predict_batches(method, twin, validation.x), atol=1e-6)


def test_depth_reaches_the_trained_model():
    trained = fit(Method("unary", "bce"), Config(hidden=8, depth=3, max_epochs=1),
                  _synthetic(), None)
    assert len(trained.model.features.deeper_layers) == 2
    assert trained.config.depth == 3


def test_checkpoints_written_before_dropout_and_depth_resume(tmp_path):
    """A checkpoint whose recorded config has no dropout or depth was made with the
    defaults: a run with the defaults resumes it, another dropout is refused."""
    train, validation = _synthetic(), _synthetic(n=16, seed=1)
    method = Method("unary", "bce")
    config = Config(hidden=8, max_epochs=2, patience=2, batch_size=32)
    fit(method, config, train, validation, checkpoint_dir=tmp_path, max_epochs_this_run=1)
    metas = [path for path in tmp_path.rglob("*") if path.is_file()
             and '"config"' in path.read_text(errors="ignore")]
    assert metas
    for path in metas:
        meta = json.loads(path.read_text())
        del meta["config"]["dropout"], meta["config"]["depth"]
        path.write_text(json.dumps(meta))
    resumed = fit(method, config, train, validation, checkpoint_dir=tmp_path)
    assert resumed.resumed_from == 1 and resumed.epochs == 2
    with pytest.raises(ValueError, match="was written with config="):
        fit(method, dataclasses.replace(config, dropout=0.5), train, validation,
            checkpoint_dir=tmp_path)


def test_records_without_dropout_or_depth_count_as_the_defaults():
    completed = with_added_fields({"hidden": 512})
    assert completed["dropout"] == 0.0 and completed["depth"] == 1
    assert with_added_fields({"dropout": 0.5, "depth": 2})["dropout"] == 0.5


@pytest.mark.parametrize("legacy", [False, True])
def test_reproduce_records_without_dropout_or_depth_resume(tmp_path, legacy):
    """A run file made before dropout and depth (with a settings record lacking them, or
    with none at all) resumes with the default command; a dropout or depth grid, or a
    fixed value other than the default, is refused naming its flag."""
    run = tmp_path / "runs" / "yeast" / "unary-bce" / "seed0.json"
    run.parent.mkdir(parents=True)
    config = {"learning_rate": 0.01, "weight_decay": 1e-4, "hidden": 0, "reg_scale": 1.0,
              "batch_size": 64, "max_epochs": 100, "patience": 10}
    record = {"config": config, "seed": 0, "refit": True,
              "method": {"name": "unary-bce", **{k: v for k, v in dataclasses.asdict(
                  Method("unary", "bce")).items() if k not in ("reg_scale", *MINMIN_FIELDS)}},
              "search": [dict(config, hidden=h, learning_rate=lr, weight_decay=wd)
                         for h in (0, 512) for lr in (3e-3, 1e-2) for wd in (1e-4, 1e-2)]}
    settings = reproduce.grid_settings(warm_start=False)
    del settings["dropout"], settings["depth"]
    if not legacy:
        record["settings"] = settings
        (tmp_path / "settings.json").write_text(json.dumps(settings))
    run.write_text(json.dumps(record))
    groups = [("yeast", Method("unary", "bce"))]
    reproduce.check_settings(tmp_path, reproduce.grid_settings(warm_start=False), groups)
    reproduce.check_settings(tmp_path, reproduce.grid_settings(warm_start=False, dropout=0.0,
                                                               depth=1), groups)
    for changed, flag in (({"dropout": 0.5}, "dropout (--dropout): stored 0.0"),
                          ({"depth": 2}, "depth (--depth): stored 1")):
        with pytest.raises(ValueError) as refused:
            reproduce.check_settings(tmp_path, reproduce.grid_settings(warm_start=False,
                                                                       **changed), groups)
        assert flag in str(refused.value)
    grid = dict(reproduce.DEFAULT_GRID, dropout=(0.0, 0.5))
    with pytest.raises(ValueError, match=r"dropout \(--dropout\): stored 0.0"):
        reproduce.check_settings(tmp_path, reproduce.grid_settings(grid, warm_start=False),
                                 groups)


def test_dropout_and_depth_are_searchable_and_recorded():
    assert {"dropout", "depth"} <= set(reproduce.GRID_FIELDS)
    assert "dropout" not in reproduce.DEFAULT_GRID and "depth" not in reproduce.DEFAULT_GRID
    grid = {"hidden": (0, 8), "learning_rate": (1e-2,), "weight_decay": (1e-4,),
            "reg_scale": (1.0,), "dropout": (0.0, 0.5), "depth": (1, 2)}
    configs = reproduce.method_grid(Method("unary", "bce"), grid)
    # A linear map has no depth: hidden 0 gives 2 (dropout) configs, hidden 8 gives 4.
    assert len(configs) == 6
    assert sorted((c.hidden, c.dropout, c.depth) for c in configs) == [
        (0, 0.0, 1), (0, 0.5, 1), (8, 0.0, 1), (8, 0.0, 2), (8, 0.5, 1), (8, 0.5, 2)]
    settings = reproduce.grid_settings(grid)
    assert settings["dropout"] == [0.0, 0.5] and settings["depth"] == [1, 2]
    assert reproduce.grid_settings()["dropout"] == 0.0 and reproduce.grid_settings()["depth"] == 1


def test_cli_flags_fix_one_value_and_search_several():
    from fenchel.multilabel.cli import _fixed, _grid

    for command in (["multilabel", "--dataset", "yeast"],
                    ["reproduce", "multilabel", "--out", "unused"]):
        args = cli.build_parser().parse_args(command)
        assert "dropout" not in _grid(args) and "dropout" not in _fixed(args)
        assert "depth" not in _grid(args) and "depth" not in _fixed(args)
        args = cli.build_parser().parse_args([*command, "--dropout", "0.5", "--depth", "2"])
        assert _fixed(args)["dropout"] == 0.5 and _fixed(args)["depth"] == 2
        assert "dropout" not in _grid(args)
        args = cli.build_parser().parse_args([*command, "--dropout", "0", "0.5",
                                              "--depth", "1", "3"])
        assert _grid(args)["dropout"] == [0.0, 0.5] and _grid(args)["depth"] == [1, 3]
        assert "dropout" not in _fixed(args) and "depth" not in _fixed(args)
        for bad in (["--dropout", "1"], ["--dropout", "-0.1"], ["--dropout", "x"],
                    ["--depth", "0"]):
            with pytest.raises(SystemExit):
                cli.build_parser().parse_args([*command, *bad])


def test_multilabel_command_with_dropout_and_depth_records_them(data_dir, tmp_path, capsys):
    out = tmp_path / "emotions.json"
    code = cli.main(["multilabel", "--dataset", "emotions", "--energy", "unary", "--loss",
                     "bce", "--dropout", "0.3", "--depth", "2", "--data-dir", str(data_dir),
                     "--json", str(out), *TINY])
    assert code == 0
    assert " dropout=0.3 depth=2" in capsys.readouterr().out
    result = json.loads(out.read_text())
    assert result["config"]["dropout"] == 0.3 and result["config"]["depth"] == 2


def test_the_estimator_takes_dropout_and_depth():
    from fenchel.multilabel.estimator import EnergyNetworkClassifier

    data = _synthetic()
    clf = EnergyNetworkClassifier(energy="unary", loss="bce", hidden=8, dropout=0.5, depth=2,
                                  max_epochs=2, batch_size=32)
    assert clf.get_params()["dropout"] == 0.5 and clf.get_params()["depth"] == 2
    clf.fit(data.x, data.y)
    assert clf.model_.config.dropout == 0.5 and len(clf.model_.model.features.deeper_layers) == 1
    np.testing.assert_array_equal(clf.predict_proba(data.x), clf.predict_proba(data.x))
    with pytest.raises(ValueError, match="dropout must be a number"):
        EnergyNetworkClassifier(dropout=1.0).fit(data.x, data.y)

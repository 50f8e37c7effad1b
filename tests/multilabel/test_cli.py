"""``fenchel multilabel`` end to end on a tiny budget: dense, sparse and broken data."""

from __future__ import annotations

import json

import pytest

from fenchel import cli
from fenchel.multilabel.metrics import METRICS

TINY = ["--max-epochs", "2", "--hidden", "0", "--learning-rate", "0.01",
        "--weight-decay", "1e-4", "--reg-scale", "1", "--batch-size", "32", "--quiet"]


def _check_result(path, dataset, method_name):
    result = json.loads(path.read_text())
    assert result["dataset"] == dataset
    assert result["method"]["name"] == method_name
    for decoding in ("test", "test_tuned"):
        for metric in METRICS:
            assert 0.0 <= result[decoding][metric] <= 1.0
        assert result[decoding]["inference_ms_per_example"] > 0
    assert 0.0 < result["threshold"] < 1.0
    assert result["epochs"] == 2
    return result


def test_multilabel_command_writes_json(data_dir, tmp_path, capsys):
    out = tmp_path / "sub" / "emotions.json"
    code = cli.main(["multilabel", "--dataset", "emotions", "--energy", "pairwise",
                     "--loss", "gfy", "--reg", "entropy", "--seed", "1",
                     "--data-dir", str(data_dir), "--json", str(out), *TINY])
    assert code == 0
    printed = capsys.readouterr().out
    assert "hamming_accuracy=" in printed and "example_f1=" in printed
    result = _check_result(out, "emotions", "pairwise-gfy-entropy")
    assert result["seed"] == 1
    assert not list(out.parent.glob(".*.tmp"))  # atomic write left nothing behind


def test_sparse_arff_dataset(sparse_data_dir, tmp_path):
    """A real slice of the sparse bibtex ARFF (1836 binary features, 159 labels)."""
    out = tmp_path / "tinybib.json"
    code = cli.main(["multilabel", "--dataset", "tinybib", "--energy", "unary",
                     "--loss", "bce", "--data-dir", str(sparse_data_dir), "--json", str(out),
                     *TINY])
    assert code == 0
    result = _check_result(out, "tinybib", "unary-bce")
    assert result["n_train"] + result["n_validation"] == 60 and result["n_test"] == 30


def test_broken_file_fails_cleanly(sparse_data_dir, tmp_path, capsys):
    out = tmp_path / "broken.json"
    code = cli.main(["multilabel", "--dataset", "broken", "--data-dir", str(sparse_data_dir),
                     "--json", str(out), *TINY])
    assert code != 0
    assert "cannot load dataset 'broken'" in capsys.readouterr().err
    assert not out.exists()


def test_bad_arguments_exit_with_usage(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["multilabel", "--dataset", "emotions", "--loss", "softmax"])
    assert exit_info.value.code == 2
    assert cli.main(["multilabel", "--dataset", "emotions", "--energy", "pairwise",
                     "--loss", "bce", *TINY]) == 2
    assert "unary baseline" in capsys.readouterr().err


def test_missing_data_dir_fails_cleanly_and_leaves_no_folders(tmp_path, monkeypatch, capsys):
    """A --data-dir that does not exist, where the download fails: exit 1 naming the data
    folder and where it came from; neither the data folder nor the outputs are created."""
    import urllib.error
    import urllib.request

    def unreachable(url, timeout=None):
        raise urllib.error.URLError("network is unreachable")

    monkeypatch.setattr(urllib.request, "urlopen", unreachable)
    missing = tmp_path / "missing" / "mulan"
    code = cli.main(["multilabel", "--dataset", "emotions", "--data-dir", str(missing),
                     "--json", str(tmp_path / "out" / "r.json"), *TINY])
    assert code == 1
    err = capsys.readouterr().err
    assert f"cannot load dataset 'emotions' (data folder {missing}, from --data-dir)" in err
    assert "could not download" in err
    code = cli.main(["reproduce", "multilabel", "--datasets", "emotions", "--methods",
                     "unary-bce", "--data-dir", str(missing), "--out", str(tmp_path / "grid"),
                     *TINY])
    assert code == 1
    assert "cannot load dataset 'emotions'" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("flags, expected", [([], True), (["--warm-start"], True),
                                              (["--no-warm-start"], False)])
def test_warm_start_flag_reaches_the_training_config(flags, expected):
    from fenchel.multilabel.cli import _fixed

    for command in (["multilabel", "--dataset", "yeast"],
                    ["reproduce", "multilabel", "--out", "unused"]):
        args = cli.build_parser().parse_args([*command, *flags])
        assert _fixed(args)["warm_start"] is expected


def test_rank_flag_reaches_the_training_config_and_is_refused_without_a_factor(capsys):
    from fenchel.multilabel.cli import _fixed

    for command in (["multilabel", "--dataset", "yeast"],
                    ["reproduce", "multilabel", "--out", "unused"]):
        assert _fixed(cli.build_parser().parse_args(command))["rank"] is None
        assert _fixed(cli.build_parser().parse_args([*command, "--rank", "16"]))["rank"] == 16
    for flags in (["--rank", "0"], ["--rank", "two"]):
        with pytest.raises(SystemExit):
            cli.build_parser().parse_args(["multilabel", "--dataset", "yeast", *flags])
    for flags in (["--energy", "unary", "--loss", "bce"], ["--nonconcave"]):
        code = cli.main(["multilabel", "--dataset", "yeast", "--rank", "4", *flags])
        assert code == 2
        assert "--rank is the rank of the concave pairwise interaction" in capsys.readouterr().err


def test_multilabel_command_with_a_rank_records_it(data_dir, tmp_path, capsys):
    out = tmp_path / "emotions.json"
    code = cli.main(["multilabel", "--dataset", "emotions", "--rank", "2",
                     "--data-dir", str(data_dir), "--json", str(out), *TINY])
    assert code == 0
    assert " rank=2" in capsys.readouterr().out
    result = _check_result(out, "emotions", "pairwise-gfy-entropy")
    assert result["config"]["rank"] == 2

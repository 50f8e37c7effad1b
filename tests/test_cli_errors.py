"""Bad flags and unusable paths across every ``fenchel`` sub-command: each is refused before
any work with an exit code and a message naming the argument, the expected and the received
value; never a traceback, and nothing is created on disk.

Each row of ``CASES`` is ``(argv, exit code, substring of stderr)``; ``{file}`` is an
existing file, ``{dir}`` an existing empty folder.
"""

from __future__ import annotations

import doctest
import pathlib

import pytest

from fenchel import _cli_types, _settings, cli

ML = ["multilabel", "--dataset", "emotions"]
RML = ["reproduce", "multilabel", "--datasets", "emotions", "--out", "{dir}/grid"]
COLLECT = ["imitation", "collect", "--env", "particle-2d", "--demos", "1",
           "--out", "{dir}/demos.npz"]
TRAIN = ["imitation", "train", "--env", "particle-2d", "--policy", "mse", "--demos", "1"]
EXPERT = ["imitation", "train-expert", "--env", "hopper"]
RIM = ["reproduce", "imitation", "--out", "{dir}/grid"]
POSITIVE = "expected a finite number > 0, got"
NON_NEGATIVE = "expected a finite number >= 0, got"
COUNT = "expected an integer >= 1, got"
SEED = "expected an integer seed in [0, 2147483647], got"

CASES = [
    # fenchel multilabel: numbers
    ([*ML, "--learning-rate", "inf"], 2, f"argument --learning-rate: {POSITIVE} 'inf'"),
    ([*ML, "--learning-rate", "0.01", "-1"], 2, f"argument --learning-rate: {POSITIVE} '-1'"),
    ([*ML, "--learning-rate", "abc"], 2, f"argument --learning-rate: {POSITIVE} 'abc'"),
    ([*ML, "--learning-rate", "1e39"], 2,
     f"argument --learning-rate: {POSITIVE} '1e39' (overflows float32"),
    ([*ML, "--learning-rate", "1e-50"], 2,
     f"argument --learning-rate: {POSITIVE} '1e-50' (0 in float32)"),
    ([*ML, "--lr", "inf"], 2, f"argument --lr: {POSITIVE} 'inf'"),  # deprecated spelling
    ([*ML, "--lr", "0.1", "--learning-rate", "0.2"], 2,
     "argument --learning-rate: not allowed with argument --lr"),
    ([*ML, "--weight-decay", "nan"], 2, f"argument --weight-decay: {NON_NEGATIVE} 'nan'"),
    ([*ML, "--weight-decay=-1e-4"], 2, f"argument --weight-decay: {NON_NEGATIVE} '-1e-4'"),
    ([*ML, "--reg-scale", "0"], 2, f"argument --reg-scale: {POSITIVE} '0'"),
    ([*ML, "--reg-scale=-inf"], 2, f"argument --reg-scale: {POSITIVE} '-inf'"),
    ([*ML, "--seed", "-1"], 2, f"argument --seed: {SEED} '-1'"),
    ([*ML, "--seed", "2147483648"], 2, f"argument --seed: {SEED} '2147483648'"),
    ([*ML, "--seed", "1.5"], 2, f"argument --seed: {SEED} '1.5'"),
    ([*ML, "--hidden", "-1"], 2, "argument --hidden: expected an integer >= 0, got '-1'"),
    ([*ML, "--max-epochs", "0"], 2, f"argument --max-epochs: {COUNT} '0'"),
    ([*ML, "--patience", "-3"], 2, f"argument --patience: {COUNT} '-3'"),
    ([*ML, "--batch-size", "1.5"], 2, f"argument --batch-size: {COUNT} '1.5'"),
    ([*ML, "--devices", "-1"], 2, "argument --devices: must be an integer >= 0 or 'all'"),
    ([*ML, "--loss", "softmax"], 2, "argument --loss: invalid choice: 'softmax'"),
    ([*ML, "--energy", "pairwise", "--loss", "bce"], 2, "unary baseline"),
    # fenchel multilabel: paths and data
    ([*ML, "--json", "{dir}"], 2, "argument --json: expected a writable file path, got "
                                  "'{dir}' (it is an existing folder, a file name is needed)"),
    ([*ML, "--json", "{file}/out.json"], 2, "argument --json: expected a writable file path, "
                                            "got '{file}/out.json' ('{file}' is not a folder)"),
    ([*ML, "--checkpoint-dir", "{file}"], 2, "argument --checkpoint-dir: expected a writable "
                                             "folder, got '{file}' (it is an existing file"),
    (["multilabel", "--dataset", "nope", "--data-dir", "{dir}"], 1,
     "cannot load dataset 'nope' (data folder {dir}, from --data-dir): unknown dataset"),
    # fenchel reproduce multilabel
    ([*RML, "--out", "{file}"], 2, "argument --out: expected a writable folder, got '{file}' "
                                   "(it is an existing file, a folder is needed)"),
    ([*RML, "--out", "{file}/grid"], 2, "argument --out: expected a writable folder"),
    ([*RML, "--jobs", "0"], 2, f"argument --jobs: {COUNT} '0'"),
    ([*RML, "--seeds", "-2"], 2, f"argument --seeds: {COUNT} '-2'"),
    ([*RML, "--learning-rate", "nan"], 2, f"argument --learning-rate: {POSITIVE} 'nan'"),
    ([*RML, "--max-epochs", "inf"], 2, f"argument --max-epochs: {COUNT} 'inf'"),
    ([*RML, "--methods", "pairwise-bce"], 2, "argument --methods: bad method 'pairwise-bce'"),
    ([*RML, "--datasets", "nope"], 1, "cannot load dataset 'nope': unknown dataset"),
    # fenchel imitation collect / train / train-expert
    ([*COLLECT, "--demos", "0"], 2, f"argument --demos: {COUNT} '0'"),
    (COLLECT[:4] + COLLECT[6:], 2, "one of the arguments --demos is required"),
    ([*COLLECT, "--seed", "-1"], 2, f"argument --seed: {SEED} '-1'"),
    ([*COLLECT, "--out", "{dir}"], 2, "argument --out: expected a writable file path"),
    ([*COLLECT, "--env", "particle-99d"], 2, "argument --env:"),
    ([*TRAIN, "--learning-rate", "inf"], 2, f"argument --learning-rate: {POSITIVE} 'inf'"),
    ([*TRAIN, "--reg-scale", "nan"], 2, f"argument --reg-scale: {POSITIVE} 'nan'"),
    ([*TRAIN, "--steps", "0"], 2, f"argument --steps: {COUNT} '0'"),
    ([*TRAIN, "--hidden-sizes", "64", "0"], 2, f"argument --hidden-sizes: {COUNT} '0'"),
    ([*TRAIN, "--act-samples", "-5"], 2, f"argument --act-samples: {COUNT} '-5'"),
    ([*TRAIN, "--eval-episodes", "0"], 2, f"argument --eval-episodes: {COUNT} '0'"),
    ([*TRAIN, "--demos", "1.5"], 2, f"argument --demos: {COUNT} '1.5'"),
    ([*TRAIN, "--seed", "x"], 2, f"argument --seed: {SEED} 'x'"),
    ([*TRAIN, "--json", "{dir}"], 2, "argument --json: expected a writable file path"),
    ([*TRAIN, "--checkpoint-dir", "{file}"], 2, "argument --checkpoint-dir: expected a "
                                                "writable folder"),
    (TRAIN[:-2], 2, "one of the arguments --demos --demos-file is required"),
    ([*TRAIN, "--demos-file", "{dir}/missing.npz"], 2, "argument --demos-file: expected an "
                                                       "existing file, got '{dir}/missing.npz' "
                                                       "(no such file)"),
    ([*TRAIN, "--demos-file", "{dir}"], 2, "argument --demos-file: expected an existing file, "
                                           "got '{dir}' (it is a folder)"),
    ([*TRAIN, "--demos-file", "{file}"], 2, "argument --demos-file: '{file}' is not a "
                                            "demonstrations file written by `fenchel imitation "
                                            "collect` (not a NumPy .npz archive)"),
    ([*EXPERT, "--timesteps", "0"], 2, f"argument --timesteps: {COUNT} '0'"),
    ([*EXPERT, "--seed", "-7"], 2, f"argument --seed: {SEED} '-7'"),
    ([*EXPERT, "--out", "{dir}"], 2, "argument --out: expected a writable file path"),
    ([*EXPERT, "--env", "Hopper-v5"], 2, "argument --env: invalid choice: 'Hopper-v5'"),
    (EXPERT[:2], 2, "one of the arguments --env is required"),
    (["imitation", "train-expert", "--env-id", "hopper"], 2,
     "argument --env-id: expected one of Hopper-v5, HalfCheetah-v5, Walker2d-v5, got 'hopper'"),
    # fenchel reproduce imitation
    ([*RIM, "--out", "{file}"], 2, "argument --out: expected a writable folder, got '{file}'"),
    ([*RIM, "--jobs", "0"], 2, f"argument --jobs: {COUNT} '0'"),
    ([*RIM, "--seeds", "0"], 2, f"argument --seeds: {COUNT} '0'"),
    ([*RIM, "--eval-episodes", "-1"], 2, f"argument --eval-episodes: {COUNT} '-1'"),
    ([*RIM, "--demos", "50", "0"], 2,
     "argument --demos: expected N or TASK=N with N an integer >= 1, got '0'"),
    ([*RIM, "--demos", "pointmaze-medium=-3"], 2,
     "argument --demos: expected N or TASK=N with N an integer >= 1, got 'pointmaze-medium=-3'"),
    ([*RIM, "--learning-rate", "-1"], 2, f"argument --learning-rate: {POSITIVE} '-1'"),
    # fenchel bench
    (["bench", "--reps", "0"], 2, f"argument --reps: {COUNT} '0'"),
    (["bench", "--json", "{dir}"], 2, "argument --json: expected a writable file path"),
    (["bench", "--json", "{file}/b.json"], 2, "('{file}' is not a folder)"),
    (["bench", "--cases", "pairwise,nope"], 2, "argument --cases: expected a comma-separated"),
    (["bench", "--cases", "training", "--data-dir", "{dir}"], 1,
     "the training case cannot load dataset 'yeast'"),
]


@pytest.fixture
def places(tmp_path) -> dict[str, str]:
    file = tmp_path / "a-file.txt"
    file.write_text("not a folder")
    folder = tmp_path / "a-folder"
    folder.mkdir()
    return {"file": str(file), "dir": str(folder)}


def _listing(root: pathlib.Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


@pytest.mark.parametrize("argv, code, message", CASES, ids=lambda v: " ".join(v)
                         if isinstance(v, list) else None)
def test_bad_flags_and_paths_are_refused(argv, code, message, places, tmp_path, capsys):
    argv = [word.format(**places) for word in argv]
    message = message.format(**places)
    before = _listing(tmp_path)
    try:
        returned = cli.main(argv)
    except SystemExit as exit_info:  # argparse
        returned = exit_info.code
    err = capsys.readouterr().err
    assert returned == code, err
    assert message in err, err
    assert "Traceback" not in err
    assert _listing(tmp_path) == before  # nothing created: no folder, no partial file


def test_unwritable_folders_are_refused(tmp_path, capsys):
    if _cli_types.os.geteuid() == 0:
        pytest.skip("root can write everywhere")
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    with pytest.raises(SystemExit) as exit_info:
        cli.main([*ML, "--json", str(locked / "r.json")])
    assert exit_info.value.code == 2
    assert f"folder {str(locked)!r} is not writable" in capsys.readouterr().err


@pytest.mark.parametrize("module", [_cli_types, _settings], ids=lambda m: m.__name__)
def test_docstring_examples(module):
    result = doctest.testmod(module, report=True)
    assert result.attempted > 0 and result.failed == 0

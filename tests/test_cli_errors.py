"""Bad flags and unusable paths across every ``fenchel`` sub-command: each is refused before
any work with an exit code and a message naming the argument, the expected and the received
value; never a traceback, and nothing is created on disk.

Each row of ``CASES`` is ``(argv, exit code, substring of stderr)``; ``{file}`` is an
existing file, ``{dir}`` an existing empty folder.

Files and processes (the second half): an output folder, checkpoint folder or ``--json``
file in use by another run, outputs that cannot be written, aggregates that cannot be
replaced, unreadable checkpoints, damaged demonstrations and empty splits are each refused
with one line and exit code 2, one table per class; nothing is lost or mixed.
"""

from __future__ import annotations

import doctest
import pathlib

import pytest

from fenchel import cli
from fenchel.infra import _cli_types, _settings

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


def test_unwritable_folders_are_refused(tmp_path, capsys, immutable):
    """Checked by trying: permission bits for a user, ``chattr +i`` for root (whom
    permission bits do not stop, and whom ``os.access`` always says yes)."""
    locked = tmp_path / "locked"
    if _cli_types.os.geteuid() == 0:
        locked.mkdir()
        immutable(locked)
    else:
        locked.mkdir(mode=0o500)
    for argv in ([*ML, "--json", str(locked / "r.json")],
                 [*RML[:-2], "--out", str(locked / "grid")],
                 [*ML, "--checkpoint-dir", str(locked / "ckpt")]):
        with pytest.raises(SystemExit) as exit_info:
            cli.main(argv)
        assert exit_info.value.code == 2
        assert f"folder {str(locked)!r} is not writable" in capsys.readouterr().err


@pytest.mark.parametrize("module", [_cli_types, _settings], ids=lambda m: m.__name__)
def test_docstring_examples(module):
    result = doctest.testmod(module, report=True)
    assert result.attempted > 0 and result.failed == 0


# =========================================================================== files, processes

import contextlib
import dataclasses
import importlib
import json
import os
import shutil
import subprocess
import sys

REPO = pathlib.Path(__file__).resolve().parents[1]
COMMITTED = REPO / "docs" / "results"

HOLDER = """
import sys
from fenchel.infra._io import output_lock
with output_lock(sys.argv[1], folder=sys.argv[2] == "folder", command="fenchel fake holder"):
    print("locked", flush=True)
    sys.stdin.read()
"""


@contextlib.contextmanager
def held_by_another_process(target, folder=True):
    """Another process holding the output lock of ``target`` until the block ends."""
    process = subprocess.Popen([sys.executable, "-c", HOLDER, str(target),
                                "folder" if folder else "file"], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout.readline().strip() == "locked"
        yield process
    finally:
        process.stdin.close()
        process.wait(timeout=30)


def _chattr(path, flag) -> bool:
    return subprocess.run(["chattr", flag, str(path)], capture_output=True).returncode == 0


@pytest.fixture
def immutable():
    """``immutable(path)``: ``chattr +i``, which stops root too; undone at teardown. Skips
    where the file system or the user cannot set it."""
    done = []

    def make(path):
        if not _chattr(path, "+i"):
            pytest.skip("chattr +i is not available here (file system or privileges)")
        done.append(path)

    yield make
    for path in reversed(done):
        _chattr(path, "-i")


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory) -> pathlib.Path:
    """A data folder of unregistered MULAN datasets ``tiny<n>``: the first n training rows
    of emotions (n = 1, 2, 3, 6) and 10 test rows."""
    root = os.environ.get("FENCHEL_DATA")
    if not root:
        pytest.skip("FENCHEL_DATA is not set: it must point to the MULAN copies")
    source = pathlib.Path(root) / "emotions"
    folder = tmp_path_factory.mktemp("tiny-mulan")
    for n in (1, 2, 3, 6):
        target = folder / f"tiny{n}"
        target.mkdir()
        for split, rows in (("train", n), ("test", 10)):
            text = (source / f"emotions-{split}.arff").read_text()
            header, data = text.split("@data", 1)
            lines = [line for line in data.splitlines() if line.strip()][:rows]
            (target / f"tiny{n}-{split}.arff").write_text(header + "@data\n" + "\n".join(lines)
                                                          + "\n")
        shutil.copy(source / "emotions.xml", target / f"tiny{n}.xml")
    return folder


def _run(argv) -> int:
    try:
        return cli.main([str(word) for word in argv])
    except SystemExit as exit_info:  # argparse
        return exit_info.code


def _error_line(err: str, prefix: str) -> str:
    """The one line of ``err`` that starts with ``prefix`` (and no traceback anywhere)."""
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if line.startswith(prefix)]
    assert len(lines) == 1, err
    return lines[0]


def _contents(root: pathlib.Path) -> dict[str, bytes | None]:
    return {str(p.relative_to(root)): p.read_bytes() if p.is_file() else None
            for p in root.rglob("*")}


def _never(name):
    def fail(*args, **kwargs):
        raise AssertionError(f"{name} ran: the refusal came after the work started")
    return fail


TINY_ML = ["--methods", "unary-bce", "--seeds", "1", "--max-epochs", "1", "--hidden", "0",
           "--learning-rate", "0.01", "--weight-decay", "1e-4", "--reg-scale", "1", "--quiet"]
TINY_CAL = ["--truths", "logistic", "--methods", "perceptron", "--sizes", "20", "--seeds", "1",
            "--steps", "2", "--test-size", "20", "--quiet"]
TINY_IM = ["--envs", "particle-2d", "--policies", "mse", "--demos", "1", "--seeds", "1",
           "--eval-episodes", "1", "--steps", "1", "--quiet"]

# --------------------------------------------------------------------------- locks

# (id, argv, locked target, a folder?, prefix of the error): every command that writes an
# output folder, a checkpoint folder or a rewritten file.
LOCKED = [
    ("reproduce multilabel", ["reproduce", "multilabel", "--datasets", "tiny6", "--data-dir",
                              "{data}", *TINY_ML, "--out", "{dir}/grid"],
     "{dir}/grid", True, "fenchel reproduce multilabel"),
    ("reproduce imitation", ["reproduce", "imitation", *TINY_IM, "--out", "{dir}/grid"],
     "{dir}/grid", True, "fenchel reproduce imitation"),
    ("reproduce calibration", ["reproduce", "calibration", *TINY_CAL, "--out", "{dir}/grid"],
     "{dir}/grid", True, "fenchel reproduce calibration"),
    ("multilabel --checkpoint-dir", ["multilabel", "--dataset", "tiny6", "--data-dir", "{data}",
                                     *TINY_ML[4:], "--checkpoint-dir", "{dir}/ckpt"],
     "{dir}/ckpt", True, "fenchel multilabel"),
    ("imitation train --checkpoint-dir", ["imitation", "train", "--env", "particle-2d",
                                          "--policy", "mse", "--demos", "1", "--steps", "2",
                                          "--eval-episodes", "1", "--quiet",
                                          "--checkpoint-dir", "{dir}/ckpt"],
     "{dir}/ckpt", True, "fenchel imitation train"),
    ("bench --json", ["bench", "--cases", "pairwise", "--quick", "--quiet", "--json",
                      "{dir}/bench.json"], "{dir}/bench.json", False, "fenchel bench"),
]


@pytest.mark.parametrize("argv, target, folder, prefix", [row[1:] for row in LOCKED],
                         ids=[row[0] for row in LOCKED])
def test_an_output_in_use_by_another_run_is_refused(argv, target, folder, prefix, tiny_data,
                                                    tmp_path, capsys, monkeypatch):
    places = {"dir": tmp_path / "work", "data": tiny_data}
    places["dir"].mkdir()
    target = pathlib.Path(target.format(**places))
    for module, name in [("fenchel.multilabel.reproduce", "run_experiment"),
                         ("fenchel.multilabel.calibration", "run_one"),
                         ("fenchel.imitation.reproduce", "evaluate_oracle")]:
        monkeypatch.setattr(f"{module}.{name}", _never(name))
    with held_by_another_process(target, folder) as holder:
        before = _contents(tmp_path)
        assert _run([word.format(**places) for word in argv]) == 2
        line = _error_line(capsys.readouterr().err, f"{prefix}: error: ")
        assert f"{target} is in use by another run (pid {holder.pid} on host " in line
        assert "running: fenchel fake holder); wait for it to end, or choose another " in line
        assert _contents(tmp_path) == before  # nothing written, nothing removed


@pytest.mark.parametrize("kind", ["reproduce multilabel --out", "multilabel --checkpoint-dir"])
def test_two_runs_started_together_on_one_folder_do_not_mix(kind, tiny_data, tmp_path,
                                                            subprocess_env, monkeypatch,
                                                            capsys):
    """The report: two runs with different learning rates, started together on one folder.
    One runs, the other is refused (exit 2, naming the first); the folder holds the
    settings of one run only, and resumes with them."""
    folder = tmp_path / "shared"
    if kind.startswith("reproduce"):
        base = ["reproduce", "multilabel", "--datasets", "tiny6", "--data-dir", tiny_data,
                "--methods", "unary-bce", "pairwise-gfy-entropy", "--seeds", "1",
                "--max-epochs", "3", "--hidden", "0", "--weight-decay", "1e-4",
                "--reg-scale", "1", "--quiet", "--out", folder]
    else:
        base = ["multilabel", "--dataset", "tiny6", "--data-dir", tiny_data, "--max-epochs",
                "3", "--hidden", "0", "--weight-decay", "1e-4", "--reg-scale", "1", "--quiet",
                "--checkpoint-dir", folder]
    argvs = {rate: [*base, "--learning-rate", rate] for rate in ("0.01", "0.1")}
    processes = {rate: subprocess.Popen([sys.executable, "-m", "fenchel", *map(str, argv)],
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        text=True, env=subprocess_env(), cwd=REPO)
                 for rate, argv in argvs.items()}
    outputs = {rate: process.communicate(timeout=300) for rate, process in processes.items()}
    codes = {rate: process.returncode for rate, process in processes.items()}
    assert sorted(codes.values()) == [0, 2], outputs
    winner = next(rate for rate, code in codes.items() if code == 0)
    loser = next(rate for rate, code in codes.items() if code == 2)
    prefix = "fenchel reproduce multilabel" if kind.startswith("reproduce") else "fenchel multilabel"
    line = _error_line(outputs[loser][1], f"{prefix}: error: ")
    assert f"{folder} is in use by another run (pid {processes[winner].pid} on host " in line
    assert f"--learning-rate {winner}" in line  # the holder's command
    assert not list(folder.rglob(".fenchel.lock"))
    if kind.startswith("reproduce"):
        recorded = [json.loads((folder / "settings.json").read_text())] + [
            json.loads(path.read_text())["settings"] for path in folder.glob("runs/*/*/*.json")]
        assert len(recorded) == 3
        assert all(settings["learning_rate"] == [float(winner)] for settings in recorded)
        monkeypatch.setattr("fenchel.multilabel.reproduce.run_experiment", _never("training"))
        assert _run(argvs[winner]) == 0  # resumes: nothing to train
        assert _run(argvs[loser]) == 2  # and still refuses the other settings
        assert "learning_rate (--learning-rate): stored" in capsys.readouterr().err
    else:
        from fenchel.training import Checkpointer

        checkpoints = Checkpointer(folder / "config_000")
        try:
            meta = checkpoints.meta(checkpoints.latest_step())
        finally:
            checkpoints.close()
        assert meta["config"]["learning_rate"] == float(winner)


def test_a_stale_lock_of_a_killed_run_is_taken_over(tmp_path, capsys):
    out = tmp_path / "grid"
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(out), "folder"],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "locked"
    holder.kill()  # SIGKILL: no clean-up, the lock file stays
    holder.wait(timeout=30)
    assert json.loads((out / ".fenchel.lock").read_text())["pid"] == holder.pid
    assert _run(["reproduce", "calibration", *TINY_CAL, "--out", out]) == 0, \
        capsys.readouterr().err
    assert (out / "results.json").exists() and not (out / ".fenchel.lock").exists()


# --------------------------------------------------------------------------- not writable

GRIDS = {
    "multilabel": (["reproduce", "multilabel", "--datasets", "tiny6", "--data-dir", "{data}",
                    *TINY_ML], "runs/tiny6/unary-bce/seed0.json",
                   [("fenchel.multilabel.reproduce", "run_experiment")]),
    "calibration": (["reproduce", "calibration", *TINY_CAL], "runs/logistic/perceptron/n20-seed0.json",
                    [("fenchel.multilabel.calibration", "run_one")]),
    "imitation": (["reproduce", "imitation", *TINY_IM], "runs/oracle__particle-2d__s0.json",
                  [("fenchel.imitation.reproduce", "run_experiment"),
                   ("fenchel.imitation.reproduce", "evaluate_oracle")]),
}


def _unwritable(kind: str, out: pathlib.Path, run_file: str, immutable) -> tuple[str, str]:
    """Make part of ``out`` unwritable; returns the path refused and the reason."""
    if kind == "runs/ is a file":
        (out / "runs").write_text("not a folder")
        return run_file, f"{str(out / 'runs')!r} is not a folder"
    if kind == "runs/ is read-only (immutable)":
        (out / "runs").mkdir()
        immutable(out / "runs")
        return run_file, f"folder {str(out / 'runs')!r} is not writable (Operation not permitted)"
    if kind == "runs/ is read-only (chmod)":
        if os.geteuid() == 0:
            pytest.skip("permission bits do not stop root (the immutable case does)")
        (out / "runs").mkdir(mode=0o555)
        return run_file, f"folder {str(out / 'runs')!r} is not writable (Permission denied)"
    if kind == "a run file is a folder":
        (out / run_file).mkdir(parents=True)
        return run_file, "it is an existing folder, a file name is needed"
    if kind == "results.md is a folder":
        (out / "results.md").mkdir()
        return "results.md", "it is an existing folder, a file name is needed"
    if kind == "results.md is read-only (immutable)":
        (out / "results.md").write_text("old")
        immutable(out / "results.md")
        return "results.md", "it is immutable (chattr +i or +a): it cannot be replaced"
    raise AssertionError(kind)


UNWRITABLE = ["runs/ is a file", "runs/ is read-only (immutable)", "runs/ is read-only (chmod)",
              "a run file is a folder", "results.md is a folder",
              "results.md is read-only (immutable)"]


@pytest.mark.parametrize("kind", UNWRITABLE)
@pytest.mark.parametrize("grid", list(GRIDS))
def test_unwritable_outputs_are_refused_before_training(grid, kind, tiny_data, tmp_path,
                                                        immutable, capsys, monkeypatch):
    argv, run_file, trainers = GRIDS[grid]
    for module, name in trainers:
        monkeypatch.setattr(f"{module}.{name}", _never(name))
    out = tmp_path / "out"
    out.mkdir()
    path, reason = _unwritable(kind, out, run_file, immutable)
    before = _contents(out)
    assert _run([word.format(data=tiny_data) for word in argv] + ["--out", out]) == 2
    line = _error_line(capsys.readouterr().err, f"fenchel reproduce {grid}: error: ")
    assert line.startswith(f"fenchel reproduce {grid}: error: cannot write {out / path}: "
                           f"{reason}"), line
    assert _contents(out) == before


# --------------------------------------------------------------------------- aggregates

# (argv, committed run files copied into OUT, the plots): grids whose runs are all on disk.
AGGREGATES = {
    "multilabel": (["reproduce", "multilabel", "--datasets", "yeast", "--methods", "unary-bce",
                    "--seeds", "3", "--no-warm-start", "--data-dir", "{nodata}", "--quiet"],
                   ("multilabel", "runs/yeast/unary-bce/seed*.json"),
                   ["test_hamming_accuracy.png", "test_tuned_example_f1.png"]),
    "calibration": (["reproduce", "calibration", "--truths", "logistic", "--methods",
                     "perceptron", "--quiet"],
                    ("calibration", "runs/logistic/perceptron/*.json"), ["calibration.png"]),
    # The committed imitation runs predate --hard-negative-search (made with "sample").
    "imitation": (["reproduce", "imitation", "--envs", "particle-4d-multimodal", "--policies",
                   "mse", "--hard-negative-search", "sample", "--quiet"],
                  ("imitation", "runs/*particle-4d-multimodal__*s[0-2].json"),
                  ["success_vs_demos.png"]),
}


def _block_aggregate(kind, out, plots, immutable):
    if kind == "results.md becomes read-only (immutable)":
        immutable(out / "results.md")
    elif kind == "results.md becomes a folder":
        (out / "results.md").unlink()
        (out / "results.md").mkdir()
    elif kind == "the plot becomes a folder":
        (out / plots[-1]).unlink()
        (out / plots[-1]).mkdir()
    else:
        raise AssertionError(kind)


@pytest.mark.parametrize("kind", ["results.md becomes read-only (immutable)",
                                  "results.md becomes a folder", "the plot becomes a folder"])
@pytest.mark.parametrize("grid", list(AGGREGATES))
def test_aggregates_are_written_all_or_nothing(grid, kind, tmp_path, immutable, capsys,
                                               monkeypatch):
    """An aggregate that cannot be replaced once the runs are done (the folder changed
    during the run): results.json, results.md and the plots stay as they were, the runs
    are kept, and the same command writes them all once the obstacle is gone."""
    argv, (committed, pattern), plots = AGGREGATES[grid]
    source = COMMITTED / committed
    runs = sorted(source.glob(pattern))
    if not runs:
        pytest.skip(f"no committed {committed} results")
    out = tmp_path / "out"
    for run in runs:
        target = out / run.relative_to(source)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(run, target)
    module = importlib.import_module({"multilabel": "fenchel.multilabel.reproduce",
                                      "calibration": "fenchel.multilabel.calibration",
                                      "imitation": "fenchel.imitation.reproduce"}[grid])
    for name in ("run_experiment", "run_one", "evaluate_oracle"):
        if hasattr(module, name):
            monkeypatch.setattr(module, name, _never(name))  # every run is on disk
    argv = [word.format(nodata=tmp_path / "no-data") for word in argv] + ["--out", out]
    assert _run(argv) == 0, capsys.readouterr().err
    capsys.readouterr()
    aggregate = module.aggregate

    def blocked(*args, **kwargs):  # the runs are done; now an aggregate cannot be replaced
        _block_aggregate(kind, out, plots, immutable)
        return aggregate(*args, **kwargs)

    monkeypatch.setattr(module, "aggregate", blocked)
    runs_before = {p: p.read_bytes() for p in out.glob("runs/**/*.json")}

    def snapshot():
        return {name: (out / name).read_bytes() for name in ("results.json", *plots,
                                                              "results.md")
                if (out / name).is_file()}

    before = snapshot()  # (the blocker is set inside the call; it keeps the old content)
    inode = (out / "results.json").stat().st_ino
    assert _run(argv) == 2
    line = _error_line(capsys.readouterr().err, f"fenchel reproduce {grid}: error: cannot write ")
    assert "was changed" in line or "it is " in line, line
    after = snapshot()
    for name, content in after.items():
        assert before[name] == content, f"{name} was rewritten although the set failed"
    assert (out / "results.json").stat().st_ino == inode  # not replaced, not even by a copy
    assert not [p.name for p in out.iterdir() if p.name.startswith((".tmp-", ".old-"))]
    assert runs_before == {p: p.read_bytes() for p in out.glob("runs/**/*.json")}

    monkeypatch.setattr(module, "aggregate", aggregate)  # the obstacle is gone
    _chattr(out / "results.md", "-i")
    for name in ("results.md", *plots):
        if (out / name).is_dir():
            (out / name).rmdir()
    assert _run(argv) == 0
    assert set(snapshot()) == {"results.json", "results.md", *plots}
    assert (out / "results.json").stat().st_ino != inode  # this call wrote the set


# --------------------------------------------------------------------------- checkpoints

CHECKPOINTED = {
    "multilabel": (["multilabel", "--dataset", "tiny6", "--data-dir", "{data}", *TINY_ML[4:]],
                   "fenchel multilabel"),
    "imitation": (["imitation", "train", "--env", "particle-2d", "--policy", "mse", "--demos",
                   "1", "--steps", "2", "--eval-episodes", "1", "--quiet"],
                  "fenchel imitation train"),
}


@pytest.fixture(scope="module")
def checkpoints(tiny_data, tmp_path_factory):
    """``{family: (argv, checkpoint folder)}``: one finished checkpointed run of each."""
    made = {}
    for family, (argv, _) in CHECKPOINTED.items():
        folder = tmp_path_factory.mktemp(f"ckpt-{family}") / "ckpt"
        argv = [word.format(data=tiny_data) for word in argv]
        assert _run([*argv, "--checkpoint-dir", folder]) == 0
        made[family] = (argv, folder)
    return made


def _corrupt(kind: str, folder: pathlib.Path) -> None:
    if kind == "meta is not JSON":
        for path in folder.rglob("meta/metadata"):
            path.write_text('{"step": 3, "hist')
    elif kind == "meta is an empty object":
        for path in folder.rglob("meta/metadata"):
            path.write_text("{}")
    elif kind == "meta is not an object":
        for path in folder.rglob("meta/metadata"):
            path.write_text("[1, 2]")
    elif kind == "array manifest missing":
        for path in folder.rglob("arrays/manifest.ocdbt"):
            path.unlink()
    elif kind == "array data missing":
        for path in folder.rglob("arrays"):
            for data in path.rglob("d/*"):
                data.unlink()
    else:
        raise AssertionError(kind)


@pytest.mark.parametrize("kind", ["meta is not JSON", "meta is an empty object",
                                  "meta is not an object", "array manifest missing",
                                  "array data missing"])
@pytest.mark.parametrize("family", list(CHECKPOINTED))
def test_unreadable_checkpoints_are_refused_in_one_line(family, kind, checkpoints, tmp_path,
                                                        capsys):
    argv, made = checkpoints[family]
    folder = tmp_path / "ckpt"
    shutil.copytree(made, folder)
    _corrupt(kind, folder)
    assert _run([*argv, "--checkpoint-dir", folder]) == 2
    line = _error_line(capsys.readouterr().err, f"{CHECKPOINTED[family][1]}: error: checkpoint ")
    assert f"in {folder}" in line and "cannot be read" in line, line
    assert "delete" in line


def test_an_unreadable_checkpoint_prints_one_line_and_nothing_else(checkpoints, tmp_path,
                                                                   subprocess_env):
    """In a fresh process: orbax's reads still in flight after the failed one used to print
    a screen of ``RuntimeError: Event loop is closed`` tracebacks around the message."""
    argv, made = checkpoints["multilabel"]
    folder = tmp_path / "ckpt"
    shutil.copytree(made, folder)
    _corrupt("array manifest missing", folder)
    process = subprocess.run([sys.executable, "-m", "fenchel", *map(str, argv),
                              "--checkpoint-dir", str(folder)], capture_output=True, text=True,
                             env=subprocess_env(), cwd=REPO, timeout=300)
    assert process.returncode == 2, process.stderr
    assert process.stderr.startswith("fenchel multilabel: error: checkpoint step "), process.stderr
    assert process.stderr.count("\n") == 1, process.stderr


# --------------------------------------------------------------------------- inputs


@pytest.mark.parametrize("rows", [1, 2])
@pytest.mark.parametrize("refit", [[], ["--no-refit"]], ids=["refit", "no-refit"])
@pytest.mark.parametrize("command", ["multilabel", "reproduce multilabel"])
def test_an_empty_validation_split_is_refused_before_training(command, refit, rows, tiny_data,
                                                              tmp_path, capsys):
    """A training file of 1 or 2 rows leaves no validation row (round(0.2 n) = 0): before,
    the refit said ``max_epochs must be a positive integer, got 0`` and --no-refit tuned
    the threshold on nothing and exited 0."""
    if command == "multilabel":
        argv = ["multilabel", "--dataset", f"tiny{rows}", "--data-dir", tiny_data,
                *TINY_ML[4:], "--max-epochs", "2", "--json", tmp_path / "r.json"]
    else:
        argv = ["reproduce", "multilabel", "--datasets", f"tiny{rows}", "--data-dir", tiny_data,
                *TINY_ML, "--max-epochs", "2", "--out", tmp_path / "grid"]
    assert _run([*argv, *refit]) == 2
    line = _error_line(capsys.readouterr().err, f"fenchel {command}: error: ")
    assert line == (f"fenchel {command}: error: dataset 'tiny{rows}' has an empty validation "
                    f"split (round(0.2 × {rows}) = 0 of its {rows} training "
                    f"row{'s' if rows > 1 else ''} go to validation, at least 3 are needed): "
                    "the search (early stopping, the choice of configuration and of the "
                    "refit's epochs) and the tuned threshold need validation rows")
    assert not any(tmp_path.iterdir())  # no --json file, no output folder


@pytest.mark.parametrize("rows", [1, 2, 3, 6])
def test_the_split_check_refuses_exactly_the_empty_splits(rows, tiny_data):
    from fenchel.datasets import load_dataset
    from fenchel.multilabel.train import SplitError, check_splits

    data = load_dataset(f"tiny{rows}", tiny_data, seed=0)
    assert (len(data.validation.x) == 0) == (rows <= 2)
    if rows <= 2:
        with pytest.raises(SplitError, match="empty validation split"):
            check_splits(data)
    else:
        check_splits(data)


def test_empty_validation_rows_are_refused_by_the_library():
    import numpy as np

    from fenchel.multilabel.losses import Method
    from fenchel.multilabel.metrics import tune_threshold
    from fenchel.multilabel.train import Config, MultilabelSplitLike, fit

    with pytest.raises(ValueError, match="no rows to tune the threshold on"):
        tune_threshold(np.zeros((0, 3)), np.zeros((0, 3)))
    split = lambda n: MultilabelSplitLike(np.zeros((n, 2), np.float32), np.zeros((n, 3),
                                                                               np.float32))
    with pytest.raises(ValueError, match="validation split is empty"):
        fit(Method("unary", "bce"), Config(max_epochs=1), split(4), split(0))


@pytest.fixture(scope="module")
def demonstrations():
    from fenchel.imitation.demos import collect_demonstrations

    return collect_demonstrations("particle-2d", 2, seed=0)


@pytest.mark.parametrize("array, index, value, kind", [
    ("observations", (5, 2), float("nan"), "NaN"),
    ("actions", (7, 1), float("inf"), "inf"),
    ("actions", (0, 0), float("-inf"), "-inf"),
    ("episode_returns", (1,), float("nan"), "NaN"),
])
def test_non_finite_demonstrations_are_refused_naming_the_file_and_array(
        array, index, value, kind, demonstrations, tmp_path, capsys):
    """Before: ``training mse diverged (non-finite loss)`` after training."""
    import numpy as np

    from fenchel.imitation.demos import save_demonstrations

    values = np.array(getattr(demonstrations, array))
    values[index] = value
    path = tmp_path / "demos.npz"
    save_demonstrations(path, dataclasses.replace(demonstrations, **{array: values}))
    assert _run(["imitation", "train", "--env", "particle-2d", "--policy", "mse",
                 "--demos-file", path, "--steps", "1", "--eval-episodes", "1", "--quiet"]) == 2
    line = _error_line(capsys.readouterr().err, "fenchel imitation train: error: ")
    assert line == (f"fenchel imitation train: error: argument --demos-file: {str(path)!r} has 1 "
                    f"non-finite value ({kind}) in its {array!r} array, the first at index "
                    f"{index}: a damaged file (collect it again)")


def test_train_policy_refuses_non_finite_demonstrations(demonstrations):
    import numpy as np

    from fenchel.imitation.train import make_task, train_policy

    observations = np.array(demonstrations.observations)
    observations[3, 1] = np.nan
    with pytest.raises(ValueError, match=r"observations has 1 non-finite values \(the first "
                                         r"at index \(3, 1\)\)"):
        train_policy("mse", observations, demonstrations.actions, make_task("particle-2d").spec)

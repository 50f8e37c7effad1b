"""The ``fenchel`` dispatcher: its version, the message of a sub-command whose extra is not
installed (simulated by hiding the dependency from the import system), and one vocabulary
across the sub-commands: every option and sub-command has help text, the same concept has
the same flag everywhere, and deprecated spellings still work, warn and are hidden."""

from __future__ import annotations

import argparse
import pathlib
import re
import shlex
import subprocess
import sys

import pytest

import fenchel
from fenchel import cli
from fenchel.infra import _cli_types


def test_version(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"fenchel {fenchel.__version__}"


@pytest.mark.parametrize("hidden, argv, extra", [
    ("gymnasium", ["imitation", "train", "--env", "particle-2d"], "imitation"),
    ("gymnasium", ["reproduce", "imitation", "--help"], "imitation"),
    ("arff", ["multilabel", "--dataset", "yeast"], "multilabel"),
    ("sklearn", ["label-ranking", "--dataset", "iris"], "multilabel"),
    ("flax", ["bench", "--quick"], "bench"),
])
def test_a_missing_extra_names_the_install_command(hidden, argv, extra, subprocess_env):
    code = (f"import sys; sys.modules[{hidden!r}] = None\n"
            "from fenchel.cli import main\n"
            f"sys.exit(main({argv!r}))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env=subprocess_env(), timeout=120)
    assert result.returncode == 2, result.stderr
    assert f'pip install "fenchel[{extra}]"' in result.stderr
    assert "Traceback" not in result.stderr


# --- one vocabulary: help text everywhere, one flag per concept, deprecated spellings ---

APPLICATIONS_INSTALLED = all(cli._first_missing(modules) is None
                             for modules in cli._EXTRA_MODULES.values())
needs_applications = pytest.mark.skipif(
    not APPLICATIONS_INSTALLED, reason="needs every application's extra (pip install .[all])")


def _commands(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()):
    """``(path, parser)`` of ``fenchel`` and of every sub-command, recursively."""
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _commands(sub, (*path, name))


def _leaves():
    return {path: parser for path, parser in _commands(cli.build_parser())
            if not any(isinstance(a, argparse._SubParsersAction) for a in parser._actions)}


def _visible_options(parser: argparse.ArgumentParser):
    """``(flag, action)`` of every option ``--help`` shows."""
    for action in parser._actions:
        if action.help is not argparse.SUPPRESS:
            for flag in action.option_strings:
                yield flag, action


def _aliases(parser: argparse.ArgumentParser):
    return [a for a in parser._actions if isinstance(a, _cli_types.DeprecatedAlias)]


def _shows(text: str, flag: str) -> bool:
    return re.search(rf"(?<![\w-]){re.escape(flag)}(?![\w-])", text) is not None


def test_every_subcommand_and_option_has_help_text():
    """Walk every sub-command's --help: each sub-command is listed with a description, each
    option and positional has help text, and only deprecated spellings are hidden."""
    walked = 0
    for path, parser in _commands(cli.build_parser()):
        walked += 1
        text = parser.format_help()  # renders without error
        for action in parser._actions:
            name = "/".join(action.option_strings) or action.dest
            where = " ".join(("fenchel", *path, name))
            if isinstance(action, argparse._SubParsersAction):
                listed = {a.dest: a.help for a in action._choices_actions}
                assert set(listed) == set(action.choices), where
                for command, help_text in listed.items():
                    assert help_text and help_text.strip(), f"{where}: {command} has no help"
                    assert _shows(text, command), where
            elif action.help is argparse.SUPPRESS:
                assert isinstance(action, _cli_types.DeprecatedAlias), \
                    f"{where} is hidden from --help but is not a deprecated spelling"
                for flag in action.option_strings:
                    assert not _shows(text, flag), f"{where}: deprecated {flag} shown in help"
            else:
                assert action.help and action.help.strip(), f"{where} has no help text"
                for flag in action.option_strings:
                    assert _shows(text, flag), where
    assert walked >= (9 if APPLICATIONS_INSTALLED else 5)


# concept -> (the one flag, spellings no sub-command may show for it)
CONCEPTS = {
    "learning rate": ("--learning-rate", ("--lr", "--learning_rate", "--step-size")),
    "no progress output": ("--quiet", ("--silent", "-q", "--no-progress", "--verbose")),
    "main output": ("--out", ("--output", "-o", "--out-dir", "--output-dir", "--outdir")),
    "one seed": ("--seed", ("--random-seed", "--random-state", "--rng")),
    "number of seeds": ("--seeds", ("--n-seeds", "--num-seeds")),
    "worker processes": ("--jobs", ("--workers", "--n-jobs", "--num-workers", "-j")),
    "devices": ("--devices", ("--device", "--gpus", "--n-devices")),
    "task": ("--env", ("--env-id", "--env-name", "--task")),
    "tasks": ("--envs", ("--env-ids", "--tasks")),
    "demonstration episodes": ("--demos", ("--episodes", "--n-demos", "--num-demos")),
    "layer sizes of one network": ("--hidden-sizes", ("--layers", "--hidden-layers")),
    "result as JSON": ("--json", ("--json-out", "--save")),
}

# sub-command -> concepts it must offer (by the one flag)
OFFERS = {
    ("multilabel",): ("--learning-rate", "--quiet", "--seed", "--devices", "--json", "--hidden"),
    ("reproduce", "multilabel"): ("--learning-rate", "--quiet", "--out", "--seeds", "--jobs"),
    ("reproduce", "calibration"): ("--learning-rate", "--quiet", "--out", "--seeds", "--jobs",
                                   "--steps"),
    ("imitation", "collect"): ("--env", "--demos", "--seed", "--out", "--quiet"),
    ("imitation", "train"): ("--env", "--demos", "--demos-file", "--seed", "--learning-rate",
                             "--hidden-sizes", "--quiet", "--devices", "--json"),
    ("imitation", "train-expert"): ("--env", "--seed", "--out", "--quiet"),
    ("reproduce", "imitation"): ("--envs", "--demos", "--seeds", "--learning-rate",
                                 "--hidden-sizes", "--quiet", "--out", "--jobs"),
    ("bench",): ("--quiet", "--json"),
}


@needs_applications
def test_the_same_concept_has_the_same_flag_everywhere():
    leaves = _leaves()
    flags_of_dest: dict[str, set[str]] = {}
    dests_of_flag: dict[str, set[str]] = {}
    for path, parser in leaves.items():
        for flag, action in _visible_options(parser):
            if flag in ("-h", "--help"):
                continue
            if isinstance(action, argparse.BooleanOptionalAction) and flag.startswith("--no-"):
                continue  # --x/--no-x is one switch
            flags_of_dest.setdefault(action.dest, set()).add(flag)
            dests_of_flag.setdefault(flag, set()).add(action.dest)
            for concept, (_, synonyms) in CONCEPTS.items():
                assert flag not in synonyms, (f"fenchel {' '.join(path)} shows {flag} for "
                                              f"{concept}; the flag is {CONCEPTS[concept][0]}")
    # one stored name <-> one flag, across every sub-command
    assert {dest: flags for dest, flags in flags_of_dest.items() if len(flags) > 1} == {}
    assert {flag: dests for flag, dests in dests_of_flag.items() if len(dests) > 1} == {}
    for path, flags in OFFERS.items():
        shown = {flag for flag, _ in _visible_options(leaves[path])}
        assert set(flags) <= shown, (path, set(flags) - shown)
    # --hidden is the grid of one-layer widths only (multilabel, label-ranking); one
    # network's layers are --hidden-sizes (imitation), so the two meanings never share a name.
    for path, parser in leaves.items():
        shown = {flag for flag, _ in _visible_options(parser)}
        assert not {"--hidden", "--hidden-sizes"} <= shown, path
        if "--hidden" in shown:
            assert path[-1] in ("multilabel", "label-ranking"), path
    # every command that shows progress silences it the same way
    assert all("--quiet" in {flag for flag, _ in _visible_options(parser)}
               for parser in leaves.values())


# (sub-command, arguments besides the flag, new spelling, old spelling)
ALIASES = [
    (("multilabel",), ["--dataset", "yeast"], ["--learning-rate", "0.1", "0.2"],
     ["--lr", "0.1", "0.2"]),
    (("reproduce", "multilabel"), [], ["--learning-rate", "3e-3"], ["--lr", "3e-3"]),
    (("imitation", "collect"), ["--env", "particle-1d", "--out", "demos.npz"],
     ["--demos", "3"], ["--episodes", "3"]),
    (("imitation", "train"), ["--env", "particle-1d", "--policy", "mse", "--demos", "2"],
     ["--hidden-sizes", "8", "8"], ["--hidden", "8", "8"]),
    (("reproduce", "imitation"), [], ["--hidden-sizes", "16"], ["--hidden", "16"]),
    (("imitation", "train-expert"), [], ["--env", "walker2d"], ["--env-id", "Walker2d-v5"]),
    (("bench",), [], ["--quiet"], ["--silent"]),
]


@needs_applications
@pytest.mark.parametrize("path, rest, new, old", ALIASES, ids=lambda v: " ".join(v)
                         if isinstance(v, tuple) else None)
def test_deprecated_spellings_still_work_and_warn(path, rest, new, old, capsys):
    parser = cli.build_parser()
    expected = parser.parse_args([*path, *rest, *new])
    assert capsys.readouterr().err == ""
    assert parser.parse_args([*path, *rest, *old]) == expected
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert (f"fenchel {' '.join(path)}: warning: {old[0]} is deprecated and will be removed "
            f"in the next release; use {new[0]}") in err
    help_text = dict(_commands(parser))[path].format_help()
    assert _shows(help_text, new[0]) and not _shows(help_text, old[0])


@needs_applications
def test_every_deprecated_spelling_is_tested():
    found = {(path, flag) for path, parser in _leaves().items()
             for alias in _aliases(parser) for flag in alias.option_strings}
    assert found == {(path, old[0]) for path, _, _, old in ALIASES}


REPOSITORY = pathlib.Path(__file__).resolve().parents[1]


def _documented_commands():
    """``(file, words)`` of every ``fenchel ...`` command line in the fenced code blocks of
    README.md and docs/*.md (continuation lines joined, synopses with [...] skipped)."""
    for path in [REPOSITORY / "README.md", *sorted((REPOSITORY / "docs").glob("*.md"))]:
        text = re.sub(r"\\\n\s*", " ", path.read_text())
        for block in re.findall(r"^```[^\n]*\n(.*?)^```", text, flags=re.M | re.S):
            for line in block.splitlines():
                for segment in line.split("&&"):
                    segment = segment.split("#")[0].strip()
                    words = shlex.split(segment) if "fenchel " in segment else []
                    while words and "=" in words[0]:  # VARIABLE=value prefixes
                        words.pop(0)
                    if words and words[0].endswith("fenchel") and "[" not in segment:
                        yield path.relative_to(REPOSITORY), words[1:]


@needs_applications
def test_documented_command_lines_use_the_current_flags(monkeypatch, capsys):
    monkeypatch.chdir(REPOSITORY)  # their relative output paths are checked from here
    commands = list(_documented_commands())
    assert len(commands) >= 10
    for source, words in commands:
        try:
            cli.build_parser().parse_args(words)
        except SystemExit:
            pytest.fail(f"{source}: `fenchel {shlex.join(words)}` does not parse: "
                        f"{capsys.readouterr().err}")
        err = capsys.readouterr().err
        assert "deprecated" not in err, f"{source}: `fenchel {shlex.join(words)}`: {err}"

"""The ``fenchel imitation ...`` command line.

Each sub-command is one ``_add_<name>_parser(subparsers)`` function listed in ``_SUBCOMMANDS``
that builds its parser and sets ``func`` (``func(args) -> int``); adding a command means adding
one such function and listing it.
"""

from __future__ import annotations

import argparse
import os

from fenchel.imitation.demos import collect_demonstrations, save_demonstrations
from fenchel.imitation.envs import ENV_NAMES, make_env_config
from fenchel.imitation.pointmaze import POINTMAZE_ENV_NAMES


def _env_name(value: str) -> str:
    try:
        make_env_config(value)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    return value


def _positive_int(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {value}")
    return number


def _collect(args: argparse.Namespace) -> int:
    demos = collect_demonstrations(args.env, args.episodes, args.seed)
    directory = os.path.dirname(os.path.abspath(args.out))
    os.makedirs(directory, exist_ok=True)
    save_demonstrations(args.out, demos)
    meta = demos.metadata
    print(f"env={meta['env']} episodes={demos.num_episodes} transitions={demos.num_transitions} "
          f"oracle_success_rate={meta['success_rate']:.4f} mean_return={meta['mean_return']:.4f} "
          f"seed={meta['seed']}")
    print(f"wrote {args.out}")
    return 0


def _add_collect_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "collect", help="Roll out the scripted oracle and save a demonstrations .npz file.")
    parser.add_argument("--env", type=_env_name, required=True,
                        help="task name: particle-<N>d[-multimodal] (N in 1..16, e.g. "
                             f"{ENV_NAMES[1]}) or {'/'.join(POINTMAZE_ENV_NAMES)}")
    parser.add_argument("--episodes", type=_positive_int, required=True,
                        help="number of episodes")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--out", required=True, help="output .npz path (written atomically)")
    parser.set_defaults(func=_collect)


_SUBCOMMANDS = (_add_collect_parser,)


def add_parser(subparsers) -> None:
    """Adds ``imitation`` and its sub-commands to the ``fenchel`` command line."""
    parser = subparsers.add_parser(
        "imitation",
        help="Imitation learning on the particle and PointMaze tasks (demonstrations, policies).")
    commands = parser.add_subparsers(dest="imitation_command", required=True)
    for add in _SUBCOMMANDS:
        add(commands)

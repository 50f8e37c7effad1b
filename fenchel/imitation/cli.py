"""The ``fenchel imitation ...`` command line.

Each sub-command is one ``_add_<name>_parser(subparsers)`` function listed in ``_SUBCOMMANDS``
that builds its parser and sets ``func`` (``func(args) -> int``); adding a command means adding
one such function and listing it.
"""

from __future__ import annotations

import argparse
import os
import sys

from fenchel._cli_types import (output_dir, output_file, output_path_problem, positive_float,
                                positive_int, seed_int)
from fenchel.imitation.demos import collect_demonstrations, save_demonstrations
from fenchel.imitation.envs import ENV_NAMES, make_env_config
from fenchel.imitation.locomotion import LOCOMOTION_ENV_NAMES
from fenchel.imitation.pointmaze import POINTMAZE_ENV_NAMES
from fenchel.training import parse_device_count


def _env_name(value: str) -> str:
    try:
        make_env_config(value)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    return value


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
        "collect", help="Roll out the task's oracle (scripted, or the SAC expert for "
                        "locomotion) and save a demonstrations .npz file.")
    parser.add_argument("--env", type=_env_name, required=True,
                        help="task name: particle-<N>d[-multimodal] (N in 1..16, e.g. "
                             f"{ENV_NAMES[1]}), {'/'.join(POINTMAZE_ENV_NAMES)} or "
                             f"{'/'.join(LOCOMOTION_ENV_NAMES)}")
    parser.add_argument("--episodes", type=positive_int, required=True,
                        help="number of episodes")
    parser.add_argument("--seed", type=seed_int, default=0, help="random seed (default 0)")
    parser.add_argument("--out", type=output_file, required=True,
                        help="output .npz path (written atomically)")
    parser.set_defaults(func=_collect)


def _policy_config(args: argparse.Namespace):
    from fenchel.imitation.policies import PolicyConfig

    overrides = {name: getattr(args, name) for name in ("hidden", "reg_scale", "act_samples")
                 if getattr(args, name, None) is not None}
    return PolicyConfig(**overrides)


def _train_config(args: argparse.Namespace):
    from fenchel.imitation.train import TrainConfig

    overrides = {name: getattr(args, name) for name in ("steps", "batch_size", "learning_rate")
                 if getattr(args, name, None) is not None}
    return TrainConfig(**overrides)


def _add_hyperparameter_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--steps", type=positive_int, help="gradient steps (default 1500)")
    parser.add_argument("--batch-size", type=positive_int, help="minibatch size (default 128)")
    parser.add_argument("--learning-rate", type=positive_float,
                        help="peak learning rate (default 3e-3)")
    parser.add_argument("--hidden", type=positive_int, nargs="+",
                        help="hidden layer sizes of every MLP (default 64 64)")
    parser.add_argument("--reg-scale", type=positive_float,
                        help="λ of Ω = SquaredBox on [-1, 1]^k (GFY policies; default 1)")
    parser.add_argument("--act-samples", type=positive_int,
                        help="samples of the sampling-based maximizer when acting (gfy, ibc)")


def _train(args: argparse.Namespace) -> int:
    from fenchel._io import write_json_atomic
    from fenchel.imitation.train import run_experiment

    from fenchel.training import mesh_for_devices

    try:
        mesh = mesh_for_devices(args.devices)
    except ValueError as err:
        print(f"fenchel imitation train: error: {err}", file=sys.stderr)
        return 2
    result = run_experiment(args.env, args.policy, args.demos, args.seed, _policy_config(args),
                            _train_config(args), args.eval_episodes, progress=not args.quiet,
                            mesh=mesh, checkpoint_dir=args.checkpoint_dir)
    print(f"env={result['env']} policy={result['policy']} demos={result['demos']} "
          f"seed={result['seed']} transitions={result['transitions']} "
          f"success_rate={result['success_rate']:.3f}±{result['success_stderr']:.3f} "
          f"mean_return={result['mean_return']:.1f} latency_ms={result['latency_ms']:.2f} train_s={result['train_seconds']:.1f} "
          f"eval_s={result['eval_seconds']:.1f}")
    if args.json:
        write_json_atomic(args.json, result)
        print(f"wrote {args.json}")
    return 0


def _add_train_parser(subparsers) -> None:
    from fenchel.imitation.policies import POLICY_NAMES

    parser = subparsers.add_parser(
        "train", help="Train one policy on oracle demonstrations and evaluate its success "
                      "(locomotion: its return).")
    parser.add_argument("--env", type=_env_name, required=True,
                        help="task name, e.g. particle-2d-multimodal, pointmaze-medium or "
                             "hopper")
    parser.add_argument("--policy", choices=POLICY_NAMES, required=True,
                        help="gfy (neural energy), gfy-pairwise (concave energy), mse or ibc")
    parser.add_argument("--demos", type=positive_int, required=True,
                        help="number of demonstration episodes")
    parser.add_argument("--seed", type=seed_int, default=0, help="random seed (default 0)")
    parser.add_argument("--eval-episodes", type=positive_int, default=100,
                        help="evaluation episodes (default 100)")
    parser.add_argument("--json", type=output_file,
                        help="write the result to this JSON file (atomically)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument("--devices", type=parse_device_count, default=0, metavar="N",
                        help="data-parallel training over N local devices (default: all "
                             "local devices; 1 on a plain CPU); the batch size must be "
                             "divisible by N")
    parser.add_argument("--checkpoint-dir", type=output_dir, metavar="DIR",
                        help="save the training state here every epoch (orbax) and resume "
                             "from what is there")
    _add_hyperparameter_arguments(parser)
    parser.set_defaults(func=_train)


def _train_expert(args: argparse.Namespace) -> int:
    from fenchel.imitation.experts import SACConfig, expert_path, train_sac_expert

    out = args.out or expert_path(args.env_id)
    problem = output_path_problem(out)
    if problem:  # the default path, inside the package, is checked here
        print(f"fenchel imitation train-expert: error: cannot write the expert to {out!r}: "
              f"{problem}; choose another file with --out", file=sys.stderr)
        return 2
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    expert = train_sac_expert(args.env_id, out, args.seed, SACConfig(timesteps=args.timesteps),
                              progress=not args.quiet)
    meta = expert.metadata
    print(f"env={meta['env_id']} seed={meta['seed']} timesteps={args.timesteps} "
          f"eval_return={meta['eval_return_mean']:.1f}±{meta['eval_return_std']:.1f} "
          f"({meta['eval_episodes']} episodes) train_s={meta['train_seconds']:.0f}")
    print(f"wrote {out}")
    return 0


def _add_train_expert_parser(subparsers) -> None:
    from fenchel.imitation.locomotion import LOCOMOTION_ENV_IDS

    parser = subparsers.add_parser(
        "train-expert", help="Train the SAC expert of a locomotion task (needs the [experts] "
                             "extra) and export its actor weights.")
    parser.add_argument("--env-id", choices=sorted(set(LOCOMOTION_ENV_IDS.values())),
                        required=True, help="gymnasium id of the locomotion task")
    parser.add_argument("--timesteps", type=positive_int, default=100_000,
                        help="environment steps of SAC training (default 100000)")
    parser.add_argument("--seed", type=seed_int, default=0, help="random seed (default 0)")
    parser.add_argument("--out", type=output_file,
                        help="output .npz (default: the file shipped in "
                             "fenchel/imitation/expert_weights/)")
    parser.add_argument("--quiet", action="store_true", help="no per-chunk progress lines")
    parser.set_defaults(func=_train_expert)


_SUBCOMMANDS = (_add_collect_parser, _add_train_parser, _add_train_expert_parser)


def add_parser(subparsers) -> None:
    """Adds ``imitation`` and its sub-commands to the ``fenchel`` command line."""
    parser = subparsers.add_parser(
        "imitation",
        help="Imitation learning on the particle, PointMaze and locomotion tasks "
             "(demonstrations, policies, experts).")
    commands = parser.add_subparsers(dest="imitation_command", required=True)
    for add in _SUBCOMMANDS:
        add(commands)


def _reproduce(args: argparse.Namespace) -> int:
    from fenchel._settings import SettingsMismatchError
    from fenchel.imitation.reproduce import ReproduceConfig, run_grid

    fields = {"policy_config": _policy_config(args), "train_config": _train_config(args)}
    if args.envs:
        fields["envs"] = tuple(args.envs)
    if args.policies:
        fields["policies"] = tuple(args.policies)
    if args.seeds is not None:
        fields["seeds"] = args.seeds
    if args.eval_episodes is not None:
        fields["eval_episodes"] = args.eval_episodes
    if args.jobs is not None:
        fields["jobs"] = args.jobs
    if args.demos:
        fields["demos"] = ()
        fields["default_demos"] = tuple(args.demos)
    try:
        results = run_grid(ReproduceConfig(**fields), args.out, progress=not args.quiet)
    except SettingsMismatchError as err:
        print(f"fenchel reproduce imitation: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"fenchel reproduce imitation: interrupted; the finished runs are kept in "
              f"{os.path.join(args.out, 'runs')}: run the same command again to resume",
              file=sys.stderr)
        return 130
    for row in results["summary"]:
        print(f"{row['env']:24s} {row['policy']:13s} N={row['demos']:<4d} "
              f"{'success' if row['metric'] == 'success_rate' else 'return/expert'}="
              f"{row['score_mean']:.3f}±{row['score_std']:.3f} "
              f"latency_ms={row['latency_ms']:.2f}")
    for env, oracle in results["oracle"].items():
        print(f"{env:24s} oracle        success={oracle['success_mean']:.3f} "
              f"return={oracle['return_mean']:.1f}")
    print(f"wrote {os.path.join(args.out, 'results.md')} ({results['wall_seconds_this_call']:.0f} s, "
          f"{results['runs_computed_this_call']} runs computed)")
    return 0


def add_reproduce_parser(subparsers) -> None:
    """Adds ``fenchel reproduce imitation``."""
    from fenchel.imitation.policies import POLICY_NAMES

    parser = subparsers.add_parser(
        "imitation", help="Success vs demonstrations of every policy (resumable); writes "
                          "results.md, results.json, a plot and rollout GIFs.")
    parser.add_argument("--out", type=output_dir,
                        default=os.path.join("results", "imitation"),
                        help="output directory (default results/imitation; the committed "
                             "results are in docs/results/imitation); a re-run "
                             "resumes it with the same settings and refuses other settings")
    parser.add_argument("--envs", nargs="+", type=_env_name,
                        help="tasks (default particle-2d-multimodal particle-4d-multimodal)")
    parser.add_argument("--policies", nargs="+", choices=POLICY_NAMES, help="policies (default all)")
    parser.add_argument("--demos", nargs="+", type=positive_int,
                        help="demonstration episodes, for every task (default per task)")
    parser.add_argument("--seeds", type=positive_int, help="seeds per cell (default 3)")
    parser.add_argument("--eval-episodes", type=positive_int,
                        help="evaluation episodes per seed (default 100)")
    parser.add_argument("--jobs", type=positive_int,
                        help="worker processes running grid cells in parallel (default 1)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    _add_hyperparameter_arguments(parser)
    parser.set_defaults(func=_reproduce)

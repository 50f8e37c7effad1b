"""The ``fenchel imitation ...`` command line.

Each sub-command is one ``_add_<name>_parser(subparsers)`` function listed in ``_SUBCOMMANDS``
that builds its parser and sets ``func`` (``func(args) -> int``); adding a command means adding
one such function and listing it.

Examples::

  fenchel imitation collect --env particle-2d-multimodal --demos 200 --out demos.npz
  fenchel imitation train --env particle-2d-multimodal --policy gfy --demos-file demos.npz
  fenchel imitation train --env particle-2d-multimodal --policy gfy --demos 200 \\
      --hidden-sizes 64 64 --json run.json
  fenchel imitation train --env particle-2d-multimodal --policy gfy-softmax --demos 200 \\
      --gfy-temperature 0.1
  fenchel imitation train-expert --env hopper --timesteps 150000

``--hidden-sizes`` is the layer sizes of one network (``64 64``: two hidden layers),
unlike ``fenchel multilabel --hidden``, a grid of widths of one hidden layer.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Iterator

from fenchel.infra._cli_types import (add_argument, existing_file, non_negative_float,
                                non_negative_int, output_dir, output_file, output_path_problem,
                                positive_float, positive_int, seed_int)
from fenchel.experiments import add_reproduce_parser as add_grid_parser, run_command
from fenchel.imitation.demos import collect_demonstrations, save_demonstrations
from fenchel.imitation.envs import ENV_NAMES, make_env_config
from fenchel.imitation.locomotion import LOCOMOTION_ENV_IDS, LOCOMOTION_ENV_NAMES
from fenchel.imitation.pointmaze import POINTMAZE_ENV_NAMES
from fenchel.training import parse_device_count


def _env_name(value: str) -> str:
    try:
        make_env_config(value)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    return value


_ENV_HELP = ("task name: particle-<N>d[-multimodal] (N in 1..16, e.g. "
             f"{ENV_NAMES[1]}), particle-ibc-<N>d (IBC's particle protocol), "
             f"{'/'.join(POINTMAZE_ENV_NAMES)} or "
             f"{'/'.join(LOCOMOTION_ENV_NAMES)}")


def _add_env_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--env", type=_env_name, required=True, metavar="TASK", help=_ENV_HELP)


def _collect(args: argparse.Namespace) -> int:
    demos = collect_demonstrations(args.env, args.demos, args.seed, progress=not args.quiet)
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
    help = ("Roll out the task's oracle (scripted, or the SAC expert for locomotion) and "
            "save a demonstrations .npz file (for train --demos-file).")
    parser = subparsers.add_parser("collect", help=help, description=help)
    _add_env_argument(parser)
    add_argument(parser, "--demos", type=positive_int, required=True, metavar="N",
                 deprecated=["--episodes"], help="number of demonstration episodes")
    parser.add_argument("--seed", type=seed_int, default=0,
                        help="seed of the initial states and of the oracle (default 0)")
    parser.add_argument("--out", type=output_file, required=True, metavar="FILE",
                        help="output .npz path (written atomically)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(func=_collect)


def _policy_config(args: argparse.Namespace):
    from fenchel.imitation.policies import PolicyConfig

    # flag dest -> PolicyConfig field (the name recorded in settings and result files)
    fields = {"hidden_sizes": "hidden", "reg_scale": "reg_scale", "act_samples": "act_samples",
              "train_solver": "train_solver", "hard_negatives": "hard_negatives",
              "gfy_temperature": "gfy_temperature", "acting": "acting",
              "langevin_chains": "langevin_chains", "langevin_steps": "langevin_steps",
              "hard_negative_search": "hard_negative_search",
              "hard_negative_refine": "hard_negative_refine"}
    overrides = {field: getattr(args, dest) for dest, field in fields.items()
                 if getattr(args, dest, None) is not None}
    return PolicyConfig(**overrides)


def _train_config(args: argparse.Namespace):
    from fenchel.imitation.train import TrainConfig

    overrides = {name: getattr(args, name) for name in ("steps", "batch_size", "learning_rate")
                 if getattr(args, name, None) is not None}
    return TrainConfig(**overrides)


def _add_hyperparameter_arguments(parser: argparse.ArgumentParser) -> None:
    from fenchel.imitation.policies import (ACTING_SOLVERS, HARD_NEGATIVE_SEARCHES,
                                            TRAIN_SOLVERS, PolicyConfig)
    from fenchel.imitation.train import TrainConfig

    policy, train = PolicyConfig(), TrainConfig()
    parser.add_argument("--steps", type=positive_int,
                        help=f"gradient steps (default {train.steps})")
    parser.add_argument("--batch-size", type=positive_int,
                        help=f"minibatch size (default {train.batch_size})")
    parser.add_argument("--learning-rate", type=positive_float, metavar="RATE",
                        help=f"peak AdamW learning rate, cosine-decayed (default "
                             f"{train.learning_rate:g})")
    add_argument(parser, "--hidden-sizes", type=positive_int, nargs="+", metavar="SIZE",
                 deprecated=["--hidden"],
                 help="sizes of the hidden layers of every MLP of the policy, one network "
                      "(64 64: two layers of 64 units; not a grid) (default "
                      f"{' '.join(map(str, policy.hidden))})")
    parser.add_argument("--reg-scale", type=positive_float, metavar="LAMBDA",
                        help="λ of Ω = SquaredBox on [-1, 1]^k (GFY policies; default "
                             f"{policy.reg_scale:g})")
    parser.add_argument("--act-samples", type=positive_int, metavar="N",
                        help="samples of the sampling-based maximizer when acting (gfy, "
                             f"gfy-softmax, ibc; default {policy.act_samples})")
    parser.add_argument("--train-solver", choices=TRAIN_SOLVERS,
                        help="inner solver of gfy and gfy-softmax in training: train (the "
                             "light search, warm-started at the demonstrated action) or acting "
                             "(the acting solver's sizes; gfy: best of a warm and a cold run) "
                             f"(default {policy.train_solver})")
    parser.add_argument("--hard-negatives", type=non_negative_int, metavar="K",
                        help="inner-solver runs among the candidates of gfy-softmax, the first "
                             f"warm-started at the demonstrated action (default "
                             f"{policy.hard_negatives})")
    parser.add_argument("--hard-negative-search", choices=HARD_NEGATIVE_SEARCHES,
                        help="how gfy-softmax finds its hard negatives: sample (each run is "
                             "the whole training search, its own samples then --train-solver's "
                             "refinement; the setting of the results before 2026-12-07) or "
                             "reuse (--hard-negative-refine gradient steps from the "
                             "demonstrated action and from the best uniform candidates, whose "
                             f"energies the loss computes anyway) (default "
                             f"{policy.hard_negative_search})")
    parser.add_argument("--hard-negative-refine", type=non_negative_int, metavar="N",
                        help="projected-gradient steps of each hard-negative run with "
                             f"--hard-negative-search reuse (default "
                             f"{policy.hard_negative_refine})")
    parser.add_argument("--gfy-temperature", type=non_negative_float, metavar="TAU",
                        help="temperature of gfy-softmax's candidate-set loss (0: the hard "
                             f"max; default {policy.gfy_temperature:g})")
    parser.add_argument("--acting", choices=ACTING_SOLVERS,
                        help="how the energy policies (all but mse) act: sampling (their "
                             "sampling solvers) or langevin (implicit BC's Langevin sampler: "
                             "--langevin-chains uniform chains, --langevin-steps steps, the "
                             f"best final chain) (default {policy.acting})")
    parser.add_argument("--langevin-chains", type=positive_int, metavar="N",
                        help=f"chains of --acting langevin (default {policy.langevin_chains}, "
                             "IBC's)")
    parser.add_argument("--langevin-steps", type=positive_int, metavar="N",
                        help=f"steps of --acting langevin (default {policy.langevin_steps}, "
                             "IBC's)")


def _non_finite(name: str, values) -> str | None:
    """``3 non-finite values (NaN, inf) in its 'actions' array, the first at index (5, 2)``,
    or None."""
    import numpy as np

    values = np.asarray(values)
    if values.dtype.kind not in "fc":
        return None
    bad = ~np.isfinite(values)
    if not bad.any():
        return None
    wrong = values[bad]
    kinds = [kind for kind, present in (("NaN", np.isnan(wrong).any()),
                                        ("inf", np.isposinf(wrong).any()),
                                        ("-inf", np.isneginf(wrong).any())) if present]
    first = tuple(int(i) for i in np.argwhere(bad)[0])
    return (f"{int(bad.sum())} non-finite value{'s' if bad.sum() > 1 else ''} "
            f"({', '.join(kinds)}) in its {name!r} array, the first at index {first}")


def _demos_file_problem(demos, env: str, path: str, n_demos: int | None) -> str | None:
    """Why the demonstrations loaded from ``path`` cannot train a policy for ``env`` (or
    provide ``n_demos`` episodes), or None."""
    from fenchel.imitation.train import make_task

    try:
        config = demos.config
    except (KeyError, TypeError, ValueError) as err:
        return f"{path!r} records no usable task ({err})"
    stored = demos.metadata.get("env")
    if config != make_env_config(env):
        recorded = f"of {stored!r}" if stored else f"of another task ({config})"
        return f"{path!r} holds demonstrations {recorded}, not of --env {env}"
    spec = make_task(env).spec
    observations, actions = demos.observations, demos.actions
    if observations.ndim != 2 or observations.shape[1] != spec.observation_dim:
        return (f"{path!r} has observations of shape {observations.shape}, but {env} needs "
                f"(T, {spec.observation_dim})")
    if actions.shape != (observations.shape[0], spec.action_dim):
        return (f"{path!r} has actions of shape {actions.shape}, but {env} needs "
                f"({observations.shape[0]}, {spec.action_dim})")
    for name in ("observations", "actions", "episode_returns"):
        problem = _non_finite(name, getattr(demos, name))
        if problem:
            return f"{path!r} has {problem}: a damaged file (collect it again)"
    lengths = demos.episode_lengths
    if demos.num_episodes < 1 or lengths.ndim != 1 or int(lengths.sum()) != observations.shape[0]:
        return f"{path!r} has inconsistent episodes ({lengths.size} episodes of " \
               f"{int(lengths.sum())} transitions for {observations.shape[0]} observations)"
    if n_demos is not None and n_demos > demos.num_episodes:
        return (f"--demos {n_demos} asks for more episodes than {path!r} holds "
                f"({demos.num_episodes})")
    return None


def _load_demos_file(parser: argparse.ArgumentParser, args: argparse.Namespace):
    """The demonstrations of ``--demos-file``, checked against ``--env`` and ``--demos``;
    exits with code 2 (argparse's error) when they do not fit."""
    import zipfile

    from fenchel.imitation.demos import load_demonstrations

    path = args.demos_file
    not_demos = (f"argument --demos-file: {path!r} is not a demonstrations file written by "
                 "`fenchel imitation collect`")
    if not zipfile.is_zipfile(path):
        parser.error(f"{not_demos} (not a NumPy .npz archive)")
    try:
        demos = load_demonstrations(path)
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as err:
        parser.error(f"argument --demos-file: {err}" if "demonstrations file" in str(err)
                     else f"{not_demos} ({err})")
    problem = _demos_file_problem(demos, args.env, path, args.demos)
    if problem:
        parser.error(f"argument --demos-file: {problem}")
    return demos


def _run_on_demonstrations(args: argparse.Namespace, demos, mesh) -> dict:
    """``fenchel.imitation.train.run_experiment`` on the first ``--demos`` episodes (default:
    all) of a demonstrations file instead of freshly collected ones; same result fields, plus
    ``demos_file`` and ``demos_seed`` (the seed ``collect`` used)."""
    import numpy as np

    from fenchel.imitation.train import run_experiment

    n_demos = args.demos if args.demos is not None else demos.num_episodes
    transitions = int(demos.episode_lengths[:n_demos].sum())
    metadata = {"success_rate": float(np.mean(demos.episode_success[:n_demos]))}
    result = run_experiment(
        args.env, args.policy, n_demos, args.seed, _policy_config(args), _train_config(args),
        args.eval_episodes, progress=not args.quiet, mesh=mesh,
        checkpoint_dir=args.checkpoint_dir,
        demonstrations=(demos.observations[:transitions], demos.actions[:transitions], metadata))
    result.update(demos_file=os.path.abspath(args.demos_file),
                  demos_seed=demos.metadata.get("seed"))
    return result


def _train(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    from fenchel.infra._io import write_json_atomic
    from fenchel.imitation.train import run_experiment
    from fenchel.training import mesh_for_devices

    if args.demos is None and args.demos_file is None:
        parser.error("one of the arguments --demos --demos-file is required")
    demos = _load_demos_file(parser, args) if args.demos_file is not None else None
    try:
        mesh = mesh_for_devices(args.devices)
    except ValueError as err:
        print(f"fenchel imitation train: error: {err}", file=sys.stderr)
        return 2
    if demos is not None:
        result = _run_on_demonstrations(args, demos, mesh)
    else:
        result = run_experiment(args.env, args.policy, args.demos, args.seed,
                                _policy_config(args), _train_config(args), args.eval_episodes,
                                progress=not args.quiet, mesh=mesh,
                                checkpoint_dir=args.checkpoint_dir)
    print(f"env={result['env']} policy={result['policy']} demos={result['demos']} "
          f"seed={result['seed']} transitions={result['transitions']} "
          f"success_rate={result['success_rate']:.3f}±{result['success_stderr']:.3f} "
          f"mean_return={result['mean_return']:.1f} latency_ms={result['latency_ms']:.2f} "
          f"train_s={result['train_seconds']:.1f} eval_s={result['eval_seconds']:.1f}"
          + (f" zero_loss_fraction={result['zero_loss_fraction']:.3f}"
             if "zero_loss_fraction" in result else "")
          + (f" demos_file={args.demos_file}" if demos is not None else ""))
    if args.json:
        write_json_atomic(args.json, result)
        print(f"wrote {args.json}")
    return 0


def _add_train_parser(subparsers) -> None:
    from fenchel.imitation.policies import POLICY_NAMES

    help = ("Train one policy on oracle demonstrations (collected now, or read from a "
            "`collect` file) and evaluate its success (locomotion: its return).")
    parser = subparsers.add_parser("train", help=help, description=help)
    _add_env_argument(parser)
    parser.add_argument("--policy", choices=POLICY_NAMES, required=True,
                        help="gfy (neural energy), gfy-softmax (neural energy, GFY loss over "
                             "sampled and solver-found candidates at --gfy-temperature), "
                             "gfy-pairwise (concave energy), mse, ibc or minmin (the ibc model "
                             "p ∝ exp E fitted by maximum likelihood with a learned log-partition)")
    parser.add_argument("--demos", type=positive_int, metavar="N",
                        help="number of demonstration episodes: collected from the oracle "
                             "with --seed, or the first N of --demos-file (default: all of it)")
    parser.add_argument("--demos-file", type=existing_file, metavar="FILE",
                        help="train on the demonstrations .npz written by `fenchel imitation "
                             "collect` (checked: same task as --env, matching shapes)")
    parser.add_argument("--seed", type=seed_int, default=0,
                        help="seed of the demonstrations collected for --demos (not of "
                             "--demos-file), of the training and of the evaluation episodes "
                             "(default 0)")
    parser.add_argument("--eval-episodes", type=positive_int, default=100, metavar="N",
                        help="evaluation episodes (default 100)")
    parser.add_argument("--json", type=output_file, metavar="FILE",
                        help="also write the result to this JSON file (atomically)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument("--devices", type=parse_device_count, default=0, metavar="N",
                        help="data-parallel training over N local devices (default: all "
                             "local devices; 1 on a plain CPU); the batch size must be "
                             "divisible by N")
    parser.add_argument("--checkpoint-dir", type=output_dir, metavar="DIR",
                        help="save the training state here every epoch (orbax) and resume "
                             "from what is there")
    _add_hyperparameter_arguments(parser)
    parser.set_defaults(func=lambda args: _train(parser, args))


def _default_expert_out(env: str) -> str:
    """``experts/<gymnasium id>.npz`` in the working directory (the shipped file's name, so
    that it can replace it), never inside the installed package."""
    return os.path.join("experts", f"{LOCOMOTION_ENV_IDS[env].lower()}.npz")


def _train_expert(args: argparse.Namespace) -> int:
    from fenchel.imitation.experts import SACConfig, train_sac_expert

    out = args.out or _default_expert_out(args.env)
    problem = output_path_problem(out)
    if problem:  # the default path is checked here
        print(f"fenchel imitation train-expert: error: cannot write the expert to {out!r}: "
              f"{problem}; choose another file with --out", file=sys.stderr)
        return 2
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    env_id = LOCOMOTION_ENV_IDS[args.env]
    expert = train_sac_expert(env_id, out, args.seed, SACConfig(timesteps=args.timesteps),
                              progress=not args.quiet)
    meta = expert.metadata
    print(f"env={args.env} ({meta['env_id']}) seed={meta['seed']} timesteps={args.timesteps} "
          f"eval_return={meta['eval_return_mean']:.1f}±{meta['eval_return_std']:.1f} "
          f"({meta['eval_episodes']} episodes) train_s={meta['train_seconds']:.0f}")
    print(f"wrote {out}")
    return 0


def _env_from_gymnasium_id(value: str) -> str:
    """The task name of a locomotion gymnasium id (the deprecated ``--env-id`` spelling)."""
    names = {env_id: name for name, env_id in LOCOMOTION_ENV_IDS.items()}
    if value not in names:
        raise argparse.ArgumentTypeError(
            f"expected one of {', '.join(names)}, got {value!r}")
    return names[value]


def _add_train_expert_parser(subparsers) -> None:
    help = ("Train the SAC expert of a locomotion task (needs the [experts] extra) and "
            "export its actor weights.")
    parser = subparsers.add_parser("train-expert", help=help, description=help)
    add_argument(parser, "--env", choices=LOCOMOTION_ENV_NAMES, required=True,
                 deprecated={"--env-id": _env_from_gymnasium_id},
                 help="locomotion task: "
                      + ", ".join(f"{name} ({env_id})" for name, env_id in
                                  LOCOMOTION_ENV_IDS.items()))
    parser.add_argument("--timesteps", type=positive_int, default=100_000, metavar="N",
                        help="environment steps of SAC training (default 100000)")
    parser.add_argument("--seed", type=seed_int, default=0,
                        help="seed of SAC and of the environment (default 0)")
    parser.add_argument("--out", type=output_file, metavar="FILE",
                        help="output .npz (default experts/<gymnasium id>.npz in the working "
                             "directory, e.g. experts/hopper-v5.npz; the experts shipped in "
                             "the package are never overwritten unless named here); the "
                             "resumable training state is kept in FILE.work/")
    parser.add_argument("--quiet", action="store_true", help="no per-chunk progress lines")
    parser.set_defaults(func=_train_expert)


_SUBCOMMANDS = (_add_collect_parser, _add_train_parser, _add_train_expert_parser)


def add_parser(subparsers) -> None:
    """Adds ``imitation`` and its sub-commands to the ``fenchel`` command line."""
    help = ("Imitation learning on the particle, PointMaze and locomotion tasks "
            "(demonstrations, policies, experts).")
    parser = subparsers.add_parser("imitation", help=help, description=help)
    commands = parser.add_subparsers(dest="imitation_command", required=True,
                                     metavar="COMMAND", help="one of:")
    for add in _SUBCOMMANDS:
        add(commands)


def _demos_item(value: str) -> tuple[str | None, int]:
    """``N`` (every task) or ``TASK=N`` (one task) of ``--demos``."""
    task, sep, count = value.rpartition("=")
    try:
        n = positive_int(count)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(
            f"expected N or TASK=N with N an integer >= 1, got {value!r}") from None
    if sep and not task:
        raise argparse.ArgumentTypeError(f"expected TASK=N, got {value!r}")
    return (_env_name(task) if sep else None), n


def _demos_fields(items: list[tuple[str | None, int]]) -> dict:
    """``ReproduceConfig`` fields of ``--demos``: plain counts replace the defaults of every
    task (the per-task defaults included), ``TASK=N`` items set that task's counts."""
    from fenchel.imitation.reproduce import ReproduceConfig

    every = tuple(n for task, n in items if task is None)
    per_task: dict[str, tuple[int, ...]] = {}
    for task, n in items:
        if task is not None:
            per_task[task] = per_task.get(task, ()) + (n,)
    fields: dict = {"demos": tuple(per_task.items())}
    if every:
        fields["default_demos"] = every
    else:  # only TASK=N: the other tasks keep their default counts
        fields["demos"] = tuple({**dict(ReproduceConfig.demos), **per_task}.items())
    return fields


def _reproduce(args: argparse.Namespace) -> int:
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
        fields.update(_demos_fields(args.demos))
    return run_command("fenchel reproduce imitation", args.out, lambda: run_grid(
        ReproduceConfig(**fields), args.out, progress=not args.quiet),
        lambda results: _summary(results, args.out))


def _summary(results: dict, out: str) -> Iterator[str]:
    """The lines ``fenchel reproduce imitation`` prints when its grid is done."""
    for row in results["summary"]:
        yield (f"{row['env']:24s} {row['policy']:13s} N={row['demos']:<4d} "
               f"{'success' if row['metric'] == 'success_rate' else 'return/expert'}="
               f"{row['score_mean']:.3f}±{row['score_std']:.3f} "
               f"latency_ms={row['latency_ms']:.2f}")
    for env, oracle in results["oracle"].items():
        yield (f"{env:24s} oracle        success={oracle['success_mean']:.3f} "
               f"return={oracle['return_mean']:.1f}")
    yield (f"wrote {os.path.join(out, 'results.md')} "
           f"({results['wall_seconds_this_call']:.0f} s, "
           f"{results['runs_computed_this_call']} runs computed)")


def add_reproduce_parser(subparsers) -> None:
    """Adds ``fenchel reproduce imitation``."""
    from fenchel.imitation.policies import POLICY_NAMES

    from fenchel.imitation.reproduce import ReproduceConfig

    defaults = ReproduceConfig()
    help = ("Success vs demonstrations of every policy (resumable); writes results.md, "
            "results.json, a plot and rollout GIFs.")
    parser = add_grid_parser(subparsers, "imitation", help, help, _reproduce,
                             seeds=defaults.seeds, progress="no progress bars")
    parser.add_argument("--envs", nargs="+", type=_env_name, metavar="TASK",
                        help="task names, as --env of `fenchel imitation train` (default "
                             f"{' '.join(defaults.envs)})")
    parser.add_argument("--policies", nargs="+", choices=POLICY_NAMES, metavar="POLICY",
                        help=f"policies among {', '.join(POLICY_NAMES)} (default "
                             f"{' '.join(defaults.policies)})")
    parser.add_argument("--demos", nargs="+", type=_demos_item, metavar="N|TASK=N",
                        help="numbers of demonstration episodes: N for every task, TASK=N for "
                             "one task (e.g. 200 pointmaze-medium=300; both repeatable) "
                             "(default per task: "
                             + ", ".join(f"{env} {' '.join(map(str, n))}"
                                         for env, n in defaults.demos)
                             + f", else {' '.join(map(str, defaults.default_demos))})")
    parser.add_argument("--eval-episodes", type=positive_int, metavar="N",
                        help=f"evaluation episodes per seed (default {defaults.eval_episodes})")
    _add_hyperparameter_arguments(parser)

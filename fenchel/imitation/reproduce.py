"""``fenchel reproduce imitation``: success vs demonstrations for every policy, seeds, tasks.

The grid is (task, policy, number of demonstration episodes, seed). Each cell trains one
policy (:func:`fenchel.imitation.train.run_experiment`) and writes ``OUT/runs/<cell>.json``
atomically; a cell whose file exists is skipped, so an interrupted run (Ctrl-C stops within
seconds, also with several jobs) resumes where it stopped. Each run file records the settings
that made it (:meth:`ReproduceConfig.settings`), and ``OUT/settings.json`` those of the folder:
a call with other settings is refused before anything runs
(:class:`~fenchel.infra._settings.SettingsMismatchError`, naming each differing setting), so results
of different settings are never mixed or overwritten. The oracle's own success is measured
on the same evaluation episodes (``OUT/runs/oracle__<task>__s<seed>.json``). At the end the
cells are aggregated into ``OUT/results.json``, ``OUT/results.md`` (mean ± standard deviation
over seeds), ``OUT/success_vs_demos.png`` (one panel per task) and one rollout GIF per policy
on the 2-D particle task (``OUT/rollouts_<policy>.gif``, the policy of seed 0 trained on the most
demonstrations, plus the oracle's).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import platform
from typing import Any

import numpy as np

from fenchel import experiments
from fenchel.infra._io import atomic_path, write_json_atomic
from fenchel.experiments import Experiment, Run, figure, markdown_table, write_results
from fenchel.imitation.policies import POLICY_NAMES, PolicyConfig
from fenchel.imitation.train import (
    OFF_TARGET_RADIUS,
    TrainConfig,
    evaluate_oracle,
    make_task,
    run_experiment,
    train_policy,
)

GIF_ENV = "particle-2d-multimodal"

GRID_POLICIES: tuple[str, ...] = ("gfy", "gfy-pairwise", "mse", "ibc")
"""The default policies of the grid: those of the committed results (``gfy-softmax`` came
later; add it with ``--policies``)."""


@dataclasses.dataclass(frozen=True)
class ReproduceConfig:
    """The experiment grid.

    Args:
      envs: task names.
      policies: policy kinds.
      demos: demonstration episodes per task (``{task: (N, ...)}``; tasks not listed use
        ``default_demos``).
      default_demos: demonstration episodes for tasks missing from ``demos``.
      seeds: number of seeds (0 .. seeds-1) per cell.
      eval_episodes: evaluation episodes per seed.
      policy_config: policy hyper-parameters (same for every policy).
      train_config: optimization settings (same for every policy).
      gifs: whether to write the rollout GIFs (needs ``GIF_ENV`` in ``envs``).
      jobs: worker processes running cells in parallel (results do not depend on it).

    Example:
      >>> from fenchel.imitation.reproduce import ReproduceConfig
      >>> ReproduceConfig(seeds=1).demos_for("particle-2d-multimodal")
      (50, 200)
    """

    envs: tuple[str, ...] = ("particle-2d-multimodal", "particle-4d-multimodal")
    policies: tuple[str, ...] = GRID_POLICIES
    demos: tuple[tuple[str, tuple[int, ...]], ...] = (
        ("particle-4d-multimodal", (200,)),
        # IBC's demonstration count (fenchel.imitation.particle_ibc.IBC_PROTOCOL).
        ("particle-ibc-2d", (2000,)),
        ("particle-ibc-4d", (2000,)),
        ("pointmaze-medium", (100,)),
        ("hopper", (5,)),
        ("halfcheetah", (5,)),
        ("walker2d", (5,)),
    )
    default_demos: tuple[int, ...] = (50, 200)
    seeds: int = 3
    eval_episodes: int = 100
    policy_config: PolicyConfig = PolicyConfig()
    train_config: TrainConfig = TrainConfig()
    gifs: bool = True
    jobs: int = 1

    def __post_init__(self) -> None:
        for env in self.envs:
            make_task(env)  # raises on unknown names
        unknown = [p for p in self.policies if p not in POLICY_NAMES]
        if unknown:
            raise ValueError(f"unknown policies {unknown}; valid: {POLICY_NAMES}")
        if isinstance(self.seeds, bool) or not isinstance(self.seeds, int) or self.seeds < 1:
            raise ValueError(f"seeds must be a positive int, got {self.seeds!r}")
        if isinstance(self.jobs, bool) or not isinstance(self.jobs, int) or self.jobs < 1:
            raise ValueError(f"jobs must be a positive int, got {self.jobs!r}")
        if not isinstance(self.eval_episodes, int) or self.eval_episodes < 1:
            raise ValueError(f"eval_episodes must be a positive int, got {self.eval_episodes!r}")
        for _, counts in self.demos:
            if not counts or min(counts) < 1:
                raise ValueError(f"demonstration counts must be positive ints, got {counts!r}")

    def demos_for(self, env: str) -> tuple[int, ...]:
        """Demonstration episode counts of task ``env``."""
        return dict(self.demos).get(env, self.default_demos)

    def cells(self) -> list[tuple[str, str, int, int]]:
        """Every ``(env, policy, demos, seed)`` of the grid, cheapest first within a task."""
        return [(env, policy, n, seed) for env in self.envs for n in self.demos_for(env)
                for seed in range(self.seeds) for policy in self.policies]

    def settings(self) -> dict[str, Any]:
        """What a cell's result depends on besides its coordinates (stored in each run file)."""
        return {"eval_episodes": self.eval_episodes,
                "policy_config": self.policy_config.to_dict(),
                "train_config": self.train_config.to_dict()}

    def to_dict(self) -> dict[str, Any]:
        return {"envs": list(self.envs), "policies": list(self.policies),
                "demos": {env: list(self.demos_for(env)) for env in self.envs},
                "seeds": self.seeds, **self.settings()}


def _fingerprint(settings: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]


def _load_if_current(path: str, fingerprint: str) -> dict[str, Any] | None:
    try:
        with open(path) as file:
            data = json.load(file)
    except (OSError, ValueError):
        return None
    return data if data.get("fingerprint") == fingerprint else None


SETTING_FLAGS = {"eval_episodes": "--eval-episodes", "train_config.steps": "--steps",
                 "train_config.batch_size": "--batch-size",
                 "train_config.learning_rate": "--learning-rate",
                 "policy_config.hidden": "--hidden-sizes", "policy_config.reg_scale": "--reg-scale",
                 "policy_config.act_samples": "--act-samples",
                 "policy_config.train_solver": "--train-solver",
                 "policy_config.hard_negatives": "--hard-negatives",
                 "policy_config.gfy_temperature": "--gfy-temperature",
                 "policy_config.hard_negative_search": "--hard-negative-search",
                 "policy_config.hard_negative_refine": "--hard-negative-refine",
                 "policy_config.acting": "--acting",
                 "policy_config.langevin_chains": "--langevin-chains",
                 "policy_config.langevin_steps": "--langevin-steps"}
"""The command-line flag of each setting that has one, named when settings differ."""

AGGREGATE_FILES = ("results.json", "results.md", "success_vs_demos.png")
"""The files :func:`run_grid` writes from all the runs, all or nothing."""

ORACLE = "oracle"
"""The method name of the oracle's runs (``Run(task, ORACLE, seed)``)."""


@dataclasses.dataclass(frozen=True)
class ImitationGrid(Experiment):
    """The imitation grid as a :class:`fenchel.experiments.Experiment`: the oracle of
    every (task, seed) (``Run(task, ORACLE, seed)``, file ``runs/oracle__<task>__s<seed>.json``),
    then every ``Run(task, policy, seed, demos)`` of :meth:`ReproduceConfig.cells`. A run
    file is current when its fingerprint is that of this call's settings; the cell that
    draws a GIF is not done until its GIF is there."""

    config: ReproduceConfig = ReproduceConfig()

    title = "imitation grid"
    setting_flags = SETTING_FLAGS
    required_key = "env"
    run_glob = "runs/*.json"

    @property
    def outputs(self) -> tuple[str, ...]:
        gifs = (("oracle", *self.config.policies)
                if self.config.gifs and GIF_ENV in self.config.envs else ())
        return (*(os.path.basename(_gif_path("", name)) for name in gifs), *AGGREGATE_FILES)

    def runs(self) -> list[Run]:
        return ([Run(env, ORACLE, seed) for env in self.config.envs
                 for seed in range(self.config.seeds)]
                + [Run(env, policy, seed, demos)
                   for env, policy, demos, seed in self.config.cells()])

    def path(self, run: Run) -> str:
        if run.method == ORACLE:
            return f"runs/oracle__{run.task}__s{run.seed}.json"
        return f"runs/{run.task}__{run.method}__n{run.variant}__s{run.seed}.json"

    def settings(self) -> dict[str, Any]:
        return self.config.settings()

    def _settings_of(self, method: str) -> dict[str, Any]:
        return ({"eval_episodes": self.config.eval_episodes} if method == ORACLE
                else self.settings())

    def compare(self, source: str, stored: dict[str, Any]):
        current = self._settings_of(ORACLE if source.startswith("runs/oracle__") else "")
        return {key: stored[key] for key in current if key in stored}, current

    def read(self, out, run: Run) -> dict[str, Any] | None:
        return _load_if_current(os.path.join(out, self.path(run)),
                                _fingerprint(self._settings_of(run.method)))

    def done(self, out, run: Run) -> bool:
        return self.read(out, run) is not None and not (
            run.method != ORACLE and _gif_cell(self.config, _cell(run))
            and not os.path.exists(_gif_path(out, run.method)))

    def run(self, out, run: Run, previous) -> dict[str, Any] | None:
        config, fingerprint = self.config, _fingerprint(self._settings_of(run.method))
        if run.method == ORACLE:
            return dict(evaluate_oracle(run.task, config.eval_episodes, run.seed),
                        fingerprint=fingerprint)
        hook = None
        if _gif_cell(config, _cell(run)):
            hook = lambda trained: _render(trained, _gif_path(out, run.method),
                                           f"{run.method} (N={run.variant} demos)")
        if self.read(out, run) is not None:  # result on disk, GIF missing: retrain to draw it
            render_gifs(config, out)
            return None
        result = run_experiment(run.task, run.method, run.variant, run.seed,
                                config.policy_config, config.train_config,
                                config.eval_episodes, after_training=hook)
        result["fingerprint"] = fingerprint
        return result

    def aggregate(self, out, run_seconds: float, computed) -> dict[str, Any]:
        config = self.config
        runs = [self.read(out, run) for run in self.runs()]
        oracles = [result for run, result in zip(self.runs(), runs) if run.method == ORACLE]
        gifs = render_gifs(config, out) if config.gifs and GIF_ENV in config.envs else []
        results = aggregate(config, [result for run, result in zip(self.runs(), runs)
                                     if run.method != ORACLE], oracles)
        results["gifs"] = gifs
        results["runs_computed_this_call"] = sum(run.method != ORACLE for run in computed)
        results["wall_seconds_this_call"] = run_seconds
        results["machine"] = {"platform": platform.platform(), "cpus": os.cpu_count()}
        write_results(out, results, {
            "results.md": results_markdown(results),
            "success_vs_demos.png": lambda path: plot_success(results, path)})
        return results


def _cell(run: Run) -> tuple[str, str, int, int]:
    return run.task, run.method, run.variant, run.seed


def check_settings(config: ReproduceConfig, out: str) -> None:
    """Refuse to add runs to ``out`` made with other settings than its stored runs'
    (the oracle runs record their ``eval_episodes``; the folder's ``settings.json`` is
    compared too when runs exist). Unreadable run files are left to be recomputed.

    Raises:
      SettingsMismatchError: naming each differing setting, its stored and new value.
    """
    experiments.check_settings(ImitationGrid(config), out)


def run_grid(config: ReproduceConfig, out: str, progress: bool = True) -> dict[str, Any]:
    """Runs (or resumes) every cell of the grid and writes the aggregated results
    (:func:`fenchel.experiments.run_grid` of an :class:`ImitationGrid`).

    Args:
      config: the grid.
      out: output directory (``runs/`` inside holds one JSON per cell).
      progress: show progress bars.

    Returns:
      The aggregated results (also written to ``OUT/results.json``).

    Raises:
      SettingsMismatchError: ``out`` holds runs made with other settings (nothing runs
        and nothing is written).
      fenchel.infra._io.OutputLockedError: another run writes to ``out`` (it holds its lock,
        :func:`fenchel.infra._io.output_lock`, until it ends).
      fenchel.infra._io.NotWritableError: a run file, a GIF or an aggregate cannot be written
        there (found before training), or the aggregates could not be replaced (all are
        then as they were, :func:`fenchel.infra._io.write_all_or_nothing`).
      KeyboardInterrupt: on Ctrl-C, within seconds also with ``config.jobs > 1``;
        finished runs are kept and a second call resumes.
    """
    return experiments.run_grid(ImitationGrid(config), out, jobs=config.jobs,
                                progress=progress)


def _gif_cell(config: ReproduceConfig, cell: tuple[str, str, int, int]) -> bool:
    env, _, demos, seed = cell
    return (config.gifs and env == GIF_ENV and seed == 0
            and demos == max(config.demos_for(GIF_ENV)))


def _gif_path(out: str, name: str) -> str:
    return os.path.join(out, f"rollouts_{name}.gif")


def _render(policy, path: str, title: str) -> None:
    from fenchel.imitation.render import render_particle_gif

    render_particle_gif(policy, path, GIF_ENV, n_episodes=4, seed=12345, title=title)


def render_gifs(config: ReproduceConfig, out: str) -> list[str]:
    """One rollout GIF per policy (seed 0, most demonstrations) on ``GIF_ENV``, plus the
    oracle's; existing GIFs are kept (delete them to redraw)."""
    task = make_task(GIF_ENV)
    demos = max(config.demos_for(GIF_ENV))
    paths = []
    for name in ("oracle", *config.policies):
        path = _gif_path(out, name)
        paths.append(os.path.basename(path))
        if os.path.exists(path):
            continue
        if name == "oracle":
            policy = task.oracle(0)
            title = "oracle"
        else:
            observations, actions, _ = task.demonstrations(demos, 0)
            policy, _ = train_policy(name, observations, actions, task.spec,
                                     config.policy_config, config.train_config, seed=0)
            title = f"{name} (N={demos} demos)"
        _render(policy, path, title)
    return paths


def _mean_or_none(values: list[float]) -> float | None:
    return float(np.mean(values)) if values else None


def aggregate(config: ReproduceConfig, runs: list[dict[str, Any]],
              oracles: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean and standard deviation over seeds of each (env, policy, demos) cell.

    A cell's *score* is its task's metric: the success rate, or for the locomotion tasks the
    return relative to the expert's on the same evaluation episodes (``R_policy / R_expert``,
    per seed).
    """
    oracle_return = {(o["env"], o["seed"]): o["mean_return"] for o in oracles}
    metric = {env: make_task(env).metric for env in config.envs}

    def score(run: dict[str, Any]) -> float:
        if metric[run["env"]] == "success_rate":
            return run["success_rate"]
        return run["mean_return"] / oracle_return[run["env"], run["seed"]]

    summary = []
    for env in config.envs:
        for policy in config.policies:
            for demos in config.demos_for(env):
                cell = [r for r in runs if (r["env"], r["policy"], r["demos"]) == (env, policy, demos)]
                if not cell:
                    continue
                success = np.array([r["success_rate"] for r in cell])
                scores = np.array([score(r) for r in cell])
                std = lambda x: float(x.std(ddof=1)) if len(cell) > 1 else 0.0
                summary.append({
                    "env": env, "policy": policy, "demos": demos, "seeds": len(cell),
                    "metric": metric[env],
                    "score_mean": float(scores.mean()), "score_std": std(scores),
                    "success_mean": float(success.mean()), "success_std": std(success),
                    "return_mean": float(np.mean([r["mean_return"] for r in cell])),
                    "latency_ms": float(np.median([r["latency_ms"] for r in cell])),
                    "train_seconds": float(np.mean([r["train_seconds"] for r in cell])),
                    "eval_seconds": float(np.mean([r["eval_seconds"] for r in cell])),
                    "transitions": float(np.mean([r["transitions"] for r in cell])),
                    # Diagnostics (None where the runs predate them or the policy has none).
                    **{key: _mean_or_none([r[key] for r in cell if key in r])
                       for key in ("off_target_rate", "zero_loss_fraction")},
                })
    oracle_summary = {}
    for env in config.envs:
        mine = [o for o in oracles if o["env"] == env]
        oracle_summary[env] = {
            "metric": metric[env],
            "score_mean": 1.0 if metric[env] == "mean_return"
            else float(np.mean([o["success_rate"] for o in mine])),
            "success_mean": float(np.mean([o["success_rate"] for o in mine])),
            "return_mean": float(np.mean([o["mean_return"] for o in mine])),
            "seeds": len(mine), "episodes_per_seed": config.eval_episodes}
    return {"config": config.to_dict(), "summary": summary, "oracle": oracle_summary,
            "runs": [{k: v for k, v in r.items() if k not in ("policy_config", "train_config")}
                     for r in runs]}


def results_markdown(results: dict[str, Any]) -> str:
    """The results as Markdown tables: success (mean ± std over seeds) and latency."""
    config = results["config"]
    lines = ["# Imitation results", "",
             f"Score over {config['eval_episodes']} evaluation episodes per seed, mean ± "
             f"standard deviation over {config['seeds']} seeds, vs the number of demonstration "
             "episodes N: the success rate (particle, PointMaze) or the return relative to the "
             "expert's on the same episodes (locomotion). Same network sizes and gradient "
             "steps for every policy "
             f"(hidden {config['policy_config']['hidden']}, {config['train_config']['steps']} "
             f"steps of batch {config['train_config']['batch_size']}).", ""]
    for env in config["envs"]:
        oracle = results["oracle"][env]
        rows = [s for s in results["summary"] if s["env"] == env]
        demos = config["demos"][env]
        if oracle["metric"] == "mean_return":
            about = (f"Expert (SAC) return: {oracle['return_mean']:.1f}, did not fall in "
                     f"{oracle['success_mean']:.3f} of the episodes ({oracle['seeds']} seeds × "
                     f"{oracle['episodes_per_seed']} episodes). Score = return / expert's.")
        else:
            about = (f"Oracle success: {oracle['success_mean']:.3f} ({oracle['seeds']} seeds × "
                     f"{oracle['episodes_per_seed']} episodes).")
        table = []
        for policy in config["policies"]:
            cells, latency = [], []
            for n in demos:
                match = [s for s in rows if s["policy"] == policy and s["demos"] == n]
                if match:
                    cells.append(f"{match[0]['score_mean']:.3f} ± {match[0]['score_std']:.3f}")
                    latency.append(match[0]["latency_ms"])
                else:
                    cells.append("—")
            lat = f"{np.median(latency):.2f}" if latency else "—"
            table.append([policy, *cells, lat])
        lines += [f"## {env}", "", about, "", *markdown_table(
            ["policy", *(f"N={n}" for n in demos), "latency (ms/action)"], table)]
        lines += ["", "Diagnostics (mean over seeds): off-target rate (share of demonstration "
                  "states where the action lands more than "
                  f"{OFF_TARGET_RADIUS} from the demonstrated one in the unit box; for an "
                  "energy policy, the spurious-peak rate), zero-loss fraction (GFY family), "
                  "training and evaluation seconds per run.", ""]
        diagnostics = [[row["policy"], str(row["demos"]),
                        *("—" if row.get(key) is None else f"{row[key]:.3f}"
                          for key in ("off_target_rate", "zero_loss_fraction")),
                        f"{row['train_seconds']:.1f}", f"{row['eval_seconds']:.1f}"]
                       for row in rows]
        lines += [*markdown_table(["policy", "N", "off-target rate", "zero-loss fraction",
                                   "train (s)", "eval (s)"], diagnostics), ""]
    lines += ["Latency: median wall time of one policy call on a single observation (batch of "
              "one), after compilation, on the machine below.", "",
              f"Machine: {results.get('machine', {})}; wall time of this call: "
              f"{results.get('wall_seconds_this_call', float('nan')):.0f} s "
              f"({results.get('runs_computed_this_call', 0)} runs computed).", ""]
    if results.get("gifs"):
        lines += ["Rollouts on particle-2d-multimodal: " +
                  ", ".join(f"[{g}]({g})" for g in results["gifs"]), ""]
    return "\n".join(lines)


def plot_success(results: dict[str, Any], path: str) -> None:
    """Score vs demonstrations, one panel per task, one line per policy (error bars: std)."""
    envs = results["config"]["envs"]
    with atomic_path(path) as tmp, figure(tmp, 1, len(envs), size=(4.2, 3.4)) as (fig, axes):
        _draw_success(results, envs, axes)


def _draw_success(results: dict[str, Any], envs: list[str], axes) -> None:
    for ax, env in zip(axes[0], envs):
        for policy in results["config"]["policies"]:
            rows = sorted((s for s in results["summary"]
                           if s["env"] == env and s["policy"] == policy), key=lambda s: s["demos"])
            if rows:
                ax.errorbar([s["demos"] for s in rows], [s["score_mean"] for s in rows],
                            yerr=[s["score_std"] for s in rows], marker="o", capsize=3,
                            label=policy)
        oracle = results["oracle"][env]
        ax.axhline(oracle["score_mean"], color="gray", ls="--", lw=1, label="oracle")
        ax.set_xscale("log")
        if oracle["metric"] == "success_rate":
            ax.set_ylim(-0.02, 1.02)
        ax.set_xlabel("demonstration episodes")
        ax.set_ylabel("success rate" if oracle["metric"] == "success_rate"
                      else "return / expert return")
        ax.set_title(env, fontsize=10)
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=8)


__all__ = ["GIF_ENV", "GRID_POLICIES", "SETTING_FLAGS", "ReproduceConfig", "ImitationGrid",
           "ORACLE", "check_settings",
           "run_grid", "AGGREGATE_FILES", "render_gifs", "aggregate", "results_markdown",
           "plot_success", "write_json_atomic"]

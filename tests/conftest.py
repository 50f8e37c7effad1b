"""Shared fixtures: the core tests' problems and references, and multi-process launches."""

from __future__ import annotations

import functools
import os
import socket
import subprocess

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.optimize

from fenchel.domains import Simplex
from fenchel import maximizers, regularizers

def _register(name: str, filename: str) -> None:
    """Make a helper module of tests/ importable by ``name`` (the tests are imported with
    ``--import-mode=importlib``, so tests/ is not on sys.path)."""
    import importlib.util
    import pathlib
    import sys

    if name not in sys.modules:
        path = pathlib.Path(__file__).with_name(filename)
        spec = importlib.util.spec_from_file_location(name, path)
        sys.modules[name] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(sys.modules[name])


# Independent numpy/scipy references: ``import fenchel_test_references as ref``.
_register("fenchel_test_references", "references.py")

if not hasattr(jax, "enable_x64"):  # JAX < 0.8 (the lower bound is 0.7.2): same context manager
    from jax.experimental import enable_x64 as _enable_x64

    jax.enable_x64 = _enable_x64


@pytest.fixture(autouse=True, scope="module")
def _release_compiled_programs():
    """Drop JAX's compiled programs after each test module: each one keeps its own
    memory mappings, and the whole suite in one process would otherwise pass the
    kernel's limit on mappings (vm.max_map_count, 65530), where XLA's compiler aborts."""
    yield
    jax.clear_caches()


@pytest.fixture
def x64():
    """Run one test with float64 enabled; other tests keep the default float32."""
    with jax.enable_x64(True):
        yield


def _concave_pairwise(seed: int, k: int = 4, rank: int = 2, unary_scale: float = 2.0,
                      ridge: float = 0.0, dtype=np.float32):
    """θ = (u, U) with U = −VVᵀ − ridge·I ⪯ 0 (strictly concave when ridge > 0)."""
    rng = np.random.default_rng(seed)
    u = unary_scale * rng.standard_normal(k)
    factor = rng.standard_normal((k, rank)) / np.sqrt(rank)
    interactions = -factor @ factor.T - ridge * np.eye(k)
    return jnp.asarray(u, dtype), jnp.asarray(interactions, dtype)


@pytest.fixture(scope="session")
def concave_pairwise():
    """``make(seed, k=4, rank=2, unary_scale=2.0, ridge=0.0, dtype=float32) -> (u, U)``."""
    return _concave_pairwise


def _domain_sample(reg, rng: np.random.Generator, k: int) -> np.ndarray:
    """A random point of dom Ω (boundary points included for boxes)."""
    if reg.is_box:
        y = rng.uniform(reg.lower, reg.upper, k)
        snap = rng.random(k) < 0.3
        return np.where(snap, np.where(rng.random(k) < 0.5, reg.lower, reg.upper), y)
    if isinstance(reg.domain, Simplex):
        return rng.dirichlet(np.ones(k))
    if reg.domain.bounded:  # any other bounded domain samples itself (its protocol)
        key = jax.random.key(int(rng.integers(2**31)))
        return np.asarray(reg.domain.sample(key, (k,), jnp.float32), np.float64)
    return 2.0 * rng.standard_normal(k)


@pytest.fixture(scope="session")
def domain_sample():
    """``sample(reg, rng, k) -> y ∈ dom Ω`` (numpy, float64)."""
    return _domain_sample


def _pairwise_reference(reg, theta) -> np.ndarray:
    """High-accuracy ŷ for the pairwise energy, by scipy in float64 (concave case)."""
    u, interactions = (np.asarray(t, np.float64) for t in theta)
    sym = 0.5 * (interactions + interactions.T)
    k = u.shape[0]

    def negative_objective(y):
        value = u @ y + 0.5 * y @ sym @ y - float(reg.value(jnp.asarray(y)))
        return -value

    def negative_gradient(y):
        return -(u + sym @ y - np.asarray(reg.gradient(jnp.asarray(y)), np.float64))

    with jax.enable_x64(True):
        if isinstance(reg.domain, Simplex):
            lower = 1e-12 if reg.is_entropic else 0.0
            result = scipy.optimize.minimize(
                negative_objective, np.full(k, 1.0 / k), jac=negative_gradient, method="SLSQP",
                bounds=[(lower, 1.0)] * k,
                constraints=[{"type": "eq", "fun": lambda y: np.sum(y) - 1.0,
                              "jac": lambda y: np.ones_like(y)}],
                options={"ftol": 1e-15, "maxiter": 1000})
        elif reg.domain.bounded and not reg.is_box:
            # Another bounded domain (permutahedron, Birkhoff): a long projected gradient
            # (mirror ascent for a mirror map) in float64, through the domain's projection.
            from fenchel import energies, maximizers
            solver = (maximizers.MirrorAscent(maxiter=20_000, tol=1e-11) if reg.has_mirror_map
                      else maximizers.ProjectedGradient(maxiter=20_000, tol=1e-11))
            y, _ = maximizers.maximize(energies.pairwise, reg, (jnp.asarray(u), jnp.asarray(sym)),
                                       solver=solver)
            return np.asarray(y, np.float64)
        else:
            if reg.is_box:
                eps = 1e-12 if reg.is_entropic else 0.0
                bounds = [(reg.lower + eps, reg.upper - eps)] * k
                start = np.full(k, 0.5 * (reg.lower + reg.upper))
            else:
                bounds, start = None, np.zeros(k)
            result = scipy.optimize.minimize(
                negative_objective, start, jac=negative_gradient, method="L-BFGS-B",
                bounds=bounds, options={"ftol": 1e-15, "gtol": 1e-12, "maxiter": 5000})
    return result.x


@pytest.fixture(scope="session")
def pairwise_reference():
    """``reference(reg, (u, U)) -> ŷ`` (numpy float64) by scipy.optimize."""
    return _pairwise_reference


# Every registered built-in at its default settings (the registry is the catalogue).
ALL_REGULARIZERS = [examples[0] for examples in regularizers.BUILT_INS.values()]


def pytest_generate_tests(metafunc):
    # `any_reg` parametrizes over every regularizer, with readable ids.
    if "any_reg" in metafunc.fixturenames:
        metafunc.parametrize("any_reg", ALL_REGULARIZERS,
                             ids=[type(r).__name__ for r in ALL_REGULARIZERS])



@functools.lru_cache(maxsize=None)
def _jitted_maximize(energy, reg, solver):
    def solve(theta, init=None):
        return maximizers.maximize(energy, reg, theta, solver=solver, init=init)

    return jax.jit(solve)


@pytest.fixture(scope="session")
def solve():
    """``solve(energy, reg, solver)(theta, init=None) -> (ŷ, info)``, jitted once per triple
    (eager ``while_loop`` would recompile at every call)."""
    return _jitted_maximize


_REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _subprocess_env(**extra: str) -> dict[str, str]:
    """This process's environment for a fresh JAX worker: CPU only, no inherited
    ``XLA_FLAGS`` (the worker sets its own simulated devices), the repository importable."""
    env = {k: v for k, v in os.environ.items() if k not in ("XLA_FLAGS", "JAX_PLATFORMS")}
    env["JAX_PLATFORMS"] = "cpu"
    env["PYTHONPATH"] = os.pathsep.join([_REPO, env.get("PYTHONPATH", "")])
    env.update(extra)
    return env


@pytest.fixture(scope="session")
def subprocess_env():
    """``env(**extra) -> dict``: the environment of a fresh JAX worker process."""
    return _subprocess_env


def _run_together(commands: list[list[str]], env: dict[str, str], timeout: float) -> None:
    """Start every command at once (e.g. the processes of one jax.distributed job), wait for
    all, kill leftovers, and fail with the tail of the output of any that did not exit 0."""
    processes = [subprocess.Popen(command, env=env, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True) for command in commands]
    outputs = []
    try:
        for process in processes:
            outputs.append(process.communicate(timeout=timeout)[0])
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
    for process, output in zip(processes, outputs):
        assert process.returncode == 0, output[-3000:]


@pytest.fixture(scope="session")
def run_together():
    """``run(commands, env, timeout)``: run processes concurrently, all must exit 0."""
    return _run_together


@pytest.fixture
def free_port() -> int:
    """A TCP port free on the loopback interface (for a jax.distributed coordinator)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# Hypothesis budgets: one registry of profiles, picked by HYPOTHESIS_PROFILE (default "ci").
# "ci": 100 examples where a test sets none, and n where it sets examples(n)
# (tests/budget.py); with CI set, a fixed set of examples is replayed so that a red run
# can be reproduced exactly, while locally examples stay random and keep exploring.
# "nightly": ten times every budget, random examples (HYPOTHESIS_PROFILE=nightly).
from hypothesis import settings as _settings  # noqa: E402

_settings.register_profile("ci", max_examples=100, derandomize=bool(os.environ.get("CI")))
_settings.register_profile("nightly", max_examples=1000, derandomize=False, print_blob=True)
_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
_register("fenchel_test_budget", "budget.py")


# JAX's persistent compilation cache: each program is compiled once and then read from disk
# (after jax.clear_caches() in a later module, in the other pytest-xdist worker, in the
# worker subprocesses, which inherit the variables, and in the next run). It lives in the
# git-ignored .pytest_cache/d/jax, where config.cache.mkdir("jax") would put it, so that
# pytest --cache-clear empties it; JAX_COMPILATION_CACHE_DIR moves it, and
# JAX_COMPILATION_CACHE_DIR= (empty) turns it off.
os.environ.setdefault("JAX_COMPILATION_CACHE_DIR",
                      os.path.join(_REPO, ".pytest_cache", "d", "jax"))
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES", "-1")
jax.config.update("jax_compilation_cache_dir", os.environ["JAX_COMPILATION_CACHE_DIR"] or None)
jax.config.update("jax_persistent_cache_min_compile_time_secs",
                  float(os.environ["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"]))
jax.config.update("jax_persistent_cache_min_entry_size_bytes",
                  int(os.environ["JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES"]))


# CPython 3.11 can raise ``SystemError: AST constructor recursion depth mismatch`` from
# ``ast.parse`` when another thread parses at the same time (python/cpython#106905). pytest
# parses the test's source to draw a failure, so a failed test then ended the whole session
# with INTERNALERROR and no report (a CI run lost this way). Report such a failure with a
# plain traceback instead: file, line and function of each frame, then the exception.
@pytest.hookimpl(hookwrapper=True, trylast=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    try:
        outcome.get_result()
    except SystemError as error:
        if "recursion depth mismatch" not in str(error) or call.excinfo is None:
            raise
        import traceback

        frames = [f"{frame.f_code.co_filename}:{line}: in {frame.f_code.co_name}"
                  for frame, line in traceback.walk_tb(call.excinfo.tb)]
        text = "\n".join([*frames, *traceback.format_exception_only(call.excinfo.type,
                                                                    call.excinfo.value),
                          f"(drawn plainly: pytest's report failed with {error})"])
        outcome.force_result(pytest.TestReport(
            item.nodeid, item.location, {name: 1 for name in item.keywords}, "failed", text,
            call.when, [], call.duration, start=call.start, stop=call.stop))

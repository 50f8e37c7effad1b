"""Timing and memory of one jitted function: compile once, warm up, repeat.

Every benchmark case goes through :func:`measure`, so all figures in a run are
taken the same way: ahead-of-time compilation (timed separately), one warm-up
call, then ``reps`` timed repetitions of ``number`` back-to-back calls each,
waited for with ``jax.block_until_ready``; the figure kept is the median over
repetitions of the time per call.
"""

from __future__ import annotations

import statistics
import time
from typing import Any, Callable, NamedTuple

import jax

# A repetition shorter than this is dominated by dispatch and clock noise, so
# cheap functions are called several times per repetition (like ``timeit``).
_MIN_REPETITION_S = 0.02


class Measurement(NamedTuple):
    """Timing and memory of one compiled function.

    Attributes:
      median_s: median over repetitions of the seconds per call.
      min_s: fastest repetition, seconds per call.
      reps: repetitions timed.
      number: calls per repetition.
      compile_s: seconds spent lowering and compiling (excluded from the above).
      temp_bytes: XLA's temporary buffer size for the compiled function
        (``memory_analysis().temp_size_in_bytes``): the working memory beyond
        arguments and outputs, i.e. what grows with unrolled iterations.
      peak_bytes: XLA's peak memory estimate (arguments, outputs and
        temporaries), or ``None`` when the backend does not report it.
      output: the function's output on the last call (for accuracy checks).
    """

    median_s: float
    min_s: float
    reps: int
    number: int
    compile_s: float
    temp_bytes: int | None
    peak_bytes: int | None
    output: Any


def _memory(compiled) -> tuple[int | None, int | None]:
    try:
        stats = compiled.memory_analysis()
    except (NotImplementedError, RuntimeError):  # backends without the analysis
        return None, None
    if stats is None:
        return None, None
    temp = getattr(stats, "temp_size_in_bytes", None)
    peak = getattr(stats, "peak_memory_in_bytes", None)
    return (None if temp is None else int(temp)), (None if peak is None else int(peak) or None)


def _compile(fn, args):
    start = time.perf_counter()
    compiled = jax.jit(fn).lower(*args).compile()
    compile_s = time.perf_counter() - start
    start = time.perf_counter()
    output = jax.block_until_ready(compiled(*args))  # warm-up
    first_s = time.perf_counter() - start
    number = max(1, int(_MIN_REPETITION_S / max(first_s, 1e-6))) if first_s < _MIN_REPETITION_S else 1
    return compiled, compile_s, number, output


def measure_many(functions: dict[str, tuple[Callable[..., Any], tuple]], *, reps: int = 5,
                 max_seconds: float = 10.0) -> dict[str, Measurement]:
    """Compile, warm up and time several functions, interleaving their repetitions.

    Repetition r of every function runs before repetition r + 1 of any, so a
    change of machine load (other processes) affects all of them alike and
    their ratios stay meaningful.

    Args:
      functions: ``name -> (fn, args)``; each ``fn`` is jax-traceable and
        jitted here.
      reps: repetitions to time (at least 1).
      max_seconds: stop adding repetitions once this much time has been spent
        timing, in total over the functions (one repetition always runs), so
        slow configurations finish; ``Measurement.reps`` says how many ran.

    Returns:
      ``name -> Measurement``, in the order given.
    """
    if reps < 1:
        raise ValueError(f"reps must be >= 1, got {reps!r}")
    prepared = {name: _compile(fn, args) + (args,) for name, (fn, args) in functions.items()}
    times: dict[str, list[float]] = {name: [] for name in functions}
    outputs = {name: p[3] for name, p in prepared.items()}
    spent = 0.0
    for rep in range(reps):
        if rep and spent >= max_seconds:
            break
        for name, (compiled, _, number, _, args) in prepared.items():
            start = time.perf_counter()
            for _ in range(number):
                output = compiled(*args)
            jax.block_until_ready(output)
            elapsed = time.perf_counter() - start
            spent += elapsed
            times[name].append(elapsed / number)
            outputs[name] = output
    result = {}
    for name, (compiled, compile_s, number, _, _) in prepared.items():
        temp_bytes, peak_bytes = _memory(compiled)
        result[name] = Measurement(
            median_s=statistics.median(times[name]), min_s=min(times[name]),
            reps=len(times[name]), number=number, compile_s=compile_s,
            temp_bytes=temp_bytes, peak_bytes=peak_bytes, output=outputs[name])
    return result


def measure(fn: Callable[..., Any], *args: Any, reps: int = 5,
            max_seconds: float = 10.0) -> Measurement:
    """Compile ``fn`` for ``args``, warm it up and time it.

    Args:
      fn: a jax-traceable function of ``args`` (it is jitted here).
      *args: its arguments (arrays / pytrees; they stay fixed across calls).
      reps: repetitions to time (at least 1).
      max_seconds: stop adding repetitions once this much time has been spent
        timing (at least one repetition always runs), so slow configurations
        finish; ``Measurement.reps`` says how many ran.

    Returns:
      A :class:`Measurement`.

    Example:
      >>> import jax.numpy as jnp
      >>> from fenchel.bench.timing import measure
      >>> m = measure(lambda x: x @ x, jnp.ones((64, 64)), reps=3)
      >>> m.reps, m.median_s > 0
      (3, True)
    """
    return measure_many({"fn": (fn, args)}, reps=reps, max_seconds=max_seconds)["fn"]


def time_python(fn: Callable[[], Any], *, reps: int = 3, max_seconds: float = 10.0) -> tuple[float, int, Any]:
    """Median seconds of a plain Python call (no jit), e.g. a scipy reference.

    Returns:
      ``(median_s, reps_run, last_output)``.
    """
    if reps < 1:
        raise ValueError(f"reps must be >= 1, got {reps!r}")
    times, spent, output = [], 0.0, None
    while len(times) < reps and (not times or spent < max_seconds):
        start = time.perf_counter()
        output = fn()
        elapsed = time.perf_counter() - start
        spent += elapsed
        times.append(elapsed)
    return statistics.median(times), len(times), output


__all__ = ["Measurement", "measure", "measure_many", "time_python"]

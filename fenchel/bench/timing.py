"""Timing and memory of one jitted function: compile once, warm up, repeat.

Every benchmark case goes through :func:`measure`, so all figures in a run are
taken the same way: ahead-of-time compilation (timed separately), one warm-up
call, then ``reps`` timed repetitions of ``number`` back-to-back calls each,
waited for with ``jax.block_until_ready``; the figure kept is the median over
repetitions of the time per call. Nothing is converted to numpy or copied to
the host inside a timed repetition, so the figures mean the same on a CPU, a
GPU or a TPU (dispatch is asynchronous there: only the wait at the end of a
repetition synchronizes).

Memory comes from two places:

* XLA's buffer assignment of the compiled function
  (``compiled.memory_analysis()``, every backend that implements it, CPU
  included): ``temp_bytes``, the working memory beyond inputs and outputs;
* the device allocator (``jax.local_devices()[0].memory_stats()``, GPU and
  TPU; ``None`` on CPU): ``device_peak_bytes``, the allocator's high-water mark
  during one extra call above what was in use just before it. The allocator's
  peak cannot be reset, so the figure is exact only when that call raised the
  process's high-water mark; otherwise it is ``None`` and
  ``device_peak_upper_bytes`` holds the upper bound ``peak so far − in use
  before``. :func:`measure_many` probes its functions in increasing order of
  XLA's size estimate so that as many as possible are exact.
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
      device_peak_bytes: device memory the call itself needed (temporaries and
        outputs), from the allocator's statistics: ``peak_bytes_in_use`` after
        one call minus ``bytes_in_use`` before it. ``None`` on backends without
        allocator statistics (CPU), and when an earlier call of the process had
        a higher peak (the peak cannot be reset, so this one is then unknown).
      device_peak_upper_bytes: the same difference whether or not the call
        raised the high-water mark: exact when ``device_peak_bytes`` is set,
        an upper bound otherwise; ``None`` without allocator statistics.
    """

    median_s: float
    min_s: float
    reps: int
    number: int
    compile_s: float
    temp_bytes: int | None
    peak_bytes: int | None
    output: Any
    device_peak_bytes: int | None = None
    device_peak_upper_bytes: int | None = None


def device_memory_stats(device: Any = None) -> dict[str, int] | None:
    """The allocator statistics of ``device`` (default: the first local device).

    ``Device.memory_stats()`` on GPU and TPU (keys such as ``bytes_in_use``,
    ``peak_bytes_in_use``, ``bytes_limit``); ``None`` where the backend has none
    (the CPU backend returns ``None``).

    Example:
      >>> import jax
      >>> from fenchel.bench.timing import device_memory_stats
      >>> stats = device_memory_stats()
      >>> stats is None or "bytes_in_use" in stats
      True
    """
    if device is None:
        device = jax.local_devices()[0]
    try:
        stats = device.memory_stats()
    except (NotImplementedError, RuntimeError, AttributeError):
        return None
    if not stats or "bytes_in_use" not in stats or "peak_bytes_in_use" not in stats:
        return None
    return dict(stats)


def device_peak(call: Callable[[], Any], device: Any = None) -> tuple[int | None, int | None]:
    """Device memory one ``call()`` needs, from the allocator's statistics.

    Returns ``(exact, upper)``: ``upper = peak_bytes_in_use (after) −
    bytes_in_use (before)``, and ``exact = upper`` when the call raised the
    high-water mark (``peak after > peak before``; the peak was then reached
    during the call), else ``None``. Both are ``None`` when the backend has no
    allocator statistics (:func:`device_memory_stats`); ``call`` is then not run.
    """
    before = device_memory_stats(device)
    if before is None:
        return None, None
    output = jax.block_until_ready(call())
    after = device_memory_stats(device)
    del output
    if after is None:
        return None, None
    upper = max(0, int(after["peak_bytes_in_use"]) - int(before["bytes_in_use"]))
    exact = upper if after["peak_bytes_in_use"] > before["peak_bytes_in_use"] else None
    return exact, upper


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
    memory = {name: _memory(compiled) for name, (compiled, *_) in prepared.items()}
    device = _probe_device_memory(prepared, memory)
    result = {}
    for name, (compiled, compile_s, number, _, _) in prepared.items():
        temp_bytes, peak_bytes = memory[name]
        exact, upper = device.get(name, (None, None))
        result[name] = Measurement(
            median_s=statistics.median(times[name]), min_s=min(times[name]),
            reps=len(times[name]), number=number, compile_s=compile_s,
            temp_bytes=temp_bytes, peak_bytes=peak_bytes, output=outputs[name],
            device_peak_bytes=exact, device_peak_upper_bytes=upper)
    return result


def _probe_device_memory(prepared: dict, memory: dict) -> dict[str, tuple[int | None, int | None]]:
    """One extra, untimed call per function under :func:`device_peak`, smallest
    first by XLA's estimate, so each is likely to raise the high-water mark."""
    if device_memory_stats() is None:
        return {}
    size = lambda name: max(v or 0 for v in memory[name])  # (temp, peak) estimates
    return {name: device_peak(lambda c=prepared[name][0], a=prepared[name][4]: c(*a))
            for name in sorted(prepared, key=size)}


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


__all__ = ["Measurement", "device_memory_stats", "device_peak", "measure", "measure_many",
           "time_python"]

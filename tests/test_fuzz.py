"""Property-based fuzz suite for "No silent wrong answers".

Over every (energy, regularizer, solver) pair of the core catalogue that
``solver.check(energy, reg)`` accepts (energies: bilinear, pairwise, low-rank pairwise
(U = −VVᵀ given by V, also with r > k), a custom quartic;
regularizers: BinaryEntropy, SquaredBox, SquaredBox(-1, 2, scale 0.5), BoxIndicator,
Squared, SquaredSimplex, ShannonSimplex; solvers: default, ClosedForm,
ProjectedGradient, MirrorAscent, CoordinateAscent, DerivativeFree, Langevin, Restarts,
Sequential), with random values (faces and vertices of the domain, |θ| from 1e-6 to 1e6,
NaN in θ), batch layouts and the four dtypes, the public entry points are checked
against independent float64 / exact references (tests/fuzz_references.py):

(a) gfy_loss, perceptron_loss, hinge_loss, maximize and conjugate give finite values,
    ≥ 0, never above the true value, and below it by no more than the solver's
    tolerance promises when it reports no failure (a sampling solver only bounds it
    from below); gfy_loss is ~0 at ŷ*; NaN exactly for a traced y outside dom Ω and for
    the examples whose θ holds a traced NaN. The losses are jitted with their gradient,
    which by Danskin is ŷ − y: the ŷ each loss really used is checked too (in dom Ω,
    value = F(ŷ) − F(y)).
(b) a batch equals jax.vmap of single calls (broadcast θ, shared U); shapes that do not
    fit raise ValueError naming them; a custom energy refuses a batch, naming jax.vmap;
(c) the bilinear closed forms (the classic FY losses, their conjugates and maximizers)
    are accurate relative to their size for |θ| up to 1e6;
(d) every rejected input raises ValueError/TypeError whose message names the argument;
(e) float16/bfloat16 inputs give results in their dtype: the float32 computation
    rounded to it (bit for bit for the closed forms, to the rounding elsewhere).

The true value is bracketed independently of the solvers: for a concave Φ,
``F* − F(y) ≤ FY_Ω(∇_y Φ(θ, y); y)`` (linearize Φ at y; the right side is the classic
Fenchel-Young loss, evaluated by the references), which certifies the float64
reference maximizer ŷ*.

Each catalogue entry compiles one program (``functools.lru_cache`` on the builders);
its k, batch layout and dtype rotate over the catalogue (``_variant``), and so do the
extra entry points it calls (``_extras``), so that all are covered while the file
stays fast.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import importlib.util
import pathlib
import sys
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from fenchel_test_budget import examples  # registered by tests/conftest.py

from fenchel import energies as E
from fenchel import losses as L
from fenchel import maximizers as M
from fenchel import regularizers as R


def _load_references():
    """tests/fuzz_references.py, loaded by path once (importlib import mode)."""
    name = "_fenchel_fuzz_references"
    if name not in sys.modules:
        path = pathlib.Path(__file__).with_name("fuzz_references.py")
        spec = importlib.util.spec_from_file_location(name, path)
        sys.modules[name] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(sys.modules[name])
    return sys.modules[name]


ref = _load_references()

FUZZ = settings(max_examples=examples(4), deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
FAST = settings(max_examples=examples(25), deadline=None, suppress_health_check=[HealthCheck.too_slow])


# --------------------------------------------------------------------------- catalogue


def quartic(theta, y):
    """A custom (non-built-in) energy, concave in y: <θ, y> − 0.1 Σ y⁴."""
    return jnp.vdot(theta, y) - 0.1 * jnp.sum(y ** 4)


ENERGIES = {"bilinear": E.bilinear, "pairwise": E.pairwise, "quartic": quartic,
            "low_rank": E.low_rank_pairwise}
# The energies whose θ is a pair (u, second leaf): U (k, k) or V (k, r).
PAIRS = ("pairwise", "low_rank")


def _rank(k: int) -> int:
    """r of the low-rank energy's V: (k, r) for each fuzzed k (r > k, r < k, r = k/2+)."""
    return {1: 2, 3: 1, 5: 3}.get(k, max(1, k // 2))
# The catalogue is the registry: each registered built-in at default settings, and the
# box squared norm once more on another box and scale.
REGS = {name: examples[0] for name, examples in R.BUILT_INS.items()}
REGS["ScaledSquaredBox"] = R.SquaredBox(lower=-1.0, upper=2.0, scale=0.5)


def _local(reg):
    return M.MirrorAscent() if reg.is_entropic else M.ProjectedGradient()


def _solvers(reg, energy: str = "pairwise") -> dict:
    """The solvers of the catalogue, with small settings (they compile and run fast).
    Restarts and Sequential wrap the cheapest exact-enough solver of the pair, Sequential
    warm-starting it with two steps of itself: the closed form (bilinear energy),
    coordinate ascent (the pairwise energies on a box), else the default local solver."""
    if energy == "bilinear":
        local = M.ClosedForm()
    elif energy in PAIRS and reg.is_box:
        local = M.CoordinateAscent()
    else:
        local = _local(reg)
    warm = local if energy == "bilinear" else dataclasses.replace(local, maxiter=2, tol=0.0)
    return {
        "default": None,
        "ClosedForm": M.ClosedForm(),
        "ProjectedGradient": M.ProjectedGradient(),
        "MirrorAscent": M.MirrorAscent(),
        "CoordinateAscent": M.CoordinateAscent(),
        "DerivativeFree": M.DerivativeFree(num_samples=64, iterations=2),
        "Langevin": M.Langevin(num_chains=4, maxiter=32),
        "Restarts": M.Restarts(local, num_restarts=2),
        "Sequential": M.Sequential((warm, local)),
    }


def _accepts(energy, reg, solver) -> bool:
    if solver is None:
        return True
    try:
        solver.check(energy, reg)
    except TypeError:
        return False
    return True


CASES = [(e, r, s) for e in ENERGIES for r in REGS
         for s, solver in _solvers(REGS[r], e).items() if _accepts(ENERGIES[e], REGS[r], solver)]
CASE_IDS = ["-".join(case) for case in CASES]

DTYPES = {"float32": jnp.float32, "float64": jnp.float64, "float16": jnp.float16,
          "bfloat16": jnp.bfloat16}
HALF = ("float16", "bfloat16")
LAYOUTS = ("single", "batch", "grid")


def _twin(case):
    """The entry whose explicit solver ``solver=None`` resolves to (θ traced, so no
    concavity check): the two share one compiled program."""
    energy, reg_name, solver_name = case
    if solver_name != "default":
        return case
    resolved = M.resolve_solver(ENERGIES[energy], REGS[reg_name], None, None)
    for name, solver in _solvers(REGS[reg_name], energy).items():
        if name != "default" and solver == resolved and (energy, reg_name, name) in CASES:
            return energy, reg_name, name
    return case


def _variant(case) -> tuple[int, str, str]:
    """``(k, layout, dtype)`` of a catalogue entry, one compilation each: a Latin-square
    rotation over (energy, regularizer, solver), so that every solver meets each k ∈
    {1, 3, 5}, each batch layout and each dtype across the catalogue (float32 on about
    half of the entries, float64 on a sixth, each half-precision type on a sixth)."""
    energy, reg_name, solver_name = _twin(case)
    e, r = list(ENERGIES).index(energy), list(REGS).index(reg_name)
    s = list(_solvers(REGS[reg_name], energy)).index(solver_name)
    k = (3, 5, 1)[(r + s + e) % 3]
    layout = "batch" if energy == "quartic" else LAYOUTS[(r + 2 * s + e) % 3]
    dtype = ("float32", "float64", "float32", "float16", "float32", "bfloat16")[(2 * r + s + 3 * e) % 6]
    return k, layout, dtype


def _theta_batch(layout) -> tuple[int, ...]:
    return {"single": (), "batch": (3,), "grid": (2, 1)}[layout]


def _loss_batch(layout) -> tuple[int, ...]:
    """The batch of y in the loss calls (θ's batch broadcast against it)."""
    return {"single": (), "batch": (3,), "grid": (2, 2)}[layout]


def _eps(dtype) -> float:
    return float(jnp.finfo(DTYPES[dtype] if isinstance(dtype, str) else dtype).eps)


# --------------------------------------------------------------------------- inputs


def _dyadic_simplex(p, bits: int) -> np.ndarray:
    """Points of the simplex with entries on the grid 2^-bits and sum exactly 1 (so they
    are exactly in the domain in every dtype with at least ``bits`` mantissa bits)."""
    q = 2.0 ** bits
    n = np.floor(np.asarray(p, np.float64) * q)
    short = q - n.sum(axis=-1, keepdims=True)
    top = np.argmax(p, axis=-1)[..., None]
    np.put_along_axis(n, top, np.take_along_axis(n, top, -1) + short, axis=-1)
    return n / q


def _bits(dtype: str) -> int:
    return {"float16": 8, "bfloat16": 7, "float32": 20, "float64": 40}[dtype]


def _round_to(x, dtype: str) -> np.ndarray:
    """x rounded to ``dtype``, as a (writable) float64 array: what the library will see."""
    x = np.asarray(x, np.float64)
    if dtype == "float64":
        return x.copy()
    return np.array(jnp.asarray(x.astype(np.float32), DTYPES[dtype]).astype(jnp.float32), np.float64)


def _targets(reg, rng, shape, kind: str, dtype: str, scale: float) -> np.ndarray:
    """A random y of ``shape`` in dom Ω (exactly, in ``dtype``): interior points,
    points on faces (entries at the bounds, zero simplex entries) or vertices."""
    k = shape[-1]
    name = ref.kind(reg)
    if name in ref.BOX:
        lo, hi = ref.bounds(reg)
        inner = _round_to(rng.uniform(lo, hi, shape), dtype).clip(lo, hi)
        ends = np.where(rng.random(shape) < 0.5, lo, hi)
        if kind == "interior":
            return inner
        if kind == "vertex":
            return ends
        return np.where(rng.random(shape) < 0.5, ends, inner)
    if name in ref.SIMPLEX:
        if kind == "vertex":
            return np.eye(k)[rng.integers(0, k, shape[:-1])]
        p = rng.dirichlet(np.ones(k), shape[:-1])
        if kind == "face":
            p = np.where(rng.random(shape) < 0.5, 0.0, p)
            p[..., 0] += 1e-3
            p = p / p.sum(-1, keepdims=True)
        return _dyadic_simplex(p, _bits(dtype))
    y = scale * rng.standard_normal(shape)
    if kind == "vertex":
        y = np.round(y)
    return _round_to(y, dtype)


def _outside(reg, shape) -> np.ndarray:
    """A y outside dom Ω by far more than any tolerance (inf for Squared)."""
    y = np.full(shape, 0.25)
    name = ref.kind(reg)
    if name in ref.BOX:
        lo, hi = ref.bounds(reg)
        y = np.full(shape, 0.5 * (lo + hi))
        y[..., -1] = hi + 0.25 * (hi - lo)
    elif name in ref.SIMPLEX:
        y = np.full(shape, 1.0 / shape[-1])
        y[..., -1] += 0.25
    else:
        y[..., -1] = np.inf
    return y


MAGNITUDES = (0.0, 1e-6, 1e-2, 1.0, 7.0, 1e3, 1e6, "mixed")


@st.composite
def draws(draw):
    """The random part of one fuzz example (numpy draws from ``seed``)."""
    return {
        "seed": draw(st.integers(0, 2**32 - 1)),
        "scale": draw(st.sampled_from(MAGNITUDES)),
        "coupling": draw(st.sampled_from((0.0, 0.25, 4.0, 128.0))),
        "y_kind": draw(st.sampled_from(("interior", "face", "vertex"))),
        "y_scale": draw(st.sampled_from((1e-3, 1.0, 1e3))),
        "poison": draw(st.sampled_from((False, False, True))),
    }


def _scores(rng, shape, scale, dtype) -> np.ndarray:
    if scale == "mixed":  # every entry its own magnitude, from 1e-6 to 1e6
        scores = np.sign(rng.standard_normal(shape)) * 10.0 ** rng.uniform(-6, 6, shape)
    else:
        scores = scale * rng.standard_normal(shape)
    # float16 stops at 65504: keep the scores, and the losses, representable.
    limit = 30.0 if dtype == "float16" else 3e6
    return np.clip(scores, -limit, limit)


def _theta(energy: str, rng, batch, k, d, dtype: str, shared: bool):
    """θ for ``batch`` examples, exactly representable in ``dtype`` (float64 here)."""
    if energy == "low_rank":
        u = _round_to(_scores(rng, batch + (k,), d["scale"], dtype), dtype)
        # V = s·F with F on a coarse dyadic grid and s a power of two near √(c/r), so that
        # −VVᵀ has the size of the pairwise case's U; exact in every dtype.
        rank = _rank(k)
        factor = rng.integers(-3, 4, ((k, rank) if shared else batch + (k, rank))) / 2.0
        coupling = d["coupling"]
        size = 0.0 if coupling == 0 else 2.0 ** np.round(0.5 * np.log2(coupling / rank))
        return u, size * factor
    if energy == "pairwise":
        u = _round_to(_scores(rng, batch + (k,), d["scale"], dtype), dtype)
        # U = −c VVᵀ/r ⪯ 0 with V on a coarse dyadic grid and c a power of two: exact
        # (hence exactly negative semi-definite) in every dtype, bfloat16 included.
        rank = max(1, k // 2)
        factor = rng.integers(-3, 4, ((k, rank) if shared else batch + (k, rank))) / 2.0
        interactions = -d["coupling"] * factor @ np.swapaxes(factor, -1, -2) / rank
        return u, interactions
    return _round_to(_scores(rng, batch + (k,), d["scale"], dtype), dtype)


def _augmented(energy: str, theta, y_binary):
    """θ of the loss-augmented problem of the Hamming hinge: Φ(θ, y') + <1 − 2y, y'> is
    the same energy with the linear term shifted by 1 − 2y (for all three energies)."""
    shift = 1.0 - 2.0 * y_binary
    if energy in PAIRS:
        return theta[0] + shift, theta[1]
    return theta + shift


def _gradient(energy: str, theta, y) -> np.ndarray:
    """∇_y Φ(θ, y) in float64."""
    y = np.asarray(y, np.float64)
    if energy == "pairwise":
        u, interactions = (np.asarray(a, np.float64) for a in theta)
        sym = 0.5 * (interactions + np.swapaxes(interactions, -1, -2))
        return u + np.einsum("...ij,...j->...i", sym, y)
    if energy == "low_rank":
        u, factor = (np.asarray(a, np.float64) for a in theta)
        return u - np.einsum("...ir,...jr,...j->...i", factor, factor, y)
    grad = np.asarray(theta, np.float64) + 0 * y
    if energy == "quartic":
        grad = grad - 0.4 * y ** 3
    return grad


def _certificate(energy: str, reg, theta, y) -> np.ndarray:
    """An upper bound of F* − F(y) for a concave Φ: FY_Ω(∇_y Φ(θ, y); y) (linearize Φ at
    y, then the maximum of the linearized problem is Ω*(∇Φ) + Φ(y) − <∇Φ, y>)."""
    y = np.asarray(y, np.float64)
    inside = _project(reg, y)
    return np.maximum(ref.fy_loss(reg, _gradient(energy, theta, inside), inside), 0.0)


def _infeasibility(reg, y) -> np.ndarray:
    """How far y lies outside dom Ω (entries outside the box or below 0, and the
    simplex sum's distance to 1), per example."""
    y = np.asarray(y, np.float64)
    name = ref.kind(reg)
    if name in ref.BOX:
        lo, hi = ref.bounds(reg)
        return np.sum(np.maximum(lo - y, 0) + np.maximum(y - hi, 0), -1)
    if name in ref.SIMPLEX:
        return np.sum(np.maximum(-y, 0), -1) + np.abs(np.sum(y, -1) - 1)
    return np.zeros(y.shape[:-1])


def _clip(reg, y) -> np.ndarray:
    """y clipped into the box, or to y ≥ 0 on the simplex (no renormalization)."""
    name = ref.kind(reg)
    if name in ref.BOX:
        return np.clip(y, *ref.bounds(reg))
    if name in ref.SIMPLEX:
        return np.clip(y, 0.0, None)
    return y


def _project(reg, y) -> np.ndarray:
    """y moved onto dom Ω (float64) where rounding put it slightly outside."""
    name = ref.kind(reg)
    if name in ref.BOX:
        return np.clip(y, *ref.bounds(reg))
    if name in ref.SIMPLEX:
        y = np.clip(y, 0.0, None)
        return y / y.sum(-1, keepdims=True)
    return y


# --------------------------------------------------------------------------- compilation

# The default XLA compilation, what users run. (Options that trade code quality for
# compile time, -O1 or the legacy fusion emitters, were tried: they changed results, one
# of them to a wrong gradient, ∇_θ L = ŷ instead of ŷ − y for a custom energy.)


class _Compiled:
    """``jax.jit(fn)`` compiled ahead of time, once, for the shapes of the first call."""

    def __init__(self, fn):
        self._jitted = jax.jit(fn)
        self._executable = None

    def __call__(self, *args):
        if self._executable is None:
            self._executable = self._jitted.lower(*args).compile()
        return self._executable(*args)


def _flat_vmap(fn, nbatch: int, in_axes=0):
    for _ in range(nbatch):
        fn = jax.vmap(fn, in_axes=in_axes)
    return fn


def _value_and_jacobian(fn, x):
    """``fn(x)`` and the gradient of each of its entries w.r.t. x, ``(n, *x.shape)``,
    from one forward pass (the solver runs once; the VJP is vmapped)."""
    value, vjp = jax.vjp(fn, x)
    n = value.size
    basis = jnp.eye(n, dtype=value.dtype).reshape((n,) + value.shape)
    (grads,) = jax.vmap(vjp)(basis)
    return value, grads


def _extras(case) -> tuple[str, ...]:
    """The entry points a catalogue entry's program calls besides gfy_loss: one more in
    turn over the solvers of each (energy, regularizer) (maximize, conjugate, and on a
    [0, 1] box hinge_loss, with BoxIndicator perceptron_loss); all of them for the cheap
    closed form; hinge_loss always for coordinate ascent (it reads θ, not the energy)."""
    energy, reg_name, solver_name = case = _twin(case)
    reg = REGS[reg_name]
    pool = ["maximize", "conjugate"]
    if reg.is_box and (reg.lower, reg.upper) == (0.0, 1.0):  # hinge_loss's only domain
        pool.append("hinge")
        if reg_name == "BoxIndicator" and energy != "quartic":
            pool.append("perceptron")
    if solver_name == "ClosedForm":
        return tuple(pool)
    group = [c for c in CASES if c[:2] == case[:2] and _twin(c) == c]
    chosen = {pool[group.index(case) % len(pool)]}
    if solver_name == "CoordinateAscent" and "hinge" in pool:
        chosen.add("hinge")
    return tuple(p for p in pool if p in chosen)


def _rows(reg_name) -> int:
    """Rows of targets per example: y ∈ dom Ω, ŷ*, and (but for Squared, whose only
    outside is non-finite, which would poison the gradients of the other rows) a y
    outside dom Ω."""
    return 2 if reg_name == "Squared" else 3


@functools.lru_cache(maxsize=None)
def _probe(energy_name, reg_name, solver_name, dtype, k, layout):
    """The public entry points of one catalogue entry in one compiled program:
    ``probe(scores, interactions, ys, y_binary)`` with θ = scores (or (scores, U) for
    the pairwise energies, V for the low-rank one), ``ys: (rows, *loss_batch, k)`` and
    binary targets for the
    hinge loss. The losses come with the gradient of each value w.r.t. the scores,
    which is ŷ − y by Danskin's theorem: the ŷ the loss actually used."""
    energy, reg = ENERGIES[energy_name], REGS[reg_name]
    solver = _solvers(reg, energy_name)[solver_name]
    extras = _extras((energy_name, reg_name, solver_name))
    nb = len(_theta_batch(layout))
    kw = dict(solver=solver, on_failure="warn")

    if energy_name == "quartic":  # one example per call: batch with jax.vmap
        def gfy(theta, ys):
            one = lambda t, y: L.gfy_loss(energy, reg, t, y, **kw)
            return jax.vmap(_flat_vmap(one, nb), in_axes=(None, 0))(theta, ys)

        def hinge(theta, y):
            return _flat_vmap(lambda t, y_: L.hinge_loss(energy, t, y_, reg=reg, **kw), nb)(theta, y)

        def solve(fn, theta):
            init = M.default_init(reg, (k,), theta.dtype)
            return _flat_vmap(lambda t: fn(energy, reg, t, init=init, **kw), nb)(theta)
    else:
        def gfy(theta, ys):
            return L.gfy_loss(energy, reg, theta, ys, **kw)

        def hinge(theta, y):
            return L.hinge_loss(energy, theta, y, reg=reg, **kw)

        def solve(fn, theta):
            return fn(energy, reg, theta, **kw)

    def probe(scores, interactions, ys, y_binary):
        join = (lambda s: (s, interactions)) if energy_name in PAIRS else (lambda s: s)
        theta = join(scores)
        out = {}
        out["loss"], out["loss_grad"] = _value_and_jacobian(lambda s: gfy(join(s), ys), scores)
        if "hinge" in extras:
            out["hinge"], out["hinge_grad"] = _value_and_jacobian(
                lambda s: hinge(join(s), y_binary), scores)
        if "perceptron" in extras:
            out["perceptron"] = L.perceptron_loss(energy, theta, ys, **kw)
        if "maximize" in extras:
            out["y_hat"], out["info"] = solve(M.maximize, theta)
        if "conjugate" in extras:
            out["conj"] = solve(M.conjugate, theta)
        return out

    return _Compiled(probe)


def _strong(reg):
    if reg.is_entropic:
        return M.MirrorAscent(maxiter=20000, tol=1e-10)
    return M.ProjectedGradient(maxiter=100_000, tol=1e-10)


K_MAX, N_MAX = 5, 8


@functools.lru_cache(maxsize=None)
def _reference_solve(energy_name, reg_name):
    """A strong float64 solve (under x64) of ``N_MAX`` problems padded to ``K_MAX``
    outputs, compiled once per (energy, regularizer). Its accuracy is certified
    independently by :func:`_certificate`, never assumed."""
    energy, reg = ENERGIES[energy_name], REGS[reg_name]
    solver = _strong(reg)

    def one(theta):
        init = M.default_init(reg, (K_MAX,), jnp.float64)
        return M.maximize(energy, reg, theta, solver=solver, init=init)[0]

    return _Compiled(jax.vmap(one))


def _reference_argmax(energy: str, reg, reg_name, theta, k) -> np.ndarray:
    """ŷ* for θ with any batch shape (numpy float64): the closed form for the bilinear
    energy, a strong float64 solve otherwise. The solve pads the problem with K_MAX − k
    decoupled outputs (zero scores; on the simplex, scores so low that their share is
    exactly 0), which leaves the first k outputs of the maximizer unchanged."""
    if energy == "bilinear":
        return ref.maximizer(reg, theta)
    if energy == "low_rank":
        # The dense pairwise problem with U = −VVᵀ (float64): the same maximizer, solved
        # without the low-rank code path (and certified independently, as every ŷ*).
        u, factor = (np.asarray(a, np.float64) for a in theta)
        theta = (u, -factor @ np.swapaxes(factor, -1, -2))
        energy = "pairwise"
    if energy == "pairwise":
        u, interactions = theta
        batch = u.shape[:-1]
        interactions = np.broadcast_to(interactions, batch + (k, k)).reshape(-1, k, k)
        flat = [np.nan_to_num(u.reshape(-1, k)), interactions]
        reach = np.max(np.abs(flat[0]), -1) + np.max(np.sum(np.abs(interactions), -1), -1)
    else:
        batch = theta.shape[:-1]
        flat = [np.nan_to_num(theta.reshape(-1, k))]  # a poisoned example is not checked
        reach = np.max(np.abs(flat[0]), -1) + 1.0
    n = flat[0].shape[0]
    assert n <= N_MAX
    # Padded scores: 0 (decoupled) on a box or R^k; on the simplex, below every real
    # score by 1e3 (sparsemax share 0, softmax share exp(−1e3) = 0 in float64).
    low = -(1e3 + 2 * reach[:, None]) if ref.kind(reg) in ref.SIMPLEX else 0.0
    scores = np.concatenate([flat[0], np.broadcast_to(low, (n, K_MAX - k))], axis=-1)
    flat[0] = np.pad(scores, ((0, N_MAX - n), (0, 0)))
    if energy == "pairwise":
        flat[1] = np.pad(flat[1], ((0, N_MAX - n), (0, K_MAX - k), (0, K_MAX - k)))
    with jax.enable_x64(True):
        args = tuple(jnp.asarray(a, jnp.float64) for a in flat)
        y = _reference_solve(energy, reg_name)(args if energy == "pairwise" else args[0])
        y = np.asarray(y, np.float64)[:n, :k]
    return y.reshape(batch + (k,))


# --------------------------------------------------------------------------- (a), (b), (e)


def _close(name, got, want, tol, what=""):
    """|got − want| ≤ tol entry by entry, NaN matching NaN."""
    got, want, tol = np.broadcast_arrays(*(np.asarray(a, np.float64) for a in (got, want, tol)))
    bad = ~((np.abs(got - want) <= tol) | (np.isnan(got) & np.isnan(want)))
    assert not np.any(bad), (f"{name}: got {got[bad].tolist()}, expected {want[bad].tolist()} "
                             f"± {tol[bad].tolist()} {what}")


def _at_most(name, got, bound, what=""):
    got, bound = np.broadcast_arrays(np.asarray(got, np.float64), np.asarray(bound, np.float64))
    bad = ~(got <= bound)
    assert not np.any(bad), f"{name}: {got[bad].tolist()} exceeds its bound {bound[bad].tolist()} {what}"


def sel(mask, values):
    """The entries of ``values`` where ``mask`` (over its leading axes) holds."""
    values = np.asarray(values, np.float64)
    mask = np.asarray(mask, bool)
    mask = mask.reshape(mask.shape + (1,) * max(values.ndim - mask.ndim, 0))
    shape = np.broadcast_shapes(mask.shape, values.shape)
    return np.broadcast_to(values, shape)[np.broadcast_to(mask, shape)]


def _numpy(a):
    a = np.asarray(a)
    return a.astype(np.float64) if jnp.issubdtype(a.dtype, jnp.floating) else a


def _own_gradients(grads, shape, tbatch, k) -> np.ndarray:
    """From ``grads[o]``, the gradient of output o w.r.t. all of θ's examples, the part
    w.r.t. the example that o comes from (θ broadcasts over the rows and the size-1
    axes of its batch); ``(*shape, k)``."""
    if not shape:
        return grads.reshape(k)
    grads = grads.reshape((int(np.prod(shape)),) + tuple(tbatch) + (k,))
    index = np.indices(shape).reshape(len(shape), -1)  # (ndim, n): output positions
    lead = len(shape) - len(tbatch)
    source = tuple(np.where(np.asarray(tbatch)[j] == 1, 0, index[lead + j])
                   for j in range(len(tbatch)))
    picked = grads[(np.arange(grads.shape[0]),) + source]
    return picked.reshape(tuple(shape) + (k,))


def _slope(energy: str, reg, theta, y, eps) -> np.ndarray:
    """|∇F(y)| entry by entry, with Ω's gradient taken at y moved eps inside its faces
    (F's error from rounding y by δ is about Σ slope·|δ|)."""
    y = np.asarray(y, np.float64)
    name = ref.kind(reg)
    if name == "BinaryEntropy":
        yc = np.clip(y, eps, 1 - eps)
        omega = reg.scale * np.abs(np.log(yc) - np.log1p(-yc))
    elif name == "ShannonSimplex":
        omega = reg.scale * (1 + np.abs(np.log(np.clip(y, eps, None))))
    elif name == "BoxIndicator":
        omega = 0 * y
    else:
        omega = reg.scale * np.abs(y)
    return np.abs(_gradient(energy, theta, y)) + omega


def _curvature(energy: str, reg, theta, y_star) -> np.ndarray:
    """A bound on the curvature of F near ŷ*: λ + ‖U‖ (pairwise; U = −VVᵀ for the
    low-rank energy), λ + 1.2 max y² (quartic); what turns a solver's stationarity
    tolerance into an objective error."""
    lam = 0.0 if ref.kind(reg) == "BoxIndicator" else reg.scale
    if energy == "pairwise":
        return lam + np.sum(np.abs(np.asarray(theta[1], np.float64)), axis=(-1, -2))
    if energy == "low_rank":
        factor = np.asarray(theta[1], np.float64)
        return lam + np.sum(np.abs(factor @ np.swapaxes(factor, -1, -2)), axis=(-1, -2))
    if energy == "quartic":
        return lam + 1.2 * np.max(np.asarray(y_star) ** 2 + 1.0, axis=-1)
    return lam + 0.0 * np.sum(y_star, -1)


def _uses_coordinate_ascent(case) -> bool:
    """Whether the entry's solver ends with coordinate ascent (itself or wrapped)."""
    solver = _solvers(REGS[case[1]], case[0])[case[2]]
    while isinstance(solver, (M.Restarts, M.Sequential)):
        solver = solver.solver if isinstance(solver, M.Restarts) else solver.solvers[-1]
    return isinstance(solver, M.CoordinateAscent)


LOCAL = ("default", "ProjectedGradient", "MirrorAscent", "CoordinateAscent", "Restarts",
         "Sequential")


@FUZZ
@given(d=draws())
@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_public_entry_points_are_finite_nonnegative_and_exact(case, d):
    energy, reg_name, solver_name = case
    reg = REGS[reg_name]
    if _twin(case) != case:  # solver=None is its twin, traced alike
        assert M.resolve_solver(ENERGIES[energy], reg, None, None) == _solvers(reg, energy)[_twin(case)[2]]
    k, layout, dtype = _variant(case)
    rng = np.random.default_rng(d["seed"])
    tbatch, lbatch = _theta_batch(layout), _loss_batch(layout)
    theta = _theta(energy, rng, tbatch, k, d, dtype, shared=layout != "grid")
    y_scale = min(d["y_scale"], 3.0) if dtype == "float16" else d["y_scale"]  # see _scores
    y = _targets(reg, rng, lbatch + (k,), d["y_kind"], dtype, y_scale)
    y_binary = rng.integers(0, 2, tbatch + (k,)).astype(np.float64)
    hinge_theta = _augmented(energy, theta, y_binary)  # exact (float64)
    y_star = _project(reg, _reference_argmax(energy, reg, reg_name, theta, k))
    y_star_row = np.broadcast_to(y_star, lbatch + (k,))
    if ref.kind(reg) in ref.SIMPLEX:
        y_star_row = _dyadic_simplex(np.clip(y_star_row, 0, None), _bits(dtype))
    else:
        y_star_row = _round_to(y_star_row, dtype)
    ys = np.stack([y, y_star_row, _outside(reg, lbatch + (k,))][:_rows(reg_name)])

    poisoned = bool(d["poison"] and tbatch)
    if poisoned:  # a NaN in the scores of the first example (traced): only it is NaN
        for tree in (theta, hinge_theta):
            (tree[0] if energy in PAIRS else tree)[(0,) * len(tbatch) + (0,)] = np.nan

    scores, interactions = theta if energy in PAIRS else (theta, np.zeros(()))
    with contextlib.ExitStack() as stack:
        if dtype == "float64":
            stack.enter_context(jax.enable_x64(True))
        caught = stack.enter_context(warnings.catch_warnings(record=True))
        warnings.simplefilter("always")
        args = [jnp.asarray(a, DTYPES[dtype]) for a in (scores, interactions, ys, y_binary)]
        out = _probe(*_twin(case), dtype, k, layout)(*args)
        out = jax.block_until_ready(out)
        jax.effects_barrier()
    reported = any("did not converge" in str(w.message) for w in caught)
    for name, value in out.items():  # (e) the result has the input's dtype
        if name != "info":
            assert value.dtype == DTYPES[dtype], f"{name} has dtype {value.dtype}, not {dtype}"
    out = jax.tree.map(_numpy, out)
    # The poisoned examples' references are NaN (and an overflow in a reference would
    # give inf or NaN, which fails the comparisons below loudly).
    with np.errstate(invalid="ignore", over="ignore"):
        _check(case, d, out, reported, k, layout, dtype, theta, hinge_theta, ys, y_star,
               y_binary, poisoned)


def _check(case, d, out, reported, k, layout, dtype, theta, hinge_theta, ys, y_star,
           y_binary, poisoned):
    energy, reg_name, solver_name = case
    reg = REGS[reg_name]
    compute = "float64" if dtype == "float64" else "float32"
    eps, eps_out = _eps(compute), _eps(dtype)
    tbatch, lbatch = _theta_batch(layout), _loss_batch(layout)
    what = f"[{'-'.join(case)}, {dtype}, k={k}, {layout}, reported={reported}, draw={d}]"
    valid = np.ones(tbatch, bool)
    if poisoned:
        valid[(0,) * len(tbatch)] = False
    lvalid = np.broadcast_to(valid, lbatch)
    claims = solver_name in LOCAL and not reported  # the solver vouches for its accuracy
    exact = solver_name == "ClosedForm" or (energy == "bilinear" and solver_name == "default")
    f_star = ref.objective(energy, reg, theta, y_star)
    cert_star = _certificate(energy, reg, theta, y_star)
    # The reference maximizer (a strong float64 solve by the library's own solvers for
    # the non-bilinear energies) must be certified optimal, independently of them.
    mag_star = ref.magnitude(energy, reg, theta, y_star)
    _at_most("the reference ŷ* is not certified optimal (a float64 solve stopped early)",
             sel(valid, cert_star), sel(valid, 1e-7 * mag_star), what)
    curvature = _curvature(energy, reg, theta, y_star)
    diameter = np.minimum(ref.diameter(reg, k), 1.0 + np.linalg.norm(y_star, axis=-1))

    def accuracy(mag):
        """How far below the max a solve that reports no failure may stop: exact forms to
        rounding; gradient-mapping solvers (projected gradient, mirror ascent) to their
        tolerance (1e-5) times the diameter of the domain (F* − F(ŷ) ≤ ‖G‖·‖ŷ − y*‖);
        coordinate ascent, whose tolerance bounds a sweep's step, also times the
        curvature; plus rounding."""
        rounding = 64 * eps * mag
        if exact:
            return rounding
        per_step = (1 + curvature) if _uses_coordinate_ascent(case) else 1.0
        return 10 * 1e-5 * per_step * (1 + diameter) + 4 * rounding

    def check_loss(name, values, grads, rows, th, f_best, cert_best, row_valid):
        """values: (rows, *lb); grads: (rows·|lb|, *tbatch, k) → the ŷ the loss used."""
        moves = _own_gradients(grads, values.shape, tbatch, k)
        shape = values.shape
        n = min(2, shape[0]) if name != "hinge_loss" else None
        for r in (range(n) if n else [None]):
            got = values[r] if r is not None else values
            y_r = rows[r] if r is not None else rows
            move = moves[r] if r is not None else moves
            ok = row_valid
            used = y_r + move  # Danskin: ∇_θ L = ŷ − y
            label = f"{name}" + (f" row {r}" if r is not None else "")
            assert np.all(np.isfinite(sel(ok, got))), f"{label}: non-finite {got} {what}"
            assert np.all(sel(ok, got) >= 0), f"{label}: negative {got} {what}"
            assert np.all(np.isfinite(sel(ok, used))), f"{label}: non-finite gradient {move} {what}"
            inside = ref.in_domain(reg, used, R.domain_tolerance(DTYPES[compute])
                                   + 8 * eps_out * (1 + np.max(np.abs(y_r))))
            assert np.all(sel(ok, inside)), f"{label}: its ŷ = y + ∇_θ L = {used} is outside dom Ω {what}"
            # ŷ may lie off dom Ω by rounding, where F can exceed the max by that much.
            off = _infeasibility(reg, used)
            used = _clip(reg, used)  # only rounding-level moves: the ŷ the loss used
            f_y, f_used = ref.objective(energy, reg, th, y_r), ref.objective(energy, reg, th, used)
            mag = ref.magnitude(energy, reg, th, y_r, used, y_star_like[name])
            slope = _slope(energy, reg, th, used, eps_out)
            slack = (64 * eps * mag + 0.5 * eps_out * np.abs(got) + off * np.max(slope, -1)
                     + 2 * eps_out * np.sum(slope * (np.abs(move) + np.abs(y_r)), -1))
            # The value is F(ŷ) − F(y) at the ŷ its gradient reports (Danskin).
            _close(f"{label} vs F(ŷ) − F(y) (value and gradient disagree)", sel(ok, got),
                   sel(ok, np.maximum(f_used - f_y, 0)), sel(ok, slack), what)
            # Never above the true loss (ŷ* is certified: F* ≤ F(ŷ*) + cert).
            _at_most(f"{label} above the true loss", sel(ok, got),
                     sel(ok, np.maximum(f_best + cert_best - f_y, 0) + slack), what)
            # Not below it by more than the solver's accuracy, when it reports success:
            # F(ŷ) ≥ F(ŷ*) − accuracy, so a solver that stops early, or a loss clamped
            # to 0 over a poor ŷ, does not go unnoticed.
            if claims or exact:
                _at_most(f"{label} below the true loss − accuracy (no failure reported)",
                         sel(ok, f_best - f_y - accuracy(mag) - slack), sel(ok, got), what)
            if r == 1 and name == "gfy_loss":  # ~0 at ŷ* (rounded to the dtype)
                _at_most("gfy_loss at ŷ* (not ~0)", sel(ok, got),
                         sel(ok, np.abs(f_best - f_y) + cert_best + slack), what)

    y_star_like = {"gfy_loss": y_star, "hinge_loss": None}
    loss = out["loss"]
    check_loss("gfy_loss", loss, out["loss_grad"], ys, theta, f_star, cert_star, lvalid)
    if ys.shape[0] == 3:
        assert np.all(np.isnan(loss[2])), f"gfy_loss of a traced y outside dom Ω: {loss[2]} {what}"
    if poisoned:
        assert np.all(np.isnan(loss[:, ~lvalid])), f"gfy_loss: a NaN θ gave {loss} {what}"

    if "perceptron" in out:  # perceptron_loss is gfy_loss with BoxIndicator
        _close("perceptron_loss vs gfy_loss", out["perceptron"], loss, 64 * eps * (1 + np.abs(loss)), what)

    if "hinge" in out:
        hinge = out["hinge"]
        assert np.all(np.isfinite(sel(valid, hinge))), f"hinge_loss: non-finite {hinge} {what}"
        assert np.all(sel(valid, hinge) >= 0), f"hinge_loss: negative {hinge} {what}"
        # hinge(θ; y) is the GFY loss at y of the augmented scores θ + 1 − 2y.
        aug_star = _project(reg, _reference_argmax(energy, reg, reg_name, hinge_theta, k))
        y_star_like["hinge_loss"] = aug_star
        check_loss("hinge_loss", hinge, out["hinge_grad"], y_binary, hinge_theta,
                   ref.objective(energy, reg, hinge_theta, aug_star),
                   _certificate(energy, reg, hinge_theta, aug_star), valid)
        if poisoned:
            assert np.all(np.isnan(hinge[~valid])), f"hinge_loss: a NaN θ gave {hinge} {what}"

    if "y_hat" in out:  # maximize: ŷ in dom Ω, its objective, its accuracy when converged
        y_hat, info = out["y_hat"], out["info"]
        assert np.all(np.isfinite(sel(valid, y_hat))), f"maximize: non-finite ŷ {y_hat} {what}"
        inside = ref.in_domain(reg, y_hat, R.domain_tolerance(DTYPES[compute]) + 8 * eps_out)
        assert np.all(sel(valid, inside)), f"maximize: ŷ outside dom Ω: {y_hat} {what}"
        # ŷ may lie off dom Ω by rounding (relative to the solver's intermediate values),
        # where F can exceed the max by that much times its slope.
        off = _infeasibility(reg, y_hat)
        y_hat = _clip(reg, y_hat)
        f_hat = ref.objective(energy, reg, theta, y_hat)
        mag = ref.magnitude(energy, reg, theta, y_star, y_hat)
        slope = _slope(energy, reg, theta, y_hat, eps_out)
        slack = (64 * eps * mag + off * np.max(slope, -1)
                 + 2 * eps_out * np.sum(slope * (1 + np.abs(y_hat)), -1))
        _close("info.objective", sel(valid, info.objective), sel(valid, f_hat), sel(valid, slack), what)
        _at_most("F(ŷ) above the max", sel(valid, f_hat), sel(valid, f_star + cert_star + slack), what)
        if exact or solver_name in LOCAL:
            vouched = valid & np.asarray(info.converged, bool)
            _at_most("maximize: F(ŷ) below the max − accuracy, yet converged",
                     sel(vouched, f_star - accuracy(mag) - slack), sel(vouched, f_hat), what)
        if poisoned:
            assert np.all(np.isnan(info.objective[~valid])), f"maximize: NaN θ gave {info} {what}"

    if "conj" in out:  # conjugate: the max, up to the solver's accuracy
        conj = out["conj"]
        assert np.all(np.isfinite(sel(valid, conj))), f"conjugate: non-finite {conj} {what}"
        slack = 64 * eps * mag_star + 0.5 * eps_out * np.abs(conj)
        _at_most("conjugate above the max", sel(valid, conj),
                 sel(valid, f_star + cert_star + slack), what)
        if exact or claims:
            floor = f_star - accuracy(mag_star) - slack
            _at_most("conjugate below the max − accuracy", sel(valid, floor), sel(valid, conj), what)
        if poisoned:
            assert np.all(np.isnan(conj[~valid])), f"conjugate: a NaN θ gave {conj} {what}"


# --------------------------------------------------------------------------- (c) closed forms


# Every registered example instance with a closed form (the registry is the catalogue).
CLOSED_FORM_REGS = {(name if i == 0 else f"{name}#{i}"): reg
                    for name, examples in R.BUILT_INS.items()
                    for i, reg in enumerate(examples) if reg.has_linear_maximizer}


@st.composite
def closed_form_draws(draw):
    return {
        "seed": draw(st.integers(0, 2**32 - 1)),
        "scale": draw(st.sampled_from(MAGNITUDES)),
        "y_kind": draw(st.sampled_from(("interior", "face", "vertex"))),
        "y_scale": draw(st.sampled_from((1e-3, 1.0, 1e3, 1e6))),
    }


def _closed_form_shape(name) -> tuple[int, int]:
    """8 examples of k outputs, k rotated over the regularizers (one compilation each)."""
    return 8, (1, 2, 3, 5)[sorted(CLOSED_FORM_REGS).index(name) % 4]


def _closed_form_inputs(reg, d, dtype: str, shape):
    rng = np.random.default_rng(d["seed"])
    theta = _round_to(_scores(rng, shape, d["scale"], dtype), dtype)
    y = _targets(reg, rng, shape, d["y_kind"], dtype, d["y_scale"])
    return theta, y


@functools.lru_cache(maxsize=None)
def _closed_form_program(name, dtype):
    reg = CLOSED_FORM_REGS[name]

    def program(theta, y):
        y_hat, info = M.maximize(E.bilinear, reg, theta)
        out = {"default": L.gfy_loss(E.bilinear, reg, theta, y),
               "ClosedForm": L.gfy_loss(E.bilinear, reg, theta, y, solver=M.ClosedForm()),
               "conjugate": M.conjugate(E.bilinear, reg, theta),
               "y_hat": y_hat, "objective": info.objective}
        if isinstance(reg, R.BoxIndicator):
            out["perceptron"] = L.perceptron_loss(E.bilinear, theta, y, lower=reg.lower,
                                                  upper=reg.upper)
        return out

    return _Compiled(program)


@FAST
@given(d=closed_form_draws())
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", list(CLOSED_FORM_REGS))
def test_closed_forms_are_accurate_relative_to_their_size(name, dtype, d):
    """(c) The classic FY losses (sigmoid BCE, squared/clip, perceptron, sparsemax,
    softmax CE), their conjugates and maximizers, against exact (rational) or float64
    references at the same inputs: relative accuracy for |θ| up to 1e6."""
    reg = CLOSED_FORM_REGS[name]
    shape = _closed_form_shape(name)
    k = shape[-1]
    theta, y = _closed_form_inputs(reg, d, dtype, shape)
    eps = _eps(dtype)
    rtol = 64 * eps  # 7.6e-6 in float32
    atol = 16 * eps * reg.scale * k * (1 + np.max(np.abs(y), -1)) ** 2  # tiny, |θ|-free
    with jax.enable_x64(True) if dtype == "float64" else contextlib.nullcontext():
        out = _closed_form_program(name, dtype)(jnp.asarray(theta, DTYPES[dtype]),
                                                jnp.asarray(y, DTYPES[dtype]))
    what = f"[{name}, {dtype}, draw={d}]"
    want = ref.fy_loss(reg, theta, y)
    for label in ("default", "ClosedForm", "perceptron"):
        if label not in out:
            continue
        got = out[label]
        assert got.dtype == DTYPES[dtype], what
        got = np.asarray(got, np.float64)
        assert np.all(np.isfinite(got)) and np.all(got >= 0), f"{label}: {got} {what}"
        _close(f"FY loss ({label})", got, want, rtol * np.abs(want) + atol, what)
    want_conj = ref.conjugate(reg, theta)
    conj_tol = rtol * np.abs(want_conj) + 4 * eps * np.max(np.abs(theta), -1) + atol
    _close("conjugate", out["conjugate"], want_conj, conj_tol, what)
    _close("maximize info.objective", out["objective"], want_conj, conj_tol, what)
    want_y = ref.maximizer(reg, theta)
    tie = isinstance(reg, R.BoxIndicator) & (theta == 0)  # any point of the box is optimal
    t = np.abs(theta) / reg.scale
    _close("maximizer", np.where(tie, 0, out["y_hat"]), np.where(tie, 0, want_y),
           8 * eps * (1 + np.max(t, -1, keepdims=True)), what)


@FAST
@given(d=closed_form_draws())
@pytest.mark.parametrize("name", ["BinaryEntropy", "SquaredBox", "BoxIndicator"])
def test_closed_form_hinge_is_the_hamming_ssvm(name, d):
    """(c) The bilinear hinge loss with a [0, 1] box against the per-coordinate maximum
    of θ_i y'_i + |y_i − y'_i| − Ω(y'_i) (the documented margin-rescaled SSVM)."""
    reg = CLOSED_FORM_REGS[name]
    rng = np.random.default_rng(d["seed"])
    shape = _closed_form_shape(name)
    theta = _round_to(_scores(rng, shape, d["scale"], "float32"), "float32")
    y = rng.integers(0, 2, shape).astype(np.float64)
    got = np.asarray(_hinge_program(name)(jnp.asarray(theta, jnp.float32),
                                          jnp.asarray(y, jnp.float32)), np.float64)
    want = _hamming_hinge(reg, theta, y)
    eps = _eps("float32")
    _close("hinge_loss", got, want, 64 * eps * np.abs(want) + 16 * eps * shape[-1], f"[{name}, {d}]")


@functools.lru_cache(maxsize=None)
def _hinge_program(name):
    reg = CLOSED_FORM_REGS[name]
    return _Compiled(lambda t, y: L.hinge_loss(E.bilinear, t, y, reg=reg))


def _hamming_hinge(reg, theta, y) -> np.ndarray:
    """max over the box of Σ θ_i y'_i + |y_i − y'_i| − Ω(y'_i), minus the same at y,
    coordinate by coordinate: on each side of y_i the cost is linear, so the maximum is
    the closed-form maximizer of the shifted scores θ_i ∓ 1, clipped to that side."""
    lo, hi = ref.bounds(reg)
    theta, y = np.asarray(theta, np.float64), np.asarray(y, np.float64)
    best = np.full(theta.shape, -np.inf)
    for sign, a, b in ((-1.0, lo, y), (1.0, y, hi)):  # y' ≤ y: cost y − y'; y' ≥ y: y' − y
        shifted = theta + sign
        point = np.clip(ref.maximizer(reg, shifted), a, b)
        if ref.kind(reg) == "BoxIndicator":  # a linear piece: its better end
            point = np.where(shifted > 0, b, a)
        value = (shifted * point - sign * y - ref.omega_entries(reg, point))
        best = np.maximum(best, value)
    at_y = theta * y - ref.omega_entries(reg, y)
    return np.sum(best - at_y, -1)




# --------------------------------------------------------------------------- (b) batches


# (θ batch, y batch): broadcasting by missing axes and by size-1 axes.
BATCH_LAYOUTS = {"theta(3)-y(2,3)": ((3,), (2, 3)), "theta(2,1)-y(4)": ((2, 1), (4,)),
                 "theta()-y(2,1,3)": ((), (2, 1, 3))}


@functools.lru_cache(maxsize=None)
def _closed_form_batch_program(name, layout):
    reg = REGS[name]
    theta_batch, y_batch = BATCH_LAYOUTS[layout]
    batch = np.broadcast_shapes(theta_batch, y_batch)

    def spread(fn):  # jax.vmap of single-example calls over the broadcast batch
        for _ in batch:
            fn = jax.vmap(fn)
        return fn

    def program(theta, y, y_binary):
        full = lambda a: jnp.broadcast_to(a, batch + a.shape[-1:])
        gfy = lambda t, y_: L.gfy_loss(E.bilinear, reg, t, y_)
        out = {"gfy_loss": (gfy(theta, y), spread(gfy)(full(theta), full(y)))}
        if reg.is_box and (reg.lower, reg.upper) == (0.0, 1.0):
            hinge = lambda t, y_: L.hinge_loss(E.bilinear, t, y_, reg=reg)
            out["hinge_loss"] = (hinge(theta, y_binary), spread(hinge)(full(theta), full(y_binary)))
        solve = lambda t: M.maximize(E.bilinear, reg, t)[0]
        conj = lambda t: M.conjugate(E.bilinear, reg, t)
        out["maximize"] = (solve(theta), _flat_vmap(solve, len(theta_batch))(theta))
        out["conjugate"] = (conj(theta), _flat_vmap(conj, len(theta_batch))(theta))
        return out

    return _Compiled(program)


@settings(max_examples=examples(8), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), y_kind=st.sampled_from(("interior", "face", "vertex")))
@pytest.mark.parametrize("layout", list(BATCH_LAYOUTS))
@pytest.mark.parametrize("name", list(REGS))
def test_closed_form_batches_equal_vmap(name, layout, seed, y_kind):
    """(b) Leading axes of θ and y broadcast (missing axes, size-1 axes), and every entry
    point equals jax.vmap of its single-example call."""
    reg = REGS[name]
    rng = np.random.default_rng(seed)
    theta_batch, y_batch = BATCH_LAYOUTS[layout]
    k = 3
    theta = _round_to(3 * rng.standard_normal(theta_batch + (k,)), "float32")
    y = _targets(reg, rng, y_batch + (k,), y_kind, "float32", 1.0)
    y_binary = rng.integers(0, 2, y_batch + (k,)).astype(np.float64)
    batch = np.broadcast_shapes(theta_batch, y_batch)
    out = _closed_form_batch_program(name, layout)(
        *(jnp.asarray(a, jnp.float32) for a in (theta, y, y_binary)))
    for label, (got, mapped) in out.items():
        expected_shape = theta_batch + ((k,) if label == "maximize" else ()) \
            if label in ("maximize", "conjugate") else batch
        assert got.shape == expected_shape, f"{label}: shape {got.shape}, expected {expected_shape}"
        _close(f"{label} batch vs vmap [{name}, {layout}]", got, mapped,
               1e-6 * (1 + np.abs(np.asarray(mapped))))


@functools.lru_cache(maxsize=None)
def _pairwise_batch_program(reg_name, energy_name="pairwise"):
    """The batched calls and jax.vmap of the single calls (U or V shared: in_axes None)."""
    reg = REGS[reg_name]
    solver = _local(reg)
    energy = ENERGIES[energy_name]

    def calls(u, second, y):
        return (L.gfy_loss(energy, reg, (u, second), y, solver=solver),
                M.maximize(energy, reg, (u, second), solver=solver)[0],
                M.conjugate(energy, reg, (u, second), solver=solver))

    mapped = jax.vmap(calls, in_axes=(0, None, 0))
    return _Compiled(lambda u, i, y: (calls(u, i, y), mapped(u, i, y)))


@pytest.mark.parametrize("energy", PAIRS)
@pytest.mark.parametrize("name", list(REGS))
def test_pairwise_batches_equal_vmap(name, energy):
    """(b) For the pairwise energies, a batch of u with one shared U (or V) gives jax.vmap
    of single calls (in_axes None for U), for the loss, maximize and conjugate (jitted).
    One U (V) per example is covered by the "grid" layout of the catalogue test."""
    reg = REGS[name]
    rng = np.random.default_rng(7)
    k, n = 3, 4
    u = (3 * rng.standard_normal((n, k))).astype(np.float32)
    factor = rng.standard_normal((k, 2))
    second = (-factor @ factor.T / 2).astype(np.float32) if energy == "pairwise" \
        else (factor / np.sqrt(2)).astype(np.float32)
    y = _targets(reg, rng, (n, k), "face", "float32", 1.0).astype(np.float32)
    batched, mapped = _pairwise_batch_program(name, energy)(u, second, y)
    for label, a, b in zip(("gfy_loss", "maximize", "conjugate"), batched, mapped):
        assert a.shape == b.shape, f"{label}: {a.shape} vs {b.shape}"
        _close(f"{label} batch vs vmap [{name}, {energy}]", a, b,
               1e-5 * (1 + np.abs(np.asarray(b))))


@FAST
@given(data=st.data())
@pytest.mark.parametrize("energy", ["bilinear", "pairwise", "low_rank"])
def test_shapes_that_do_not_fit_are_refused_with_the_shapes(energy, data):
    """(b) Batches that do not broadcast, or last axes that differ, raise ValueError
    naming the shapes, before any computation."""
    k = data.draw(st.sampled_from((2, 3)))
    a = data.draw(st.sampled_from(((2,), (3,), (2, 3))))
    b = data.draw(st.sampled_from(((4,), (5,), (4, 5), (2, 4))).filter(
        lambda s: not _broadcasts(a, s)))
    reg = REGS[data.draw(st.sampled_from(list(REGS)))]
    y = np.broadcast_to(M.default_init(reg, (k,)), b + (k,))
    second = (k, k) if energy == "pairwise" else (k, data.draw(st.integers(1, 4)))
    theta = (np.zeros(a + (k,), np.float32), np.zeros(second, np.float32)) \
        if energy in PAIRS else np.zeros(a + (k,), np.float32)
    with pytest.raises(ValueError) as error:
        L.gfy_loss(ENERGIES[energy], reg, theta, y)
    message = str(error.value)
    assert str(a + (k,)) in message and str(b + (k,)) in message, message
    with pytest.raises(ValueError, match=r"y has shape"):  # last axis differs
        L.gfy_loss(ENERGIES[energy], reg, theta, np.zeros(a + (k + 1,), np.float32))


def _broadcasts(a, b) -> bool:
    try:
        np.broadcast_shapes(a, b)
    except ValueError:
        return False
    return True


@pytest.mark.parametrize("entry", ["gfy_loss", "hinge_loss", "maximize", "conjugate"])
def test_a_custom_energy_refuses_a_batch_and_says_vmap(entry):
    """(b) A custom energy takes one example per call: a batched y (or init) raises
    ValueError pointing to jax.vmap."""
    reg = R.SquaredBox()
    theta, y = jnp.zeros((2, 3)), jnp.zeros((2, 3))
    calls = {
        "gfy_loss": lambda: L.gfy_loss(quartic, reg, theta, y),
        "hinge_loss": lambda: L.hinge_loss(quartic, theta, y, reg=reg),
        "maximize": lambda: M.maximize(quartic, reg, theta, init=y),
        "conjugate": lambda: M.conjugate(quartic, reg, theta, init=y),
    }
    with pytest.raises(ValueError, match=r"jax\.vmap"):
        calls[entry]()


# --------------------------------------------------------------------------- (d) rejections


def _rejections():
    """``(label, call, exception types, the name the message must contain)``: every
    input the library refuses, each through the public entry points it reaches."""
    box, simplex = R.SquaredBox(), R.ShannonSimplex()
    k3 = jnp.zeros(3)
    pair = (k3, -jnp.eye(3))
    out = []

    def add(label, call, name, types=(ValueError,)):
        out.append((label, call, types, name))

    # Targets outside the domain (concrete), by more than the tolerance.
    for reg_name, reg in REGS.items():
        if ref.kind(reg) in ref.BOX:
            lo, hi = ref.bounds(reg)
            bad = jnp.array([lo, hi + 1e-3, 0.5 * (lo + hi)])
        elif ref.kind(reg) in ref.SIMPLEX:
            bad = jnp.array([0.5, 0.5, 1e-3])
        else:
            bad = jnp.array([0.0, jnp.inf, 1.0])
        add(f"y outside {reg_name} (gfy_loss)", lambda r=reg, b=bad: L.gfy_loss(E.bilinear, r, k3, b), "y")
        add(f"y outside {reg_name} (pairwise)", lambda r=reg, b=bad: L.gfy_loss(E.pairwise, r, pair, b), "y")
        add(f"y outside {reg_name} (custom)", lambda r=reg, b=bad: L.gfy_loss(quartic, r, k3, b), "y")
        add(f"NaN y for {reg_name}", lambda r=reg: L.gfy_loss(E.bilinear, r, k3, jnp.array([jnp.nan, 0.0, 1.0])), "y")
    add("y outside the perceptron box", lambda: L.perceptron_loss(E.bilinear, k3, jnp.array([0.0, 2.0, 0.0])), "y")
    add("non-binary y for the hinge", lambda: L.hinge_loss(E.bilinear, k3, jnp.array([0.0, 0.5, 1.0])), "y")
    add("complex y", lambda: L.gfy_loss(E.bilinear, box, k3, jnp.zeros(3, jnp.complex64)), "y", (TypeError,))
    add("string y", lambda: L.gfy_loss(E.bilinear, box, k3, np.array(["a", "b", "c"])), "y", (TypeError,))
    add("scalar y", lambda: L.gfy_loss(E.bilinear, box, k3, jnp.zeros(())), "y")
    # Non-finite θ or init (concrete), in every entry point.
    for value in (np.nan, np.inf, -np.inf):
        bad = jnp.array([0.0, value, 1.0])
        add(f"θ={value} (gfy_loss)", lambda b=bad: L.gfy_loss(E.bilinear, box, b, k3), "theta")
        add(f"θ={value} (perceptron)", lambda b=bad: L.perceptron_loss(E.bilinear, b, k3), "theta")
        add(f"θ={value} (hinge)", lambda b=bad: L.hinge_loss(E.bilinear, b, k3), "theta")
        add(f"θ={value} (maximize)", lambda b=bad: M.maximize(E.bilinear, box, b), "theta")
        add(f"θ={value} (conjugate)", lambda b=bad: M.conjugate(E.bilinear, box, b), "theta")
        add(f"U={value} (pairwise)", lambda v=value: L.gfy_loss(
            E.pairwise, box, (k3, jnp.full((3, 3), v)), k3), "theta")
        add(f"V={value} (low_rank)", lambda v=value: L.gfy_loss(
            E.low_rank_pairwise, box, (k3, jnp.full((3, 2), v)), k3), "theta")
        add(f"θ={value} (custom)", lambda b=bad: M.maximize(quartic, box, b, init=k3), "theta")
        add(f"init={value}", lambda b=bad: M.maximize(E.pairwise, box, pair, init=b), "init")
    add("init of the wrong shape", lambda: M.maximize(E.pairwise, box, pair, init=jnp.zeros(4)), "init")
    add("custom energy without init", lambda: M.maximize(quartic, box, k3), "init")
    add("pairwise θ not a pair", lambda: L.gfy_loss(E.pairwise, box, k3, k3), "theta", (TypeError,))
    low = (k3, jnp.ones((3, 2)))
    add("low_rank θ not a pair", lambda: M.maximize(E.low_rank_pairwise, box, k3), "theta", (TypeError,))
    add("low_rank θ a triple", lambda: L.gfy_loss(E.low_rank_pairwise, box, (k3, k3, k3), k3),
        "theta", (TypeError,))
    add("low_rank V of one axis", lambda: L.gfy_loss(E.low_rank_pairwise, box, (k3, k3), k3), "theta")
    add("low_rank V with k rows of the wrong k", lambda: M.maximize(
        E.low_rank_pairwise, box, (k3, jnp.ones((4, 2)))), "theta")
    add("low_rank y of the wrong k", lambda: L.gfy_loss(E.low_rank_pairwise, box, low, jnp.zeros(2)), "y")
    add("low_rank init of the wrong shape", lambda: M.maximize(
        E.low_rank_pairwise, box, low, init=jnp.zeros(4)), "init")
    add("energy not callable", lambda: L.gfy_loss("bilinear", box, k3, k3), "energy", (TypeError,))
    # Objects of the wrong type, bad options.
    add("reg not a Regularizer", lambda: L.gfy_loss(E.bilinear, "SquaredBox", k3, k3), "reg", (TypeError,))
    add("reg a class", lambda: M.maximize(E.bilinear, R.SquaredBox, k3), "reg", (TypeError,))
    add("solver not a Maximizer", lambda: L.gfy_loss(E.bilinear, box, k3, k3, solver="pg"), "solver", (TypeError,))
    add("solver a class", lambda: M.maximize(E.bilinear, box, k3, solver=M.ProjectedGradient), "solver", (TypeError,))
    add("on_failure", lambda: L.gfy_loss(E.bilinear, box, k3, k3, on_failure="loud"), "on_failure")
    add("on_failure (maximize)", lambda: M.maximize(E.bilinear, box, k3, on_failure=None), "on_failure")
    add("num_steps", lambda: L.unrolled_loss(E.bilinear, box, k3, k3, num_steps=0), "num_steps")
    add("temperature", lambda: L.info_nce_loss(E.bilinear, k3, k3, jnp.zeros((2, 3)), temperature=0.0),
        "temperature")
    # Solvers that cannot handle the pair (solver.check).
    for label, energy, reg, solver in [
            ("ClosedForm on pairwise", E.pairwise, box, M.ClosedForm()),
            ("ProjectedGradient on BinaryEntropy", E.bilinear, R.BinaryEntropy(), M.ProjectedGradient()),
            ("MirrorAscent on SquaredBox", E.bilinear, box, M.MirrorAscent()),
            ("CoordinateAscent on bilinear", E.bilinear, box, M.CoordinateAscent()),
            ("CoordinateAscent on a simplex", E.pairwise, simplex, M.CoordinateAscent()),
            ("CoordinateAscent on a simplex (low rank)", E.low_rank_pairwise, simplex,
             M.CoordinateAscent()),
            ("ClosedForm on low rank", E.low_rank_pairwise, box, M.ClosedForm()),
            ("DerivativeFree on R^k", E.bilinear, R.Squared(), M.DerivativeFree()),
            ("Langevin on Squared", E.bilinear, R.Squared(), M.Langevin()),
            ("Restarts of a mismatch", E.bilinear, box, M.Restarts(M.MirrorAscent())),
            ("Sequential with a mismatch", E.bilinear, box, M.Sequential((M.ProjectedGradient(), M.MirrorAscent())))]:
        theta = (pair if energy is E.pairwise else
                 (k3, jnp.ones((3, 2))) if energy is E.low_rank_pairwise else k3)
        add(label, lambda e=energy, r=reg, s=solver, t=theta: L.gfy_loss(e, r, t, jnp.full(3, 1 / 3), solver=s),
            type(solver.solver if isinstance(solver, M.Restarts) else solver).__name__
            if not isinstance(solver, M.Sequential) else "MirrorAscent", (TypeError,))
    # Solver settings, checked when the solver is built.
    settings_ = [
        (M.ProjectedGradient, "maxiter", [0, -1, True, 2.5, "10", None]),
        (M.ProjectedGradient, "tol", [-1.0, np.nan, np.inf, "1e-5", None]),
        (M.ProjectedGradient, "decrease", [0.0, 1.5, -0.1, np.nan]),
        (M.ProjectedGradient, "initial_lipschitz", [0.0, -1.0, np.inf]),
        (M.ProjectedGradient, "accelerated", ["yes", 1, None]),
        (M.ProjectedGradient, "unroll", ["no", 0]),
        (M.MirrorAscent, "maxiter", [0, -5, False, 3.0]),
        (M.MirrorAscent, "tol", [-1e-3, np.nan]),
        (M.MirrorAscent, "step_size", [0.0, -1.0, np.nan, np.inf]),
        (M.CoordinateAscent, "maxiter", [0, True, 1.5]),
        (M.CoordinateAscent, "tol", [-1.0, np.nan]),
        (M.DerivativeFree, "num_samples", [0, -3, True, 2.0]),
        (M.DerivativeFree, "iterations", [-1, 1.5, True]),
        (M.DerivativeFree, "noise_scale", [-0.1, np.nan]),
        (M.DerivativeFree, "shrink", [0.0, 1.5, np.nan]),
        (M.DerivativeFree, "temperature", [0.0, -1.0, np.inf]),
        (M.Langevin, "num_chains", [0, -1, True]),
        (M.Langevin, "maxiter", [0, 2.5]),
        (M.Langevin, "step_size", [0.0, -1e-2, np.nan]),
        (M.Langevin, "temperature", [-1.0, np.nan]),
        (M.Langevin, "tol", [-1.0, np.nan]),
        (M.Restarts, "num_restarts", [-1, 1.5, True]),
    ]
    for cls, field, values in settings_:
        for value in values:
            add(f"{cls.__name__}({field}={value!r})", lambda c=cls, f=field, v=value: c(**{f: v}),
                field, (ValueError, TypeError))
    add("Restarts of a non-solver", lambda: M.Restarts(solver="pg"), "solver", (TypeError,))
    add("Sequential of nothing", lambda: M.Sequential(()), "solvers", (ValueError,))
    add("Sequential of a non-solver", lambda: M.Sequential((M.ClosedForm(), "pg")), "solvers", (TypeError,))
    # Regularizer settings.
    for cls in (R.BinaryEntropy, R.SquaredBox, R.BoxIndicator, R.Squared, R.SquaredSimplex,
                R.ShannonSimplex):
        for value in (0.0, -1.0, np.nan, np.inf, True, "1", None):
            add(f"{cls.__name__}(scale={value!r})", lambda c=cls, v=value: c(scale=v), "scale",
                (ValueError, TypeError))
    for cls in (R.SquaredBox, R.BoxIndicator):
        add(f"{cls.__name__}(lower=upper)", lambda c=cls: c(lower=1.0, upper=1.0), "lower")
        add(f"{cls.__name__}(lower>upper)", lambda c=cls: c(lower=2.0, upper=1.0), "lower")
        add(f"{cls.__name__}(lower=nan)", lambda c=cls: c(lower=np.nan), "lower", (ValueError, TypeError))
        add(f"{cls.__name__}(upper=inf)", lambda c=cls: c(upper=np.inf), "upper", (ValueError, TypeError))
    add("BinaryEntropy off the unit box", lambda: R.BinaryEntropy(lower=-1.0), "lower")
    add("perceptron box", lambda: L.perceptron_loss(E.bilinear, k3, k3, lower=1.0, upper=0.0), "lower")
    # The Hamming cost is linear in y' on [0, 1]^k only (a bug found here: the hinge on a
    # wider box, or on Squared, silently used the linear extension).
    for label, reg in [("a wider box", R.BoxIndicator(lower=-1.0, upper=2.0)),
                       ("a scaled wider box", R.SquaredBox(lower=-1.0, upper=2.0, scale=0.5)),
                       ("Squared", R.Squared())]:
        add(f"hinge_loss on {label}", lambda r=reg: L.hinge_loss(E.bilinear, k3, k3, reg=r), "reg")
    return out


REJECTIONS = _rejections()


@pytest.mark.parametrize("call, types, name",
                         [pytest.param(*case[1:], id=case[0]) for case in REJECTIONS])
def test_rejected_inputs_raise_value_or_type_errors_naming_the_argument(call, types, name):
    """(d) A refused input raises ValueError/TypeError (never another exception, never a
    value) whose message names the argument."""
    try:
        result = call()
    except (ValueError, TypeError) as error:
        assert isinstance(error, types), f"{type(error).__name__} ({error}), expected {types}"
        assert name in str(error), f"the message does not name {name!r}: {error}"
        return
    except Exception as error:  # noqa: BLE001 - any other type is the failure we look for
        pytest.fail(f"raised {type(error).__name__} ({error}), not ValueError/TypeError")
    pytest.fail(f"accepted, returned {result!r}")


_SETTINGS = {
    M.ProjectedGradient: {"maxiter": "int", "tol": "nonneg", "initial_lipschitz": "pos",
                          "decrease": "unit"},
    M.MirrorAscent: {"maxiter": "int", "tol": "nonneg", "step_size": "pos-or-None"},
    M.CoordinateAscent: {"maxiter": "int", "tol": "nonneg"},
    M.DerivativeFree: {"num_samples": "int", "iterations": "count", "noise_scale": "nonneg",
                       "shrink": "unit", "temperature": "pos"},
    M.Langevin: {"num_chains": "int", "maxiter": "int", "step_size": "pos",
                 "temperature": "nonneg", "tol": "nonneg"},
    M.Restarts: {"num_restarts": "count"},
}


def _invalid(kind: str):
    """Values that a setting of ``kind`` must refuse."""
    bad_numbers = st.sampled_from([np.nan, np.inf, -np.inf, True, False, None, "1", 1j])
    if kind == "int":  # an integer ≥ 1
        return st.one_of(st.integers(max_value=0), st.floats(allow_nan=False).filter(
            lambda x: x != int(x) if np.isfinite(x) else True), bad_numbers)
    if kind == "count":  # an integer ≥ 0
        return st.one_of(st.integers(max_value=-1), st.floats(0.1, 10).filter(lambda x: x != int(x)),
                         bad_numbers)
    if kind in ("pos", "pos-or-None"):  # a finite number > 0 (None: the default rule)
        return st.one_of(st.floats(max_value=0.0), bad_numbers.filter(
            lambda v: not (v is None and kind == "pos-or-None")))
    if kind == "nonneg":  # a finite number ≥ 0
        return st.one_of(st.floats(max_value=-1e-300), bad_numbers)
    return st.one_of(st.floats(max_value=0.0), st.floats(min_value=1.0 + 1e-9),
                     bad_numbers)  # (0, 1]


@FAST
@given(data=st.data())
@pytest.mark.parametrize("cls", list(_SETTINGS), ids=lambda c: c.__name__)
def test_random_invalid_solver_settings_are_refused_by_name(cls, data):
    """(d) Random invalid values of every numeric solver setting raise ValueError or
    TypeError naming the setting when the solver is built."""
    field = data.draw(st.sampled_from(sorted(_SETTINGS[cls])))
    value = data.draw(_invalid(_SETTINGS[cls][field]))
    with pytest.raises((ValueError, TypeError), match=field):
        cls(**{field: value})


# --------------------------------------------------------------------------- (e) half precision


@functools.lru_cache(maxsize=None)
def _half_program(name, dtype):
    reg, half = REGS[name], DTYPES[dtype]

    def calls(theta, y, y_binary):
        out = {"gfy_loss": L.gfy_loss(E.bilinear, reg, theta, y),
               "maximize": M.maximize(E.bilinear, reg, theta)[0],
               "conjugate": M.conjugate(E.bilinear, reg, theta)}
        if reg.is_box and (reg.lower, reg.upper) == (0.0, 1.0):
            out["hinge_loss"] = L.hinge_loss(E.bilinear, theta, y_binary, reg=reg)
        return out

    def program(*args):
        return calls(*(a.astype(half) for a in args)), calls(*args)

    return _Compiled(program)


@settings(max_examples=examples(10), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(d=closed_form_draws())
@pytest.mark.parametrize("dtype", HALF)
@pytest.mark.parametrize("name", list(REGS))
def test_half_precision_is_the_float32_result_rounded(name, dtype, d):
    """(e) float16/bfloat16 inputs: every entry point returns the input's dtype, and the
    value is the float32 computation on the same inputs rounded to that dtype (bit for
    bit: the library computes in float32 and casts once)."""
    reg = REGS[name]
    scale = 1.0 if d["scale"] == "mixed" else min(d["scale"], 100.0)  # float16 ends at 65504
    theta, y = _closed_form_inputs(reg, dict(d, scale=scale, y_scale=min(d["y_scale"], 100.0)),
                                   dtype, (4, 3))
    y_binary = np.random.default_rng(d["seed"]).integers(0, 2, (4, 3)).astype(np.float32)
    half, single = _half_program(name, dtype)(*(jnp.asarray(a, jnp.float32)
                                                for a in (theta, y, y_binary)))
    for label, got in half.items():
        assert got.dtype == DTYPES[dtype], f"{label}: dtype {got.dtype}, expected {dtype}"
        np.testing.assert_array_equal(
            np.asarray(got.astype(jnp.float32)),
            np.asarray(single[label].astype(DTYPES[dtype]).astype(jnp.float32)),
            err_msg=f"{label} [{name}, {dtype}, {d}]")


# --------------------------------------------------------------------------- bugs found
# Regression tests for the bugs this suite found (all fixed since). An open bug would be
# a strict xfail here: when the library is fixed it passes, the xfail turns red, and the
# mark can go.


@pytest.mark.parametrize("name", ["BinaryEntropy", "SquaredBox", "BoxIndicator"])
def test_hinge_with_coordinate_ascent_uses_the_hamming_cost(name):
    """Fixed: CoordinateAscent read (u, U) and ignored the Hamming augmentation."""
    reg = REGS[name]
    u, y = np.array([0.3, -0.2, 0.1]), np.ones(3)
    theta = (jnp.asarray(u, jnp.float32), jnp.zeros((3, 3)))  # U = 0: separable, exact reference
    got = L.hinge_loss(E.pairwise, theta, jnp.asarray(y, jnp.float32), reg=reg, solver=M.CoordinateAscent())
    np.testing.assert_allclose(got, _hamming_hinge(reg, u, y), rtol=1e-4)


@pytest.mark.parametrize("entry", ["gfy_loss", "perceptron_loss", "hinge_loss"])
def test_a_traced_nan_score_gives_nan_with_box_indicator(entry):
    """Fixed: with BoxIndicator's closed form a traced NaN score was dropped (0·NaN = 0
    in ``_times`` where ŷ_i = y_i), giving a finite loss."""
    y = jnp.array([0.0, 1.0])
    calls = {"gfy_loss": lambda t: L.gfy_loss(E.bilinear, R.BoxIndicator(), t, y),
             "perceptron_loss": lambda t: L.perceptron_loss(E.bilinear, t, y),
             "hinge_loss": lambda t: L.hinge_loss(E.bilinear, t, y)}
    assert np.isnan(jax.jit(calls[entry])(jnp.array([jnp.nan, 1.0])))


def test_bce_gradient_at_zero_scores_is_sigmoid_minus_y():
    """Fixed: the relu/log1p form of the closed-form BCE had gradient −1/2 at θ_i = 0
    exactly, whatever y_i, instead of σ(0) − y_i."""
    y = jnp.array([0.0, 0.3, 1.0])
    grad = jax.grad(lambda t: L.gfy_loss(E.bilinear, R.BinaryEntropy(), t, y))(jnp.zeros(3))
    np.testing.assert_allclose(grad, 0.5 - y, atol=1e-6)


@pytest.mark.parametrize("traced", [False, True], ids=["eager", "jit"])
@pytest.mark.parametrize("dtype", HALF)
@pytest.mark.parametrize("name", ["SquaredSimplex", "ShannonSimplex"])
def test_half_precision_simplex_targets_are_accepted(name, dtype, traced):
    """Fixed: a half-precision y on the simplex was checked with float32's tolerance
    after the cast (ValueError eagerly, NaN under jit) instead of its own dtype's."""
    reg, half = REGS[name], DTYPES[dtype]
    y = jnp.asarray([0.1, 0.2, 0.7], half)  # off the simplex by 1e-4..5e-4: half rounding
    assert abs(float(jnp.sum(y.astype(jnp.float32))) - 1) <= R.domain_tolerance(half)
    loss = lambda t, y_: L.gfy_loss(E.bilinear, reg, t, y_)
    got = (jax.jit(loss) if traced else loss)(jnp.zeros(3, half), y)
    want = ref.fy_loss(reg, np.zeros(3), _project(reg, np.asarray(y, np.float64)))
    np.testing.assert_allclose(np.float32(got), want, rtol=4 * _eps(dtype))

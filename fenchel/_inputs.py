"""How the public functions read their inputs: batch axes, dtypes, domains.

Every public loss, :func:`~fenchel.maximizers.maximize` and
:func:`~fenchel.maximizers.conjugate` follows the same rules:

* **One example per call, or a broadcast batch.** One example has ``y: (k,)``.
  For the built-in energies the per-example shapes of θ are known
  (:func:`~fenchel.energies.bilinear`: ``(k,)``; :func:`~fenchel.energies.pairwise`:
  ``u: (k,)``, ``U: (k, k)``; :func:`~fenchel.energies.low_rank_pairwise`:
  ``u: (k,)``, ``V: (k, r)``), so any leading axes of ``y``, ``init`` and the θ
  leaves are batch axes: they broadcast against each other and the result is
  exactly ``jax.vmap`` of the single-example call. A custom energy takes one
  example per call: a ``y`` with leading axes is refused (batch with ``jax.vmap``).
* **Half precision is computed in float32** and returned in the input dtype.
* **Domains.** A concrete ``y`` outside ``dom Ω`` by more than
  :func:`domain_tolerance` raises ``ValueError``; one within the tolerance is
  moved onto the domain before use (so its value is finite). A traced ``y``
  (inside ``jit``/``vmap``) cannot be checked by value: where it lies outside
  the domain the loss is NaN, never a plausible number.
"""

from __future__ import annotations

from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np

from fenchel import energies as _energies
from fenchel import regularizers as _regs

Array = jax.Array


def is_concrete(tree) -> bool:
    """Whether no leaf of ``tree`` is a tracer (its values are known)."""
    return not any(isinstance(leaf, jax.core.Tracer) for leaf in jax.tree.leaves(tree))


domain_tolerance = _regs.domain_tolerance


def check_theta(theta: Any, name: str = "theta") -> None:
    """Raise ``ValueError`` if a concrete θ (or another pytree, ``name``) holds NaN
    or infinite values.

    Skipped for traced values (inside ``jit``/``vmap``), where values are unknown.
    """
    if theta is None or not is_concrete(theta):
        return
    for path, leaf in jax.tree_util.tree_leaves_with_path(theta):
        array = np.asarray(leaf)
        if np.issubdtype(array.dtype, np.inexact) and not np.all(np.isfinite(array)):
            where = jax.tree_util.keystr(path)
            bad = array[~np.isfinite(array)].ravel()[0]
            raise ValueError(f"{name}{where} has non-finite values: expected finite "
                             f"numbers, got {bad} among its {array.size} values "
                             f"(shape {array.shape})")


def check_scalar_energy(energy, theta, y) -> None:
    """Raise ``ValueError`` unless a custom ``energy(theta, y)`` is one scalar."""
    if energy in _BUILT_IN:
        return
    shape = jax.eval_shape(energy, theta, y).shape
    if shape != ():
        name = getattr(energy, "__name__", type(energy).__name__)
        raise ValueError(f"energy {name!r} must return a scalar for one example "
                         f"(y of shape {tuple(jnp.shape(y))}), got shape {shape}; "
                         "batch with jax.vmap")


def check_output(reg: _regs.Regularizer, y: Array, name: str = "y",
                 atol: float | None = None) -> None:
    """Raise ``ValueError`` if a concrete ``y`` lies outside ``dom Ω`` by more than
    ``atol`` (default :func:`domain_tolerance` of y's dtype; pass the tolerance of the
    caller's dtype when y was cast up from half precision)."""
    if not is_concrete(y):
        return
    y = np.asarray(y)
    atol = domain_tolerance(y.dtype) if atol is None else atol
    # A concrete y closed over inside jit is still checked eagerly.
    with jax.ensure_compile_time_eval():
        inside = bool(reg.contains(jnp.asarray(y), atol=atol))
    if inside:
        return
    raise ValueError(f"{name} lies outside the domain of {type(reg).__name__}: "
                     f"{_describe_domain(reg, atol)}; got {_describe_violation(reg, y)}")


def _describe_domain(reg, atol):
    if reg.is_box:
        return f"expected finite values in [{reg.lower}, {reg.upper}] (±{atol:g})"
    if isinstance(reg, _regs._Simplex):
        return (f"expected finite entries ≥ 0 summing to 1 over the last axis "
                f"(±{atol:g})")
    return "expected finite values"


def _describe_violation(reg, y):
    y = np.asarray(y, np.float64)
    if not np.all(np.isfinite(y)):
        return f"a non-finite value {y[~np.isfinite(y)].ravel()[0]}"
    if reg.is_box:
        return f"values in [{y.min():.9g}, {y.max():.9g}]"
    if isinstance(reg, _regs._Simplex):
        sums = y.sum(axis=-1)
        return (f"smallest entry {y.min():.9g}, sums over the last axis in "
                f"[{np.min(sums):.9g}, {np.max(sums):.9g}]")
    return "values outside the domain"


def onto_domain(reg: _regs.Regularizer, y: Array,
                atol: float | None = None) -> tuple[Array, Array]:
    """``(y_inside, inside)``: ``y`` moved onto ``dom Ω`` where it lies (slightly)
    outside, unchanged with its identity derivative where it lies inside; and, per
    example (``(...)``), whether it was within ``atol`` (default
    :func:`domain_tolerance` of y's dtype)."""
    atol = domain_tolerance(y.dtype) if atol is None else atol
    if reg.is_box:
        inside = jnp.all((y >= reg.lower - atol) & (y <= reg.upper + atol), axis=-1)
        # where, not clip: clip's derivative is ½ at the bounds, where binary targets sit.
        return jnp.where(y < reg.lower, reg.lower, jnp.where(y > reg.upper, reg.upper, y)), inside
    if isinstance(reg, _regs._Simplex):
        # Negatives within the tolerance are set to 0 (no renormalisation: a sum off by
        # at most the tolerance moves the loss by as little).
        inside = (jnp.all((y >= -atol) & (y <= 1 + atol), axis=-1)
                  & (jnp.abs(jnp.sum(y, axis=-1) - 1) <= atol))
        return jnp.where(y < 0, 0, y), inside
    return y, reg.contains_each(y)


def nan_outside(inside: Array, value: Array) -> Array:
    """``value`` where ``inside`` (from :func:`onto_domain`), NaN elsewhere: the guard
    for traced targets, whose values cannot be checked eagerly."""
    return jnp.where(inside, value, jnp.nan)


# --------------------------------------------------------------------------- dtypes


def compute_dtype(*trees) -> tuple[Any, Any]:
    """``(compute, result)`` dtypes: ``result`` is the promoted floating dtype of
    the inputs' floating leaves, ``compute`` is it, or float32 for half precision."""
    leaves = [leaf for tree in trees for leaf in jax.tree.leaves(tree)
              if jnp.issubdtype(jnp.result_type(leaf), jnp.floating)]
    result = jnp.result_type(*leaves) if leaves else jnp.result_type(float)
    compute = jnp.float32 if jnp.finfo(result).bits < 32 else result
    return compute, result


def cast_floating(tree, dtype):
    """Cast the floating leaves of ``tree`` to ``dtype`` (integer leaves kept)."""
    def cast(leaf):
        leaf = jnp.asarray(leaf)
        return leaf.astype(dtype) if jnp.issubdtype(leaf.dtype, jnp.floating) else leaf
    return jax.tree.map(cast, tree)


def as_output(y: Any, dtype, name: str = "y") -> Array | None:
    """``y`` as a floating array of ``dtype`` (integer and boolean targets are
    converted); ``None`` passes through."""
    if y is None:
        return None
    array = jnp.asarray(y)
    if not (jnp.issubdtype(array.dtype, jnp.number) or array.dtype == jnp.bool_):
        raise TypeError(f"{name} must be a numeric array, got dtype {array.dtype}")
    if jnp.issubdtype(array.dtype, jnp.complexfloating):
        raise TypeError(f"{name} must be real, got dtype {array.dtype}")
    return array.astype(dtype)


# --------------------------------------------------------------------------- batch axes

# The energies whose per-example θ shapes are known: (u, second leaf) for the pairs.
_BUILT_IN = (_energies.bilinear, _energies.pairwise, _energies.low_rank_pairwise)
_PAIRS = {
    _energies.pairwise: ("pairwise", "theta=(u, U) with u: (k,) and U: (k, k)",
                         "((k,), (k, k))"),
    _energies.low_rank_pairwise: ("low_rank_pairwise", "theta=(u, V) with u: (k,) and "
                                  "V: (k, r)", "((k,), (k, r))"),
}


def _example_ndims(energy, theta):
    """Per-example ndim of each θ leaf for the built-in energies, else None."""
    if energy is _energies.bilinear:
        return 1
    if energy in _PAIRS:
        name, takes, _ = _PAIRS[energy]
        if not (isinstance(theta, (tuple, list)) and len(theta) == 2):
            raise TypeError(f"the {name} energy takes {takes}; got {type(theta).__name__}")
        return (1, 2)
    return None


def _shape_text(theta) -> str:
    return str(jax.tree.map(lambda leaf: tuple(jnp.shape(leaf)), theta))


def batch_shape(energy, theta, outputs: dict[str, Array | None],
                extra: dict[str, tuple[Array, int]] | None = None) -> tuple[int, ...]:
    """The broadcast batch shape of one call, or ``()`` for a single example.

    Args:
      energy: Φ.
      theta: θ as given.
      outputs: output-shaped arrays (``y``, ``init``), ``(k,)`` per example.
      extra: other per-example arrays, ``name -> (array, example ndim)``.

    Raises:
      ValueError: shapes that do not broadcast, example shapes that disagree, or
        leading axes given to a custom energy.
    """
    extra = extra or {}
    present = {name: a for name, a in outputs.items() if a is not None}
    for name, array in present.items():
        if jnp.ndim(array) == 0:
            raise ValueError(f"{name} must have shape (k,) (or (..., k) for a batch), "
                             "got a scalar")
    ndims = _example_ndims(energy, theta)
    if ndims is None:
        for name, array in present.items():
            if jnp.ndim(array) != 1:
                ename = getattr(energy, "__name__", type(energy).__name__)
                raise ValueError(
                    f"{name} has shape {tuple(jnp.shape(array))}; a custom energy "
                    f"({ename!r}) takes one example per call, {name} of shape (k,): "
                    "batch with jax.vmap")
        for name, (array, nd) in extra.items():
            if jnp.ndim(array) != nd:
                ename = getattr(energy, "__name__", type(energy).__name__)
                raise ValueError(
                    f"{name} has shape {tuple(jnp.shape(array))}; a custom energy "
                    f"({ename!r}) takes one example per call, {name} with {nd} axes: "
                    "batch with jax.vmap")
        return ()
    theta_leaves = jax.tree.leaves(theta) if energy is _energies.bilinear else list(theta)
    example_ndims = [ndims] if energy is _energies.bilinear else list(ndims)
    expected = "(k,)" if energy is _energies.bilinear else _PAIRS[energy][2]
    batches, k_values = [], []
    for leaf, nd in zip(theta_leaves, example_ndims):
        shape = tuple(jnp.shape(leaf))
        if len(shape) < nd:
            raise ValueError(f"theta has shapes {_shape_text(theta)}; expected {expected}"
                             " per example, with optional leading batch axes")
        batches.append(shape[:len(shape) - nd])
        example = shape[len(shape) - nd:]
        # V: (k, r) of the low-rank energy: only its first axis is k.
        k_values.extend(example[:1] if energy is _energies.low_rank_pairwise else example)
    for name, array in present.items():
        batches.append(tuple(jnp.shape(array))[:-1])
        k_values.append(jnp.shape(array)[-1])
    for name, (array, nd) in extra.items():
        shape = tuple(jnp.shape(array))
        batches.append(shape[:len(shape) - nd])
    if len(set(k_values)) > 1:
        k = k_values[0]
        for name, array in present.items():
            if jnp.shape(array)[-1] != k:
                raise ValueError(f"{name} has shape {tuple(jnp.shape(array))}, expected "
                                 f"({k},) (or (..., {k}) for a batch) for theta of shapes "
                                 f"{_shape_text(theta)}")
        why = ("their axes of length k differ: expected u: (..., k), V: (..., k, r) and "
               "outputs (..., k)" if energy is _energies.low_rank_pairwise
               else "their last axes (k) differ")
        raise ValueError(_mismatch(theta, present, extra, why))
    try:
        return tuple(np.broadcast_shapes(*batches))
    except ValueError:
        raise ValueError(_mismatch(theta, present, extra, "their batch axes do not "
                                   "broadcast; batch with jax.vmap")) from None


def _mismatch(theta, outputs, extra, why):
    parts = [f"theta {_shape_text(theta)}"]
    parts += [f"{name} {tuple(jnp.shape(a))}" for name, a in outputs.items()]
    parts += [f"{name} {tuple(jnp.shape(a))}" for name, (a, _) in extra.items()]
    return f"shapes {', '.join(parts)} do not fit: {why}"


def map_examples(fn: Callable, energy, batch: tuple[int, ...], theta, outputs: dict,
                 extra: dict | None = None):
    """``fn(theta, **outputs, **extra)`` per example over the batch shape ``batch``
    (from :func:`batch_shape`): nested ``jax.vmap``, with the arguments that have no
    batch axes shared (``in_axes=None``). ``extra`` maps names to
    ``(array, example ndim)``."""
    extra = extra or {}
    if not batch:
        return fn(theta, **outputs, **{name: a for name, (a, _) in extra.items()})

    def spread(array, nd):
        if array is None:
            return None, None
        shape = tuple(jnp.shape(array))
        if len(shape) == nd:
            return array, None
        return jnp.broadcast_to(array, batch + shape[len(shape) - nd:]), 0

    if energy is _energies.bilinear:
        theta_args, theta_axes = spread(theta, 1)
    else:
        (u, u_axis), (interactions, i_axis) = spread(theta[0], 1), spread(theta[1], 2)
        theta_args, theta_axes = (u, interactions), (u_axis, i_axis)
    named = {name: spread(a, 1) for name, a in outputs.items()}
    named.update({name: spread(a, nd) for name, (a, nd) in extra.items()})
    args = {name: pair[0] for name, pair in named.items()}
    axes = {name: pair[1] for name, pair in named.items()}

    mapped = lambda theta_, args_: fn(theta_, **args_)
    for _ in batch:
        mapped = jax.vmap(mapped, in_axes=(theta_axes, axes))
    return mapped(theta_args, args)

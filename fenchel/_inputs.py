"""How the public functions read their inputs: batch axes, dtypes, domains.

Every public loss, :func:`~fenchel.maximizers.maximize` and
:func:`~fenchel.maximizers.conjugate` follows the same rules:

* **One example per call, or a broadcast batch.** One example has ``y: (k,)``.
  An energy whose :meth:`~fenchel.energies.Energy.batching` states the
  per-example shapes of θ (the built-ins: :data:`~fenchel.energies.bilinear`:
  ``(k,)``; :data:`~fenchel.energies.pairwise`: ``u: (k,)``, ``U: (k, k)``;
  :data:`~fenchel.energies.low_rank_pairwise`: ``u: (k,)``, ``V: (k, r)``) takes
  any leading axes of ``y``, ``init`` and the θ leaves as batch axes: they
  broadcast against each other and the result is exactly ``jax.vmap`` of the
  single-example call. Any other energy takes one example per call: a ``y`` with
  leading axes is refused (batch with ``jax.vmap``).
* **Half precision is computed in float32** and returned in the input dtype.
* **Domains.** A concrete ``y`` outside ``dom Ω`` by more than
  :func:`domain_tolerance` raises ``ValueError`` (worded by the domain's
  ``describe``); one within the tolerance is moved onto the domain before use
  (the domain's ``snap``, so its value is finite). A traced ``y``
  (inside ``jit``/``vmap``) cannot be checked by value: where it lies outside
  the domain the loss is NaN, never a plausible number.
"""

from __future__ import annotations

from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np

from fenchel import domains as _domains
from fenchel import energies as _energies
from fenchel import regularizers as _regs

Array = jax.Array


def is_concrete(tree) -> bool:
    """Whether no leaf of ``tree`` is a tracer (its values are known)."""
    return not any(isinstance(leaf, jax.core.Tracer) for leaf in jax.tree.leaves(tree))


domain_tolerance = _domains.domain_tolerance


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
    """Raise ``ValueError`` unless a custom ``energy(theta, y)`` is one scalar
    (energies that state their batching are trusted to be)."""
    energy = _energies.as_energy(energy)
    if energy.batching(theta) is not None:
        return
    shape = jax.eval_shape(energy, theta, y).shape
    if shape != ():
        name = energy.__name__
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
                     f"{reg.domain.describe(atol)}; got {reg.domain.describe_violation(y)}")


def onto_domain(reg: _regs.Regularizer, y: Array,
                atol: float | None = None) -> tuple[Array, Array]:
    """``(y_inside, inside)``: ``y`` moved onto ``dom Ω`` where it lies (slightly)
    outside, unchanged with its identity derivative where it lies inside; and, per
    example (``(...)``), whether it was within ``atol`` (default
    :func:`domain_tolerance` of y's dtype). The domain's ``snap``."""
    return reg.domain.snap(y, atol)


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

def _per_leaf(ndims, theta, fn, other=None):
    """``fn(leaf, nd, other_part)`` over θ's leaves, with ``ndims`` an int for a whole
    subtree or a tuple/list/dict matching θ's containers (a prefix of θ's
    structure), and ``other`` (e.g. the k axes) zipped along with ``ndims``;
    returns θ's structure."""
    if isinstance(ndims, int):
        return jax.tree.map(lambda leaf: fn(leaf, ndims, other), theta)
    if other is None:
        other = jax.tree.map(lambda _: None, ndims)
    if isinstance(ndims, dict):
        return {key: _per_leaf(ndims[key], theta[key], fn, other[key]) for key in ndims}
    return type(theta)(_per_leaf(nd, part, fn, extra)
                       for nd, part, extra in zip(ndims, theta, other))


def _batching(energy, theta):
    """The energy's :class:`~fenchel.energies.Batching` for θ, with θ's containers
    checked against it (``TypeError`` naming the expected θ), or ``None``."""
    batching = _energies.as_energy(energy).batching(theta)
    if batching is None:
        return None

    def fits(spec, tree):
        if isinstance(spec, int):
            return True
        if isinstance(spec, dict):
            return isinstance(tree, dict) and set(tree) == set(spec) and all(
                fits(spec[key], tree[key]) for key in spec)
        return (isinstance(tree, (tuple, list)) and len(tree) == len(spec)
                and all(fits(a, b) for a, b in zip(spec, tree)))

    if not fits(batching.ndims, theta):
        raise TypeError(f"the {_energies.as_energy(energy).__name__} energy takes theta with "
                        f"per-example shapes {batching.expected}; got {type(theta).__name__} "
                        f"of shapes {_shape_text(theta)}")
    return batching


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
    batching = _batching(energy, theta)
    if batching is None:
        ename = _energies.as_energy(energy).__name__
        for name, array in present.items():
            if jnp.ndim(array) != 1:
                raise ValueError(
                    f"{name} has shape {tuple(jnp.shape(array))}; a custom energy "
                    f"({ename!r}) takes one example per call, {name} of shape (k,): "
                    "batch with jax.vmap")
        for name, (array, nd) in extra.items():
            if jnp.ndim(array) != nd:
                raise ValueError(
                    f"{name} has shape {tuple(jnp.shape(array))}; a custom energy "
                    f"({ename!r}) takes one example per call, {name} with {nd} axes: "
                    "batch with jax.vmap")
        return ()
    expected = batching.expected
    leaves = []
    _per_leaf(batching.ndims, theta, lambda leaf, nd, axes: leaves.append((leaf, nd, axes)),
              batching.k_axes)
    batches, k_values = [], []
    for leaf, nd, axes in leaves:
        shape = tuple(jnp.shape(leaf))
        if len(shape) < nd:
            raise ValueError(f"theta has shapes {_shape_text(theta)}; expected {expected}"
                             " per example, with optional leading batch axes")
        batches.append(shape[:len(shape) - nd])
        example = shape[len(shape) - nd:]
        k_values.extend(example[axis] for axis in axes)
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
        why = (f"their axes of length k differ: expected {expected} per example and "
               "outputs (..., k)")
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

    ndims = _batching(energy, theta).ndims
    theta_args = _per_leaf(ndims, theta, lambda leaf, nd, _: spread(leaf, nd)[0])
    theta_axes = _per_leaf(ndims, theta, lambda leaf, nd, _: spread(leaf, nd)[1])
    named = {name: spread(a, 1) for name, a in outputs.items()}
    named.update({name: spread(a, nd) for name, (a, nd) in extra.items()})
    args = {name: pair[0] for name, pair in named.items()}
    axes = {name: pair[1] for name, pair in named.items()}

    mapped = lambda theta_, args_: fn(theta_, **args_)
    for _ in batch:
        mapped = jax.vmap(mapped, in_axes=(theta_axes, axes))
    return mapped(theta_args, args)

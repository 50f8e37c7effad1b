"""Frozen dataclasses as pytrees: numbers are leaves, the rest is static structure.

Regularizers and solvers are registered here, so that they can be passed to
``jax.jit`` as ordinary arguments (a new λ or tolerance is a new value, not a new
compilation) and differentiated with respect to their numbers (``jax.grad`` of a
loss with respect to ``reg.scale``).
"""

from __future__ import annotations

import dataclasses

import jax
import numpy as np


def is_traced(value) -> bool:
    """Whether ``value`` is a tracer (a number whose value is unknown)."""
    return isinstance(value, jax.core.Tracer)


def register(cls: type) -> type:
    """Register the frozen dataclass ``cls`` as a pytree.

    The fields named in ``cls._leaf_fields`` are children (numbers, or nested
    pytrees such as a wrapped solver), and so is every field that holds an array (a
    user's subclass with an array of weights needs no declaration); every other
    field is static auxiliary data and must be hashable. Unflattening bypasses ``__init__``, so validation in
    ``__post_init__`` never sees tracers or JAX's placeholder objects.
    """

    def field_names(obj):
        return [f.name for f in dataclasses.fields(obj)]

    def leaf_names(obj):
        names = field_names(obj)
        declared = tuple(name for name in obj._leaf_fields if name in names)
        arrays = tuple(name for name in names if name not in declared
                       and isinstance(getattr(obj, name), (jax.Array, np.ndarray)))
        return declared + arrays

    def flatten_with_keys(obj):
        leaves = leaf_names(obj)
        children = [(jax.tree_util.GetAttrKey(name), getattr(obj, name)) for name in leaves]
        static = tuple((name, getattr(obj, name)) for name in field_names(obj)
                       if name not in leaves)
        return children, (leaves, static)

    def flatten(obj):
        children, aux = flatten_with_keys(obj)
        return [child for _, child in children], aux

    def unflatten(aux, children):
        leaves, static = aux
        obj = object.__new__(cls)
        for name, value in zip(leaves, children):
            object.__setattr__(obj, name, value)
        for name, value in static:
            object.__setattr__(obj, name, value)
        return obj

    jax.tree_util.register_pytree_with_keys(cls, flatten_with_keys, unflatten, flatten)
    return cls

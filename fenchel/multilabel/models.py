"""Energy networks for multi-label classification (flax nnx).

A network maps an input ``x`` to unaries ``u(x) = g_W(x) ∈ R^k`` with a linear or
MLP feature map (``depth`` hidden ReLU layers of width ``hidden``, dropout in training),
and scores a (relaxed) label vector ``y ∈ [0, 1]^k`` with one of three energies:

* ``"unary"``:    Φ(θ, y) = <u(x), y>                      (θ = u(x), bilinear)
* ``"pairwise"``: Φ(θ, y) = <u(x), y> + ½ yᵀ U y           (θ = (u(x), U))
  with ``U`` learned and shared across examples; ``concave=True`` keeps
  ``U = −V Vᵀ ⪯ 0`` so that the inner problem is concave (``V: (k, r)``
  starts at N(0, 1/r), i.e. ``diag U ≈ −1``; a free ``U`` starts at N(0, 0.01²)).
  With a rank ``r < k`` the energy is :func:`fenchel.energies.low_rank_pairwise`
  with θ = (u(x), V): the solvers work with V in ``O(kr)`` per iteration and the
  ``k × k`` U is never formed (``r ≥ k``: the dense pairwise energy with U);
* ``"global"``:   Φ(θ, y) = <u(x), y> + c₂ᵀ softplus(C₁ y)   (SPEN's global
  energy, non-concave in y), θ = ((C₁, c₂), u(x)).

:func:`energy_spec` turns a model and a batch of inputs into the energy
callable, the batched θ and the ``jax.vmap`` axes of θ (shared parameters such
as ``U`` are not copied per example). A network built with ``log_partition=True``
also outputs a learned log-partition ``τ(x)`` (a scalar head on the feature map's
last representation), which the min-min loss of
:mod:`fenchel.log_partition` trains jointly with the energy.

References:
  Belanger, McCallum. Structured Prediction Energy Networks. ICML 2016.
  Blondel et al. Learning Energy Networks with Generalized Fenchel-Young
  Losses. NeurIPS 2022.
  Sander, Roulet, Liu, Blondel. Joint Learning of Energy-based Models and their
  Partition Function. ICML 2025 (arXiv:2501.18528).
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
from flax import nnx

from fenchel import energies as fy_energies

Array = jax.Array

ENERGIES = ("unary", "pairwise", "global")


class EnergySpec(NamedTuple):
    """The energy of a batch: ``energy(theta_i, y_i)`` for each example ``i``.

    Attributes:
      energy: ``Φ(θ, y) -> scalar`` for one example.
      theta: batched θ pytree.
      axes: ``jax.vmap`` ``in_axes`` for ``theta`` (0: per example, None: shared).
      n_labels: k, the length of y.
      log_partition: ``(n,)`` the learned log-partition ``τ(x)`` of each example
        (a network built with ``log_partition=True``), else None. Not changed by
        :meth:`scaled`: it belongs to the unscaled energy.
      scale: ``(θ, factor) -> θ'`` with ``Φ(θ', y) = factor · Φ(θ, y)``, for
        :meth:`scaled` (:func:`energy_spec` sets the one of each energy).
    """

    energy: Callable[[Any, Array], Array]
    theta: Any
    axes: Any
    n_labels: int
    log_partition: Array | None = None
    scale: Callable[[Any, Any], Any] | None = None

    def scaled(self, factor: Array | float) -> "EnergySpec":
        """The same energy multiplied by ``factor``: ``factor · Φ(θ, y)``.

        All the energies are linear in the unaries, the interactions and the
        global MLP's output weights, so this rescales those leaves of θ (not
        the global MLP's first layer) and keeps the energy's identity (the
        solvers' closed forms still apply). The low-rank pairwise energy is
        quadratic in its factor V (``U = −VVᵀ``): V is scaled by ``√factor``
        (``factor > 0``). Used for the temperature:
        ``argmax Φ − λΩ = argmax Φ/λ − Ω``.
        """
        if self.scale is None:
            raise ValueError(f"this EnergySpec of {self.energy.__name__} has no scale: "
                             "build it with scale=(θ, factor) -> θ' (see energy_spec)")
        theta = self.scale(self.theta, factor)
        return self._replace(theta=theta)


class FeatureMap(nnx.Module):
    """Unaries ``u(x) = W x + b`` (``hidden=0``) or an MLP with ``depth`` hidden ReLU
    layers of width ``hidden``: ``W_out h_L + b_out``, ``h_1 = relu(W₁ x + b₁)``,
    ``h_{l+1} = relu(W_{l+1} h_l + b_{l+1})``.

    Dropout (rate ``dropout``, inverted: kept entries scaled by ``1/(1 − rate)``)
    acts on the input of every layer but the first hidden one, i.e. on every hidden
    activation ``h_l``; for a linear map (``hidden=0``), on the input features. It is
    applied only when a ``key`` is given (training); without one the map is
    deterministic (prediction). ``dropout=0`` and ``depth=1`` build exactly the
    network (same parameters, same initialization) of the one-hidden-layer map.

    Args:
      n_features: d.
      n_labels: k.
      hidden: width of the hidden layers; 0 for a linear map.
      depth: number of hidden layers when ``hidden > 0`` (ignored for a linear map).
      dropout: dropout rate in [0, 1).
      rngs: ``nnx.Rngs``.

    Example:
      >>> import jax, jax.numpy as jnp
      >>> from flax import nnx
      >>> from fenchel.multilabel.models import FeatureMap
      >>> fmap = FeatureMap(3, 2, hidden=4, depth=2, dropout=0.5, rngs=nnx.Rngs(0))
      >>> fmap(jnp.ones((5, 3))).shape
      (5, 2)
      >>> bool(jnp.all(fmap(jnp.ones((5, 3))) == fmap(jnp.ones((5, 3)))))  # no key: no dropout
      True
    """

    def __init__(self, n_features: int, n_labels: int, hidden: int = 0, *, depth: int = 1,
                 dropout: float = 0.0, rngs: nnx.Rngs):
        _check_positive("n_features", n_features)
        _check_positive("n_labels", n_labels)
        if not isinstance(hidden, int) or isinstance(hidden, bool) or hidden < 0:
            raise ValueError(f"hidden must be an integer >= 0, got {hidden!r}")
        _check_positive("depth", depth)
        _check_dropout(dropout)
        # Created in this order (first hidden layer, deeper ones, output) so that
        # depth = 1 draws the same initial parameters as the one-hidden-layer map.
        self.hidden_layer = nnx.Linear(n_features, hidden, rngs=rngs) if hidden else None
        if hidden and depth > 1:
            self.deeper_layers = nnx.List([nnx.Linear(hidden, hidden, rngs=rngs)
                                           for _ in range(depth - 1)])
        else:
            self.deeper_layers = None
        self.output = nnx.Linear(hidden or n_features, n_labels, rngs=rngs)
        # Stateless (its key is passed at each call), so params hold no RNG state.
        self.dropout = nnx.Dropout(float(dropout)) if dropout > 0 else None

    @property
    def width(self) -> int:
        """The size of :meth:`representation` (``hidden``, or d for a linear map)."""
        return self.output.in_features

    def _drop(self, x: Array, key: Array | None, index: int) -> Array:
        dropout = getattr(self, "dropout", None)  # None in models pickled before dropout
        if dropout is None or key is None:
            return x
        return dropout(x, deterministic=False, rngs=jax.random.fold_in(key, index))

    def representation(self, x: Array, key: Array | None = None) -> Array:
        """The input of the output layer: the last hidden activation (after dropout),
        or ``x`` itself (after dropout) for a linear map.

        Args:
          x: ``(n, d)`` or ``(d,)`` inputs.
          key: PRNG key of the dropout masks (training), or None (no dropout).
        """
        if self.hidden_layer is None:
            return self._drop(x, key, 0)
        x = jax.nn.relu(self.hidden_layer(x))
        deeper = getattr(self, "deeper_layers", None) or ()
        for index, layer in enumerate(deeper):
            x = jax.nn.relu(layer(self._drop(x, key, index)))
        return self._drop(x, key, len(deeper))

    def __call__(self, x: Array, key: Array | None = None) -> Array:
        return self.output(self.representation(x, key))


def _check_positive(name: str, value: Any) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")


def _check_dropout(value: Any) -> None:
    if (isinstance(value, bool) or not isinstance(value, (int, float))
            or not 0.0 <= value < 1.0):
        raise ValueError(f"dropout must be a number in [0, 1), got {value!r}")


def spen_global_energy(params: tuple[Array, Array], y: Array) -> Array:
    """SPEN's global energy, an MLP over the labels: ``c₂ᵀ softplus(C₁ y)``.

    Args:
      params: ``(C₁: (h, k), c₂: (h,))``.
      y: ``(k,)``.

    Returns:
      A scalar; neither concave nor convex in y in general.

    Example:
      >>> import jax.numpy as jnp
      >>> from fenchel.multilabel.models import spen_global_energy
      >>> spen_global_energy((jnp.ones((2, 3)), jnp.ones(2)), jnp.zeros(3)).item()  # 2 log 2
      1.386...
    """
    first, second = params
    return jnp.vdot(second, jax.nn.softplus(first @ y))


class GlobalEnergy(fy_energies.Energy):
    """Unary plus SPEN global energy: ``Φ(θ, y) = <u, y> + c₂ᵀ softplus(C₁ y)``
    (:data:`global_energy` is its instance), an energy of the protocol
    (:class:`fenchel.energies.Energy`, the autodiff defaults) that knows where its
    linear term is (:meth:`add_linear`).

    ``global_energy(theta, y)``: ``theta = ((C₁, c₂), u)`` with ``u: (k,)``, ``y: (k,)``;
    returns a scalar.

    Example:
      >>> import jax.numpy as jnp
      >>> from fenchel.multilabel.models import global_energy
      >>> theta = ((jnp.ones((2, 3)), jnp.ones(2)), jnp.ones(3))
      >>> round(float(global_energy(theta, jnp.zeros(3))), 6)  # 2 log 2
      1.386294
      >>> shifted = global_energy.add_linear(theta, jnp.ones(3))
      >>> round(float(global_energy(shifted, jnp.ones(3)) - global_energy(theta, jnp.ones(3))), 4)
      3.0
    """

    def __call__(self, theta: tuple[tuple[Array, Array], Array], y: Array) -> Array:
        mlp, unaries = theta
        return jnp.vdot(unaries, y) + spen_global_energy(mlp, y)

    def add_linear(self, theta, c):
        mlp, unaries = theta
        return (mlp, unaries + c)


global_energy = GlobalEnergy()
"""The unary plus SPEN global energy (:class:`GlobalEnergy`)."""


# θ -> θ' with Φ(θ', y) = factor · Φ(θ, y), for EnergySpec.scaled. Every energy here is
# linear in its unaries, interactions and the global MLP's output weights; the low-rank
# pairwise energy is quadratic in its factor V (U = −VVᵀ), scaled by √factor.
def _scale_linear(theta, factor):
    return jax.tree.map(lambda leaf: leaf * factor, theta)


def _scale_low_rank(theta, factor):
    return (theta[0] * factor, theta[1] * jnp.sqrt(factor))


def _scale_global(theta, factor):
    (first, second), unaries = theta
    return ((first, second * factor), unaries * factor)


class EnergyNetwork(nnx.Module):
    """A multi-label energy network: feature map plus unary, pairwise or global energy.

    Args:
      n_features: d.
      n_labels: k.
      energy: ``"unary"``, ``"pairwise"`` or ``"global"``.
      hidden: hidden width of the feature map (0: linear).
      concave: pairwise only: parametrize ``U = −V Vᵀ`` (concave in y) instead
        of a free symmetric ``U``.
      rank: pairwise + concave: number of columns r of ``V: (k, r)`` (default k).
        With ``r < k`` the model's energy is
        :func:`fenchel.energies.low_rank_pairwise` with θ = (u(x), V), ``O(kr)``
        per solver iteration; with ``r ≥ k`` it is the dense pairwise energy.
      global_hidden: width h of the SPEN global MLP.
      depth: number of hidden layers of the feature map (when ``hidden > 0``).
      dropout: dropout rate of the feature map in training (see :class:`FeatureMap`).
      log_partition: also learn a log-partition
        ``τ(x) = <w_τ, r(x)> + b_τ + Σ_i softplus(u_i(x)) − k log 2``: a scalar head on
        the feature map's representation ``r(x)`` (its last hidden activation, or x for
        a linear map) plus the exact log-partition ``log E_q[e^{<u, y>}]`` of the
        unaries under the uniform prior q, for the min-min loss (the head learns what
        the rest of the energy adds); it is created after every other parameter, so
        the others are initialized as without it.
      rngs: ``nnx.Rngs``.

    Example:
      >>> import jax.numpy as jnp
      >>> from flax import nnx
      >>> from fenchel.multilabel.models import EnergyNetwork, energy_spec
      >>> net = EnergyNetwork(4, 3, energy="pairwise", rngs=nnx.Rngs(0))
      >>> spec = energy_spec(net, jnp.ones((2, 4)))
      >>> spec.theta[0].shape, spec.theta[1].shape
      ((2, 3), (3, 3))
    """

    def __init__(self, n_features: int, n_labels: int, energy: str = "pairwise", *,
                 hidden: int = 0, concave: bool = True, rank: int | None = None,
                 global_hidden: int = 16, depth: int = 1, dropout: float = 0.0,
                 log_partition: bool = False, rngs: nnx.Rngs):
        if energy not in ENERGIES:
            raise ValueError(f"energy must be one of {ENERGIES}, got {energy!r}")
        self.energy = energy
        self.concave = bool(concave)
        self.features = FeatureMap(n_features, n_labels, hidden, depth=depth, dropout=dropout,
                                   rngs=rngs)
        if energy == "pairwise":
            rank = n_labels if rank is None else rank
            _check_positive("rank", rank)
            if concave:
                # V ~ N(0, 1/r): diag(U) = −‖v_i‖² ≈ −1. The gradient w.r.t. V is
                # proportional to V, so a small V would barely move (and U stay ≈ 0).
                init, shape = nnx.initializers.normal(rank ** -0.5), (n_labels, rank)
            else:
                # A free U starts near the unary model (its inner problem is not concave).
                init, shape = nnx.initializers.normal(0.01), (n_labels, n_labels)
            self.interaction_weights = nnx.Param(init(rngs.params(), shape))
        if energy == "global":
            _check_positive("global_hidden", global_hidden)
            self.global_first = nnx.Param(
                nnx.initializers.lecun_normal()(rngs.params(), (global_hidden, n_labels)))
            self.global_second = nnx.Param(
                nnx.initializers.normal(0.01)(rngs.params(), (global_hidden,)))
        # Last, so that the other parameters draw the same keys with or without it.
        self.log_partition_head = (nnx.Linear(self.features.width, 1, rngs=rngs)
                                   if log_partition else None)

    def unaries(self, x: Array) -> Array:
        """``u(x)``: ``(n, d) -> (n, k)`` (or ``(d,) -> (k,)``)."""
        return self.features(x)

    @property
    def low_rank(self) -> bool:
        """Whether the energy is :func:`fenchel.energies.low_rank_pairwise` (concave
        pairwise with ``V: (k, r)``, ``r < k``)."""
        if self.energy != "pairwise" or not self.concave:
            return False
        rows, rank = self.interaction_weights[...].shape
        return rank < rows

    def interactions(self) -> Array:
        """The pairwise interaction matrix ``U: (k, k)`` (pairwise energy only)."""
        if self.energy != "pairwise":
            raise ValueError(f"the {self.energy!r} energy has no interaction matrix")
        weights = self.interaction_weights[...]
        if self.concave:
            return fy_energies.negative_semidefinite(weights)
        return 0.5 * (weights + weights.T)

    def __call__(self, x: Array, key: Array | None = None) -> EnergySpec:
        return energy_spec(self, x, key)


def energy_spec(model: EnergyNetwork, x: Array, key: Array | None = None) -> EnergySpec:
    """The energy, batched θ and vmap axes of ``model`` on inputs ``x: (n, d)``.

    Args:
      model: an :class:`EnergyNetwork`.
      x: ``(n, d)`` inputs.
      key: PRNG key of the feature map's dropout masks (training), or None
        (deterministic: prediction, and any network without dropout).

    Returns:
      An :class:`EnergySpec`; map a per-example function ``f(energy, θ, y)``
      over the batch with ``jax.vmap(f, in_axes=(spec.axes, 0))``. Its
      ``log_partition`` is ``τ(x): (n,)`` for a network with a log-partition head.
    """
    features = model.features.representation(x, key)
    unaries = model.features.output(features)
    k = unaries.shape[-1]
    log_partition = None
    head = getattr(model, "log_partition_head", None)  # absent in models pickled before it
    if head is not None:
        # τ(x) = head + log E_q[e^{<u, y>}] (q uniform: Σ_i softplus(u_i) − k log 2), the
        # exact log-partition of the unaries: the head learns only what the rest of the
        # energy adds. τ is free in the min-min objective, so any parametrization is
        # valid; this one keeps τ in step with u, where a head alone lags behind the
        # O(k·|u|) growth of log Z and e^{Φ − τ} overflows (bibtex, cal500: a NaN loss in
        # the first epoch at k = 159, 174).
        unary_log_partition = (jnp.sum(jax.nn.softplus(unaries), axis=-1)
                               - k * jnp.log(2.0).astype(unaries.dtype))
        log_partition = head(features)[..., 0] + unary_log_partition
    if model.energy == "unary":
        return EnergySpec(fy_energies.bilinear, unaries, 0, k, log_partition, _scale_linear)
    if model.energy == "pairwise":
        if model.low_rank:  # θ = (u, V): U = −VVᵀ is never formed
            return EnergySpec(fy_energies.low_rank_pairwise,
                              (unaries, model.interaction_weights[...]), (0, None), k,
                              log_partition, _scale_low_rank)
        return EnergySpec(fy_energies.pairwise, (unaries, model.interactions()), (0, None), k,
                          log_partition, _scale_linear)
    mlp = (model.global_first[...], model.global_second[...])
    return EnergySpec(global_energy, (mlp, unaries), ((None, None), 0), k, log_partition,
                      _scale_global)


__all__ = [
    "ENERGIES",
    "EnergySpec",
    "FeatureMap",
    "EnergyNetwork",
    "energy_spec",
    "GlobalEnergy",
    "global_energy",
    "spen_global_energy",
]

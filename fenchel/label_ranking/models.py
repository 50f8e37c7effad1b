"""Label ranking models: a feature map into the scores of a ranking head.

A model is a feature map ``g_W: R^d → R^m`` (linear, or a one-hidden-layer MLP; plain
pytrees of arrays) followed by a **head**, which says what the ``m`` outputs mean, how
they are trained and how they are decoded into a ranking:

============================  =========================================================
head                          output θ, loss, decoding
============================  =========================================================
``perm-squared``              θ ∈ R^k; Fenchel-Young loss of ``SquaredPermutahedron``
                              (ŷ: the projection of θ onto the permutahedron); argsort θ
``perm-entropic``             same with ``EntropicPermutahedron`` (log-domain isotonic)
``birkhoff-squared``          Θ ∈ R^{k×k} (flattened); Fenchel-Young loss of
                              ``SquaredBirkhoff``, target the permutation matrix; by
                              ``scipy.optimize.linear_sum_assignment`` of Θ
``birkhoff-entropic``         same with ``EntropicBirkhoff`` (Sinkhorn)
``perm-pairwise``             pairwise energy ``<u, y> + ½ yᵀUy``, ``U = −VVᵀ`` learned,
                              on the permutahedron with the squared Ω: GFY loss (an
                              inner projected-gradient solve); argsort of ŷ
``minmin``                    θ ∈ R^k and τ: the min-min loss of Sander et al. 2025
                              (:mod:`fenchel.log_partition`) of the Gibbs model over
                              permutations, uniform proposals; argsort θ
``regression``                θ ∈ R^k regresses the centred rank positions (MSE);
                              argsort −θ
============================  =========================================================

On the permutahedron of ``w = (k, k−1, …, 1)`` a ranking ``r`` (``r_j`` the position of
label j, 1 = first) is the vertex ``y_j = k + 1 − r_j``: the first label gets the largest
entry. On the Birkhoff polytope it is the permutation matrix ``P_{j, r_j − 1} = 1``
(label j at position ``r_j``). Both encodings and the assignment decoding are
:mod:`fenchel.ranking`'s.

Heads are frozen dataclasses (hashable: the trainer's compiled step is reused across
folds); a new head is one class and one entry of :data:`HEADS`.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from fenchel import ranking
from fenchel.label_ranking.metrics import scores_to_ranks

Array = jax.Array
Params = dict[str, Any]


# --- the feature map -------------------------------------------------------------------

def init_feature_map(key: Array, n_features: int, n_outputs: int, hidden: int) -> Params:
    """Parameters of ``g_W``: linear when ``hidden == 0``, else one ReLU hidden layer.

    .. math:: g(x) = W_2\\,\\mathrm{relu}(W_1 x + b_1) + b_2
              \\quad\\text{or}\\quad g(x) = W x + b

    Weights are LeCun-normal, biases zero.

    Args:
      key: PRNG key.
      n_features: input size d.
      n_outputs: output size m.
      hidden: hidden width (0: linear).

    Returns:
      ``{"layers": [(W, b), ...]}`` with ``W: (in, out)``.

    Example:
      >>> import jax
      >>> from fenchel.label_ranking.models import init_feature_map
      >>> [w.shape for w, _ in init_feature_map(jax.random.key(0), 4, 3, 8)["layers"]]
      [(4, 8), (8, 3)]
    """
    sizes = [n_features] + ([hidden] if hidden else []) + [n_outputs]
    keys = jax.random.split(key, len(sizes) - 1)
    init = jax.nn.initializers.lecun_normal()
    return {"layers": [(init(k, (a, b), jnp.float32), jnp.zeros((b,), jnp.float32))
                       for k, a, b in zip(keys, sizes[:-1], sizes[1:])]}


def feature_map(params: Params, x: Array) -> Array:
    """``g_W(x)``: ``x: (..., d)`` → ``(..., m)``.

    Example:
      >>> import jax, jax.numpy as jnp
      >>> from fenchel.label_ranking.models import feature_map, init_feature_map
      >>> params = init_feature_map(jax.random.key(0), 4, 3, 0)
      >>> feature_map(params, jnp.ones((2, 4))).shape
      (2, 3)
    """
    layers = params["layers"]
    for w, b in layers[:-1]:
        x = jax.nn.relu(x @ w + b)
    w, b = layers[-1]
    return x @ w + b


# --- heads -----------------------------------------------------------------------------

def _regularizer(name: str):
    """A regularizer of :mod:`fenchel.regularizers` by name, built with its defaults."""
    import fenchel.regularizers as regularizers

    try:
        return getattr(regularizers, name)()
    except AttributeError:
        raise NotImplementedError(
            f"fenchel.regularizers.{name} is not available in this version of fenchel "
            "(issue 23, part 1)") from None


@dataclasses.dataclass(frozen=True)
class Head:
    """What the feature map's outputs mean: the base of every head.

    Subclasses define ``n_outputs(k)``, ``targets(ranks)`` (numpy, outside ``jit``),
    ``loss(outputs, extra, y, key) -> (b,)`` (per example, jittable), and may override
    ``init_extra`` (learned parameters besides the feature map), ``scores`` (jittable,
    from outputs to what :meth:`ranks` decodes) and ``ranks`` (numpy).
    """

    name = "head"

    def n_outputs(self, k: int) -> int:
        return k

    def init_extra(self, key: Array, k: int) -> Params:
        return {}

    def targets(self, ranks) -> np.ndarray:
        return np.asarray(ranking.permutahedron_vertex(np.asarray(ranks)))

    def loss(self, outputs: Array, extra: Params, y: Array, key: Array) -> Array:
        raise NotImplementedError

    def scores(self, outputs: Array, extra: Params) -> Array:
        return outputs

    def ranks(self, scores) -> np.ndarray:
        return scores_to_ranks(scores)


def _fenchel_young(reg, theta: Array, y: Array) -> Array:
    """The regularizer's Fenchel-Young loss per example (gradient ``ŷ − y`` in θ)."""
    return jax.vmap(reg.fenchel_young_loss)(theta, y)


@dataclasses.dataclass(frozen=True)
class PermutahedronHead(Head):
    """θ = g(x) ∈ R^k, ``L = Ω*(θ) + Ω(y) − <θ, y>`` on the permutahedron; argsort θ
    (ŷ = ∇Ω*(θ) keeps the order of θ, and argsort θ is the exact maximizer over
    permutations of <θ, y>)."""

    regularizer: str = "SquaredPermutahedron"

    @property
    def name(self) -> str:
        return "perm-" + ("entropic" if "Entropic" in self.regularizer else "squared")

    def loss(self, outputs, extra, y, key):
        return _fenchel_young(_regularizer(self.regularizer), outputs, y)


@dataclasses.dataclass(frozen=True)
class BirkhoffHead(Head):
    """Θ = g(x) ∈ R^{k×k} (flattened row-major, as the Birkhoff regularizers take it), the
    Fenchel-Young loss on the Birkhoff polytope with the permutation matrix as target;
    decoded by a linear assignment of Θ."""

    regularizer: str = "EntropicBirkhoff"

    @property
    def name(self) -> str:
        return "birkhoff-" + ("entropic" if "Entropic" in self.regularizer else "squared")

    def n_outputs(self, k):
        return k * k

    def targets(self, ranks):
        return np.asarray(ranking.permutation_matrix(np.asarray(ranks)))

    def loss(self, outputs, extra, y, key):
        return _fenchel_young(_regularizer(self.regularizer), outputs, y)

    def ranks(self, scores):
        return ranking.permutation_from_doubly_stochastic(scores)


@dataclasses.dataclass(frozen=True)
class PairwiseHead(Head):
    """Pairwise energy ``Φ((u, U), y) = <u, y> + ½ yᵀUy`` with u = g(x) and a learned
    ``U = −VVᵀ`` (``V: (k, rank)``, concave in y), on the permutahedron with the squared Ω;
    the GFY loss solves the inner problem with the library's default solver."""

    rank: int = 2
    name = "perm-pairwise"

    def init_extra(self, key, k):
        return {"V": 0.1 * jax.random.normal(key, (k, self.rank), jnp.float32)}

    def _theta(self, outputs, extra):
        from fenchel.energies import negative_semidefinite

        interactions = negative_semidefinite(extra["V"])
        return outputs, jnp.broadcast_to(interactions, outputs.shape[:-1] + interactions.shape)

    def loss(self, outputs, extra, y, key):
        from fenchel import energies
        from fenchel.losses import gfy_loss

        reg = _regularizer("SquaredPermutahedron")
        return jax.vmap(lambda theta, target: gfy_loss(energies.pairwise, reg, theta, target))(
            self._theta(outputs, extra), y)

    def scores(self, outputs, extra):
        from fenchel import energies
        from fenchel.maximizers import maximize

        reg = _regularizer("SquaredPermutahedron")
        return jax.vmap(lambda theta: maximize(energies.pairwise, reg, theta)[0])(
            self._theta(outputs, extra))


def uniform_permutation_samples(key: Array, num: int, k: int) -> tuple[Array, Array]:
    """``num`` uniform vertices of the permutahedron of ``(k, …, 1)`` and their
    log-probability ``−log k!`` (counting measure on the ``k!`` vertices).

    Example:
      >>> import jax
      >>> from fenchel.label_ranking.models import uniform_permutation_samples
      >>> samples, log_q = uniform_permutation_samples(jax.random.key(0), 2, 3)
      >>> sorted(samples[0].tolist()), round(float(log_q[0]), 4)  # log 3! = 1.7918
      ([1.0, 2.0, 3.0], -1.7918)
    """
    # The argsort of i.i.d. uniforms is a uniform permutation of 0..k−1.
    order = jnp.argsort(jax.random.uniform(key, (num, k)), axis=-1)
    return (order + 1).astype(jnp.float32), jnp.full((num,), -math.lgamma(k + 1), jnp.float32)


@dataclasses.dataclass(frozen=True)
class MinMinHead(Head):
    """Baseline of Sander et al. 2025: the Gibbs model ``p(σ) ∝ exp <θ, y_σ>`` over the
    permutahedron's vertices, trained by the min-min loss with a learned log-partition τ
    (the last output of g) and ``samples`` uniform permutations per step."""

    samples: int = 64
    name = "minmin"

    def n_outputs(self, k):
        return k + 1

    def loss(self, outputs, extra, y, key):
        from fenchel import energies
        from fenchel.log_partition import min_min_loss

        theta, log_partition = self._split(outputs)
        samples, log_q = uniform_permutation_samples(key, self.samples, theta.shape[-1])
        return min_min_loss(energies.bilinear, theta, log_partition, y, samples, log_q)

    def _split(self, outputs):
        # A constant added to θ shifts every <θ, y_σ> by the same amount (Σ y_σ is fixed):
        # it would only trade off against τ. Centring θ removes that direction, and the
        # offset log k! makes τ exact at θ = 0 (Z = k!); without them τ lags behind θ and
        # the loss diverges (a linear model on 4 labels: final loss 1e4, Kendall τ −0.13).
        theta = outputs[..., :-1]
        theta = theta - jnp.mean(theta, axis=-1, keepdims=True)
        return theta, outputs[..., -1] + math.lgamma(theta.shape[-1] + 1)

    def scores(self, outputs, extra):
        return self._split(outputs)[0]


@dataclasses.dataclass(frozen=True)
class RegressionHead(Head):
    """Baseline: θ regresses the centred rank positions ``r − (k + 1)/2`` (MSE); the
    ranking sorts θ ascending."""

    name = "regression"

    def targets(self, ranks):
        ranks = np.asarray(ranks)
        return (ranks - (ranks.shape[-1] + 1) / 2).astype(np.float32)

    def loss(self, outputs, extra, y, key):
        return 0.5 * jnp.sum(jnp.square(outputs - y), axis=-1)

    def scores(self, outputs, extra):
        return -outputs


HEADS: dict[str, Head] = {head.name: head for head in (
    PermutahedronHead("SquaredPermutahedron"),
    PermutahedronHead("EntropicPermutahedron"),
    BirkhoffHead("SquaredBirkhoff"),
    BirkhoffHead("EntropicBirkhoff"),
    PairwiseHead(),
    MinMinHead(),
    RegressionHead(),
)}
"""The trained heads by method name."""


__all__ = ["init_feature_map", "feature_map", "uniform_permutation_samples", "Head", "PermutahedronHead",
           "BirkhoffHead", "PairwiseHead", "MinMinHead", "RegressionHead", "HEADS"]

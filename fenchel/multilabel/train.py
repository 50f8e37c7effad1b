"""Training, hyperparameter search and evaluation of multi-label energy networks.

Protocol (the same for every method, so methods can be compared):

1. Split: ``fenchel.datasets.load_dataset(name, seed=seed)``: the official test
   split, and 20% of the training rows (drawn with ``seed``) for validation;
   features standardized with training statistics.
2. Training: AdamW on minibatches (``batch_size``, reshuffled every epoch with
   ``seed``), at most ``max_epochs`` epochs, early stopping when validation
   Hamming accuracy (rounding at 0.5) has not improved for ``patience``
   epochs; the parameters of the best validation epoch are kept.
3. Search: every configuration of a grid is trained as in 2; the one with the
   best validation Hamming accuracy wins (ties: the earlier in the grid).
4. Decoding: ŷ relaxed in [0, 1]^k is decoded by rounding at 0.5 (``round``)
   and by the threshold maximizing validation example-F1 (``tuned``); test
   metrics are reported for both.

Warm starts (amortized inference, ``Config.warm_start``): an example's inner
solution changes little from one epoch to the next, so :func:`fit` can keep
every training example's last ŷ in a store ``S: (n, k)`` and start its next
solve there. The store is carried through the jitted epoch: the step on the
minibatch of rows ``I`` (the epoch permutation's slice) reads ``S[I]`` as
``init`` and writes back ``S[I] ← ŷ``. Rows never visited keep the centre of
``dom Ω``, so the first visit is a cold start. For a concave inner problem the
loss and its gradient are those of a cold start up to the solver's tolerance;
only the iterations change. :attr:`TrainedModel.inner_iterations` reports the
mean iterations per solve of every epoch, with or without warm starts.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import math
import os
import time
from typing import Any, Iterable, NamedTuple, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P
from tqdm.auto import tqdm

from fenchel import maximizers as fy_max
from fenchel.infra._io import Refusal
from fenchel.multilabel import metrics as ml_metrics
from fenchel.multilabel.losses import (MINMIN_FIELDS, Method, batch_loss_and_solutions,
                                       predict_relaxed)
from fenchel.multilabel.models import EnergyNetwork, energy_spec
from fenchel.training import (DATA_AXIS, CheckpointError, Checkpointer, epoch_permutation,
                              lock_checkpoints, replicate, to_host)

Array = jax.Array


class MultilabelSplitLike(NamedTuple):
    """Any ``(x: (n, d), y: (n, k))`` pair, like a :class:`fenchel.datasets.MultilabelSplit`."""

    x: np.ndarray
    y: np.ndarray


@dataclasses.dataclass(frozen=True)
class Config:
    """Hyperparameters of one training run.

    Attributes:
      learning_rate: AdamW step size.
      weight_decay: AdamW decoupled weight decay.
      hidden: hidden width of the feature map (0: linear).
      reg_scale: λ of Ω (ignored by perceptron and hinge).
      batch_size: minibatch size (capped at the training set size).
      max_epochs: epoch budget.
      patience: early-stopping patience in epochs.
      warm_start: start each training example's inner solve at its solution of
        the previous epoch (see the module docstring). No effect on methods
        without an iterative solve, nor on unrolled (see
        :attr:`~fenchel.multilabel.losses.Method.warm_startable`). On by
        default: on yeast it cuts the inner iterations per solve by a third
        at equal losses and test metrics (``benchmarks/warm_start.py``).
      rank: the rank r of the concave pairwise interaction ``U = −VVᵀ``,
        ``V: (k, r)``; ``None`` (the default) for ``r = k``. With ``r < k`` the
        model uses :func:`fenchel.energies.low_rank_pairwise` (``O(kr)`` per inner
        iteration, U never formed); with ``r ≥ k`` the dense pairwise energy.
        Only the concave pairwise energy has one; other methods ignore it.
      dropout: dropout rate in [0, 1) of the feature map in training: on every hidden
        activation (the input of the next layer), or on the input features of a
        linear map (``hidden=0``); an epoch's step draws its masks from its key, and
        prediction (validation, test) uses no dropout. 0 (the default): none.
      depth: number of hidden layers of width ``hidden`` (≥ 1; ignored when
        ``hidden=0``). The defaults (``dropout=0``, ``depth=1``) build the network
        that runs made before these fields trained, with the same initialization.

    Example:
      >>> from fenchel.multilabel.train import Config
      >>> Config(hidden=128).hidden
      128
    """

    learning_rate: float = 1e-3
    weight_decay: float = 1e-4
    hidden: int = 0
    reg_scale: float = 1.0
    batch_size: int = 64
    max_epochs: int = 100
    patience: int = 10
    warm_start: bool = True
    rank: int | None = None
    dropout: float = 0.0
    depth: int = 1

    def __post_init__(self):
        for name in ("learning_rate", "reg_scale"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
        if not (isinstance(self.weight_decay, (int, float)) and self.weight_decay >= 0):
            raise ValueError(f"weight_decay must be a number >= 0, got {self.weight_decay!r}")
        for name in ("batch_size", "max_epochs", "patience"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if not isinstance(self.hidden, int) or self.hidden < 0:
            raise ValueError(f"hidden must be an integer >= 0, got {self.hidden!r}")
        if not isinstance(self.warm_start, bool):
            raise ValueError(f"warm_start must be a bool, got {self.warm_start!r}")
        if self.rank is not None and (isinstance(self.rank, bool) or not isinstance(self.rank, int)
                                      or self.rank < 1):
            raise ValueError(f"rank must be a positive integer or None (full rank), got "
                             f"{self.rank!r}")
        if (isinstance(self.dropout, bool) or not isinstance(self.dropout, (int, float))
                or not 0.0 <= self.dropout < 1.0):
            raise ValueError(f"dropout must be a number in [0, 1) (the rate of dropped "
                             f"hidden activations), got {self.dropout!r}")
        if isinstance(self.depth, bool) or not isinstance(self.depth, int) or self.depth < 1:
            raise ValueError(f"depth must be a positive integer (the number of hidden "
                             f"layers), got {self.depth!r}")


ADDED_CONFIG_FIELDS = {"warm_start": False, "rank": None, "dropout": 0.0, "depth": 1}
"""Config fields added after results and checkpoints were first recorded, with the
value those records were made with (a record without the field used it)."""


def with_added_fields(config: dict[str, Any]) -> dict[str, Any]:
    """A recorded configuration completed with :data:`ADDED_CONFIG_FIELDS`.

    Example:
      >>> from fenchel.multilabel.train import with_added_fields
      >>> with_added_fields({"hidden": 0})
      {'warm_start': False, 'rank': None, 'dropout': 0.0, 'depth': 1, 'hidden': 0}
    """
    return {**ADDED_CONFIG_FIELDS, **config}


def config_grid(**values: Sequence[Any]) -> list[Config]:
    """The Cartesian product of hyperparameter values, as :class:`Config` s.

    Args:
      **values: field name -> values to try; other fields keep their defaults.

    Example:
      >>> from fenchel.multilabel.train import config_grid
      >>> len(config_grid(hidden=[0, 128], weight_decay=[1e-4, 1e-2]))
      4
    """
    names = list(values)
    fields = {f.name for f in dataclasses.fields(Config)}
    for name in names:
        if name not in fields:
            raise ValueError(f"unknown hyperparameter {name!r}; expected one of {sorted(fields)}")
    return [Config(**dict(zip(names, combo)))
            for combo in itertools.product(*(values[n] for n in names))]


@dataclasses.dataclass
class TrainedModel:
    """A trained energy network and its training record.

    Attributes:
      method: the :class:`~fenchel.multilabel.losses.Method`.
      config: the :class:`Config` it was trained with.
      model: the ``EnergyNetwork`` (best validation epoch).
      best_epoch: epoch (1-based) of the best validation score.
      epochs: epochs run.
      best_validation: validation Hamming accuracy at ``best_epoch``.
      train_seconds: wall time of training (compilation included).
      history: per epoch ``(train_loss, validation_hamming_accuracy)``.
      finished: ``False`` only when ``max_epochs_this_run`` cut training short
        (``model`` is then the best so far; call :func:`fit` again to resume).
      resumed_from: epoch of the checkpoint training resumed from, or ``None``.
      inner_iterations: per epoch, the mean iterations of the inner solver per
        training example solve (0 for closed forms, K for unrolled).
      inner_iterations_max: per epoch, the mean over steps of the largest
        iteration count of the minibatch: what a vmapped solve costs, since it
        loops until its slowest example stops.
    """

    method: Method
    config: Config
    model: EnergyNetwork
    best_epoch: int
    epochs: int
    best_validation: float
    train_seconds: float
    history: list[tuple[float, float]]
    finished: bool = True
    resumed_from: int | None = None
    inner_iterations: list[float] = dataclasses.field(default_factory=list)
    inner_iterations_max: list[float] = dataclasses.field(default_factory=list)

    def predict_relaxed(self, x: np.ndarray) -> np.ndarray:
        """Relaxed predictions ``ŷ ∈ [0, 1]^{n×k}`` for inputs ``x: (n, d)``."""
        return predict_batches(self.method, self.model, x, self.config.reg_scale)


@functools.partial(jax.jit, static_argnums=(0, 1))
def _predict_jit(method: Method, graphdef, params, x, reg_scale):
    model = nnx.merge(graphdef, params)
    return predict_relaxed(method, energy_spec(model, x), reg_scale)


def predict_batches(method: Method, model: EnergyNetwork, x: np.ndarray,
                    reg_scale: float | None = None, batch_size: int = 256) -> np.ndarray:
    """Relaxed predictions of ``model`` for ``x: (n, d)``, in chunks of ``batch_size``.

    Every chunk is padded to ``batch_size`` rows, so one compilation serves
    every input size.

    Returns:
      ``(n, k)`` float32 numpy array in [0, 1].
    """
    graphdef, params = nnx.split(model)
    x = np.asarray(x, np.float32)
    scale = jnp.asarray(method.reg_scale if reg_scale is None else reg_scale, jnp.float32)
    chunks = []
    for i in range(0, len(x), batch_size):
        chunk = x[i:i + batch_size]
        padded = np.zeros((batch_size, x.shape[1]), np.float32)
        padded[:len(chunk)] = chunk
        out = _predict_jit(method, graphdef, params, jnp.asarray(padded), scale)
        chunks.append(np.asarray(out)[:len(chunk)])
    if not chunks:
        return np.zeros((0, model.features.output.out_features), np.float32)
    return np.concatenate(chunks)


@functools.partial(jax.jit, static_argnums=(0, 1, 2))
def _train_epoch(method: Method, graphdef, optimizer, params, opt_state, store, xb, yb, ib,
                 key, reg_scale):
    """One pass over the minibatches ``xb: (B, b, d)``, ``yb: (B, b, k)``.

    With a warm-start ``store: (n, k)`` (else None) and the minibatches' row
    indices ``ib: (B, b)`` (else None), step ``t`` starts its inner solves at
    ``store[ib[t]]`` and writes its solutions there.

    Returns:
      ``(params, opt_state, store, mean loss, iterations)``: ``iterations`` is
      ``(mean per solve, mean over steps of the minibatch maximum)``.
    """

    def loss_fn(p, x, y, k, init):
        model = nnx.merge(graphdef, p)
        # The dropout masks' key (a network with dropout only: the others are unchanged).
        dropout_key = None if model.features.dropout is None else jax.random.fold_in(k, 1)
        return batch_loss_and_solutions(method, energy_spec(model, x, dropout_key), y, k,
                                        reg_scale, init)

    def step(carry, batch):
        params, opt_state, store = carry
        x, y, rows, k = batch
        init = None if store is None else store[rows]
        (value, solved), grads = jax.value_and_grad(loss_fn, has_aux=True)(
            params, x, y, k, init)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        if store is not None:
            # Rows of one minibatch are distinct (a permutation's slice): no write collides.
            store = store.at[rows].set(solved.y_hat.astype(store.dtype))
        iterations = solved.iterations.astype(jnp.float32)
        return ((optax.apply_updates(params, updates), opt_state, store),
                (value, jnp.mean(iterations), jnp.max(iterations)))

    keys = jax.random.split(key, xb.shape[0])
    (params, opt_state, store), (values, mean_iterations, max_iterations) = jax.lax.scan(
        step, (params, opt_state, store), (xb, yb, ib, keys))
    return (params, opt_state, store, jnp.mean(values),
            (jnp.mean(mean_iterations), jnp.mean(max_iterations)))


# One optimizer object for every run: it is a static argument of the jitted
# epoch, and its hyperparameters live in its state (inject_hyperparams), so a
# new learning rate or weight decay does not recompile.
_ADAMW = optax.inject_hyperparams(optax.adamw)(learning_rate=1.0, weight_decay=0.0)


def _epoch_sharding(mesh: Mesh) -> NamedSharding:
    """Stacked minibatches ``(n_batches, batch, ...)``: each step's batch split over ``"data"``."""
    return NamedSharding(mesh, P(None, DATA_AXIS))


def fit(method: Method, config: Config, train, validation, *, seed: int = 0,
        progress: bool = False, mesh: Mesh | None = None,
        checkpoint_dir: str | os.PathLike | None = None,
        max_epochs_this_run: int | None = None) -> TrainedModel:
    """Train an energy network with early stopping on validation Hamming accuracy.

    Epoch ``e`` visits the training rows in the order
    :func:`fenchel.training.epoch_permutation` ``(seed, e)`` and draws its step
    keys from ``fold_in(key(seed), e)``: both are pure functions of (seed,
    epoch), so a resumed run continues the same sequence.

    With a ``mesh`` (:func:`fenchel.training.make_mesh`) training is data
    parallel: every minibatch is split over the mesh's ``"data"`` axis,
    parameters and optimizer state are replicated, and XLA all-reduces the
    gradients of the batch-mean loss, so the steps are those of one device
    (up to the order of floating-point sums). Each device's shard is built
    from the rows it needs only (``jax.make_array_from_callback``), so in a
    multi-host job every process places its own devices' rows. Validation
    prediction runs with the replicated parameters; the returned model lives
    on one device.

    With ``config.warm_start`` (and a method that can warm-start), every
    training example's last inner solution is kept in a store ``(n, k)``,
    carried through the epochs and started from (see the module docstring);
    on a mesh the store is replicated, and each step reads and writes the
    rows of its minibatch.

    With ``checkpoint_dir`` the whole state (parameters, optimizer state,
    best parameters, warm-start store, history, epoch) is saved with orbax
    after every epoch; a call that finds a checkpoint there continues from it
    and ends with the same parameters as an uninterrupted run.

    Args:
      method: energy, loss and Ω (λ is ``config.reg_scale``).
      config: hyperparameters.
      train, validation: splits with ``.x: (n, d)`` and ``.y: (n, k)``.
        ``validation=None`` trains exactly ``config.max_epochs`` epochs and
        keeps the last parameters (no early stopping; e.g. a refit on
        train + validation with the epoch count chosen on validation).
      seed: seed of the initialization and of the minibatch order.
      progress: show a progress bar over epochs.
      mesh: one-axis ``("data",)`` device mesh, or None (one device). The
        batch size (``min(config.batch_size, n)``) must be divisible by its
        number of devices.
      checkpoint_dir: folder for resumable checkpoints of this one run
        (``None``: no checkpoints).
      max_epochs_this_run: stop after this many epochs of this call (e.g. to
        fit a job's time limit); a later call with the same ``checkpoint_dir``
        resumes.

    Returns:
      A :class:`TrainedModel` holding the best-validation parameters (the
      last ones without ``validation``; its history's scores are then NaN),
      and the mean inner iterations per solve of every epoch.

    Example:
      >>> import tempfile
      >>> import numpy as np
      >>> from fenchel.multilabel.losses import Method
      >>> from fenchel.multilabel.train import Config, MultilabelSplitLike, fit
      >>> from fenchel.training import make_mesh
      >>> x = np.random.default_rng(0).normal(size=(80, 4)).astype(np.float32)
      >>> y = (x[:, :3] > 0).astype(np.float32)
      >>> train = MultilabelSplitLike(x[:64], y[:64])
      >>> validation = MultilabelSplitLike(x[64:], y[64:])
      >>> method = Method("pairwise", "gfy", "entropy")
      >>> trained = fit(method, Config(batch_size=32, max_epochs=2), train, validation,
      ...               mesh=make_mesh(1),  # make_mesh(4): split each batch over 4 devices
      ...               checkpoint_dir=tempfile.mkdtemp())
      >>> trained.epochs, trained.finished
      (2, True)
    """
    x_train = np.asarray(train.x, np.float32)
    y_train = np.asarray(train.y, np.float32)
    if x_train.ndim != 2 or y_train.ndim != 2 or len(x_train) != len(y_train):
        raise ValueError(f"train.x and train.y must be (n, d) and (n, k), got "
                         f"{x_train.shape} and {y_train.shape}")
    if len(x_train) == 0:
        raise ValueError("train split is empty")
    if validation is not None and len(validation.x) == 0:
        raise ValueError("validation split is empty: early stopping needs validation rows "
                         "(pass validation=None to train exactly config.max_epochs epochs)")
    if max_epochs_this_run is not None and (not isinstance(max_epochs_this_run, int)
                                            or max_epochs_this_run < 1):
        raise ValueError(f"max_epochs_this_run must be a positive integer or None, got "
                         f"{max_epochs_this_run!r}")
    n, d = x_train.shape
    k = y_train.shape[1]
    batch_size = min(config.batch_size, n)
    if mesh is not None and batch_size % mesh.size:
        raise ValueError(
            f"batch size must be divisible by the number of devices in mesh: got batch size "
            f"{batch_size} (config.batch_size={config.batch_size}, {n} training rows) and "
            f"{mesh.size} devices")
    start = time.perf_counter()
    model = EnergyNetwork(d, k, method.energy, hidden=config.hidden, concave=method.concave,
                          rank=config.rank, depth=config.depth, dropout=config.dropout,
                          log_partition=method.learns_log_partition, rngs=nnx.Rngs(seed))
    graphdef, params = nnx.split(model)
    optimizer = _ADAMW
    opt_state = optimizer.init(params)
    opt_state.hyperparams["learning_rate"] = jnp.asarray(config.learning_rate, jnp.float32)
    opt_state.hyperparams["weight_decay"] = jnp.asarray(config.weight_decay, jnp.float32)

    reg_scale = jnp.asarray(config.reg_scale, jnp.float32)
    warm = config.warm_start and method.warm_startable
    # The store starts at the solver's default start: a row's first solve is a cold one.
    store = fy_max.default_init(method.regularizer(), (n, k)) if warm else None
    if mesh is None:
        if jax.process_count() > 1:
            raise ValueError(f"mesh=None in a job of {jax.process_count()} processes; pass "
                             "mesh=fenchel.training.make_mesh()")

        def place(batches):
            return jnp.asarray(batches)
    else:
        params, opt_state, store, reg_scale = replicate((params, opt_state, store, reg_scale),
                                                        mesh)
        epoch_sharding = _epoch_sharding(mesh)

        def place(batches):
            return jax.make_array_from_callback(batches.shape, epoch_sharding,
                                                lambda index: batches[index])
    if jax.process_count() > 1:
        # Replicated arrays of a multi-host job are not fully addressable:
        # validation runs on each process's local copy.
        def local(tree):
            return jax.tree.map(jnp.asarray, to_host(tree))
    else:
        def local(tree):
            return tree
    n_batches = n // batch_size
    key = jax.random.key(seed)
    best_score, best_epoch, best_params = -math.inf, 0, params
    history: list[tuple[float, float]] = []
    iterations: list[tuple[float, float]] = []
    stopped = False
    resumed_from = None

    checkpointer = None
    identity = {"method": method.name, "config": dataclasses.asdict(config), "seed": int(seed),
                "shapes": [n, d, k]}
    if checkpoint_dir is not None:
        checkpointer = Checkpointer(checkpoint_dir, max_to_keep=1)
        try:
            latest = checkpointer.latest_step()
            if latest is not None:
                # The run's identity first: the trees to restore depend on it (the store).
                meta = checkpointer.meta(latest, required=(
                    *identity, "history", "best_score", "best_epoch", "stopped"))
                if not isinstance(meta["config"], dict):
                    raise CheckpointError(f"checkpoint in {checkpointer.directory} cannot be "
                                          f"read: its config is {meta['config']!r}")
                meta["config"] = with_added_fields(meta["config"])
                for name, expected in identity.items():
                    if meta[name] != expected:
                        raise CheckpointError(
                            f"checkpoint in {checkpointer.directory} was written with "
                            f"{name}={meta[name]!r}, this run has {name}={expected!r}; use "
                            "another checkpoint_dir or the original settings")
                template = {"params": params, "opt_state": opt_state, "best_params": params}
                if warm:
                    template["store"] = store
                trees, _ = checkpointer.restore(latest, template)
                params, opt_state = trees["params"], trees["opt_state"]
                best_params = trees["best_params"]
                store = trees.get("store")
                history = [tuple(entry) for entry in meta["history"]]
                iterations = [tuple(entry) for entry in
                              meta.get("iterations", [(math.nan, math.nan)] * len(history))]
                best_score, best_epoch, stopped = (meta["best_score"], meta["best_epoch"],
                                                   meta["stopped"])
                resumed_from = latest
        except BaseException:
            checkpointer.close()  # and its folder's lock
            raise

    first_epoch = len(history) + 1
    last_epoch = len(history) if stopped else config.max_epochs
    if max_epochs_this_run is not None:
        last_epoch = min(last_epoch, len(history) + max_epochs_this_run)
    epochs = tqdm(range(first_epoch, last_epoch + 1), desc=method.name, leave=False,
                  disable=not progress)
    try:
        for epoch in epochs:
            order = epoch_permutation([seed], epoch, n)[:n_batches * batch_size]
            xb = place(x_train[order].reshape(n_batches, batch_size, d))
            yb = place(y_train[order].reshape(n_batches, batch_size, k))
            # The rows of each minibatch, where the warm-start store is read and written.
            ib = place(order.astype(np.int32).reshape(n_batches, batch_size)) if warm else None
            params, opt_state, store, train_loss, epoch_iterations = _train_epoch(
                method, graphdef, optimizer, params, opt_state, store, xb, yb, ib,
                jax.random.fold_in(key, epoch), reg_scale)
            train_loss, epoch_iterations = to_host((train_loss, epoch_iterations))
            train_loss = float(train_loss)
            iterations.append(tuple(float(value) for value in epoch_iterations))
            if not math.isfinite(train_loss):
                raise FloatingPointError(f"{method.name}: training loss became {train_loss} at "
                                         f"epoch {epoch}; lower the learning rate")
            if validation is None:
                score = math.nan
                best_epoch, best_params = epoch, params
            else:
                y_val = predict_batches(method, nnx.merge(graphdef, local(params)),
                                        validation.x, config.reg_scale)
                score = ml_metrics.hamming_accuracy(validation.y, ml_metrics.decode(y_val))
                if score > best_score:
                    best_score, best_epoch = score, epoch
                    best_params = jax.tree.map(jnp.copy, params)
            history.append((train_loss, score))
            epochs.set_postfix(loss=f"{train_loss:.4f}", val_hamming=f"{score:.4f}")
            stopped = epoch - best_epoch >= config.patience
            if checkpointer is not None:
                trees = {"params": params, "opt_state": opt_state, "best_params": best_params}
                if warm:
                    trees["store"] = store
                checkpointer.save(epoch, trees,
                                  dict(identity, history=history, iterations=iterations,
                                       best_score=best_score, best_epoch=best_epoch,
                                       stopped=stopped))
            if stopped:
                break
    finally:
        if checkpointer is not None:
            checkpointer.close()
    finished = stopped or len(history) >= config.max_epochs
    if mesh is not None:
        # Off the mesh: the model is used (predicted with, pickled) on one device.
        best_params = jax.tree.map(jnp.asarray, to_host(best_params))
    return TrainedModel(method=method, config=config, model=nnx.merge(graphdef, best_params),
                        best_epoch=best_epoch, epochs=len(history),
                        best_validation=math.nan if validation is None else float(best_score),
                        train_seconds=time.perf_counter() - start, history=history,
                        finished=finished, resumed_from=resumed_from,
                        inner_iterations=[mean for mean, _ in iterations],
                        inner_iterations_max=[largest for _, largest in iterations])


def _decode(y_relaxed: np.ndarray, threshold: float | str) -> np.ndarray:
    if threshold == "expected_f1":
        return ml_metrics.decode_expected_f1(y_relaxed)
    if isinstance(threshold, str):
        raise ValueError(f"threshold must be a number in [0, 1) or 'expected_f1', got "
                         f"{threshold!r}")
    return ml_metrics.decode(y_relaxed, threshold)


def evaluate(trained: TrainedModel, split, threshold: float | str = 0.5) -> dict[str, float]:
    """Metrics of ``trained`` on ``split`` with predictions decoded at ``threshold``
    (``ŷ > threshold``), or by the plug-in expected F1 with ``threshold="expected_f1"``
    (:func:`~fenchel.multilabel.metrics.decode_expected_f1`).

    Returns:
      ``{metric: value}`` for every metric in
      :data:`fenchel.multilabel.metrics.METRICS` (example F1 under both
      conventions: ``example_f1``, scikit-learn's, and ``example_f1_mulan``,
      MULAN's, where an example with no true and no predicted label scores 1),
      plus ``inference_ms_per_example`` (relaxed inference, compilation excluded).
    """
    return evaluate_decodings(trained, split, (threshold,))[0]


def evaluate_decodings(trained: TrainedModel, split,
                       thresholds: Sequence[float | str]) -> list[dict[str, float]]:
    """:func:`evaluate` for each of ``thresholds``, from one relaxed prediction of
    ``split`` (the decodings differ, the inference and its time do not)."""
    trained.predict_relaxed(split.x[:1])  # compile outside the timing
    start = time.perf_counter()
    y_relaxed = trained.predict_relaxed(split.x)
    elapsed_ms = 1000.0 * (time.perf_counter() - start) / max(len(split.x), 1)
    return [{**ml_metrics.all_metrics(split.y, _decode(y_relaxed, threshold)),
             "inference_ms_per_example": elapsed_ms} for threshold in thresholds]


def _selection_score(trained: TrainedModel, validation, select_by: str) -> float:
    if select_by == "hamming_accuracy":
        return trained.best_validation
    y_val = trained.predict_relaxed(validation.x)
    return ml_metrics.example_f1(validation.y, ml_metrics.decode_expected_f1(y_val))


def search(method: Method, configs: Iterable[Config], train, validation, *, seed: int = 0,
           progress: bool = False, mesh: Mesh | None = None,
           checkpoint_dir: str | os.PathLike | None = None,
           select_by: str = "hamming_accuracy",
           ) -> tuple[TrainedModel, list[dict[str, Any]]]:
    """Train every configuration; keep the best by ``select_by`` on validation.

    ``select_by`` (:data:`~fenchel.multilabel.metrics.SELECTION_METRICS`):
    ``"hamming_accuracy"``, the validation
    Hamming accuracy of the early-stopping epoch, or ``"example_f1_expected"``, the
    validation example F1 (scikit-learn's convention) of that epoch's model decoded by
    :func:`~fenchel.multilabel.metrics.decode_expected_f1`. Early stopping itself
    always uses validation Hamming accuracy.

    ``mesh`` is passed to :func:`fit` (data-parallel training). With
    ``checkpoint_dir``, configuration ``i`` checkpoints in
    ``checkpoint_dir/config_<i>``, so an interrupted search resumes where it
    stopped (finished configurations are restored, not retrained).

    Returns:
      ``(best, table)``: the best :class:`TrainedModel` and one row per
      configuration (its fields, ``validation_hamming_accuracy``, ``best_epoch``,
      ``epochs``, ``train_seconds``; with ``select_by="example_f1_expected"`` also
      ``validation_example_f1_expected``). A configuration whose training loss
      becomes non-finite (:func:`fit` raises ``FloatingPointError``) is skipped and
      its row holds ``validation_hamming_accuracy: None`` and ``diverged`` (the
      message).

    Raises:
      FloatingPointError: every configuration diverged.
    """
    ml_metrics.check_select_by(select_by)
    configs = list(configs)
    if not configs:
        raise ValueError("configs is empty: give at least one Config")
    best, best_score, table = None, -math.inf, []
    for index, config in enumerate(tqdm(configs, desc=f"search {method.name}", leave=False,
                                        disable=not progress or len(configs) == 1)):
        run_dir = (None if checkpoint_dir is None
                   else os.path.join(os.fspath(checkpoint_dir), f"config_{index:03d}"))
        try:
            trained = fit(method, config, train, validation, seed=seed, progress=progress,
                          mesh=mesh, checkpoint_dir=run_dir)
        except FloatingPointError as error:
            # A configuration whose training loss is not finite is out of the running
            # (recorded as such); the search fails only if every one diverges.
            table.append({**dataclasses.asdict(config), "validation_hamming_accuracy": None,
                          "diverged": str(error)})
            continue
        score = _selection_score(trained, validation, select_by)
        row = {**dataclasses.asdict(config),
               "validation_hamming_accuracy": trained.best_validation,
               "best_epoch": trained.best_epoch, "epochs": trained.epochs,
               "train_seconds": trained.train_seconds}
        if select_by != "hamming_accuracy":
            row[f"validation_{select_by}"] = score
        table.append(row)
        if best is None or score > best_score:
            best, best_score = trained, score
    if best is None:
        raise FloatingPointError(f"{method.name}: the training loss of every configuration "
                                 f"became non-finite: {table[-1]['diverged']}")
    return best, table


def method_record(method: Method) -> dict[str, Any]:
    """The ``method`` entry of a result: its name and fields (λ aside, which the
    configuration holds; the min-min fields ``alpha`` and ``samples`` only for the
    min-min loss, so that records of the other methods are those made before them).

    Example:
      >>> from fenchel.multilabel.losses import Method
      >>> from fenchel.multilabel.train import method_record
      >>> method_record(Method("unary", "bce"))["name"]
      'unary-bce'
    """
    return {"name": method.name, **{
        key: value for key, value in dataclasses.asdict(method).items()
        if key != "reg_scale" and (method.loss == "minmin" or key not in MINMIN_FIELDS)}}


class SplitError(Refusal, ValueError):
    """A split of a dataset is empty: nothing to train, tune or test on."""


def check_splits(dataset) -> None:
    """Refuse a dataset with an empty split (:func:`run_experiment` needs all three).

    An empty validation split comes from a tiny training file: ``load_dataset`` moves
    ``round(0.2 n)`` of its ``n`` training rows to validation, 0 for ``n <= 2``. The
    search (early stopping, the choice of configuration and of the refit's epoch count)
    and the tuned threshold would then run on nothing.

    Raises:
      SplitError: naming the dataset, the empty split and the row counts.

    Example:
      >>> import numpy as np
      >>> from types import SimpleNamespace
      >>> from fenchel.multilabel.train import MultilabelSplitLike, check_splits
      >>> split = lambda n: MultilabelSplitLike(np.zeros((n, 2)), np.zeros((n, 3)))
      >>> check_splits(SimpleNamespace(name="tiny", train=split(2), validation=split(0),
      ...                              test=split(5)))
      Traceback (most recent call last):
      ...
      fenchel.multilabel.train.SplitError: dataset 'tiny' has an empty validation split (2 train rows, 0 validation rows, 5 test rows): the search (early stopping, the choice of configuration and of the refit's epochs) and the tuned threshold need validation rows
    """
    name = getattr(dataset, "name", None)
    sizes = {split: len(getattr(dataset, split).x) for split in ("train", "validation", "test")}
    empty = [split for split, size in sizes.items() if size == 0]
    if not empty:
        return
    rows = sizes["train"] + sizes["validation"]
    why = {"train": "there is nothing to train on",
           "validation": ("the search (early stopping, the choice of configuration and of the "
                          "refit's epochs) and the tuned threshold need validation rows"),
           "test": "there is nothing to test on"}
    fraction = (getattr(dataset, "metadata", None) or {}).get("validation_fraction")
    if empty == ["validation"] and isinstance(fraction, float) and 0 < fraction < 1:
        detail = (f"round({fraction:g} × {rows}) = 0 of its {rows} training "
                  f"row{'s' if rows != 1 else ''} go to validation, at least "
                  f"{math.floor(0.5 / fraction) + 1} are needed")
    else:
        detail = ", ".join(f"{size} {split} row{'s' if size != 1 else ''}"
                           for split, size in sizes.items())
    raise SplitError(f"dataset {name!r} has an empty {' and an empty '.join(empty)} split "
                     f"({detail}): " + "; ".join(why[split] for split in empty))


def run_experiment(dataset, method: Method, configs: Iterable[Config], *, seed: int = 0,
                   progress: bool = False, mesh: Mesh | None = None,
                   checkpoint_dir: str | os.PathLike | None = None,
                   refit: bool = True, select_by: str = "hamming_accuracy") -> dict[str, Any]:
    """Search ``configs`` on the validation split, then report test metrics.

    With ``refit`` (the default) the chosen configuration is then trained
    again on train + validation for the number of epochs early stopping
    chose (``best_epoch``), keeping the last parameters, like scikit-learn's
    ``GridSearchCV(refit=True)``; the test metrics are those of that model.
    The decoding threshold (one of 0.05, 0.10, ..., 0.95) is tuned on the
    validation split with the search's model, before the refit (the refit
    model has seen those rows), to maximize ``example_f1`` (scikit-learn's
    convention); ``test_tuned`` reports every metric, ``example_f1_mulan``
    included, at that one threshold. ``test_expected_f1`` reports every metric with
    each example decoded by the plug-in expected F1
    (:func:`~fenchel.multilabel.metrics.decode_expected_f1`, no parameter to tune).

    Args:
      dataset: a :class:`fenchel.datasets.MultilabelDataset` (its validation
        split was drawn with ``seed``).
      method: energy, loss and Ω.
      configs: the hyperparameter grid (one config: no search).
      seed: initialization / minibatch seed.
      progress: progress bars.
      mesh: device mesh for data-parallel training (see :func:`fit`), or None.
      checkpoint_dir: resumable checkpoints of the search (see :func:`search`)
        and of the refit (``checkpoint_dir/refit``).
      refit: retrain the chosen configuration on train + validation.
      select_by: the validation score that picks the configuration
        (:data:`~fenchel.multilabel.metrics.SELECTION_METRICS`, see :func:`search`).

    Returns:
      A JSON-able dict: ``dataset``, ``method`` (name and fields), ``seed``,
      ``config`` (the chosen one), ``search`` (table), ``validation``,
      ``threshold`` (the tuned one), ``test`` (metrics with rounding at 0.5),
      ``test_tuned`` (metrics at the tuned threshold), ``test_expected_f1`` (metrics
      with the expected-F1 decoding), ``train_seconds``, ``search_seconds``,
      ``refit``, ``select_by``; with ``refit`` also ``refit_epochs``,
      ``refit_seconds`` and the search model's ``test_before_refit`` /
      ``test_tuned_before_refit`` / ``test_expected_f1_before_refit``.

    Raises:
      SplitError: a split of ``dataset`` is empty (:func:`check_splits`), before any
        training.
      fenchel.infra._io.OutputLockedError: another process trains into ``checkpoint_dir``.
      fenchel.training.CheckpointError: a checkpoint there cannot be read, or was
        written by another run.
    """
    check_splits(dataset)
    if checkpoint_dir is None:
        return _run_experiment(dataset, method, configs, seed, progress, mesh, None, refit,
                               select_by)
    with lock_checkpoints(checkpoint_dir):  # the whole search, not one configuration
        return _run_experiment(dataset, method, configs, seed, progress, mesh, checkpoint_dir,
                               refit, select_by)


def _run_experiment(dataset, method, configs, seed, progress, mesh, checkpoint_dir, refit,
                    select_by) -> dict[str, Any]:
    start = time.perf_counter()
    best, table = search(method, configs, dataset.train, dataset.validation, seed=seed,
                         progress=progress, mesh=mesh, checkpoint_dir=checkpoint_dir,
                         select_by=select_by)
    y_val = best.predict_relaxed(dataset.validation.x)
    threshold = ml_metrics.tune_threshold(dataset.validation.y, y_val, "example_f1")
    final = best
    if refit:
        both = MultilabelSplitLike(np.concatenate([dataset.train.x, dataset.validation.x]),
                                   np.concatenate([dataset.train.y, dataset.validation.y]))
        final = fit(method, dataclasses.replace(best.config, max_epochs=best.best_epoch), both,
                    None, seed=seed, progress=progress, mesh=mesh,
                    checkpoint_dir=(None if checkpoint_dir is None
                                    else os.path.join(os.fspath(checkpoint_dir), "refit")))
    decodings = (0.5, threshold, "expected_f1")
    test, test_tuned, test_expected_f1 = evaluate_decodings(final, dataset.test, decodings)
    extra = {}
    if refit:
        before = evaluate_decodings(best, dataset.test, decodings)
        extra = {"refit_epochs": final.epochs, "refit_seconds": final.train_seconds,
                 "test_before_refit": before[0], "test_tuned_before_refit": before[1],
                 "test_expected_f1_before_refit": before[2]}
    return {
        "dataset": dataset.name,
        "method": method_record(method),
        "seed": int(seed),
        "config": dataclasses.asdict(best.config),
        "search": table,
        "validation": ml_metrics.all_metrics(dataset.validation.y, ml_metrics.decode(y_val)),
        "threshold": threshold,
        "test": test,
        "test_tuned": test_tuned,
        "test_expected_f1": test_expected_f1,
        "best_epoch": best.best_epoch,
        "epochs": best.epochs,
        "train_seconds": best.train_seconds,
        "search_seconds": time.perf_counter() - start,
        "n_train": int(len(dataset.train.x)),
        "n_validation": int(len(dataset.validation.x)),
        "n_test": int(len(dataset.test.x)),
        "refit": bool(refit),
        "select_by": select_by,
        **extra,
    }


__all__ = ["MultilabelSplitLike", "Config", "config_grid", "ADDED_CONFIG_FIELDS",
           "with_added_fields", "TrainedModel", "fit", "evaluate", "evaluate_decodings", "search",
           "predict_batches", "method_record", "SplitError", "check_splits", "run_experiment"]

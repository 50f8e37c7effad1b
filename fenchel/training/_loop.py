"""The minibatch training loop: jitted optax steps, evaluation, early stopping, resume.

Per-example state (warm starts, amortized inference): ``train(...,
example_state=S)`` keeps a pytree ``S`` whose leaves have a leading example
axis ``n`` (e.g. every example's last inner solution ŷ, ``(n, k)``). The step
on the minibatch of rows ``I`` passes ``S[I]`` to the loss, which returns its
new value: ``loss_fn(params, batch, key, state) -> (loss, new_state)``, and
the loop writes ``S[I] ← new_state`` (no gradient flows through it). The rows
are those of the epoch permutation, so an example's state follows it from one
epoch to the next; the store is replicated on a mesh, checkpointed with the
parameters, and returned in :attr:`TrainResult.example_state`.

Example: warm starts of the multi-label energy networks' inner maximization
(what ``fenchel.multilabel.train.fit`` does with ``Config.warm_start``, in one
jitted scan per epoch instead of this loop's step per minibatch)::

    from fenchel.multilabel.losses import batch_loss_and_solutions
    from fenchel.multilabel.models import energy_spec

    def loss_fn(params, batch, key, y_init):  # y_init: (b, k), the rows' last ŷ
        spec = energy_spec(nnx.merge(graphdef, params), batch["x"])
        loss, solved = batch_loss_and_solutions(method, spec, batch["y"], key, init=y_init)
        return loss, solved.y_hat

    result = train(loss_fn, params, optimizer, {"x": x, "y": y}, batch_size=64,
                   num_epochs=20, key=key, example_state=jnp.full((n, k), 0.5))
"""

from __future__ import annotations

import dataclasses
import functools
import os
from typing import Any, Callable, Mapping

import jax
import numpy as np
import optax
from jax.sharding import Mesh
from tqdm.auto import tqdm

from fenchel.training._checkpoint import CheckpointError, Checkpointer
from fenchel.training._sharding import global_batch, make_mesh, replicate, replicated

PyTree = Any
LossFn = Callable[[PyTree, PyTree, jax.Array], jax.Array]
StatefulLossFn = Callable[[PyTree, PyTree, jax.Array, PyTree], tuple[jax.Array, PyTree]]
EvalFn = Callable[[PyTree], "float | Mapping[str, float]"]

_FLUSH_EVERY = 50  # steps between host syncs for the progress bar's loss


@dataclasses.dataclass
class TrainResult:
    """What :func:`train` returns.

    Attributes:
      params: parameters after the last step run.
      best_params: parameters of the best evaluation (``params`` without ``eval_fn``).
      opt_state: optimizer state after the last step.
      history: ``{"loss": [one float per step, from step 1], "eval_step": [...],
        <metric>: [...] for each metric eval_fn returns}``.
      steps: optimizer steps done in total (this run and the runs it resumed).
      epochs: completed passes over the data (``steps // steps_per_epoch``).
      best_step: step of ``best_params`` (``None`` without ``eval_fn``).
      best_metric: monitored value at ``best_step`` (``None`` without ``eval_fn``).
      stopped_early: whether patience ran out.
      finished: ``False`` only when ``max_steps_this_run`` cut the run short.
      resumed_from: step of the checkpoint this run started from, or ``None``.
      example_state: the per-example state store after the last step (leading
        axis n), or ``None`` when :func:`train` was given no ``example_state``.
    """

    params: PyTree
    best_params: PyTree
    opt_state: PyTree
    history: dict[str, list[float]]
    steps: int
    epochs: int
    best_step: int | None
    best_metric: float | None
    stopped_early: bool
    finished: bool
    resumed_from: int | None
    example_state: PyTree = None


def _scalar(value) -> float:
    # A replicated scalar of a multi-host job is not fully addressable; read the local copy.
    if isinstance(value, jax.Array) and not value.is_fully_addressable:
        value = value.addressable_data(0)
    return float(np.asarray(value))


def _seed_words(key) -> list[int]:
    if not isinstance(key, (jax.Array, np.ndarray)):
        raise TypeError(f"key must be a jax.random key, got {type(key).__name__}")
    if jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key):
        key = jax.random.key_data(key)
    return [int(word) for word in np.asarray(key).ravel()]


def epoch_permutation(seed_words: list[int], epoch: int, num_examples: int) -> np.ndarray:
    """The example order of ``epoch``: a pure function of (seed, epoch).

    Because it does not depend on a generator's running state, a resumed run
    only needs the step count to continue the same sequence of minibatches.

    Example:
      >>> from fenchel.training import epoch_permutation
      >>> epoch_permutation([0, 1], 3, 5).shape
      (5,)
    """
    return np.random.default_rng([*seed_words, epoch]).permutation(num_examples)


def _check_positive_int(name: str, value, *, allow_none: bool = False) -> None:
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")


def _check_data(train_data: PyTree) -> tuple[PyTree, int]:
    leaves, treedef = jax.tree.flatten(train_data)
    if not leaves:
        raise ValueError("train_data must hold at least one array, got an empty pytree")
    arrays = [np.asarray(leaf) for leaf in leaves]
    paths = [jax.tree_util.keystr(path) for path, _ in jax.tree.flatten_with_path(train_data)[0]]
    for path, array in zip(paths, arrays):
        if array.ndim == 0:
            raise ValueError(
                f"train_data{path} must have a leading example axis, got a scalar"
            )
    sizes = {path: array.shape[0] for path, array in zip(paths, arrays)}
    if len(set(sizes.values())) != 1:
        raise ValueError(
            f"train_data leaves must share their leading (example) dimension, got {sizes}"
        )
    num_examples = arrays[0].shape[0]
    if num_examples == 0:
        raise ValueError("train_data has no examples (leading dimension 0)")
    return jax.tree.unflatten(treedef, arrays), num_examples


def _metrics_of(output, monitor: str | None) -> tuple[dict[str, float], str]:
    if isinstance(output, Mapping):
        metrics = {str(name): _scalar(value) for name, value in output.items()}
    else:
        metrics = {"metric": _scalar(output)}
    if monitor is None:
        if len(metrics) != 1:
            raise ValueError(
                f"eval_fn returned several metrics {sorted(metrics)}; pass monitor= to "
                "choose the one for early stopping"
            )
        monitor = next(iter(metrics))
    if monitor not in metrics:
        raise ValueError(f"monitor={monitor!r} is not among eval_fn's metrics {sorted(metrics)}")
    return metrics, monitor


def make_train_step(
    loss_fn: LossFn | StatefulLossFn,
    optimizer: optax.GradientTransformation,
    mesh: Mesh,
    key_impl: str | None = None,
    example_state: bool = False,
) -> Callable:
    """The jitted step ``(params, opt_state, batch, key, step) -> (params, opt_state, loss)``.

    With ``example_state`` the step is ``(params, opt_state, store, batch, rows,
    key, step) -> (params, opt_state, store, loss)``: ``loss_fn(params, batch,
    key, state)`` gets ``state = store[rows]`` and returns ``(loss,
    new_state)``, written to ``store[rows]`` (see the module docstring).

    The step's key is ``fold_in(key, step)``. With ``key_impl`` (e.g.
    ``"threefry2x32"``) ``key`` is passed as its raw ``key_data`` and wrapped
    inside the step, which lets plain uint32 arrays carry it across hosts. Outputs are pinned replicated on
    ``mesh``; with the batch split over ``"data"`` XLA computes per-device
    gradients and all-reduces them (the mean over the global batch).

    Example:
      >>> import jax.numpy as jnp, optax
      >>> from fenchel.training import make_mesh, make_train_step
      >>> step = make_train_step(lambda p, b, k: jnp.mean((b - p) ** 2), optax.sgd(0.1), make_mesh(1))

    Cached on its (hashable) arguments, so repeated :func:`train` calls with
    the same ``loss_fn`` and ``optimizer`` objects reuse the compiled step.
    """
    try:
        return _cached_train_step(loss_fn, optimizer, mesh, key_impl, example_state)
    except TypeError:  # unhashable loss_fn or optimizer: build afresh
        return _build_train_step(loss_fn, optimizer, mesh, key_impl, example_state)


@functools.lru_cache(maxsize=8)
def _cached_train_step(loss_fn, optimizer, mesh, key_impl, example_state=False):
    return _build_train_step(loss_fn, optimizer, mesh, key_impl, example_state)


def _build_train_step(loss_fn, optimizer, mesh, key_impl, example_state=False):
    rep = replicated(mesh)

    def step_key(key, step_index):
        if key_impl is not None:
            key = jax.random.wrap_key_data(key, impl=key_impl)
        return jax.random.fold_in(key, step_index)

    def step(params, opt_state, batch, key, step_index):
        loss, grads = jax.value_and_grad(loss_fn)(params, batch, step_key(key, step_index))
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    def stateful_step(params, opt_state, store, batch, rows, key, step_index):
        state = jax.tree.map(lambda leaf: leaf[rows], store)
        (loss, new_state), grads = jax.value_and_grad(loss_fn, has_aux=True)(
            params, batch, step_key(key, step_index), state)
        if jax.tree.structure(new_state) != jax.tree.structure(state):
            raise TypeError(
                "loss_fn must return (loss, new_state) with new_state of the structure of "
                f"the state it was given, {jax.tree.structure(state)}; got "
                f"{jax.tree.structure(new_state)}")
        # The rows of one minibatch are distinct (a permutation's slice): no write collides.
        store = jax.tree.map(
            lambda leaf, new: leaf.at[rows].set(jax.lax.stop_gradient(new).astype(leaf.dtype)),
            store, new_state)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, store, loss

    if example_state:
        return jax.jit(stateful_step, out_shardings=(rep, rep, rep, rep))
    return jax.jit(step, out_shardings=(rep, rep, rep))


def train(
    loss_fn: LossFn | StatefulLossFn,
    params: PyTree,
    optimizer: optax.GradientTransformation,
    train_data: PyTree,
    *,
    batch_size: int,
    key: jax.Array,
    num_epochs: int | None = None,
    num_steps: int | None = None,
    eval_fn: EvalFn | None = None,
    eval_every: int | None = None,
    monitor: str | None = None,
    mode: str = "max",
    patience: int | None = None,
    mesh: Mesh | None = None,
    checkpoint_dir: str | os.PathLike | None = None,
    checkpoint_every: int | None = None,
    max_to_keep: int = 2,
    max_steps_this_run: int | None = None,
    progress: bool = True,
    example_state: PyTree | None = None,
) -> TrainResult:
    """Minimize ``loss_fn`` over shuffled minibatches with an optax optimizer.

    Each step draws the next ``batch_size`` rows of the epoch's permutation
    (:func:`epoch_permutation`; the last partial batch of an epoch is
    dropped, so every step sees exactly ``batch_size`` examples), computes
    ``g = ∇_params loss_fn(params, batch, fold_in(key, step))`` and applies
    ``optimizer``. Every ``eval_every`` steps (and after the last)
    ``eval_fn(params)`` is called; the parameters with the best monitored
    value are kept, and training stops once ``patience`` evaluations in a
    row have not improved on the best.

    Data parallel: on a mesh of ``D`` devices (:func:`make_mesh`) every batch
    is split into ``D`` shards along its leading axis and parameters are
    replicated; XLA all-reduces the gradients. In a multi-host job
    (:func:`initialize_distributed`) every process passes the same
    ``train_data`` (or at least the same number of rows) and reads only the
    rows of its own devices.

    Resume: with ``checkpoint_dir`` the whole state (params, optimizer
    state, step, best params, history, patience counter) is saved every
    ``checkpoint_every`` steps and at the end of the call; a call that finds
    a checkpoint there continues from it and reaches the same parameters as
    an uninterrupted run.

    Per-example state: with ``example_state`` every example keeps a state that
    the loss reads and rewrites whenever the example is in a minibatch (e.g.
    the last inner solution, to warm-start the next solve; see the module
    docstring).

    Args:
      loss_fn: ``loss_fn(params, batch, key) -> scalar`` mean loss over the
        batch (vmap over examples inside). Must be jit-traceable. With
        ``example_state``: ``loss_fn(params, batch, key, state) -> (loss,
        new_state)``, ``state`` the batch's rows of the store.
      params: pytree of float arrays (a dict, an ``nnx.State`` from
        ``nnx.split(model, nnx.Param)``, ...). Not modified.
      optimizer: an ``optax.GradientTransformation``.
      train_data: pytree of arrays with a common leading example axis ``n``.
      batch_size: global examples per step; ``1 <= batch_size <= n`` and a
        multiple of the mesh size.
      key: ``jax.random`` key; seeds both the shuffling and the step keys.
      num_epochs: epoch budget (``n // batch_size`` steps each).
      num_steps: step budget. Give at least one of the two; with both, the
        smaller budget wins.
      eval_fn: ``eval_fn(params) -> float | {name: float}`` on validation data.
      eval_every: steps between evaluations (default: once per epoch).
      monitor: which metric of a dict-valued ``eval_fn`` drives early stopping.
      mode: ``"max"`` (higher is better, e.g. accuracy) or ``"min"`` (e.g. loss).
      patience: evaluations without improvement before stopping (needs ``eval_fn``).
      mesh: a ``("data",)`` mesh; ``None`` runs on one device (single process only).
      checkpoint_dir: directory for resumable checkpoints (``None``: no checkpoints).
      checkpoint_every: steps between checkpoints (default: once per epoch).
      max_to_keep: how many checkpoints to keep.
      max_steps_this_run: stop (and checkpoint) after this many steps of this
        call, e.g. to fit a job's time limit; a later call resumes.
      progress: show a tqdm bar (process 0 only, TTY only).
      example_state: per-example state store, a pytree of arrays with the
        leading example axis ``n`` of ``train_data`` (``None``: no state and
        the three-argument ``loss_fn``). Replicated on the mesh, saved in
        checkpoints.

    Returns:
      A :class:`TrainResult`.

    Example:
      >>> import jax, jax.numpy as jnp, numpy as np, optax
      >>> from fenchel.training import train
      >>> data = {"x": np.linspace(-1, 1, 32)[:, None], "y": np.linspace(-2, 2, 32)}
      >>> loss = lambda p, b, k: jnp.mean((b["x"][:, 0] * p["w"] - b["y"]) ** 2)
      >>> result = train(loss, {"w": jnp.zeros(())}, optax.sgd(0.5), data, batch_size=8,
      ...                num_epochs=20, key=jax.random.key(0), progress=False)
      >>> round(float(result.params["w"]), 3)
      2.0
    """
    if not callable(loss_fn):
        raise TypeError(f"loss_fn must be callable, got {type(loss_fn).__name__}")
    if not (hasattr(optimizer, "init") and hasattr(optimizer, "update")):
        raise TypeError(
            f"optimizer must be an optax.GradientTransformation, got {type(optimizer).__name__}"
        )
    train_data, num_examples = _check_data(train_data)
    stateful = example_state is not None
    if stateful:
        example_state, state_examples = _check_data(example_state)
        if state_examples != num_examples:
            raise ValueError(
                f"example_state must have the leading example axis of train_data "
                f"({num_examples}), got {state_examples}")
    _check_positive_int("batch_size", batch_size)
    if batch_size > num_examples:
        raise ValueError(
            f"batch_size={batch_size} exceeds the number of training examples {num_examples}"
        )
    if num_epochs is None and num_steps is None:
        raise ValueError("give num_epochs or num_steps (or both), got neither")
    _check_positive_int("num_epochs", num_epochs, allow_none=True)
    _check_positive_int("num_steps", num_steps, allow_none=True)
    _check_positive_int("eval_every", eval_every, allow_none=True)
    _check_positive_int("checkpoint_every", checkpoint_every, allow_none=True)
    _check_positive_int("max_steps_this_run", max_steps_this_run, allow_none=True)
    if patience is not None:
        _check_positive_int("patience", patience)
        if eval_fn is None:
            raise ValueError("patience needs eval_fn (the metric to early-stop on), got eval_fn=None")
    if mode not in ("max", "min"):
        raise ValueError(f"mode must be 'max' or 'min', got {mode!r}")
    if mesh is None:
        if jax.process_count() > 1:
            raise ValueError(
                f"mesh=None in a job of {jax.process_count()} processes; pass mesh=make_mesh()"
            )
        mesh = make_mesh(1)
    if batch_size % mesh.size:
        raise ValueError(
            f"batch_size={batch_size} must be divisible by the number of devices in the mesh "
            f"({mesh.size}) so that every device gets an equal shard"
        )

    steps_per_epoch = num_examples // batch_size
    budgets = [b for b in (num_steps, None if num_epochs is None else num_epochs * steps_per_epoch)
               if b is not None]
    total_steps = min(budgets)
    eval_every = eval_every or steps_per_epoch
    checkpoint_every = checkpoint_every or steps_per_epoch
    seed_words = _seed_words(key)
    better = (lambda a, b: a > b) if mode == "max" else (lambda a, b: a < b)

    key_impl = None
    if jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key):
        key_impl = str(jax.random.key_impl(key))
        key = jax.random.key_data(key)
    key = replicate(key, mesh)
    params = replicate(params, mesh)
    store = replicate(example_state, mesh) if stateful else None
    opt_state = jax.jit(optimizer.init, out_shardings=replicated(mesh))(params)
    best_params = params
    step = 0
    history: dict[str, list[float]] = {"loss": [], "eval_step": []}
    best_step: int | None = None
    best_metric: float | None = None
    evals_since_best = 0
    stopped_early = False
    resumed_from: int | None = None

    checkpointer = None
    identity = {"num_examples": num_examples, "batch_size": batch_size, "seed": seed_words}
    if checkpoint_dir is not None:
        checkpointer = Checkpointer(checkpoint_dir, max_to_keep=max_to_keep)
        try:
            latest = checkpointer.latest_step()
            if latest is not None:
                template = {"params": params, "opt_state": opt_state, "best_params": params}
                if stateful:
                    template["example_state"] = store
                trees, meta = checkpointer.restore(latest, template, required=(
                    *identity, "step", "history", "best_step", "best_metric",
                    "evals_since_best", "stopped_early"))
                for name, expected in identity.items():
                    if meta[name] != expected:
                        raise CheckpointError(
                            f"checkpoint in {checkpointer.directory} was written with "
                            f"{name}={meta[name]!r}, this run has {name}={expected!r}; use "
                            "another checkpoint_dir or the original settings"
                        )
                params, opt_state, best_params = trees["params"], trees["opt_state"], trees["best_params"]
                store = trees.get("example_state")
                step, history = meta["step"], meta["history"]
                best_step, best_metric = meta["best_step"], meta["best_metric"]
                evals_since_best, stopped_early = meta["evals_since_best"], meta["stopped_early"]
                resumed_from = step
        except BaseException:
            checkpointer.close()  # and its folder's lock
            raise

    def save() -> None:
        meta = dict(
            identity,
            step=step,
            epoch=step // steps_per_epoch,
            history=history,
            best_step=best_step,
            best_metric=best_metric,
            evals_since_best=evals_since_best,
            stopped_early=stopped_early,
        )
        trees = {"params": params, "opt_state": opt_state, "best_params": best_params}
        if stateful:
            trees["example_state"] = store
        checkpointer.save(step, trees, meta)

    train_step = make_train_step(loss_fn, optimizer, mesh, key_impl, stateful)
    pending: list[jax.Array] = []
    bar = tqdm(
        total=total_steps,
        initial=min(step, total_steps),
        disable=True if not progress or jax.process_index() != 0 else None,
        desc="train",
        unit="step",
    )

    def flush() -> None:
        if pending:
            history["loss"].extend(_scalar(loss) for loss in pending)
            pending.clear()
            bar.set_postfix(loss=f"{history['loss'][-1]:.4g}", refresh=False)

    steps_this_run = 0
    order, order_epoch = None, -1
    try:
        while step < total_steps and not stopped_early:
            if max_steps_this_run is not None and steps_this_run >= max_steps_this_run:
                break
            epoch, position = divmod(step, steps_per_epoch)
            if epoch != order_epoch:
                order, order_epoch = epoch_permutation(seed_words, epoch, num_examples), epoch
            rows = order[position * batch_size:(position + 1) * batch_size]
            batch = global_batch(train_data, rows, mesh)
            if stateful:
                # rows: the same global indices on every process (a pure function of the
                # seed), replicated like the store they index.
                params, opt_state, store, loss = train_step(
                    params, opt_state, store, batch, replicate(rows.astype(np.int32), mesh), key,
                    np.int32(step))
            else:
                params, opt_state, loss = train_step(params, opt_state, batch, key,
                                                     np.int32(step))
            pending.append(loss)
            step += 1
            steps_this_run += 1
            bar.update(1)
            if len(pending) >= _FLUSH_EVERY:
                flush()

            if eval_fn is not None and (step % eval_every == 0 or step == total_steps):
                flush()
                metrics, monitor = _metrics_of(eval_fn(params), monitor)
                history["eval_step"].append(step)
                for name, value in metrics.items():
                    history.setdefault(name, []).append(value)
                value = metrics[monitor]
                if best_metric is None or better(value, best_metric):
                    best_params, best_metric, best_step, evals_since_best = params, value, step, 0
                else:
                    evals_since_best += 1
                if patience is not None and evals_since_best >= patience:
                    stopped_early = True
                bar.set_postfix(loss=f"{history['loss'][-1]:.4g}", **{monitor: f"{value:.4g}"})

            if checkpointer is not None and step % checkpoint_every == 0:
                flush()
                save()
        flush()
        if checkpointer is not None and step != checkpointer.latest_step():
            save()
    finally:
        bar.close()
        if checkpointer is not None:
            checkpointer.close()

    if eval_fn is None:
        best_params = params
    return TrainResult(
        params=params,
        best_params=best_params,
        opt_state=opt_state,
        history=history,
        steps=step,
        epochs=step // steps_per_epoch,
        best_step=best_step,
        best_metric=best_metric,
        stopped_early=stopped_early,
        finished=stopped_early or step >= total_steps,
        resumed_from=resumed_from,
        example_state=store,
    )

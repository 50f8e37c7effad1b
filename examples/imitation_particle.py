"""A GFY-trained energy policy on the smallest particle task
=========================================================

Behavioral cloning with an energy network: the policy acts by maximizing a
learned energy over actions,

    a(s) = argmax_{z ∈ [-1, 1]^k} E_W(s, z) − Ω(z),    E_W(s, z) = MLP_W([s, z]),

and E_W is trained on the demonstrations (s, z) with the GFY loss
(:func:`fenchel.gfy_loss`, Ω = SquaredBox; the inner problem is solved by
derivative-free sampling refined by projected gradient). This is the ``gfy``
policy of :mod:`fenchel.imitation.policies`.

Task: ``particle-1d``, the 1-D version of implicit BC's particle task: a point
in [0, 1] driven by a PD controller must visit two goals in order; the action
is the controller's set-point. A scripted oracle provides 20 demonstration
episodes; each policy trains for 300 AdamW steps (a tiny budget: the paper's
setting is ``fenchel reproduce imitation``, see docs/imitation.md) and is
evaluated on 50 fresh episodes, next to an explicit MSE policy trained the
same way.

Run: ``python examples/imitation_particle.py`` (needs the ``[imitation]``
extra). It prints the success rate of the oracle and of each policy, ending
with ``gfy policy success rate: ...``. With ``FENCHEL_EXAMPLES_SMALL=1`` (set by
the documentation build, to keep it fast) each policy trains 100 steps and is
evaluated on 20 episodes: the success rates are then rougher and lower.
"""

import os

from fenchel.imitation.policies import PolicyConfig
from fenchel.imitation.train import EVAL_SEED_OFFSET, TrainConfig, make_task, train_policy

task = make_task("particle-1d")
observations, actions, metadata = task.demonstrations(20, 0)  # 20 episodes, seed 0
print(f"{len(observations)} demonstration steps from 20 episodes "
      f"(oracle success rate {metadata['success_rate']:.2f})")

SMALL = os.environ.get("FENCHEL_EXAMPLES_SMALL") == "1"
steps, episodes = (100, 20) if SMALL else (300, 50)
config, budget = PolicyConfig(hidden=(32, 32)), TrainConfig(steps=steps)
for kind in ("mse", "gfy"):
    policy, history = train_policy(kind, observations, actions, task.spec, config, budget)
    metrics = task.evaluate(policy, episodes, EVAL_SEED_OFFSET)  # unseen episodes
    print(f"{kind} policy: final training loss {history['loss'][-1]:.4f}, "
          f"{history['train_seconds']:.1f} s")
    print(f"{kind} policy success rate: {metrics['success_rate']:.2f} "
          f"± {metrics['success_stderr']:.2f}")

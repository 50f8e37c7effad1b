"""Fingerprint the compiled XLA programs of the pairwise GFY path: the number of HLO
operations and a hash of their kinds in order, per (regularizer, solver, k), for the
value and gradient of the mean loss over a batch of 256.

Two checkouts that print the same fingerprints run the same computation, so their
`fenchel bench --cases pairwise` ratios can only differ by noise. Run it against
each checkout, e.g. ``PYTHONPATH=OTHER_CHECKOUT python benchmarks/program_fingerprints.py``
(docs/benchmarks.md has the comparison made for the extension-points refactor).
"""
import hashlib, re, sys
import jax, jax.numpy as jnp
import fenchel as fy
print("fenchel from", fy.__file__)
E, R, M = fy.energies, fy.regularizers, fy.maximizers

def program(fn, *args):
    text = jax.jit(fn).lower(*args).compile().as_text()
    text = re.sub(r", metadata=\{[^}]*\}", "", text)
    text = re.sub(r"^HloModule.*$", "", text, flags=re.M)
    kinds = sorted(re.findall(r"^\s+\S+ = \S+ (\w[\w-]*)\(", text, flags=re.M))
    return len(kinds), hashlib.sha256(" ".join(kinds).encode()).hexdigest()[:12]

rng = jax.random.key(0)
for k in (14, 174):
    u = jax.random.normal(rng, (256, k)); V = 0.3 * jax.random.normal(rng, (k, 4)); U = -V @ V.T
    y = (jax.random.uniform(rng, (256, k)) > 0.5).astype(jnp.float32)
    cases = {
        "gfy BinaryEntropy (MirrorAscent)": lambda u, U: jnp.mean(fy.gfy_loss(E.pairwise, R.BinaryEntropy(), (u, U), y)),
        "gfy SquaredBox (ProjectedGradient)": lambda u, U: jnp.mean(fy.gfy_loss(E.pairwise, R.SquaredBox(), (u, U), y)),
        "gfy SquaredBox CoordinateAscent": lambda u, U: jnp.mean(fy.gfy_loss(E.pairwise, R.SquaredBox(), (u, U), y, solver=M.CoordinateAscent())),
        "gfy low-rank BinaryEntropy": lambda u, V: jnp.mean(fy.gfy_loss(E.low_rank_pairwise, R.BinaryEntropy(), (u, V), y)),
    }
    for name, f in cases.items():
        second = V if "low-rank" in name else U
        g = jax.value_and_grad(f, argnums=(0, 1))
        print(f"k={k:4d} {name:40s} ops={program(g, u, second)[0]:5d} fp={program(g, u, second)[1]}")

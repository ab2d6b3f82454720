"""Brian2 twin of case (f) of benches/network.rs: the Izhikevich (2003)
network (80% excitatory: a = 0.02, b = 0.2, c = -65 + 15 r^2,
d = 8 - 6 r^2; 20% inhibitory: a = 0.02 + 0.08 r, b = 0.25 - 0.05 r,
c = -65, d = 2), thalamic input 5 sqrt(10) randn (excitatory) and
2 sqrt(10) randn (inhibitory) as a one-step current every step, and each
neuron receiving a fixed number K of random inputs from distinct neurons,
80% of them excitatory (weight 0.5 rand 1000/K) and 20% inhibitory
(weight -rand 1000/K); a spike moves v_post by dt * w, as our one-step
current does. dt = 0.1 ms, Euler.

    python benches/brian2_sparse.py N K [cython|cpp_standalone|numpy] [rounds]

Prints one line per round: "BRIAN2 <seconds of the 1000 ms run> <spikes>
<synapses>". With the runtime targets a 1 ms run first compiles the code
and the timed run is the 1000 ms after it; cpp_standalone builds and runs
the whole program, and the time is that of its 1000 ms network run as
Brian2 reports it (profiling), after a 1 ms warm-up inside the same run.
Needs `pip install brian2` (not part of `cargo test`).

SNN_BENCH_DELAYS=low,high (as for the Rust bench): every synapse gets a
delay uniform in [low, high] ms (`S.delay = 'low*ms + rand()*(high-low)*ms'`).
"""
import os
import sys
import time

import numpy as np
from brian2 import (NeuronGroup, Synapses, SpikeMonitor, Network, defaultclock,
                    ms, prefs, set_device, device)

N = int(sys.argv[1]) if len(sys.argv) > 1 else 10000
K = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
target = sys.argv[3] if len(sys.argv) > 3 else "cython"
rounds = int(sys.argv[4]) if len(sys.argv) > 4 else 1
standalone = target == "cpp_standalone"
if standalone:
    set_device("cpp_standalone", build_on_run=False)
else:
    prefs.codegen.target = target
defaultclock.dt = 0.1 * ms

Ne = N * 4 // 5
Ni = N - Ne
Ke = K * 4 // 5
Ki = K - Ke
scale = 1000.0 / K

eqs = """
dv/dt = (0.04*v**2 + 5*v + 140 - u + I)/ms : 1
du/dt = a*(b*v - u)/ms : 1
I : 1
sigma : 1 (constant)
a : 1 (constant)
b : 1 (constant)
c : 1 (constant)
d : 1 (constant)
"""


def fixed_in_degree(rng, n_pre, n_post, k):
    """k distinct presynaptic indices for every postsynaptic neuron."""
    pre = np.empty(n_post * k, dtype=np.int64)
    for j in range(n_post):
        pre[j * k:(j + 1) * k] = rng.choice(n_pre, size=k, replace=False)
    post = np.repeat(np.arange(n_post), k)
    return pre, post


for r in range(rounds):
    rng = np.random.default_rng(2003 + r)
    g = NeuronGroup(N, eqs, threshold="v >= 30", reset="v = c; u += d",
                    method="euler")
    re, ri = rng.random(Ne), rng.random(Ni)
    g.a = np.concatenate([0.02 * np.ones(Ne), 0.02 + 0.08 * ri])
    g.b = np.concatenate([0.2 * np.ones(Ne), 0.25 - 0.05 * ri])
    g.c = np.concatenate([-65 + 15 * re ** 2, -65 * np.ones(Ni)])
    g.d = np.concatenate([8 - 6 * re ** 2, 2 * np.ones(Ni)])
    g.sigma = np.concatenate([5 * np.sqrt(10) * np.ones(Ne), 2 * np.sqrt(10) * np.ones(Ni)])
    g.v = -65
    g.u = g.b * -65
    # The thalamic input of the step, drawn before the state update.
    g.run_regularly("I = sigma * randn()", when="before_groups")
    se = Synapses(g[:Ne], g, "w : 1 (constant)", on_pre="v_post += 0.1 * w")
    pre, post = fixed_in_degree(rng, Ne, N, Ke)
    se.connect(i=pre, j=post)
    se.w = 0.5 * scale * rng.random(len(pre))
    si = Synapses(g[Ne:], g, "w : 1 (constant)", on_pre="v_post += 0.1 * w")
    pre, post = fixed_in_degree(rng, Ni, N, Ki)
    si.connect(i=pre, j=post)
    si.w = -scale * rng.random(len(pre))
    if os.environ.get("SNN_BENCH_DELAYS"):
        lo, hi = (float(x) for x in os.environ["SNN_BENCH_DELAYS"].split(","))
        for s in (se, si):
            s.delay = f"{lo}*ms + rand()*{hi - lo}*ms"
    mon = SpikeMonitor(g)
    net = Network(g, se, si, mon)
    net.run(1 * ms)
    if standalone:
        net.run(1000 * ms, profile=True)
        device.build(directory=f"/tmp/brian2_sparse_{N}_{K}", compile=True, run=True)
        # The code objects' time in the profiled 1000 ms run.
        wall = sum(t for _, t in net.get_profiling_info())
    else:
        start = time.perf_counter()
        net.run(1000 * ms)
        wall = time.perf_counter() - start
    print(f"BRIAN2 {float(wall):.4f} {mon.num_spikes} {len(se) + len(si)}", flush=True)
    if standalone:
        break

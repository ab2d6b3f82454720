"""Brian2 reference for case (a) of benches/network.rs: the seed's `simple`
network (1000 Izhikevich neurons, a = 0.02, b = 0.2, c = -65, d = 8,
input 5, all-to-all weights N(0, 1) as a one-step current, dt = 0.1 ms,
T = 1000 ms), for comparing loop times side by side with ours on the same
machine at the same moment (see docs/performance.md).

    python benches/brian2_simple.py [cython|numpy] [rounds]

Prints one line per round: "BRIAN2 <seconds of the 1000 ms run> <spikes>".
A 1 ms run first compiles (or loads from Brian2's cache) the code, as the
bench's setup does for TensorFlow; the timed run is the 1000 ms after it.
Needs `pip install brian2` (not part of `cargo test`).
"""
import sys
import time

import numpy as np
from brian2 import (NeuronGroup, Synapses, SpikeMonitor, Network, defaultclock,
                    ms, prefs)

target = sys.argv[1] if len(sys.argv) > 1 else "cython"
rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 1
prefs.codegen.target = target
defaultclock.dt = 0.1 * ms
N = 1000

# Euler steps of the Izhikevich model; ours feeds a step's spikes through W
# as the next step's one-step current I, which moves v by dt * w: here each
# spike moves v_post by dt * w directly.
eqs = """
dv/dt = (0.04*v**2 + 5*v + 140 - u + I)/ms : 1
du/dt = a*(b*v - u)/ms : 1
I : 1
a : 1
b : 1
c : 1
d : 1
"""
for r in range(rounds):
    g = NeuronGroup(N, eqs, threshold="v >= 30", reset="v = c; u += d",
                    method="euler")
    g.a, g.b, g.c, g.d, g.I = 0.02, 0.2, -65, 8, 5
    g.v = -65
    g.u = 0.2 * -65
    s = Synapses(g, g, "w : 1", on_pre="v_post += 0.1 * w")
    s.connect()
    s.w = np.random.RandomState(123).randn(N * N)
    mon = SpikeMonitor(g)
    net = Network(g, s, mon)
    net.run(1 * ms)
    start = time.perf_counter()
    net.run(1000 * ms)
    wall = time.perf_counter() - start
    print(f"BRIAN2 {wall:.4f} {mon.num_spikes}", flush=True)

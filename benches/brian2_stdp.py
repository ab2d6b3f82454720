"""Brian2 twin of the `stdp` case of benches/network.rs and of
examples/stdp.rs: Song, Miller & Abbott (2000) as in Brian2's
examples/synapses/STDP.py (1000 Poisson inputs at 15 Hz onto one neuron
dv/dt = (ge (Ee - v) + El - v)/taum, dge/dt = -ge/taue, Euler; taum 10 ms,
taue 5 ms, Ee 0 mV, vt -54 mV, vr -60 mV, El -74 mV; STDP with traces,
taupre = taupost = 20 ms, gmax 0.01, dApre = 0.01 gmax, dApost = -1.05
dApre; w = rand() gmax); dt = 0.1 ms.

    python benches/brian2_stdp.py [cython|cpp_standalone|numpy] [rounds] [seconds] [neurons] [low high]

`neurons` (default 1): that many output neurons, every input onto each
(1000 x neurons plastic synapses; the bench's SNN_BENCH_STDP_POST).
`low high` (ms): a delay per synapse, `S.delay = low + rand() (high -
low)` (the bench's SNN_BENCH_DELAYS=low,high).

Prints one line per round: "BRIAN2 <seconds of the timed run> <output
spikes> <synapses>" and "WEIGHTS <fraction in each tenth of [0, gmax]>";
a 1 ms run first compiles the code. Not part of `cargo test`; needs `pip
install brian2`.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from brian2_run import SONG_STDP, setup, timed  # noqa: E402
from brian2 import (Hz, NeuronGroup, PoissonGroup, SpikeMonitor, Synapses,  # noqa: E402
                    mV, ms, seed)
import numpy as np  # noqa: E402

target, rounds = setup()
seconds = float(sys.argv[3]) if len(sys.argv) > 3 else 100.0
posts = int(sys.argv[4]) if len(sys.argv) > 4 else 1
delays = (float(sys.argv[5]), float(sys.argv[6])) if len(sys.argv) > 6 else None

N = 1000
taum, taupre, taupost, taue = 10 * ms, 20 * ms, 20 * ms, 5 * ms
Ee, vt, vr, El = 0 * mV, -54 * mV, -60 * mV, -74 * mV
F = 15 * Hz
gmax = 0.01
dApre = 0.01
dApost = -dApre * taupre / taupost * 1.05
dApost *= gmax
dApre *= gmax
eqs = """
dv/dt = (ge * (Ee-v) + El - v) / taum : volt
dge/dt = -ge / taue : 1
"""
for r in range(rounds):
    seed(1 + r)
    inputs = PoissonGroup(N, rates=F)
    neuron = NeuronGroup(posts, eqs, threshold="v>vt", reset="v = vr", method="euler")
    neuron.v = vr
    S = Synapses(inputs, neuron, **SONG_STDP)
    S.connect()
    S.w = "rand() * gmax"
    if delays is not None:
        S.delay = f"{delays[0]}*ms + rand() * {delays[1] - delays[0]}*ms"
    mon = SpikeMonitor(neuron)
    timed(target, "stdp", neuron, [S], mon, dict(globals()), seconds * 1000, [inputs])
    if target != "cpp_standalone":
        w = np.asarray(S.w) / gmax
        tenths = np.histogram(w, bins=10, range=(0, 1))[0] / len(w)
        print("WEIGHTS " + " ".join(f"{x:.3f}" for x in tenths), flush=True)
    if target == "cpp_standalone":
        break

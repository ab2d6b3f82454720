"""Brian2 twin of examples/delay_selection.rs: 1000 Poisson inputs at
15 (1 + cos(2 pi t / 25 ms)) Hz onto one neuron of Song et al. (2000)
(dv/dt = (ge (Ee - v) + El - v)/taum, dge/dt = -ge/taue, Euler; taum 10 ms,
taue 5 ms, Ee 0 mV, vt -54 mV, vr -60 mV, El -74 mV), additive STDP with
traces (taupre = taupost = 20 ms, gmax 0.01, dApre = 0.01 gmax, dApost =
-1.05 dApre), every weight gmax / 2, synapse i delayed by (i mod 250)
0.1 ms; dt = 0.1 ms.

    python benches/brian2_delay_selection.py [seconds] [seed]

Prints the output rate and the mean weight / gmax per ms of delay, as the
example does, so the delays the two select can be compared. Not part of
`cargo test`; needs `pip install brian2`.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from brian2_run import SONG_STDP  # noqa: E402
from brian2 import (Hz, NeuronGroup, PoissonGroup, SpikeMonitor, Synapses,
                    defaultclock, mV, ms, prefs, run, seed)  # noqa: E402
import numpy as np  # noqa: E402

seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 30.0
seed(int(sys.argv[2]) if len(sys.argv) > 2 else 1)
prefs.codegen.target = "cython"
defaultclock.dt = 0.1 * ms

N = 1000
taum, taupre, taupost, taue = 10 * ms, 20 * ms, 20 * ms, 5 * ms
Ee, vt, vr, El = 0 * mV, -54 * mV, -60 * mV, -74 * mV
gmax = 0.01
dApre = 0.01 * gmax
dApost = -dApre * taupre / taupost * 1.05
inputs = PoissonGroup(N, rates="15 * (1 + cos(2 * pi * t / (25 * ms))) * Hz")
neuron = NeuronGroup(1, """dv/dt = (ge * (Ee-v) + El - v) / taum : volt
                           dge/dt = -ge / taue : 1""",
                     threshold="v>vt", reset="v = vr", method="euler")
neuron.v = vr
S = Synapses(inputs, neuron, **SONG_STDP)
S.connect()
S.w = gmax / 2
S.delay = (np.arange(N) % 250) * 0.1 * ms
mon = SpikeMonitor(neuron)
run(seconds * 1000 * ms)
d = np.asarray(S.delay / ms)
w = np.asarray(S.w) / gmax
mean = [w[(d >= k - 1e-9) & (d < k + 1 - 1e-9)].mean() for k in range(25)]
print(f"output rate {mon.num_spikes / seconds:.1f} Hz")
print("mean weight / gmax per ms of delay: " + " ".join(f"{x:.2f}" for x in mean))

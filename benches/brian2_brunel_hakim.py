"""Brian2 twin of the `brunel_hakim` case of benches/network.rs and of
examples/brunel_hakim.rs: Brian2's examples/frompapers/Brunel_Hakim_1999.py
(5000 inhibitory LIF neurons, dV/dt = (-V + muext + sigmaext sqrt(tau)
xi)/tau with white noise xi, euler; tau 20 ms, theta 20 mV, Vr 10 mV,
refractory 2 ms (V keeps integrating), muext 25 mV, sigmaext 1 mV; V = Vr
at the start; connect(p=0.2), V += -J (J = 0.1 mV) with delay 2 ms);
dt = 0.1 ms.

    python benches/brian2_brunel_hakim.py [cython|cpp_standalone|numpy] [rounds]
    python benches/brian2_brunel_hakim.py stats [seeds]

Timing: one line per round, "BRIAN2 <seconds of the 1000 ms run> <spikes>
<synapses>", after a 1 ms run that compiles (cpp_standalone: the time of
the 1000 ms run as Brian2's profiling reports it). `stats`: per seed, the
mean rate and the frequency of the population rate's largest spectral peak
above 20 Hz over 100..1000 ms ("STATS <seed> <Hz> <peak Hz>"), the numbers
examples/brunel_hakim.rs checks itself against. Not part of `cargo test`;
needs `pip install brian2`.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from brian2_run import setup_with_stats, stats as brian2_stats, timed  # noqa: E402
from brian2 import (  # noqa: E402
    NeuronGroup, Synapses, SpikeMonitor, ms, mV, seed,
)

stats, target, rounds = setup_with_stats()

N = 5000
Vr, theta = 10 * mV, 20 * mV
tau, delta, taurefr = 20 * ms, 2 * ms, 2 * ms
J, muext, sigmaext = 0.1 * mV, 25 * mV, 1 * mV
eqs = """
dV/dt = (-V + muext + sigmaext * sqrt(tau) * xi) / tau : volt
"""
for r in range(rounds):
    seed(1 + r)
    group = NeuronGroup(N, eqs, threshold="V > theta", reset="V = Vr",
                        refractory=taurefr, method="euler")
    group.V = Vr
    conn = Synapses(group, group, on_pre="V += -J", delay=delta)
    conn.connect(p=0.2)
    mon = SpikeMonitor(group)
    if stats:
        brian2_stats(1 + r, group, [conn], mon, dict(globals()))
        continue
    timed(target, "brunel_hakim", group, [conn], mon, dict(globals()))
    if target == "cpp_standalone":
        break

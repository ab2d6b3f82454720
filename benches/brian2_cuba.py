"""Brian2 twin of the `cuba` case of benches/network.rs and of
examples/cuba.rs: Brette et al. (2007) CUBA as in Brian2's examples/CUBA.py
(4000 LIF neurons, 3200 excitatory; dv/dt = (ge + gi - (v - El))/taum
unless refractory, dge/dt = -ge/taue, dgi/dt = -gi/taui; taum 20 ms, taue
5 ms, taui 10 ms, Vt -50 mV, Vr -60 mV, El -49 mV; threshold v > Vt, reset
v = Vr, refractory 5 ms, exact; v = Vr + rand() (Vt - Vr); connect(p=0.02),
ge += we (60 * 0.27 / 10 mV), gi += wi (-20 * 4.5 / 10 mV)); dt = 0.1 ms.

    python benches/brian2_cuba.py [cython|cpp_standalone|numpy] [rounds]

Prints one line per round: "BRIAN2 <seconds of the 1000 ms run> <spikes>
<synapses>"; a 1 ms run first compiles the code (cpp_standalone: the time
of the 1000 ms run as Brian2's profiling reports it). Not part of
`cargo test`; needs `pip install brian2`.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from brian2_run import setup, timed  # noqa: E402
from brian2 import NeuronGroup, Synapses, SpikeMonitor, ms, mV, seed  # noqa: E402

target, rounds = setup()

taum, taue, taui = 20 * ms, 5 * ms, 10 * ms
Vt, Vr, El = -50 * mV, -60 * mV, -49 * mV
eqs = """
dv/dt  = (ge+gi-(v-El))/taum : volt (unless refractory)
dge/dt = -ge/taue : volt
dgi/dt = -gi/taui : volt
"""
for r in range(rounds):
    seed(1 + r)
    P = NeuronGroup(4000, eqs, threshold="v>Vt", reset="v = Vr", refractory=5 * ms,
                    method="exact")
    P.v = "Vr + rand() * (Vt - Vr)"
    P.ge = 0 * mV
    P.gi = 0 * mV
    we = (60 * 0.27 / 10) * mV
    wi = (-20 * 4.5 / 10) * mV
    Ce = Synapses(P[:3200], P, on_pre="ge += we")
    Ci = Synapses(P[3200:], P, on_pre="gi += wi")
    Ce.connect(p=0.02)
    Ci.connect(p=0.02)
    mon = SpikeMonitor(P)
    timed(target, "cuba", P, [Ce, Ci], mon, dict(globals()))
    if target == "cpp_standalone":
        break

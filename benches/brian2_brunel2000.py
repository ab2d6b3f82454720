"""Brian2 twin of the `brunel2000` case of benches/network.rs and of
examples/brunel2000.rs: Brian2's examples/frompapers/Brunel_2000.py (Fig.
8): 10 000 excitatory and 2500 inhibitory LIF neurons, dv/dt = -v/tau
unless refractory (exact), tau 20 ms, theta 20 mV, V_r 10 mV, refractory
2 ms; connect(p=0.1) from each population to all, v += J (J = 0.1 mV) from
excitatory and v += -g J from inhibitory neurons, delay 1.5 ms;
PoissonInput(neurons, 'v', N=1000, rate=nu_ext, weight=J) with nu_ext =
ratio x 10 Hz (the threshold rate theta / (J C_E tau)); dt = 0.1 ms.

    python benches/brian2_brunel2000.py [cython|cpp_standalone|numpy] [rounds] [panel]
    python benches/brian2_brunel2000.py stats [seeds] [panel]

Panels: B (g = 6, ratio 4: asynchronous irregular; the default), C (g =
5, ratio 2: synchronous irregular, fast). Timing: one line per round,
"BRIAN2 <seconds of the 1000 ms run> <spikes> <synapses>" after a 1 ms run
that compiles. `stats`: per seed, "STATS <seed> <mean rate Hz> <peak Hz>"
(the population rate's largest spectral peak above 20 Hz over 100..1000
ms), the numbers examples/brunel2000.rs checks itself against. Not part of
`cargo test`; needs `pip install brian2`.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from brian2_run import setup_with_stats, stats as brian2_stats, timed  # noqa: E402
from brian2 import (  # noqa: E402
    NeuronGroup, PoissonInput, Synapses, SpikeMonitor, Hz, ms, mV,
    seed,
)

stats, target, rounds = setup_with_stats()
panel = sys.argv[3] if len(sys.argv) > 3 else "B"
g, ratio = {"B": (6.0, 4.0), "C": (5.0, 2.0)}[panel]

N_E, N_I = 10000, 2500
N = N_E + N_I
epsilon = 0.1
C_E = int(epsilon * N_E)
tau, theta, V_r, tau_rp = 20 * ms, 20 * mV, 10 * mV, 2 * ms
J, D = 0.1 * mV, 1.5 * ms
nu_thr = theta / (J * C_E * tau)
nu_ext = ratio * nu_thr
for r in range(rounds):
    seed(1 + r)
    neurons = NeuronGroup(N, "dv/dt = -v/tau : volt (unless refractory)",
                          threshold="v > theta", reset="v = V_r", refractory=tau_rp,
                          method="exact")
    exc = Synapses(neurons[:N_E], neurons, on_pre="v += J", delay=D)
    exc.connect(p=epsilon)
    inh = Synapses(neurons[N_E:], neurons, on_pre="v += -g*J", delay=D)
    inh.connect(p=epsilon)
    ext = PoissonInput(neurons, "v", C_E, nu_ext, weight=J)
    mon = SpikeMonitor(neurons)
    if stats:
        brian2_stats(1 + r, neurons, [exc, inh, ext], mon, dict(globals()))
        continue
    timed(target, f"brunel2000_{panel}", neurons, [exc, inh], mon, dict(globals()),
          extra=[ext])
    if target == "cpp_standalone":
        break

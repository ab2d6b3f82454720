"""Brian2 twin of the `cobahh` case of benches/network.rs and of
examples/cobahh.rs: Brette et al. (2007) COBAHH as in Brian2's
examples/COBAHH.py (4000 Traub-Miles HH neurons, 3200 excitatory;
conductance synapses ge += 6 nS, gi += 67 nS, taue 5 ms, taui 10 ms, Ee
0 mV, Ei -80 mV; area 20000 um^2; threshold v > -20 mV, refractory 3 ms;
exponential_euler; connect(p=0.02); v = El + (randn() * 5 - 5) mV,
ge = (randn() * 1.5 + 4) * 10 nS, gi = (randn() * 12 + 20) * 10 nS);
dt = 0.1 ms.

    python benches/brian2_cobahh.py [cython|cpp_standalone|numpy] [rounds]

Prints one line per round: "BRIAN2 <seconds of the 1000 ms run> <spikes>
<synapses>"; a 1 ms run first compiles the code (cpp_standalone: the time
of the 1000 ms run as Brian2's profiling reports it). Not part of
`cargo test`; needs `pip install brian2`.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from brian2_run import setup, timed  # noqa: E402
from brian2 import (NeuronGroup, Synapses, SpikeMonitor, Equations,  # noqa: E402
                    ms, mV, nS, umetre, ufarad, cm, siemens, msiemens, seed)

target, rounds = setup()

area = 20000 * umetre ** 2
Cm = (1 * ufarad * cm ** -2) * area
gl = (5e-5 * siemens * cm ** -2) * area
El, EK, ENa = -60 * mV, -90 * mV, 50 * mV
g_na = (100 * msiemens * cm ** -2) * area
g_kd = (30 * msiemens * cm ** -2) * area
VT = -63 * mV
taue, taui = 5 * ms, 10 * ms
Ee, Ei = 0 * mV, -80 * mV
we, wi = 6 * nS, 67 * nS
eqs = Equations("""
dv/dt = (gl*(El-v)+ge*(Ee-v)+gi*(Ei-v)-
         g_na*(m*m*m)*h*(v-ENa)-
         g_kd*(n*n*n*n)*(v-EK))/Cm : volt
dm/dt = alpha_m*(1-m)-beta_m*m : 1
dn/dt = alpha_n*(1-n)-beta_n*n : 1
dh/dt = alpha_h*(1-h)-beta_h*h : 1
dge/dt = -ge*(1./taue) : siemens
dgi/dt = -gi*(1./taui) : siemens
alpha_m = 0.32*(mV**-1)*4*mV/exprel((13*mV-v+VT)/(4*mV))/ms : Hz
beta_m = 0.28*(mV**-1)*5*mV/exprel((v-VT-40*mV)/(5*mV))/ms : Hz
alpha_h = 0.128*exp((17*mV-v+VT)/(18*mV))/ms : Hz
beta_h = 4./(1+exp((40*mV-v+VT)/(5*mV)))/ms : Hz
alpha_n = 0.032*(mV**-1)*5*mV/exprel((15*mV-v+VT)/(5*mV))/ms : Hz
beta_n = .5*exp((10*mV-v+VT)/(40*mV))/ms : Hz
""")
for r in range(rounds):
    seed(2 + r)
    P = NeuronGroup(4000, model=eqs, threshold="v>-20*mV", refractory=3 * ms,
                    method="exponential_euler")
    Ce = Synapses(P[:3200], P, on_pre="ge+=we")
    Ci = Synapses(P[3200:], P, on_pre="gi+=wi")
    Ce.connect(p=0.02)
    Ci.connect(p=0.02)
    P.v = "El + (randn() * 5 - 5)*mV"
    P.ge = "(randn() * 1.5 + 4) * 10.*nS"
    P.gi = "(randn() * 12 + 20) * 10.*nS"
    mon = SpikeMonitor(P)
    timed(target, "cobahh", P, [Ce, Ci], mon, dict(globals()))
    if target == "cpp_standalone":
        break

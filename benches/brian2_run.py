"""What the Brian2 twins of the Brette et al. (2007) cases share: the code
generation target from the command line, a timed 1000 ms run after a
1 ms run that compiles (cpp_standalone: the time Brian2's profiling reports
for the 1000 ms run), and the rate and rhythm statistics of the Brunel
twins. Imported by the brian2_*.py twins."""
import sys
import time

from brian2 import Network, defaultclock, device, ms, prefs, set_device


# Song et al. (2000)'s synapses as Brian2's examples/synapses/STDP.py writes
# them (`Synapses(pre, post, **SONG_STDP)`; taupre, taupost, gmax, dApre and
# dApost come from the calling script's namespace), shared by the twins of
# the `stdp` case and of examples/delay_selection.rs.
SONG_STDP = dict(
    model="""w : 1
             dApre/dt = -Apre / taupre : 1 (event-driven)
             dApost/dt = -Apost / taupost : 1 (event-driven)""",
    on_pre="""ge += w
              Apre += dApre
              w = clip(w + Apost, 0, gmax)""",
    on_post="""Apost += dApost
               w = clip(w + Apre, 0, gmax)""",
)


def setup():
    """The target (argv[1], default cython) and rounds (argv[2], default 1),
    with the device and dt = 0.1 ms set."""
    target = sys.argv[1] if len(sys.argv) > 1 else "cython"
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    if target == "cpp_standalone":
        set_device("cpp_standalone", build_on_run=False)
    else:
        prefs.codegen.target = target
    defaultclock.dt = 0.1 * ms
    return target, rounds


def setup_with_stats():
    """As setup(), or with argv[1] "stats" (argv[2] seeds, default 3) the
    Cython target and dt = 0.1 ms for stats(): (stats?, target, rounds)."""
    if len(sys.argv) > 1 and sys.argv[1] == "stats":
        prefs.codegen.target = "cython"
        defaultclock.dt = 0.1 * ms
        return True, "cython", int(sys.argv[2]) if len(sys.argv) > 2 else 3
    target, rounds = setup()
    return False, target, rounds


def timed(target, name, group, synapses, monitor, namespace, duration_ms=1000, extra=()):
    """Run the network for 1 ms, then time `duration_ms` (1000 ms), its
    constants taken from `namespace` (the script's); print "BRIAN2
    <seconds> <spikes> <synapses>". `extra`: more objects of the network
    (inputs)."""
    net = Network(group, *synapses, monitor, *extra)
    net.run(1 * ms, namespace=namespace)
    if target == "cpp_standalone":
        net.run(duration_ms * ms, profile=True, namespace=namespace)
        device.build(directory=f"/tmp/brian2_{name}", compile=True, run=True)
        wall = sum(t for _, t in net.get_profiling_info())
    else:
        start = time.perf_counter()
        net.run(duration_ms * ms, namespace=namespace)
        wall = time.perf_counter() - start
    print(f"BRIAN2 {float(wall):.4f} {monitor.num_spikes} {sum(len(s) for s in synapses)}",
          flush=True)


def stats(seed_number, group, others, monitor, namespace):
    """Run the network of `group`, `others` (synapses, inputs) and
    `monitor` for 1000 ms with a population rate monitor, its constants
    taken from `namespace` (the script's); print "STATS <seed> <mean rate
    Hz> <peak Hz>", the peak being the frequency of the largest spectral
    peak of the population rate above 20 Hz over 100..1000 ms (dt = 0.1
    ms)."""
    import numpy as np
    from brian2 import PopulationRateMonitor

    rate = PopulationRateMonitor(group)
    Network(group, *others, monitor, rate).run(1000 * ms, namespace=namespace)
    r_t = np.asarray(rate.rate)[1000:]
    spectrum = np.abs(np.fft.rfft(r_t - r_t.mean())) ** 2
    freqs = np.fft.rfftfreq(len(r_t), d=1e-4)
    above = freqs > 20
    peak = freqs[above][np.argmax(spectrum[above])]
    print(f"STATS {seed_number} {monitor.num_spikes / len(group):.3f} {peak:.1f}", flush=True)

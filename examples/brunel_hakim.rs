//! Brunel & Hakim (1999), as in Brian2's
//! `examples/frompapers/Brunel_Hakim_1999.py`: 5000 inhibitory
//! integrate-and-fire neurons driven by a mean input and white noise
//! (`xi`, integrated by Euler–Maruyama), connected at random with
//! probability 0.2, each spike lowering its targets' `V` by 0.1 mV after 2
//! ms. Neurons fire irregularly at a few Hz while the population oscillates
//! fast. 1000 ms at dt = 0.1 ms; units mV and ms.
//!
//! Writes the raster and population rate of the first 100 ms to
//! `out/brunel_hakim.png` and the graph to `graphs/brunel_hakim/`, prints
//! the mean rate and the oscillation's frequency (the largest peak of the
//! population rate's spectrum above 20 Hz, over 100..1000 ms), and checks
//! both against Brian2's twin (`benches/brian2_brunel_hakim.py stats`: 3.54
//! Hz and 136 Hz over three seeds).
use std::time::Instant;

use snn::equations::{Method, NeuronModel};
use snn::network::{plot, Connection, Network, Nucleus, NucleusId, Record, Weights};

#[path = "shared/rhythm.rs"]
mod rhythm;

/// The neuron: `V` relaxes to `muext` with time constant `tau` under noise
/// of amplitude `sigmaext`; threshold 20 mV, reset 10 mV, refractory 2 ms
/// (`V` keeps integrating meanwhile, as in Brian2's example).
pub fn neuron() -> NeuronModel {
    NeuronModel::new()
        .named("brunel_hakim")
        .equation("V", "(-V + muext + sigmaext * sqrt(tau) * xi) / tau")
        .param("tau", 20.0)
        .param("muext", 25.0)
        .param("sigmaext", 1.0)
        .param("theta", 20.0)
        .param("Vr", 10.0)
        .init("V", "Vr")
        .threshold("V > theta")
        .reset("V = Vr")
        .refractory(2.0)
        .method(Method::Euler)
}

/// `n` neurons connected with probability `p`, `V += -w` with `w = J` =
/// 0.1 mV after `delay` ms.
pub fn network(n: usize, p: f64, seed: u64, record: Record) -> snn::Result<(Network, NucleusId)> {
    let mut net = Network::new().named("brunel_hakim").seed(seed);
    let g = net.add(Nucleus::with_model("G", n, neuron()).record(record))?;
    net.connect_with(
        Connection::new(g, g, Weights::random(p, 0.1, 10 * seed + 1))
            .on_pre("V += -w")
            .delay(2.0),
    )?;
    Ok((net, g))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (n, dt) = (5000, 0.1);
    let (net, g) = network(n, 0.2, 1, Record::spikes())?;
    let started = Instant::now();
    let mut sim = net.build(dt)?;
    let built = started.elapsed();
    let rec = sim.run(1000.0)?;
    let ran = started.elapsed() - built;
    std::fs::create_dir_all("out")?;
    plot::raster_and_rate(&rec, g, 0.0..100.0, 0.5, "out/brunel_hakim.png")?;
    let rate = rec.firing_rate(g)?;
    let peak = rhythm::rhythm(&rec, g)?;
    println!(
        "brunel_hakim: {n} neurons, {} steps in {:.2} s (build {:.2} s); mean rate {rate:.2} Hz, \
         population oscillation at {peak:.1} Hz (Brian2: 3.54 Hz, 136 Hz); graph in {}",
        rec.steps,
        ran.as_secs_f64(),
        built.as_secs_f64(),
        sim.event_dir()
            .map(|d| d.display().to_string())
            .unwrap_or_default()
    );
    if !(3.2..3.9).contains(&rate) {
        return Err(format!("mean rate {rate:.2} Hz, Brian2's is 3.54 Hz").into());
    }
    if !(125.0..150.0).contains(&peak) {
        return Err(format!("oscillation at {peak:.1} Hz, Brian2's at 136 Hz").into());
    }
    Ok(())
}

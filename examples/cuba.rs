//! Brette et al. (2007) CUBA, as in Brian2's `examples/CUBA.py`: 4000
//! leaky integrate-and-fire neurons (3200 excitatory, 800 inhibitory) with
//! current-based exponential synapses, written as equations and integrated
//! exactly; connection probability 0.02, `ge += we` from the excitatory and
//! `gi += wi` from the inhibitory neurons; refractory 5 ms; 1000 ms at
//! dt = 0.1 ms. Units: mV and ms. Writes a raster of both populations and
//! `v` of three neurons to `out/`, the graph to `graphs/cuba/`, prints the
//! rates, and checks them against Brian2's (about 5.75 Hz here).
use std::time::Instant;

use snn::equations::{Method, NeuronModel};
use snn::network::{plot, Connection, Network, Nucleus, Probe, Record, Weights};

/// The model of both populations.
pub fn lif() -> NeuronModel {
    NeuronModel::new()
        .named("cuba")
        .equation("v", "(ge + gi - (v - El)) / taum")
        .unless_refractory()
        .equation("ge", "-ge / taue")
        .equation("gi", "-gi / taui")
        .param("taum", 20.0)
        .param("taue", 5.0)
        .param("taui", 10.0)
        .param("Vt", -50.0)
        .param("Vr", -60.0)
        .param("El", -49.0)
        .init("v", "Vr + rand() * (Vt - Vr)")
        .threshold("v > Vt")
        .reset("v = Vr")
        .refractory(5.0)
        .method(Method::Exact)
}

/// The network: excitatory `E` and inhibitory `I` nuclei of `n` neurons
/// together, connected with probability `p` (Brian2's `connect(p=...)`).
pub fn cuba(
    n: usize,
    p: f64,
    record: Record,
) -> snn::Result<(Network, [snn::network::NucleusId; 2])> {
    let (we, wi) = (60.0 * 0.27 / 10.0, -20.0 * 4.5 / 10.0);
    let ne = n * 4 / 5;
    let mut net = Network::new().named("cuba").seed(1);
    let e = net.add(Nucleus::with_model("E", ne, lif()).record(record.clone()))?;
    let i = net.add(Nucleus::with_model("I", n - ne, lif()).record(record))?;
    let mut seed = 10;
    for (pre, w, statement) in [(e, we, "ge += w"), (i, wi, "gi += w")] {
        for post in [e, i] {
            seed += 1;
            net.connect_with(
                Connection::new(pre, post, Weights::random(p, w, seed)).on_pre(statement),
            )?;
        }
    }
    Ok((net, [e, i]))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (dt, t_ms) = (0.1, 1000.0);
    let record = Record::spikes().var("v", Probe::Neurons(vec![0, 1, 2]));
    let (net, [e, i]) = cuba(4000, 0.02, record)?;
    let started = Instant::now();
    let mut sim = net.build(dt)?;
    let built = started.elapsed();
    let rec = sim.run(t_ms)?;
    let ran = started.elapsed() - built;
    std::fs::create_dir_all("out")?;
    plot::raster_grid(&rec, "out/cuba_raster.png")?;
    plot::plot_traces(&rec, &[(e, 0), (e, 1), (e, 2)], &["v"], "out/cuba_v.png")?;
    let (re, ri) = (rec.firing_rate(e)?, rec.firing_rate(i)?);
    let all = (re * 3200.0 + ri * 800.0) / 4000.0;
    println!(
        "cuba: 4000 neurons, {} steps in {:.2} s (build {:.2} s); E {re:.2} Hz, I {ri:.2} Hz, all {all:.2} Hz \
         (Brian2: about 5.75 Hz); graph in {}",
        rec.steps,
        ran.as_secs_f64(),
        built.as_secs_f64(),
        sim.event_dir().map(|d| d.display().to_string()).unwrap_or_default()
    );
    // The check: the network's asynchronous irregular state, at Brian2's
    // rate within the spread of random connectivity.
    if !(3.0..9.0).contains(&all) {
        return Err(format!("cuba: mean rate {all:.2} Hz, Brian2 fires about 5.75 Hz").into());
    }
    Ok(())
}

//! What the two Brette et al. (2007) examples share (`cuba`, `cobahh`):
//! the network of excitatory and inhibitory neurons connected at random,
//! and the run that draws, prints and checks it.
use std::time::Instant;

use snn::equations::NeuronModel;
use snn::network::{
    plot, Connection, Network, Nucleus, NucleusId, Probe, Record, Subgroup, Weights,
};

/// A Brette et al. (2007) network: the nucleus `P` and its excitatory and
/// inhibitory subgroups.
pub struct Brette {
    pub net: Network,
    pub p: NucleusId,
    pub exc: Subgroup,
    pub inh: Subgroup,
}

/// `n` neurons of `model` named `name`, as Brian2's examples write them:
/// one nucleus `P`, its first 80% excitatory (`exc`), the rest inhibitory
/// (`inh`); each subgroup connected to all of `P` with probability `p`
/// (Brian2's `connect(p=...)`), `ge += w` with weight `we` from `exc`,
/// `gi += w` with `wi` from `inh`; `seed` keys the initial values and the
/// connectivity.
pub fn network(
    name: &str,
    model: NeuronModel,
    n: usize,
    p: f64,
    (we, wi): (f64, f64),
    seed: u64,
    record: Record,
) -> snn::Result<Brette> {
    let ne = n * 4 / 5;
    let mut net = Network::new().named(name).seed(seed);
    let pop = net.add(Nucleus::with_model("P", n, model).record(record))?;
    let (exc, inh) = (pop.subgroup(0..ne), pop.subgroup(ne..n));
    for (k, (pre, w, statement)) in [(&exc, we, "ge += w"), (&inh, wi, "gi += w")]
        .into_iter()
        .enumerate()
    {
        let weights = Weights::random(p, w, 10 * seed + k as u64 + 1);
        net.connect_with(Connection::new(pre.clone(), pop, weights).on_pre(statement))?;
    }
    Ok(Brette {
        net,
        p: pop,
        exc,
        inh,
    })
}

/// Run `build(record)`'s network of 4000 neurons for 1000 ms at dt = 0.1
/// ms, draw its raster and `v` of `traced` neurons into
/// `out/<name>_*.png`, print the rates, and fail unless the mean rate lies
/// in `expected` (Brian2's `brian2_hz` within the spread of random
/// connectivity).
pub fn run(
    name: &str,
    build: impl Fn(Record) -> snn::Result<Brette>,
    traced: &[usize],
    brian2_hz: f64,
    expected: std::ops::Range<f64>,
) -> Result<(), Box<dyn std::error::Error>> {
    let record = Record::spikes().var("v", Probe::Neurons(traced.to_vec()));
    let Brette { net, p, exc, inh } = build(record)?;
    let started = Instant::now();
    let mut sim = net.build(0.1)?;
    let built = started.elapsed();
    let rec = sim.run(1000.0)?;
    let ran = started.elapsed() - built;
    std::fs::create_dir_all("out")?;
    plot::raster_grid(&rec, format!("out/{name}_raster.png"))?;
    let neurons: Vec<(NucleusId, usize)> = traced.iter().map(|&k| (p, k)).collect();
    plot::plot_traces(&rec, &neurons, &["v"], format!("out/{name}_v.png"))?;
    let (re, ri, all) = (
        rec.firing_rate(exc)?,
        rec.firing_rate(inh)?,
        rec.firing_rate(p)?,
    );
    println!(
        "{name}: {} neurons, {} steps in {:.2} s (build {:.2} s); excitatory {re:.2} Hz, \
         inhibitory {ri:.2} Hz, all {all:.2} Hz (Brian2: about {brian2_hz} Hz); graph in {}",
        rec.nucleus(p)?.n,
        rec.steps,
        ran.as_secs_f64(),
        built.as_secs_f64(),
        sim.event_dir()
            .map(|d| d.display().to_string())
            .unwrap_or_default()
    );
    if !expected.contains(&all) {
        return Err(
            format!("{name}: mean rate {all:.2} Hz, Brian2 fires about {brian2_hz} Hz").into(),
        );
    }
    Ok(())
}

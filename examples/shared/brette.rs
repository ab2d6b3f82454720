//! What the two Brette et al. (2007) examples share (`cuba`, `cobahh`):
//! the network of excitatory and inhibitory populations connected at
//! random, and the run that draws, prints and checks it.
use std::time::Instant;

use snn::equations::NeuronModel;
use snn::network::{plot, Connection, Network, Nucleus, NucleusId, Probe, Record, Weights};

/// `n` neurons of `model` named `name`: 80% in nucleus `E`, 20% in `I`,
/// each pair of nuclei connected with probability `p` (Brian2's
/// `connect(p=...)`), `ge += w` with weight `we` from `E`, `gi += w` with
/// `wi` from `I`; `seed` keys the initial values and the connectivity.
pub fn network(
    name: &str,
    model: NeuronModel,
    n: usize,
    p: f64,
    (we, wi): (f64, f64),
    seed: u64,
    record: Record,
) -> snn::Result<(Network, [NucleusId; 2])> {
    let ne = n * 4 / 5;
    let mut net = Network::new().named(name).seed(seed);
    let e = net.add(Nucleus::with_model("E", ne, model.clone()).record(record.clone()))?;
    let i = net.add(Nucleus::with_model("I", n - ne, model).record(record))?;
    let mut conn_seed = 10 * seed;
    for (pre, w, statement) in [(e, we, "ge += w"), (i, wi, "gi += w")] {
        for post in [e, i] {
            conn_seed += 1;
            let weights = Weights::random(p, w, conn_seed);
            net.connect_with(Connection::new(pre, post, weights).on_pre(statement))?;
        }
    }
    Ok((net, [e, i]))
}

/// Run `build(record)`'s network of 4000 neurons for 1000 ms at dt = 0.1
/// ms, draw its raster and `v` of `traced` neurons of `E` into
/// `out/<name>_*.png`, print the rates, and fail unless the mean rate lies
/// in `expected` (Brian2's `brian2_hz` within the spread of random
/// connectivity).
pub fn run(
    name: &str,
    build: impl Fn(Record) -> snn::Result<(Network, [NucleusId; 2])>,
    traced: &[usize],
    brian2_hz: f64,
    expected: std::ops::Range<f64>,
) -> Result<(), Box<dyn std::error::Error>> {
    let record = Record::spikes().var("v", Probe::Neurons(traced.to_vec()));
    let (net, [e, i]) = build(record)?;
    let started = Instant::now();
    let mut sim = net.build(0.1)?;
    let built = started.elapsed();
    let rec = sim.run(1000.0)?;
    let ran = started.elapsed() - built;
    std::fs::create_dir_all("out")?;
    plot::raster_grid(&rec, format!("out/{name}_raster.png"))?;
    let neurons: Vec<(NucleusId, usize)> = traced.iter().map(|&k| (e, k)).collect();
    plot::plot_traces(&rec, &neurons, &["v"], format!("out/{name}_v.png"))?;
    let (re, ri) = (rec.firing_rate(e)?, rec.firing_rate(i)?);
    let all = (re * 3200.0 + ri * 800.0) / 4000.0;
    println!(
        "{name}: 4000 neurons, {} steps in {:.2} s (build {:.2} s); E {re:.2} Hz, I {ri:.2} Hz, \
         all {all:.2} Hz (Brian2: about {brian2_hz} Hz); graph in {}",
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

//! The original library's simple example: 1000 fully interconnected
//! regular-spiking Izhikevich neurons, input 5, weights N(0, 1), voltage-jump
//! synapses, T = 1000 ms, dt = 0.1 ms. Writes a raster plot and the trace of
//! neuron 0 to `out/`, and the graph to `graphs/simple/` for TensorBoard.
use std::time::Instant;

use ndarray::Array2;
use rand::SeedableRng;
use rand_distr::{Distribution, Normal};
use snn::network::{plot, Network, Nucleus, Record, StateVar};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (dt, size, t_ms) = (0.1, 1000, 1000.0);
    let mut rng = rand::rngs::StdRng::seed_from_u64(123);
    let normal = Normal::new(0.0, 1.0)?;
    let w = Array2::from_shape_simple_fn((size, size), || normal.sample(&mut rng));

    let mut net = Network::new().named("simple");
    let n = net.add(
        Nucleus::new("N", size)
            .abcd(0.02, 0.2, -65.0, 8.0)
            .input(5.0)
            .record(Record::traces(&[0])),
    )?;
    net.connect(n, n, w)?;

    let started = Instant::now();
    let mut sim = net.build(dt)?;
    let built = started.elapsed();
    let rec = sim.run(t_ms)?;
    let ran = started.elapsed() - built;

    std::fs::create_dir_all("out")?;
    plot::raster_plot(&rec, n, "out/simple_raster.png")?;
    plot::plot_neuron_by_idx(&rec, &[(n, 0)], &[StateVar::V], "out/simple_v.png")?;
    rec.write_npz("out/simple.npz")?;

    let rate = rec.firing_rate(n)?;
    println!(
        "simple: {} neurons, {} steps in {:.2} s (build {:.2} s), {} spikes, {:.1} Hz; graph in {}",
        size,
        rec.steps,
        ran.as_secs_f64(),
        built.as_secs_f64(),
        rec.nuclei[0].spike_count,
        rate,
        sim.event_dir()
            .map(|d| d.display().to_string())
            .unwrap_or_default()
    );
    if !(1.0..200.0).contains(&rate) {
        return Err(format!("firing rate {rate} Hz is outside the plausible 1-200 Hz").into());
    }
    Ok(())
}

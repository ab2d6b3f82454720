//! The original's basal-ganglia model: seven nuclei with their sizes,
//! Izhikevich parameters, weight and delay matrices; weights divided by the
//! presynaptic size and randomised (1 + N(0,1)) |w| clipped at 0 with the sign
//! kept; excitatory kernel exp(-t/20) over 20 ms, inhibitory
//! (t/50) e^(1 - t/50) over 100 ms; cortex input 7 N(1, 3) per neuron per step
//! (drawn in the graph); T = 1000 ms, dt = 0.2 ms. The delays of 2.5 and 1.5
//! ms are not multiples of 0.2 ms: they are rounded to the nearest step, on
//! request, and reported.
//!
//! THE GOAL IS TO DEMONSTRATE THE LIBRARY, NOT A COMPLETE MODEL OF THE BASAL GANGLIA.
use std::time::Instant;

use ndarray::Array2;
use rand::SeedableRng;
use rand_distr::{Distribution, Normal};
use snn::network::{plot, Connection, Input, Network, Nucleus, NucleusId, Propagation, Record};

/// Nucleus labels, in order.
pub const NAMES: [&str; 7] = ["CTX", "D1", "D2", "Gpi", "TA", "TI", "STN"];
/// Nucleus sizes, in order.
pub const SIZES: [usize; 7] = [2000, 400, 400, 200, 300, 300, 200];

/// The model (also built by `benches/network.rs`, which includes this file).
pub fn basal_ganglia(
    propagation: Propagation,
) -> Result<(Network, Vec<NucleusId>), Box<dyn std::error::Error>> {
    basal_ganglia_recording(propagation, Record::default())
}

/// The same network, every nucleus recording `record`.
pub fn basal_ganglia_recording(
    propagation: Propagation,
    record: Record,
) -> Result<(Network, Vec<NucleusId>), Box<dyn std::error::Error>> {
    let (names, sizes) = (NAMES, SIZES);
    // a, b, c, d: CTX, Gpi regular spiking; D1, D2, TA, TI fast spiking; STN bursting.
    let params = [
        (0.02, 0.2, -65.0, 8.0),
        (0.1, 0.2, -65.0, 2.0),
        (0.1, 0.2, -65.0, 2.0),
        (0.02, 0.2, -65.0, 8.0),
        (0.1, 0.2, -65.0, 2.0),
        (0.1, 0.2, -65.0, 2.0),
        (0.02, 0.2, -55.0, 4.0),
    ];
    #[rustfmt::skip]
    let weights = [ // from row to column
        [0.0, 30.0,  6.0,   0.0,  0.0,  0.0, 30.0],
        [0.0, -2.0, -2.0, -10.0,  0.0,  0.0,  0.0],
        [0.0, -2.0, -3.0,   0.0, -2.0, -2.0,  0.0],
        [0.0,  0.0,  0.0,   0.0,  0.0,  0.0,  0.0],
        [0.0, -2.0, -2.0,   0.0, -2.0, -2.0, -2.0],
        [0.0, -2.0, -2.0,  -2.0, -2.0, -2.0, -4.0],
        [0.0,  0.0,  0.0,  20.0, 20.0, 20.0,  0.0],
    ];
    #[rustfmt::skip]
    let delays = [
        [0.0, 10.0, 10.0, 0.0, 0.0, 0.0, 2.5],
        [0.0, 14.0, 10.0, 7.0, 0.0, 0.0, 0.0],
        [0.0, 11.0, 13.0, 0.0, 5.0, 5.0, 0.0],
        [0.0,  0.0,  0.0, 0.0, 0.0, 0.0, 0.0],
        [0.0,  6.0,  6.0, 0.0, 1.0, 1.0, 4.0],
        [0.0,  6.0,  6.0, 3.0, 1.0, 1.0, 4.0],
        [0.0,  0.0,  0.0, 1.5, 2.0, 2.0, 0.0],
    ];
    let mut rng = rand::rngs::StdRng::seed_from_u64(123);
    let normal = Normal::new(0.0, 1.0)?;

    let mut net = Network::new().named("basal_ganglia");
    let mut ids = Vec::new();
    for (k, name) in names.iter().enumerate() {
        let (a, b, c, d) = params[k];
        let input = if *name == "CTX" {
            Input::noise(7.0, 21.0, 123)
        } else {
            Input::Constant(0.0)
        };
        ids.push(
            net.add(
                Nucleus::new(*name, sizes[k])
                    .abcd(a, b, c, d)
                    .input(input)
                    .record(record.clone()),
            )?,
        );
    }
    for i in 0..7 {
        for j in 0..7 {
            let weight = weights[i][j] / sizes[i] as f64;
            if weight == 0.0 {
                continue;
            }
            // (1 + N(0,1)) |w|, clipped at 0, sign kept; shape (pre.n, post.n).
            let w = Array2::from_shape_simple_fn((sizes[i], sizes[j]), || {
                weight.signum() * (weight.abs() * (1.0 + normal.sample(&mut rng))).max(0.0)
            });
            let c = Connection::new(ids[i], ids[j], w)
                .delay(delays[i][j])
                .round_to_step()
                .propagation(propagation);
            let c = if weight > 0.0 {
                c.kernel(|t| (-t / 20.0).exp(), 20.0)
            } else {
                c.kernel(|t| (t / 50.0) * (1.0 - t / 50.0).exp(), 100.0)
            };
            net.connect_with(c)?;
        }
    }
    Ok((net, ids))
}

#[allow(dead_code)]
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (t_ms, dt) = (1000.0, 0.2);
    let (names, sizes) = (NAMES, SIZES);
    let (net, ids) = basal_ganglia(Propagation::Auto)?;
    let started = Instant::now();
    let mut sim = net.build(dt)?;
    for note in sim.rounded() {
        println!("{note}");
    }
    let rec = sim.run(t_ms)?;
    let wall = started.elapsed().as_secs_f64();

    std::fs::create_dir_all("out")?;
    plot::raster_grid(&rec, "out/basal_ganglia_rasters.png")?;
    println!("{:<5} {:>6} {:>10}", "", "n", "rate (Hz)");
    let mut rates = Vec::new();
    for (k, id) in ids.iter().enumerate() {
        let r = rec.firing_rate(*id)?;
        println!("{:<5} {:>6} {:>10.2}", names[k], sizes[k], r);
        rates.push(r);
    }
    println!("simulated {t_ms} ms in {wall:.2} s");
    if rates.iter().any(|r| !r.is_finite() || *r > 500.0) || rates[0] <= 0.0 {
        return Err("implausible firing rates".into());
    }
    if sim.rounded().len() != 2 {
        return Err(format!(
            "expected the two delays 2.5 and 1.5 ms to be rounded, got {:?}",
            sim.rounded()
        )
        .into());
    }
    Ok(())
}

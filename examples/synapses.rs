//! The original's two-nucleus kernel-synapse example: N1 and N2 of 10
//! neurons; N1 gets 5 for t < 15 ms; N1 -> N2 weight 1, delay 30 ms, kernel
//! exp(-t/10) over 30 ms; N1 -> N1 weight 0.5, delay 50 ms, kernel
//! (t/50) e^(1 - t/50) over 100 ms (both rounded to whole 0.3 ms steps, on
//! request, and reported); T = 300 ms, dt = 0.3 ms.
use snn::network::{plot, Connection, Input, Network, Nucleus, Record, StateVar};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (dt, t_ms, n) = (0.3, 300.0, 10);
    let mut net = Network::new().named("synapses");
    let n1 = net.add(
        Nucleus::new("N1", n)
            .input(Input::function(|t, out| {
                out.fill(if t < 15.0 { 5.0 } else { 0.0 })
            }))
            .record(Record::traces(&[0])),
    )?;
    let n2 = net.add(Nucleus::new("N2", n).record(Record::traces(&[0])))?;
    net.connect_with(
        Connection::new(n1, n2, 1.0)
            .delay(30.0)
            .kernel(|t| (-t / 10.0).exp(), 30.0),
    )?;
    // 50 ms and 100 ms are not whole numbers of 0.3 ms steps: round, and say so.
    net.connect_with(
        Connection::new(n1, n1, 0.5)
            .delay(50.0)
            .kernel(|t| (t / 50.0) * (1.0 - t / 50.0).exp(), 100.0)
            .round_to_step(),
    )?;

    let mut sim = net.build(dt)?;
    for note in sim.rounded() {
        println!("{note}");
    }
    let rec = sim.run(t_ms)?;
    std::fs::create_dir_all("out")?;
    plot::plot_neuron_by_idx(
        &rec,
        &[(n1, 0), (n2, 0)],
        &[StateVar::V, StateVar::I],
        "out/synapses_traces.png",
    )?;
    plot::raster_grid(&rec, "out/synapses_raster.png")?;

    let (r1, r2) = (rec.firing_rate(n1)?, rec.firing_rate(n2)?);
    println!("firing rate N1: {r1:.2} Hz, N2: {r2:.2} Hz");
    let first_n1 = rec
        .spikes(n1)?
        .0
        .iter()
        .copied()
        .fold(f64::INFINITY, f64::min);
    let first_n2 = rec
        .spikes(n2)?
        .0
        .iter()
        .copied()
        .fold(f64::INFINITY, f64::min);
    println!("first spike N1 at {first_n1:.1} ms, N2 at {first_n2:.1} ms");
    // N2 has no input of its own: it can only fire after N1's spikes arrive,
    // 30 ms later.
    if !(r1 > 0.0 && r2 > 0.0 && first_n2 >= first_n1 + 30.0) {
        return Err("expected N1 to fire and N2 to follow at least 30 ms later".into());
    }
    Ok(())
}

//! The README's tour, as it is written there (`tests/readme.rs` checks that
//! every Rust block of the README appears here verbatim): a noise-driven
//! cortex projecting sparsely, with a delay and an exponential kernel, onto a
//! striatum; then one FitzHugh–Nagumo neuron and its phase plane. Writes its
//! pictures to `out/` and checks what it computed.

#[rustfmt::skip]
fn network_tour() -> Result<f64, Box<dyn std::error::Error>> {
    use snn::network::{plot, Connection, Input, Network, Nucleus, Record, StateVar, Weights};

    let mut net = Network::new().named("tour");
    let ctx = net.add(Nucleus::new("CTX", 800).input(Input::noise(5.0, 2.0, 1)).record(Record::traces(&[0])))?;
    let str_ = net.add(Nucleus::new("STR", 200).abcd(0.1, 0.2, -65.0, 2.0))?;
    net.connect_with(
        Connection::new(ctx, str_, Weights::fixed_in_degree(80, 0.5, 7))  // sparse, seeded
            .delay(2.0)                                                  // ms
            .kernel(|t| (-t / 5.0).exp(), 20.0),                         // exponential kernel, 20 ms window
    )?;
    let mut sim = net.build(0.1)?;            // a real TF graph; one session run per step
    let rec = sim.run(1000.0)?;               // spikes and traces as plain arrays
    println!("{:.1} Hz", rec.firing_rate(str_)?);
    plot::raster_plot(&rec, ctx, "out/ctx.png")?;
    plot::plot_neuron_by_idx(&rec, &[(ctx, 0)], &[StateVar::V], "out/ctx_v.png")?;
    rec.write_npz("out/run.npz")?;            // NumPy loads it

    // The check: cortex fires (noise of mean 5 drives regular-spiking
    // neurons), and the striatum fires only through its input from cortex.
    let (hz_ctx, hz_str) = (rec.firing_rate(ctx)?, rec.firing_rate(str_)?);
    if !(hz_ctx > 1.0 && hz_str > 0.0) {
        return Err(format!("tour: CTX {hz_ctx:.1} Hz, STR {hz_str:.1} Hz").into());
    }
    Ok(hz_str)
}

#[rustfmt::skip]
fn single_tour() -> Result<usize, Box<dyn std::error::Error>> {
    use snn::single::{plot, Model, PhasePlane, Variable};

    let v = Variable::new("v", "v -(1/3)* v **3 - w + I", 0.0);
    let w = Variable::new("w", "(1/ tau )*( v +a - b * w )", 0.0);
    let mut fhn = Model::new(vec![v, w]).param("a", 0.7).param("b", 0.8).param("tau", 12.5).param("I", 0.5);
    fhn.set("I", ".5 if t <500 else 0")?;           // like the original's fhn['I'] = ...
    let history = fhn.simulation(1000.0, 0.1)?;      // t, v, w, I as columns
    plot::time_plot(&fhn, &history, &["v", "I"], false, "out/fhn_time.png")?;
    let plane = fhn.phase_plane(&PhasePlane::new(("v", -2.5, 2.0), ("w", -1.0, 1.0)).trajectory(-2.0, -0.8))?;
    plot::phase_plane(&fhn, &plane, "out/fhn_phase_plane.png")?;

    // The check: 1000 ms at dt = 0.1 is 10000 steps, 10001 rows.
    let rows = history.column("t")?.len();
    if rows != 10_001 {
        return Err(format!("tour: {rows} rows of history, expected 10001").into());
    }
    Ok(rows)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    std::fs::create_dir_all("out")?;
    let hz = network_tour()?;
    let rows = single_tour()?;
    println!("tour: STR at {hz:.1} Hz; FitzHugh-Nagumo history of {rows} rows; pictures in out/");
    Ok(())
}

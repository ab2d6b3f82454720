//! Hodgkin–Huxley with Iapp = 10: V trace and the f–I curve.
//!
//! With the original's parameters the periodic action potentials peak at
//! 28.4 mV, below the shipped spike condition V >= 30 (which then counts only
//! the first one); this example counts spikes at V >= 0.
use snn::single::plot;
use snn::single::usual_models::hodgkin_huxley;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut hh = hodgkin_huxley().spike_when("V>=0");
    hh.set("Iapp", 10.0)?;
    let h = hh.simulation(100.0, 0.01)?;
    std::fs::create_dir_all("out")?;
    plot::time_plot(&hh, &h, &["V", "n", "m", "h"], true, "out/hh_time.png")?;

    let currents: Vec<f64> = (0..=15).map(|k| k as f64).collect();
    let curve = hh.fi_curve("Iapp", &currents, 500.0, 0.01, 100.0)?;
    plot::fi_plot(
        &[("Hodgkin-Huxley", &curve)],
        "Iapp (uA/cm2)",
        "out/hh_fi.png",
    )?;
    for (i, f) in &curve {
        println!("Iapp = {i:>4}: {f:6.1} Hz");
    }
    let rate10 = curve
        .iter()
        .find(|p| p.0 == 10.0)
        .map(|p| p.1)
        .unwrap_or(0.0);
    // The textbook squid axon fires near 68 Hz at 10 uA/cm2.
    if !(55.0..80.0).contains(&rate10) || curve[0].1 != 0.0 {
        return Err(format!("implausible f-I curve: {rate10} Hz at Iapp = 10").into());
    }
    Ok(())
}

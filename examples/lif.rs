//! Leaky integrate-and-fire: u trace, and the f–I curve against the closed
//! form rate = 1000 / (tau_m ln(RI / (RI - 1))) (plus the reset step).
use snn::single::plot;
use snn::single::usual_models::lif;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dt = 0.01;
    let mut m = lif();
    m.set("I", 1.5)?;
    let h = m.simulation(100.0, dt)?;
    std::fs::create_dir_all("out")?;
    plot::time_plot(&m, &h, &["u", "I"], true, "out/lif_time.png")?;

    let currents: Vec<f64> = (0..=30).map(|k| 0.5 + 0.1 * k as f64).collect();
    let sim = m.fi_curve("I", &currents, 1000.0, dt, 100.0)?;
    let closed: Vec<(f64, f64)> = currents
        .iter()
        .map(|&i| {
            (
                i,
                if i > 1.0 {
                    1000.0 / (10.0 * (i / (i - 1.0)).ln() + dt)
                } else {
                    0.0
                },
            )
        })
        .collect();
    plot::fi_plot(
        &[("simulated", &sim), ("closed form", &closed)],
        "I",
        "out/lif_fi.png",
    )?;
    let worst = sim
        .iter()
        .zip(&closed)
        .map(|(a, b)| (a.1 - b.1).abs())
        .fold(0.0, f64::max);
    println!("largest gap to the closed form: {worst:.2} Hz");
    if worst > 3.0 {
        return Err(format!("f-I curve differs from the closed form by {worst} Hz").into());
    }
    Ok(())
}

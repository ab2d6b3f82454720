//! One regular-spiking Izhikevich neuron (I = 10): v and u traces, and the
//! phase plane of v-u with its trajectory, where the reset (v -> c,
//! u -> u + d) shows as jumps.
use snn::single::usual_models::izhikevich;
use snn::single::{plot, PhasePlane};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut iz = izhikevich();
    iz.set("I", 10.0)?;
    let h = iz.simulation(300.0, 0.05)?;
    std::fs::create_dir_all("out")?;
    plot::time_plot(&iz, &h, &["v", "u"], true, "out/izhikevich_time.png")?;
    plot::phase_portrait(&iz, &h, "v", "u", "out/izhikevich_portrait.png")?;
    let spec = PhasePlane::new(("v", -80.0, 35.0), ("u", -20.0, 10.0))
        .trajectory(-65.0, -15.0)
        .duration(300.0, 0.05);
    let plane = iz.phase_plane(&spec)?;
    plot::phase_plane(&iz, &plane, "out/izhikevich_phase_plane.png")?;
    println!("{} spikes in 300 ms", h.spikes.len());
    if h.spikes.len() < 3 {
        return Err("expected tonic spiking".into());
    }
    Ok(())
}

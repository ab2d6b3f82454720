//! The seed's hand-built FitzHugh–Nagumo model (a = 0.7, b = 0.8,
//! tau = 12.5), I = 0.5 switched off at 500 ms: time plot of v and I, and the
//! phase plane over v in [-2.5, 2], w in [-1, 1] with nullclines, the fixed
//! point (of the model with I = 0) and a trajectory, also as an animated GIF.
use snn::single::{plot, Model, PhasePlane, Variable};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let v = Variable::new("v", "v -(1/3)* v **3 - w + I", 0.0);
    let w = Variable::new("w", "(1/ tau )*( v +a - b * w )", 0.0);
    // The seed defines no spike condition; v >= 1 marks the peaks of the oscillation.
    let mut fhn = Model::new(vec![v, w])
        .param("a", 0.7)
        .param("b", 0.8)
        .param("tau", 12.5)
        .param("I", 0.5)
        .spike_when("v>=1");

    fhn.set("I", ".5 if t <500 else 0")?;
    let history = fhn.simulation(1000.0, 0.1)?;
    std::fs::create_dir_all("out")?;
    plot::time_plot(&fhn, &history, &["v", "I"], false, "out/fhn_time.png")?;

    // The phase plane of the model at rest (I = 0).
    fhn.set("I", 0.0)?;
    let spec = PhasePlane::new(("v", -2.5, 2.0), ("w", -1.0, 1.0))
        .rescale(true)
        .trajectory(-2.0, -0.8)
        .trajectory(1.5, 0.9)
        .duration(150.0, 0.05);
    let plane = fhn.phase_plane(&spec)?;
    plot::phase_plane(&fhn, &plane, "out/fhn_phase_plane.png")?;
    plot::phase_plane(&fhn, &plane, "out/fhn_phase_plane.svg")?;
    plot::phase_plane_gif(&fhn, &plane, 0, 60, "out/fhn_trajectory.gif")?;

    for fp in &plane.fixed_points {
        println!(
            "fixed point ({:.4}, {:.4}): {} (eigenvalues {:?})",
            fp.x,
            fp.y,
            fp.kind.name(),
            fp.eigenvalues
        );
    }
    println!("spikes while I = 0.5: {}", history.spikes.len());
    // Oscillates while driven, then rests at its one stable fixed point.
    if plane.fixed_points.len() != 1
        || history.spikes.is_empty()
        || history.spikes.iter().any(|&t| t > 600.0)
    {
        return Err("expected spikes before 500 ms only, and one fixed point".into());
    }
    Ok(())
}

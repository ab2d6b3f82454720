//! Plots are written as real PNG/SVG files, titled and labelled as the
//! original did; asking for what was not recorded is an error.

mod common;

use common::tempdir;
use snn::network::{plot, Network, Nucleus, Record, SimOptions, StateVar};
use snn::single::usual_models::fitzhugh_nagumo;
use snn::single::{plot as splot, PhasePlane};

type R = Result<(), Box<dyn std::error::Error>>;

#[test]
fn network_plots_are_written() -> R {
    let dir = tempdir("net")?;
    let mut net = Network::new();
    let a = net.add(
        Nucleus::new("CTX", 5)
            .input(10.0)
            .record(Record::traces(&[0, 1])),
    )?;
    let rec = net
        .build_with(0.1, SimOptions::default().quiet().tensorboard(None))?
        .run(50.0)?;
    plot::raster_plot(&rec, a, dir.join("r.png"))?;
    plot::raster_plot(&rec, a, dir.join("r.svg"))?;
    plot::raster_grid(&rec, dir.join("grid.png"))?;
    plot::plot_neuron_by_idx(
        &rec,
        &[(a, 0), (a, 1)],
        &[StateVar::V, StateVar::I],
        dir.join("v.svg"),
    )?;
    let png = std::fs::read(dir.join("r.png"))?;
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    let svg = std::fs::read_to_string(dir.join("r.svg"))?;
    assert!(svg.contains("Raster plot of CTX"));
    let svg = std::fs::read_to_string(dir.join("v.svg"))?;
    assert!(svg.contains("Neuron CTX - 0") && svg.contains("Neuron CTX - 1"));
    // Neuron 3 was not recorded.
    let e =
        plot::plot_neuron_by_idx(&rec, &[(a, 3)], &[StateVar::V], dir.join("x.png")).unwrap_err();
    assert!(matches!(e, snn::Error::NotRecorded { .. }), "{e}");
    Ok(())
}

/// The learned-weight plots: weights against their index (and histogram)
/// or against their delays, with the output rate; mismatched or empty
/// inputs are errors, not panics.
#[test]
fn weight_plots_are_written() -> R {
    let dir = tempdir("weights")?;
    let w: Vec<f64> = (0..50).map(|i| 0.01 * (i % 10) as f64 / 9.0).collect();
    let d: Vec<f64> = (0..50).map(|i| 0.5 * i as f64).collect();
    let rate = [(0.5, 20.0), (1.5, 25.0)];
    plot::learned_weights(&w, 0.01, &rate, dir.join("w.svg"))?;
    plot::weights_by_delay(&d, &w, 0.01, &rate, dir.join("d.svg"))?;
    plot::weights_by_delay(&d, &w, 0.01, &rate, dir.join("d.png"))?;
    let svg = std::fs::read_to_string(dir.join("d.svg"))?;
    assert!(svg.contains("delay (ms)") && svg.contains("output rate (Hz)"));
    let svg = std::fs::read_to_string(dir.join("w.svg"))?;
    assert!(svg.contains("synapse index") && svg.contains("output rate (Hz)"));
    assert_eq!(&std::fs::read(dir.join("d.png"))?[..4], b"\x89PNG");
    for (d, w, max) in [
        (&d[..3], &w[..], 0.01),
        (&d[..0], &w[..0], 0.01),
        (&d[..], &w[..], 0.0),
    ] {
        let e = plot::weights_by_delay(d, w, max, &rate, dir.join("x.png")).unwrap_err();
        assert!(matches!(e, snn::Error::NotRecorded { .. }), "{e}");
    }
    Ok(())
}

/// `f` in a thread, its result within a minute, or a failure naming what
/// hung (plotters once computed the ticks of an infinite axis forever).
fn within_a_minute<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(std::time::Duration::from_secs(60))
        .unwrap_or_else(|_| panic!("{what} panicked or did not return within a minute"))
}

/// Times and values at the ends of f64 make typed errors or plots, not
/// hangs: infinite, NaN or reversed times for `raster_and_rate` are
/// `InvalidOption`; weights, delays and rates that are NaN, infinite or
/// near `f64::MAX` plot (the points off the axes are left out) or name the
/// axis that cannot be drawn.
#[test]
fn plots_of_extreme_values_finish() -> R {
    let dir = tempdir("extreme")?;
    let mut net = Network::new();
    let p = net.add(Nucleus::new("P", 3).input(10.0))?;
    let rec = net
        .build_with(0.1, SimOptions::default().quiet().tensorboard(None))?
        .run(5.0)?;
    for (a, b) in [
        (0.0, f64::INFINITY),
        (f64::NEG_INFINITY, 2.0),
        (f64::NAN, 2.0),
        (2.0, 0.0),
    ] {
        let (rec, path) = (rec.clone(), dir.join("rate.png"));
        let e = within_a_minute("raster_and_rate", move || {
            plot::raster_and_rate(&rec, p, a..b, 0.5, path)
        });
        assert!(
            matches!(e, Err(snn::Error::InvalidOption { .. })),
            "{a}..{b}: {e:?}"
        );
    }
    for x in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 1e308, -1e308] {
        let path = dir.join("w.png");
        within_a_minute("learned_weights", move || {
            let _ = plot::learned_weights(&[0.1, x, 0.2], 1.0, &[(0.0, 1.0), (x, x)], &path);
            let _ = plot::learned_weights(&[0.1, 0.2], x, &[(0.0, 1.0)], &path);
            let _ = plot::weights_by_delay(&[1.0, x], &[0.1, x], 1.0, &[(1.0, x)], &path);
        });
    }
    Ok(())
}

#[test]
fn phase_plane_svg_names_the_nullclines() -> R {
    let dir = tempdir("single")?;
    let m = fitzhugh_nagumo();
    let data = m.phase_plane(
        &PhasePlane::new(("v", -2.5, 2.0), ("w", -1.0, 1.5))
            .trajectory(-2.0, -0.5)
            .duration(50.0, 0.1),
    )?;
    splot::phase_plane(&m, &data, dir.join("p.svg"))?;
    let svg = std::fs::read_to_string(dir.join("p.svg"))?;
    assert!(svg.contains("v-nullcline") && svg.contains("w-nullcline"));
    assert!(svg.contains(data.fixed_points[0].kind.name()));
    splot::phase_plane_gif(&m, &data, 0, 5, dir.join("p.gif"))?;
    assert_eq!(&std::fs::read(dir.join("p.gif"))?[..6], b"GIF89a");
    Ok(())
}

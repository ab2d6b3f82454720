//! The TensorFlow engine on bad input: typed errors naming the culprit,
//! failures mid-run that keep what was recorded, rounding reported.

mod common;

use snn::network::{Connection, Input, Network, Nucleus, Record, SimOptions, StateVar};
use snn::Error;

type R = Result<(), Box<dyn std::error::Error>>;

fn opts() -> SimOptions {
    SimOptions::default().quiet().tensorboard(None)
}

/// A host input that writes NaN at t = 5 ms stops the run with an error
/// naming the nucleus, neuron and step, and the 50 steps before are kept.
#[test]
fn bad_input_mid_run_keeps_the_recording() -> R {
    let mut net = Network::new();
    let a = net.add(
        Nucleus::new("Host", 3)
            .input(Input::function(|t, out| {
                out.fill(10.0);
                if t >= 5.0 {
                    out[1] = f64::NAN;
                }
            }))
            .record(Record::traces(&[0, 2])),
    )?;
    let err = net.build_with(0.1, opts())?.run(20.0).unwrap_err();
    // Printed as `main` prints an error it returns: a summary of the
    // recording (sizes and counts), not its data.
    let printed = format!("{err:?}");
    assert!(
        printed.contains("rows: 50") && printed.contains("spike_count"),
        "{printed}"
    );
    assert!(printed.len() < 2000, "{} characters", printed.len());
    match err {
        Error::RunInterrupted {
            step,
            recorded_steps,
            reason,
            recording,
        } => {
            assert_eq!(step, 50);
            assert_eq!(recorded_steps, 50);
            assert!(
                matches!(*reason, Error::NonFinite { ref what, value } if value.is_nan()
                    && what == "external input of nucleus \"Host\", neuron 1, at step 50")
            );
            assert_eq!(recording.steps, 50);
            assert_eq!(recording.trace(a, StateVar::V)?.times.len(), 50);
        }
        other => panic!("expected RunInterrupted, got {other:?}"),
    }
    Ok(())
}

#[test]
fn bad_input_gives_typed_errors() -> R {
    let build = |f: &dyn Fn(&mut Network) -> snn::Result<()>, dt: f64| -> snn::Result<()> {
        let mut net = Network::new();
        f(&mut net)?;
        net.build_with(dt, opts()).map(|_| ())
    };
    let two =
        |net: &mut Network| -> snn::Result<(snn::network::NucleusId, snn::network::NucleusId)> {
            Ok((
                net.add(Nucleus::new("P", 3))?,
                net.add(Nucleus::new("Q", 2))?,
            ))
        };
    // weight shape
    let e = build(
        &|net| {
            let (p, q) = two(net)?;
            net.connect(p, q, ndarray::Array2::<f64>::zeros((2, 3)))
                .map(|_| ())
        },
        0.1,
    )
    .unwrap_err();
    assert!(
        matches!(e, Error::WeightShape { ref connection, expected: (3, 2), got: (2, 3) } if connection == "P->Q"),
        "{e}"
    );
    // a reset potential at or above the spike peak
    let e = build(
        &|net| {
            net.add(Nucleus::new("P", 3).abcd(0.02, 0.2, vec![-65.0, -65.0, 30.0], 8.0))
                .map(|_| ())
        },
        0.1,
    )
    .unwrap_err();
    assert!(
        matches!(e, Error::InvalidModel { ref message } if message.contains("\"P\", neuron 2")),
        "{e}"
    );
    // non-finite parameter, weight, input
    let e = build(
        &|net| {
            net.add(Nucleus::new("P", 2).abcd(vec![0.02, f64::NAN], 0.2, -65.0, 8.0))
                .map(|_| ())
        },
        0.1,
    )
    .unwrap_err();
    assert!(
        matches!(e, Error::NonFinite { ref what, .. } if what.contains("parameter a") && what.contains("neuron 1")),
        "{e}"
    );
    let e = build(
        &|net| {
            let (p, q) = two(net)?;
            net.connect(p, q, f64::INFINITY).map(|_| ())
        },
        0.1,
    )
    .unwrap_err();
    assert!(
        matches!(e, Error::NonFinite { ref what, .. } if what.contains("P->Q")),
        "{e}"
    );
    let e = build(
        &|net| net.add(Nucleus::new("P", 2).input(f64::NAN)).map(|_| ()),
        0.1,
    )
    .unwrap_err();
    assert!(
        matches!(e, Error::NonFinite { ref what, .. } if what.contains("external input")),
        "{e}"
    );
    // vector parameter of the wrong length
    let e = build(
        &|net| {
            net.add(Nucleus::new("P", 3).abcd(0.02, vec![0.2, 0.2], -65.0, 8.0))
                .map(|_| ())
        },
        0.1,
    )
    .unwrap_err();
    assert!(
        matches!(e, Error::WrongLength { ref what, expected: 3, got: 2, .. } if what == "parameter b"),
        "{e}"
    );
    // dt <= 0, T < dt
    let e = build(&|net| net.add(Nucleus::new("P", 1)).map(|_| ()), 0.0).unwrap_err();
    assert!(matches!(e, Error::InvalidDt { .. }), "{e}");
    let mut net = Network::new();
    net.add(Nucleus::new("P", 1))?;
    let mut sim = net.build_with(0.1, opts())?;
    let e = sim.run(0.05).unwrap_err();
    assert!(matches!(e, Error::InvalidDuration { .. }), "{e}");
    // A run of 2^53 steps or more would never end (and overflowed the
    // step counters before).
    let e = sim.run(1e300).unwrap_err();
    assert!(matches!(e, Error::InvalidDuration { .. }), "{e}");
    // negative delay, negative window
    let e = build(
        &|net| {
            let (p, q) = two(net)?;
            net.connect_with(Connection::new(p, q, 1.0).delay(-1.0))
                .map(|_| ())
        },
        0.1,
    )
    .unwrap_err();
    assert!(matches!(e, Error::Negative { what: "delay", .. }), "{e}");
    let e = build(
        &|net| {
            let (p, q) = two(net)?;
            net.connect_with(Connection::new(p, q, 1.0).kernel(|_| 1.0, -2.0))
                .map(|_| ())
        },
        0.1,
    )
    .unwrap_err();
    assert!(matches!(e, Error::Negative { what: "window", .. }), "{e}");
    // not a multiple of dt
    let e = build(
        &|net| {
            let (p, q) = two(net)?;
            net.connect_with(Connection::new(p, q, 1.0).delay(2.5))
                .map(|_| ())
        },
        0.2,
    )
    .unwrap_err();
    assert!(
        matches!(
            e,
            Error::NotMultipleOfDt {
                what: "delay",
                rounded: 13,
                ..
            }
        ),
        "{e}"
    );
    let e = build(
        &|net| {
            let (p, q) = two(net)?;
            net.connect_with(Connection::new(p, q, 1.0).kernel(|_| 1.0, 0.35))
                .map(|_| ())
        },
        0.1,
    )
    .unwrap_err();
    assert!(
        matches!(e, Error::NotMultipleOfDt { what: "window", .. }),
        "{e}"
    );
    // kernel returning NaN at lag 0.3 ms
    let e = build(
        &|net| {
            let (p, q) = two(net)?;
            net.connect_with(
                Connection::new(p, q, 1.0).kernel(|t| if t > 0.25 { f64::NAN } else { 1.0 }, 1.0),
            )
            .map(|_| ())
        },
        0.1,
    )
    .unwrap_err();
    assert!(
        matches!(e, Error::KernelValue { ref connection, lag_ms, .. } if connection == "P->Q" && (lag_ms - 0.3).abs() < 1e-9),
        "{e}"
    );
    // a nucleus from another network
    let mut other = Network::new();
    let foreign = other.add(Nucleus::new("F", 1))?;
    let mut net = Network::new();
    let p = net.add(Nucleus::new("P", 1))?;
    assert!(matches!(
        net.connect(foreign, p, 1.0),
        Err(Error::ForeignNucleus { .. })
    ));
    // recorded neuron out of range
    let e = build(
        &|net| {
            net.add(Nucleus::new("P", 3).record(Record::traces(&[0, 3])))
                .map(|_| ())
        },
        0.1,
    )
    .unwrap_err();
    assert!(
        matches!(e, Error::RecordIndex { index: 3, n: 3, .. }),
        "{e}"
    );
    // duplicate label, empty nucleus
    let mut net = Network::new();
    net.add(Nucleus::new("P", 1))?;
    assert!(matches!(
        net.add(Nucleus::new("P", 2)),
        Err(Error::DuplicateLabel { .. })
    ));
    assert!(matches!(
        net.add(Nucleus::new("E", 0)),
        Err(Error::EmptyNucleus { .. })
    ));
    // sparse index out of range
    let e = build(
        &|net| {
            let (p, q) = two(net)?;
            net.connect(p, q, vec![(0, 2, 1.0)]).map(|_| ())
        },
        0.1,
    )
    .unwrap_err();
    assert!(matches!(e, Error::SparseWeights { .. }), "{e}");
    Ok(())
}

/// Rounding on request: 2.5 ms at dt = 0.2 becomes 13 steps (2.6 ms) and is
/// reported.
#[test]
fn rounding_is_reported() -> R {
    let mut net = Network::new();
    let p = net.add(Nucleus::new("P", 2))?;
    let q = net.add(Nucleus::new("Q", 2))?;
    net.connect_with(Connection::new(p, q, 1.0).delay(2.5).round_to_step())?;
    let sim = net.build_with(0.2, opts())?;
    let notes = sim.rounded();
    assert_eq!(notes.len(), 1);
    assert_eq!(
        (notes[0].connection.as_str(), notes[0].what, notes[0].steps),
        ("P->Q", "delay", 13)
    );
    assert!((notes[0].used_ms - 2.6).abs() < 1e-9);
    Ok(())
}

/// With 8 steps per run, a host input that fails (NaN) at step 50 (inside the
/// chunk 48..55) still runs and records steps 48 and 49 first.
#[test]
fn failure_inside_a_chunk_keeps_the_steps_before() -> R {
    let mut net = Network::new();
    net.add(
        Nucleus::new("Host", 3)
            .input(Input::function(|t, out| {
                out.fill(10.0);
                if t >= 5.0 {
                    out[1] = f64::NAN;
                }
            }))
            .record(Record::traces(&[0])),
    )?;
    let err = net
        .build_with(0.1, opts().steps_per_run(8))?
        .run(20.0)
        .unwrap_err();
    match err {
        Error::RunInterrupted {
            step,
            recorded_steps,
            recording,
            ..
        } => {
            assert_eq!((step, recorded_steps, recording.steps), (50, 50, 50));
            assert_eq!(recording.nuclei[0].traces["v"].times.len(), 50);
        }
        other => panic!("expected RunInterrupted, got {other:?}"),
    }
    Ok(())
}

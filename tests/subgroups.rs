//! Subgroups (a range of a nucleus's neurons) as the ends of connections:
//! they are the rows and columns of the whole nuclei's weights, their
//! rates count their own neurons, and bad ranges are typed errors.

use ndarray::Array2;
use snn::network::{Connection, Network, Nucleus, Propagation, Record, SimOptions, Weights};
use snn::Error;

type R = Result<(), Box<dyn std::error::Error>>;

fn quiet() -> SimOptions {
    SimOptions::default().quiet().tensorboard(None)
}

/// Drive: neuron `k` of `P` gets `4 k` (the upper half fires, at
/// different rates), `Q` none of its own.
fn nuclei(net: &mut Network) -> snn::Result<(snn::network::NucleusId, snn::network::NucleusId)> {
    let drive: Vec<f64> = (0..10).map(|k| 4.0 * k as f64).collect();
    let p = net.add(Nucleus::new("P", 10).input(drive))?;
    let q = net.add(Nucleus::new("Q", 6))?;
    Ok((p, q))
}

/// `P[5..9] -> Q[1..4]` with triplets and with a dense block (voltage
/// jumps, and an exponential kernel), against the same synapses written
/// in the nuclei's numbering: the weights the simulator reports are the
/// embedded ones, and the spikes are identical.
#[test]
fn a_subgroup_connection_is_rows_and_columns_of_its_nuclei() -> R {
    let triplets = vec![(0, 0, 90.0), (1, 2, 120.0), (3, 1, 150.0), (3, 2, 60.0)];
    let embedded: Vec<(usize, usize, f64)> = triplets
        .iter()
        .map(|&(i, j, w)| (i + 5, j + 1, w))
        .collect();
    let block = Array2::from_shape_fn((4, 3), |(i, j)| 10.0 * (i * 3 + j) as f64);
    let mut full = Array2::<f64>::zeros((10, 6));
    full.slice_mut(ndarray::s![5..9, 1..4]).assign(&block);

    let run = |weights: Weights, sub: bool| -> Result<_, Box<dyn std::error::Error>> {
        let mut net = Network::new();
        let (p, q) = nuclei(&mut net)?;
        let c = if sub {
            Connection::new(p.subgroup(5..9), q.subgroup(1..4), weights)
        } else {
            Connection::new(p, q, weights)
        };
        // Compressed rows stay compressed rows at any density.
        let id = net.connect_with(c.propagation(Propagation::EventDriven))?;
        let mut sim = net.build_with(0.1, quiet())?;
        let rec = sim.run(200.0)?;
        Ok((sim.weights(id)?, rec.nucleus(q)?.spikes.clone()))
    };
    let (w_sub, spikes_sub) = run(Weights::Triplets(triplets), true)?;
    let (w_full, spikes_full) = run(Weights::Triplets(embedded), false)?;
    assert!(!spikes_full.is_empty(), "Q never fired");
    assert_eq!(spikes_sub, spikes_full);
    let Weights::CsrF32 {
        indptr,
        indices,
        values,
    } = &w_sub
    else {
        panic!("event-driven triplets stay compressed rows: {w_sub:?}");
    };
    assert_eq!(indptr, &vec![0, 0, 0, 0, 0, 0, 1, 2, 2, 4, 4]);
    assert_eq!(indices, &vec![1, 3, 2, 3]);
    assert_eq!(values, &vec![90.0, 120.0, 150.0, 60.0]);
    assert_eq!(w_sub, w_full);

    let (w_sub, spikes_sub) = run(Weights::Dense(block.clone()), true)?;
    let (w_full, spikes_full) = run(Weights::Dense(full.clone()), false)?;
    assert_eq!(spikes_sub, spikes_full);
    assert_eq!(w_sub, Weights::DenseF32(full.mapv(|x| x as f32)));
    assert_eq!(w_sub, w_full);

    // A dense block through an exponential kernel (a trace fed by the
    // subgroup's own rows) against the same in the nuclei's numbering.
    let traced = |weights: Weights, sub: bool| -> Result<_, Box<dyn std::error::Error>> {
        let mut net = Network::new();
        let (p, q) = nuclei(&mut net)?;
        let c = match sub {
            true => Connection::new(p.subgroup(5..9), q.subgroup(1..4), weights),
            false => Connection::new(p, q, weights),
        };
        net.connect_with(c.kernel(|t| 0.3 * (-t / 2.0).exp(), 10.0).delay(0.5))?;
        let rec = net.build_with(0.1, quiet())?.run(200.0)?;
        Ok(rec.nucleus(q)?.spikes.clone())
    };
    let sub = traced(Weights::Dense(block), true)?;
    assert!(!sub.is_empty(), "Q never fired through the kernel");
    assert_eq!(sub, traced(Weights::Dense(full), false)?);
    Ok(())
}

/// Dense weights from a presynaptic subgroup, taken by events, hold the
/// subgroup's rows only (and a row of zeros): 100 rows of a 2000-neuron
/// nucleus onto 500 neurons fit a memory limit of 1 MB (0.2 MB) that the
/// whole nucleus's rows (4 MB) do not. The connection still acts, and
/// `Simulator::weights` gives the whole nucleus's rows (the others 0).
#[test]
fn dense_weights_from_a_subgroup_hold_its_rows_only() -> R {
    let mut net = Network::new();
    let drive: Vec<f64> = (0..2000)
        .map(|k| if k < 150 { 10.0 } else { 0.0 })
        .collect();
    let p = net.add(Nucleus::new("P", 2000).input(drive))?;
    let q = net.add(Nucleus::new("Q", 500).record(Record::spikes()))?;
    let block = Array2::from_elem((100, 500), 2.0);
    let c = net.connect_with(Connection::new(p.subgroup(50..150), q, block))?;
    let mut sim = net.build_with(0.1, quiet().memory_limit(1 << 20))?;
    let rec = sim.run(50.0)?;
    assert!(!rec.nucleus(q)?.spikes.is_empty(), "Q never fired");
    let Weights::DenseF32(w) = sim.weights(c)? else {
        panic!("dense weights expected");
    };
    assert_eq!(w.dim(), (2000, 500));
    assert!(w.rows().into_iter().enumerate().all(|(i, row)| {
        let want = if (50..150).contains(&i) { 2.0 } else { 0.0 };
        row.iter().all(|&x| x == want)
    }));
    // The whole nucleus's rows: refused under the same limit.
    let mut net = Network::new();
    let p = net.add(Nucleus::new("P", 2000))?;
    let q = net.add(Nucleus::new("Q", 500))?;
    net.connect_with(
        Connection::new(p.subgroup(50..150), q, Array2::from_elem((100, 500), 2.0))
            .kernel(|t| 1.0 / (1.0 + t), 2.0),
    )?;
    match net.build_with(0.1, quiet().memory_limit(1 << 20)) {
        Err(Error::MemoryLimit { .. }) => Ok(()),
        Err(other) => Err(format!("a windowed kernel: {other}").into()),
        Ok(_) => Err("a windowed kernel: built".into()),
    }
}

/// Dense weights onto a postsynaptic subgroup, taken by events, hold the
/// subgroup's columns only: 400 neurons onto 100 of a 2000-neuron nucleus
/// fit a memory limit of 1 MB (0.16 MB) that the whole nucleus's columns
/// (3.2 MB) do not. Only the subgroup's neurons fire, at the steps the
/// same weights in the nuclei's numbering (no limit) give, and
/// `Simulator::weights` gives the whole nucleus's columns (the others 0).
#[test]
fn dense_weights_onto_a_subgroup_hold_its_columns_only() -> R {
    let run = |sub: bool, limit: u64| -> Result<_, Box<dyn std::error::Error>> {
        let mut net = Network::new();
        let drive: Vec<f64> = (0..400).map(|k| if k < 100 { 10.0 } else { 0.0 }).collect();
        let p = net.add(Nucleus::new("P", 400).input(drive))?;
        let q = net.add(Nucleus::new("Q", 2000).record(Record::spikes()))?;
        let c = match sub {
            true => Connection::new(
                p,
                q.subgroup(1000..1100),
                Array2::from_elem((400, 100), 2.0),
            ),
            false => {
                let mut w = Array2::zeros((400, 2000));
                w.slice_mut(ndarray::s![.., 1000..1100]).fill(2.0);
                Connection::new(p, q, w).propagation(Propagation::EventDriven)
            }
        };
        let c = net.connect_with(c)?;
        let mut sim = net.build_with(0.1, quiet().memory_limit(limit))?;
        let spikes = sim.run(50.0)?.nucleus(q)?.spikes.clone();
        Ok((sim.weights(c)?, spikes))
    };
    let (w, spikes) = run(true, 1 << 20)?;
    let (w_full, spikes_full) = run(false, 1 << 30)?;
    assert!(!spikes.is_empty(), "Q never fired");
    assert!(spikes.iter().all(|&(_, i)| (1000..1100).contains(&i)));
    assert_eq!(spikes, spikes_full);
    let Weights::DenseF32(w) = w else {
        panic!("dense weights expected");
    };
    assert_eq!(w.dim(), (400, 2000));
    assert_eq!(Weights::DenseF32(w), w_full);
    // The whole nucleus's columns: refused under the same limit.
    let mut net = Network::new();
    let p = net.add(Nucleus::new("P", 400))?;
    let q = net.add(Nucleus::new("Q", 2000))?;
    net.connect_with(
        Connection::new(
            p,
            q.subgroup(1000..1100),
            Array2::from_elem((400, 100), 2.0),
        )
        .propagation(Propagation::Dense),
    )?;
    match net.build_with(0.1, quiet().memory_limit(1 << 20)) {
        Err(Error::MemoryLimit { .. }) => Ok(()),
        Err(other) => Err(format!("a dense product: {other}").into()),
        Ok(_) => Err("a dense product: built".into()),
    }
}

/// A subgroup's rate is its neurons' spikes over its size and the
/// duration; the nucleus's is all of them.
#[test]
fn a_subgroup_rate_counts_its_own_neurons() -> R {
    let mut net = Network::new();
    let (p, _) = nuclei(&mut net)?;
    let rec = net.build_with(0.1, quiet())?.run(500.0)?;
    let spikes = &rec.nucleus(p)?.spikes;
    let upper = spikes.iter().filter(|(_, k)| (6..10).contains(k)).count();
    assert!(upper > 0);
    let expected = upper as f64 / 4.0 / 0.5;
    assert!((rec.firing_rate(p.subgroup(6..10))? - expected).abs() < 1e-9);
    let all = spikes.len() as f64 / 10.0 / 0.5;
    assert!((rec.firing_rate(p)? - all).abs() < 1e-9);
    // Counted, not listed: a subgroup's rate cannot be told.
    let mut net = Network::new();
    let drive: Vec<f64> = (0..10).map(|k| 4.0 * k as f64).collect();
    let p = net.add(Nucleus::new("P", 10).input(drive).record(Record {
        spikes: false,
        ..Record::default()
    }))?;
    let rec = net.build_with(0.1, quiet())?.run(100.0)?;
    assert!(rec.firing_rate(p)? > 0.0);
    match rec.firing_rate(p.subgroup(6..10)) {
        Err(Error::NotRecorded { what }) => assert!(what.contains("P[6..10]"), "{what}"),
        other => panic!("expected NotRecorded, got {other:?}"),
    }
    Ok(())
}

/// The population rate at each step is the spikes of the subgroup's
/// neurons within a centred window of `w` steps (0.5 ms at dt 0.1 ms: 5
/// steps, Brian2's rounding; 1 ms: 11), over `n · w · dt`, counted here
/// by brute force; a second run's times continue the first's.
#[test]
fn the_population_rate_is_the_windowed_spike_count() -> R {
    let dt = 0.1;
    let mut net = Network::new();
    let (p, _) = nuclei(&mut net)?;
    let mut sim = net.build_with(dt, quiet())?;
    sim.run(100.0)?;
    let rec = sim.run(100.0)?;
    assert_eq!(rec.first_step, 1000);
    let spikes = &rec.nucleus(p)?.spikes;
    assert!(spikes.len() > 20, "{} spikes", spikes.len());
    // 300 ms: a window wider than the recording (3001 steps over 1000).
    for (width, steps) in [(0.0, 1usize), (0.5, 5), (1.0, 11), (300.0, 3001)] {
        for (range, rate) in [
            (0..10, rec.population_rate(p, width)?),
            (6..10, rec.population_rate(p.subgroup(6..10), width)?),
        ] {
            assert_eq!(rate.len(), 1000);
            let h = steps as i64 / 2;
            for (k, &(t, r)) in rate.iter().enumerate() {
                let step = 1000 + k as i64;
                assert!((t - step as f64 * dt).abs() < 1e-9);
                let count = spikes
                    .iter()
                    .filter(|&&(s, i)| range.contains(&i) && (s as i64 - step).abs() <= h)
                    .count();
                let want = count as f64 * 1000.0 / (range.len() as f64 * steps as f64 * dt);
                assert!(
                    (r - want).abs() < 1e-9,
                    "width {width}, step {step}: {r} vs {want}"
                );
            }
        }
    }
    // Any width, however large, is a finite rate (it overflowed an
    // integer once): the spikes over n dt (2 round(w / 2dt) + 1).
    let total = spikes.len() as f64;
    for &(_, r) in &rec.population_rate(p, 1e300)? {
        let want = total * 1000.0 / (10.0 * dt * (2.0 * (1e300 / (2.0 * dt)) + 1.0));
        assert!((r - want).abs() <= 1e-12 * want, "{r} vs {want}");
    }
    match rec.population_rate(p, -1.0) {
        Err(Error::InvalidOption { option, .. }) => assert!(option.contains("width")),
        other => panic!("expected InvalidOption, got {other:?}"),
    }
    Ok(())
}

/// Ranges outside the nucleus or empty, and weights not of the
/// subgroups' size, name the culprit.
#[test]
fn bad_subgroups_are_typed_errors() -> R {
    let mut net = Network::new();
    let (p, q) = nuclei(&mut net)?;
    for range in [8..12, 3..3] {
        let (a, b) = (range.start, range.end);
        match net.connect_with(Connection::new(p.subgroup(range), q, 1.0)) {
            Err(Error::InvalidModel { message }) => {
                assert!(message.contains(&format!("P[{a}..{b}]")), "{message}");
                assert!(message.contains("0..10"), "{message}");
            }
            other => panic!("expected InvalidModel, got {other:?}"),
        }
    }
    net.connect_with(Connection::new(
        p.subgroup(0..2),
        q.subgroup(4..6),
        Array2::<f64>::zeros((10, 6)),
    ))?;
    match net.build_with(0.1, quiet()) {
        Err(Error::WeightShape {
            connection,
            expected,
            got,
        }) => {
            assert_eq!(connection, "P[0..2]->Q[4..6]");
            assert_eq!((expected, got), ((2, 2), (10, 6)));
        }
        other => panic!("expected WeightShape, got {other:?}"),
    }
    Ok(())
}

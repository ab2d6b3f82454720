//! The TensorFlow engine against the independent reference stepper
//! (tests/common), analytic results, the noise and determinism (bad input:
//! tests/bad_input.rs; executors and steps per run: tests/runtime.rs).

mod common;

#[path = "../examples/basal_ganglia.rs"]
#[allow(dead_code)]
mod basal_ganglia;

use common::{assert_v_close, one_nucleus_reference, simulate, to_array, RefConn, RefNucleus, Rng};
use snn::network::{
    Connection, Input, Network, Nucleus, Probe, Propagation, Record, SimOptions, Simulator,
    StateVar, WeightLayout, Weights,
};
use snn::Error;

type R = Result<(), Box<dyn std::error::Error>>;

/// Spikes, and v of every neuron.
fn record_v() -> Record {
    Record {
        v: Probe::All,
        ..Record::default()
    }
}

/// A variable's name and shape.
type Shape = (String, Vec<u64>);

/// The shape of every state variable, from the manifest of an export.
fn variable_shapes(sim: &Simulator, tag: &str) -> Result<Vec<Shape>, Box<dyn std::error::Error>> {
    let dir = common::tempdir(tag)?;
    sim.export(&dir)?;
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("manifest.json"))?)?;
    let vars = manifest["variables"].as_array().ok_or("no variables")?;
    let mut out = Vec::new();
    for v in vars {
        let name = v["name"].as_str().ok_or("no name")?.to_string();
        let shape = v["shape"]
            .as_array()
            .ok_or("no shape")?
            .iter()
            .map(|d| d.as_u64().ok_or("bad dim"))
            .collect::<Result<Vec<u64>, _>>()?;
        out.push((name, shape));
    }
    std::fs::remove_dir_all(&dir)?;
    Ok(out)
}

fn opts() -> SimOptions {
    SimOptions::default().quiet().tensorboard(None)
}

fn engine_spikes(rec: &snn::network::Recording, idx: usize) -> Vec<(usize, usize)> {
    rec.nuclei[idx].spikes.clone()
}

/// One dense nucleus of 20 neurons with voltage-jump synapses, per-neuron
/// constant inputs 4..13.5 and weights in [-1, 1.5]. Weights and inputs are
/// O(1) against spike upswings of tens of mV per step, so f32 rounding
/// (~1e-5 mV here) cannot move a threshold crossing over 300 ms.
#[test]
fn dense_voltage_jump_matches_reference() -> R {
    let n = 20;
    let dt = 0.1;
    let steps = 3000;
    let inputs: Vec<f64> = (0..n).map(|i| 4.0 + 0.5 * i as f64).collect();
    let w = Rng(7).matrix(n, n, -1.0, 1.5);

    let reference = one_nucleus_reference(&inputs, &w, 0, dt, steps);

    let mut net = Network::new();
    let a = net.add(Nucleus::new("N", n).input(inputs).record(record_v()))?;
    net.connect(a, a, to_array(&w))?;
    let rec = net.build_with(dt, opts())?.run(steps as f64 * dt)?;
    assert!(
        reference.spikes[0].len() > 50,
        "the test needs spikes: {}",
        reference.spikes[0].len()
    );
    assert_eq!(engine_spikes(&rec, 0), reference.spikes[0]);
    assert_v_close(&rec, 0, &reference.v[0]);
    Ok(())
}

/// Float32 weights (`Weights::DenseF32`) are the float64 ones rounded as the
/// plan rounds them: identical runs. A non-finite float32 weight is named.
#[test]
fn float32_weights_run_as_their_float64_originals() -> R {
    let n = 20;
    let w = Rng(7).matrix(n, n, -1.0, 1.5);
    let run = |weights: snn::network::Weights| -> snn::Result<Vec<(usize, usize)>> {
        let mut net = Network::new();
        let a = net.add(
            Nucleus::new("N", n)
                .input((0..n).map(|i| 4.0 + 0.5 * i as f64).collect::<Vec<_>>())
                .record(Record::spikes()),
        )?;
        net.connect(a, a, weights)?;
        Ok(net.build_with(0.1, opts())?.run(300.0)?.nuclei[0]
            .spikes
            .clone())
    };
    let w64 = to_array(&w);
    let w32 = w64.mapv(|x| x as f32);
    let spikes = run(w64.into())?;
    assert!(spikes.len() > 50, "the test needs spikes: {}", spikes.len());
    assert_eq!(run(w32.clone().into())?, spikes);
    // A transposed (column-major) view is copied, not misread.
    let t = w32.t().as_standard_layout().into_owned().reversed_axes();
    assert!(!t.is_standard_layout());
    assert_eq!(run(t.into())?, spikes);
    let mut bad = w32;
    bad[(3, 4)] = f32::INFINITY;
    let err = run(bad.into()).unwrap_err();
    assert!(
        matches!(err, Error::NonFinite { ref what, .. } if what.contains("3->4")),
        "{err}"
    );
    Ok(())
}

/// Two nuclei with delays both ways (A->B 2 ms, B->A 3.5 ms at dt = 0.5),
/// different sizes and parameters; inputs from a host function of time.
/// Weights up to 6 are far from float32 trouble over 400 ms.
#[test]
fn two_nuclei_with_delays_match_reference() -> R {
    let dt = 0.5;
    let steps = 800;
    let (na, nb) = (12, 7);
    let w_ab = Rng(11).matrix(na, nb, 0.0, 6.0);
    let w_ba = Rng(13).matrix(nb, na, -2.0, 0.5);
    let input_a = |t: f64| {
        (0..12)
            .map(|i| if t < 200.0 { 6.0 + 0.3 * i as f64 } else { 3.0 })
            .collect::<Vec<f64>>()
    };

    let mut rn = vec![
        RefNucleus::uniform(na, 0.02, 0.2, -65.0, 8.0, input_a),
        RefNucleus::uniform(nb, 0.1, 0.2, -65.0, 2.0, |_| vec![3.0; 7]),
    ];
    let conns = vec![
        RefConn {
            pre: 0,
            post: 1,
            w: w_ab.clone(),
            delay_steps: 4,
            kernel: vec![1.0],
        },
        RefConn {
            pre: 1,
            post: 0,
            w: w_ba.clone(),
            delay_steps: 7,
            kernel: vec![1.0],
        },
    ];
    let reference = simulate(&mut rn, &conns, dt, steps);

    let mut net = Network::new();
    let (a, b) = common::driven_pair(&mut net, (na, nb), input_a)?;
    net.connect_with(Connection::new(a, b, to_array(&w_ab)).delay(2.0))?;
    net.connect_with(Connection::new(b, a, to_array(&w_ba)).delay(3.5))?;
    let rec = net.build_with(dt, opts())?.run(steps as f64 * dt)?;
    for x in 0..2 {
        assert!(
            reference.spikes[x].len() > 5,
            "nucleus {x} needs spikes: {}",
            reference.spikes[x].len()
        );
        assert_eq!(engine_spikes(&rec, x), reference.spikes[x], "nucleus {x}");
        assert_v_close(&rec, x, &reference.v[x]);
    }
    Ok(())
}

/// Three nuclei of sizes 15, 9, 4: X excites Y through an exponential
/// kernel exp(-t/5) over 10 ms with a 1 ms delay, Y inhibits X through an
/// alpha kernel (t/4) e^(1 - t/4) over 20 ms, Z (no afferents) gets only its
/// input and drives Y. Kernel sums stay below ~10 and the run is 300 ms.
#[test]
fn three_nuclei_with_kernels_match_reference() -> R {
    let dt = 0.25;
    let steps = 1200;
    let (nx, ny, nz) = (15, 9, 4);
    let exp_k = |t: f64| (-t / 5.0).exp();
    let alpha_k = |t: f64| (t / 4.0) * (1.0 - t / 4.0).exp();
    let w_xy = Rng(3).matrix(nx, ny, 0.0, 2.0);
    let w_yx = Rng(5).matrix(ny, nx, -0.8, 0.0);
    let w_zy = Rng(9).matrix(nz, ny, 0.0, 3.0);
    let sample =
        |f: &dyn Fn(f64) -> f64, k: usize| (0..k).map(|i| f(i as f64 * dt)).collect::<Vec<f64>>();

    let mut rn = vec![
        RefNucleus::uniform(nx, 0.02, 0.2, -65.0, 8.0, |_| {
            (0..15).map(|i| 5.0 + 0.4 * i as f64).collect()
        }),
        RefNucleus::uniform(ny, 0.1, 0.2, -65.0, 2.0, |_| vec![3.0; 9]),
        RefNucleus::uniform(nz, 0.02, 0.2, -55.0, 4.0, |_| vec![10.0; 4]),
    ];
    let conns = vec![
        RefConn {
            pre: 0,
            post: 1,
            w: w_xy.clone(),
            delay_steps: 4,
            kernel: sample(&exp_k, 40),
        },
        RefConn {
            pre: 1,
            post: 0,
            w: w_yx.clone(),
            delay_steps: 0,
            kernel: sample(&alpha_k, 80),
        },
        RefConn {
            pre: 2,
            post: 1,
            w: w_zy.clone(),
            delay_steps: 2,
            kernel: vec![1.0],
        },
    ];
    let reference = simulate(&mut rn, &conns, dt, steps);

    for propagation in [Propagation::EventDriven, Propagation::Dense] {
        let mut net = Network::new();
        let x = net.add(
            Nucleus::new("X", nx)
                .input((0..nx).map(|i| 5.0 + 0.4 * i as f64).collect::<Vec<_>>())
                .record(record_v()),
        )?;
        let y = net.add(
            Nucleus::new("Y", ny)
                .abcd(0.1, 0.2, -65.0, 2.0)
                .input(3.0)
                .record(record_v()),
        )?;
        let z = net.add(
            Nucleus::new("Z", nz)
                .abcd(0.02, 0.2, -55.0, 4.0)
                .input(10.0)
                .record(record_v()),
        )?;
        net.connect_with(
            Connection::new(x, y, to_array(&w_xy))
                .delay(1.0)
                .kernel(exp_k, 10.0)
                .propagation(propagation),
        )?;
        net.connect_with(
            Connection::new(y, x, to_array(&w_yx))
                .kernel(alpha_k, 20.0)
                .propagation(propagation),
        )?;
        net.connect_with(
            Connection::new(z, y, to_array(&w_zy))
                .delay(0.5)
                .propagation(propagation),
        )?;
        let rec = net.build_with(dt, opts())?.run(steps as f64 * dt)?;
        for k in 0..3 {
            assert!(
                reference.spikes[k].len() > 5,
                "nucleus {k} needs spikes: {}",
                reference.spikes[k].len()
            );
            assert_eq!(
                engine_spikes(&rec, k),
                reference.spikes[k],
                "nucleus {k}, {propagation:?}"
            );
            assert_v_close(&rec, k, &reference.v[k]);
        }
    }
    Ok(())
}

/// Connections into one nucleus with the same exponential kernel share one
/// trace (the traces are linear), even with different delays and
/// presynaptic nuclei; the spikes stay the reference's.
#[test]
fn connections_with_one_kernel_share_a_trace() -> R {
    let dt = 0.25;
    let steps = 1200;
    let (np, nq, nr) = (12, 8, 6);
    let exp_k = |t: f64| 0.8 * (-t / 6.0).exp();
    let w_pr = Rng(31).matrix(np, nr, 0.0, 1.5);
    let w_qr = Rng(37).matrix(nq, nr, -1.0, 1.0);
    let sample = |k: usize| (0..k).map(|i| exp_k(i as f64 * dt)).collect::<Vec<f64>>();
    let mut rn = vec![
        RefNucleus::uniform(np, 0.02, 0.2, -65.0, 8.0, |_| {
            (0..12).map(|i| 5.0 + 0.5 * i as f64).collect()
        }),
        RefNucleus::uniform(nq, 0.02, 0.2, -65.0, 8.0, |_| vec![9.0; 8]),
        RefNucleus::uniform(nr, 0.02, 0.2, -65.0, 8.0, |_| vec![5.0; 6]),
    ];
    let conns = vec![
        RefConn {
            pre: 0,
            post: 2,
            w: w_pr.clone(),
            delay_steps: 4,
            kernel: sample(48),
        },
        RefConn {
            pre: 1,
            post: 2,
            w: w_qr.clone(),
            delay_steps: 10,
            kernel: sample(48),
        },
    ];
    let reference = simulate(&mut rn, &conns, dt, steps);
    assert!(
        reference.spikes[2].len() > 20,
        "R needs spikes: {}",
        reference.spikes[2].len()
    );

    let mut net = Network::new();
    let p = net.add(
        Nucleus::new("P", np).input((0..np).map(|i| 5.0 + 0.5 * i as f64).collect::<Vec<_>>()),
    )?;
    let q = net.add(Nucleus::new("Q", nq).input(9.0))?;
    let r = net.add(Nucleus::new("R", nr).input(5.0))?;
    net.connect_with(
        Connection::new(p, r, to_array(&w_pr))
            .delay(1.0)
            .kernel(exp_k, 12.0),
    )?;
    net.connect_with(
        Connection::new(q, r, to_array(&w_qr))
            .delay(2.5)
            .kernel(exp_k, 12.0),
    )?;
    let mut sim = net.build_with(dt, opts())?;
    // One trace (one row of R's trace bank) for both connections.
    let shapes = variable_shapes(&sim, "shared_trace")?;
    assert!(
        shapes.contains(&("R/traces".to_string(), vec![1, nr as u64])),
        "{shapes:?}"
    );
    let rec = sim.run(steps as f64 * dt)?;
    for k in 0..3 {
        assert_eq!(engine_spikes(&rec, k), reference.spikes[k], "nucleus {k}");
    }
    Ok(())
}

/// Sparse weights, as triplets and as CSR, give the reference's spikes for
/// the equivalent dense matrix (about 30% of synapses present).
#[test]
fn sparse_weights_match_reference() -> R {
    let (n, dt, steps) = (16, 0.1, 2000);
    let mut rng = Rng(21);
    let mut dense = vec![vec![0.0; n]; n];
    let mut triplets = Vec::new();
    for (i, row) in dense.iter_mut().enumerate() {
        for (j, w) in row.iter_mut().enumerate() {
            if rng.next_f64() < 0.3 {
                *w = -1.0 + 3.0 * rng.next_f64();
                triplets.push((i, j, *w));
            }
        }
    }
    let inputs: Vec<f64> = (0..n).map(|i| 4.0 + 0.4 * i as f64).collect();
    let reference = one_nucleus_reference(&inputs, &dense, 10, dt, steps);
    assert!(reference.spikes[0].len() > 30);

    // CSR from the triplets (they are in row order already).
    let mut indptr = vec![0usize; n + 1];
    for &(i, _, _) in &triplets {
        indptr[i + 1] += 1;
    }
    for i in 0..n {
        indptr[i + 1] += indptr[i];
    }
    let csr = Weights::Csr {
        indptr,
        indices: triplets.iter().map(|t| t.1).collect(),
        values: triplets.iter().map(|t| t.2).collect(),
    };
    // Auto makes them dense (30% of pairs); EventDriven keeps compressed rows.
    for (weights, propagation, layout) in [
        (
            Weights::Triplets(triplets.clone()),
            Propagation::Auto,
            WeightLayout::Dense,
        ),
        (csr.clone(), Propagation::Auto, WeightLayout::Dense),
        (
            Weights::Triplets(triplets.clone()),
            Propagation::EventDriven,
            WeightLayout::Sparse,
        ),
        (csr, Propagation::EventDriven, WeightLayout::Sparse),
    ] {
        let mut net = Network::new();
        let a = net.add(Nucleus::new("S", n).input(inputs.clone()))?;
        net.connect_with(
            Connection::new(a, a, weights)
                .delay(1.0)
                .propagation(propagation),
        )?;
        let mut sim = net.build_with(dt, opts())?;
        assert_eq!(sim.propagation()[0].layout, layout);
        let rec = sim.run(steps as f64 * dt)?;
        assert_eq!(engine_spikes(&rec, 0), reference.spikes[0]);
    }
    Ok(())
}

/// One neuron with constant input 10: its spike steps equal those of the
/// update of docs/semantics.md §1.3 written out here as scalar arithmetic, and its rate is in
/// the tonic range of a regular-spiking Izhikevich neuron.
#[test]
fn single_neuron_spike_times_are_the_spec_update() -> R {
    let dt = 0.1;
    let steps = 5000;
    let (a, b, c, d, i_ext) = (0.02, 0.2, -65.0, 8.0, 10.0);
    let (mut v, mut u, mut input, mut fired) = (c, b * c, 0.0, false);
    let mut expected = Vec::new();
    for m in 0..steps {
        if fired {
            v = c;
            u += d;
        }
        let v1 = v + dt * (0.04 * v * v + 5.0 * v + 140.0 - u + input);
        u += dt * a * (b * v1 - u);
        fired = v1 >= 30.0;
        v = if fired { 30.0 } else { v1 };
        if fired {
            expected.push(m);
        }
        input = i_ext;
    }
    let mut net = Network::new();
    let id = net.add(Nucleus::new("one", 1).input(i_ext))?;
    let rec = net.build_with(dt, opts())?.run(steps as f64 * dt)?;
    let got: Vec<usize> = rec.nuclei[0].spikes.iter().map(|s| s.0).collect();
    assert_eq!(got, expected);
    let rate = rec.firing_rate(id)?;
    assert!((rate - 1000.0 * expected.len() as f64 / 500.0).abs() < 1e-9);
    assert!((5.0..40.0).contains(&rate), "rate {rate} Hz");
    Ok(())
}

/// Standard normal CDF, from erf by Abramowitz & Stegun 7.1.26 (|error| <
/// 1.5e-7, far below the KS bound used here).
fn normal_cdf(z: f64) -> f64 {
    let x = z.abs() / std::f64::consts::SQRT_2;
    let t = 1.0 / (1.0 + 0.3275911 * x);
    let poly = t
        * (0.254829592
            + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
    let erf = 1.0 - poly * (-x * x).exp();
    0.5 * (1.0 + if z < 0.0 { -erf } else { erf })
}

/// In-graph noise is `mean + std * N(0, 1)`: with nothing else driving the
/// nucleus, its recorded `I` is the noise itself. 101 neurons (odd: the
/// Box–Muller pairs do not divide evenly) x 300 steps = 30300 draws: sample
/// mean and standard deviation within 5 standard errors, the
/// Kolmogorov–Smirnov distance to the normal CDF under its 0.1% critical
/// value, the 3-sigma tail frequency, and no correlation between the two
/// members of a Box–Muller pair (neurons j and j + 51) or between steps.
#[test]
fn in_graph_noise_is_normal_with_the_given_mean_and_std() -> R {
    let (mean, std, n, steps) = (3.0, 2.0, 101usize, 300usize);
    let mut net = Network::new();
    let a = net.add(
        Nucleus::new("A", n)
            .input(Input::noise(mean, std, 11))
            .record(Record {
                i: Probe::All,
                ..Record::default()
            }),
    )?;
    let rec = net.build_with(0.1, opts())?.run(steps as f64 * 0.1)?;
    let x = rec.trace(a, StateVar::I)?.values();
    assert_eq!(x.dim(), (steps, n));
    let z: Vec<f64> = x.iter().map(|&v| (v as f64 - mean) / std).collect();
    let count = z.len() as f64;
    let m = z.iter().sum::<f64>() / count;
    let var = z.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / (count - 1.0);
    assert!(
        m.abs() < 5.0 / count.sqrt(),
        "mean of the standardised noise {m}"
    );
    assert!(
        (var.sqrt() - 1.0).abs() < 5.0 / (2.0 * count).sqrt(),
        "std ratio {}",
        var.sqrt()
    );
    let mut sorted = z.clone();
    sorted.sort_by(f64::total_cmp);
    let ks = sorted
        .iter()
        .enumerate()
        .map(|(k, &v)| {
            let f = normal_cdf(v);
            (f - k as f64 / count)
                .abs()
                .max(((k + 1) as f64 / count - f).abs())
        })
        .fold(0.0, f64::max);
    assert!(ks < 1.95 / count.sqrt(), "KS distance {ks}");
    // P(|Z| > 3) = 0.0027: 81.8 expected, sd 9.
    let tails = z.iter().filter(|v| v.abs() > 3.0).count();
    assert!((45..=120).contains(&tails), "{tails} draws beyond 3 sigma");
    let corr = |pairs: &[(f64, f64)]| -> f64 {
        let k = pairs.len() as f64;
        pairs.iter().map(|(p, q)| p * q).sum::<f64>() / k
    };
    let h = n.div_ceil(2);
    let mut pair = Vec::new();
    let mut lag = Vec::new();
    for s in 0..steps {
        for j in 0..n {
            if j + h < n {
                pair.push((z[s * n + j], z[s * n + j + h]));
            }
            if s + 1 < steps {
                lag.push((z[s * n + j], z[(s + 1) * n + j]));
            }
        }
    }
    for (what, p) in [("pair", &pair), ("step lag", &lag)] {
        let r = corr(p);
        assert!(
            r.abs() < 5.0 / (p.len() as f64).sqrt(),
            "{what} correlation {r}"
        );
    }
    Ok(())
}

/// Five runs of a network with in-graph noise and the same seed give the
/// same spikes; another seed gives others.
#[test]
fn runs_are_deterministic_including_noise() -> R {
    let run = |seed: i64| -> Result<Vec<(usize, usize)>, Box<dyn std::error::Error>> {
        let mut net = Network::new();
        let a = net.add(Nucleus::new("A", 50).input(Input::noise(4.0, 6.0, seed)))?;
        let b = net.add(Nucleus::new("B", 30).abcd(0.1, 0.2, -65.0, 2.0))?;
        net.connect_with(Connection::new(a, b, 0.8).delay(1.0))?;
        net.connect(b, a, -0.5)?;
        let rec = net.build_with(0.1, opts())?.run(200.0)?;
        let mut all = rec.nuclei[0].spikes.clone();
        all.extend(rec.nuclei[1].spikes.iter().map(|&(s, j)| (s, j + 1000)));
        Ok(all)
    };
    let first = run(42)?;
    assert!(first.len() > 100);
    for _ in 0..4 {
        assert_eq!(run(42)?, first);
    }
    assert_ne!(run(43)?, first);
    Ok(())
}

/// A kernel that is neither exponential nor alpha (a triangle over 3 ms,
/// after a 1 ms delay) takes the general window product; exponential and
/// alpha kernels take recursive traces (checked through the graph's op
/// names). Both give the reference's spikes.
#[test]
fn general_kernel_matches_reference_and_forms_are_recognised() -> R {
    let dt = 0.5;
    let steps = 600;
    let (na, nb) = (10, 6);
    let tri = |t: f64| (1.0 - t / 3.0).max(0.0);
    let w_ab = Rng(17).matrix(na, nb, 0.0, 4.0);
    let kernel: Vec<f64> = (0..6).map(|k| tri(k as f64 * dt)).collect();
    let mut rn = vec![
        RefNucleus::uniform(na, 0.02, 0.2, -65.0, 8.0, |_| {
            (0..10).map(|i| 6.0 + 0.5 * i as f64).collect()
        }),
        RefNucleus::uniform(nb, 0.1, 0.2, -65.0, 2.0, |_| vec![1.0; 6]),
    ];
    let conns = vec![RefConn {
        pre: 0,
        post: 1,
        w: w_ab.clone(),
        delay_steps: 2,
        kernel,
    }];
    let reference = simulate(&mut rn, &conns, dt, steps);
    assert!(
        reference.spikes[1].len() > 5,
        "B needs spikes: {}",
        reference.spikes[1].len()
    );

    let mut net = Network::new();
    let a = net.add(
        Nucleus::new("A", na).input((0..na).map(|i| 6.0 + 0.5 * i as f64).collect::<Vec<_>>()),
    )?;
    let b = net.add(Nucleus::new("B", nb).abcd(0.1, 0.2, -65.0, 2.0).input(1.0))?;
    net.connect_with(
        Connection::new(a, b, to_array(&w_ab))
            .delay(1.0)
            .kernel(tri, 3.0),
    )?;
    net.connect_with(Connection::new(b, a, 0.0).kernel(|t| (-t / 4.0).exp(), 10.0))?;
    net.connect_with(
        Connection::new(b, b, 0.0).kernel(|t| (t / 4.0) * (1.0 - t / 4.0).exp(), 10.0),
    )?;
    let sim = net.build_with(dt, opts())?;
    let names = sim.op_names();
    assert!(
        names.iter().any(|n| n == "B/from_A/kernel_sum"),
        "triangle: window product"
    );
    let shapes = variable_shapes(&sim, "kernel_forms")?;
    assert!(
        shapes.contains(&("A/traces".to_string(), vec![1, na as u64])),
        "exponential: one trace: {shapes:?}"
    );
    assert!(
        shapes.contains(&("B/traces".to_string(), vec![2, nb as u64])),
        "alpha: two traces: {shapes:?}"
    );
    let mut sim = sim;
    let rec = sim.run(steps as f64 * dt)?;
    assert_eq!(engine_spikes(&rec, 0), reference.spikes[0]);
    assert_eq!(engine_spikes(&rec, 1), reference.spikes[1]);
    Ok(())
}

/// The original's float32 order (docs/semantics.md §1.3), written out
/// here in f32: `dv = ((0.04 v + 5) v + 140) - u + I`, `v' = v + dv dt`,
/// `u' = u + (a (b v' - u)) dt`. Uncoupled neurons with per-neuron
/// parameters and inputs (regular spiking, chattering, fast spiking, ...)
/// give the same spikes and the same v, u bit for bit: as one nucleus and
/// as two of one population (updated together, each with its part of the
/// parameters), by snn's kernel `SnnIzhikevich` and, in a portable build,
/// by TensorFlow's ops.
#[test]
fn izhikevich_follows_the_originals_float32_order_bit_for_bit() -> R {
    let dt = 0.1f32;
    let steps = 3000;
    let a = [0.02f32, 0.02, 0.1, 0.02, 0.02];
    let b = [0.2f32, 0.2, 0.2, 0.25, 0.2];
    let c = [-65.0f32, -50.0, -65.0, -65.0, -55.0];
    let d = [8.0f32, 2.0, 2.0, 2.0, 4.0];
    let iext = [10.0f32, 10.0, 10.0, 0.6, 7.5];
    let n = a.len();
    let (mut v, mut u): (Vec<f32>, Vec<f32>) = (c.to_vec(), (0..n).map(|k| b[k] * c[k]).collect());
    let mut input = vec![0.0f32; n];
    let mut fired = vec![false; n];
    let mut expected = Vec::new();
    let (mut v_trace, mut u_trace) = (Vec::new(), Vec::new());
    for m in 0..steps {
        for k in 0..n {
            if fired[k] {
                v[k] = c[k];
                u[k] += d[k];
            }
            let dv = ((0.04f32 * v[k] + 5.0) * v[k] + 140.0) - u[k] + input[k];
            let v1 = v[k] + dv * dt;
            u[k] += (a[k] * (b[k] * v1 - u[k])) * dt;
            fired[k] = v1 >= 30.0;
            v[k] = if fired[k] { 30.0 } else { v1 };
            if fired[k] {
                expected.push((m, k));
            }
            input[k] = iext[k];
        }
        v_trace.push(v.clone());
        u_trace.push(u.clone());
    }
    assert!(expected.len() > 50, "{} spikes", expected.len());
    let f64s = |x: &[f32]| x.iter().map(|&y| y as f64).collect::<Vec<f64>>();
    // Neurons `from..to` of the reference as one nucleus.
    let part = |label: &str, from: usize, to: usize| {
        Nucleus::new(label, to - from)
            .abcd(
                f64s(&a[from..to]),
                f64s(&b[from..to]),
                f64s(&c[from..to]),
                f64s(&d[from..to]),
            )
            .input(f64s(&iext[from..to]))
            .record(Record::everything())
    };
    for (splits, portable) in [
        (&[0, n][..], false),
        (&[0, 2, n], false),
        (&[0, 2, n], true),
    ] {
        let mut net = Network::new();
        let ids = splits
            .windows(2)
            .map(|w| net.add(part(&format!("kinds{}", w[0]), w[0], w[1])))
            .collect::<snn::Result<Vec<_>>>()?;
        let options = if portable { opts().portable() } else { opts() };
        let mut sim = net.build_with(dt as f64, options)?;
        let kernel = sim.graph_def()?.windows(13).any(|w| w == b"SnnIzhikevich");
        assert_eq!(kernel, !portable, "{splits:?}");
        let rec = sim.run(steps as f64 * dt as f64)?;
        for (id, w) in ids.into_iter().zip(splits.windows(2)) {
            let (from, to) = (w[0], w[1]);
            let mine: Vec<(usize, usize)> = expected
                .iter()
                .filter(|&&(_, k)| (from..to).contains(&k))
                .map(|&(m, k)| (m, k - from))
                .collect();
            assert_eq!(rec.nucleus(id)?.spikes, mine, "{splits:?} {portable}");
            for (var, want) in [(StateVar::V, &v_trace), (StateVar::U, &u_trace)] {
                let got = rec.trace(id, var)?.values();
                let want: Vec<f32> = want.iter().flat_map(|row| row[from..to].to_vec()).collect();
                let same = got
                    .iter()
                    .zip(&want)
                    .all(|(x, y)| x.to_bits() == y.to_bits());
                assert!(
                    same && got.len() == want.len(),
                    "{var:?}, {splits:?} {portable}"
                );
            }
        }
    }
    Ok(())
}

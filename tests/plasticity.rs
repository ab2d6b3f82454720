//! Poisson input groups and plastic synapses (docs/semantics.md §3.5,
//! §3.6), against closed forms and an independent f64 reference stepper.

mod common;

use common::song;

use snn::network::{Network, Nucleus, Record, Recording, SimOptions};

type R = Result<(), Box<dyn std::error::Error>>;
/// `(step, neuron)` spikes.
type Spikes = Vec<(usize, usize)>;

fn quiet() -> SimOptions {
    SimOptions::default().quiet().tensorboard(None)
}

/// Per step, how many of the group's neurons fired; per neuron, its count.
fn counts(spikes: &[(usize, usize)], steps: usize, n: usize) -> (Vec<f64>, Vec<f64>) {
    let mut per_step = vec![0.0; steps];
    let mut per_neuron = vec![0.0; n];
    for &(m, i) in spikes {
        per_step[m] += 1.0;
        per_neuron[i] += 1.0;
    }
    (per_step, per_neuron)
}

fn mean_var(x: &[f64]) -> (f64, f64) {
    let m = x.iter().sum::<f64>() / x.len() as f64;
    let v = x.iter().map(|a| (a - m) * (a - m)).sum::<f64>() / (x.len() - 1) as f64;
    (m, v)
}

/// 1000 trains at 15 Hz for 1 s (dt = 0.1 ms, p = 0.0015 a step): the
/// count per neuron has the Poisson mean and variance, the count per step
/// the binomial variance n p (1 - p) (draws independent across neurons)
/// and no correlation from one step to the next; the same seed gives the
/// same spikes, another seed others; a run of 10 steps per session run
/// gives the spikes of one step per run.
#[test]
fn a_poisson_group_fires_independent_trains_at_its_rate() -> R {
    let (n, steps, p) = (1000usize, 10_000usize, 15.0 * 0.1 / 1000.0);
    let run = |seed: u64, per_run: usize| -> snn::Result<Vec<(usize, usize)>> {
        let mut net = Network::new().seed(seed);
        let g = net.add(Nucleus::poisson("P", n, 15.0).record(Record::spikes()))?;
        let mut sim = net.build_with(0.1, quiet().steps_per_run(per_run))?;
        let rec = sim.run(1000.0)?;
        Ok(rec.nuclei[g.index()].spikes.clone())
    };
    let spikes = run(7, 1)?;
    let (per_step, per_neuron) = counts(&spikes, steps, n);
    let total = spikes.len() as f64;
    let expected = (n * steps) as f64 * p;
    let sd = (expected * (1.0 - p)).sqrt();
    assert!(
        (total - expected).abs() < 5.0 * sd,
        "{total} spikes, expected {expected} ± {sd}"
    );
    let (m, v) = mean_var(&per_neuron);
    assert!(
        (v / m - 1.0).abs() < 0.2,
        "per neuron: mean {m}, variance {v}"
    );
    let (m, v) = mean_var(&per_step);
    let binomial = n as f64 * p * (1.0 - p);
    assert!(
        (v / binomial - 1.0).abs() < 0.1,
        "per step: mean {m}, variance {v} vs {binomial}"
    );
    let lag1 = per_step
        .windows(2)
        .map(|w| (w[0] - m) * (w[1] - m))
        .sum::<f64>()
        / ((steps - 1) as f64 * v);
    assert!(lag1.abs() < 0.05, "step-to-step correlation {lag1}");
    assert_eq!(run(7, 1)?, spikes);
    assert_ne!(run(8, 1)?, spikes);
    assert_eq!(run(7, 10)?, spikes);
    Ok(())
}

/// Rates per neuron (0 to 99 Hz) and as an expression of t (40 Hz for
/// the first 500 ms, then none).
#[test]
fn poisson_rates_per_neuron_and_over_time() -> R {
    let n = 100;
    let rates: Vec<f64> = (0..n).map(|i| i as f64).collect();
    let mut net = Network::new().seed(3);
    let a = net.add(Nucleus::poisson("A", n, rates.clone()).record(Record::spikes()))?;
    let b = net.add(Nucleus::poisson("B", 400, "40 if t < 500 else 0").record(Record::spikes()))?;
    let rec = net.build_with(0.1, quiet())?.run(2000.0)?;
    let (_, per_neuron) = counts(&rec.nuclei[a.index()].spikes, 20_000, n);
    assert_eq!(per_neuron[0], 0.0, "rate 0 never fires");
    // Over all neurons: counts against 2 s x rate, in units of their
    // Poisson standard deviations.
    let chi2: f64 = (1..n)
        .map(|i| (per_neuron[i] - 2.0 * rates[i]).powi(2) / (2.0 * rates[i]))
        .sum();
    // chi-square with 99 degrees of freedom: mean 99, sd 14.
    assert!(chi2 < 99.0 + 5.0 * 14.0, "chi2 {chi2}");
    let spikes_b = &rec.nuclei[b.index()].spikes;
    assert!(
        spikes_b.iter().all(|&(m, _)| m < 5000),
        "spikes after 500 ms"
    );
    let expected = 400.0 * 40.0 * 0.5;
    assert!(
        (spikes_b.len() as f64 - expected).abs() < 5.0 * expected.sqrt(),
        "{} spikes, expected {expected}",
        spikes_b.len()
    );
    Ok(())
}

/// Twenty Poisson inputs onto one neuron with STDP for 1 s, against the
/// reference stepper fed the inputs' recorded spikes: the same output
/// spikes, the same weights within float32 rounding, the weights within
/// [0, gmax]; the per-neuron traces the graph keeps equal the reference's
/// per-synapse traces (the all-to-all additive rule's traces depend only
/// on their own neuron's spikes). `Simulator::weights` reads the learned
/// weights.
#[test]
fn stdp_matches_a_reference_stepper_with_per_synapse_traces() -> R {
    stdp_against_reference(0.0)?;
    // A delay of 1.5 ms: on_pre runs when the spike arrives.
    stdp_against_reference(1.5)
}

fn stdp_against_reference(delay_ms: f64) -> R {
    use snn::network::{Connection, Weights};
    let (n, dt, gmax) = (20usize, 0.1, 0.2);
    let w0: Vec<f64> = (0..n).map(|i| gmax * (i as f64 + 0.5) / n as f64).collect();
    let mut net = Network::new().seed(11);
    let input = net.add(Nucleus::poisson("input", n, 40.0).record(Record::spikes()))?;
    let post = net.add(
        Nucleus::with_model("neuron", 1, song::neuron())
            .record(Record::spikes().var("v", snn::network::Probe::All)),
    )?;
    let w = ndarray::Array2::from_shape_vec((n, 1), w0.clone())?;
    let c = net.connect_with(
        Connection::new(input, post, w)
            .delay(delay_ms)
            .synapses(song::stdp(gmax)),
    )?;
    let mut sim = net.build_with(dt, quiet())?;
    let rec = sim.run(1000.0)?;
    let steps = 10_000;
    let mut arriving = vec![Vec::new(); steps];
    for &(m, i) in &rec.nuclei[input.index()].spikes {
        arriving[m].push(i);
    }
    let delay = (delay_ms / dt).round() as usize;
    let all: Vec<(usize, usize)> = (0..n).map(|i| (i, 0)).collect();
    let wiring = song::Wiring {
        syn: &all,
        delays: &vec![delay; n],
        w0: &w0,
    };
    let r = song::reference(&arriving, wiring, 1, gmax, dt, false);
    let ours = rec.nuclei[post.index()].spikes.clone();
    assert!(ours.len() > 10, "the neuron needs spikes: {}", ours.len());
    assert_eq!(ours, r.spikes);
    let Weights::DenseF32(learned) = sim.weights(c)? else {
        panic!("dense weights expected");
    };
    assert_eq!(learned.dim(), (n, 1));
    let mut moved = 0;
    for i in 0..n {
        let ours = learned[[i, 0]] as f64;
        assert!(
            (0.0..=gmax as f32 as f64).contains(&ours),
            "w[{i}] = {ours}"
        );
        assert!(
            (ours - r.w[i]).abs() < 1e-5 * gmax,
            "w[{i}]: {ours} vs reference {}",
            r.w[i]
        );
        if (r.w[i] - w0[i]).abs() > 0.01 * gmax {
            moved += 1;
        }
    }
    assert!(moved > n / 2, "only {moved} weights moved");
    // The per-neuron traces against the reference's per-synapse ones.
    let traces = sim.synapse_traces(c)?;
    assert_eq!(traces[0].0, "Apre");
    assert_eq!(traces[1].0, "Apost");
    assert_eq!((traces[0].1.len(), traces[1].1.len()), (n, 1));
    let scale = 0.01 * gmax;
    for i in 0..n {
        let (pre, post) = (traces[0].1[i] as f64, traces[1].1[0] as f64);
        assert!(
            (pre - r.apre[i]).abs() < 1e-4 * scale,
            "Apre[{i}]: {pre} vs {}",
            r.apre[i]
        );
        assert!(
            (post - r.apost[i]).abs() < 1e-4 * scale,
            "Apost (synapse {i}): {post} vs {}",
            r.apost[i]
        );
    }
    assert!(r.apre.iter().any(|&a| a > 0.01 * scale) && r.apost.iter().any(|&a| a < -0.01 * scale));
    Ok(())
}

/// Learned weights and traces are variables: a plastic run checkpointed
/// at 300 ms and resumed in a fresh simulator gives the uninterrupted
/// run's output spikes and weights, bit for bit; several steps per session
/// run give the same as one.
#[test]
fn a_resumed_plastic_run_equals_an_uninterrupted_one() -> R {
    use snn::network::{Connection, Weights};
    let gmax = 0.2;
    let build =
        |per_run: usize| -> snn::Result<(snn::network::Simulator, snn::network::ConnectionId)> {
            let mut net = Network::new().seed(5);
            let input = net.add(Nucleus::poisson("input", 30, 30.0))?;
            let post =
                net.add(Nucleus::with_model("neuron", 2, song::neuron()).record(Record::spikes()))?;
            let w = ndarray::Array2::from_shape_fn((30, 2), |(i, j)| {
                gmax * ((i * 7 + j * 3) % 10) as f64 / 10.0
            });
            let c = net.connect_with(
                Connection::new(input, post, w)
                    .delay(1.0)
                    .synapses(song::stdp(gmax)),
            )?;
            Ok((net.build_with(0.1, quiet().steps_per_run(per_run))?, c))
        };
    let (mut whole, c) = build(1)?;
    let all = whole.run(600.0)?.nuclei[1].spikes.clone();
    let Weights::DenseF32(w_all) = whole.weights(c)? else {
        panic!("dense")
    };
    assert!(all.len() > 10, "{} output spikes", all.len());

    let dir = common::tempdir("plastic-ckpt")?;
    let (mut first, _) = build(1)?;
    first.run(300.0)?;
    first.save_checkpoint(dir.join("at300"))?;
    drop(first);
    let (mut resumed, c2) = build(1)?;
    resumed.restore_checkpoint(dir.join("at300"))?;
    let rest = resumed.run(300.0)?.nuclei[1].spikes.clone();
    let after: Vec<(usize, usize)> = all.iter().copied().filter(|s| s.0 >= 3000).collect();
    assert!(!after.is_empty());
    assert_eq!(rest, after);
    let Weights::DenseF32(w_resumed) = resumed.weights(c2)? else {
        panic!("dense")
    };
    assert_eq!(w_resumed, w_all);

    let (mut multi, c3) = build(10)?;
    assert_eq!(multi.run(600.0)?.nuclei[1].spikes, all);
    let Weights::DenseF32(w_multi) = multi.weights(c3)? else {
        panic!("dense")
    };
    assert_eq!(w_multi, w_all);
    Ok(())
}

/// `record_weights(50.0)` over 200 ms: four snapshots at 50, 100, 150 and
/// 200 ms, the last one the weights `Simulator::weights` reads, the first
/// already changed by learning; a run of 10 steps per session run takes
/// them at the same times (50 ms is 50 runs).
#[test]
fn weight_snapshots_are_recorded_every_period() -> R {
    use snn::network::{Connection, Weights};
    let gmax = 0.2;
    for per_run in [1, 10] {
        let mut net = Network::new().seed(9);
        let input = net.add(Nucleus::poisson("input", 40, 50.0))?;
        let post = net.add(Nucleus::with_model("neuron", 1, song::neuron()))?;
        let w0 = ndarray::Array2::from_elem((40, 1), 0.5 * gmax);
        let c = net.connect_with(
            Connection::new(input, post, w0.clone())
                .synapses(song::stdp(gmax))
                .record_weights(50.0),
        )?;
        let mut sim = net.build_with(0.1, quiet().steps_per_run(per_run))?;
        let rec = sim.run(200.0)?;
        assert_eq!(rec.weights.len(), 1);
        let snaps = &rec.weights[0];
        assert_eq!(
            (snaps.connection.as_str(), snaps.index),
            ("input->neuron", c.index())
        );
        let times: Vec<f64> = snaps
            .times_ms
            .iter()
            .map(|t| (t * 1e6).round() / 1e6)
            .collect();
        assert_eq!(times, [50.0, 100.0, 150.0, 200.0]);
        let Weights::DenseF32(first) = &snaps.values[0] else {
            panic!("dense")
        };
        assert!(
            first.iter().any(|&w| (w as f64 - 0.5 * gmax).abs() > 1e-6),
            "no learning yet"
        );
        assert_eq!(snaps.values[3], sim.weights(c)?);
    }
    Ok(())
}

/// The snapshots of one 200 ms run are those of two runs appended
/// (`Recording::append`), of a checkpointed run (which once dropped them:
/// its chunks were appended without their snapshots), whole or resumed,
/// and of a streamed run, read back from their folders. `append` refuses
/// a recording out of order or of another network.
#[test]
fn weight_snapshots_survive_appends_and_checkpointed_runs() -> R {
    use snn::network::{Checkpointing, Connection};
    let gmax = 0.2;
    let build_with = |options| -> snn::Result<snn::network::Simulator> {
        let mut net = Network::new().seed(9);
        let input = net.add(Nucleus::poisson("input", 40, 50.0))?;
        let post = net.add(Nucleus::with_model("neuron", 1, song::neuron()))?;
        net.connect_with(
            Connection::new(input, post, ndarray::Array2::from_elem((40, 1), 0.5 * gmax))
                .synapses(song::stdp(gmax))
                .record_weights(50.0),
        )?;
        net.build_with(0.1, options)
    };
    let build = || build_with(quiet());
    let whole = build()?.run(200.0)?;
    assert_eq!(whole.weights[0].times_ms.len(), 4);

    let mut sim = build()?;
    let mut appended = sim.run(120.0)?;
    let later = sim.run(80.0)?;
    assert!(matches!(
        later.clone().append(appended.clone()),
        Err(snn::Error::InvalidOption { .. })
    ));
    let foreign = build()?.run(80.0)?;
    assert!(matches!(
        appended.clone().append(foreign),
        Err(snn::Error::InvalidOption { .. })
    ));
    appended.append(later)?;
    assert!(
        appended.weights == whole.weights,
        "appended snapshots differ"
    );

    // A checkpointed run writes them into its folder (the recording it
    // returns keeps the connections, not the snapshots), stopped and
    // resumed by another simulator or not; so does a streamed run.
    let dir = common::tempdir("plastic-snapshots")?;
    let ck = Checkpointing::new(dir.join("run")).every_ms(30.0);
    let mut sim = build()?;
    let checkpointed = sim.run_checkpointed(200.0, &ck)?;
    assert_eq!(checkpointed.weights.len(), 1);
    assert!(checkpointed.weights[0].values.is_empty());
    assert!(
        sim.streamed_spikes(&ck)?.weights == whole.weights,
        "checkpointed snapshots differ"
    );
    let ck = Checkpointing::new(dir.join("resumed")).every_ms(30.0);
    build()?.run_checkpointed(130.0, &ck)?;
    let mut resumed = build()?;
    resumed.run_checkpointed(200.0, &ck)?;
    assert!(
        resumed.streamed_spikes(&ck)?.weights == whole.weights,
        "resumed snapshots differ"
    );
    let mut streamed = build_with(quiet().stream_to(dir.join("stream")))?;
    streamed.run(120.0)?;
    streamed.run(80.0)?;
    assert!(
        Recording::read_streamed(dir.join("stream"))?.weights == whole.weights,
        "streamed snapshots differ"
    );
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// Compressed rows: 60 inputs onto 4 neurons, each pair connected with
/// probability 0.4, STDP with a delay of 0.5 ms, against the reference
/// stepper over the same synapse list (identical spikes, weights within
/// float32 rounding); all-to-all compressed rows learn exactly as the same
/// weights given dense.
#[test]
fn stdp_on_compressed_rows() -> R {
    use snn::network::{Connection, Propagation, Weights};
    let (n, n_post, dt, gmax) = (60usize, 4usize, 0.1, 0.15);
    // A seeded Bernoulli pattern, in row order, and weights.
    let mut syn = Vec::new();
    let mut state = 12345u64;
    for i in 0..n {
        for j in 0..n_post {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            if (state >> 33) % 10 < 4 {
                syn.push((i, j));
            }
        }
    }
    let w0: Vec<f64> = (0..syn.len())
        .map(|s| gmax * ((s * 37) % 100) as f64 / 100.0)
        .collect();
    let csr = |syn: &[(usize, usize)], w: &[f64]| {
        let mut indptr = vec![0usize; n + 1];
        for &(i, _) in syn {
            indptr[i + 1] += 1;
        }
        for i in 0..n {
            indptr[i + 1] += indptr[i];
        }
        Weights::Csr {
            indptr,
            indices: syn.iter().map(|p| p.1).collect(),
            values: w.to_vec(),
        }
    };
    let run = |weights: Weights,
               propagation: Propagation|
     -> Result<(Spikes, Spikes, Weights), Box<dyn std::error::Error>> {
        let mut net = Network::new().seed(21);
        let input = net.add(Nucleus::poisson("input", n, 40.0).record(Record::spikes()))?;
        let post = net
            .add(Nucleus::with_model("neuron", n_post, song::neuron()).record(Record::spikes()))?;
        let c = net.connect_with(
            Connection::new(input, post, weights)
                .delay(0.5)
                .propagation(propagation)
                .synapses(song::stdp(gmax)),
        )?;
        let mut sim = net.build_with(dt, quiet())?;
        let rec = sim.run(1000.0)?;
        Ok((
            rec.nuclei[0].spikes.clone(),
            rec.nuclei[1].spikes.clone(),
            sim.weights(c)?,
        ))
    };
    let (inputs, ours, learned) = run(csr(&syn, &w0), Propagation::EventDriven)?;
    let Weights::CsrF32 {
        values, indices, ..
    } = learned
    else {
        return Err("compressed rows expected".into());
    };
    assert_eq!(indices.len(), syn.len());
    let mut arriving = vec![Vec::new(); 10_000];
    for &(m, i) in &inputs {
        arriving[m].push(i);
    }
    let wiring = song::Wiring {
        syn: &syn,
        delays: &vec![5; syn.len()],
        w0: &w0,
    };
    let r = song::reference(&arriving, wiring, n_post, gmax, dt, false);
    assert!(ours.len() > 20, "{} output spikes", ours.len());
    assert_eq!(ours, r.spikes);
    let mut moved = 0;
    for s in 0..syn.len() {
        let x = values[s] as f64;
        assert!(
            (x - r.w[s]).abs() < 1e-5 * gmax,
            "synapse {s} {:?}: {x} vs {}",
            syn[s],
            r.w[s]
        );
        moved += usize::from((r.w[s] - w0[s]).abs() > 0.01 * gmax);
    }
    assert!(moved > syn.len() / 2, "only {moved} weights moved");

    // All-to-all: compressed rows and a dense matrix learn alike.
    let full: Vec<(usize, usize)> = (0..n)
        .flat_map(|i| (0..n_post).map(move |j| (i, j)))
        .collect();
    let wf: Vec<f64> = (0..full.len())
        .map(|s| gmax * ((s * 53) % 100) as f64 / 100.0)
        .collect();
    let dense = ndarray::Array2::from_shape_vec((n, n_post), wf.clone())?;
    let (_, sparse_spikes, sparse_w) = run(csr(&full, &wf), Propagation::EventDriven)?;
    let (_, dense_spikes, dense_w) = run(Weights::Dense(dense), Propagation::Auto)?;
    assert_eq!(sparse_spikes, dense_spikes);
    let (Weights::CsrF32 { values, .. }, Weights::DenseF32(d)) = (sparse_w, dense_w) else {
        return Err("layouts".into());
    };
    assert_eq!(values, d.iter().copied().collect::<Vec<f32>>());
    Ok(())
}

/// Plastic synapses from a subgroup of a Poisson group (rows 20..50 of 60)
/// learn exactly as the same synapses written in the nucleus's numbering:
/// the same presynaptic traces, output spikes and learned weights.
#[test]
fn plasticity_from_a_subgroup_learns_as_the_nucleus_rows() -> R {
    use snn::network::{Connection, Propagation, Weights};
    let (n, n_post, gmax) = (60usize, 3usize, 0.15);
    let triplets: Vec<(usize, usize, f64)> = (0..30)
        .flat_map(|i| (0..n_post).map(move |j| (i, j)))
        .filter(|(i, j)| (i * 7 + j * 3) % 5 != 0)
        .map(|(i, j)| (i, j, gmax * ((i * 13 + j * 29) % 100) as f64 / 100.0))
        .collect();
    let run = |sub: bool| -> Result<(Spikes, Weights), Box<dyn std::error::Error>> {
        let mut net = Network::new().seed(5);
        let input = net.add(Nucleus::poisson("input", n, 40.0))?;
        let post = net
            .add(Nucleus::with_model("neuron", n_post, song::neuron()).record(Record::spikes()))?;
        let c = if sub {
            Connection::new(input.subgroup(20..50), post, triplets.clone())
        } else {
            let shifted: Vec<_> = triplets.iter().map(|&(i, j, w)| (i + 20, j, w)).collect();
            Connection::new(input, post, shifted)
        };
        let c = net.connect_with(
            c.delay(0.5)
                .propagation(Propagation::EventDriven)
                .synapses(song::stdp(gmax)),
        )?;
        let mut sim = net.build_with(0.1, quiet())?;
        let rec = sim.run(1000.0)?;
        Ok((rec.nuclei[1].spikes.clone(), sim.weights(c)?))
    };
    let (spikes_sub, w_sub) = run(true)?;
    let (spikes_full, w_full) = run(false)?;
    assert!(
        spikes_full.len() > 10,
        "{} output spikes",
        spikes_full.len()
    );
    assert_eq!(spikes_sub, spikes_full);
    assert_eq!(w_sub, w_full);
    let Weights::CsrF32 { values, .. } = w_sub else {
        return Err("compressed rows expected".into());
    };
    let moved = values
        .iter()
        .zip(&triplets)
        .filter(|(w, t)| (**w as f64 - t.2).abs() > 0.01 * gmax)
        .count();
    assert!(moved > triplets.len() / 2, "only {moved} weights moved");
    Ok(())
}

/// Bad requests around plasticity are typed errors naming the culprit.
#[test]
fn plasticity_errors_are_typed() -> R {
    use snn::network::{Connection, ConnectionId};
    use snn::Error;
    let gmax = 0.1;
    let attempt = |f: &dyn Fn(
        &mut Network,
        snn::network::NucleusId,
        snn::network::NucleusId,
    ) -> snn::Result<ConnectionId>|
     -> snn::Result<()> {
        let mut net = Network::new();
        let input = net.add(Nucleus::poisson("input", 5, 10.0))?;
        let post = net.add(Nucleus::with_model("neuron", 2, song::neuron()))?;
        f(&mut net, input, post)?;
        net.build_with(0.1, quiet()).map(|_| ())
    };
    let message = |e: snn::Error| e.to_string();
    // A kernel, or on_pre beside the synapse model.
    let e = attempt(&|net, a, b| {
        net.connect_with(
            Connection::new(a, b, 0.01)
                .kernel(|t| (-t).exp(), 2.0)
                .synapses(song::stdp(gmax)),
        )
    })
    .unwrap_err();
    assert!(message(e).contains("input->neuron"));
    let e = attempt(&|net, a, b| {
        net.connect_with(
            Connection::new(a, b, 0.01)
                .on_pre("ge += w")
                .synapses(song::stdp(gmax)),
        )
    })
    .unwrap_err();
    assert!(message(e).contains("drop Connection::on_pre"));
    // A bad snapshot period.
    let e = attempt(&|net, a, b| {
        net.connect_with(
            Connection::new(a, b, 0.01)
                .synapses(song::stdp(gmax))
                .record_weights(-5.0),
        )
    })
    .unwrap_err();
    assert!(message(e).contains("record_weights(-5)"));
    // A statement into a variable the target does not have.
    let bad = song::stdp(gmax).on_pre("gx += w");
    let e =
        attempt(&|net, a, b| net.connect_with(Connection::new(a, b, 0.01).synapses(bad.clone())))
            .unwrap_err();
    assert!(matches!(e, Error::Equation { .. }), "{e:?}");
    assert!(message(e).contains("gx"));
    // A Poisson rate naming something unknown.
    let mut net = Network::new();
    net.add(Nucleus::poisson("P", 3, "10 * sin(tt)"))?;
    let e = net.build_with(0.1, quiet()).unwrap_err();
    assert!(matches!(e, Error::Equation { .. }) && message(e).contains("tt"));
    // Handles from another network.
    let mut other = Network::new();
    let x = other.add(Nucleus::poisson("x", 2, 1.0))?;
    let y = other.add(Nucleus::with_model("y", 1, song::neuron()))?;
    let foreign = other.connect_with(Connection::new(x, y, 0.01).synapses(song::stdp(gmax)))?;
    let mut net = Network::new();
    let a = net.add(Nucleus::poisson("a", 2, 1.0))?;
    let b = net.add(Nucleus::with_model("b", 1, song::neuron()))?;
    net.connect_with(Connection::new(a, b, 0.01).synapses(song::stdp(gmax)))?;
    let sim = net.build_with(0.1, quiet())?;
    assert!(matches!(
        sim.weights(foreign),
        Err(Error::ForeignConnection { .. })
    ));
    assert!(matches!(
        sim.synapse_traces(foreign),
        Err(Error::ForeignConnection { .. })
    ));
    Ok(())
}

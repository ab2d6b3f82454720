//! Per-synapse delays (docs/semantics.md §1.4) against the independent
//! reference stepper of tests/common, where a connection with several
//! delays is one reference connection per delay; uniform draws against
//! the spikes' arrival steps; bad combinations as typed errors.

mod common;

use common::{assert_v_close, simulate, song, RefConn, RefNucleus, Rng};
use snn::equations::NeuronModel;
use snn::network::{
    Connection, Delays, Input, Network, Nucleus, Probe, Propagation, Record, SimOptions, Weights,
};
use snn::Error;

type R = Result<(), Box<dyn std::error::Error>>;

fn opts() -> SimOptions {
    SimOptions::default().quiet().tensorboard(None)
}

/// Compressed rows of about 40% of the `pre x post` pairs, weights in
/// `[lo, hi]`, and a delay from `choices` (ms) for each synapse.
fn sparse(
    seed: u64,
    (pre, post): (usize, usize),
    (lo, hi): (f64, f64),
    choices: &[f64],
) -> (Vec<usize>, Vec<usize>, Vec<f64>, Vec<f64>) {
    let mut rng = Rng(seed);
    let (mut indptr, mut cols, mut w, mut d) = (vec![0], Vec::new(), Vec::new(), Vec::new());
    for _ in 0..pre {
        for j in 0..post {
            if rng.next_f64() < 0.4 {
                cols.push(j);
                w.push(lo + (hi - lo) * rng.next_f64());
                let k = (rng.next_f64() * choices.len() as f64) as usize;
                d.push(choices[k.min(choices.len() - 1)]);
            }
        }
        indptr.push(cols.len());
    }
    (indptr, cols, w, d)
}

/// One reference connection per distinct delay (in steps), each with the
/// synapses of that delay (voltage jumps: [`with_kernel`] for others).
fn split_by_delay(
    (pre, post): (usize, usize),
    (pre_n, post_n): (usize, usize),
    indptr: &[usize],
    cols: &[usize],
    w: &[f64],
    steps: &[usize],
) -> Vec<RefConn> {
    let mut lags = steps.to_vec();
    lags.sort_unstable();
    lags.dedup();
    lags.into_iter()
        .map(|lag| {
            let mut m = vec![vec![0.0; post_n]; pre_n];
            for i in 0..pre_n {
                for s in indptr[i]..indptr[i + 1] {
                    if steps[s] == lag {
                        m[i][cols[s]] += w[s];
                    }
                }
            }
            RefConn {
                pre,
                post,
                w: m,
                delay_steps: lag,
                kernel: vec![1.0],
            }
        })
        .collect()
}

/// Two nuclei: A -> B with delays listed per synapse (0 to 3 ms, lag 0
/// included) and, from A too, a connection with one delay of 1.5 ms (a lag
/// the first does not use: its events must take no synapse of the first);
/// B -> A with delays drawn uniformly in [1, 4] ms. The reference steps
/// each delay as a connection of its own; the engine gives its spikes and
/// v, with one and with three steps per session run, and reports the
/// listed delays back in the order of its rows.
#[test]
fn per_synapse_delays_match_the_reference() -> R {
    per_synapse_delays_against_the_reference(None)
}

/// The same network with an exponential kernel on A -> B and an alpha
/// kernel on B -> A (recursive traces fed by the keyed rows at each
/// synapse's delay and at that delay + K): the reference sums each
/// delay's window directly.
#[test]
fn per_synapse_delays_with_kernel_traces_match_the_reference() -> R {
    per_synapse_delays_against_the_reference(Some((
        |t| 0.6 * (-t / 2.0).exp(),
        |t| 0.8 * t * (-t / 1.5).exp(),
        6.0,
    )))
}

/// `conns` with `kernel` (sampled every `dt` over `window` ms) instead of
/// voltage jumps.
fn with_kernel(
    mut conns: Vec<RefConn>,
    kernel: fn(f64) -> f64,
    window: f64,
    dt: f64,
) -> Vec<RefConn> {
    let k = (window / dt).round() as usize;
    for c in &mut conns {
        c.kernel = (0..k).map(|i| kernel(i as f64 * dt)).collect();
    }
    conns
}

type Kernels = Option<(fn(f64) -> f64, fn(f64) -> f64, f64)>;

fn per_synapse_delays_against_the_reference(kernels: Kernels) -> R {
    let (dt, steps) = (0.5, 800);
    let (na, nb) = (14, 9);
    let input_a = |t: f64| {
        (0..14)
            .map(|i| if t < 250.0 { 6.0 + 0.3 * i as f64 } else { 3.5 })
            .collect::<Vec<f64>>()
    };
    let (ab_ptr, ab_cols, ab_w, ab_ms) =
        sparse(7, (na, nb), (0.0, 6.0), &[0.0, 0.5, 1.0, 2.0, 3.0]);
    let (ba_ptr, ba_cols, ba_w, _) = sparse(9, (nb, na), (-4.0, 1.0), &[0.0]);
    let w_fixed = Rng(5).matrix(na, nb, 0.0, 2.0);
    let build = |k: usize| -> Result<_, Box<dyn std::error::Error>> {
        let mut net = Network::new();
        let (a, b) = common::driven_pair(&mut net, (na, nb), input_a)?;
        let csr = |p: &[usize], c: &[usize], w: &[f64]| Weights::Csr {
            indptr: p.to_vec(),
            indices: c.to_vec(),
            values: w.to_vec(),
        };
        let mut ab = Connection::new(a, b, csr(&ab_ptr, &ab_cols, &ab_w))
            .delays(Delays::PerSynapse(ab_ms.clone()));
        let mut ba = Connection::new(b, a, csr(&ba_ptr, &ba_cols, &ba_w)).delays(Delays::Uniform {
            low: 1.0,
            high: 4.0,
            seed: 3,
        });
        if let Some((exponential, alpha, window)) = kernels {
            ab = ab.kernel(exponential, window);
            ba = ba.kernel(alpha, window);
        }
        let ab = net.connect_with(ab)?;
        net.connect_with(
            Connection::new(a, b, common::to_array(&w_fixed))
                .delay(1.5)
                .propagation(Propagation::EventDriven),
        )?;
        let ba = net.connect_with(ba)?;
        let mut sim = net.build_with(dt, opts().steps_per_run(k))?;
        let choice = &sim.propagation()[ab.index()];
        assert_eq!(choice.layout, snn::network::WeightLayout::Sparse);
        assert!(
            choice.reason.contains("per-synapse delays"),
            "{}",
            choice.reason
        );
        let rec = sim.run(steps as f64 * dt)?;
        Ok((
            rec,
            sim.weights(ab)?,
            sim.delays(ab)?,
            sim.weights(ba)?,
            sim.delays(ba)?,
        ))
    };
    let (rec, ab_read, ab_read_ms, ba_read, ba_read_ms) = build(1)?;

    // The listed delays come back with their synapses (rows by delay).
    let Weights::CsrF32 {
        indptr,
        indices,
        values,
    } = ab_read
    else {
        return Err("compressed rows expected".into());
    };
    let ab_read_ms = ab_read_ms.ok_or("per-synapse delays expected")?;
    assert_eq!(indptr, ab_ptr);
    for i in 0..na {
        let mut given: Vec<(u64, usize, u32)> = (ab_ptr[i]..ab_ptr[i + 1])
            .map(|s| {
                (
                    (ab_ms[s] / dt).round() as u64,
                    ab_cols[s],
                    (ab_w[s] as f32).to_bits(),
                )
            })
            .collect();
        let read: Vec<(u64, usize, u32)> = (indptr[i]..indptr[i + 1])
            .map(|s| {
                (
                    (ab_read_ms[s] / dt).round() as u64,
                    indices[s] as usize,
                    values[s].to_bits(),
                )
            })
            .collect();
        given.sort_by_key(|x| x.0);
        assert_eq!(read, given, "row {i}");
    }

    // The drawn delays: whole steps in [1, 4] ms, several distinct.
    let ba_read_ms = ba_read_ms.ok_or("per-synapse delays expected")?;
    let Weights::CsrF32 {
        indptr: ba_ptr_read,
        indices: ba_cols_read,
        values: ba_w_read,
    } = ba_read
    else {
        return Err("compressed rows expected".into());
    };
    assert!(ba_read_ms.iter().all(|&d| (1.0..=4.0).contains(&d)));
    let ba_steps: Vec<usize> = ba_read_ms
        .iter()
        .map(|d| (d / dt).round() as usize)
        .collect();
    let mut distinct = ba_steps.clone();
    distinct.sort_unstable();
    distinct.dedup();
    assert!(distinct.len() >= 5, "{distinct:?}");

    let ab_steps: Vec<usize> = ab_ms.iter().map(|d| (d / dt).round() as usize).collect();
    let mut conns = split_by_delay((0, 1), (na, nb), &ab_ptr, &ab_cols, &ab_w, &ab_steps);
    if let Some((exponential, _, window)) = kernels {
        conns = with_kernel(conns, exponential, window, dt);
    }
    conns.push(RefConn {
        pre: 0,
        post: 1,
        w: w_fixed.clone(),
        delay_steps: 3,
        kernel: vec![1.0],
    });
    let ba_w64: Vec<f64> = ba_w_read.iter().map(|&x| x as f64).collect();
    let ba_cols64: Vec<usize> = ba_cols_read.iter().map(|&j| j as usize).collect();
    let mut back = split_by_delay(
        (1, 0),
        (nb, na),
        &ba_ptr_read,
        &ba_cols64,
        &ba_w64,
        &ba_steps,
    );
    if let Some((_, alpha, window)) = kernels {
        back = with_kernel(back, alpha, window, dt);
    }
    conns.extend(back);
    let mut rn = vec![
        RefNucleus::uniform(na, 0.02, 0.2, -65.0, 8.0, input_a),
        RefNucleus::uniform(nb, 0.1, 0.2, -65.0, 2.0, |_| vec![3.0; 9]),
    ];
    let reference = simulate(&mut rn, &conns, dt, steps);
    for x in 0..2 {
        assert!(
            reference.spikes[x].len() > 10,
            "nucleus {x}: too few spikes"
        );
        assert_eq!(rec.nuclei[x].spikes, reference.spikes[x], "nucleus {x}");
        assert_v_close(&rec, x, &reference.v[x]);
    }
    // Three steps per session run: the same run, bit for bit.
    let (rec3, ..) = build(3)?;
    assert_eq!(rec3.steps, rec.steps);
    for (x, y) in rec.nuclei.iter().zip(&rec3.nuclei) {
        assert!(x == y, "{}: three steps per run differ", x.label);
    }
    Ok(())
}

/// One presynaptic neuron fires; each of 400 targets (`dv/dt = 0`, `v +=
/// w`) has one synapse from it with a delay drawn uniformly in [0.5, 6]
/// ms. Each target's `v` rises at the spike's step plus its synapse's
/// delay (one offset for all, the engine's delivery step), the delays are
/// whole steps in range and spread over it, and the seed decides them.
#[test]
fn uniform_delays_arrive_when_drawn() -> R {
    let (dt, n) = (0.1, 400);
    let run = |seed: u64| -> Result<_, Box<dyn std::error::Error>> {
        let mut net = Network::new();
        let driver = net.add(
            Nucleus::new("drive", 1)
                .input(Input::function(|t, out| {
                    out[0] = if t < 2.0 { 40.0 } else { -20.0 }
                }))
                .record(Record::spikes()),
        )?;
        let still = NeuronModel::new()
            .equation("v", "0 * v")
            .threshold("v > 1000")
            .reset("v = 0");
        let targets = net.add(
            Nucleus::with_model("targets", n, still).record(Record::spikes().var("v", Probe::All)),
        )?;
        let c = net.connect_with(
            Connection::new(driver, targets, Weights::fixed_out_degree(n, 1.0, 1))
                .on_pre("v += w")
                .delays(Delays::Uniform {
                    low: 0.5,
                    high: 6.0,
                    seed,
                }),
        )?;
        let mut sim = net.build_with(dt, opts())?;
        let rec = sim.run(20.0)?;
        let Weights::CsrF32 { indices, .. } = sim.weights(c)? else {
            return Err("compressed rows expected".into());
        };
        let ms = sim.delays(c)?.ok_or("per-synapse delays expected")?;
        Ok((rec, indices, ms))
    };
    let (rec, targets, ms) = run(4)?;
    let spikes = &rec.nuclei[0].spikes;
    assert_eq!(spikes.len(), 1, "the driver fires once: {spikes:?}");
    let fired = spikes[0].0;
    let v = rec.nuclei[1].traces["v"].values();
    let mut offsets = Vec::new();
    for (&j, &d) in targets.iter().zip(&ms) {
        let rise = (0..v.nrows())
            .find(|&m| v[[m, j as usize]] > 0.5)
            .ok_or("a target never received its spike")?;
        let steps = (d / dt).round() as usize;
        assert!((5..=60).contains(&steps), "{d} ms");
        offsets.push(rise - fired - steps);
    }
    offsets.dedup();
    assert_eq!(
        offsets.len(),
        1,
        "arrivals not at spike + delay: {offsets:?}"
    );
    let mean = ms.iter().sum::<f64>() / ms.len() as f64;
    // Uniform on [0.5, 6] ms: mean 3.25, standard error 1.59 / sqrt(400).
    assert!((mean - 3.25).abs() < 0.4, "mean delay {mean}");
    let (_, _, again) = run(4)?;
    assert_eq!(again, ms);
    let (_, _, other) = run(5)?;
    assert_ne!(other, ms);
    Ok(())
}

/// A bad combination: what else the connection asks, its weights and
/// delays, and what the error must say.
type Case = (
    Box<dyn Fn(Connection) -> Connection>,
    Weights,
    Delays,
    &'static str,
);

/// What per-synapse delays cannot go with is refused by name.
#[test]
fn per_synapse_delays_refuse_what_they_cannot_take() -> R {
    let mut cases: Vec<Case> = Vec::new();
    let csr = || Weights::Csr {
        indptr: vec![0, 1, 2, 2],
        indices: vec![0, 1],
        values: vec![1.0, 1.0],
    };
    let two = || Delays::PerSynapse(vec![1.0, 2.0]);
    cases.push((
        Box::new(|c| c),
        Weights::Scalar(1.0),
        two(),
        "need sparse weights",
    ));
    cases.push((
        Box::new(|c| c),
        Weights::Triplets(vec![(0, 0, 1.0), (1, 1, 1.0)]),
        two(),
        "order of Weights::Csr",
    ));
    cases.push((
        Box::new(|c| c),
        csr(),
        Delays::PerSynapse(vec![1.0]),
        "1 delays given for 2",
    ));
    cases.push((
        Box::new(|c| c),
        csr(),
        Delays::PerSynapse(vec![1.0, -1.0]),
        "delay #1",
    ));
    cases.push((
        Box::new(|c| c),
        csr(),
        Delays::PerSynapse(vec![1.0, 0.25]),
        "round_to_step",
    ));
    cases.push((Box::new(|c| c.delay(1.0)), csr(), two(), "one or the other"));
    cases.push((
        Box::new(|c| c.kernel(|t| (1.0 - t / 2.0).max(0.0), 2.0)),
        csr(),
        two(),
        "not with a windowed kernel",
    ));
    cases.push((
        Box::new(|c| c.propagation(Propagation::Dense)),
        csr(),
        two(),
        "Propagation::Dense",
    ));
    cases.push((
        Box::new(|c| c),
        csr(),
        Delays::Uniform {
            low: 2.0,
            high: 1.0,
            seed: 1,
        },
        "low <= high",
    ));
    for (extra, weights, delays, needle) in cases {
        let mut net = Network::new();
        let a = net.add(Nucleus::new("A", 3))?;
        let b = net.add(Nucleus::new("B", 2))?;
        net.connect_with(extra(Connection::new(a, b, weights).delays(delays)))?;
        match net.build_with(0.1, opts()) {
            Err(e @ Error::SparseWeights { .. }) => {
                let text = e.to_string();
                assert!(text.contains("A->B"), "{text}");
                assert!(text.contains(needle), "{needle:?} not in {text}");
            }
            Err(other) => return Err(format!("{needle}: {other}").into()),
            Ok(_) => return Err(format!("{needle}: built").into()),
        }
    }
    // Row pointers by (neuron, delay) over the memory limit: refused by name
    // before anything is allocated (1000 neurons x 1001 delays x 8 bytes).
    let mut net = Network::new();
    let a = net.add(Nucleus::new("A", 1000))?;
    net.connect_with(
        Connection::new(a, a, Weights::fixed_out_degree(50, 1.0, 1)).delays(Delays::Uniform {
            low: 0.0,
            high: 100.0,
            seed: 1,
        }),
    )?;
    refused_over_limit(net, 4_000_000, "by neuron and delay")?;
    // A synapse model keeps the past of its presynaptic traces, max delay
    // + 1 steps of each: two traces x 1001 steps x 1000 neurons x 4 bytes
    // (8 MB) over a limit the spike lists (4 MB) fit.
    let mut net = Network::new();
    let a = net.add(Nucleus::new("A", 1000))?;
    let d: Vec<f64> = (0..1000)
        .map(|i| if i % 2 == 0 { 0.0 } else { 100.0 })
        .collect();
    let ring = Weights::Csr {
        indptr: (0..=1000).collect(),
        indices: (0..1000).map(|i| (i + 1) % 1000).collect(),
        values: vec![1.0; 1000],
    };
    let two_traces = snn::equations::SynapseModel::new()
        .trace("x1", "-x1 / 10")
        .trace("x2", "-x2 / 20")
        .on_pre("x1 += 1\nx2 += 1");
    net.connect_with(
        Connection::new(a, a, ring)
            .delays(Delays::PerSynapse(d))
            .synapses(two_traces),
    )?;
    refused_over_limit(net, 6_000_000, "presynaptic traces")?;
    // Rounding on request: one note for the connection.
    let mut net = Network::new();
    let a = net.add(Nucleus::new("A", 3))?;
    let b = net.add(Nucleus::new("B", 2))?;
    net.connect_with(
        Connection::new(a, b, csr())
            .delays(Delays::PerSynapse(vec![1.0, 0.26]))
            .round_to_step(),
    )?;
    let sim = net.build_with(0.1, opts())?;
    assert_eq!(sim.rounded().len(), 1, "{:?}", sim.rounded());
    Ok(())
}

/// Building `net` (one connection `A->A`) under a memory limit of `limit`
/// bytes is refused with `Error::MemoryLimit` naming the connection and
/// `what`.
fn refused_over_limit(net: Network, limit: u64, what: &str) -> R {
    match net.build_with(0.1, opts().memory_limit(limit)) {
        Err(e @ Error::MemoryLimit { .. }) => {
            let text = e.to_string();
            assert!(text.contains("A->A") && text.contains(what), "{text}");
            Ok(())
        }
        Err(other) => Err(format!("memory limit ({what}): {other}").into()),
        Ok(_) => Err(format!("memory limit ({what}): built").into()),
    }
}

/// Per-synapse delays from a subgroup (rows 10..30 of 40 noisy LIF
/// neurons) run as the same synapses written in the nucleus's numbering,
/// static or plastic (the same spikes and learned weights); a run saved to
/// a checkpoint at 150 ms and resumed in a new simulator goes on as the
/// uninterrupted one (the spikes still in flight are in the saved spike
/// ring).
#[test]
fn per_synapse_delays_from_a_subgroup_and_across_a_checkpoint() -> R {
    let (n, rows) = (40usize, 10..30usize);
    let mut rng = Rng(17);
    let (mut indptr, mut cols, mut w, mut ms) = (vec![0usize], Vec::new(), Vec::new(), Vec::new());
    for _ in rows.clone() {
        for j in 0..n {
            if rng.next_f64() < 0.3 {
                cols.push(j);
                w.push(0.5 + rng.next_f64());
                ms.push(0.1 * (rng.next_f64() * 40.0).floor());
            }
        }
        indptr.push(cols.len());
    }
    // STDP onto v (the weights clipped to [0, 2]).
    let stdp = snn::equations::SynapseModel::new()
        .trace("Apre", "-Apre / 20")
        .trace("Apost", "-Apost / 20")
        .on_pre("v += w; Apre += 0.05; w = clip(w + Apost, 0, 2)")
        .on_post("Apost -= 0.06; w = clip(w + Apre, 0, 2)");
    type Built = (snn::network::Simulator, snn::network::ConnectionId);
    let build_with = |sub: bool, plastic: bool| -> Result<Built, Box<dyn std::error::Error>> {
        let lif = common::models::noisy_lif("-60 + 10 * rand()", 2.0);
        let mut net = Network::new().seed(8);
        let a = net.add(Nucleus::with_model("A", n, lif).record(Record::spikes()))?;
        let weights = |p: Vec<usize>| Weights::Csr {
            indptr: p,
            indices: cols.clone(),
            values: w.clone(),
        };
        let c = if sub {
            Connection::new(a.subgroup(rows.clone()), a, weights(indptr.clone()))
        } else {
            // Rows 0..10 and 30..40 empty.
            let mut p = vec![0; rows.start];
            p.extend(&indptr);
            p.resize(n + 1, *indptr.last().unwrap_or(&0));
            Connection::new(a, a, weights(p))
        };
        let c = c.delays(Delays::PerSynapse(ms.clone()));
        let c = net.connect_with(match plastic {
            true => c.synapses(stdp.clone()),
            false => c.on_pre("v += w"),
        })?;
        Ok((net.build_with(0.1, opts())?, c))
    };
    let build = |sub: bool| build_with(sub, false).map(|b| b.0);
    let whole = build(true)?.run(300.0)?.nuclei[0].spikes.clone();
    let numbered = build(false)?.run(300.0)?.nuclei[0].spikes.clone();
    assert!(whole.len() > 100, "{} spikes", whole.len());
    assert_eq!(numbered, whole);
    let learn = |sub: bool| -> Result<_, Box<dyn std::error::Error>> {
        let (mut sim, c) = build_with(sub, true)?;
        let spikes = sim.run(300.0)?.nuclei[0].spikes.clone();
        Ok((spikes, sim.weights(c)?))
    };
    let (spikes_sub, w_sub) = learn(true)?;
    let (spikes_all, w_all) = learn(false)?;
    assert_ne!(spikes_sub, whole, "the learning changed nothing");
    assert_eq!(spikes_sub, spikes_all);
    assert_eq!(w_sub, w_all);

    let dir = common::tempdir("delays-ckpt")?;
    let mut first = build(true)?;
    first.run(150.0)?;
    first.save_checkpoint(dir.join("at150"))?;
    drop(first);
    let mut resumed = build(true)?;
    resumed.restore_checkpoint(dir.join("at150"))?;
    let rest = resumed.run(150.0)?.nuclei[0].spikes.clone();
    let after: Vec<(usize, usize)> = whole.iter().copied().filter(|s| s.0 >= 1500).collect();
    assert!(!after.is_empty());
    assert_eq!(rest, after);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// STDP (Song et al. 2000, Brian2's statements) on compressed rows with a
/// delay per synapse (0-2.2 ms: some synapses take the spike in the step
/// it is fired), 40 Poisson inputs onto 3 neurons for 1 s, against the
/// reference stepper of tests/common/song.rs, which keeps each synapse's
/// traces as Brian2 does (changed when the spike arrives, decayed exactly
/// between events): the same output spikes; the same learned weights
/// within float32 rounding; the presynaptic trace the graph holds per
/// neuron is that of a synapse of delay 0, the postsynaptic one that of
/// every synapse of its column. Ten steps per session run give the same
/// spikes; a run checkpointed at 400 ms and resumed in a new simulator (the
/// traces' past restored with it) ends the same.
#[test]
fn stdp_with_per_synapse_delays_matches_the_reference() -> R {
    stdp_with_delays(false)?;
    // A rule whose on_pre reads Apre before and after its update: the
    // value a synapse sees is its delay's past.
    stdp_with_delays(true)
}

fn stdp_with_delays(reads_apre: bool) -> R {
    let (n, n_post, dt, gmax) = (40usize, 3usize, 0.1, 0.15);
    let choices: Vec<f64> = (0..23).map(|k| k as f64 * 0.1).collect();
    let (indptr, cols, w0, ms) = sparse(77, (n, n_post), (0.0, gmax), &choices);
    let build = |per_run: usize| -> Result<_, Box<dyn std::error::Error>> {
        let mut net = Network::new().seed(21);
        let input = net.add(Nucleus::poisson("input", n, 40.0).record(Record::spikes()))?;
        let post = net
            .add(Nucleus::with_model("neuron", n_post, song::neuron()).record(Record::spikes()))?;
        let c = net.connect_with(
            Connection::new(
                input,
                post,
                Weights::Csr {
                    indptr: indptr.clone(),
                    indices: cols.clone(),
                    values: w0.clone(),
                },
            )
            .delays(Delays::PerSynapse(ms.clone()))
            .synapses(match reads_apre {
                false => song::stdp(gmax),
                true => song::stdp_reading_apre(gmax),
            }),
        )?;
        Ok((net.build_with(dt, opts().steps_per_run(per_run))?, c))
    };
    let (mut sim, c) = build(1)?;
    let rec = sim.run(1000.0)?;
    let (inputs, ours) = (&rec.nuclei[0].spikes, &rec.nuclei[1].spikes);
    let mut fired = vec![Vec::new(); 10_000];
    for &(m, i) in inputs {
        fired[m].push(i);
    }
    let syn: Vec<(usize, usize)> = (0..n)
        .flat_map(|i| (indptr[i]..indptr[i + 1]).map(move |s| (i, s)))
        .map(|(i, s)| (i, cols[s]))
        .collect();
    let steps: Vec<usize> = ms.iter().map(|d| (d / dt).round() as usize).collect();
    assert!(steps.contains(&0) && steps.iter().filter(|&&d| d > 10).count() > 5);
    let wiring = song::Wiring {
        syn: &syn,
        delays: &steps,
        w0: &w0,
    };
    let r = song::reference(&fired, wiring, n_post, gmax, dt, reads_apre);
    assert!(ours.len() > 20, "{} output spikes", ours.len());
    assert_eq!(ours, &r.spikes);
    // The graph lists each row's synapses by delay (stable).
    let Weights::CsrF32 { values, .. } = sim.weights(c)? else {
        return Err("compressed rows expected".into());
    };
    let mut order: Vec<usize> = Vec::with_capacity(syn.len());
    for i in 0..n {
        let mut row: Vec<usize> = (indptr[i]..indptr[i + 1]).collect();
        row.sort_by_key(|&s| steps[s]);
        order.extend(row);
    }
    let listed = sim.delays(c)?.ok_or("no per-synapse delays")?;
    let mut moved = 0;
    for (at, &s) in order.iter().enumerate() {
        assert!((listed[at] - steps[s] as f64 * dt).abs() < 1e-9);
        let x = values[at] as f64;
        assert!(
            (x - r.w[s]).abs() < 1e-5 * gmax,
            "synapse {s} {:?} (delay {} steps): {x} vs {}",
            syn[s],
            steps[s],
            r.w[s]
        );
        moved += usize::from((r.w[s] - w0[s]).abs() > 0.01 * gmax);
    }
    assert!(moved > syn.len() / 2, "only {moved} weights moved");
    let traces = sim.synapse_traces(c)?;
    let scale = 0.01 * gmax;
    let mut zero_delay = 0;
    for s in 0..syn.len() {
        let (i, j) = syn[s];
        let post = traces[1].1[j] as f64;
        assert!((post - r.apost[s]).abs() < 1e-4 * scale, "Apost[{j}]");
        if steps[s] == 0 {
            let pre = traces[0].1[i] as f64;
            assert!((pre - r.apre[s]).abs() < 1e-4 * scale, "Apre[{i}]");
            zero_delay += 1;
        }
    }
    assert!(zero_delay > 0);

    if reads_apre {
        return Ok(());
    }
    // Ten steps per session run: the same spikes.
    let (mut multi, _) = build(10)?;
    assert_eq!(&multi.run(1000.0)?.nuclei[1].spikes, ours);
    // Checkpointed at 400 ms, resumed in a fresh simulator.
    let dir = common::tempdir("plastic-delays-ckpt")?;
    let (mut first, _) = build(1)?;
    first.run(400.0)?;
    first.save_checkpoint(dir.join("at400"))?;
    drop(first);
    let (mut resumed, c2) = build(1)?;
    resumed.restore_checkpoint(dir.join("at400"))?;
    let rest = resumed.run(600.0)?.nuclei[1].spikes.clone();
    let after: Vec<(usize, usize)> = ours.iter().copied().filter(|s| s.0 >= 4000).collect();
    assert!(!after.is_empty());
    assert_eq!(rest, after);
    let (Weights::CsrF32 { values: v2, .. }, Weights::CsrF32 { values: v1, .. }) =
        (resumed.weights(c2)?, sim.weights(c)?)
    else {
        return Err("compressed rows expected".into());
    };
    assert_eq!(v2, v1);
    Ok(())
}

//! Whatever numbers and shapes a user hands the network API (sizes, ranges,
//! weights in every form, delays, kernels, rates, inputs, recordings,
//! options, run lengths), building and running answer with a result or
//! one of our typed errors: never a panic, never TensorFlow's own error
//! (a graph we built and TensorFlow refused is our bug), never
//! `Error::Internal`; a run streamed to disk reads back as it ran.
//! Hundreds of small networks per run, seeded: each
//! choice is a good value most of the time and an edge or a bad one
//! otherwise (NaN, infinities, negatives, zero sizes, wrong lengths,
//! indices out of range).

mod common;

use std::panic::{catch_unwind, AssertUnwindSafe};

use common::draws::Draws;
use ndarray::Array2;
use snn::equations::NeuronModel;
use snn::network::{
    Connection, Delays, Input, Network, Nucleus, NucleusId, Probe, Propagation, Record, SimOptions,
    Weights,
};
use snn::Error;

/// xorshift64*, seeded per case, and how often (in tenths) a choice takes
/// an edge or bad value: never in half the cases (so that the deeper
/// paths, which every choice must pass, are reached), twice in ten in the
/// others.
struct Rng(Draws, usize);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0.below(n)
    }
    fn odd(&mut self) -> bool {
        let k = self.1;
        self.tenths(k)
    }
    /// True with probability `k / 10`.
    fn tenths(&mut self, k: usize) -> bool {
        self.below(10) < k
    }
    /// `good`, or one of `odd` (see [`Rng`]).
    fn num(&mut self, good: f64, odd: &[f64]) -> f64 {
        match !self.odd() {
            true => good,
            false => odd[self.below(odd.len())],
        }
    }
    fn size(&mut self, good: usize, odd: &[usize]) -> usize {
        match !self.odd() {
            true => good,
            false => odd[self.below(odd.len())],
        }
    }
}

const BAD: &[f64] = &[
    f64::NAN,
    f64::INFINITY,
    f64::NEG_INFINITY,
    -1.0,
    0.0,
    1e300,
    -0.0,
    1e-300,
];

/// A nucleus: built-in Izhikevich, a model, or Poisson; its input and its
/// recording.
fn nucleus(r: &mut Rng, k: usize) -> Nucleus {
    let good = 1 + r.below(12);
    let n = r.size(good, &[0, 1, 1000]);
    let label = match !r.odd() {
        true => format!("N{k}"),
        false => ["", "N0", "a/b", "é x"][r.below(4)].to_string(),
    };
    let poisson = r.tenths(3);
    let mut nu = match (poisson, r.below(2)) {
        (true, _) => Nucleus::poisson(label, n, r.num(50.0, BAD)),
        (false, 0) => Nucleus::new(label, n).abcd(
            r.num(0.02, BAD),
            0.2,
            r.num(-65.0, BAD),
            match !r.odd() {
                true => snn::network::Param::Scalar(8.0),
                false => snn::network::Param::PerNeuron(vec![2.0; r.below(n + 2)]),
            },
        ),
        (false, _) => {
            let lif = NeuronModel::new()
                .equation("v", "(I - v) / tau")
                .pulse("I")
                .param("tau", r.num(10.0, BAD))
                .threshold("v > 1")
                .reset("v = 0")
                .refractory(r.num(2.0, &[0.0, -1.0, f64::NAN, 0.05]));
            Nucleus::with_model(label, n, lif).init("v", r.num(0.5, BAD))
        }
    };
    // A Poisson group takes no input (a typed error when it is given one).
    let input = match poisson && !r.odd() {
        true => 5,
        false => r.below(5),
    };
    nu = match input {
        0 => nu.input(r.num(12.0, BAD)),
        1 => nu.input(vec![15.0; r.size(n, &[0, n + 1])]),
        2 => nu.input(Input::noise(r.num(5.0, BAD), r.num(3.0, BAD), 7)),
        3 => {
            let nan = r.odd();
            nu.input(Input::function(move |t, out| {
                out.fill(if nan && t > 0.5 { f64::NAN } else { 20.0 })
            }))
        }
        _ => nu,
    };
    let probe = match r.below(4) {
        0 => Probe::All,
        1 => Probe::None,
        2 => Probe::Neurons(vec![0, r.size(n.saturating_sub(1), &[n, 5000])]),
        _ => Probe::Neurons(Vec::new()),
    };
    let var = match r.odd() {
        true => ["u", "I", "nope", ""][r.below(4)],
        false => "v",
    };
    let record = match r.below(4) {
        0 => Record::spikes(),
        1 => Record::everything().every(r.size(2, &[0, 1_000_000])),
        2 => Record::spikes().var(var, probe),
        _ => Record::traces(&[0, r.size(n.saturating_sub(1), &[n, 99])]),
    };
    nu.record(record)
}

/// Either end of a connection: the nucleus, or a range of it (sometimes
/// empty, reversed or past its end).
fn end(r: &mut Rng, id: NucleusId, n: usize) -> snn::network::Subgroup {
    match r.below(3) {
        0 => {
            let a = r.below(n + 1);
            let good = a + r.below(n + 1 - a);
            let b = r.size(good, &[a, 0, n + 3]);
            #[allow(clippy::reversed_empty_ranges)]
            id.subgroup(a..b)
        }
        _ => id.into(),
    }
}

/// Weights of `pre x post` in one of the forms, right or wrong.
fn weights(r: &mut Rng, pre: usize, post: usize) -> Weights {
    let w = r.num(5.0, BAD);
    match r.below(8) {
        0 => Weights::Scalar(w),
        1 => {
            let (a, b) = match !r.odd() {
                true => (pre, post),
                false => (pre + 1, post.saturating_sub(1)),
            };
            Weights::Dense(Array2::from_elem((a, b), w))
        }
        2 => {
            let i = r.size(0, &[pre, pre + 5]);
            let j = r.size(post.saturating_sub(1), &[post, usize::MAX]);
            Weights::Triplets(vec![(i, j, w), (0, 0, 1.0)])
        }
        3 => {
            // One synapse per row onto column 0 (or broken pointers).
            let mut indptr: Vec<usize> = (0..=pre).collect();
            if r.odd() {
                indptr.reverse();
            }
            if r.odd() {
                indptr.pop();
            }
            let nnz = pre + r.size(0, &[1]);
            Weights::Csr {
                indptr,
                indices: vec![r.size(0, &[post, post + 9]); nnz],
                values: vec![w; nnz],
            }
        }
        4 => Weights::random(r.num(0.3, &[0.0, 1.0, 1.5, -0.1, f64::NAN]), w, 3),
        5 => Weights::fixed_in_degree(r.size(1, &[0, pre, pre + 1]), w, 4),
        6 => Weights::fixed_out_degree(r.size(1, &[0, post, post + 1]), w, 5),
        _ => Weights::Dense(Array2::from_elem((pre, post), 1.0)),
    }
}

/// A connection between two of the nuclei, with any of its options.
fn connection(r: &mut Rng, nuclei: &[(NucleusId, usize)]) -> Connection {
    let (pre, pn) = nuclei[r.below(nuclei.len())];
    let (post, qn) = nuclei[r.below(nuclei.len())];
    let (pre, post) = (end(r, pre, pn), end(r, post, qn));
    let (a, b) = (
        pre.neurons(pn).len().max(pn.min(1)),
        post.neurons(qn).len().max(qn.min(1)),
    );
    let mut c = Connection::new(pre, post, weights(r, a, b));
    if r.tenths(3) {
        c = c.delay(r.num(1.0, &[0.05, -1.0, f64::NAN, 1e9, 0.0]));
    }
    if r.tenths(2) {
        c = c.delays(match r.below(2) {
            0 => Delays::Uniform {
                low: r.num(0.0, BAD),
                high: r.num(2.0, BAD),
                seed: 1,
            },
            _ => Delays::PerSynapse(vec![r.num(1.0, BAD); r.below(4)]),
        });
    }
    if r.tenths(2) {
        let tau = r.num(3.0, BAD);
        c = c.kernel(
            move |t| (-t / tau).exp(),
            r.num(2.0, &[0.0, -1.0, f64::NAN, 0.05]),
        );
    }
    if r.tenths(2) {
        c = c.round_to_step();
    }
    c = c.propagation(
        [
            Propagation::Auto,
            Propagation::EventDriven,
            Propagation::Dense,
        ][r.below(3)],
    );
    if r.tenths(2) {
        c = c.on_pre(["v += w", "I += 0.5 * w", "u += w", "v += w * w", "x += w"][r.below(5)]);
    }
    if r.tenths(1) {
        c = c.synapses(common::song::stdp(r.num(0.01, BAD)));
    }
    if r.tenths(1) {
        c = c.record_weights(r.num(0.5, BAD));
    }
    c
}

/// The options, sometimes odd.
fn options(r: &mut Rng) -> SimOptions {
    let mut o = SimOptions::default().quiet().tensorboard(None);
    if r.tenths(2) {
        o = o.memory_limit([0, 1, 4096, 1 << 20][r.below(4)]);
    }
    if r.tenths(2) {
        o = o.steps_per_run(r.size(3, &[0, 1, 1000]));
    }
    if r.tenths(2) {
        o = o.finite_check_ms(r.num(0.5, BAD));
    }
    if r.tenths(1) {
        o = o.threads(r.below(3) as u32, r.below(3) as u32);
    }
    o
}

/// What a case ended in.
enum Outcome {
    Ran,
    Refused,
    Bug(String),
}

/// One case: a network of one to three nuclei and zero to three
/// connections, built, run (twice), and read back.
fn case(r: &mut Rng) -> Outcome {
    match try_case(r) {
        Ok(()) => Outcome::Ran,
        Err(e @ (Error::TensorFlow { .. } | Error::Internal { .. })) => Outcome::Bug(e.to_string()),
        Err(_) => Outcome::Refused,
    }
}

fn try_case(r: &mut Rng) -> snn::Result<()> {
    let mut net = Network::new().seed(r.below(4) as u64);
    let mut nuclei = Vec::new();
    for k in 0..1 + r.below(3) {
        let nu = nucleus(r, k);
        let n = nu.len();
        if let Ok(id) = net.add(nu) {
            nuclei.push((id, n));
        }
    }
    if nuclei.is_empty() {
        return net.build_with(0.1, options(r)).map(|_| ());
    }
    let mut conns = Vec::new();
    for _ in 0..r.below(4) {
        if let Ok(c) = net.connect_with(connection(r, &nuclei)) {
            conns.push(c);
        }
    }
    let dt = r.num(0.1, &[0.0, -0.1, f64::NAN, f64::INFINITY, 0.5, 0.01]);
    let mut options = options(r);
    let stream = r.tenths(3).then(|| {
        static CASE: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let k = CASE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        std::env::temp_dir().join(format!("snn-api-stream-{}-{k}", std::process::id()))
    });
    if let Some(dir) = &stream {
        options = options.stream_to(dir);
    }
    let mut sim = net.build_with(dt, options)?;
    let rec = sim.run(r.num(2.0, &[0.0, 0.05, -1.0, f64::NAN, f64::INFINITY, 1e300]))?;
    let rec2 = sim.run(r.num(1.0, &[0.0, 0.31]))?;
    if let Some(dir) = &stream {
        let back = read_back(dir, &[&rec, &rec2]);
        let _ = std::fs::remove_dir_all(dir);
        back?;
    }
    for &c in &conns {
        sim.weights(c)?;
        sim.delays(c)?;
    }
    let (id, n) = nuclei[r.below(nuclei.len())];
    let of = end(r, id, n);
    for rec in [&rec, &rec2] {
        let _ = rec.firing_rate(of.clone());
        let _ = rec.population_rate(of.clone(), r.num(0.5, BAD));
    }
    if r.tenths(3) {
        outputs(r, &mut sim, &rec, &nuclei, &conns)?;
    }
    Ok(())
}

/// What two runs streamed into `dir` reads back, and agrees with what they
/// returned: their steps and spike counts, their recorded connections with
/// a time for each snapshot. Anything else is our bug (`Error::Internal`).
fn read_back(dir: &std::path::Path, runs: &[&snn::network::Recording]) -> snn::Result<()> {
    let bug = |message: String| Error::Internal {
        context: format!("reading back the stream in {}", dir.display()),
        message,
    };
    let back = snn::network::Recording::read_streamed(dir).map_err(|e| bug(e.to_string()))?;
    let steps: usize = runs.iter().map(|r| r.steps).sum();
    if back.steps != steps {
        return Err(bug(format!("{} steps, the runs made {steps}", back.steps)));
    }
    for (k, nu) in back.nuclei.iter().enumerate() {
        let count: u64 = runs.iter().map(|r| r.nuclei[k].spike_count).sum();
        if nu.spike_count != count {
            return Err(bug(format!(
                "{}: {} spikes, not {count}",
                nu.label, nu.spike_count
            )));
        }
    }
    let listed: Vec<usize> = runs[0].weights.iter().map(|w| w.index).collect();
    let read: Vec<usize> = back.weights.iter().map(|w| w.index).collect();
    if listed != read
        || back
            .weights
            .iter()
            .any(|w| w.times_ms.len() != w.values.len())
    {
        return Err(bug(format!(
            "weight snapshots of {read:?}, recorded {listed:?}"
        )));
    }
    Ok(())
}

/// Our typed errors are fine here; TensorFlow's and internal ones are not.
fn typed<T>(result: snn::Result<T>) -> snn::Result<()> {
    match result {
        Err(e @ (Error::TensorFlow { .. } | Error::Internal { .. })) => Err(e),
        _ => Ok(()),
    }
}

/// What a run leaves to write and read: plots, files and checkpoints, to
/// good paths and to missing folders, folders and empty paths, with odd
/// time ranges, widths, neurons and variables.
fn outputs(
    r: &mut Rng,
    sim: &mut snn::network::Simulator,
    rec: &snn::network::Recording,
    nuclei: &[(NucleusId, usize)],
    conns: &[snn::network::ConnectionId],
) -> snn::Result<()> {
    use snn::network::{plot, StateVar};
    let dir = std::env::temp_dir().join(format!("snn-api-inputs-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| Error::Internal {
        context: "test folder".into(),
        message: e.to_string(),
    })?;
    let path = |r: &mut Rng, name: &str| match r.odd() {
        false => dir.join(name),
        true => [dir.join("missing").join(name), dir.clone(), "".into()][r.below(3)].clone(),
    };
    let (id, n) = nuclei[r.below(nuclei.len())];
    let neuron = r.size(n.saturating_sub(1), &[n, usize::MAX]);
    let times = r.num(0.0, BAD)..r.num(2.0, BAD);
    typed(plot::raster_plot(rec, id, path(r, "raster.png")))?;
    typed(plot::raster_grid(rec, path(r, "grid.png")))?;
    typed(plot::raster_and_rate(
        rec,
        end(r, id, n),
        times,
        r.num(0.5, BAD),
        path(r, "rate.png"),
    ))?;
    let var = match r.odd() {
        true => "nope",
        false => "v",
    };
    typed(plot::plot_traces(
        rec,
        &[(id, neuron)],
        &[var],
        path(r, "v.png"),
    ))?;
    typed(rec.write_npz(path(r, "rec.npz")))?;
    typed(rec.write_spikes_csv(path(r, "spikes.csv")))?;
    typed(rec.write_trace_csv(id, StateVar::V, path(r, "v.csv")))?;
    if let Some(&c) = conns.first() {
        if let Ok(w) = sim.weights(c) {
            let w = values_of(w);
            typed(plot::learned_weights(
                &w,
                r.num(1.0, BAD),
                &[],
                path(r, "w.png"),
            ))?;
        }
    }
    let ck = path(r, "ck");
    typed(sim.save_checkpoint(&ck))?;
    typed(sim.restore_checkpoint(&ck))?;
    typed(sim.restore_checkpoint(dir.join("never-written")))?;
    typed(sim.time_bare_steps(r.size(2, &[0, 1])))?;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// A connection's weights as one list.
fn values_of(w: Weights) -> Vec<f64> {
    match w {
        Weights::CsrF32 { values, .. } => values.into_iter().map(f64::from).collect(),
        Weights::DenseF32(m) => m.iter().map(|&x| x as f64).collect(),
        _ => Vec::new(),
    }
}

/// 300 networks (`SNN_API_CASES` for more): none panics, none ends in
/// TensorFlow's error or an internal one, and enough of them run for the
/// test to mean something.
#[test]
fn no_api_input_makes_a_panic_or_an_untyped_error() {
    let n: u64 = std::env::var("SNN_API_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    // SNN_API_CASE=k: case k alone, its panic printed.
    let only: Option<u64> = std::env::var("SNN_API_CASE")
        .ok()
        .and_then(|v| v.parse().ok());
    let hook = std::panic::take_hook();
    if only.is_none() {
        std::panic::set_hook(Box::new(|_| {}));
    }
    let (mut ran, mut panics, mut bugs) = (0, Vec::new(), Vec::new());
    for k in only.map_or(0..n, |k| k..k + 1) {
        let seed = 0x2545_F491_4F6C_DD1D ^ (k + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let mut r = Rng(Draws(seed), [0, 2][k as usize % 2]);
        match catch_unwind(AssertUnwindSafe(|| case(&mut r))) {
            Ok(Outcome::Ran) => ran += 1,
            Ok(Outcome::Refused) => {}
            Ok(Outcome::Bug(e)) => bugs.push((k, e)),
            Err(_) => panics.push(k),
        }
    }
    std::panic::set_hook(hook);
    assert!(panics.is_empty(), "cases that panicked: {panics:?}");
    assert!(bugs.is_empty(), "untyped errors: {bugs:#?}");
    assert!(
        only.is_some() || ran as f64 >= 0.1 * n as f64,
        "only {ran} of {n} ran"
    );
}

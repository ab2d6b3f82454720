//! Network engine benchmark: each case and mode in its own child process
//! (so peak memory is per case), side by side with the independent native
//! reference stepper of the tests (the "no framework" line).
//!
//!     cargo bench --bench network                # every case
//!     cargo bench --bench network -- quick       # (a) and (b) at N = 1000 only
//!     SNN_BENCH_THREADS=1,0 cargo bench ...      # TensorFlow's intra,inter-op threads
//!     SNN_BENCH_N=20000 .../network-* --child cuba auto   # CUBA/COBAHH at another size
//!     SNN_BENCH_MS=10000 .../network-* --child cuba auto  # a longer timed span (for perf)
//!     SNN_BENCH_DELAYS=1,5 .../network-* --child f100000k100 auto  # per-synapse delays in (f), stdp
//!     SNN_BENCH_TRACE=step.pb .../network-* --child cuba tfexec
//!         # RunMetadata of one step: the graph run after Grappler, op times
//!
//! Cases: (a) the seed's `simple` (1000 neurons, W ~ N(0,1), T = 1000 ms,
//! dt = 0.1); (b) the classic Izhikevich (2003) network at N = 1000, 4000,
//! 10000 (80% excitatory, thalamic noise drawn every step, all-to-all
//! weights scaled by 1000/N, T = 1000 ms, dt = 0.1); (c) the basal-ganglia
//! model of the examples; (f) sparse networks; `cuba` and `cobahh`, Brette
//! et al. (2007) as in Brian2's examples, written as equations (the
//! networks of `examples/cuba.rs` and `examples/cobahh.rs`: 4000 neurons,
//! p = 0.02, dt = 0.1 ms; Brian2 twins `benches/brian2_cuba.py`,
//! `benches/brian2_cobahh.py`); `brunel_hakim`, Brunel & Hakim (1999) as
//! in Brian2's example (5000 noisy inhibitory LIF neurons with white noise
//! `xi`, p = 0.2, delay 2 ms; `examples/brunel_hakim.rs`, twin
//! `benches/brian2_brunel_hakim.py`); `brunel2000`, Brunel (2000) Fig. 8B
//! as in Brian2's example (12 500 LIF neurons, p = 0.1, 1000 Poisson
//! sources each; `examples/brunel2000.rs`, twin
//! `benches/brian2_brunel2000.py`).
//! Modes: TF per step with `Propagation::Auto` (event-driven for voltage
//! jumps and kernel traces), bare session runs of the same graph's step
//! target (no feeds, no fetches: the floor for our own overhead; timed in
//! blocks alternating with recorded per-step runs in the same process, whose
//! ratio the row reports), TF with 10 steps per session run, TF per step
//! with TensorFlow's default executor instead of `Executor::Auto`'s choice,
//! TF per step with `Propagation::Dense`, and the native stepper.
//!
//! Every TF line first builds the simulator and runs [`WARMUP_STEPS`]
//! steps (the first session run of a step target is where TensorFlow
//! builds its executor and Grappler optimises the step graph), timed apart
//! as "setup"; the timed run is the 1000 ms after them, and its spikes are
//! counted. The native line simulates the warm-up steps too and counts the
//! spikes after them (its time covers all steps).
//!
//!     cargo bench --bench network --features mimalloc   # docs/performance.md's table

// Each example included below is a program of its own with its own copy
// of the shared modules (brette.rs, rhythm.rs): two examples bring one in
// twice.
#![allow(clippy::duplicate_mod)]

#[path = "../tests/common/mod.rs"]
mod common;

#[path = "../examples/basal_ganglia.rs"]
#[allow(dead_code)]
mod basal_ganglia;

#[path = "../examples/cuba.rs"]
#[allow(dead_code)]
mod cuba;

#[path = "../examples/cobahh.rs"]
#[allow(dead_code)]
mod cobahh;

#[path = "../examples/stdp.rs"]
#[allow(dead_code)]
mod stdp;

#[path = "../examples/brunel_hakim.rs"]
#[allow(dead_code)]
mod brunel_hakim;

#[path = "../examples/brunel2000.rs"]
#[allow(dead_code)]
mod brunel2000;

use std::process::Command;
use std::time::Instant;

use ndarray::Array2;
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, Normal};
use snn::network::{
    Connection, Delays, Executor, Input, Network, Nucleus, Propagation, SimOptions, WeightValue,
    Weights,
};

type R<T> = Result<T, Box<dyn std::error::Error>>;

/// Steps run before the timed 1000 ms (one session run of 10 steps with
/// `steps_per_run(10)`).
const WARMUP_STEPS: usize = 10;

struct Outcome {
    /// Building the simulator and its first `WARMUP_STEPS` steps.
    setup_s: f64,
    wall_s: f64,
    steps: usize,
    spikes: u64,
    neurons: usize,
    t_ms: f64,
}

fn opts() -> SimOptions {
    SimOptions::default().quiet().tensorboard(None)
}

/// Steps per session run for a mode: "multi" runs 10.
fn steps_per_run(mode: &str) -> usize {
    if mode == "multi" {
        10
    } else {
        1
    }
}

fn simple_weights() -> R<Array2<f64>> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(123);
    let normal = Normal::new(0.0, 1.0)?;
    Ok(Array2::from_shape_simple_fn((1000, 1000), || {
        normal.sample(&mut rng)
    }))
}

fn case_simple(mode: &str) -> R<Outcome> {
    let w = simple_weights()?;
    if mode == "native" {
        let inp = vec![5.0; 1000];
        let mut nu = vec![common::RefNucleus::uniform(
            1000,
            0.02,
            0.2,
            -65.0,
            8.0,
            move |_| inp.clone(),
        )];
        let w: Vec<Vec<f64>> = w.outer_iter().map(|r| r.to_vec()).collect();
        let conns = vec![common::RefConn {
            pre: 0,
            post: 0,
            w,
            delay_steps: 0,
            kernel: vec![1.0],
        }];
        let start = Instant::now();
        let r = common::simulate_opts(&mut nu, &conns, 0.1, WARMUP_STEPS + 10_000, false);
        return Ok(Outcome {
            setup_s: 0.0,
            wall_s: start.elapsed().as_secs_f64(),
            steps: 10_000,
            spikes: after_warmup(&r.spikes[0]),
            neurons: 1000,
            t_ms: 1000.0,
        });
    }
    let mut net = Network::new();
    let n = net.add(Nucleus::new("N", 1000).input(5.0))?;
    net.connect_with(Connection::new(n, n, w).propagation(propagation(mode)))?;
    timed_run(net, 0.1, 1000, mode)
}

fn propagation(mode: &str) -> Propagation {
    if mode == "dense" {
        Propagation::Dense
    } else {
        Propagation::Auto
    }
}

/// Izhikevich (2003): excitatory a = 0.02, b = 0.2, c = -65 + 15 r^2,
/// d = 8 - 6 r^2; inhibitory a = 0.02 + 0.08 r, b = 0.25 - 0.05 r, c = -65,
/// d = 2; weights 0.5 rand (from excitatory), -rand (from inhibitory), times
/// 1000 / N; thalamic input 5 sqrt(10) randn (excitatory), 2 sqrt(10) randn
/// (inhibitory) every step.
fn case_izhikevich(n: usize, mode: &str) -> R<Outcome> {
    let ne = n * 4 / 5;
    let ni = n - ne;
    let scale = 1000.0 / n as f64;
    let mut rng = rand::rngs::StdRng::seed_from_u64(2003);
    let re: Vec<f64> = (0..ne).map(|_| rng.random::<f64>()).collect();
    let ri: Vec<f64> = (0..ni).map(|_| rng.random::<f64>()).collect();
    let (ae, be) = (vec![0.02; ne], vec![0.2; ne]);
    let ce: Vec<f64> = re.iter().map(|r| -65.0 + 15.0 * r * r).collect();
    let de: Vec<f64> = re.iter().map(|r| 8.0 - 6.0 * r * r).collect();
    let ai: Vec<f64> = ri.iter().map(|r| 0.02 + 0.08 * r).collect();
    let bi: Vec<f64> = ri.iter().map(|r| 0.25 - 0.05 * r).collect();
    let (ci, di) = (vec![-65.0; ni], vec![2.0; ni]);
    let (se, si) = (5.0 * 10f64.sqrt(), 2.0 * 10f64.sqrt());

    if mode == "native" {
        let mut mat = |rows: usize, cols: usize, w: f64| {
            Array2::from_shape_simple_fn((rows, cols), || w * scale * rng.random::<f64>())
        };
        let (w_ee, w_ei) = (mat(ne, ne, 0.5), mat(ne, ni, 0.5));
        let (w_ie, w_ii) = (mat(ni, ne, -1.0), mat(ni, ni, -1.0));
        let normal = Normal::new(0.0, 1.0)?;
        let mut rng_e = rand::rngs::StdRng::seed_from_u64(1);
        let mut rng_i = rand::rngs::StdRng::seed_from_u64(2);
        let mut nu = vec![
            common::RefNucleus {
                a: ae,
                b: be,
                c: ce,
                d: de,
                iext: Box::new(move |_| (0..ne).map(|_| se * normal.sample(&mut rng_e)).collect()),
            },
            common::RefNucleus {
                a: ai,
                b: bi,
                c: ci,
                d: di,
                iext: Box::new(move |_| (0..ni).map(|_| si * normal.sample(&mut rng_i)).collect()),
            },
        ];
        let rows =
            |m: Array2<f64>| -> Vec<Vec<f64>> { m.outer_iter().map(|r| r.to_vec()).collect() };
        let conns = vec![
            common::RefConn {
                pre: 0,
                post: 0,
                w: rows(w_ee),
                delay_steps: 0,
                kernel: vec![1.0],
            },
            common::RefConn {
                pre: 0,
                post: 1,
                w: rows(w_ei),
                delay_steps: 0,
                kernel: vec![1.0],
            },
            common::RefConn {
                pre: 1,
                post: 0,
                w: rows(w_ie),
                delay_steps: 0,
                kernel: vec![1.0],
            },
            common::RefConn {
                pre: 1,
                post: 1,
                w: rows(w_ii),
                delay_steps: 0,
                kernel: vec![1.0],
            },
        ];
        let start = Instant::now();
        let r = common::simulate_opts(&mut nu, &conns, 0.1, WARMUP_STEPS + 10_000, false);
        let spikes = after_warmup(&r.spikes[0]) + after_warmup(&r.spikes[1]);
        return Ok(Outcome {
            setup_s: 0.0,
            wall_s: start.elapsed().as_secs_f64(),
            steps: 10_000,
            spikes,
            neurons: n,
            t_ms: 1000.0,
        });
    }
    // The same draws as the native line's, made float32 (what the graph
    // computes in) as they are drawn: 10^8 weights are 400 MB.
    let mut mat = |rows: usize, cols: usize, w: f64| {
        Array2::from_shape_simple_fn((rows, cols), || (w * scale * rng.random::<f64>()) as f32)
    };
    let (w_ee, w_ei) = (mat(ne, ne, 0.5), mat(ne, ni, 0.5));
    let (w_ie, w_ii) = (mat(ni, ne, -1.0), mat(ni, ni, -1.0));
    stage("weights made (float32 arrays)");
    let mut net = Network::new();
    let e = net.add(
        Nucleus::new("E", ne)
            .abcd(ae, be, ce, de)
            .input(Input::noise(0.0, se, 1)),
    )?;
    let i = net.add(
        Nucleus::new("I", ni)
            .abcd(ai, bi, ci, di)
            .input(Input::noise(0.0, si, 2)),
    )?;
    let p = propagation(mode);
    net.connect_with(Connection::new(e, e, w_ee).propagation(p))?;
    net.connect_with(Connection::new(e, i, w_ei).propagation(p))?;
    net.connect_with(Connection::new(i, e, w_ie).propagation(p))?;
    net.connect_with(Connection::new(i, i, w_ii).propagation(p))?;
    timed_run(net, 0.1, n, mode)
}

/// Case (f): the Izhikevich (2003) network of case (b) (same neurons,
/// parameters and noise), but each neuron receives a fixed number `k` of
/// random inputs, 80% from excitatory and 20% from inhibitory neurons
/// (weights 0.5 rand 1000/k and -rand 1000/k), generated as compressed rows
/// (`Weights::fixed_in_degree`). The twin is `benches/brian2_sparse.py`.
fn case_sparse(n: usize, k: usize, mode: &str) -> R<Outcome> {
    // "auto" (the default), or the layout forced: "events" (compressed
    // rows), "dense" (a dense matrix multiplied every step).
    let p = match mode {
        "auto" => Propagation::Auto,
        "events" => Propagation::EventDriven,
        "dense" => Propagation::Dense,
        // The synapses made and timed, nothing run (below).
        "generate" => Propagation::Auto,
        _ => return Err("modes of case (f): auto, events, dense, generate".into()),
    };
    let ne = n * 4 / 5;
    let ni = n - ne;
    let (ke, ki) = (k * 4 / 5, k - k * 4 / 5);
    let scale = 1000.0 / k as f64;
    if mode == "generate" {
        // The synapses alone, as the build makes them: wall time of the
        // four generators (10^8 synapses at N = 10^5, K = 1000).
        let start = Instant::now();
        let mut synapses = 0;
        for (np, nq, k, seed) in [
            (ne, ne, ke, 11),
            (ne, ni, ke, 12),
            (ni, ne, ki, 13),
            (ni, ni, ki, 14),
        ] {
            let Weights::Random(r) =
                Weights::fixed_in_degree(k, WeightValue::Uniform(0.0, 1.0), seed)
            else {
                return Err("not a generator".into());
            };
            if let Weights::CsrF32 { indices, .. } = r.generate(np, nq, "bench")? {
                synapses += indices.len();
            }
        }
        println!(
            "GENERATED {synapses} synapses in {:.2} s",
            start.elapsed().as_secs_f64()
        );
        return Err("generation timed only".into());
    }
    let mut rng = rand::rngs::StdRng::seed_from_u64(2003);
    let re: Vec<f64> = (0..ne).map(|_| rng.random::<f64>()).collect();
    let ri: Vec<f64> = (0..ni).map(|_| rng.random::<f64>()).collect();
    let ce: Vec<f64> = re.iter().map(|r| -65.0 + 15.0 * r * r).collect();
    let de: Vec<f64> = re.iter().map(|r| 8.0 - 6.0 * r * r).collect();
    let ai: Vec<f64> = ri.iter().map(|r| 0.02 + 0.08 * r).collect();
    let bi: Vec<f64> = ri.iter().map(|r| 0.25 - 0.05 * r).collect();
    let (se, si) = (5.0 * 10f64.sqrt(), 2.0 * 10f64.sqrt());
    let mut net = Network::new();
    let e = net.add(
        Nucleus::new("E", ne)
            .abcd(vec![0.02; ne], vec![0.2; ne], ce, de)
            .input(Input::noise(0.0, se, 1)),
    )?;
    let i = net.add(
        Nucleus::new("I", ni)
            .abcd(ai, bi, vec![-65.0; ni], vec![2.0; ni])
            .input(Input::noise(0.0, si, 2)),
    )?;
    let exc = WeightValue::Uniform(0.0, 0.5 * scale);
    let inh = WeightValue::Uniform(-scale, 0.0);
    // SNN_BENCH_DELAYS=low,high: per-synapse delays uniform in [low, high] ms
    // (the twin reads the same variable).
    let delays = bench_delays()?;
    for (pre, post, k, w, seed) in [
        (e, e, ke, exc, 11),
        (e, i, ke, exc, 12),
        (i, e, ki, inh, 13),
        (i, i, ki, inh, 14),
    ] {
        let mut c = Connection::new(pre, post, Weights::fixed_in_degree(k, w, seed)).propagation(p);
        if let Some((low, high)) = delays {
            c = c.delays(Delays::Uniform { low, high, seed });
        }
        net.connect_with(c)?;
    }
    stage("network described (synapses not made yet)");
    // timed_run's modes are those of the other cases; a trace asks for
    // TensorFlow's default executor, the one that times each op.
    let run_mode = match std::env::var("SNN_BENCH_TRACE") {
        Ok(_) => "tfexec",
        Err(_) => "auto",
    };
    timed_run(net, 0.1, n, run_mode)
}

/// `SNN_BENCH_DELAYS=low,high`: per-synapse delays uniform in `[low,
/// high]` ms for cases (f) and stdp.
fn bench_delays() -> R<Option<(f64, f64)>> {
    Ok(match std::env::var("SNN_BENCH_DELAYS") {
        Ok(s) => {
            let (lo, hi) = s.split_once(',').ok_or("SNN_BENCH_DELAYS=low,high")?;
            Some((lo.parse()?, hi.parse()?))
        }
        Err(_) => None,
    })
}

/// The Brette et al. (2007) benchmarks, as the examples build them.
fn case_brette(case: &str, mode: &str) -> R<Outcome> {
    if !matches!(mode, "auto" | "tfexec" | "single" | "multi") {
        return Err(format!("modes of case {case}: auto, tfexec, single, multi").into());
    }
    let record = snn::network::Record::spikes();
    // SNN_BENCH_N: another size than the examples' 4000 (same p).
    let n: usize = match std::env::var("SNN_BENCH_N") {
        Ok(n) => n.parse()?,
        Err(_) => 4000,
    };
    let net = match case {
        "cuba" => cuba::cuba(n, 0.02, record)?.net,
        _ => cobahh::cobahh(n, 0.02, record)?.net,
    };
    timed_run(net, 0.1, n, mode)
}

/// Brunel (2000), Fig. 8B (g = 6, external rate 4 x threshold), as
/// `examples/brunel2000.rs` builds it.
fn case_brunel2000(mode: &str) -> R<Outcome> {
    if !matches!(mode, "auto" | "tfexec" | "single" | "multi") {
        return Err("modes of case brunel2000: auto, tfexec, single, multi".into());
    }
    let (net, _) = brunel2000::network(6.0, 4.0, 1, snn::network::Record::spikes())?;
    timed_run(net, 0.1, 12_500, mode)
}

/// Brunel & Hakim (1999) as `examples/brunel_hakim.rs` builds it.
fn case_brunel_hakim(mode: &str) -> R<Outcome> {
    if !matches!(mode, "auto" | "tfexec" | "single" | "multi") {
        return Err("modes of case brunel_hakim: auto, tfexec, single, multi".into());
    }
    let (net, _) = brunel_hakim::network(5000, 0.2, 1, snn::network::Record::spikes())?;
    timed_run(net, 0.1, 5000, mode)
}

/// Song et al. (2000) STDP as `examples/stdp.rs` builds it: 1000 Poisson
/// inputs onto one neuron, plastic weights; timed over 10 s of simulated
/// time (`SNN_BENCH_STDP_MS` for another span: 100000 for the example's
/// whole run; `SNN_BENCH_STDP_POST` for more output neurons, every input
/// onto each: a dense 1000 x N plastic matrix).
fn case_stdp(mode: &str) -> R<Outcome> {
    if !matches!(mode, "auto" | "multi") {
        return Err("modes of case stdp: auto, multi".into());
    }
    let run_ms: f64 = match std::env::var("SNN_BENCH_STDP_MS") {
        Ok(ms) => ms.parse()?,
        Err(_) => 10_000.0,
    };
    let posts: usize = match std::env::var("SNN_BENCH_STDP_POST") {
        Ok(n) => n.parse()?,
        Err(_) => 1,
    };
    // SNN_BENCH_DELAYS=low,high: a delay per synapse, uniform in [low,
    // high] ms (the twin's 5th and 6th arguments).
    let (net, _, _) = stdp::song_with(1, posts, bench_delays()?)?;
    let setup = Instant::now();
    let mut sim = net.build_with(0.1, opts().steps_per_run(steps_per_run(mode)))?;
    sim.run(WARMUP_STEPS as f64 * 0.1)?;
    let setup_s = setup.elapsed().as_secs_f64();
    let start = Instant::now();
    let rec = sim.run(run_ms)?;
    Ok(Outcome {
        setup_s,
        wall_s: start.elapsed().as_secs_f64(),
        steps: rec.steps,
        spikes: rec.nuclei.iter().map(|r| r.spike_count).sum(),
        neurons: stdp::N + posts,
        t_ms: run_ms,
    })
}

fn case_basal_ganglia(mode: &str) -> R<Outcome> {
    if mode == "native" {
        return Err("no native line: the reference stepper has no in-graph noise".into());
    }
    let (net, _) = basal_ganglia::basal_ganglia(propagation(mode))?;
    timed_run(net, 0.2, basal_ganglia::SIZES.iter().sum(), mode)
}

/// The native stepper's spikes after the warm-up steps.
fn after_warmup(spikes: &[(usize, usize)]) -> u64 {
    spikes.iter().filter(|(m, _)| *m >= WARMUP_STEPS).count() as u64
}

/// Build with the benchmark's options, run the warm-up steps (timed with
/// the build as setup), then run 1000 ms and time that.
fn timed_run(net: Network, dt: f64, neurons: usize, mode: &str) -> R<Outcome> {
    let mut o = opts().steps_per_run(steps_per_run(mode));
    if let Ok(t) = std::env::var("SNN_BENCH_THREADS") {
        let (a, b) = t.split_once(',').ok_or("SNN_BENCH_THREADS=intra,inter")?;
        o = o.threads(a.parse()?, b.parse()?);
    }
    if mode == "tfexec" {
        o = o.executor(Executor::Default);
    }
    if mode == "single" {
        o = o.executor(Executor::SingleThreaded);
    }
    if let (Ok(ms), false) = (std::env::var("SNN_BENCH_CHECK_MS"), mode == "check") {
        o = o.finite_check_ms(ms.parse()?);
    }
    let setup = Instant::now();
    let mut sim = net.build_with(dt, o)?;
    stage("simulator built (weights in their variables)");
    sim.run(WARMUP_STEPS as f64 * dt)?;
    // A diagnostic: the graph TensorFlow executes (after Grappler) and, with
    // its default executor, per-op times of one step 100 ms in.
    if let Ok(path) = std::env::var("SNN_BENCH_TRACE") {
        sim.run(100.0)?;
        std::fs::write(path, sim.trace_step()?)?;
    }
    let setup_s = setup.elapsed().as_secs_f64();
    if mode == "bare" {
        // The same graph's step target alone (no feeds, no fetches),
        // alternating in this process with per-step runs that record as
        // usual: 10 blocks of 100 ms each, so the machine's noise falls on
        // both alike. Prints the ratio per-step / bare.
        let steps = (100.0 / dt).round() as usize;
        sim.time_bare_steps(WARMUP_STEPS)?;
        let (mut bare, mut recorded) = (0.0, 0.0);
        for _ in 0..10 {
            bare += sim.time_bare_steps(steps)?.as_secs_f64();
            let start = Instant::now();
            sim.run(100.0)?;
            recorded += start.elapsed().as_secs_f64();
        }
        println!("RATIO {}", recorded / bare);
        return Ok(Outcome {
            setup_s,
            wall_s: bare,
            steps: 10 * steps,
            spikes: 0,
            neurons,
            t_ms: 1000.0,
        });
    }
    if mode == "check" {
        // The finite-state check (at its default interval, or every
        // SNN_BENCH_CHECK_MS) against none,
        // alternating 100 ms blocks on the same simulator: 10 blocks each.
        // Prints the ratio checked / unchecked.
        let every_ms = match std::env::var("SNN_BENCH_CHECK_MS") {
            Ok(ms) => ms.parse()?,
            Err(_) => SimOptions::default().finite_check_ms,
        };
        let (mut on, mut off) = (0.0, 0.0);
        let mut spikes = 0;
        for block in 0..20 {
            // Checked first in even blocks, unchecked first in odd ones.
            let checked = (block % 2 == 0) == (block / 2 % 2 == 0);
            sim.set_finite_check_ms(if checked { every_ms } else { 0.0 })?;
            let start = Instant::now();
            let rec = sim.run(100.0)?;
            if checked {
                on += start.elapsed().as_secs_f64();
                spikes += rec.nuclei.iter().map(|r| r.spike_count).sum::<u64>();
            } else {
                off += start.elapsed().as_secs_f64();
            }
        }
        println!("RATIO {}", on / off);
        return Ok(Outcome {
            setup_s,
            wall_s: on,
            steps: (1000.0 / dt).round() as usize,
            spikes,
            neurons,
            t_ms: 1000.0,
        });
    }
    // SNN_BENCH_MS: a longer (or shorter) timed span, e.g. for `perf`
    // (the per-second figures are normalised by it).
    let t_ms: f64 = match std::env::var("SNN_BENCH_MS") {
        Ok(ms) => ms.parse()?,
        Err(_) => 1000.0,
    };
    let start = Instant::now();
    let rec = sim.run(t_ms)?;
    stage("timed run");
    let spikes = rec.nuclei.iter().map(|r| r.spike_count).sum();
    Ok(Outcome {
        setup_s,
        wall_s: start.elapsed().as_secs_f64(),
        steps: rec.steps,
        spikes,
        neurons,
        t_ms,
    })
}

/// A field of `/proc/self/status` in MB (`VmHWM`: peak resident memory,
/// `VmRSS`: resident now).
fn status_mb(field: &str) -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|k| k.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn peak_rss_mb() -> f64 {
    status_mb("VmHWM:")
}

/// Memory at a stage of the child's run, for the main process's memory
/// table: `MEM <stage> <resident MB> <peak MB>`.
fn stage(name: &str) {
    println!(
        "MEM {name} {:.0} {:.0}",
        status_mb("VmRSS:"),
        status_mb("VmHWM:")
    );
}

fn child(case: &str, mode: &str) -> R<()> {
    stage("TensorFlow loaded, nothing built");
    if case == "b10000" && mode == "dense" {
        return Err(
            "skipped: 10^8 multiply-adds per step (about 5 minutes per simulated second here)"
                .into(),
        );
    }
    let out = match case {
        "a" => case_simple(mode)?,
        "c" => case_basal_ganglia(mode)?,
        "cuba" | "cobahh" => case_brette(case, mode)?,
        "brunel_hakim" => case_brunel_hakim(mode)?,
        "brunel2000" => case_brunel2000(mode)?,
        "stdp" => case_stdp(mode)?,
        // f<N>k<K>: case (f) at N neurons with in-degree K.
        f if f.starts_with('f') => {
            let (n, k) = f[1..].split_once('k').ok_or("case f<N>k<K>")?;
            case_sparse(n.parse()?, k.parse()?, mode)?
        }
        // b1000, b4000, b10000 in the table; any other size by hand.
        b if b.starts_with('b') => match b[1..].parse::<usize>() {
            Ok(n) if n >= 5 => case_izhikevich(n, mode)?,
            _ => return Err(format!("unknown case {b}").into()),
        },
        other => return Err(format!("unknown case {other}").into()),
    };
    println!(
        "RESULT {} {} {} {} {} {} {}",
        out.wall_s,
        out.steps,
        out.spikes,
        out.neurons,
        out.t_ms,
        peak_rss_mb(),
        out.setup_s
    );
    Ok(())
}

fn main() -> R<()> {
    let args: Vec<String> = std::env::args().collect();
    if let Some(pos) = args.iter().position(|a| a == "--child") {
        return child(&args[pos + 1], &args[pos + 2]);
    }
    let quick = args.iter().any(|a| a == "quick");
    let cases: &[(&str, &str)] = if quick {
        &[
            ("a", "(a) simple, N = 1000"),
            ("b1000", "(b) Izhikevich 2003, N = 1000"),
        ]
    } else {
        &[
            ("a", "(a) simple, N = 1000"),
            ("b1000", "(b) Izhikevich 2003, N = 1000"),
            ("b4000", "(b) Izhikevich 2003, N = 4000"),
            ("b10000", "(b) Izhikevich 2003, N = 10000"),
            ("c", "(c) basal ganglia, N = 3800"),
            (
                "f10000k1000",
                "(f) sparse, N = 10^4, K = 1000 (10^7 synapses)",
            ),
            (
                "f100000k100",
                "(f) sparse, N = 10^5, K = 100 (10^7 synapses)",
            ),
            (
                "f100000k1000",
                "(f) sparse, N = 10^5, K = 1000 (10^8 synapses)",
            ),
            ("cuba", "CUBA (Brette et al. 2007), N = 4000"),
            ("cobahh", "COBAHH (Brette et al. 2007), N = 4000"),
            (
                "brunel_hakim",
                "Brunel & Hakim (1999), N = 5000, white noise",
            ),
            (
                "brunel2000",
                "Brunel (2000) Fig. 8B, N = 12 500, Poisson inputs",
            ),
            ("stdp", "STDP (Song et al. 2000), 1000 Poisson inputs, 10 s"),
        ]
    };
    let exe = std::env::current_exe()?;
    let mut stages: Vec<(String, Vec<String>)> = Vec::new();
    println!("| case | mode | wall per simulated s | steps/s | spikes | mean rate (Hz) | peak memory (MB) | setup: build + first {WARMUP_STEPS} steps |");
    println!("| --- | --- | --- | --- | --- | --- | --- | --- |");
    for (case, title) in cases {
        let modes: &[&str] = if case.starts_with('f') {
            &["auto"]
        } else if matches!(*case, "cuba" | "cobahh" | "brunel_hakim" | "brunel2000") {
            &["auto", "single"]
        } else if *case == "stdp" {
            &["auto", "multi"]
        } else {
            &[
                "auto", "bare", "check", "multi", "tfexec", "dense", "native",
            ]
        };
        for &mode in modes {
            let out = Command::new(&exe).args(["--child", case, mode]).output()?;
            let text = String::from_utf8_lossy(&out.stdout);
            if matches!((*case, mode), ("b10000" | "f100000k1000", "auto")) {
                stages.push((
                    title.to_string(),
                    text.lines()
                        .filter_map(|l| l.strip_prefix("MEM "))
                        .map(String::from)
                        .collect(),
                ));
            }
            let Some(line) = text.lines().find(|l| l.starts_with("RESULT ")) else {
                let why = String::from_utf8_lossy(&out.stderr);
                println!(
                    "| {title} | {mode} | - | - | - | - | - ({}) | - |",
                    why.lines().last().unwrap_or("failed")
                );
                continue;
            };
            let f: Vec<f64> = line
                .split_whitespace()
                .skip(1)
                .filter_map(|x| x.parse().ok())
                .collect();
            let (wall, steps, spikes, neurons, t_ms, rss, setup) =
                (f[0], f[1], f[2], f[3], f[4], f[5], f[6]);
            let ratio = text
                .lines()
                .find_map(|l| l.strip_prefix("RATIO "))
                .and_then(|r| r.trim().parse::<f64>().ok());
            let bare_label = match ratio {
                Some(r) => format!(
                    "bare session.run of the same graph (auto); per-step runs took {r:.2}x this, alternating with it in one process"
                ),
                None => "bare session.run of the same graph (auto)".to_string(),
            };
            let check_label = match ratio {
                Some(r) => format!(
                    "TF, one run per step (auto), finite-state check every 1 ms; {r:.3}x the time without it, alternating in one process"
                ),
                None => "TF, one run per step (auto), finite-state check every 1 ms".to_string(),
            };
            println!(
                "| {title} | {} | {:.2} s | {:.0} | {} | {} | {:.0} | {} |",
                match mode {
                    "auto" => "TF, one run per step (auto)",
                    "multi" => "TF, 10 steps per run (auto)",
                    "bare" => bare_label.as_str(),
                    "check" => check_label.as_str(),
                    "dense" => "TF, one run per step (dense)",
                    "tfexec" => "TF, one run per step (auto), TF's default executor",
                    "single" => "TF, one run per step (auto), single-threaded executor",
                    _ => "native reference stepper",
                },
                wall / (t_ms / 1000.0),
                steps / wall,
                if mode == "bare" {
                    "-".to_string()
                } else {
                    format!("{spikes}")
                },
                if mode == "bare" {
                    "-".to_string()
                } else {
                    format!("{:.1}", 1000.0 * spikes / (t_ms * neurons))
                },
                rss,
                if mode == "native" {
                    "-".to_string()
                } else {
                    format!("{setup:.2} s")
                }
            );
        }
    }
    for (title, lines) in &stages {
        println!();
        println!("Memory of {title}, one run per step (auto), by stage:");
        println!();
        println!("| stage | resident (MB) | peak so far (MB) |");
        println!("| --- | --- | --- |");
        for line in lines {
            // "<stage words> <resident> <peak>"
            let mut words: Vec<&str> = line.split_whitespace().collect();
            let peak = words.pop().unwrap_or("-");
            let resident = words.pop().unwrap_or("-");
            println!("| {} | {resident} | {peak} |", words.join(" "));
        }
    }
    Ok(())
}

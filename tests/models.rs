//! Nuclei whose model is written as equations, in the TensorFlow engine
//! (docs/semantics.md §3), against hand-written f64 reference steppers.

// Each example is a program of its own with its own copy of the shared
// model module; the two included below bring that module in twice.
#![allow(clippy::duplicate_mod)]

use snn::equations::{Method, NeuronModel};
mod common;

/// The models of the examples, as the examples build them.
#[allow(dead_code)]
#[path = "../examples/cobahh.rs"]
mod cobahh_example;
#[allow(dead_code)]
#[path = "../examples/cuba.rs"]
mod cuba_example;

use snn::network::{Connection, Network, Nucleus, Probe, Record, SimOptions};

type R = Result<(), Box<dyn std::error::Error>>;

fn quiet() -> SimOptions {
    SimOptions::default().quiet().tensorboard(None)
}

/// Leaky integrate-and-fire neurons under constant drive (a pulse input
/// fed by the external input), exact integration, refractory 2 ms: each
/// fires at the period the refractory time and the time to threshold give,
/// exactly as `Lowered::simulate` steps the same model in f64.
#[test]
fn a_driven_lif_nucleus_fires_at_its_period() -> R {
    let (tau, dt) = (10.0, 0.1);
    let lif = NeuronModel::new()
        .named("lif")
        .equation("v", "(I - v) / tau")
        .unless_refractory()
        .pulse("I")
        .param("tau", tau)
        .threshold("v > 1")
        .reset("v = 0")
        .refractory(2.0)
        .method(Method::Exact);
    let drive = vec![1.5, 2.0, 3.0];
    let mut net = Network::new();
    let a = net.add(
        Nucleus::with_model("A", 3, lif.clone())
            .input(drive.clone())
            .record(Record::spikes().var("v", Probe::All)),
    )?;
    let rec = net.build_with(dt, quiet())?.run(200.0)?;
    // The pulse input a step reads is what the step before computed: 0 at
    // step 0, the external input from step 1 on.
    let reference = lif.lower(3, dt, 0)?.simulate(2000, |m, _, out| {
        if m == 0 {
            out.fill(0.0)
        } else {
            out.copy_from_slice(&drive)
        }
    })?;
    let mut ours = rec.nucleus(a)?.spikes.clone();
    ours.sort_unstable();
    let mut theirs = reference.spikes.clone();
    theirs.sort_unstable();
    assert!(ours.len() > 20, "{} spikes", ours.len());
    assert_eq!(ours, theirs);
    // v is recorded by name and stays at 0 while refractory.
    let v = rec.trace_of(a, "v")?;
    assert_eq!(v.neurons, vec![0, 1, 2]);
    Ok(())
}

/// Brian2's refractoriness, numbers from Brian2 2.9 itself (numpy target,
/// dt = 0.1 ms): a leaky integrator driven to threshold in 70 steps,
/// refractory 2 ms, with a synapse onto itself adding 0.3 to `v`. With `v`
/// *unless refractory*, an input arriving 1 ms after the spike finds `v`
/// read-only and does nothing (spikes at steps 69, 158, 247, as without
/// the synapse); arriving after 3 ms it counts (69, 139, 209, 279).
/// Without the flag `v` integrates and takes input while refractory (69,
/// 121, 173, 225, 277).
#[test]
fn refractory_neurons_take_input_as_in_brian2() -> R {
    let run = |delay: f64, held: bool| -> Result<Vec<usize>, Box<dyn std::error::Error>> {
        let mut lif = NeuronModel::new()
            .named("lif")
            .equation("v", "(2 - v) / 10");
        if held {
            lif = lif.unless_refractory();
        }
        let lif = lif
            .threshold("v > 1")
            .reset("v = 0")
            .refractory(2.0)
            .method(Method::Exact);
        let mut net = Network::new();
        let a = net.add(Nucleus::with_model("A", 1, lif).record(Record::spikes()))?;
        net.connect_with(
            Connection::new(a, a, vec![(0, 0, 0.3)])
                .on_pre("v += w")
                .delay(delay),
        )?;
        let rec = net.build_with(0.1, quiet())?.run(30.0)?;
        Ok(rec.nucleus(a)?.spikes.iter().map(|s| s.0).collect())
    };
    assert_eq!(run(1.0, true)?, vec![69, 158, 247]);
    assert_eq!(run(3.0, true)?, vec![69, 139, 209, 279]);
    assert_eq!(run(1.0, false)?, vec![69, 121, 173, 225, 277]);
    Ok(())
}

/// Brette et al. (2007) CUBA, small: `n` LIF neurons (80% excitatory),
/// `dv/dt = (ge + gi - (v - El))/taum` unless refractory, `dge/dt =
/// -ge/taue`, `dgi/dt = -gi/taui`, exact, threshold `v > Vt`, reset `v =
/// Vr`, refractory 5 ms, `ge += we` / `gi += wi` on each arriving spike.
struct Cuba {
    n: usize,
    exc: usize,
    v0: Vec<f64>,
    /// `(pre, post)` pairs, from the excitatory and the inhibitory neurons.
    exc_syn: Vec<(usize, usize, f64)>,
    inh_syn: Vec<(usize, usize, f64)>,
}

const TAUM: f64 = 20.0;
const TAUE: f64 = 5.0;
const TAUI: f64 = 10.0;
const EL: f64 = -49.0;
const VT: f64 = -50.0;
const VR: f64 = -60.0;
const WE: f64 = 60.0 * 0.27 / 10.0;
const WI: f64 = -20.0 * 4.5 / 10.0;

impl Cuba {
    fn new(n: usize, p: f64, seed: u64) -> Cuba {
        let mut rng = common::Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
        let exc = n * 4 / 5;
        let v0 = (0..n).map(|_| VR + rng.next_f64() * (VT - VR)).collect();
        let (mut exc_syn, mut inh_syn) = (Vec::new(), Vec::new());
        for i in 0..n {
            for j in 0..n {
                if rng.next_f64() < p {
                    if i < exc {
                        exc_syn.push((i, j, WE));
                    } else {
                        inh_syn.push((i - exc, j, WI));
                    }
                }
            }
        }
        Cuba {
            n,
            exc,
            v0,
            exc_syn,
            inh_syn,
        }
    }

    /// The engine's run of the network, written as two nuclei `E` and `I`
    /// or (`subgroups`) as Brian2 writes it, one nucleus and two subgroups
    /// connected to all of it: spikes as `(step, neuron)` with the
    /// inhibitory neurons numbered after the excitatory ones.
    fn engine(
        &self,
        dt: f64,
        t_ms: f64,
        subgroups: bool,
    ) -> Result<Engine, Box<dyn std::error::Error>> {
        let model = NeuronModel::new()
            .named("cuba")
            .equation("v", "(ge + gi - (v - El)) / taum")
            .unless_refractory()
            .equation("ge", "-ge / taue")
            .equation("gi", "-gi / taui")
            .param("taum", TAUM)
            .param("taue", TAUE)
            .param("taui", TAUI)
            .param("El", EL)
            .param("Vt", VT)
            .param("Vr", VR)
            .threshold("v > Vt")
            .reset("v = Vr")
            .refractory(5.0)
            .method(Method::Exact);
        let (ne, ni) = (self.exc, self.n - self.exc);
        let mut net = Network::new();
        let v = || Record::spikes().var("v", Probe::All);
        if subgroups {
            let p = net.add(
                Nucleus::with_model("P", self.n, model)
                    .init("v", self.v0.clone())
                    .record(v()),
            )?;
            let (exc, inh) = (p.subgroup(0..ne), p.subgroup(ne..self.n));
            net.connect_with(Connection::new(exc, p, self.exc_syn.clone()).on_pre("ge += w"))?;
            net.connect_with(Connection::new(inh, p, self.inh_syn.clone()).on_pre("gi += w"))?;
            let rec = net.build_with(dt, quiet())?.run(t_ms)?;
            let mut spikes = rec.nucleus(p)?.spikes.clone();
            spikes.sort_unstable();
            let v = rec.trace_of(p, "v")?.values();
            let v = v.rows().into_iter().map(|r| r.to_vec()).collect();
            return Ok(Engine { spikes, v });
        }
        let e = net.add(
            Nucleus::with_model("E", ne, model.clone())
                .init("v", self.v0[..ne].to_vec())
                .record(v()),
        )?;
        let i = net.add(
            Nucleus::with_model("I", ni, model)
                .init("v", self.v0[ne..].to_vec())
                .record(v()),
        )?;
        // Split each rule's synapses by target nucleus.
        for (pre, syn, stmt) in [(e, &self.exc_syn, "ge += w"), (i, &self.inh_syn, "gi += w")] {
            for (post, lo, hi) in [(e, 0, ne), (i, ne, self.n)] {
                let w: Vec<(usize, usize, f64)> = syn
                    .iter()
                    .filter(|s| (lo..hi).contains(&s.1))
                    .map(|&(a, b, w)| (a, b - lo, w))
                    .collect();
                net.connect_with(Connection::new(pre, post, w).on_pre(stmt))?;
            }
        }
        let rec = net.build_with(dt, quiet())?.run(t_ms)?;
        let mut spikes: Vec<(usize, usize)> = rec.nucleus(e)?.spikes.clone();
        spikes.extend(rec.nucleus(i)?.spikes.iter().map(|&(m, k)| (m, k + ne)));
        spikes.sort_unstable();
        let (ve, vi) = (
            rec.trace_of(e, "v")?.values(),
            rec.trace_of(i, "v")?.values(),
        );
        let v = ve
            .rows()
            .into_iter()
            .zip(vi.rows())
            .map(|(a, b)| a.iter().chain(b.iter()).copied().collect())
            .collect();
        Ok(Engine { spikes, v })
    }

    /// The hand-written f64 stepper: the propagator of the linear system
    /// written out (ge and gi decay; v relaxes to El and integrates them),
    /// then threshold, `on_pre`, reset and refractoriness as
    /// docs/semantics.md §3 orders them. It shadows the engine: where its
    /// threshold decision differs from the engine's spikes, the neuron must
    /// sit within `tol` of the threshold (a float32 rounding the f64 run
    /// does not share) and be able to fire; it then follows the engine, so
    /// one flip does not send the two runs apart. Returns the flips, and
    /// the largest difference of v from the engine's.
    fn shadow(&self, dt: f64, engine: &Engine, tol: f64) -> Result<(usize, f64), String> {
        let steps = engine.v.len();
        let (em, ee, ei) = ((-dt / TAUM).exp(), (-dt / TAUE).exp(), (-dt / TAUI).exp());
        let ke = TAUE / (TAUE - TAUM) * (ee - em);
        let ki = TAUI / (TAUI - TAUM) * (ei - em);
        let refractory = 50i64;
        let mut v = self.v0.clone();
        let (mut ge, mut gi) = (vec![0.0; self.n], vec![0.0; self.n]);
        let mut last = vec![i64::MIN / 2; self.n];
        let (mut flips, mut worst) = (0, 0.0f64);
        for m in 0..steps {
            let mut fired = Vec::new();
            for k in 0..self.n {
                if m as i64 - last[k] >= refractory {
                    v[k] = EL + (v[k] - EL) * em + ge[k] * ke + gi[k] * ki;
                }
                ge[k] *= ee;
                gi[k] *= ei;
                let may_fire = m as i64 - last[k] >= refractory;
                let ours = v[k] > VT && may_fire;
                let theirs = engine.spikes.binary_search(&(m, k)).is_ok();
                if ours != theirs {
                    if !may_fire || (v[k] - VT).abs() > tol {
                        return Err(format!(
                            "step {m}, neuron {k}: reference {ours}, engine {theirs}, v = {} (may fire: {may_fire})",
                            v[k]
                        ));
                    }
                    flips += 1;
                }
                if theirs {
                    fired.push(k);
                }
            }
            for &(pre, post, w) in &self.exc_syn {
                if fired.contains(&pre) {
                    ge[post] += w;
                }
            }
            for &(pre, post, w) in &self.inh_syn {
                if fired.contains(&(pre + self.exc)) {
                    gi[post] += w;
                }
            }
            for &k in &fired {
                v[k] = VR;
                last[k] = m as i64;
            }
            assert_eq!(engine.v[m].len(), v.len());
            for (&ours, &theirs) in v.iter().zip(&engine.v[m]) {
                worst = worst.max((ours - theirs as f64).abs());
            }
        }
        Ok((flips, worst))
    }
}

/// What the engine did: spikes as `(step, neuron)` (inhibitory neurons
/// numbered after the excitatory ones), and every neuron's v after each step.
struct Engine {
    spikes: Vec<(usize, usize)>,
    v: Vec<Vec<f32>>,
}

/// CUBA with 200 neurons (p = 0.1, so that each gets about 20 inputs and
/// the network is active), 200 ms: every spike decision of the engine is
/// the hand-written f64 stepper's, except where v lies within 1e-3 mV of
/// the threshold, and v stays within 1e-3 mV of the reference. Why flips
/// happen at all: float32 keeps about 4e-6 mV at -50 mV, the rounding of
/// each step accumulates (measured: v within 2.4e-4 mV of the f64 run
/// after 2000 steps), and v approaches Vt = -50 mV from below at about
/// 0.005 mV per step (El = -49 mV), so a crossing that lands within that
/// drift of the threshold can fall on either side (6 of 453 spikes here).
#[test]
fn cuba_matches_a_hand_written_reference() -> R {
    let net = Cuba::new(200, 0.1, 11);
    let engine = net.engine(0.1, 200.0, false)?;
    assert!(
        engine.spikes.len() > 300,
        "only {} spikes",
        engine.spikes.len()
    );
    let (flips, worst) = net.shadow(0.1, &engine, 1e-3)?;
    println!(
        "{} spikes, {flips} decided by float32 rounding at the threshold; v within {worst:e} mV",
        engine.spikes.len()
    );
    assert!(flips * 100 <= 3 * engine.spikes.len(), "{flips} flips");
    assert!(worst < 1e-3, "v differs by {worst} mV");
    Ok(())
}

/// The CUBA network of the test above written as Brian2 writes it (one
/// nucleus, excitatory and inhibitory subgroups connected to all of it)
/// computes what the two nuclei compute, bit for bit: each neuron's
/// arithmetic is the same, and each postsynaptic neuron's input sums the
/// same synapses in the same order (the events in neuron order, each row's
/// synapses in theirs). The subgroups' rates are their neurons' spikes.
#[test]
fn a_nucleus_with_subgroups_runs_as_its_parts_as_nuclei() -> R {
    let net = Cuba::new(200, 0.1, 11);
    let nuclei = net.engine(0.1, 200.0, false)?;
    let subgroups = net.engine(0.1, 200.0, true)?;
    assert!(nuclei.spikes.len() > 300);
    assert_eq!(subgroups.spikes, nuclei.spikes);
    assert_eq!(subgroups.v, nuclei.v);
    Ok(())
}

/// COBAHH, small: the model of `examples/cobahh.rs` (Traub–Miles HH,
/// conductance synapses, exponential Euler, threshold v > -20 mV,
/// refractory 3 ms, no reset), written out here as the exponential Euler
/// step of each variable (`x' = -B/A + (x + B/A) e^{A dt}` with A, B taken
/// at the start of the step).
mod cobahh {
    pub const N: usize = 200;
    pub const EXC: usize = 160;

    pub struct State {
        pub v: Vec<f64>,
        pub m: Vec<f64>,
        pub n: Vec<f64>,
        pub h: Vec<f64>,
        pub ge: Vec<f64>,
        pub gi: Vec<f64>,
    }

    fn exp_euler(x: f64, a: f64, b: f64, dt: f64) -> f64 {
        let ba = b / a;
        -ba + (ba + x) * (a * dt).exp()
    }

    /// One update of neuron `k` (before threshold and synapses).
    pub fn update(s: &mut State, k: usize, dt: f64) {
        let (cm, gl, gna, gkd, el, ek, ena, vt, ee, ei) = (
            200.0, 10.0, 20000.0, 6000.0, -60.0, -90.0, 50.0, -63.0, 0.0, -80.0,
        );
        let (v, m, n, h, ge, gi) = (s.v[k], s.m[k], s.n[k], s.h[k], s.ge[k], s.gi[k]);
        let alpha_m = 0.32 * (13.0 - v + vt) / (((13.0 - v + vt) / 4.0).exp() - 1.0);
        let beta_m = 0.28 * (v - vt - 40.0) / (((v - vt - 40.0) / 5.0).exp() - 1.0);
        let alpha_h = 0.128 * ((17.0 - v + vt) / 18.0).exp();
        let beta_h = 4.0 / (1.0 + ((40.0 - v + vt) / 5.0).exp());
        let alpha_n = 0.032 * (15.0 - v + vt) / (((15.0 - v + vt) / 5.0).exp() - 1.0);
        let beta_n = 0.5 * ((10.0 - v + vt) / 40.0).exp();
        let (gna_t, gkd_t) = (gna * m * m * m * h, gkd * n * n * n * n);
        let a_v = -(gl + ge + gi + gna_t + gkd_t) / cm;
        let b_v = (gl * el + ge * ee + gi * ei + gna_t * ena + gkd_t * ek) / cm;
        s.v[k] = exp_euler(v, a_v, b_v, dt);
        s.m[k] = exp_euler(m, -(alpha_m + beta_m), alpha_m, dt);
        s.n[k] = exp_euler(n, -(alpha_n + beta_n), alpha_n, dt);
        s.h[k] = exp_euler(h, -(alpha_h + beta_h), alpha_h, dt);
        s.ge[k] = ge * (-dt / 5.0f64).exp();
        s.gi[k] = gi * (-dt / 10.0f64).exp();
    }
}

/// COBAHH with 200 neurons (p = 0.1), 100 ms, against the exponential
/// Euler step written out in f64, shadowing the engine's spikes as the
/// CUBA test does: every spike decision agrees (a spike crosses -20 mV at
/// tens of mV per step, so float32 cannot flip one unless v lands within
/// the tolerance of the threshold), and v stays close to the reference.
#[test]
fn cobahh_matches_a_hand_written_reference() -> R {
    use cobahh::{State, EXC, N};
    let mut rng = common::Rng(0x5DEE_CE66_D1CE_0001);
    let normal = |rng: &mut common::Rng| {
        // Box-Muller from two uniforms: initial values only.
        let (u1, u2) = (rng.next_f64(), rng.next_f64());
        (-2.0 * (1.0 - u1).ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    };
    let v0: Vec<f64> = (0..N)
        .map(|_| -60.0 + (normal(&mut rng) * 5.0 - 5.0))
        .collect();
    let ge0: Vec<f64> = (0..N)
        .map(|_| (normal(&mut rng) * 1.5 + 4.0) * 10.0)
        .collect();
    let gi0: Vec<f64> = (0..N)
        .map(|_| (normal(&mut rng) * 12.0 + 20.0) * 10.0)
        .collect();
    let mut syn: Vec<(usize, usize)> = Vec::new();
    for i in 0..N {
        for j in 0..N {
            if rng.next_f64() < 0.1 {
                syn.push((i, j));
            }
        }
    }
    // The engine, with the example's model and these initial values.
    let (dt, steps) = (0.1, 1000);
    let model = cobahh_example::hh;
    let mut net = Network::new();
    let all = |x: &[f64]| x.to_vec();
    let e = net.add(
        Nucleus::with_model("E", EXC, model())
            .init("v", all(&v0[..EXC]))
            .init("ge", all(&ge0[..EXC]))
            .init("gi", all(&gi0[..EXC]))
            .record(Record::spikes().var("v", Probe::All)),
    )?;
    let i = net.add(
        Nucleus::with_model("I", N - EXC, model())
            .init("v", all(&v0[EXC..]))
            .init("ge", all(&ge0[EXC..]))
            .init("gi", all(&gi0[EXC..]))
            .record(Record::spikes().var("v", Probe::All)),
    )?;
    for (pre, lo, hi, w, stmt) in [(e, 0, EXC, 6.0, "ge += w"), (i, EXC, N, 67.0, "gi += w")] {
        for (post, plo, phi) in [(e, 0, EXC), (i, EXC, N)] {
            let t: Vec<(usize, usize, f64)> = syn
                .iter()
                .filter(|&&(a, b)| (lo..hi).contains(&a) && (plo..phi).contains(&b))
                .map(|&(a, b)| (a - lo, b - plo, w))
                .collect();
            net.connect_with(Connection::new(pre, post, t).on_pre(stmt))?;
        }
    }
    let rec = net.build_with(dt, quiet())?.run(steps as f64 * dt)?;
    let mut spikes: Vec<(usize, usize)> = rec.nucleus(e)?.spikes.clone();
    spikes.extend(rec.nucleus(i)?.spikes.iter().map(|&(m, k)| (m, k + EXC)));
    spikes.sort_unstable();
    let (ve, vi) = (
        rec.trace_of(e, "v")?.values(),
        rec.trace_of(i, "v")?.values(),
    );
    assert!(spikes.len() > 200, "only {} spikes", spikes.len());
    // The reference, shadowing the engine's spike decisions.
    let mut s = State {
        v: v0,
        m: vec![0.0; N],
        n: vec![0.0; N],
        h: vec![0.0; N],
        ge: ge0,
        gi: gi0,
    };
    let mut last = vec![i64::MIN / 2; N];
    let (mut flips, mut worst) = (0, 0.0f64);
    let mut diffs = Vec::with_capacity(steps * N);
    for m in 0..steps {
        let mut fired = Vec::new();
        for (k, last_k) in last.iter_mut().enumerate() {
            cobahh::update(&mut s, k, dt);
            let may_fire = m as i64 - *last_k >= 30;
            let ours = s.v[k] > -20.0 && may_fire;
            let theirs = spikes.binary_search(&(m, k)).is_ok();
            if ours != theirs {
                assert!(
                    may_fire && (s.v[k] + 20.0).abs() < 0.05,
                    "step {m}, neuron {k}: reference {ours}, engine {theirs}, v {}",
                    s.v[k]
                );
                flips += 1;
            }
            if theirs {
                fired.push(k);
                *last_k = m as i64;
            }
        }
        for &(a, b) in &syn {
            if fired.contains(&a) {
                if a < EXC {
                    s.ge[b] += 6.0;
                } else {
                    s.gi[b] += 67.0;
                }
            }
        }
        for k in 0..N {
            let ours = if k < EXC {
                ve[[m, k]]
            } else {
                vi[[m, k - EXC]]
            };
            let d = (s.v[k] - ours as f64).abs();
            worst = worst.max(d);
            diffs.push(d);
        }
    }
    diffs.sort_by(f64::total_cmp);
    let p99 = diffs[diffs.len() * 99 / 100];
    println!(
        "{} spikes, {flips} flips; v within {worst:e} mV, 99% within {p99:e} mV",
        spikes.len()
    );
    assert!(flips * 100 <= spikes.len(), "{flips} flips");
    // Float32 rounding grows on the spike upswing (tens of mV per step).
    assert!(
        worst < 5.0 && p99 < 0.05,
        "v differs by {worst} mV (99%: {p99})"
    );
    Ok(())
}

/// A network of models written as equations checkpoints and resumes like
/// any other: every variable (`v`, `ge`, `gi`, the last-spike steps) is in
/// the checkpoint, and a restored simulator continues with exactly the
/// spikes of the uninterrupted run; an export lists those variables.
#[test]
fn model_nuclei_checkpoint_resume_and_export() -> R {
    let dir = common::tempdir("models-ckpt")?;
    let net = Cuba::new(200, 0.1, 5);
    let build = || -> Result<snn::network::Simulator, Box<dyn std::error::Error>> {
        let model = cuba_example::lif();
        let mut n = Network::new().named("ckpt").seed(3);
        let e = n.add(Nucleus::with_model("E", net.exc, model.clone()))?;
        let i = n.add(Nucleus::with_model("I", net.n - net.exc, model))?;
        for (pre, stmt, w) in [(e, "ge += w", WE), (i, "gi += w", WI)] {
            for post in [e, i] {
                let t = snn::network::Weights::random(0.1, w, 7);
                n.connect_with(Connection::new(pre, post, t).on_pre(stmt))?;
            }
        }
        Ok(n.build_with(0.1, quiet())?)
    };
    let mut whole = build()?;
    let first = whole.run(50.0)?;
    whole.save_checkpoint(dir.join("ck"))?;
    let rest = whole.run(50.0)?;
    assert!(rest.nuclei[0].spike_count > 10);
    let mut resumed = build()?;
    resumed.restore_checkpoint(dir.join("ck"))?;
    let again = resumed.run(50.0)?;
    assert_eq!(again.nuclei, rest.nuclei);
    assert!(first.nuclei[0].spike_count > 0);
    whole.export(dir.join("export"))?;
    let manifest = std::fs::read_to_string(dir.join("export/manifest.json"))?;
    for var in ["E/v", "E/ge", "E/gi", "E/lastspike", "I/v", "dt"] {
        assert!(
            manifest.contains(&format!("\"{var}\"")),
            "{var} missing from the export"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// `exprel` in the graph (float32, `Expm1`): one Euler step of
/// `dv/dt = exprel(p)` from 0 gives `dt · exprel(p)`, 1 at p = 0 and
/// accurate where `(exp(p) - 1)/p` in float32 gives 0.
#[test]
fn exprel_in_the_graph_matches_its_definition() -> R {
    let p = vec![0.0, 1e-9, -3e-8, 1.0, -3.0, 20.0];
    let model = NeuronModel::new()
        .equation("v", "exprel(p)")
        .param("p", p.clone())
        .init("v", 0.0);
    let mut net = Network::new();
    let a = net.add(
        Nucleus::with_model("A", p.len(), model).record(Record::spikes().var("v", Probe::All)),
    )?;
    let rec = net.build_with(1.0, quiet())?.run(1.0)?;
    let v = rec.trace_of(a, "v")?.values();
    for (i, &x) in p.iter().enumerate() {
        let want = if x == 0.0 { 1.0 } else { x.exp_m1() / x };
        let got = v[[0, i]] as f64;
        assert!(
            (got - want).abs() <= 1e-6 * want.abs(),
            "exprel({x}): {got} vs {want}"
        );
    }
    Ok(())
}

/// A threshold that reads no value per neuron (only the time, or scalar
/// parameters) fires every neuron at once: the steps the f64 stepper of
/// the equations gives (`Lowered::simulate`), and those of the same
/// condition made per neuron (`+ 0 * v`). It once failed to build (its
/// one value was reshaped into a row of neurons).
#[test]
fn a_threshold_on_time_alone_fires_every_neuron() -> R {
    let model = |threshold: &str| {
        NeuronModel::new()
            .equation("v", "-v / tau")
            .param("tau", 10.0)
            .param("t_on", 0.55)
            .threshold(threshold)
            .reset("v = 1")
    };
    let engine = |threshold: &str| -> Result<Vec<(usize, usize)>, Box<dyn std::error::Error>> {
        let mut net = Network::new();
        let a = net.add(Nucleus::with_model("A", 4, model(threshold)).record(Record::spikes()))?;
        let rec = net.build_with(0.1, quiet())?.run(1.0)?;
        Ok(rec.nucleus(a)?.spikes.clone())
    };
    let want = model("t > t_on")
        .lower(4, 0.1, 0)?
        .simulate(10, |_, _, _| {})?
        .spikes;
    // t > 0.55 holds in the last steps only, for all four neurons.
    assert!(
        !want.is_empty() && want.len() < 40 && want.len() % 4 == 0,
        "{want:?}"
    );
    assert_eq!(engine("t > t_on")?, want);
    assert_eq!(engine("t + 0 * v > t_on")?, want);
    Ok(())
}

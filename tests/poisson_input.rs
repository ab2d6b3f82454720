//! Poisson inputs (`NeuronModel::poisson_input`, Brian2's `PoissonInput`;
//! docs/semantics.md §3.5): per neuron and step `weight · k` with `k ~
//! Binomial(n, rate · dt)`, checked against the binomial's closed-form
//! moments, in the engine and in the f64 reference.

use snn::equations::NeuronModel;
use snn::network::{Connection, Executor, Network, Nucleus, Probe, Record, SimOptions, Weights};
use snn::Error;

mod common;
use common::stats::{assert_moments, row};

type R = Result<(), Box<dyn std::error::Error>>;

fn quiet() -> SimOptions {
    SimOptions::default().quiet().tensorboard(None)
}

/// `count` sums `k ~ Binomial(n, p)` with mean `n p`, variance `n p (1 - p)`
/// per step; `half` (weight 0.5, another input) the same at its own rate.
fn counting() -> NeuronModel {
    NeuronModel::new()
        .named("counter")
        .variable("count")
        .variable("half")
        .poisson_input("count", 1000, 20.0, 1.0)
        .poisson_input("half", 200, 250.0, 0.5)
}

#[test]
fn poisson_input_counts_are_binomial() -> R {
    let (n, dt, steps) = (4000, 0.1, 500);
    let mut net = Network::new().seed(12);
    let a = net.add(Nucleus::with_model("A", n, counting()).record(Record::everything()))?;
    let rec = net.build_with(dt, quiet())?.run(steps as f64 * dt)?;
    // One step: k ~ Binomial(1000, 0.002).
    let (p1, p2) = (20.0 * dt / 1000.0, 250.0 * dt / 1000.0);
    let first = row(&rec, a, "count", 0)?;
    assert_moments(&first, 1000.0 * p1, 1000.0 * p1 * (1.0 - p1), "one step");
    let zeros = first.iter().filter(|&&k| k == 0.0).count() as f64 / n as f64;
    let p0 = (1.0 - p1).powi(1000);
    assert!(
        (zeros - p0).abs() < 5.0 * (p0 * (1.0 - p0) / n as f64).sqrt(),
        "P(k = 0) {zeros} vs {p0}"
    );
    assert!(first.iter().all(|&k| k >= 0.0 && k.fract() == 0.0));
    // After all steps: Binomial(1000 · steps, p), independent steps.
    let last = row(&rec, a, "count", steps - 1)?;
    let m = (1000 * steps) as f64;
    assert_moments(&last, m * p1, m * p1 * (1.0 - p1), "all steps");
    let half = row(&rec, a, "half", steps - 1)?;
    let m = (200 * steps) as f64;
    assert_moments(
        &half,
        0.5 * m * p2,
        0.25 * m * p2 * (1.0 - p2),
        "weight 0.5",
    );
    // The f64 reference draws from the same distributions.
    let reference = counting().lower(n, dt, 12)?.simulate(steps, |_, _, _| {})?;
    let m = (1000 * steps) as f64;
    assert_moments(
        &reference.state[steps - 1][0],
        m * p1,
        m * p1 * (1.0 - p1),
        "reference",
    );
    Ok(())
}

/// Into a pulse input the events act in the next step, like a connection
/// without `on_pre`: `dx/dt = I` by Euler sums `dt · I` of the steps
/// before.
#[test]
fn poisson_input_into_a_pulse_input_acts_in_the_next_step() -> R {
    let (n, dt, steps) = (2000, 0.1, 300);
    let model = NeuronModel::new()
        .named("integrator")
        .equation("x", "I")
        .pulse("I")
        .poisson_input("I", 500, 40.0, 2.0);
    let mut net = Network::new().seed(2);
    let a = net.add(
        Nucleus::with_model("A", n, model.clone()).record(Record::spikes().var("x", Probe::All)),
    )?;
    let rec = net.build_with(dt, quiet())?.run(steps as f64 * dt)?;
    // Step 0 reads no input yet.
    assert!(row(&rec, a, "x", 0)?.iter().all(|&x| x == 0.0));
    let p = 40.0 * dt / 1000.0;
    let m = (500 * (steps - 1)) as f64;
    let (mean, var) = (dt * 2.0 * m * p, dt * dt * 4.0 * m * p * (1.0 - p));
    assert_moments(&row(&rec, a, "x", steps - 1)?, mean, var, "engine");
    let reference = model
        .lower(n, dt, 2)?
        .simulate(steps, |_, _, out| out.fill(0.0))?;
    assert!(reference.state[0][0].iter().all(|&x| x == 0.0));
    assert_moments(&reference.state[steps - 1][0], mean, var, "reference");
    Ok(())
}

/// Keyed by seed and step: several steps per run draw the same events.
#[test]
fn poisson_input_repeats_with_its_seed_and_step() -> R {
    let run = |seed: u64, per_run: usize| -> Result<Vec<f32>, Error> {
        let mut net = Network::new().seed(seed);
        let a = net.add(Nucleus::with_model("A", 50, counting()).record(Record::everything()))?;
        let rec = net
            .build_with(0.1, quiet().steps_per_run(per_run))?
            .run(20.0)?;
        Ok(rec.trace_of(a, "count")?.values().iter().copied().collect())
    };
    let one = run(1, 1)?;
    assert_eq!(one, run(1, 10)?);
    assert_ne!(one, run(2, 1)?);
    Ok(())
}

#[test]
fn bad_poisson_inputs_name_the_culprit() {
    let base = || NeuronModel::new().named("m").variable("x");
    for (model, needle) in [
        (
            base().poisson_input("y", 10, 5.0, 1.0),
            "not a state variable",
        ),
        (base().poisson_input("x", 0, 5.0, 1.0), "sources"),
        (base().poisson_input("x", 10, -5.0, 1.0), "Hz >= 0"),
        (base().poisson_input("x", 10, 20_000.0, 1.0), "not below 1"),
        (base().poisson_input("x", 10, 5.0, f64::NAN), "finite"),
    ] {
        match model.lower(3, 0.1, 0) {
            Err(Error::Equation { item, problem, .. }) => {
                assert_eq!(item, "Poisson input");
                assert!(problem.contains(needle), "{problem}");
            }
            other => panic!("expected an equation error, got {other:?}"),
        }
    }
}

/// A Poisson input and two connections summed into `v` of 12 500 neurons
/// under the single-threaded executor (what `Executor::Auto` picks for
/// this model network): Grappler's memory optimizer once turned that sum
/// into a temporary variable the executor refuses (it is off there now).
#[test]
fn a_large_sum_into_one_variable_runs_single_threaded() -> R {
    let model = NeuronModel::new()
        .named("lif")
        .equation("v", "(1.5 - v) / 10")
        .threshold("v > 1")
        .reset("v = 0")
        .poisson_input("v", 100, 10.0, 0.1);
    let mut net = Network::new();
    let a = net.add(Nucleus::with_model("A", 12_500, model))?;
    for k in 0..2 {
        let pre = a.subgroup(k * 30..(k + 1) * 30);
        let w = Weights::random(0.1, 0.01, k as u64);
        net.connect_with(Connection::new(pre, a, w).on_pre("v += w"))?;
    }
    let opts = quiet().executor(Executor::SingleThreaded);
    let rec = net.build_with(0.1, opts)?.run(5.0)?;
    assert!(rec.nuclei[0].spike_count > 0);
    Ok(())
}

/// Poisson events arriving at a refractory neuron leave its *unless
/// refractory* variables alone (Brian2's read-only rule): from the spike
/// step `s` through `s + R - 1` `v` is exactly the reset value, in the
/// engine and in the f64 reference, though events arrive every step.
#[test]
fn poisson_input_leaves_refractory_variables_alone() -> R {
    let (n, dt, steps) = (200, 0.1, 2000);
    let lif = NeuronModel::new()
        .named("driven_lif")
        .equation("v", "-v / 20")
        .unless_refractory()
        .threshold("v > 20")
        .reset("v = 10")
        .refractory(2.0)
        .poisson_input("v", 1000, 40.0, 0.5);
    let mut net = Network::new().seed(6);
    let a = net.add(
        Nucleus::with_model("A", n, lif.clone()).record(Record::spikes().var("v", Probe::All)),
    )?;
    let rec = net.build_with(dt, quiet())?.run(steps as f64 * dt)?;
    let v = rec.trace_of(a, "v")?.values();
    let engine: Vec<(usize, usize)> = rec.nucleus(a)?.spikes.clone();
    let reference = lif.lower(n, dt, 6)?.simulate(steps, |_, _, _| {})?;
    let from_engine = |m: usize, i: usize| v[[m, i]] as f64;
    let from_reference = |m: usize, i: usize| reference.state[m][0][i];
    // Each run's spikes and its v at (step, neuron).
    type Run<'a> = (&'a Vec<(usize, usize)>, &'a dyn Fn(usize, usize) -> f64);
    let runs: [Run; 2] = [
        (&engine, &from_engine),
        (&reference.spikes, &from_reference),
    ];
    for (spikes, value) in runs {
        assert!(spikes.len() > 100, "{} spikes", spikes.len());
        for &(s, i) in spikes.iter().filter(|&&(s, _)| s + 20 < steps) {
            for m in s..s + 20 {
                assert_eq!(value(m, i), 10.0, "neuron {i} spiked at {s}; step {m}");
            }
            assert_ne!(
                value(s + 20, i),
                10.0,
                "neuron {i} takes input again at {}",
                s + 20
            );
        }
    }
    Ok(())
}

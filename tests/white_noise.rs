//! White noise `xi` in the equations of a model nucleus (docs/semantics.md
//! §3.5): Euler–Maruyama steps checked against closed forms of the
//! distributions they produce, the noise's sharing and independence, the
//! refractory hold and reproducibility (the typed errors: tests/equations.rs).

use snn::equations::NeuronModel;
use snn::network::{Connection, Network, Nucleus, Probe, Record, SimOptions, Weights};
use snn::Error;

mod common;
use common::stats::{assert_variance, correlation, moments, row};

type R = Result<(), Box<dyn std::error::Error>>;

fn quiet() -> SimOptions {
    SimOptions::default().quiet().tensorboard(None)
}

/// `dx/dt = s·xi` is Brownian motion: after time `t` (ms) `x` has variance
/// `s² t` whatever the step, since each step adds `s·sqrt(dt)·N(0, 1)`;
/// successive increments are independent.
#[test]
fn white_noise_diffuses_with_variance_proportional_to_time() -> R {
    let (n, s) = (4000, 2.0);
    for dt in [0.1, 0.05] {
        let model = NeuronModel::new()
            .named("brownian")
            .equation("x", "s * xi")
            .param("s", s);
        let mut net = Network::new().seed(7);
        let a = net.add(
            Nucleus::with_model("A", n, model).record(Record::spikes().var("x", Probe::All)),
        )?;
        let rec = net.build_with(dt, quiet())?.run(50.0)?;
        let times = rec.trace_of(a, "x")?.times.clone();
        for t in [10.0, 40.0] {
            let k = times
                .iter()
                .position(|&x| (x - t).abs() < 1e-9)
                .ok_or("a recorded time")?;
            // The row at time t holds the state after step k, k + 1 steps
            // in (the first row is after step 0).
            let elapsed = (k + 1) as f64 * dt;
            let (mean, var) = moments(&row(&rec, a, "x", k)?);
            let want = s * s * elapsed;
            assert_variance(var, want, n, &format!("dt {dt}, t {t}"));
            assert!(
                mean.abs() < 5.0 * (want / n as f64).sqrt(),
                "dt {dt}: mean {mean}"
            );
        }
        // Increments of successive steps are uncorrelated.
        let (x0, x1, x2) = (
            row(&rec, a, "x", 100)?,
            row(&rec, a, "x", 101)?,
            row(&rec, a, "x", 102)?,
        );
        let d1: Vec<f64> = x1.iter().zip(&x0).map(|(a, b)| a - b).collect();
        let d2: Vec<f64> = x2.iter().zip(&x1).map(|(a, b)| a - b).collect();
        let r = correlation(&d1, &d2);
        assert!(
            r.abs() < 5.0 / (n as f64).sqrt(),
            "dt {dt}: correlation {r}"
        );
        let (_, var) = moments(&d1);
        assert_variance(var, s * s * dt, n, &format!("dt {dt}, one step"));
    }
    Ok(())
}

/// The Ornstein–Uhlenbeck process `dv/dt = (mu - v)/tau + sigma
/// sqrt(2/tau) xi` by Euler–Maruyama is `v' = (1 - a) v + a mu + b N(0, 1)`
/// with `a = dt/tau`, `b = sigma sqrt(2 dt/tau)`: from `v = mu` its variance
/// after `m` steps is `b² (1 - (1 - a)^(2m)) / (1 - (1 - a)²)`, its mean
/// `mu`. The engine and the f64 reference (`Lowered::simulate`, its own
/// generator) both follow it.
#[test]
fn an_ornstein_uhlenbeck_process_has_the_closed_form_variance() -> R {
    let (n, dt, tau, sigma, mu) = (4000, 0.1, 10.0, 3.0, -60.0);
    let model = NeuronModel::new()
        .named("ou")
        .equation("v", "(mu - v) / tau + sigma * sqrt(2 / tau) * xi")
        .param("tau", tau)
        .param("sigma", sigma)
        .param("mu", mu)
        .init("v", mu);
    let (a, b2) = (dt / tau, sigma * sigma * 2.0 * dt / tau);
    let variance = |m: usize| b2 * (1.0 - (1.0 - a).powi(2 * m as i32)) / (1.0 - (1.0 - a).powi(2));
    let mut net = Network::new().seed(3);
    let p = net.add(
        Nucleus::with_model("P", n, model.clone()).record(Record::spikes().var("v", Probe::All)),
    )?;
    let rec = net.build_with(dt, quiet())?.run(100.0)?;
    for k in [49, 999] {
        let (mean, var) = moments(&row(&rec, p, "v", k)?);
        let want = variance(k + 1);
        assert_variance(var, want, n, &format!("engine, step {k}"));
        assert!(
            (mean - mu).abs() < 5.0 * (want / n as f64).sqrt(),
            "mean {mean}"
        );
    }
    let reference = model.lower(n, dt, 3)?.simulate(1000, |_, _, _| {})?;
    for k in [49, 999] {
        let (mean, var) = moments(&reference.state[k][0]);
        let want = variance(k + 1);
        assert_variance(var, want, n, &format!("f64 reference, step {k}"));
        assert!(
            (mean - mu).abs() < 5.0 * (want / n as f64).sqrt(),
            "mean {mean}"
        );
    }
    Ok(())
}

/// One noise name is one draw per neuron and step, shared by every
/// equation that reads it (`y` moves exactly twice as far as `x`: scaling
/// by 2 is exact in float32); another name is independent of it.
#[test]
fn a_noise_name_is_one_draw_shared_by_the_equations_that_read_it() -> R {
    let n = 2000;
    let model = NeuronModel::new()
        .named("shared")
        .equation("x", "xi")
        .equation("y", "2 * xi")
        .equation("z", "xi_other");
    let mut net = Network::new().seed(11);
    let a = net.add(Nucleus::with_model("A", n, model).record(Record::everything()))?;
    let rec = net.build_with(0.1, quiet())?.run(20.0)?;
    let (x, y, z) = (
        row(&rec, a, "x", 199)?,
        row(&rec, a, "y", 199)?,
        row(&rec, a, "z", 199)?,
    );
    assert!(x.iter().zip(&y).all(|(x, y)| *y == 2.0 * x));
    assert!(moments(&x).1 > 10.0, "x moved: {}", moments(&x).1);
    let r = correlation(&x, &z);
    assert!(r.abs() < 5.0 / (n as f64).sqrt(), "correlation {r}");
    Ok(())
}

/// A noisy LIF neuron with `unless refractory`: from the spike step `s`
/// to the end of its refractory period (5 ms: refractory while `m - s <
/// 50`) `v` is exactly the reset value, noise and all; it moves again in
/// step `s + 50`.
#[test]
fn white_noise_is_held_while_refractory() -> R {
    let (n, dt) = (50, 0.1);
    let lif = common::models::noisy_lif(-60.0, 5.0);
    let mut net = Network::new().seed(5);
    let a =
        net.add(Nucleus::with_model("A", n, lif).record(Record::spikes().var("v", Probe::All)))?;
    let steps = 3000;
    let rec = net.build_with(dt, quiet())?.run(steps as f64 * dt)?;
    let v = rec.trace_of(a, "v")?.values();
    let spikes = &rec.nucleus(a)?.spikes;
    assert!(spikes.len() > 100, "{} spikes", spikes.len());
    let mut checked = 0;
    for &(m, i) in spikes {
        if m + 50 >= steps {
            continue;
        }
        for k in m..m + 50 {
            assert_eq!(v[[k, i]], -60.0, "neuron {i} spiked at step {m}; step {k}");
        }
        assert_ne!(
            v[[m + 50, i]],
            -60.0,
            "neuron {i} free again after step {m}"
        );
        checked += 1;
    }
    assert!(checked > 100);
    Ok(())
}

/// The draws are keyed by seed and step: several steps per session run
/// give the same run; another seed another.
#[test]
fn noisy_runs_repeat_with_their_seed_and_step() -> R {
    let model = || common::models::noisy_lif(-60.0, 2.0);
    // The spikes and every recorded v.
    type Run = (Vec<(usize, usize)>, Vec<f32>);
    let run = |seed: u64, per_run: usize| -> Result<Run, Error> {
        let mut net = Network::new().seed(seed);
        let a = net.add(
            Nucleus::with_model("A", 30, model()).record(Record::spikes().var("v", Probe::All)),
        )?;
        let rec = net
            .build_with(0.1, quiet().steps_per_run(per_run))?
            .run(100.0)?;
        let v = rec.trace_of(a, "v")?.values().iter().copied().collect();
        Ok((rec.nucleus(a)?.spikes.clone(), v))
    };
    let one = run(1, 1)?;
    assert!(one.0.len() > 20, "{} spikes", one.0.len());
    assert_eq!(one, run(1, 10)?);
    assert_ne!(one.0, run(2, 1)?.0);
    Ok(())
}

/// A noisy recurrent network resumed from a checkpoint continues with
/// exactly the spikes and `v` of the uninterrupted run: the draws are keyed
/// by the step, which the checkpoint carries.
#[test]
fn a_noisy_network_resumes_from_a_checkpoint_exactly() -> R {
    let dir = common::tempdir("white-noise-ckpt")?;
    let build = || -> Result<snn::network::Simulator, Error> {
        let lif = common::models::noisy_lif("-60 + 10 * rand()", 2.0);
        let mut net = Network::new().seed(8);
        let a = net.add(Nucleus::with_model("A", 100, lif).record(Record::everything()))?;
        net.connect_with(
            Connection::new(a, a, Weights::random(0.1, -0.4, 3))
                .on_pre("v += w")
                .delay(1.5),
        )?;
        net.build_with(0.1, quiet())
    };
    let mut whole = build()?;
    whole.run(50.0)?;
    whole.save_checkpoint(dir.join("ck"))?;
    let rest = whole.run(50.0)?;
    assert!(
        rest.nuclei[0].spike_count > 50,
        "{}",
        rest.nuclei[0].spike_count
    );
    let mut resumed = build()?;
    resumed.restore_checkpoint(dir.join("ck"))?;
    let again = resumed.run(50.0)?;
    assert_eq!(again.nuclei, rest.nuclei);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

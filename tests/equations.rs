//! Neuron models written as equations, lowered and stepped in f64
//! (`snn::equations`, docs/semantics.md §3): each method against closed
//! forms, refractoriness against the period it implies, and the typed
//! errors for what cannot run.

use snn::equations::{Method, NeuronModel};
use snn::Error;

type R = Result<(), Box<dyn std::error::Error>>;

/// `dx/dt = -x/tau` from x = 1 by `method`: x after `steps` steps.
fn decay(method: Method, dt: f64, steps: usize) -> snn::Result<f64> {
    let model = NeuronModel::new()
        .named("decay")
        .equation("x", "-x / tau")
        .param("tau", 10.0)
        .init("x", 1.0)
        .method(method);
    let run = model.lower(1, dt, 0)?.simulate(steps, |_, _, _| {})?;
    Ok(run.state[steps - 1][0][0])
}

#[test]
fn every_method_follows_exponential_decay() -> R {
    let (dt, steps) = (0.1, 200);
    let t = dt * steps as f64;
    let exact = (-t / 10.0f64).exp();
    // Euler is (1 - dt/tau)^m, exactly the recursion.
    let euler = decay(Method::Euler, dt, steps)?;
    assert!((euler - (1.0 - dt / 10.0f64).powi(steps as i32)).abs() < 1e-14);
    // Exponential Euler and exact integrate a linear decay exactly.
    for method in [Method::ExponentialEuler, Method::Exact] {
        let x = decay(method, dt, steps)?;
        assert!((x - exact).abs() < 1e-13, "{method:?}: {x} vs {exact}");
    }
    // RK4: the error is fourth order in dt.
    let e1 = (decay(Method::Rk4, 0.4, 50)? - exact).abs();
    let e2 = (decay(Method::Rk4, 0.2, 100)? - exact).abs();
    let ratio = e1 / e2;
    assert!(
        (14.0..18.0).contains(&ratio),
        "RK4 error ratio {ratio} (e1 {e1:e}, e2 {e2:e})"
    );
    Ok(())
}

/// RK4's fourth order on a nonlinear ODE, `dx/dt = -x^2`, x(0) = 1, whose
/// solution is 1/(1 + t); time enters through `t` too (`+ 0*t` reads it).
#[test]
fn rk4_is_fourth_order_on_a_smooth_nonlinear_ode() -> R {
    let err = |dt: f64| -> snn::Result<f64> {
        let steps = (2.0 / dt).round() as usize;
        let model = NeuronModel::new()
            .equation("x", "-x**2 + 0*t")
            .init("x", 1.0)
            .method(Method::Rk4);
        let run = model.lower(1, dt, 0)?.simulate(steps, |_, _, _| {})?;
        Ok((run.state[steps - 1][0][0] - 1.0 / 3.0).abs())
    };
    let ratio = err(0.2)? / err(0.1)?;
    assert!((14.0..18.5).contains(&ratio), "ratio {ratio}");
    Ok(())
}

/// A two-variable linear system by the exact method: the harmonic
/// oscillator `x' = y, y' = -w^2 x` against cos/sin, and a driven leak
/// `v' = (I - v)/tau` with a pulse input I against `I (1 - e^{-t/tau})`.
#[test]
fn exact_integrates_linear_systems() -> R {
    let w = 0.3;
    let model = NeuronModel::new()
        .equation("x", "y")
        .equation("y", "-w**2 * x")
        .param("w", w)
        .init("x", 1.0)
        .method(Method::Exact);
    let (dt, steps) = (0.1, 1000);
    let run = model.lower(1, dt, 0)?.simulate(steps, |_, _, _| {})?;
    let t = dt * steps as f64;
    let s = &run.state[steps - 1];
    assert!((s[0][0] - (w * t).cos()).abs() < 1e-10, "x {}", s[0][0]);
    assert!((s[1][0] + w * (w * t).sin()).abs() < 1e-10, "y {}", s[1][0]);

    let leak = NeuronModel::new()
        .equation("v", "(I - v) / tau")
        .pulse("I")
        .param("tau", vec![10.0, 20.0])
        .method(Method::Exact);
    let lowered = leak.lower(2, dt, 0)?;
    let run = lowered.simulate(steps, |_, _, out| out.fill(3.0))?;
    for (k, tau) in [10.0, 20.0].into_iter().enumerate() {
        let v = run.state[steps - 1][0][k];
        assert!(
            (v - 3.0 * (1.0 - (-t / tau).exp())).abs() < 1e-10,
            "tau {tau}: {v}"
        );
    }
    Ok(())
}

/// Exponential Euler on a gating variable with constant rates: `m' = a (1
/// - m) - b m` relaxes exactly to `a/(a+b)` at rate `a + b`.
#[test]
fn exponential_euler_is_exact_for_constant_rate_gating() -> R {
    let (a, b, dt, steps) = (0.5, 0.25, 0.1, 100);
    let model = NeuronModel::new()
        .equation("m", "a * (1 - m) - b * m")
        .param("a", a)
        .param("b", b)
        .method(Method::ExponentialEuler);
    let run = model.lower(1, dt, 0)?.simulate(steps, |_, _, _| {})?;
    let t = dt * steps as f64;
    let inf = a / (a + b);
    let want = inf * (1.0 - (-(a + b) * t).exp());
    assert!((run.state[steps - 1][0][0] - want).abs() < 1e-12);
    Ok(())
}

/// A leaky integrator under constant drive I = 2 (threshold 1, reset 0,
/// refractory 2 ms, exact) fires every `R - 1 + k*` steps, as Brian2 does:
/// reset in the spike step `s`, refractory while `m - s < R` (R = 20), so
/// `v` stays at 0 through step `s + R - 1`, then the first `k` with `I (1 -
/// e^{-k dt/tau}) > 1` updates (Brian2 2.9 gives 89 steps here, 70 without
/// refractoriness).
#[test]
fn refractoriness_sets_the_period() -> R {
    let (tau, dt, drive) = (10.0, 0.1, 2.0);
    let model = NeuronModel::new()
        .equation("v", "(I0 - v) / tau")
        .unless_refractory()
        .param("tau", tau)
        .param("I0", drive)
        .threshold("v > 1")
        .reset("v = 0")
        .refractory(2.0)
        .method(Method::Exact);
    let lowered = model.lower(1, dt, 0)?;
    assert_eq!(lowered.refractory_steps(0), Some(20));
    let run = lowered.simulate(2000, |_, _, _| {})?;
    let k_star = (1..)
        .find(|&k| drive * (1.0 - (-(k as f64) * dt / tau).exp()) > 1.0)
        .unwrap();
    let steps: Vec<usize> = run.spikes.iter().map(|s| s.0).collect();
    assert!(steps.len() > 10);
    assert_eq!(steps[0] + 1, k_star, "first spike after k* updates from 0");
    assert_eq!(k_star, 70);
    for pair in steps.windows(2) {
        assert_eq!(pair[1] - pair[0], 19 + k_star, "spikes at {steps:?}");
    }
    // v stays at the reset value while refractory.
    let s = steps[0];
    for m in s..s + 20 {
        assert_eq!(run.state[m][0][0], 0.0, "v at step {m}");
    }
    assert!(run.state[s + 20][0][0] > 0.0);
    Ok(())
}

/// Initial values drawn per neuron: within their range, the same for the
/// same seed, different for another.
#[test]
fn init_expressions_draw_from_the_seed() -> R {
    let model = NeuronModel::new()
        .equation("v", "-v")
        .param("Vt", -50.0)
        .param("Vr", -60.0)
        .init("v", "Vr + rand() * (Vt - Vr)");
    let a = model.lower(1000, 0.1, 7)?;
    let b = model.lower(1000, 0.1, 7)?;
    let c = model.lower(1000, 0.1, 8)?;
    assert_eq!(a.init, b.init);
    assert_ne!(a.init, c.init);
    assert!(a.init[0].iter().all(|&v| (-60.0..-50.0).contains(&v)));
    let mean = a.init[0].iter().sum::<f64>() / 1000.0;
    assert!((mean + 55.0).abs() < 0.5, "mean {mean}");
    Ok(())
}

fn equation_error(e: snn::Result<snn::equations::Lowered>) -> (String, Option<usize>, String) {
    match e {
        Err(Error::Equation {
            item, pos, problem, ..
        }) => (item, pos, problem),
        other => panic!("expected an equation error, got {other:?}"),
    }
}

#[test]
fn bad_models_give_typed_errors_naming_the_culprit() {
    let base = || {
        NeuronModel::new()
            .named("lif")
            .equation("v", "(El - v) / taum")
            .param("El", -49.0)
            .param("taum", 20.0)
    };
    // An unknown name: the closest known one, and a caret under it.
    let (item, pos, problem) = equation_error(base().equation("w", "-w / tuam").lower(1, 0.1, 0));
    assert_eq!(item, "equation dw/dt");
    assert_eq!(pos, Some(5));
    assert!(
        problem.contains("\"tuam\"") && problem.contains("\"taum\""),
        "{problem}"
    );
    let msg = base()
        .equation("w", "-w / tuam")
        .lower(1, 0.1, 0)
        .unwrap_err()
        .to_string();
    assert!(msg.contains("-w / tuam\n         ^"), "{msg}");
    // Two pulse inputs: where would the external input go?
    let (item, _, _) = equation_error(base().pulse("I").pulse("J").lower(1, 0.1, 0));
    assert_eq!(item, "pulse inputs");
    // A reset assigning something that is not a state variable.
    let (item, _, problem) = equation_error(base().reset("v = -60; El = 0").lower(1, 0.1, 0));
    assert_eq!(item, "reset");
    assert!(
        problem.contains("\"El\" is not a state variable"),
        "{problem}"
    );
    // A threshold that is not a condition.
    let (item, _, _) = equation_error(base().threshold("v + 50").lower(1, 0.1, 0));
    assert_eq!(item, "threshold");
    // Exponential Euler on an equation not linear in its variable.
    let (item, _, problem) = equation_error(
        base()
            .equation("u", "u * u")
            .method(Method::ExponentialEuler)
            .lower(1, 0.1, 0),
    );
    assert_eq!(item, "equation du/dt");
    assert!(problem.contains("not linear in u"), "{problem}");
    // Exact on a non-linear system, and on a coefficient that changes.
    let (item, _, _) = equation_error(
        base()
            .equation("u", "u * v")
            .method(Method::Exact)
            .lower(1, 0.1, 0),
    );
    assert_eq!(item, "equation du/dt");
    let (_, _, problem) = equation_error(
        base()
            .equation("u", "-u * t")
            .method(Method::Exact)
            .lower(1, 0.1, 0),
    );
    assert!(problem.contains("changes with time"), "{problem}");
    // A negative or non-finite refractory period.
    let (item, _, _) = equation_error(base().refractory(-1.0).lower(1, 0.1, 0));
    assert_eq!(item, "refractory period");
    let (item, _, _) = equation_error(base().refractory(f64::NAN).lower(1, 0.1, 0));
    assert_eq!(item, "refractory period");
    // An init expression giving NaN names the neuron.
    let (item, _, problem) = equation_error(base().init("v", "log(-1 - rand())").lower(3, 0.1, 0));
    assert_eq!(item, "initial value of v");
    assert!(problem.contains("neuron 0"), "{problem}");
    // on_pre: linear in w, into a variable of the model.
    let lowered = base().equation("ge", "-ge / 5").lower(1, 0.1, 0).unwrap();
    let on_pre = lowered.on_pre("ge += 2 * w").unwrap();
    assert_eq!(
        (
            on_pre.target.as_str(),
            on_pre.coefficient.to_string().as_str()
        ),
        ("ge", "2")
    );
    let on_pre = lowered.on_pre("v -= (El - v) * w").unwrap();
    assert_eq!(on_pre.target, "v");
    assert_eq!(on_pre.coefficient.to_string(), "(* -1 (- -49 v))");
    let (item, _, problem) = match lowered.on_pre("ge += w * w") {
        Err(Error::Equation {
            item, pos, problem, ..
        }) => (item, pos, problem),
        other => panic!("{other:?}"),
    };
    assert_eq!(item, "on_pre");
    assert!(problem.contains("linear in the weight"), "{problem}");
    assert!(matches!(
        lowered.on_pre("ge += w + 1"),
        Err(Error::Equation { .. })
    ));
    let err = lowered.on_pre("gi += w").unwrap_err().to_string();
    assert!(
        err.contains("\"gi\" is not a state variable") && err.contains("\"ge\""),
        "{err}"
    );
}

/// A network model handed to the single-neuron toolkit runs there exactly
/// as the same model written for it by hand, and draws a phase plane.
#[test]
fn a_model_runs_in_the_single_neuron_toolkit() -> R {
    use snn::single::{Model, PhasePlane, Variable};
    let fhn = NeuronModel::new()
        .named("fhn")
        .equation("v", "v - v**3/3 - w + I")
        .equation("w", "(v + a - b*w) / tau")
        .pulse("I")
        .param("a", 0.7)
        .param("b", 0.8)
        .param("tau", 12.5)
        .init("v", -1.0)
        .method(Method::Rk4);
    let mut single = fhn.to_single(0)?;
    single.set("I", 0.5)?;
    let by_hand = Model::new(vec![
        Variable::new("v", "v - v**3/3 - w + I", -1.0),
        Variable::new("w", "(v + a - b*w) / tau", 0.0),
    ])
    .param("a", 0.7)
    .param("b", 0.8)
    .param("tau", 12.5)
    .param("I", 0.5);
    let (h1, h2) = (
        single.simulation(100.0, 0.1)?,
        by_hand.simulation(100.0, 0.1)?,
    );
    assert_eq!(h1.column("v")?, h2.column("v")?);
    assert_eq!(h1.column("w")?, h2.column("w")?);
    let plane = single.phase_plane(&PhasePlane::new(("v", -2.5, 2.0), ("w", -1.0, 1.0)))?;
    assert!(!plane.fixed_points.is_empty());
    // One refractory period, a number: a period per neuron is refused.
    let lif = NeuronModel::new()
        .equation("v", "-v")
        .refractory(vec![2.0, 3.0]);
    assert!(matches!(lif.to_single(0), Err(Error::Equation { .. })));
    Ok(())
}

/// A refractory LIF handed to the toolkit keeps its refractoriness: it runs
/// as the same model written there by hand, and its interspike interval is
/// the network semantics' (the f64 stepper of the engine's lowering, same
/// Euler update) plus two steps (docs/semantics.md §2.3 and §3.2): the one
/// the toolkit spends applying a reset, and one more held update (the
/// toolkit holds `R` steps after its reset step, the engine `R - 1` after
/// the spike step, in which it resets).
#[test]
fn a_refractory_model_runs_in_the_single_neuron_toolkit() -> R {
    use snn::single::{Model, Variable};
    let (dt, steps) = (0.1, 3000);
    let lif = NeuronModel::new()
        .named("lif")
        .equation("v", "(I - v) / tau")
        .unless_refractory()
        .param("I", 1.5)
        .param("tau", 10.0)
        .threshold("v > 1")
        .reset("v = 0")
        .refractory(2.0)
        .method(Method::Euler);
    let single = lif.to_single(0)?;
    let by_hand = Model::new(vec![Variable::new("v", "(I - v) / tau", 0.0)
        .reset("0")
        .unless_refractory()])
    .param("I", 1.5)
    .param("tau", 10.0)
    .spike_when("v > 1")
    .refractory(2.0)
    .method(snn::single::Method::Euler);
    let (h1, h2) = (
        single.simulation(steps as f64 * dt, dt)?,
        by_hand.simulation(steps as f64 * dt, dt)?,
    );
    assert_eq!(h1.column("v")?, h2.column("v")?);
    assert_eq!(h1.spikes, h2.spikes);
    let network = lif.lower(1, dt, 0)?.simulate(steps, |_, _, _| {})?;
    let step_of = |t: f64| (t / dt).round() as i64;
    let toolkit: Vec<i64> = h1.spikes.iter().map(|&t| step_of(t)).collect();
    let engine: Vec<i64> = network.spikes.iter().map(|&(m, _)| m as i64).collect();
    assert!(toolkit.len() > 10, "{} spikes", toolkit.len());
    for (a, b) in toolkit.windows(2).zip(engine.windows(2)) {
        assert_eq!(
            a[1] - a[0],
            b[1] - b[0] + 2,
            "toolkit {toolkit:?}, engine {engine:?}"
        );
    }
    Ok(())
}

/// `rand()` in an equation is refused, naming the equation; in the
/// threshold it is a draw per neuron and step (tests/plasticity.rs).
#[test]
fn random_draws_in_equations_are_refused() {
    let m = NeuronModel::new()
        .named("noisy")
        .equation("v", "-v / 10 + rand()")
        .threshold("v > 1");
    let e = m.lower(3, 0.1, 0).unwrap_err();
    match e {
        snn::Error::Equation {
            model,
            item,
            problem,
            ..
        } => {
            assert_eq!(model, "noisy");
            assert_eq!(item, "equation dv/dt");
            assert!(problem.contains("threshold and reset"), "{problem}");
        }
        other => panic!("{other:?}"),
    }
}

fn problem_of(e: snn::Result<impl std::fmt::Debug>) -> (String, String) {
    match e {
        Err(Error::Equation { item, problem, .. }) => (item, problem),
        other => panic!("expected an equation error, got {other:?}"),
    }
}

/// White noise `xi` (docs/semantics.md §3.5; the engine's runs:
/// tests/white_noise.rs): what cannot be integrated is an error naming the
/// equation.
#[test]
fn white_noise_errors_name_the_equation() {
    let ou = |rhs: &str| {
        NeuronModel::new()
            .named("ou")
            .equation("v", rhs)
            .param("tau", 10.0)
    };
    // Methods other than euler.
    for method in [Method::Exact, Method::Rk4, Method::ExponentialEuler] {
        let (item, problem) = problem_of(ou("-v / tau + xi").method(method).lower(2, 0.1, 0));
        assert_eq!(item, "equation dv/dt");
        assert!(problem.contains("euler (Euler–Maruyama)"), "{problem}");
    }
    // Multiplicative noise, a noise times a noise, a noise not linear.
    for rhs in ["-v / tau + v * xi", "xi * xi_b", "exp(xi)", "xi ** 2"] {
        let (item, problem) = problem_of(ou(rhs).lower(2, 0.1, 0));
        assert_eq!(item, "equation dv/dt", "{rhs}");
        assert!(
            problem.contains("multiplicative") || problem.contains("not linear"),
            "{rhs}: {problem}"
        );
    }
    // White noise outside the equations.
    let (item, problem) = problem_of(ou("-v / tau").threshold("v + xi > 1").lower(2, 0.1, 0));
    assert_eq!(item, "threshold");
    assert!(problem.contains("white noise"), "{problem}");
    // A parameter named xi is a parameter.
    let lowered = ou("-v / tau + xi")
        .param("xi", 1.0)
        .lower(2, 0.1, 0)
        .unwrap();
    assert!(lowered.noises.is_empty());
    // The single-neuron toolkit does not take it.
    let (_, problem) = problem_of(ou("-v / tau + xi").to_single(0));
    assert!(problem.contains("white noise"), "{problem}");
}

//! Whatever strings a user writes into a model (equations, thresholds,
//! resets, parameters as expressions, synapse statements), the toolkit and
//! the lowering answer with a value or a typed error: never a panic.
//! Thousands of strings per run, seeded: expressions built from the
//! language's grammar, the same with tokens inserted or cut, and token
//! soup (unbalanced brackets, statements where expressions go, unknown
//! names and functions, numbers at the ends of f64, non-ASCII text).
//! The lowering stage (the network's TensorFlow-free half) runs them
//! without TensorFlow; the models that lower are then built into graphs.

use std::panic::{catch_unwind, AssertUnwindSafe};

use snn::equations::{Method, NeuronModel, SynapseModel};
use snn::single::{self, Variable};

#[path = "common/draws.rs"]
mod draws;
use draws::Draws as Rng;

const NAMES: &[&str] = &[
    "v",
    "u",
    "ge",
    "a",
    "b",
    "t",
    "dt",
    "I",
    "w",
    "apre",
    "apost",
    "s",
    "xi",
    "xi_1",
    "lastspike",
    "not_defined",
    "vv",
    "_",
    "e",
    "pi",
    "inf",
    "nan",
    "True",
    "False",
];
const NUMBERS: &[&str] = &[
    "0",
    "1",
    "-1",
    "0.5",
    "2",
    "3.5e2",
    "1e308",
    "1e-320",
    "1e999",
    "-0.0",
    "65",
    ".5",
    "5.",
    "0x10",
    "1_000",
    "1e",
    "1e+",
    "00",
    "9999999999999999999999",
];
const FUNCTIONS: &[&str] = &[
    "exp", "log", "sqrt", "abs", "sin", "cos", "tanh", "clip", "int", "floor", "ceil", "sign",
    "rand", "randn", "exprel", "unknown", "v", "max", "min", "where",
];
const BINARY: &[&str] = &[
    "+", "-", "*", "/", "**", "%", "<", ">", "<=", ">=", "==", "!=", " and ", " or ", "//", "^",
    "&", "|",
];
const SOUP: &[&str] = &[
    "(",
    ")",
    ",",
    "+",
    "-",
    "*",
    "/",
    "**",
    "=",
    "+=",
    "-=",
    "*=",
    "/=",
    "\n",
    ";",
    ":",
    " ",
    "\t",
    "#",
    "'",
    "\"",
    "[",
    "]",
    ".",
    "..",
    "not ",
    "and",
    "or",
    "if",
    "else",
    "é",
    "→",
    "\0",
    "v",
    "u",
    "w",
    "ge",
    "1",
    "0",
    "1e308",
    "nan",
    "rand()",
    "randn()",
    "exp(",
    "clip(",
    "xi",
    "(unless refractory)",
    "\\",
    "$",
    "@",
];

/// An expression from the grammar (numbers, names, calls with zero to
/// three arguments, unary and binary operators, brackets). `valid`: only
/// the model's names, known functions with their arity and arithmetic
/// (a well-formed expression, which may still divide by zero, overflow
/// or be nonlinear where a method needs it linear).
fn expr(r: &mut Rng, depth: usize, valid: bool) -> String {
    let (names, numbers) = match valid {
        true => (
            &["v", "u", "a", "b", "t", "v", "u"][..],
            &["0", "1", "0.5", "2", "65", "1e308", "-0.0"][..],
        ),
        false => (NAMES, NUMBERS),
    };
    if depth == 0 {
        return match r.below(2) {
            0 => r.pick(names).to_string(),
            _ => r.pick(numbers).to_string(),
        };
    }
    match r.below(7) {
        0 => r.pick(names).to_string(),
        1 => r.pick(numbers).to_string(),
        2 if valid => match r.below(4) {
            0 => r.pick(&["rand()", "randn()"]).to_string(),
            1 => format!(
                "clip({}, {}, {})",
                expr(r, depth - 1, valid),
                expr(r, depth - 1, valid),
                expr(r, depth - 1, valid)
            ),
            _ => {
                let f = r.pick(&["exp", "log", "sqrt", "abs", "sin", "tanh"]);
                format!("{f}({})", expr(r, depth - 1, valid))
            }
        },
        2 => {
            let f = r.pick(FUNCTIONS);
            let args: Vec<String> = (0..r.below(4)).map(|_| expr(r, depth - 1, valid)).collect();
            format!("{f}({})", args.join(", "))
        }
        3 => {
            let op = match valid {
                true => "-",
                false => r.pick(&["-", "not ", "+", "--"]),
            };
            format!("{op}{}", expr(r, depth - 1, valid))
        }
        4 => format!("({})", expr(r, depth - 1, valid)),
        _ => {
            let op = match valid {
                true => r.pick(&[" + ", " - ", " * ", " / ", " ** "]),
                false => r.pick(BINARY),
            };
            format!(
                "{}{op}{}",
                expr(r, depth - 1, valid),
                expr(r, depth - 1, valid)
            )
        }
    }
}

/// What a slot holds.
#[derive(Clone, Copy)]
enum Slot {
    Expr,
    Condition,
    Statements,
}

/// Statements (`x = e`, `x += e`, ...), one per line or `;`-joined.
fn statements(r: &mut Rng, valid: bool) -> String {
    let lines: Vec<String> = (0..1 + r.below(3))
        .map(|_| {
            let (target, op) = match valid {
                true => (r.pick(&["v", "u"]), r.pick(&["=", "+=", "-=", "*="])),
                false => (
                    r.pick(NAMES),
                    r.pick(&["=", "+=", "-=", "*=", "/=", "==", ""]),
                ),
            };
            format!("{target} {op} {}", expr(r, 2, valid))
        })
        .collect();
    let sep = match valid {
        true => "\n",
        false => r.pick(&["\n", "; ", "\n\n", " "]),
    };
    lines.join(sep)
}

/// A string for a slot: well-formed (three times in five), a grammar
/// string with tokens inserted or cut (once), or token soup (once).
fn string(r: &mut Rng, slot: Slot) -> String {
    let valid = r.below(10) < 8;
    let base = match slot {
        Slot::Expr => expr(r, 3, valid),
        Slot::Condition => {
            let cmp = r.pick(&[" > ", " < ", " >= ", " == "]);
            format!("{}{cmp}{}", expr(r, 2, valid), expr(r, 2, valid))
        }
        Slot::Statements => statements(r, valid),
    };
    match valid {
        true => base,
        false => garble(r, base),
    }
}

/// `base` with tokens inserted or cut (half the time), or token soup.
fn garble(r: &mut Rng, base: String) -> String {
    match r.below(2) {
        0 => {
            let mut s = base;
            for _ in 0..1 + r.below(3) {
                // A char boundary to cut or insert at.
                let bounds: Vec<usize> =
                    s.char_indices().map(|(i, _)| i).chain([s.len()]).collect();
                let at = bounds[r.below(bounds.len())];
                match r.below(2) {
                    0 => s.insert_str(at, r.pick(SOUP)),
                    _ => {
                        let end = bounds.iter().copied().find(|&b| b > at).unwrap_or(at);
                        s.replace_range(at..end, "");
                    }
                }
            }
            s
        }
        _ => (0..r.below(12)).map(|_| r.pick(SOUP)).collect(),
    }
}

/// Synapse strings: well-formed (three times in five: a trace's decay,
/// `on_pre`/`on_post` updating a trace and `w`, or an `on_pre` adding a
/// multiple of `w` to the target's variable) or garbled.
fn synaptic(r: &mut Rng, what: &str) -> String {
    let e = expr(r, 1, true);
    let base = match what {
        "trace" => r
            .pick(&["-apre / taupre", "-apre", "apre * v", "0"])
            .to_string(),
        "on_pre" => format!("apre += {e}\nw = clip(w + apost * {e}, 0, 1)"),
        "on_post" => format!("apost += {e}; w = clip(w + apre, 0, 1)"),
        _ => format!("{} += ({e}) * w", r.pick(&["v", "u"])),
    };
    match r.below(10) < 8 {
        true => base,
        false => garble(r, base),
    }
}

/// A network model whose strings come from [`string`], with any method,
/// sometimes refractory (periods -1 to 2 ms), a subexpression and an
/// initial value as an expression.
fn neuron_model(r: &mut Rng) -> NeuronModel {
    let method = [
        Method::Euler,
        Method::Rk4,
        Method::ExponentialEuler,
        Method::Exact,
    ][r.below(4)];
    let mut model = NeuronModel::new()
        .equation("v", string(r, Slot::Expr))
        .equation("u", string(r, Slot::Expr))
        .param("a", 0.02)
        .param("b", string(r, Slot::Expr))
        .threshold(string(r, Slot::Condition))
        .reset(string(r, Slot::Statements))
        .method(method);
    if r.below(2) == 0 {
        model = model
            .unless_refractory()
            .refractory(r.below(4) as f64 - 1.0);
    }
    if r.below(3) == 0 {
        model = model.subexpression("s", string(r, Slot::Expr));
    }
    if r.below(3) == 0 {
        model = model.init("v", string(r, Slot::Expr));
    }
    model
}

/// How far a case got: each stage that built (or ran) without an error.
#[derive(Default, Debug)]
struct Reached {
    lowered: usize,
    simulated: usize,
    on_pre: usize,
    synapses: usize,
    to_single: usize,
    toolkit: usize,
    plotted: usize,
}

/// One case: a network model, its `on_pre`, a synapse model on it, the
/// model handed to the toolkit, and a toolkit model of its own, each
/// built and (when they build) stepped a little.
fn case(r: &mut Rng, reached: &mut Reached) {
    let model = neuron_model(r);
    if let Ok(lowered) = model.lower(3, 0.1, 7) {
        reached.lowered += 1;
        if lowered.simulate(20, |_, _, out| out.fill(1.0)).is_ok() {
            reached.simulated += 1;
        }
        if lowered.on_pre(&synaptic(r, "target")).is_ok() {
            reached.on_pre += 1;
        }
        let syn = SynapseModel::new()
            .trace("apre", synaptic(r, "trace"))
            .trace("apost", "-apost / taupre")
            .param("taupre", 20.0)
            .on_pre(synaptic(r, "on_pre"))
            .on_post(synaptic(r, "on_post"));
        if syn.lower(Some(&lowered), 0.1).is_ok() {
            reached.synapses += 1;
        }
    }
    if let Ok(m) = model.to_single(3) {
        if m.simulation(2.0, 0.1).is_ok() {
            reached.to_single += 1;
        }
    }
    let toolkit = single::Model::new(vec![
        Variable::new("v", string(r, Slot::Expr), -65.0).reset(string(r, Slot::Expr)),
        Variable::new("u", string(r, Slot::Expr), 1.0),
    ])
    .param("a", 0.02)
    .param("b", string(r, Slot::Expr))
    .spike_when(string(r, Slot::Condition))
    .method([single::Method::Euler, single::Method::Rk4][r.below(2)]);
    if let Ok(history) = toolkit.simulation(2.0, 0.1) {
        reached.toolkit += 1;
        // Its plots and phase plane, one case in fifty (plotting is slow):
        // results or errors, no panic and no hang.
        if r.below(50) == 0 {
            reached.plotted += 1;
            let dir = std::env::temp_dir().join(format!("snn-strings-{}", std::process::id()));
            let _ =
                single::plot::time_plot(&toolkit, &history, &["v", "u"], true, dir.join("t.png"));
            let _ = single::plot::phase_portrait(&toolkit, &history, "v", "u", dir.join("p.png"));
            let spec = single::PhasePlane::new(("v", -80.0, 40.0), ("u", -20.0, 20.0));
            if let Ok(data) = toolkit.phase_plane(&spec) {
                let _ = single::plot::phase_plane(&toolkit, &data, dir.join("pp.png"));
            }
            let _ = std::fs::remove_dir_all(&dir);
        }
    }
}

/// `SNN_STRING_CASES` in the environment, or `default`.
fn cases(default: u64) -> u64 {
    std::env::var("SNN_STRING_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Case `k`'s generator.
fn rng(k: u64) -> Rng {
    Rng(0x9E37_79B9_7F4A_7C15 ^ (k + 1).wrapping_mul(0xD1B5_4A32_D192_ED03))
}

/// Runs `f` on cases `0..n`, the panic hook silenced (the default one
/// would print each panic); the cases that panicked.
fn panicking(n: u64, mut f: impl FnMut(&mut Rng)) -> Vec<u64> {
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let failures = (0..n)
        .filter(|&k| catch_unwind(AssertUnwindSafe(|| f(&mut rng(k)))).is_err())
        .collect();
    std::panic::set_hook(hook);
    failures
}

/// 20 000 cases (about a second; `SNN_STRING_CASES` for more). The stages must be reached often enough for the
/// test to mean something: a generator that only made parse errors would
/// pass vacuously.
#[test]
fn no_string_makes_a_panic() {
    let n = cases(20_000);
    let mut reached = Reached::default();
    let failures = panicking(n, |r| case(r, &mut reached));
    assert!(failures.is_empty(), "cases that panicked: {failures:?}");
    let at_least = |count: usize, share: f64| count as f64 >= share * n as f64;
    assert!(
        at_least(reached.lowered, 0.03)
            && at_least(reached.simulated, 0.03)
            && at_least(reached.on_pre, 0.02)
            && at_least(reached.synapses, 0.002)
            && at_least(reached.to_single, 0.01)
            && at_least(reached.toolkit, 0.1),
        "too few cases got far: {reached:?} of {n}"
    );
}

/// The models that lower are built into TensorFlow graphs and stepped
/// (a nucleus of three, a connection onto itself with an `on_pre` from
/// [`synaptic`]): our typed errors are fine (a diverging state, say),
/// panics, aborts and TensorFlow's own errors are not (a model the
/// lowering accepts must make a valid graph: a threshold reading only `t`
/// once made a `Reshape` TensorFlow refused).
#[cfg(feature = "network")]
#[test]
fn no_model_string_makes_the_network_panic() {
    use snn::network::{Connection, Network, Nucleus, SimOptions};
    let (mut built, mut ran) = (0, 0);
    let mut tf_errors = Vec::new();
    let failures = panicking(cases(4000), |r| {
        let model = neuron_model(r);
        if model.lower(3, 0.1, 7).is_err() {
            return;
        }
        let mut net = Network::new().seed(3);
        let Ok(p) = net.add(Nucleus::with_model("P", 3, model)) else {
            return;
        };
        let c = Connection::new(p, p, 0.5).on_pre(synaptic(r, "target"));
        if net.connect_with(c).is_err() {
            return;
        }
        let options = SimOptions::default().quiet().tensorboard(None);
        let result = net.build_with(0.1, options).and_then(|mut sim| {
            built += 1;
            sim.run(1.0)
        });
        match result {
            Ok(_) => ran += 1,
            Err(e @ snn::Error::TensorFlow { .. }) => tf_errors.push(e.to_string()),
            Err(_) => {}
        }
    });
    assert!(failures.is_empty(), "cases that panicked: {failures:?}");
    assert!(tf_errors.is_empty(), "TensorFlow refused: {tf_errors:#?}");
    assert!(
        built >= 40 && ran >= 20,
        "too few networks: {built} built, {ran} ran"
    );
}

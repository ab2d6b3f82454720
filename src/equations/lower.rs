//! Lowering a [`NeuronModel`] for `n` neurons and a time step: every string
//! parsed and its names checked, subexpressions inlined, parameters and
//! initial values evaluated per neuron (numbers that are the same for every
//! neuron folded into the expressions), the method's step written out as
//! bindings ([`super::methods`]), the reset statements parsed and the
//! refractory period turned into steps.

use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal};

use super::algebra::{linear_in, reads_any, replace};
use super::{methods, NeuronModel, Value};
use crate::error::{Error, Result};
use crate::single::expr::{self, BinOp, Expr, Noise, Program};

/// A model lowered for `n` neurons and time step `dt`. Expressions read the
/// state variables, pulse inputs, per-neuron parameters, `t` (the time at
/// the start of the step, ms) and `__active` (1 for a neuron that is not
/// refractory during this update, else 0); numbers the same for every
/// neuron are folded in.
#[derive(Debug, Clone, PartialEq)]
pub struct Lowered {
    /// The model's name.
    pub model: String,
    /// Neurons.
    pub n: usize,
    /// Time step (ms).
    pub dt: f64,
    /// State variables: those with equations in order, then the others.
    pub state: Vec<String>,
    /// Pulse inputs.
    pub pulses: Vec<String>,
    /// Parameters that differ between neurons, `n` values each.
    pub params: Vec<(String, Vec<f64>)>,
    /// Initial value of each state variable per neuron.
    pub init: Vec<Vec<f64>>,
    /// One step of the method: `name = expr` in order, each reading the
    /// state at the start of the step and the bindings before it.
    pub bindings: Vec<(String, Expr)>,
    /// Per state variable, the binding holding its new value (`None`: it
    /// has no equation and keeps its value).
    pub next: Vec<Option<String>>,
    /// The spike condition, on the new state.
    pub threshold: Expr,
    /// Reset statements in order, as `state[i] = expr` on the state as the
    /// statements before left it.
    pub reset: Vec<(usize, Expr)>,
    /// The refractory period in whole steps, one value or one per neuron
    /// (`None`: no refractoriness).
    pub refractory: Option<Vec<u64>>,
    /// Per state variable, whether it is *unless refractory*: held, and
    /// read-only to synapses and Poisson inputs, while refractory.
    pub held: Vec<bool>,
    /// Subexpressions, inlined, for `on_pre` statements.
    pub(crate) subexpressions: Vec<(String, Expr)>,
    /// Parameters the same for every neuron.
    pub(crate) uniform: Vec<(String, f64)>,
    /// The key of the `rand()`/`randn()` draws of the threshold and reset
    /// in the network engine (one stream per nucleus, derived from the
    /// seed its parameters and initial values are drawn from).
    pub(crate) draw_seed: u64,
    /// Poisson inputs, applied with the synapses (after the `on_pre`
    /// increments, before the reset).
    pub poisson_inputs: Vec<PoissonInput>,
    /// The white noises (`xi`, `xi_<name>`) the equations read, in order of
    /// first use: each is one standard normal draw per neuron and step,
    /// bound before the method's other bindings.
    pub noises: Vec<String>,
}

/// A Poisson input lowered for a time step: in every step each neuron's
/// `target` grows by `weight · k`, `k ~ Binomial(n, p)`, drawn by inverting
/// the table `cdf` with one uniform draw.
#[derive(Debug, Clone, PartialEq)]
pub struct PoissonInput {
    /// The variable (state or pulse input) it adds to.
    pub target: String,
    /// Sources.
    pub n: u64,
    /// Each source's probability of an event in one step (`rate · dt`).
    pub p: f64,
    /// What each event adds.
    pub weight: f64,
    /// `P(k' <= k)` for `k = 0, 1, ...` up to where the tail is below
    /// 1e-18 (the last entry is 1): a draw is the number of entries at or
    /// below a uniform draw on [0, 1).
    pub cdf: Vec<f64>,
}

/// An `on_pre` statement lowered against its postsynaptic model: each
/// arriving spike adds `coefficient · w` to `target` (a state variable or
/// pulse input); `coefficient` may read the postsynaptic state.
#[derive(Debug, Clone, PartialEq)]
pub struct OnPre {
    /// The variable the statement changes.
    pub target: String,
    /// `∂(increment)/∂w`.
    pub coefficient: Expr,
}

impl Lowered {
    /// The refractory period of neuron `i` in steps, if the model has one.
    pub fn refractory_steps(&self, i: usize) -> Option<u64> {
        let r = self.refractory.as_ref()?;
        Some(if r.len() == 1 { r[0] } else { r[i] })
    }

    /// Lower an `on_pre` statement `x += expr` (or `-=`) whose increment is
    /// linear in the weight `w` (proportional to it: no term without `w`),
    /// with `x` a state variable or pulse input of this model.
    pub fn on_pre(&self, statement: &str) -> Result<OnPre> {
        let ctx = Ctx { model: &self.model };
        let item = "on_pre";
        let (target, op, rhs_at) = split_statement(statement).ok_or_else(|| {
            ctx.err(
                item,
                statement,
                None,
                "write `x += expr` with expr linear in w",
            )
        })?;
        let sign = match op {
            "+=" => 1.0,
            "-=" => -1.0,
            _ => {
                return Err(ctx.err(
                    item,
                    statement,
                    Some(rhs_at.saturating_sub(2)),
                    "an on_pre statement adds to its variable: use += or -=",
                ))
            }
        };
        if !self.state.contains(&target) && !self.pulses.contains(&target) {
            let mut known = self.state.clone();
            known.extend(self.pulses.iter().cloned());
            return Err(ctx.err(
                item,
                statement,
                Some(statement.find(&target).unwrap_or(0)),
                &not_a_variable(&target, &known),
            ));
        }
        let rhs_text = &statement[rhs_at..];
        if self.known_names().iter().any(|k| k == "w") {
            return Err(ctx.err(
                item,
                statement,
                None,
                "in on_pre statements w is the weight; the model defines a w of its own: rename it",
            ));
        }
        let mut known = self.known_names();
        known.push("w".into());
        let e = ctx.parse(item, statement, rhs_text, rhs_at, &known)?;
        let e = self.fold_in(&e);
        let (a, _) = linear_in(&e, "w")
            .filter(|(a, b)| !reads_any(a, &["w"]) && matches!(b, Expr::Num(z) if *z == 0.0))
            .ok_or_else(|| {
                ctx.err(
                    item,
                    statement,
                    Some(rhs_at),
                    "the increment must be linear in the weight w (a coefficient times w)",
                )
            })?;
        Ok(OnPre {
            target,
            coefficient: super::algebra::mul(Expr::Num(sign), a),
        })
    }

    /// Names expressions of this model may read.
    fn known_names(&self) -> Vec<String> {
        let mut known: Vec<String> = self.state.clone();
        known.extend(self.pulses.iter().cloned());
        known.extend(self.params.iter().map(|(p, _)| p.clone()));
        known.extend(self.uniform.iter().map(|(p, _)| p.clone()));
        known.extend(self.subexpressions.iter().map(|(s, _)| s.clone()));
        known.extend(["t".to_string(), "dt".to_string()]);
        known
    }

    /// `e` with subexpressions inlined and uniform parameters and `dt`
    /// folded in.
    fn fold_in(&self, e: &Expr) -> Expr {
        let e = replace(e, &|n| {
            self.subexpressions
                .iter()
                .find(|(s, _)| s == n)
                .map(|(_, x)| x.clone())
        });
        fold_numbers(&e, &self.uniform, self.dt)
    }
}

/// Uniform parameters and `dt` replaced by their values, and folded.
fn fold_numbers(e: &Expr, uniform: &[(String, f64)], dt: f64) -> Expr {
    let e = expr::substitute(e, &|n| match n {
        "dt" => Some(dt),
        _ => uniform.iter().find(|(p, _)| p == n).map(|(_, v)| *v),
    });
    expr::fold(&e)
}

/// Errors about one model.
pub(crate) struct Ctx<'a> {
    pub model: &'a str,
}

impl Ctx<'_> {
    pub(crate) fn err(&self, item: &str, text: &str, pos: Option<usize>, problem: &str) -> Error {
        Error::Equation {
            model: self.model.to_string(),
            item: item.to_string(),
            text: text.to_string(),
            pos,
            problem: problem.to_string(),
        }
    }

    /// Parse `src`, which sits at byte `at` of `text` (the item as the user
    /// wrote it), and check its names against `known` and its functions.
    pub(crate) fn parse(
        &self,
        item: &str,
        text: &str,
        src: &str,
        at: usize,
        known: &[String],
    ) -> Result<Expr> {
        let e = expr::parse(src).map_err(|err| match err {
            Error::Syntax { pos, message, .. } => self.err(item, text, Some(at + pos), &message),
            other => other,
        })?;
        // Compiling against every known name checks names, functions and
        // their arity with the toolkit's own messages.
        let resolve = |n: &str| known.iter().any(|k| k == n).then_some(0);
        expr::compile(&e, src, &resolve, known).map_err(|err| match err {
            Error::UnknownName {
                name, suggestion, ..
            } => {
                let pos = word_at(src, name.trim_end_matches("()")).map(|p| at + p);
                if is_white_noise(&name) {
                    return self.err(
                        item,
                        text,
                        pos,
                        &format!(
                            "{name} is white noise, which only differential equations read \
                             (their right-hand sides)"
                        ),
                    );
                }
                let hint = suggestion
                    .map(|s| format!(" (did you mean {s:?}?)"))
                    .unwrap_or_default();
                self.err(item, text, pos, &format!("unknown name {name:?}{hint}"))
            }
            Error::Arity {
                function,
                expected,
                got,
                ..
            } => self.err(
                item,
                text,
                word_at(src, &function).map(|p| at + p),
                &format!("{function}() takes {expected} argument(s), {got} given"),
            ),
            other => other,
        })?;
        Ok(e)
    }
}

/// Brian2's names of white noise: `xi` and `xi_<anything>`.
pub(crate) fn is_white_noise(name: &str) -> bool {
    name == "xi" || (name.starts_with("xi_") && name.len() > 3)
}

/// The byte offset of `word` as a whole identifier in `src`.
fn word_at(src: &str, word: &str) -> Option<usize> {
    let ident = |c: char| c.is_alphanumeric() || c == '_';
    src.match_indices(word).map(|(i, _)| i).find(|&i| {
        let before = src[..i].chars().next_back().is_none_or(|c| !ident(c));
        let after = src[i + word.len()..]
            .chars()
            .next()
            .is_none_or(|c| !ident(c));
        before && after
    })
}

fn not_a_variable(name: &str, known: &[String]) -> String {
    let hint = expr::closest(name, known)
        .map(|s| format!(" (did you mean {s:?}?)"))
        .unwrap_or_default();
    format!("{name:?} is not a state variable of the model{hint}")
}

/// `x op= expr` or `x = expr`: the target, the operator and where the
/// expression starts.
pub(crate) fn split_statement(s: &str) -> Option<(String, &'static str, usize)> {
    let bytes = s.as_bytes();
    // Char boundaries only: a statement may hold any text.
    let (at, op) = s.char_indices().map(|(i, _)| i).find_map(|i| {
        for op in ["+=", "-=", "*=", "/="] {
            if s[i..].starts_with(op) {
                return Some((i, op));
            }
        }
        let prev = i.checked_sub(1).map(|j| bytes[j]);
        let next = bytes.get(i + 1).copied();
        (bytes[i] == b'=' && next != Some(b'=') && !matches!(prev, Some(b'=' | b'<' | b'>' | b'!')))
            .then_some((i, "="))
    })?;
    let target = s[..at].trim();
    let is_ident = !target.is_empty()
        && target.chars().all(|c| c.is_alphanumeric() || c == '_')
        && !target.starts_with(|c: char| c.is_ascii_digit());
    is_ident.then(|| (target.to_string(), op, at + op.len()))
}

/// Whether `e` is a condition (a comparison, or `not`/`and`/`or` of
/// conditions).
fn is_condition(e: &Expr) -> bool {
    match e {
        Expr::Compare(..) => true,
        Expr::Not(x) => is_condition(x),
        Expr::Bin(BinOp::And | BinOp::Or, a, b) => is_condition(a) && is_condition(b),
        _ => false,
    }
}

/// `rand()` and `randn()` of parameters and initial values (and of
/// [`Lowered::simulate`]'s steps).
pub(crate) struct Draws(pub(crate) rand::rngs::StdRng);

impl Noise for Draws {
    fn uniform(&mut self) -> f64 {
        use rand::Rng;
        self.0.random::<f64>()
    }
    fn normal(&mut self) -> f64 {
        StandardNormal.sample(&mut self.0)
    }
}

/// Per-neuron values of parameters and initial values, as they are
/// evaluated.
struct Values {
    names: Vec<String>,
    /// `n` values, or one.
    values: Vec<Vec<f64>>,
}

impl Values {
    /// Evaluate `value` (of `what`, an item name) for `n` neurons.
    #[allow(clippy::too_many_arguments)]
    fn evaluate(
        &self,
        ctx: &Ctx,
        item: &str,
        value: &Value,
        n: usize,
        draws: &mut Draws,
    ) -> Result<Vec<f64>> {
        let values = match value {
            Value::Number(x) => vec![*x],
            Value::PerNeuron(v) if v.len() == n => v.clone(),
            Value::PerNeuron(v) => {
                return Err(ctx.err(
                    item,
                    &format!("{} values", v.len()),
                    None,
                    &format!("one value per neuron: the nucleus has {n} neurons"),
                ))
            }
            Value::Expr(src) => {
                let e = ctx.parse(item, src, src, 0, &self.names)?;
                let resolve = |name: &str| self.names.iter().position(|k| k == name);
                let program: Program = expr::compile(&e, src, &resolve, &self.names)?;
                let mut slots = vec![0.0; self.names.len().max(program.min_slots)];
                let mut stack = vec![0.0; program.max_stack];
                (0..n)
                    .map(|i| {
                        for (slot, v) in slots.iter_mut().zip(&self.values) {
                            *slot = if v.len() == 1 { v[0] } else { v[i] };
                        }
                        program.eval(&mut slots, &mut stack, draws)
                    })
                    .collect()
            }
        };
        if let Some((i, x)) = values.iter().enumerate().find(|(_, x)| !x.is_finite()) {
            let text = match value {
                Value::Expr(src) => src.clone(),
                _ => format!("{value:?}"),
            };
            return Err(ctx.err(item, &text, None, &format!("gives {x} for neuron {i}")));
        }
        Ok(values)
    }
}

pub(crate) fn lower(model: &NeuronModel, n: usize, dt: f64, seed: u64) -> Result<Lowered> {
    let ctx = Ctx { model: &model.name };
    if !(dt.is_finite() && dt > 0.0) {
        return Err(Error::InvalidDt { dt });
    }
    if model.pulses.len() > 1 {
        return Err(ctx.err(
            "pulse inputs",
            &model.pulses.join(", "),
            None,
            "a model has at most one pulse input (the external input and the connections \
             without on_pre add up in it)",
        ));
    }
    let mut state: Vec<String> = model.equations.iter().map(|e| e.var.clone()).collect();
    state.extend(model.variables.iter().cloned());
    // Every name is defined once.
    let mut defined: Vec<String> = Vec::new();
    let all = state
        .iter()
        .chain(&model.pulses)
        .chain(model.params.iter().map(|(p, _)| p))
        .chain(model.subexpressions.iter().map(|(s, _)| s));
    for name in all {
        if defined.contains(name) || matches!(name.as_str(), "t" | "dt") {
            return Err(ctx.err(
                "definitions",
                name,
                None,
                "defined twice (or a reserved name: t, dt)",
            ));
        }
        defined.push(name.clone());
    }
    // Parameters, in order; each may read the ones before.
    let mut draws = Draws(rand::rngs::StdRng::seed_from_u64(seed));
    let mut values = Values {
        names: Vec::new(),
        values: Vec::new(),
    };
    for (name, value) in &model.params {
        let v = values.evaluate(&ctx, &format!("parameter {name}"), value, n, &mut draws)?;
        values.names.push(name.clone());
        values.values.push(v);
    }
    let uniform: Vec<(String, f64)> = values
        .names
        .iter()
        .zip(&values.values)
        .filter(|(_, v)| v.len() == 1)
        .map(|(p, v)| (p.clone(), v[0]))
        .collect();
    let params: Vec<(String, Vec<f64>)> = values
        .names
        .iter()
        .zip(&values.values)
        .filter(|(_, v)| v.len() > 1)
        .map(|(p, v)| (p.clone(), v.clone()))
        .collect();
    // Initial values read the parameters.
    let mut init = Vec::with_capacity(state.len());
    for var in &state {
        let value = model
            .inits
            .iter()
            .find(|(v, _)| v == var)
            .map(|(_, x)| x.clone())
            .unwrap_or(Value::Number(0.0));
        let v = values.evaluate(
            &ctx,
            &format!("initial value of {var}"),
            &value,
            n,
            &mut draws,
        )?;
        init.push(if v.len() == 1 { vec![v[0]; n] } else { v });
    }
    if let Some((var, _)) = model.inits.iter().find(|(v, _)| !state.contains(v)) {
        return Err(ctx.err("init", var, None, &not_a_variable(var, &state)));
    }
    let mut known: Vec<String> = defined.clone();
    known.extend(["t".to_string(), "dt".to_string()]);
    // Subexpressions, inlined into each other (a cycle is an error).
    let mut subs: Vec<(String, Expr)> = Vec::new();
    for (name, src) in &model.subexpressions {
        let e = ctx.parse(&format!("subexpression {name}"), src, src, 0, &known)?;
        subs.push((name.clone(), e));
    }
    for _ in 0..=subs.len() {
        let snapshot = subs.clone();
        for (_, e) in subs.iter_mut() {
            *e = replace(e, &|n| {
                snapshot
                    .iter()
                    .find(|(s, _)| s == n)
                    .map(|(_, x)| x.clone())
            });
        }
    }
    let sub_names: Vec<&str> = subs.iter().map(|(s, _)| s.as_str()).collect();
    if let Some((name, _)) = subs.iter().find(|(_, e)| reads_any(e, &sub_names)) {
        return Err(ctx.err(
            &format!("subexpression {name}"),
            name,
            None,
            "defined in terms of itself",
        ));
    }
    let mut lowered = Lowered {
        model: model.name.clone(),
        n,
        dt,
        state: state.clone(),
        pulses: model.pulses.clone(),
        params,
        init,
        bindings: Vec::new(),
        next: Vec::new(),
        threshold: Expr::Num(0.0),
        reset: Vec::new(),
        refractory: None,
        held: state
            .iter()
            .map(|x| {
                model
                    .equations
                    .iter()
                    .any(|e| e.var == *x && e.unless_refractory)
            })
            .collect(),
        subexpressions: subs,
        uniform,
        draw_seed: seed.rotate_left(32) ^ 0xD1CE_5EED_0000_0001,
        noises: Vec::new(),
        poisson_inputs: Vec::new(),
    };
    lowered.noises = white_noises(model, &known);
    let rhs = right_hand_sides(&ctx, model, &lowered, &known)?;
    let step = methods::lower_method(&ctx, model, &lowered, &rhs)?;
    lowered.bindings = step.bindings;
    lowered.next = step.next;
    lowered.params.extend(step.params);
    // Threshold, reset, refractory period.
    lowered.threshold = threshold(&ctx, model, &lowered, &known)?;
    if let Some(text) = &model.reset {
        lowered.reset = reset_statements(&ctx, text, &lowered, &known)?;
    }
    lowered.poisson_inputs = poisson_inputs(&ctx, model, &state, dt)?;
    if let Some(value) = &model.refractory {
        let ms = values.evaluate(&ctx, "refractory period", value, n, &mut draws)?;
        if let Some(bad) = ms.iter().find(|&&x| x < 0.0) {
            return Err(ctx.err(
                "refractory period",
                &format!("{bad} ms"),
                None,
                "a refractory period is a time >= 0 ms",
            ));
        }
        // Refractory while t < t_spike + refractory: whole steps, rounded up.
        let steps = ms
            .iter()
            .map(|&x| (x / dt - 1e-9).ceil().max(0.0) as u64)
            .collect();
        lowered.refractory = Some(steps);
    }
    Ok(lowered)
}

/// The spike condition, folded (`1 < 0` without one: never).
fn threshold(ctx: &Ctx, model: &NeuronModel, lowered: &Lowered, known: &[String]) -> Result<Expr> {
    Ok(match model.threshold.as_deref() {
        // No threshold: the neurons never spike.
        None => Expr::Compare(
            Box::new(Expr::Num(1.0)),
            vec![(crate::single::expr::CmpOp::Lt, Expr::Num(0.0))],
        ),
        Some(threshold) => {
            let e = ctx.parse("threshold", threshold, threshold, 0, known)?;
            if !is_condition(&e) {
                return Err(ctx.err(
                    "threshold",
                    threshold,
                    Some(0),
                    "a threshold is a condition (a comparison such as v > Vt, or and/or/not of them)",
                ));
            }
            lowered.fold_in(&e)
        }
    })
}

/// The white noises (`xi`, `xi_<name>`) model's equations read, in order of
/// first use: names of their own unless the model defines them (`known`).
fn white_noises(model: &NeuronModel, known: &[String]) -> Vec<String> {
    let mut noises: Vec<String> = Vec::new();
    for eq in &model.equations {
        let mut read = Vec::new();
        if let Ok(e) = expr::parse(&eq.rhs) {
            expr::names(&e, &mut read);
        }
        for n in read {
            if is_white_noise(&n) && !known.contains(&n) && !noises.contains(&n) {
                noises.push(n);
            }
        }
    }
    noises
}

/// The equations' right-hand sides, parsed against `known` and the white
/// noises, inlined and folded; `rand()`/`randn()` are refused there.
fn right_hand_sides(
    ctx: &Ctx,
    model: &NeuronModel,
    lowered: &Lowered,
    known: &[String],
) -> Result<Vec<Expr>> {
    let mut known = known.to_vec();
    known.extend(lowered.noises.iter().cloned());
    let mut rhs = Vec::with_capacity(model.equations.len());
    for eq in &model.equations {
        let item = format!("equation d{}/dt", eq.var);
        let e = ctx.parse(&item, &eq.rhs, &eq.rhs, 0, &known)?;
        let e = lowered.fold_in(&e);
        if super::algebra::draws(&e) {
            return Err(ctx.err(
                &item,
                &eq.rhs,
                None,
                "random draws (rand(), randn()) are taken in the threshold and reset, not in \
                 equations (white noise in an equation is written xi, as in Brian2)",
            ));
        }
        rhs.push(e);
    }
    Ok(rhs)
}

/// The model's Poisson inputs for time step `dt`, checked (a target among
/// `state` and the pulse inputs, 1 to 2^24 sources, a rate below one event
/// per step and source, a finite weight), with their binomial tables.
fn poisson_inputs(
    ctx: &Ctx,
    model: &NeuronModel,
    state: &[String],
    dt: f64,
) -> Result<Vec<PoissonInput>> {
    let targets: Vec<String> = state.iter().chain(&model.pulses).cloned().collect();
    let mut inputs = Vec::with_capacity(model.poisson_inputs.len());
    for (target, sources, rate, weight) in &model.poisson_inputs {
        let p = rate * dt / 1000.0;
        let problem = if !targets.contains(target) {
            Some(not_a_variable(target, &targets))
        } else if *sources == 0 || *sources > 1 << 24 {
            Some("a Poisson input has 1 to 2^24 sources".to_string())
        } else if !(rate.is_finite() && *rate >= 0.0) {
            Some("a rate is a number of Hz >= 0".to_string())
        } else if p >= 1.0 {
            Some(format!(
                "rate · dt is {p} events per step per source, not below 1"
            ))
        } else if !weight.is_finite() {
            Some("a weight is a finite number".to_string())
        } else {
            None
        };
        if let Some(problem) = problem {
            let text = format!("{target}, {sources} sources at {rate} Hz, weight {weight}");
            return Err(ctx.err("Poisson input", &text, None, &problem));
        }
        inputs.push(PoissonInput {
            target: target.clone(),
            n: *sources,
            p,
            weight: *weight,
            cdf: super::binomial::cdf_table(*sources, p),
        });
    }
    Ok(inputs)
}

/// The reset statements `x = e`, `x += e`, `x -= e`, `x *= e` (separated by
/// `;` or new lines) as `state[i] = expr`.
fn reset_statements(
    ctx: &Ctx,
    text: &str,
    lowered: &Lowered,
    known: &[String],
) -> Result<Vec<(usize, Expr)>> {
    let mut out = Vec::new();
    let mut start = 0;
    for piece in text.split([';', '\n']) {
        let at = start;
        start += piece.len() + 1;
        if piece.trim().is_empty() {
            continue;
        }
        let Some((target, op, rhs_at)) = split_statement(piece) else {
            return Err(ctx.err(
                "reset",
                text,
                Some(at),
                "a reset statement is `x = expr` (or +=, -=, *=) with x a state variable",
            ));
        };
        let Some(i) = lowered.state.iter().position(|v| *v == target) else {
            let pos = at + piece.find(&target).unwrap_or(0);
            return Err(ctx.err(
                "reset",
                text,
                Some(pos),
                &not_a_variable(&target, &lowered.state),
            ));
        };
        let e = ctx.parse("reset", text, &piece[rhs_at..], at + rhs_at, known)?;
        let e = lowered.fold_in(&e);
        let x = Expr::Name(target.clone());
        let value = match op {
            "=" => e,
            "+=" => super::algebra::add(x, e),
            "-=" => super::algebra::sub(x, e),
            "*=" => super::algebra::mul(x, e),
            _ => super::algebra::div(x, e),
        };
        out.push((i, value));
    }
    Ok(out)
}

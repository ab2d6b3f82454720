//! A network's neuron model handed to the single-neuron toolkit, to
//! simulate one neuron and draw its phase plane.

use super::lower::split_statement;
use super::{Method, NeuronModel, Value};
use crate::error::{Error, Result};
use crate::single;

impl NeuronModel {
    /// The model as a [`single::Model`] of one neuron: the same equations,
    /// parameters (numbers; per-neuron values and expressions drawn for
    /// neuron 0 from `seed`), subexpressions (as expression parameters),
    /// initial values, threshold (the spike condition) and reset (one
    /// expression per variable), pulse inputs as parameters at 0. The
    /// single-neuron toolkit's own rules then apply (docs/semantics.md §2:
    /// Euler or RK4 — `exact` and `exponential_euler` become RK4 —, spikes
    /// as rising edges of the condition, resets evaluated together on the
    /// state before them; a refractory period holds the `unless refractory`
    /// variables for that many steps after the reset step).
    ///
    /// A refractory period given per neuron or as an expression, a reset
    /// that assigns one variable twice or reads a variable an earlier
    /// statement reset, and white noise (`xi`) in an equation are
    /// [`Error::Equation`].
    pub fn to_single(&self, seed: u64) -> Result<single::Model> {
        let err = |item: &str, text: &str, problem: &str| Error::Equation {
            model: self.name.clone(),
            item: item.into(),
            text: text.into(),
            pos: None,
            problem: problem.into(),
        };
        let refractory = match &self.refractory {
            None => None,
            Some(Value::Number(r)) => Some(*r),
            Some(r) => {
                return Err(err(
                    "refractory period",
                    &format!("{r:?}"),
                    "the single-neuron toolkit takes one refractory period, a number",
                ))
            }
        };
        let lowered = self.lower(1, 0.1, seed)?;
        if let Some(xi) = lowered.noises.first() {
            return Err(err(
                "equations",
                xi,
                "white noise (xi) is not handed to the single-neuron toolkit: its simulate \
                 draws randn() once per step, so the noise would not scale with sqrt(dt)",
            ));
        }
        let mut variables: Vec<single::Variable> = Vec::new();
        for (k, var) in lowered.state.iter().enumerate() {
            let rhs = self
                .equations
                .iter()
                .find(|e| e.var == *var)
                .map_or("0".to_string(), |e| e.rhs.clone());
            let mut v = single::Variable::new(var, rhs, lowered.init[k][0]);
            if self
                .equations
                .iter()
                .any(|e| e.var == *var && e.unless_refractory)
            {
                v = v.unless_refractory();
            }
            variables.push(v);
        }
        // Resets, one expression per variable, on the state before them.
        if let Some(text) = &self.reset {
            let mut done: Vec<String> = Vec::new();
            for piece in text.split([';', '\n']).filter(|p| !p.trim().is_empty()) {
                let (target, op, rhs_at) = split_statement(piece)
                    .ok_or_else(|| err("reset", text, "a reset statement is `x = expr`"))?;
                let rhs = &piece[rhs_at..];
                let reads_done = done.iter().any(|d| {
                    let mut names = Vec::new();
                    if let Ok(e) = crate::single::expr::parse(rhs) {
                        crate::single::expr::names(&e, &mut names);
                    }
                    names.contains(d) || (op != "=" && *d == target)
                });
                if done.contains(&target) || reads_done {
                    return Err(err(
                        "reset",
                        text,
                        "the single-neuron toolkit resets all variables at once; \
                         this reset depends on its own order",
                    ));
                }
                let expr = match op {
                    "=" => rhs.trim().to_string(),
                    op => format!("{target} {} ({})", &op[..1], rhs.trim()),
                };
                let k = lowered
                    .state
                    .iter()
                    .position(|v| *v == target)
                    .ok_or_else(|| {
                        err(
                            "reset",
                            text,
                            &format!("{target:?} is not a state variable of the model"),
                        )
                    })?;
                variables[k] = variables[k].clone().reset(expr);
                done.push(target);
            }
        }
        let mut model = single::Model::new(variables).seed(seed);
        if let Some(r) = refractory {
            model = model.refractory(r);
        }
        for (name, value) in &self.params {
            let v = match value {
                Value::Number(x) => *x,
                _ => lowered
                    .uniform
                    .iter()
                    .find(|(p, _)| p == name)
                    .map(|(_, x)| *x)
                    .or_else(|| {
                        lowered
                            .params
                            .iter()
                            .find(|(p, _)| p == name)
                            .map(|(_, v)| v[0])
                    })
                    .unwrap_or(f64::NAN),
            };
            model = model.param(name.as_str(), v);
        }
        for (name, expr) in &self.subexpressions {
            model = model.param(name.as_str(), expr.as_str());
        }
        for pulse in &self.pulses {
            model = model.param(pulse.as_str(), 0.0);
        }
        if let Some(threshold) = &self.threshold {
            model = model.spike_when(threshold.as_str());
        }
        Ok(model.method(match self.method {
            Method::Euler => single::Method::Euler,
            _ => single::Method::Rk4,
        }))
    }
}

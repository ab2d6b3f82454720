//! Single-neuron models written as ODE strings (docs/semantics.md §2): the
//! model, its variables and parameters, and what a simulation returns. The
//! model is compiled in [`compiled`](super::compiled) and simulated in
//! [`simulate`](super::simulate).

use std::collections::BTreeMap;

use ndarray::Array1;

use crate::error::{Error, Result};
use crate::single::compiled::NOT_REFRACTORY;
use crate::single::expr::closest;
use crate::single::integrate::Method;

/// A state variable: name, derivative expression, initial value, optional
/// reset expression (applied after a spike), unit.
#[derive(Debug, Clone, PartialEq)]
pub struct Variable {
    /// Its name.
    pub name: String,
    /// Its time derivative, an expression.
    pub ddt: String,
    /// Initial value.
    pub init: f64,
    /// Value after a spike, an expression of the state before it.
    pub reset: Option<String>,
    /// Unit, for axis labels.
    pub unit: String,
    /// Held while the model is refractory (its derivative is 0 then;
    /// Brian2's `(unless refractory)`, see [`Model::refractory`]).
    pub unless_refractory: bool,
}

impl Variable {
    /// `name' = ddt`, starting at `init`.
    pub fn new(name: impl Into<String>, ddt: impl Into<String>, init: f64) -> Self {
        Variable {
            name: name.into(),
            ddt: ddt.into(),
            init,
            reset: None,
            unit: String::new(),
            unless_refractory: false,
        }
    }
    /// Value after a spike.
    pub fn reset(mut self, expr: impl Into<String>) -> Self {
        self.reset = Some(expr.into());
        self
    }
    /// Unit for plots.
    pub fn unit(mut self, unit: impl Into<String>) -> Self {
        self.unit = unit.into();
        self
    }
    /// Hold this variable while the model is refractory.
    pub fn unless_refractory(mut self) -> Self {
        self.unless_refractory = true;
        self
    }
}

/// A parameter's value: a number, or an expression of `t`, the variables and
/// other parameters (re-evaluated after every step).
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A number.
    Number(f64),
    /// An expression.
    Expr(String),
}

impl From<f64> for Value {
    fn from(x: f64) -> Self {
        Value::Number(x)
    }
}
impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::Expr(s.to_string())
    }
}
impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::Expr(s)
    }
}

/// A model: variables, parameters, spike condition, clamp, method.
///
/// Defaults: no spike condition, no clamp, no refractory period, RK4, time
/// in ms, seed 0.
#[derive(Debug, Clone, PartialEq)]
pub struct Model {
    pub(crate) variables: Vec<Variable>,
    pub(crate) params: Vec<(String, Value)>,
    pub(crate) spike: Option<String>,
    pub(crate) max_spike_value: Option<f64>,
    pub(crate) method: Method,
    pub(crate) time_unit: String,
    pub(crate) seed: u64,
    /// The refractory period, in the model's time unit.
    pub(crate) refractory: Option<f64>,
}

/// What a simulation returns: one array per kept name (`t`, variables,
/// parameters), `M + 1` rows, and the spike times.
#[derive(Debug, Clone, PartialEq)]
pub struct History {
    /// Columns by name.
    pub columns: BTreeMap<String, Array1<f64>>,
    /// Times of spikes (rising edges of the spike condition).
    pub spikes: Vec<f64>,
    /// Which engine integrated the steps.
    pub engine: Engine,
}

/// Who runs a simulation's steps. Both give the same numbers bit for bit
/// (tested); they differ in speed and in the cost of starting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Engine {
    /// Native code for simulations of 5 000 steps or more (translating
    /// costs about as much as interpreting that many steps), the
    /// interpreter below. The default.
    #[default]
    Auto,
    /// The interpreter of compiled expression programs.
    Interpreter,
    /// Native code (Cranelift, feature `jit`) whatever the length; the
    /// interpreter where the host or the build has no native code
    /// ([`History::engine`] says which ran).
    Native,
}

impl History {
    /// The column `name` (`t`, a variable or a parameter), if kept.
    pub fn get(&self, name: &str) -> Option<&Array1<f64>> {
        self.columns.get(name)
    }
    /// The column `name`, or an error naming it.
    pub fn column(&self, name: &str) -> Result<&Array1<f64>> {
        self.columns.get(name).ok_or_else(|| Error::NotRecorded {
            what: format!("column {name:?}"),
        })
    }
}

/// Options of [`Model::simulation_with`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SimulationOptions {
    /// Names to keep in the history (default: all).
    pub keep: Option<Vec<String>>,
    /// Start values overriding variables' initial values.
    pub start: Vec<(String, f64)>,
    /// Keep every `every`-th row of the history (steps `0, k, 2k, ...`; 0
    /// and 1, the default, keep every row). Spikes are all kept whatever
    /// the stride: they are detected on every step.
    pub every: usize,
    /// The most bytes the history may take; `None`, the default, is
    /// [`memory::default_limit`](crate::memory::default_limit) (half the
    /// memory available when the simulation starts). A history that would
    /// take more is [`Error::MemoryLimit`] before anything is allocated.
    pub memory_limit: Option<u64>,
    /// Who integrates (default [`Engine::Auto`]).
    pub engine: Engine,
}

impl Model {
    /// A model of these variables.
    pub fn new(variables: Vec<Variable>) -> Self {
        Model {
            variables,
            params: Vec::new(),
            spike: None,
            max_spike_value: None,
            method: Method::Rk4,
            time_unit: "ms".into(),
            seed: 0,
            refractory: None,
        }
    }
    /// Add or replace a parameter (a number or an expression).
    pub fn param(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        let name = name.into();
        let value = value.into();
        match self.params.iter_mut().find(|p| p.0 == name) {
            Some(p) => p.1 = value,
            None => self.params.push((name, value)),
        }
        self
    }
    /// The spike condition, e.g. `"V >= 30"`.
    pub fn spike_when(mut self, condition: impl Into<String>) -> Self {
        self.spike = Some(condition.into());
        self
    }
    /// Clamp every updated variable to at most this value.
    pub fn max_spike_value(mut self, max: f64) -> Self {
        self.max_spike_value = Some(max);
        self
    }
    /// Integration method.
    pub fn method(mut self, method: Method) -> Self {
        self.method = method;
        self
    }
    /// Time unit for axis labels (default `ms`).
    pub fn time_unit(mut self, unit: impl Into<String>) -> Self {
        self.time_unit = unit.into();
        self
    }
    /// Seed of `rand()` / `randn()`.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }
    /// A refractory period (in the model's time unit, rounded to whole
    /// steps of a simulation): for that many steps after the step that
    /// applies the reset, the variables marked
    /// [`unless_refractory`](Variable::unless_refractory) hold their value
    /// and the spike condition is not checked (docs/semantics.md §2.3). The
    /// name `not_refractory` (1, or 0 while refractory) may be read by
    /// expressions and is kept in histories.
    pub fn refractory(mut self, period: f64) -> Self {
        self.refractory = Some(period);
        self
    }
    /// The refractory period, if any.
    pub fn refractory_period(&self) -> Option<f64> {
        self.refractory
    }

    /// The variables.
    pub fn variables(&self) -> &[Variable] {
        &self.variables
    }
    /// The parameters.
    pub fn params(&self) -> &[(String, Value)] {
        &self.params
    }
    /// The method.
    pub fn integration_method(&self) -> Method {
        self.method
    }
    /// The time unit.
    pub fn unit_of_time(&self) -> &str {
        &self.time_unit
    }

    /// Replace a parameter, or a variable's derivative, like the original's
    /// `model['I'] = '.5 if t < 500 else 0'`. The change is checked (parsed
    /// and compiled) at once; a bad one leaves the model as it was.
    pub fn set(&mut self, name: &str, value: impl Into<Value>) -> Result<()> {
        let value = value.into();
        let mut next = self.clone();
        if let Some(p) = next.params.iter_mut().find(|p| p.0 == name) {
            p.1 = value;
        } else if let Some(v) = next.variables.iter_mut().find(|v| v.name == name) {
            v.ddt = match value {
                Value::Number(x) => format!("{x}"),
                Value::Expr(e) => e,
            };
        } else {
            return Err(Error::NoSuchName {
                name: name.into(),
                suggestion: closest(name, &self.all_names()),
            });
        }
        next.compile()?;
        *self = next;
        Ok(())
    }

    /// The current value of a parameter (a number, or its expression at
    /// `t = 0` and the initial state).
    pub fn value(&self, name: &str) -> Result<f64> {
        let c = self.compile()?;
        let slot = c
            .names
            .iter()
            .position(|n| n == name)
            .ok_or_else(|| Error::NoSuchName {
                name: name.into(),
                suggestion: closest(name, &self.all_names()),
            })?;
        Ok(c.slots[slot])
    }

    /// Variables, parameters and, with a refractory period,
    /// `not_refractory`, in slot order (after `t`).
    pub(crate) fn all_names(&self) -> Vec<String> {
        self.variables
            .iter()
            .map(|v| v.name.clone())
            .chain(self.params.iter().map(|p| p.0.clone()))
            .chain(self.refractory.map(|_| NOT_REFRACTORY.to_string()))
            .collect()
    }
}

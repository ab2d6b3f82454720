//! Single-neuron models written as ODE strings, and their simulation
//! (SPEC §2).

use std::collections::BTreeMap;

use ndarray::Array1;
use rand::{Rng, SeedableRng};
use rand_distr::StandardNormal;

use crate::error::{Error, Result};
use crate::single::expr::{self, closest, Noise, Program};
use crate::single::integrate::{step, Method, Workspace};

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
/// Defaults: no spike condition, no clamp, RK4, time in ms, seed 0.
#[derive(Debug, Clone, PartialEq)]
pub struct Model {
    pub(crate) variables: Vec<Variable>,
    pub(crate) params: Vec<(String, Value)>,
    pub(crate) spike: Option<String>,
    pub(crate) max_spike_value: Option<f64>,
    pub(crate) method: Method,
    pub(crate) time_unit: String,
    pub(crate) seed: u64,
}

/// What a simulation returns: one array per kept name (`t`, variables,
/// parameters), `M + 1` rows, and the spike times.
#[derive(Debug, Clone, PartialEq)]
pub struct History {
    /// Columns by name.
    pub columns: BTreeMap<String, Array1<f64>>,
    /// Times of spikes (rising edges of the spike condition).
    pub spikes: Vec<f64>,
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
}

/// The random generator behind `rand()` and `randn()`.
pub(crate) struct ModelNoise(rand::rngs::StdRng);

impl Noise for ModelNoise {
    fn uniform(&mut self) -> f64 {
        self.0.random::<f64>()
    }
    fn normal(&mut self) -> f64 {
        self.0.sample(StandardNormal)
    }
}

/// A model compiled to programs over slots `[t, variables..., parameters...]`.
pub(crate) struct Compiled {
    pub nvars: usize,
    pub names: Vec<String>,
    /// Every derivative, stored into the slots after the parameters.
    pub ddt: Program,
    /// First derivative slot.
    pub dslot: usize,
    pub reset: Vec<Option<Program>>,
    /// Expression parameters, in dependency order, each stored into its slot.
    pub params: Program,
    pub spike: Option<Program>,
    pub slots: Vec<f64>,
    pub stack: Vec<f64>,
    pub noise: ModelNoise,
    pub clamp: Option<f64>,
}

impl Compiled {
    /// Evaluate parameter expressions into their slots.
    pub(crate) fn update_params(&mut self) {
        if !self.params.ops.is_empty() {
            self.params
                .eval(&mut self.slots, &mut self.stack, &mut self.noise);
        }
    }

    /// Put `(t, x)` into the slots.
    pub(crate) fn set_state(&mut self, t: f64, x: &[f64]) {
        self.slots[0] = t;
        for (slot, v) in self.slots[1..=self.nvars].iter_mut().zip(x) {
            *slot = *v;
        }
    }

    /// Derivatives at `(t, x)` (parameters as in the slots).
    pub(crate) fn deriv(&mut self, t: f64, x: &[f64], out: &mut [f64]) {
        self.set_state(t, x);
        self.deriv_prepared(out);
    }

    /// Derivatives at the state already in the slots.
    pub(crate) fn deriv_prepared(&mut self, out: &mut [f64]) {
        self.ddt
            .eval(&mut self.slots, &mut self.stack, &mut self.noise);
        for (o, d) in out
            .iter_mut()
            .zip(&self.slots[self.dslot..self.dslot + self.nvars])
        {
            *o = *d;
        }
    }

    pub(crate) fn spiking(&mut self, t: f64, x: &[f64]) -> bool {
        self.set_state(t, x);
        self.spiking_prepared()
    }

    /// The spike condition at the state already in the slots.
    pub(crate) fn spiking_prepared(&mut self) -> bool {
        let Some(p) = &self.spike else { return false };
        p.eval(&mut self.slots, &mut self.stack, &mut self.noise) != 0.0
    }
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

    pub(crate) fn all_names(&self) -> Vec<String> {
        self.variables
            .iter()
            .map(|v| v.name.clone())
            .chain(self.params.iter().map(|p| p.0.clone()))
            .collect()
    }

    /// Parse and compile everything; errors name the expression at fault.
    pub(crate) fn compile(&self) -> Result<Compiled> {
        if self.variables.is_empty() {
            return Err(Error::InvalidModel {
                message: "a model needs at least one variable".into(),
            });
        }
        let mut names: Vec<String> = vec!["t".into()];
        for n in self.all_names() {
            if names.contains(&n) {
                return Err(Error::InvalidModel {
                    message: format!("the name {n:?} is used twice (or is the reserved time `t`)"),
                });
            }
            names.push(n);
        }
        let known: Vec<String> = names.clone();
        let resolve = |n: &str| names.iter().position(|k| k == n);
        // Parameters that are plain numbers are fixed for the life of a
        // compiled model: inline them so constant folding can combine them.
        let constant = |n: &str| {
            self.params
                .iter()
                .find(|p| p.0 == n)
                .and_then(|p| match p.1 {
                    Value::Number(x) => Some(x),
                    Value::Expr(_) => None,
                })
        };
        let comp = |src: &str| -> Result<Program> {
            expr::compile(
                &expr::substitute(&expr::parse(src)?, &constant),
                src,
                &resolve,
                &known,
            )
        };
        let nvars = self.variables.len();
        let ddt = self
            .variables
            .iter()
            .map(|v| comp(&v.ddt))
            .collect::<Result<Vec<_>>>()?;
        let reset = self
            .variables
            .iter()
            .map(|v| v.reset.as_deref().map(comp).transpose())
            .collect::<Result<Vec<_>>>()?;
        let spike = self.spike.as_deref().map(comp).transpose()?;

        // Parameter expressions in dependency order; cycles are errors.
        let first_param = 1 + nvars;
        let mut deps: Vec<Vec<usize>> = Vec::new();
        let mut progs: Vec<Option<Program>> = Vec::new();
        for (_, value) in &self.params {
            match value {
                Value::Number(_) => {
                    deps.push(Vec::new());
                    progs.push(None);
                }
                Value::Expr(src) => {
                    let e = expr::parse(src)?;
                    let mut used = Vec::new();
                    expr::names(&e, &mut used);
                    deps.push(
                        used.iter()
                            .filter_map(|n| self.params.iter().position(|p| &p.0 == n))
                            .collect(),
                    );
                    progs.push(Some(expr::compile(
                        &expr::substitute(&e, &constant),
                        src,
                        &resolve,
                        &known,
                    )?));
                }
            }
        }
        let order = topo_order(
            &deps,
            &self.params.iter().map(|p| p.0.clone()).collect::<Vec<_>>(),
        )?;
        let mut params = Program::empty();
        for i in order {
            if let Some(p) = progs[i].take() {
                params.append_store(&p, first_param + i);
            }
        }
        let dslot = names.len();
        let mut fused = Program::empty();
        for (i, p) in ddt.iter().enumerate() {
            fused.append_store(p, dslot + i);
        }
        let ddt = fused;

        let max_stack = std::iter::once(&ddt)
            .chain(reset.iter().flatten())
            .chain(spike.iter())
            .chain(std::iter::once(&params))
            .map(|p| p.max_stack)
            .max()
            .unwrap_or(1);
        let mut slots = vec![0.0; names.len() + nvars];
        for (i, v) in self.variables.iter().enumerate() {
            slots[1 + i] = v.init;
        }
        for (i, (_, value)) in self.params.iter().enumerate() {
            if let Value::Number(x) = value {
                slots[first_param + i] = *x;
            }
        }
        let mut c = Compiled {
            nvars,
            names,
            ddt,
            dslot,
            reset,
            params,
            spike,
            slots,
            stack: vec![0.0; max_stack + 1],
            noise: ModelNoise(rand::rngs::StdRng::seed_from_u64(self.seed)),
            clamp: self.max_spike_value,
        };
        c.update_params();
        Ok(c)
    }

    /// Simulate `t_end` (in the model's time unit) with step `dt`, keeping
    /// every name, from the variables' initial values.
    pub fn simulation(&self, t_end: f64, dt: f64) -> Result<History> {
        self.simulation_with(t_end, dt, &SimulationOptions::default())
    }

    /// Simulate with options: which names to keep, start values.
    ///
    /// `M = floor(t_end / dt)` steps. Each step: if the spike condition held
    /// for the previous state, variables with a reset expression take it
    /// (evaluated on the previous state) and the others integrate; otherwise
    /// all integrate (the whole system as one vector). A spike is recorded
    /// at the time of a state where the condition turns true. Updated
    /// variables are clamped to `max_spike_value`. Parameter expressions are
    /// re-evaluated after each step. A variable that turns NaN or infinite
    /// stops the run with [`Error::Diverged`], which keeps the history.
    pub fn simulation_with(
        &self,
        t_end: f64,
        dt: f64,
        options: &SimulationOptions,
    ) -> Result<History> {
        if !(dt.is_finite() && dt > 0.0) {
            return Err(Error::InvalidDt { dt });
        }
        if !t_end.is_finite() || t_end < 0.0 {
            return Err(Error::InvalidDuration { t: t_end, dt });
        }
        let mut c = self.compile()?;
        for (name, x) in &options.start {
            let i = self
                .variables
                .iter()
                .position(|v| &v.name == name)
                .ok_or_else(|| Error::NoSuchName {
                    name: name.clone(),
                    suggestion: closest(name, &self.all_names()),
                })?;
            c.slots[1 + i] = *x;
        }
        c.update_params();
        let keep: Vec<usize> = match &options.keep {
            None => (0..c.names.len()).collect(),
            Some(list) => list
                .iter()
                .map(|n| {
                    c.names
                        .iter()
                        .position(|k| k == n)
                        .ok_or_else(|| Error::NoSuchName {
                            name: n.clone(),
                            suggestion: closest(n, &c.names),
                        })
                })
                .collect::<Result<_>>()?,
        };
        let steps = (t_end / dt + 1e-9).floor() as usize;
        let n = c.nvars;
        let tab = self.method.tableau();
        let mut ws = Workspace::new(n, tab.b.len());
        let mut x: Vec<f64> = c.slots[1..=n].to_vec();
        let mut next = vec![0.0; n];
        let mut cols: Vec<Vec<f64>> = keep.iter().map(|_| Vec::with_capacity(steps + 1)).collect();
        let mut spikes = Vec::new();
        let record = |c: &Compiled, cols: &mut Vec<Vec<f64>>| {
            for (col, &slot) in cols.iter_mut().zip(&keep) {
                col.push(c.slots[slot]);
            }
        };
        c.slots[0] = 0.0;
        record(&c, &mut cols);
        let mut before_prev = false; // the condition before the initial state
        let mut prev_cond = c.spiking(0.0, &x);
        for m in 1..=steps {
            let t_prev = (m - 1) as f64 * dt;
            let t = m as f64 * dt;
            {
                let mut f = |tt: f64, xx: &[f64], out: &mut [f64]| c.deriv(tt, xx, out);
                step(tab, &mut f, t_prev, &x, dt, &mut ws, &mut next);
            }
            if prev_cond {
                if !before_prev {
                    spikes.push(t_prev);
                }
                c.set_state(t_prev, &x);
                for (i, r) in c.reset.iter().enumerate() {
                    if let Some(p) = r {
                        next[i] = p.eval(&mut c.slots, &mut c.stack, &mut c.noise);
                    }
                }
            }
            if let Some(max) = c.clamp {
                for y in next.iter_mut() {
                    if *y > max {
                        *y = max;
                    }
                }
            }
            if let Some(i) = next.iter().position(|y| !y.is_finite()) {
                let last_state = self
                    .variables
                    .iter()
                    .map(|v| v.name.clone())
                    .zip(x.iter().copied())
                    .collect();
                let history = Box::new(History {
                    columns: columns(&c, &keep, cols),
                    spikes,
                });
                return Err(Error::Diverged {
                    variable: self.variables[i].name.clone(),
                    value: next[i],
                    t,
                    dt,
                    last_state,
                    history,
                });
            }
            x.copy_from_slice(&next);
            c.set_state(t, &x);
            c.update_params();
            record(&c, &mut cols);
            before_prev = prev_cond;
            prev_cond = c.spiking_prepared();
        }
        // A condition that turned true in the final state is a spike too.
        if prev_cond && !before_prev && steps > 0 {
            spikes.push(steps as f64 * dt);
        }
        Ok(History {
            columns: columns(&c, &keep, cols),
            spikes,
        })
    }
}

/// A model's right-hand side, compiled: for benchmarks and for embedding the
/// model in another integrator.
pub struct Rhs {
    c: Compiled,
}

impl std::fmt::Debug for Rhs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rhs")
            .field("variables", &self.c.nvars)
            .finish_non_exhaustive()
    }
}

impl Rhs {
    /// Number of variables.
    pub fn len(&self) -> usize {
        self.c.nvars
    }
    /// True for a model without variables (which cannot be compiled).
    pub fn is_empty(&self) -> bool {
        self.c.nvars == 0
    }
    /// The initial state.
    pub fn initial_state(&self) -> Vec<f64> {
        self.c.slots[1..=self.c.nvars].to_vec()
    }
    /// Derivatives at `(t, x)` into `out`, with expression parameters
    /// evaluated for that state (as the simulation does after each step).
    /// Allocates nothing.
    pub fn derivatives(&mut self, t: f64, x: &[f64], out: &mut [f64]) {
        self.c.set_state(t, x);
        self.c.update_params();
        self.c.deriv_prepared(out);
    }
}

impl Model {
    /// Compile the right-hand side.
    pub fn rhs(&self) -> Result<Rhs> {
        Ok(Rhs { c: self.compile()? })
    }
}

fn columns(c: &Compiled, keep: &[usize], cols: Vec<Vec<f64>>) -> BTreeMap<String, Array1<f64>> {
    keep.iter()
        .zip(cols)
        .map(|(&slot, col)| (c.names[slot].clone(), Array1::from(col)))
        .collect()
}

/// Kahn's algorithm over "parameter i reads parameter j" edges; a cycle is an
/// error listing it.
fn topo_order(deps: &[Vec<usize>], names: &[String]) -> Result<Vec<usize>> {
    let n = deps.len();
    let mut state = vec![0u8; n]; // 0 new, 1 on stack, 2 done
    let mut order = Vec::with_capacity(n);
    fn visit(
        i: usize,
        deps: &[Vec<usize>],
        state: &mut [u8],
        order: &mut Vec<usize>,
        path: &mut Vec<usize>,
        names: &[String],
    ) -> Result<()> {
        match state[i] {
            2 => return Ok(()),
            1 => {
                let start = path.iter().position(|&p| p == i).unwrap_or(0);
                let mut cycle: Vec<String> =
                    path[start..].iter().map(|&p| names[p].clone()).collect();
                cycle.push(names[i].clone());
                return Err(Error::CyclicParameter { cycle });
            }
            _ => {}
        }
        state[i] = 1;
        path.push(i);
        for &j in &deps[i] {
            visit(j, deps, state, order, path, names)?;
        }
        path.pop();
        state[i] = 2;
        order.push(i);
        Ok(())
    }
    for i in 0..n {
        visit(i, deps, &mut state, &mut order, &mut Vec::new(), names)?;
    }
    Ok(order)
}

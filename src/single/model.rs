//! Single-neuron models written as ODE strings, and their simulation
//! (docs/semantics.md §2).

use std::collections::BTreeMap;

use ndarray::Array1;
use rand::{Rng, SeedableRng};
use rand_distr::StandardNormal;

use crate::error::{Error, Result};
use crate::single::expr::{self, closest, Expr, Noise, Program};
use crate::single::integrate::{copy_small, step, Method, Tableau, Workspace};

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

/// A compiled program and, when the `jit` feature could translate it, the
/// same program as native code (identical results, no dispatch).
#[derive(Debug)]
pub(crate) struct Exec {
    pub program: Program,
    #[cfg(feature = "jit")]
    native: Option<crate::single::jit::NativeFn>,
}

impl Exec {
    /// Evaluate (see [`Program::eval`]).
    #[inline]
    pub(crate) fn eval(&self, slots: &mut [f64], stack: &mut [f64], noise: &mut dyn Noise) -> f64 {
        #[cfg(feature = "jit")]
        if let Some(f) = &self.native {
            return f.call(slots, noise);
        }
        self.program.eval(slots, stack, noise)
    }

    fn interpreted(program: Program) -> Exec {
        Exec {
            program,
            #[cfg(feature = "jit")]
            native: None,
        }
    }
}

/// A model compiled to programs over slots `[t, variables..., parameters...]`.
pub(crate) struct Compiled {
    pub nvars: usize,
    pub names: Vec<String>,
    /// Every derivative, stored into the slots after the parameters.
    pub ddt: Exec,
    /// First derivative slot.
    pub dslot: usize,
    pub reset: Vec<Option<Exec>>,
    /// Expression parameters, in dependency order, each stored into its slot.
    pub params: Exec,
    pub spike: Option<Exec>,
    pub slots: Vec<f64>,
    pub stack: Vec<f64>,
    pub noise: ModelNoise,
    pub clamp: Option<f64>,
    /// The slot of `not_refractory`, with a refractory period.
    pub active: Option<usize>,
    /// A whole step as native code (feature `jit`, long simulations).
    #[cfg(feature = "jit")]
    pub native_step: Option<crate::single::jit::NativeStep>,
}

/// The name expressions read for "not refractory" (1 or 0), as Brian2's.
pub(crate) const NOT_REFRACTORY: &str = "not_refractory";

/// Fewer integration steps than this are interpreted: translating a model
/// to native code costs about as much as interpreting this many steps
/// (0.3 ms for FitzHugh–Nagumo, 1 ms for Hodgkin–Huxley).
pub(crate) const NATIVE_FROM_STEPS: usize = 5_000;

impl Compiled {
    /// Translate every program to native code (feature `jit`; where that is
    /// not possible the interpreter stays). Results do not change.
    /// With a tableau, also one whole integration step as native code
    /// ([`Compiled::native_step`]).
    /// Whether the derivatives run as native code.
    pub(crate) fn runs_native(&self) -> bool {
        #[cfg(feature = "jit")]
        {
            self.ddt.native.is_some()
        }
        #[cfg(not(feature = "jit"))]
        {
            false
        }
    }

    pub(crate) fn translate_native(&mut self, tab: Option<&Tableau>) {
        #[cfg(feature = "jit")]
        {
            let ddt_first = self.ddt.native.is_none() && !self.ddt.program.ops.is_empty();
            let mut execs: Vec<&mut Exec> = vec![&mut self.ddt, &mut self.params];
            execs.extend(self.spike.iter_mut());
            execs.extend(self.reset.iter_mut().flatten());
            execs.retain(|e| e.native.is_none() && !e.program.ops.is_empty());
            let programs: Vec<&Program> = execs.iter().map(|e| &e.program).collect();
            let layout = crate::single::jit::Layout {
                state: 1,
                deriv: self.dslot,
                n: self.nvars,
            };
            // The derivatives come first in `execs` when still to translate.
            let step = tab.filter(|_| ddt_first).map(|t| (0, t));
            if let Some((native, step)) =
                crate::single::jit::compile_with_step(&programs, layout, step)
            {
                for (e, f) in execs.into_iter().zip(native) {
                    e.native = Some(f);
                }
                self.native_step = step;
            }
        }
        #[cfg(not(feature = "jit"))]
        let _ = tab;
    }

    /// One integration step from `(t, x)` into `out`: native code when
    /// translated, else [`step`] over the interpreted derivatives.
    fn step(
        &mut self,
        tab: &Tableau,
        t: f64,
        x: &[f64],
        dt: f64,
        ws: &mut Workspace,
        out: &mut [f64],
    ) {
        #[cfg(feature = "jit")]
        if let Some(s) = &self.native_step {
            self.slots[0] = t;
            if s.call(&mut self.slots, x, dt, out, &mut self.noise) {
                return;
            }
        }
        let mut f = |tt: f64, xx: &[f64], o: &mut [f64]| self.deriv(tt, xx, o);
        step(tab, &mut f, t, x, dt, ws, out);
    }

    /// Evaluate parameter expressions into their slots.
    pub(crate) fn update_params(&mut self) {
        if !self.params.program.ops.is_empty() {
            self.params
                .eval(&mut self.slots, &mut self.stack, &mut self.noise);
        }
    }

    /// Put `(t, x)` into the slots.
    pub(crate) fn set_state(&mut self, t: f64, x: &[f64]) {
        self.slots[0] = t;
        if let Some(state) = self.slots.get_mut(1..=self.nvars) {
            copy_small(state, x);
        }
    }

    /// Derivatives at `(t, x)` (parameters as in the slots).
    pub(crate) fn deriv(&mut self, t: f64, x: &[f64], out: &mut [f64]) {
        #[cfg(feature = "jit")]
        if let Some(f) = &self.ddt.native {
            // Native code reads `x` and writes `out` directly.
            self.slots[0] = t;
            f.call_with(&mut self.slots, x, out, &mut self.noise);
            return;
        }
        self.set_state(t, x);
        self.deriv_prepared(out);
    }

    /// Derivatives at the state already in the slots.
    pub(crate) fn deriv_prepared(&mut self, out: &mut [f64]) {
        self.ddt
            .eval(&mut self.slots, &mut self.stack, &mut self.noise);
        if let Some(d) = self.slots.get(self.dslot..self.dslot + self.nvars) {
            copy_small(out, d);
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

    /// Parse and compile everything; errors name the expression at fault.
    pub(crate) fn compile(&self) -> Result<Compiled> {
        if self.variables.is_empty() {
            return Err(Error::InvalidModel {
                message: "a model needs at least one variable".into(),
            });
        }
        if let Some(r) = self.refractory.filter(|r| !(r.is_finite() && *r >= 0.0)) {
            return Err(Error::InvalidModel {
                message: format!("the refractory period {r} is not a finite number >= 0"),
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
        // A held variable's derivative is 0 while refractory.
        let held = |v: &Variable| -> Result<Program> {
            let e = expr::substitute(&expr::parse(&v.ddt)?, &constant);
            let gated = Expr::If {
                cond: Box::new(Expr::Name(NOT_REFRACTORY.into())),
                then: Box::new(e),
                otherwise: Box::new(Expr::Num(0.0)),
            };
            expr::compile(&gated, &v.ddt, &resolve, &known)
        };
        let ddt = self
            .variables
            .iter()
            .map(|v| match (v.unless_refractory, self.refractory) {
                (true, Some(_)) => held(v),
                _ => comp(&v.ddt),
            })
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
        let active = self.refractory.map(|_| first_param + self.params.len());
        if let Some(k) = active {
            slots[k] = 1.0;
        }
        let mut c = Compiled {
            nvars,
            names,
            ddt: Exec::interpreted(ddt),
            dslot,
            reset: reset
                .into_iter()
                .map(|r| r.map(Exec::interpreted))
                .collect(),
            params: Exec::interpreted(params),
            spike: spike.map(Exec::interpreted),
            slots,
            stack: vec![0.0; max_stack + 1],
            noise: ModelNoise(rand::rngs::StdRng::seed_from_u64(self.seed)),
            clamp: self.max_spike_value,
            active,
            #[cfg(feature = "jit")]
            native_step: None,
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
    /// all integrate (the whole system as one vector). With a refractory
    /// period of `R` steps, the `R` steps after a reset hold the variables
    /// marked `unless_refractory` and do not check the spike condition. A spike is recorded
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
        let every = options.every.max(1);
        let n = c.nvars;
        let tab = self.method.tableau();
        let native = match options.engine {
            Engine::Auto => steps >= NATIVE_FROM_STEPS,
            Engine::Native => true,
            Engine::Interpreter => false,
        };
        if native {
            c.translate_native(Some(tab));
        }
        let engine = if c.runs_native() {
            Engine::Native
        } else {
            Engine::Interpreter
        };
        let mut ws = Workspace::new(n, tab.b.len());
        let mut x: Vec<f64> = c.slots[1..=n].to_vec();
        let mut next = vec![0.0; n];
        let mut spikes = Vec::new();
        // Parameters that are numbers never change: their columns are
        // filled once at the end instead of pushed to at every step.
        let first_param = 1 + n;
        let varying: Vec<(usize, usize)> = keep
            .iter()
            .enumerate()
            .filter(|&(_, &slot)| {
                slot < first_param
                    || !matches!(
                        self.params.get(slot - first_param),
                        Some((_, Value::Number(_)))
                    )
            })
            .map(|(i, &slot)| (i, slot))
            .collect();
        let rows = steps / every + 1;
        let bytes = crate::memory::bytes(rows as u64, keep.len() as u64, 8);
        let limit = options
            .memory_limit
            .unwrap_or_else(crate::memory::default_limit);
        if bytes > limit {
            return Err(Error::MemoryLimit {
                what: format!(
                    "the history of {steps} steps ({rows} rows x {} columns of f64)",
                    keep.len()
                ),
                bytes,
                limit,
                ways_out: "keep fewer names (SimulationOptions::keep), keep every k-th row \
                           (SimulationOptions::every), simulate less time, or raise \
                           SimulationOptions::memory_limit"
                    .into(),
            });
        }
        let mut cols: Vec<Vec<f64>> = (0..keep.len())
            .map(|i| {
                if varying.iter().any(|v| v.0 == i) {
                    Vec::with_capacity(rows)
                } else {
                    Vec::new()
                }
            })
            .collect();
        let record = |c: &Compiled, cols: &mut Vec<Vec<f64>>| {
            for &(i, slot) in &varying {
                cols[i].push(c.slots[slot]);
            }
        };
        c.slots[0] = 0.0;
        record(&c, &mut cols);
        let mut before_prev = false; // the condition before the initial state
        let mut prev_cond = c.spiking(0.0, &x);
        // Steps still to hold after a reset (semantics §2.3).
        let hold = self.refractory.map(|r| (r / dt).round() as usize);
        let mut refractory_left = 0usize;
        for m in 1..=steps {
            let t_prev = (m - 1) as f64 * dt;
            let t = m as f64 * dt;
            let reset_step = prev_cond;
            c.step(tab, t_prev, &x, dt, &mut ws, &mut next);
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
                    columns: columns(&c, &keep, cols, (m - 1) / every + 1),
                    spikes,
                    engine,
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
            std::mem::swap(&mut x, &mut next);
            c.set_state(t, &x);
            if let (Some(k), Some(h)) = (c.active, hold) {
                refractory_left = if reset_step {
                    h
                } else {
                    refractory_left.saturating_sub(1)
                };
                c.slots[k] = if refractory_left == 0 { 1.0 } else { 0.0 };
            }
            c.update_params();
            if m % every == 0 {
                record(&c, &mut cols);
            }
            before_prev = prev_cond;
            prev_cond = refractory_left == 0 && c.spiking_prepared();
        }
        // A condition that turned true in the final state is a spike too.
        if prev_cond && !before_prev && steps > 0 {
            spikes.push(steps as f64 * dt);
        }
        Ok(History {
            columns: columns(&c, &keep, cols, rows),
            spikes,
            engine,
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
        self.c.deriv(t, x, out);
    }
}

impl Model {
    /// Compile the right-hand side.
    pub fn rhs(&self) -> Result<Rhs> {
        let mut c = self.compile()?;
        c.translate_native(None);
        Ok(Rhs { c })
    }
}

/// The kept columns as arrays; `rows` states were recorded (`t` is always
/// a varying column), constant columns left empty are filled here.
fn columns(
    c: &Compiled,
    keep: &[usize],
    cols: Vec<Vec<f64>>,
    rows: usize,
) -> BTreeMap<String, Array1<f64>> {
    keep.iter()
        .zip(cols)
        .map(|(&slot, col)| {
            let col = if col.len() == rows {
                Array1::from(col)
            } else {
                Array1::from_elem(rows, c.slots[slot])
            };
            (c.names[slot].clone(), col)
        })
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

#[cfg(all(test, feature = "jit"))]
mod tests {
    use crate::single::usual_models::{hodgkin_huxley, izhikevich};

    /// On this (x86-64 or aarch64) host every non-empty program of the
    /// usual models translates, so the agreement tests in `tests/single.rs`
    /// do compare native code with the interpreter.
    #[test]
    fn usual_models_translate_to_native_code() -> crate::Result<()> {
        for m in [hodgkin_huxley(), izhikevich()] {
            let mut c = m.compile()?;
            assert!(c.ddt.native.is_none());
            c.translate_native(Some(&crate::single::integrate::RK4));
            assert!(c.ddt.native.is_some());
            assert!(c.native_step.is_some());
            assert!(c.spike.as_ref().is_some_and(|s| s.native.is_some()));
            for r in c.reset.iter().flatten() {
                assert!(r.native.is_some());
            }
        }
        Ok(())
    }
}

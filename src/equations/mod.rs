//! Neuron models written as equations, TensorFlow-free (docs/semantics.md
//! §3): a [`NeuronModel`] is built from strings in the single-neuron
//! toolkit's expression language (one parser for the whole crate,
//! [`crate::single::expr`]) and *lowered* for a population of `n` neurons
//! and a time step into a [`Lowered`] model: per-neuron parameters and
//! initial values, one step of the chosen [`Method`] as a straight-line
//! list of expression bindings, the threshold, the reset statements and
//! the refractory period in steps. The network engine turns a lowered
//! model into graph ops; [`Lowered::simulate`] steps it in f64 (the
//! reference the engine is tested against). Equations may read Brian2's
//! white noise `xi` (`xi_<name>`), additive, integrated by
//! [`Method::Euler`] as Euler–Maruyama (docs/semantics.md §3.5).
//!
//! ```
//! use snn::equations::{Method, NeuronModel};
//! let lif = NeuronModel::new()
//!     .named("lif")
//!     .equation("v", "(ge + gi - (v - El)) / taum").unless_refractory()
//!     .equation("ge", "-ge / taue")
//!     .equation("gi", "-gi / taui")
//!     .param("taum", 20.0).param("taue", 5.0).param("taui", 10.0)
//!     .param("El", -49.0).param("Vt", -50.0).param("Vr", -60.0)
//!     .init("v", "Vr + rand() * (Vt - Vr)")
//!     .threshold("v > Vt").reset("v = Vr").refractory(5.0)
//!     .method(Method::Exact);
//! let lowered = lif.lower(4000, 0.1, 1)?;
//! assert_eq!(lowered.state, ["v", "ge", "gi"]);
//! assert_eq!(lowered.refractory_steps(0), Some(50));
//! # Ok::<(), snn::Error>(())
//! ```

mod algebra;
mod binomial;
mod eval;
mod expm;
mod lower;
mod methods;
mod synapses;
mod to_single;

pub use eval::Simulated;
pub use lower::{Lowered, OnPre, PoissonInput};
pub use synapses::{LoweredSynapses, Side, Statement, SynapseModel, Trace};

/// Whether `e` reads the name `name`.
#[cfg(feature = "network")]
pub(crate) fn algebra_reads(e: &crate::single::expr::Expr, name: &str) -> bool {
    algebra::reads_any(e, &[name])
}

/// How a model's equations advance one step (docs/semantics.md §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Method {
    /// Forward Euler: `x' = x + dt f(x, t)`.
    #[default]
    Euler,
    /// The classical fourth-order Runge–Kutta method over the whole system
    /// (subexpressions re-evaluated at every stage).
    Rk4,
    /// Brian2's exponential Euler: each equation as `dx/dt = A x + B` with
    /// `A`, `B` free of `x` (evaluated at the start of the step),
    /// `x' = -B/A + (x + B/A) exp(A dt)`, Euler where `A` is 0.
    ExponentialEuler,
    /// Linear systems with constant coefficients, `x' = M x + c`: the
    /// propagators `exp(M dt)` and `∫exp(M s) ds`, computed once per
    /// distinct parameter set (`c` may change from step to step).
    Exact,
}

/// A parameter's value, or a state variable's initial value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// The same number for every neuron.
    Number(f64),
    /// One number per neuron.
    PerNeuron(Vec<f64>),
    /// An expression evaluated once per neuron when the model is lowered:
    /// it may read the parameters (and, for initial values, other
    /// parameters only) and draw `rand()`/`randn()` from the seed.
    Expr(String),
}

impl From<f64> for Value {
    fn from(x: f64) -> Self {
        Value::Number(x)
    }
}
impl From<Vec<f64>> for Value {
    fn from(v: Vec<f64>) -> Self {
        Value::PerNeuron(v)
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

/// One differential equation `dx/dt = rhs`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Equation {
    pub var: String,
    pub rhs: String,
    pub unless_refractory: bool,
}

/// A neuron model written as equations (see the module docs). Nothing is
/// checked until it is [lowered](NeuronModel::lower): then every name,
/// statement and method requirement is, with an [`Error::Equation`](crate::Error::Equation)
/// naming the culprit.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct NeuronModel {
    pub(crate) name: String,
    pub(crate) equations: Vec<Equation>,
    /// State variables without an equation (changed by resets and synapses).
    pub(crate) variables: Vec<String>,
    /// Pulse inputs: recomputed every step from the external input and the
    /// kernel connections, read by the next step's update.
    pub(crate) pulses: Vec<String>,
    pub(crate) params: Vec<(String, Value)>,
    pub(crate) subexpressions: Vec<(String, String)>,
    pub(crate) inits: Vec<(String, Value)>,
    pub(crate) threshold: Option<String>,
    pub(crate) reset: Option<String>,
    pub(crate) refractory: Option<Value>,
    pub(crate) method: Method,
    /// Poisson inputs: (target variable, sources, rate in Hz, weight).
    pub(crate) poisson_inputs: Vec<(String, u64, f64, f64)>,
}

impl NeuronModel {
    /// An empty model named `"model"`.
    pub fn new() -> Self {
        NeuronModel {
            name: "model".into(),
            ..Default::default()
        }
    }

    /// Its name, for error messages.
    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// The model's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `d var/dt = rhs`.
    pub fn equation(mut self, var: impl Into<String>, rhs: impl Into<String>) -> Self {
        self.equations.push(Equation {
            var: var.into(),
            rhs: rhs.into(),
            unless_refractory: false,
        });
        self
    }

    /// The last equation's derivative is 0 while the neuron is refractory
    /// (Brian2's `(unless refractory)`).
    pub fn unless_refractory(mut self) -> Self {
        if let Some(eq) = self.equations.last_mut() {
            eq.unless_refractory = true;
        }
        self
    }

    /// A state variable without an equation: changed only by resets and
    /// synapses.
    pub fn variable(mut self, name: impl Into<String>) -> Self {
        self.variables.push(name.into());
        self
    }

    /// A pulse input (such as the Izhikevich model's `I`): for one step, the
    /// sum of the external input and of what connections without `on_pre`
    /// (kernel connections among them) deliver. At most one per model.
    pub fn pulse(mut self, name: impl Into<String>) -> Self {
        self.pulses.push(name.into());
        self
    }

    /// A parameter: a number, one number per neuron, or an expression
    /// evaluated per neuron (`"20 + 2 * randn()"`).
    pub fn param(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        self.params.push((name.into(), value.into()));
        self
    }

    /// A named subexpression, substituted wherever its name is used.
    pub fn subexpression(mut self, name: impl Into<String>, expr: impl Into<String>) -> Self {
        self.subexpressions.push((name.into(), expr.into()));
        self
    }

    /// The initial value of a state variable (0 unless given): a number,
    /// one per neuron, or an expression of the parameters, `rand()` and
    /// `randn()`, evaluated per neuron.
    pub fn init(mut self, var: impl Into<String>, value: impl Into<Value>) -> Self {
        let var = var.into();
        self.inits.retain(|(v, _)| *v != var);
        self.inits.push((var, value.into()));
        self
    }

    /// The spike condition, on the state after the update (`"v > Vt"`).
    pub fn threshold(mut self, condition: impl Into<String>) -> Self {
        self.threshold = Some(condition.into());
        self
    }

    /// Statements applied in order to the neurons that spiked, separated by
    /// `;` or new lines: `x = expr`, `x += expr`, `x -= expr`, `x *= expr`.
    pub fn reset(mut self, statements: impl Into<String>) -> Self {
        self.reset = Some(statements.into());
        self
    }

    /// The refractory period in ms after each spike: a number, one per
    /// neuron, or an expression of the parameters.
    pub fn refractory(mut self, ms: impl Into<Value>) -> Self {
        self.refractory = Some(ms.into());
        self
    }

    /// `n` independent Poisson sources of `rate_hz` each onto every neuron,
    /// each event adding `weight` to `target` (a state variable or pulse
    /// input), as Brian2's `PoissonInput(group, target, n, rate, weight)`:
    /// in every step each neuron receives `k · weight`, `k` drawn from
    /// Binomial(`n`, `rate_hz · dt / 1000`), applied with the synapses
    /// (docs/semantics.md §3.5). May be given several times.
    pub fn poisson_input(
        mut self,
        target: impl Into<String>,
        n: u64,
        rate_hz: f64,
        weight: f64,
    ) -> Self {
        self.poisson_inputs
            .push((target.into(), n, rate_hz, weight));
        self
    }

    /// The integration method (default [`Method::Euler`]).
    pub fn method(mut self, method: Method) -> Self {
        self.method = method;
        self
    }

    /// Lower the model for `n` neurons and time step `dt` (ms), drawing
    /// `rand()`/`randn()` of parameters and initial values from `seed`.
    pub fn lower(&self, n: usize, dt: f64, seed: u64) -> crate::Result<Lowered> {
        lower::lower(self, n, dt, seed)
    }
}

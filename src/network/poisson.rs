//! Poisson input groups: nuclei whose neurons fire independent Poisson
//! spike trains, drawn in the graph (docs/semantics.md §3.5).

use crate::equations::{NeuronModel, Value};
use crate::network::model::Nucleus;

/// The rate of a Poisson group, in Hz.
#[derive(Debug, Clone, PartialEq)]
pub enum Rate {
    /// The same rate for every neuron.
    Hz(f64),
    /// One rate per neuron.
    PerNeuron(Vec<f64>),
    /// An expression of `t` (ms) in the expression language, evaluated in
    /// the graph every step (`"10 + 5 * sin(2 * pi * t / 1000)"`); it may
    /// read the per-neuron index-free names `t` and `dt`.
    Expr(String),
}

impl From<f64> for Rate {
    fn from(x: f64) -> Self {
        Rate::Hz(x)
    }
}

impl From<Vec<f64>> for Rate {
    fn from(v: Vec<f64>) -> Self {
        Rate::PerNeuron(v)
    }
}

impl From<&str> for Rate {
    fn from(s: &str) -> Self {
        Rate::Expr(s.to_string())
    }
}

impl From<String> for Rate {
    fn from(s: String) -> Self {
        Rate::Expr(s)
    }
}

/// The model of a Poisson group: no state; neuron `i` fires in a step with
/// probability `rate · dt` (`rand() < rate · dt / 1000`, `dt` in ms, the
/// rate in Hz), the uniform draw keyed by the network's seed, the nucleus
/// and the step, as Brian2's `PoissonGroup` does it.
pub fn poisson_model(rate: impl Into<Rate>) -> NeuronModel {
    let model = NeuronModel::new().named("poisson");
    match rate.into() {
        Rate::Hz(x) => model
            .param("rate", Value::Number(x))
            .threshold("rand() < rate * dt / 1000"),
        Rate::PerNeuron(v) => model
            .param("rate", Value::PerNeuron(v))
            .threshold("rand() < rate * dt / 1000"),
        Rate::Expr(e) => model.threshold(format!("rand() < ({e}) * dt / 1000")),
    }
}

impl Nucleus {
    /// `n` independent Poisson spike trains at `rate` (Hz: a number, one
    /// number per neuron, or an expression of `t` in ms), usable as the
    /// presynaptic nucleus of any connection. Drawn in the graph from the
    /// network's seed ([`Network::seed`](crate::network::Network::seed))
    /// and the step, so reruns, resumed and multi-step runs give the same
    /// spikes.
    pub fn poisson(label: impl Into<String>, n: usize, rate: impl Into<Rate>) -> Nucleus {
        Nucleus::with_model(label, n, poisson_model(rate))
    }
}

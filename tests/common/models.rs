//! Models several tests share.

use snn::equations::{NeuronModel, Value};

/// A leaky integrate-and-fire neuron with white noise: `v` an
/// Ornstein–Uhlenbeck process around `mu` = -52 mV (`tau` 10 ms, `sigma` 4
/// mV) unless refractory, threshold -50 mV, reset -60 mV, the given initial
/// `v` and refractory period.
pub fn noisy_lif(init: impl Into<Value>, refractory_ms: f64) -> NeuronModel {
    NeuronModel::new()
        .named("noisy_lif")
        .equation("v", "(mu - v) / tau + sigma * sqrt(2 / tau) * xi")
        .unless_refractory()
        .param("tau", 10.0)
        .param("mu", -52.0)
        .param("sigma", 4.0)
        .init("v", init)
        .threshold("v > -50")
        .reset("v = -60")
        .refractory(refractory_ms)
}

//! Brette et al. (2007) CUBA, as in Brian2's `examples/CUBA.py`: 4000
//! leaky integrate-and-fire neurons (3200 excitatory, 800 inhibitory) with
//! current-based exponential synapses, written as equations and integrated
//! exactly; connection probability 0.02, `ge += we` from the excitatory and
//! `gi += wi` from the inhibitory neurons; refractory 5 ms; 1000 ms at
//! dt = 0.1 ms. Units: mV and ms. Writes a raster and
//! `v` of three neurons to `out/`, the graph to `graphs/cuba/`, prints the
//! rates, and checks them against Brian2's (about 5.75 Hz here).
use snn::equations::{Method, NeuronModel};
use snn::network::Record;

#[path = "shared/brette.rs"]
mod brette;

/// The model of both populations.
pub fn lif() -> NeuronModel {
    NeuronModel::new()
        .named("cuba")
        .equation("v", "(ge + gi - (v - El)) / taum")
        .unless_refractory()
        .equation("ge", "-ge / taue")
        .equation("gi", "-gi / taui")
        .param("taum", 20.0)
        .param("taue", 5.0)
        .param("taui", 10.0)
        .param("Vt", -50.0)
        .param("Vr", -60.0)
        .param("El", -49.0)
        .init("v", "Vr + rand() * (Vt - Vr)")
        .threshold("v > Vt")
        .reset("v = Vr")
        .refractory(5.0)
        .method(Method::Exact)
}

/// The network: `n` neurons in one nucleus `P`, its excitatory and
/// inhibitory subgroups connected to it with probability `p` (Brian2's
/// `connect(p=...)`).
pub fn cuba(n: usize, p: f64, record: Record) -> snn::Result<brette::Brette> {
    let (we, wi) = (60.0 * 0.27 / 10.0, -20.0 * 4.5 / 10.0);
    brette::network("cuba", lif(), n, p, (we, wi), 1, record)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The network's asynchronous irregular state, at Brian2's rate within
    // the spread of random connectivity.
    brette::run("cuba", |r| cuba(4000, 0.02, r), &[0, 1, 2], 5.75, 3.0..9.0)
}

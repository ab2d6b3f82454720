//! Brette et al. (2007) COBAHH, as in Brian2's `examples/COBAHH.py`: 4000
//! Hodgkin–Huxley neurons (Traub–Miles rates; 3200 excitatory, 800
//! inhibitory) with conductance-based exponential synapses, written as
//! equations and integrated by exponential Euler; connection probability
//! 0.02, `ge += we` (6 nS) from the excitatory and `gi += wi` (67 nS) from
//! the inhibitory neurons; threshold `v > -20 mV`, refractory 3 ms, no
//! reset; 1000 ms at dt = 0.1 ms. Units: mV, ms, nS, pF (so pA/pF = mV/ms;
//! the membrane area 20000 µm² gives Cm = 200 pF, gl = 10 nS, g_na =
//! 20000 nS, g_kd = 6000 nS). Brian2's `exprel` rates are written out as
//! `x / (exp(x/k) - 1)` with their limit `k` at `x = 0`. Writes a raster and `v` of three neurons to
//! `out/`, prints the rates and checks them against Brian2's (about 37 Hz).
use snn::equations::{Method, NeuronModel};
use snn::network::Record;

#[path = "shared/brette.rs"]
mod brette;

/// The model of both populations.
pub fn hh() -> NeuronModel {
    NeuronModel::new()
        .named("cobahh")
        .equation(
            "v",
            "(gl*(El - v) + ge*(Ee - v) + gi*(Ei - v) - g_na*(m*m*m)*h*(v - ENa) - g_kd*(n*n*n*n)*(v - EK)) / Cm",
        )
        .equation("m", "alpha_m*(1 - m) - beta_m*m")
        .equation("n", "alpha_n*(1 - n) - beta_n*n")
        .equation("h", "alpha_h*(1 - h) - beta_h*h")
        .equation("ge", "-ge / taue")
        .equation("gi", "-gi / taui")
        // Brian2's `k / exprel(x / k)`, written out as `x / (exp(x / k) - 1)`
        // with its limit k where x is 0 (float32 v does land on VT + 13).
        .subexpression("xm", "13 - v + VT")
        .subexpression("xb", "v - VT - 40")
        .subexpression("xn", "15 - v + VT")
        .subexpression("alpha_m", "0.32*(4 if xm == 0 else xm / (exp(xm/4) - 1))")
        .subexpression("beta_m", "0.28*(5 if xb == 0 else xb / (exp(xb/5) - 1))")
        .subexpression("alpha_h", "0.128*exp((17 - v + VT)/18)")
        .subexpression("beta_h", "4/(1 + exp((40 - v + VT)/5))")
        .subexpression("alpha_n", "0.032*(5 if xn == 0 else xn / (exp(xn/5) - 1))")
        .subexpression("beta_n", "0.5*exp((10 - v + VT)/40)")
        .param("Cm", 200.0)
        .param("gl", 10.0)
        .param("g_na", 20000.0)
        .param("g_kd", 6000.0)
        .param("El", -60.0)
        .param("EK", -90.0)
        .param("ENa", 50.0)
        .param("VT", -63.0)
        .param("Ee", 0.0)
        .param("Ei", -80.0)
        .param("taue", 5.0)
        .param("taui", 10.0)
        .init("v", "El + (randn()*5 - 5)")
        .init("ge", "(randn()*1.5 + 4) * 10")
        .init("gi", "(randn()*12 + 20) * 10")
        .threshold("v > -20")
        .refractory(3.0)
        .method(Method::ExponentialEuler)
}

/// The network: `n` neurons in one nucleus `P`, its excitatory and
/// inhibitory subgroups connected to it with probability `p`.
pub fn cobahh(n: usize, p: f64, record: Record) -> snn::Result<brette::Brette> {
    brette::network("cobahh", hh(), n, p, (6.0, 67.0), 1, record)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    brette::run(
        "cobahh",
        |r| cobahh(4000, 0.02, r),
        &[1, 10, 100],
        37.0,
        25.0..50.0,
    )
}

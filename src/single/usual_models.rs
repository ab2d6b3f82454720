//! The usual models, with the numbers of the original library (docs/semantics.md §2.4).

use crate::single::integrate::Method;
use crate::single::model::{Model, Variable};

/// Hodgkin–Huxley: `V` (mV), gates `n`, `m`, `h`; spike `V >= 30`, RK4.
pub fn hodgkin_huxley() -> Model {
    let gate = |x: &str| format!("alpha_{x}*(1-{x}) - beta_{x}*{x}");
    Model::new(vec![
        Variable::new(
            "V",
            "(1/Cm)*(-gk*n**4*(V-Vk) - gna*m**3*h*(V-Vna) - gl*(V-Vl) + Iapp)",
            -60.0,
        )
        .unit("mV"),
        Variable::new("n", gate("n"), 1.0 / 3.0),
        Variable::new("m", gate("m"), 0.0),
        Variable::new("h", gate("h"), 2.0 / 3.0),
    ])
    .param("Cm", 1.0)
    .param("gk", 36.0)
    .param("gna", 120.0)
    .param("gl", 0.3)
    .param("Vk", -77.0)
    .param("Vna", 50.0)
    .param("Vl", -54.4)
    .param("Iapp", 0.0)
    .param("alpha_n", "0.01*(-V-55)/(exp((-V-55)/10)-1)")
    .param("beta_n", "0.125*exp((-V-65)/80)")
    .param("alpha_m", "0.1*(-V-40)/(exp((-V-40)/10)-1)")
    .param("beta_m", "4*exp((-V-65)/18)")
    .param("alpha_h", "0.07*exp((-V-65)/20)")
    .param("beta_h", "1/(1+exp((-V-36)/10))")
    .spike_when("V>=30")
    .method(Method::Rk4)
}

/// FitzHugh–Nagumo: `v` (init -1.25), `w` (init -1); `a=0.7, b=1.2,
/// tau=12.5, I=0`; spike `v >= 0`.
pub fn fitzhugh_nagumo() -> Model {
    Model::new(vec![
        Variable::new("v", "-w + v - (1/3)*v**3 + I", -1.25),
        Variable::new("w", "(1/tau)*(v + a - b*w)", -1.0),
    ])
    .param("a", 0.7)
    .param("b", 1.2)
    .param("tau", 12.5)
    .param("I", 0.0)
    .spike_when("v>=0")
    .method(Method::Rk4)
}

/// Izhikevich (regular spiking): `v` (init -65, reset `c`), `u` (init -15,
/// reset `u+d`); spike `v >= 30`, clamp 30.
pub fn izhikevich() -> Model {
    Model::new(vec![
        Variable::new("v", "0.04*v**2 + 5*v + 140 - u + I", -65.0)
            .reset("c")
            .unit("mV"),
        Variable::new("u", "a*(b*v - u)", -15.0).reset("u+d"),
    ])
    .param("a", 0.02)
    .param("b", 0.2)
    .param("c", -65.0)
    .param("d", 8.0)
    .param("I", 0.0)
    .spike_when("v>=30")
    .max_spike_value(30.0)
    .method(Method::Rk4)
}

/// Leaky integrate-and-fire: `u` (init 0, reset `ur`); `tau_m=10, R=1,
/// ur=0, I=0`; spike `u >= 1`, clamp 1.
pub fn lif() -> Model {
    Model::new(vec![
        Variable::new("u", "(1/tau_m)*(-u + R*I)", 0.0).reset("ur")
    ])
    .param("tau_m", 10.0)
    .param("R", 1.0)
    .param("ur", 0.0)
    .param("I", 0.0)
    .spike_when("u>=1")
    .max_spike_value(1.0)
    .method(Method::Rk4)
}

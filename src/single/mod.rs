//! The single-neuron toolkit: models written as ODE strings, compiled to
//! native code in Rust (no TensorFlow).
//!
//! A [`Model`] holds [`Variable`]s (derivative, initial value, optional
//! reset, unit), parameters (numbers or expressions), a spike condition, a
//! clamp and a [`Method`]. Expressions use Python's syntax (see [`expr`]) and
//! are compiled once into flat programs over slots, and for long
//! simulations into native code (feature `jit`, Cranelift; identical
//! results). [`Model::simulation`]
//! integrates the whole system (docs/semantics.md §2.3); [`phase`] computes phase planes,
//! fixed points and f–I curves; [`plot`] draws them.
//!
//! ```
//! use snn::single::{Model, Variable};
//! # fn main() -> snn::Result<()> {
//! let v = Variable::new("v", "v - (1/3)*v**3 - w + I", 0.0);
//! let w = Variable::new("w", "(1/tau)*(v + a - b*w)", 0.0);
//! let mut fhn = Model::new(vec![v, w]).param("a", 0.7).param("b", 0.8).param("tau", 12.5).param("I", 0.5);
//! fhn.set("I", ".5 if t < 500 else 0")?;
//! let history = fhn.simulation(1000.0, 0.1)?;
//! assert_eq!(history.column("v")?.len(), 10_001);
//! # Ok(()) }
//! ```

mod compiled;
pub mod expr;
pub mod integrate;
#[cfg(feature = "jit")]
mod jit;
mod model;
pub mod phase;
pub mod plot;
mod simulate;
pub mod usual_models;

pub use compiled::Rhs;
pub use integrate::Method;
pub use model::{Engine, History, Model, SimulationOptions, Value, Variable};
pub use phase::{FixedPoint, FixedPointKind, PhasePlane, PhasePlaneData};

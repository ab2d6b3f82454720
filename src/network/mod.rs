//! Networks of nuclei (Izhikevich neurons, models written as equations,
//! Poisson groups) and their connections (static or plastic) compiled into
//! a TensorFlow graph.
//!
//! The layers, one direction: a [`Network`] (plain Rust: [`Nucleus`],
//! [`Connection`], what to [`Record`]) is compiled by [`Network::build`] into
//! a TensorFlow graph owned by a [`Simulator`], which steps it one session run
//! per time step and returns a [`Recording`] (plain arrays); [`plot`] reads
//! recordings. What one step computes is docs/semantics.md §1; the order is written down in
//! the compiler's module docs.
//!
//! ```no_run
//! use snn::network::{Network, Nucleus, Record};
//! # fn main() -> snn::Result<()> {
//! let mut net = Network::new().named("two");
//! let a = net.add(Nucleus::new("A", 10).input(5.0).record(Record::traces(&[0])))?;
//! let b = net.add(Nucleus::new("B", 10))?;
//! net.connect(a, b, 2.0)?;
//! let mut sim = net.build(0.1)?;
//! let rec = sim.run(100.0)?;
//! println!("A fires at {:.1} Hz", rec.firing_rate(a)?);
//! # Ok(()) }
//! ```

mod checkpoint;
mod cluster;
mod compile;
mod connectivity;
mod export;
mod model;
mod native;
mod plan;
pub mod plot;
mod poisson;
mod proto;
mod recording;
mod simulator;
mod stream;
mod subgroup;
mod tensorboard;
mod tf_status;

pub use checkpoint::Checkpointing;
pub use cluster::{ClusterSpec, Server};
pub use connectivity::{Connectivity, RandomWeights, WeightValue};
pub use model::{
    Connection, ConnectionId, Delays, Input, InputFn, KernelFn, Network, Nucleus, NucleusId, Param,
    Probe, Propagation, Record, StateVar, SynapseKind, Weights,
};
pub use plan::{PropagationChoice, RoundingNote, WeightLayout, DENSE_FROM_DENSITY};
pub use poisson::{poisson_model, Rate};
pub use recording::{NucleusRecording, Recording, Trace, WeightSnapshots};
pub use simulator::{
    Executor, SimOptions, Simulator, MODELS_SINGLE_THREADED_UP_TO, ONE_INTRA_OP_THREAD_FROM,
    REMOTE_RUN_TIMEOUT_MS, SINGLE_THREADED_UP_TO, WEIGHT_SUMMARY_MS,
};
pub use subgroup::Subgroup;

//! # snn — spiking neural networks on TensorFlow graphs
//!
//! Two halves:
//!
//! * [`network`]: populations ("nuclei") of Izhikevich neurons and their
//!   delayed, kernel-shaped connections, described as plain Rust values
//!   ([`network::Network`], [`network::Nucleus`], [`network::Connection`]),
//!   compiled into a real TensorFlow graph and stepped one session run per
//!   time step by a [`network::Simulator`]; what it records comes back as a
//!   [`network::Recording`] of `ndarray` arrays, with
//!   [`network::plot`]s and TensorBoard event files. A simulator can
//!   [export](network::Simulator::export) its graph for other TensorFlow
//!   runtimes, [checkpoint](network::Simulator::save_checkpoint) and resume
//!   (also [periodically](network::Simulator::run_checkpointed)), and run
//!   across the tasks of a TensorFlow cluster ([`network::ClusterSpec`],
//!   [`network::Server`]).
//! * [`single`]: the single-neuron toolkit, TensorFlow-free: models written
//!   as ODE strings ([`single::Model`], [`single::Variable`]), Euler/RK4,
//!   the [usual models](single::usual_models), phase planes, fixed points,
//!   f–I curves and [plots](single::plot).
//!
//! [`runtime`] is the TensorFlow runtime the crate links (version, devices,
//! quiet logging). Errors of every kind are one [`Error`] enum naming the
//! culprit; fallible functions return [`Result`]. [`memory`] says how much a
//! recording may take.
//!
//! The `network` feature (on by default) brings the TensorFlow half:
//! without it (`default-features = false, features = ["jit"]`) the crate
//! builds with no TensorFlow crate and no libtensorflow, and is the
//! single-neuron toolkit alone.
#![warn(missing_docs, missing_debug_implementations)]

pub mod equations;
pub mod error;
pub mod memory;
#[cfg(feature = "network")]
pub mod network;
mod plotting;
#[cfg(feature = "network")]
pub mod runtime;
pub mod single;

pub use error::{Error, Result};

/// With the `mimalloc` feature, mimalloc is the program's allocator: Rust's
/// (this global allocator) and, built with mimalloc's `override`, the C
/// `malloc` that TensorFlow allocates its tensors with
/// ([`runtime::allocator`] says which one serves).
#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The user guide's code blocks, compiled and run as doc tests.
#[cfg(all(doctest, feature = "network", feature = "jit"))]
#[doc = include_str!("../docs/guide.md")]
pub struct GuideDoctests;

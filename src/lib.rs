//! # snn — spiking neural networks on TensorFlow graphs
//!
//! Two halves:
//!
//! * [`runtime`]: the TensorFlow runtime this crate links (version, devices,
//!   quiet logging). The network engine is built on it.
//!
//! Errors of every kind are one [`Error`] enum; fallible functions return
//! [`Result`].
#![warn(missing_docs, missing_debug_implementations)]

pub mod error;
pub mod network;
mod plotting;
pub mod runtime;
pub mod single;

pub use error::{Error, Result};

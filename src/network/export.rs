//! The manifest of an exported network: what another TensorFlow program
//! needs to step the graph. TensorFlow-free (the simulator fills it in).
//!
//! An export folder holds `graph.pb` (the binary GraphDef), `variables/`
//! (a checkpoint of every variable, written by TensorFlow's `SaveV2`; see
//! the `checkpoint` module) and `manifest.json`, this struct. Tensor names
//! are `op:index` as TensorFlow 1's `Session.run` takes them.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use crate::error::{write_err, Result};
use crate::network::checkpoint::VarEntry;

mod graph_def;
mod simulator;

/// Format tag of `manifest.json`.
pub(crate) const FORMAT: &str = "snn-export-1";

#[derive(Debug, Serialize)]
pub(crate) struct ExportManifest {
    pub format: &'static str,
    pub network: String,
    /// Time step (ms).
    pub dt: f64,
    /// The step the exported state is at (0 right after building).
    pub step: u64,
    /// The GraphDef file.
    pub graph: &'static str,
    pub checkpoint: CheckpointNames,
    /// The op to run (as a target) once per time step.
    pub step_op: String,
    /// The step counter (int64 scalar).
    pub step_tensor: String,
    /// Host inputs to feed every step.
    pub inputs: Vec<InputFeed>,
    pub nuclei: Vec<NucleusFetches>,
    pub variables: Vec<VarEntry>,
}

#[derive(Debug, Serialize)]
pub(crate) struct CheckpointNames {
    /// Checkpoint prefix relative to the export folder.
    pub prefix: String,
    /// String scalar to feed the (absolute) prefix to.
    pub prefix_tensor: String,
    /// Target that restores every variable from the prefix.
    pub restore_op: String,
    /// Target that saves every variable to the prefix.
    pub save_op: String,
}

#[derive(Debug, Serialize)]
pub(crate) struct InputFeed {
    pub nucleus: String,
    /// float32 placeholder of shape `shape`: the external current (pA-like
    /// units of the model) of each neuron for this step.
    pub tensor: String,
    pub shape: Vec<u64>,
    pub dtype: &'static str,
}

#[derive(Debug, Serialize)]
pub(crate) struct NucleusFetches {
    pub label: String,
    pub n: usize,
    /// int64 `[k, 1]`: indices of the neurons that spiked this step.
    pub spikes_tensor: String,
    /// float32 values after the step of the recorded neurons, per variable.
    pub traces: BTreeMap<String, TraceFetch>,
}

#[derive(Debug, Serialize)]
pub(crate) struct TraceFetch {
    pub tensor: String,
    pub neurons: Vec<usize>,
}

impl ExportManifest {
    pub(crate) fn write(&self, dir: &Path) -> Result<()> {
        let path = dir.join("manifest.json");
        let json = serde_json::to_vec_pretty(self).map_err(|e| write_err(&path, e))?;
        std::fs::write(&path, json).map_err(|e| write_err(&path, e))
    }
}

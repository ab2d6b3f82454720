//! [`Simulator::export`]: the graph, the variables and the manifest written
//! for another TensorFlow runtime.

use std::path::Path;

use crate::error::{write_err, Error, Result};
use crate::network::checkpoint;
use crate::network::export::{
    self, CheckpointNames, ExportManifest, InputFeed, NucleusFetches, TraceFetch,
};
use crate::network::native::{ROW_SUMS, ROW_SUMS_AT};
use crate::network::simulator::Simulator;

/// `op:0`, as TensorFlow 1's `Session.run` names an op's first output.
fn tensor_name(op: &tensorflow::Operation) -> Result<String> {
    Ok(format!("{}:0", op_name(op)?))
}

fn op_name(op: &tensorflow::Operation) -> Result<String> {
    op.name().map_err(|e| Error::TensorFlow {
        context: "naming an op for the export".into(),
        message: e.to_string(),
    })
}

/// Export for other TensorFlow runtimes.
impl Simulator {
    /// Write the compiled network to the folder `dir` so that another
    /// TensorFlow program (Python's `tf.compat.v1`, C, C++, Java) can load
    /// and step the very same graph: `graph.pb` (the binary GraphDef),
    /// `variables/` (the current value of every variable, saved with
    /// TensorFlow's `SaveV2`: right after [`build`](crate::network::Network::build), the
    /// initial state) and `manifest.json` (dt, the step op, the host-input
    /// placeholders with shapes, the spike and trace tensors of every
    /// nucleus, its label and size, the restore op and its prefix
    /// placeholder). docs/guide.md shows a Python loader.
    ///
    /// The exported step is one time step per run (the first copy when
    /// [`SimOptions::steps_per_run`](crate::network::SimOptions::steps_per_run) is more than 1).
    ///
    /// A graph that sums compressed rows with snn's own kernel (built
    /// without [`SimOptions::portable`](crate::network::SimOptions::portable))
    /// is refused with [`Error::InvalidOption`] naming the op: other runtimes
    /// do not have it.
    pub fn export(&self, dir: impl AsRef<Path>) -> Result<()> {
        let dir = dir.as_ref();
        let graph = self.compiled.scope.graph();
        let native = graph.operation_iter().find(|op| {
            op.op_type()
                .is_ok_and(|t| [ROW_SUMS, ROW_SUMS_AT].contains(&t.as_str()))
        });
        if let Some(op) = native {
            return Err(Error::InvalidOption {
                option: "portable".into(),
                problem: format!(
                    "the graph sums compressed rows with snn's kernel {} ({}), which other \
                     TensorFlow runtimes do not have: build the network with \
                     SimOptions::portable() to export it (this simulator's checkpoint \
                     restores into that build)",
                    op.op_type().unwrap_or_default(),
                    op_name(&op)?
                ),
            });
        }
        drop(graph);
        std::fs::create_dir_all(dir).map_err(|e| write_err(dir, e))?;
        let graph = dir.join("graph.pb");
        std::fs::write(&graph, self.graph_def()?).map_err(|e| write_err(&graph, e))?;
        self.save_checkpoint(dir.join("variables"))?;
        let ck = &self.compiled.checkpoint;
        let copy = &self.compiled.copies[0];
        let mut inputs = Vec::new();
        let mut nuclei = Vec::with_capacity(self.nuclei.len());
        for (nu, ops) in self.nuclei.iter().zip(copy) {
            if let Some(ph) = &ops.host_input {
                inputs.push(InputFeed {
                    nucleus: nu.label.clone(),
                    tensor: tensor_name(ph)?,
                    shape: vec![nu.n as u64],
                    dtype: "float32",
                });
            }
            let mut traces = std::collections::BTreeMap::new();
            for ((var, op), (_, neurons)) in ops.traces.iter().zip(&nu.traces) {
                traces.insert(
                    var.clone(),
                    TraceFetch {
                        tensor: tensor_name(op)?,
                        neurons: neurons.clone(),
                    },
                );
            }
            nuclei.push(NucleusFetches {
                label: nu.label.clone(),
                n: nu.n,
                spikes_tensor: tensor_name(&ops.spikes)?,
                traces,
            });
        }
        ExportManifest {
            format: export::FORMAT,
            network: self.name.clone(),
            dt: self.dt,
            step: self.step as u64,
            graph: "graph.pb",
            checkpoint: CheckpointNames {
                prefix: format!("variables/{}", checkpoint::STATE_PREFIX),
                prefix_tensor: tensor_name(&ck.prefix)?,
                restore_op: op_name(&ck.restore)?,
                save_op: op_name(&ck.save)?,
            },
            step_op: op_name(&self.compiled.steps[0])?,
            step_tensor: tensor_name(&ck.step)?,
            inputs,
            nuclei,
            variables: ck.variables.clone(),
        }
        .write(dir)
    }
}

//! [`Simulator::export`]: the graph, the variables and the manifest written
//! for another TensorFlow runtime.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use crate::error::{write_err, Error, Result};
use crate::network::checkpoint;
use crate::network::export::{
    self, graph_def, CheckpointNames, ExportManifest, InputFeed, NucleusFetches, TraceFetch,
};
use crate::network::native::{self, portable_name};
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
    /// The GraphDef with each of snn's kernels replaced by the twin of
    /// TensorFlow's ops the compiler built beside it (which the step never
    /// runs), renamed so that the kernel's consumers read it: the twin of
    /// `SnnUniform` `x` is `x/portable`; the row sums' output goes through
    /// a reshape `r` (it has no static shape), whose twin is `r/portable`
    /// and which is dropped with the kernel.
    fn portable_graph_def(&self) -> Result<Vec<u8>> {
        let internal = |message: String| Error::Internal {
            context: "exporting the graph without snn's kernels".into(),
            message,
        };
        let mut drop = HashSet::new();
        let mut rename = HashMap::new();
        {
            let graph = self.compiled.scope.graph();
            let has = |name: &str| graph.operation_by_name(name).ok().flatten().is_some();
            for op in graph.operation_iter() {
                if !op
                    .op_type()
                    .is_ok_and(|t| native::OPS.contains(&t.as_str()))
                {
                    continue;
                }
                let name = op_name(&op)?;
                let own_twin = portable_name(&name);
                if has(&own_twin) {
                    rename.insert(own_twin, name.clone());
                    drop.insert(name);
                    continue;
                }
                let [(reshape, _)] = &op.output_consumers(0)[..] else {
                    return Err(internal(format!("{name}: not read by one reshape")));
                };
                let shape = reshape.input(1).0;
                let reshape = op_name(reshape)?;
                let twin = portable_name(&reshape);
                if !has(&twin) {
                    return Err(internal(format!("{name}: no {twin}")));
                }
                if shape.output_consumers(0).len() == 1 {
                    drop.insert(op_name(&shape)?);
                }
                drop.extend([name, reshape.clone()]);
                rename.insert(twin, reshape);
            }
        }
        let bytes = self.graph_def()?;
        if drop.is_empty() {
            return Ok(bytes);
        }
        let out = graph_def::rewrite(&bytes, &drop, &rename).map_err(internal)?;
        let nodes = graph_def::nodes(&out).map_err(internal)?;
        if let Some((name, op)) = nodes
            .iter()
            .find(|(_, op)| native::OPS.contains(&op.as_str()))
        {
            return Err(internal(format!("{name} ({op}) is still in the graph")));
        }
        Ok(out)
    }

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
    /// Where the graph sums compressed rows with snn's own kernel (which
    /// other runtimes do not have), the exported graph has TensorFlow's ops
    /// in its place: the same sums, the same bits (docs/design.md, "Rows
    /// summed by snn's kernel").
    pub fn export(&self, dir: impl AsRef<Path>) -> Result<()> {
        let dir = dir.as_ref();
        let graph_def = self.portable_graph_def()?;
        std::fs::create_dir_all(dir).map_err(|e| write_err(dir, e))?;
        let graph = dir.join("graph.pb");
        std::fs::write(&graph, graph_def).map_err(|e| write_err(&graph, e))?;
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
                spikes_tensor: format!("{}:{}", op_name(&ops.spikes.operation)?, ops.spikes.index),
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

//! [`Simulator::weights`]: a connection's weights as they are now (learned
//! ones included), read from their variables.

use ndarray::Array2;
use tensorflow::{SessionRunArgs, Tensor};

use super::Simulator;
use crate::error::{Error, Result, TfContext};
use crate::network::compile::propagation::WeightOps;
use crate::network::model::{ConnectionId, Weights};

impl Simulator {
    /// The current weights of connection `id`: [`Weights::DenseF32`] of
    /// shape `(pre.n, post.n)` for dense weights, [`Weights::CsrF32`] for
    /// compressed rows (the precision and layout the graph holds). For a
    /// connection with plastic synapses, the weights learned so far.
    pub fn weights(&self, id: ConnectionId) -> Result<Weights> {
        let ops = match self.compiled.weights.get(id.index) {
            Some(ops) if id.network == self.network => ops,
            _ => return Err(Error::ForeignConnection { index: id.index }),
        };
        let what = || format!("reading the weights of connection #{}", id.index);
        let mut args = SessionRunArgs::new();
        match ops {
            WeightOps::Dense(read) => {
                let token = args.request_fetch(read, 0);
                self.session.run(&mut args).tf(what)?;
                let t: Tensor<f32> = args.fetch(token).tf(what)?;
                let dims = t.dims().to_vec();
                let (rows, cols) = (dims[0] as usize, dims[1] as usize);
                let w = Array2::from_shape_vec((rows, cols), t.to_vec()).map_err(|e| {
                    Error::Internal {
                        context: what(),
                        message: e.to_string(),
                    }
                })?;
                Ok(Weights::DenseF32(w))
            }
            WeightOps::Csr { indptr, cols, w } => {
                let (tp, tc, tw) = (
                    args.request_fetch(indptr, 0),
                    args.request_fetch(cols, 0),
                    args.request_fetch(w, 0),
                );
                self.session.run(&mut args).tf(what)?;
                let indptr: Tensor<i64> = args.fetch(tp).tf(what)?;
                let cols: Tensor<i32> = args.fetch(tc).tf(what)?;
                let values: Tensor<f32> = args.fetch(tw).tf(what)?;
                Ok(Weights::CsrF32 {
                    indptr: indptr.iter().map(|&x| x as usize).collect(),
                    indices: cols.iter().map(|&x| x as u32).collect(),
                    values: values.to_vec(),
                })
            }
        }
    }

    /// The traces of connection `id`'s synapse model as they are now, by
    /// name: one value per presynaptic neuron for a trace changed by
    /// `on_pre`, per postsynaptic neuron for one changed by `on_post`
    /// (docs/semantics.md §3.6). Empty for static synapses.
    pub fn synapse_traces(&self, id: ConnectionId) -> Result<Vec<(String, Vec<f32>)>> {
        let reads = match self.compiled.synapse_traces.get(id.index) {
            Some(reads) if id.network == self.network => reads,
            _ => return Err(Error::ForeignConnection { index: id.index }),
        };
        let what = || format!("reading the synapse traces of connection #{}", id.index);
        let mut args = SessionRunArgs::new();
        let tokens: Vec<_> = reads
            .iter()
            .map(|(_, op)| args.request_fetch(op, 0))
            .collect();
        if !tokens.is_empty() {
            self.session.run(&mut args).tf(what)?;
        }
        reads
            .iter()
            .zip(tokens)
            .map(|((name, _), token)| {
                let t: Tensor<f32> = args.fetch(token).tf(what)?;
                Ok((name.clone(), t.to_vec()))
            })
            .collect()
    }
}

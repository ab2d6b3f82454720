//! [`Simulator::weights`]: a connection's weights as they are now (learned
//! ones included), read from their variables.

use ndarray::Array2;
use tensorflow::{SessionRunArgs, Tensor};

use super::Simulator;
use crate::error::{Error, Result, TfContext};
use crate::network::compile::propagation::WeightOps;
use crate::network::model::{ConnectionId, Weights};
use crate::network::plan::check_size;
use crate::network::recording::{Recording, WeightSnapshots};

impl Simulator {
    /// The current weights of connection `id`: [`Weights::DenseF32`] of
    /// shape `(pre.n, post.n)` for dense weights, [`Weights::CsrF32`] for
    /// compressed rows (the precision and layout the graph holds). For a
    /// connection with plastic synapses, the weights learned so far. With
    /// per-synapse delays the synapses of each row are listed by delay
    /// (ascending; [`delays`](Self::delays) gives them in the same order).
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
                // A block between subgroups (a presynaptic subgroup's rows
                // and a row of zeros, a postsynaptic one's columns): laid
                // back into the whole nuclei's rows and columns.
                match self.compiled.own.get(id.index).copied().flatten() {
                    None => Ok(Weights::DenseF32(w)),
                    Some(own) => {
                        let mut all = Array2::zeros((own.pre_all, own.post_all));
                        let (r0, nr) = own.rows.unwrap_or((0, rows));
                        let (c0, nc) = own.cols.unwrap_or((0, cols));
                        all.slice_mut(ndarray::s![r0..r0 + nr, c0..c0 + nc])
                            .assign(&w.slice(ndarray::s![..nr, ..nc]));
                        Ok(Weights::DenseF32(all))
                    }
                }
            }
            WeightOps::Csr {
                indptr, cols, w, ..
            } => {
                let (tp, tc, tw) = (
                    args.request_fetch(indptr, 0),
                    args.request_fetch(cols, 0),
                    args.request_fetch(w, 0),
                );
                self.session.run(&mut args).tf(what)?;
                let indptr: Tensor<i64> = args.fetch(tp).tf(what)?;
                let cols: Tensor<i32> = args.fetch(tc).tf(what)?;
                let values: Tensor<f32> = args.fetch(tw).tf(what)?;
                // Rows keyed by (neuron, delay): a neuron's rows are
                // contiguous, every (K + 1)-th pointer starts one.
                let width = match &self.compiled.synapse_lags[id.index] {
                    Some(lags) => lags.len() + 1,
                    None => 1,
                };
                Ok(Weights::CsrF32 {
                    indptr: indptr.iter().step_by(width).map(|&x| x as usize).collect(),
                    indices: cols.iter().map(|&x| x as u32).collect(),
                    values: values.to_vec(),
                })
            }
        }
    }

    /// The delay of each synapse of connection `id` in ms (whole steps), in
    /// the order [`weights`](Self::weights) lists the synapses; `None` for
    /// a connection without per-synapse delays (its one delay applies).
    pub fn delays(&self, id: ConnectionId) -> Result<Option<Vec<f64>>> {
        let (ops, lags) = match (
            self.compiled.weights.get(id.index),
            self.compiled.synapse_lags.get(id.index),
        ) {
            (Some(ops), Some(lags)) if id.network == self.network => (ops, lags),
            _ => return Err(Error::ForeignConnection { index: id.index }),
        };
        let (Some(lags), WeightOps::Csr { indptr, .. }) = (lags, ops) else {
            return Ok(None);
        };
        let what = || format!("reading the delays of connection #{}", id.index);
        let mut args = SessionRunArgs::new();
        let token = args.request_fetch(indptr, 0);
        self.session.run(&mut args).tf(what)?;
        let indptr: Tensor<i64> = args.fetch(token).tf(what)?;
        let width = lags.len() + 1;
        let mut out = Vec::with_capacity(indptr.last().copied().unwrap_or(0) as usize);
        for (row, pair) in indptr.windows(2).enumerate() {
            // The empty last row of each neuron has no delay of its own.
            let ms = lags.get(row % width).map_or(0.0, |&l| l as f64 * self.dt);
            out.extend(std::iter::repeat_n(ms, (pair[1] - pair[0]) as usize));
        }
        Ok(Some(out))
    }

    /// The traces of connection `id`'s synapse model as they are now, by
    /// name: one value per presynaptic neuron for a trace changed by
    /// `on_pre`, per postsynaptic neuron for one changed by `on_post`
    /// (docs/semantics.md §3.6). Empty for static synapses. With
    /// per-synapse delays a presynaptic trace is its neuron's, the value a
    /// synapse of delay 0 holds (one of delay `d` holds it `d` steps late).
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

impl Simulator {
    /// Room in `rec` for the weight snapshots of a run of `steps`, of which
    /// `held` are in memory at once (all, or a streamed run's chunk),
    /// within the memory `limit`.
    pub(in crate::network) fn start_snapshots(
        &self,
        rec: &mut Recording,
        (steps, held): (usize, usize),
        limit: u64,
    ) -> Result<()> {
        let mut bytes = 0u64;
        for sn in &self.snapshots {
            let (every, name) = (sn.every, &sn.name);
            let mut taken = (self.step + steps) / every - self.step / every;
            if held < steps {
                // Streamed: the snapshots of one chunk at a time.
                taken = taken.min(held / every + 1);
            }
            bytes = bytes.saturating_add(taken as u64 * sn.count * 4);
            check_size(
                || format!("the weight snapshots of connection {name} in this run"),
                bytes,
                1,
                limit,
                "a longer snapshot period, or a shorter run",
            )?;
            rec.weights.push(WeightSnapshots {
                connection: name.clone(),
                index: sn.index,
                times_ms: Vec::new(),
                values: Vec::new(),
            });
        }
        Ok(())
    }

    /// After the session run that advanced from step `from` to the current
    /// step: a snapshot of each recorded connection whose period ended in
    /// between.
    pub(in crate::network) fn take_snapshots(
        &self,
        rec: &mut Recording,
        from: usize,
    ) -> Result<()> {
        for (k, sn) in self.snapshots.iter().enumerate() {
            if self.step / sn.every > from / sn.every {
                let w = self.weights(ConnectionId {
                    network: self.network,
                    index: sn.index,
                })?;
                rec.weights[k].times_ms.push(self.step as f64 * self.dt);
                rec.weights[k].values.push(w);
            }
        }
        Ok(())
    }
}

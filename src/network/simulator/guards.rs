//! What keeps a run within bounds: the memory its recording may take, the
//! stream that takes the recording to disk instead, and the finite-state
//! check that stops a diverging run (docs/design.md, "Memory, streaming,
//! divergence").

use std::path::Path;

use tensorflow::SessionRunArgs;

use super::{NucleusInfo, Simulator};
use crate::error::{Error, Result, TfContext};
use crate::network::plan::run_steps;
use crate::network::recording::Recording;
use crate::network::stream::{RecordingStream, StreamLayout};

/// Steps between finite-state checks for an interval of `ms` (0: none).
pub(super) fn check_every(ms: f64, dt: f64) -> Result<usize> {
    if !(ms.is_finite() && ms >= 0.0) {
        return Err(Error::InvalidOption {
            option: "SimOptions::finite_check_ms".into(),
            problem: format!("{ms} ms: give a number of ms >= 0 (0 turns the check off)"),
        });
    }
    Ok(if ms > 0.0 {
        ((ms / dt).round() as usize).max(1)
    } else {
        0
    })
}

impl Simulator {
    /// The bytes the traces of a [`run`](Self::run) of `t_ms` from the
    /// current step would take in memory (spikes come on top, 16 bytes
    /// each): what the run checks against [`SimOptions::memory_limit`](super::SimOptions::memory_limit).
    pub fn recording_bytes(&self, t_ms: f64) -> Result<u64> {
        self.trace_bytes(run_steps(t_ms, self.dt)?, u64::MAX)
    }

    /// Change the finite-state check's interval for the runs to come (see
    /// [`SimOptions::finite_check_ms`](super::SimOptions::finite_check_ms); 0 turns it off).
    pub fn set_finite_check_ms(&mut self, ms: f64) -> Result<()> {
        self.check_every = check_every(ms, self.dt)?;
        self.options.finite_check_ms = ms;
        Ok(())
    }

    /// A stream of this simulator's recordings into `dir` from the current
    /// step; with `rows`, resuming files cut back to them.
    pub(in crate::network) fn open_stream(
        &self,
        dir: &Path,
        spikes: bool,
        rows: Option<&std::collections::BTreeMap<String, u64>>,
    ) -> Result<RecordingStream> {
        let layout: Vec<StreamLayout<'_>> = self
            .nuclei
            .iter()
            .map(|nu| StreamLayout {
                label: &nu.label,
                n: nu.n,
                spikes: nu.spikes && spikes,
                traces: nu
                    .traces
                    .iter()
                    .map(|(v, idx)| (v.as_str(), idx.as_slice()))
                    .collect(),
            })
            .collect();
        RecordingStream::open(
            dir,
            (&self.name, self.network),
            self.dt,
            self.step,
            &layout,
            &self.snapshots,
            rows,
        )
    }

    /// The bytes the traces of a run of `steps` steps from the current step
    /// take in memory; over `limit`, the error naming the nucleus that
    /// takes the most.
    pub(super) fn trace_bytes(&self, steps: usize, limit: u64) -> Result<u64> {
        let first = self.step as u64;
        let last = first + steps as u64; // exclusive
        let mut total = 0u64;
        let mut largest: Option<(u64, &NucleusInfo)> = None;
        for nu in &self.nuclei {
            let every = nu.every.max(1) as u64;
            // Recorded steps m in [first, last) with m % every == 0.
            let rows = last.div_ceil(every) - first.div_ceil(every);
            let width: u64 = nu
                .traces
                .iter()
                .map(|(_, idx)| 8 + 4 * idx.len() as u64)
                .sum();
            let bytes = rows.saturating_mul(width);
            total = total.saturating_add(bytes);
            if largest.is_none_or(|(b, _)| bytes > b) {
                largest = Some((bytes, nu));
            }
        }
        if total > limit {
            let (bytes, nu) = largest.map_or((0, "?"), |(b, nu)| (b, nu.label.as_str()));
            return Err(Error::MemoryLimit {
                what: format!(
                    "the traces of a run of {steps} steps ({bytes} bytes for nucleus {nu:?}, \
                     the most of any)"
                ),
                bytes: total,
                limit,
                ways_out: "record fewer neurons or variables (Record), every k-th step \
                           (Record::every), run in shorter pieces, stream to disk \
                           (SimOptions::stream_to), or raise SimOptions::memory_limit"
                    .into(),
            });
        }
        Ok(total)
    }

    /// After a chunk of `done` steps: stream what it recorded, or check that
    /// the recording still fits in memory (spikes grow with the run).
    pub(super) fn after_chunk(
        &mut self,
        rec: &mut Recording,
        done: usize,
        traces: u64,
        limit: u64,
    ) -> Result<()> {
        if let Some(stream) = &mut self.stream {
            return stream.drain(rec, done);
        }
        let spikes: u64 = rec.nuclei.iter().map(|r| r.spikes.len() as u64).sum();
        let bytes = traces.saturating_add(spikes.saturating_mul(16));
        if bytes > limit {
            let most = rec
                .nuclei
                .iter()
                .max_by_key(|r| r.spikes.len())
                .map_or(String::new(), |r| r.label.clone());
            return Err(Error::MemoryLimit {
                what: format!(
                    "the recording ({spikes} spikes so far, most of them of nucleus {most:?}, \
                     and the traces)"
                ),
                bytes,
                limit,
                ways_out: "record the spikes of fewer nuclei (Record::nothing), run in shorter \
                           pieces, stream to disk (SimOptions::stream_to), or raise \
                           SimOptions::memory_limit"
                    .into(),
            });
        }
        Ok(())
    }

    /// The error for nucleus `idx` found non-finite after step `step`: the
    /// first neuron and variable (`v`, `u`, `I`) that is, read from the
    /// variables.
    pub(super) fn diverged(&self, idx: usize, step: usize) -> Error {
        let nu = &self.nuclei[idx];
        let mut args = SessionRunArgs::new();
        let tokens: Vec<_> = self.compiled.copies[0][idx]
            .state
            .iter()
            .map(|(var, op)| (var.clone(), args.request_fetch(op, 0)))
            .collect();
        if let Err(e) = self
            .session
            .run(&mut args)
            .tf(|| format!("reading the state of nucleus {:?}", nu.label))
        {
            return e;
        }
        let mut found = (String::from("v, u or I"), 0, f32::NAN);
        for (var, token) in tokens {
            match args.fetch::<f32>(token) {
                Ok(values) => {
                    if let Some((i, x)) = values.iter().enumerate().find(|(_, x)| !x.is_finite()) {
                        found = (var.clone(), i, *x);
                        break;
                    }
                }
                Err(e) => {
                    return Error::TensorFlow {
                        context: format!("reading {var} of nucleus {:?}", nu.label),
                        message: e.to_string(),
                    }
                }
            }
        }
        Error::NetworkDiverged {
            nucleus: nu.label.clone(),
            neuron: found.1,
            variable: found.0,
            value: found.2,
            step,
            t_ms: step as f64 * self.dt,
            last_finite_step: self.last_finite_step,
        }
    }
}

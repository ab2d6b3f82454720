//! The simulator's side of checkpoints: TensorFlow's `SaveV2` and
//! `RestoreV2` run in its session, and checkpointed runs that stream their
//! spikes and traces as they go.

use std::path::Path;

use tensorflow::{SessionRunArgs, Tensor};

use crate::error::{write_err, Error, Result, TfContext};
use crate::network::checkpoint::{self, Checkpointing, Manifest, SpikeStream};
use crate::network::plan::run_steps;
use crate::network::recording::Recording;
use crate::network::simulator::Simulator;
use crate::network::stream::RecordingStream;

/// Checkpoint and resume (see the `checkpoint` module for the files).
impl Simulator {
    /// Save the whole simulation state (every variable: `v`, `u`, `I`, the
    /// spike rings, kernel traces, weights and the step counter, which also
    /// keys the in-graph noise) with TensorFlow's `SaveV2` into the folder
    /// `path`. The folder appears complete or not at all; an existing one is
    /// replaced.
    pub fn save_checkpoint(&self, path: impl AsRef<Path>) -> Result<()> {
        self.save_checkpoint_with(path.as_ref(), None, None)
    }

    fn save_checkpoint_with(
        &self,
        path: &Path,
        stream_bytes: Option<u64>,
        trace_rows: Option<std::collections::BTreeMap<String, u64>>,
    ) -> Result<()> {
        let staging = checkpoint::staging(path)?;
        let prefix = staging.join(checkpoint::STATE_PREFIX);
        let prefix = Tensor::from(prefix.to_string_lossy().into_owned());
        let ops = &self.compiled.checkpoint;
        let mut args = SessionRunArgs::new();
        args.add_feed(&ops.prefix, 0, &prefix);
        args.add_target(&ops.save);
        let saved = self
            .session
            .run(&mut args)
            .tf(|| format!("saving checkpoint {}", path.display()));
        if let Err(e) = saved {
            let _ = std::fs::remove_dir_all(&staging);
            return Err(e);
        }
        let mut manifest =
            Manifest::new(&self.name, self.dt, self.step as u64, ops.variables.clone());
        manifest.spike_stream_bytes = stream_bytes;
        manifest.trace_rows = trace_rows;
        checkpoint::commit(&staging, path, manifest)
    }

    /// Restore a checkpoint written by [`save_checkpoint`](Self::save_checkpoint)
    /// (in this process or another) into a simulator of the same network and
    /// dt: the simulation continues exactly as the saved one would have.
    ///
    /// The files are verified first (sizes and checksums): a truncated or
    /// corrupt checkpoint is [`Error::Checkpoint`] and nothing is loaded; one
    /// from another network is [`Error::CheckpointMismatch`] naming the first
    /// variable that differs. Host input functions are Rust closures, not
    /// graph state: they are called with the restored time, so give the same
    /// results if they depend on `t` only.
    pub fn restore_checkpoint(&mut self, path: impl AsRef<Path>) -> Result<()> {
        self.restore_manifest(path.as_ref()).map(|_| ())
    }

    fn restore_manifest(&mut self, path: &Path) -> Result<Manifest> {
        let mut manifest = checkpoint::verify(path)?;
        let ops = &self.compiled.checkpoint;
        let keys = manifest.keys_for(&ops.variables, &ops.legacy);
        manifest.check_fits(path, self.dt, &ops.variables)?;
        let prefix = path.join(checkpoint::STATE_PREFIX);
        let prefix = Tensor::from(prefix.to_string_lossy().into_owned());
        let renamed = keys.iter().zip(&ops.variables).any(|(k, v)| *k != v.name);
        let keys = Tensor::from(&keys[..]);
        let mut args = SessionRunArgs::new();
        args.add_feed(&ops.prefix, 0, &prefix);
        if renamed {
            args.add_feed(&ops.restore_names, 0, &keys);
        }
        args.add_target(&ops.restore);
        self.session
            .run(&mut args)
            .tf(|| format!("restoring checkpoint {}", path.display()))?;
        let mut args = SessionRunArgs::new();
        let token = args.request_fetch(&ops.step, 0);
        self.session
            .run(&mut args)
            .tf(|| "reading the restored step counter".into())?;
        let step: Tensor<i64> = args
            .fetch(token)
            .tf(|| "reading the restored step counter".into())?;
        let step = step.first().copied().unwrap_or(-1);
        if step != manifest.step as i64 {
            return Err(Error::Checkpoint {
                path: path.display().to_string(),
                problem: format!(
                    "its step counter is {step} but its manifest says {}",
                    manifest.step
                ),
            });
        }
        self.step = manifest.step as usize;
        if let Some(stream) = &mut self.stream {
            stream.cut_back_to(self.step)?;
        }
        for nu in &mut self.nuclei {
            nu.window_spikes = 0;
        }
        Ok(manifest)
    }

    /// Run until simulated time `until_ms`, counted from step 0 and turned
    /// into `floor(until/dt)` steps as [`run`](Self::run) turns its duration
    /// into steps (a time shorter than one step is the same
    /// [`Error::InvalidDuration`]); checkpointing every
    /// [`Checkpointing::every_ms`] into its folder and appending the spikes
    /// of recorded nuclei to its `spikes.csv` as it goes. If the folder
    /// already holds a checkpoint (a run that crashed or was stopped), it is
    /// restored first and the run continues from there, so a crash loses at
    /// most one interval of work and no spike before the last checkpoint.
    ///
    /// Returns what this call recorded (from the step it started or resumed
    /// at): counts and steps; the whole run's spikes, traces and weight
    /// snapshots are in the stream ([`streamed_spikes`](Self::streamed_spikes)). A failing step is
    /// [`Error::RunInterrupted`] with this call's recording up to it; the
    /// folder keeps the last checkpoint.
    pub fn run_checkpointed(&mut self, until_ms: f64, ck: &Checkpointing) -> Result<Recording> {
        let total = run_steps(until_ms, self.dt)?;
        if !ck.every().is_finite() || ck.every() <= 0.0 {
            return Err(Error::InvalidOption {
                option: "Checkpointing::every_ms".into(),
                problem: format!(
                    "checkpoint interval {} ms: it must be a positive number of ms",
                    ck.every()
                ),
            });
        }
        let every = ((ck.every() / self.dt).round() as usize).max(1);
        std::fs::create_dir_all(ck.dir()).map_err(|e| write_err(ck.dir(), e))?;
        let header = checkpoint::stream_header(
            self.dt,
            &self
                .nuclei
                .iter()
                .filter(|nu| nu.spikes)
                .map(|nu| (nu.label.clone(), nu.n))
                .collect::<Vec<_>>(),
        );
        let (mut stream, mut traces) = match ck.latest()? {
            Some(latest) => {
                let manifest = self.restore_manifest(&latest)?;
                let keep = manifest
                    .spike_stream_bytes
                    .ok_or_else(|| Error::Checkpoint {
                        path: latest.display().to_string(),
                        problem: "was not written by a checkpointed run (no spike stream length)"
                            .into(),
                    })?;
                let spikes = SpikeStream::open(&ck.spike_file(), Some(keep), &header)?;
                let rows = manifest.trace_rows.ok_or_else(|| Error::Checkpoint {
                    path: latest.display().to_string(),
                    problem: "was not written by a checkpointed run (no trace stream lengths)"
                        .into(),
                })?;
                (
                    spikes,
                    self.open_stream(&ck.trace_dir(), false, Some(&rows))?,
                )
            }
            None => {
                let mut s = SpikeStream::open(&ck.spike_file(), None, &header)?;
                let mut t = self.open_stream(&ck.trace_dir(), false, None)?;
                self.checkpoint_run(ck, s.sync()?, &mut t)?;
                (s, t)
            }
        };
        // The spikes go to `spikes.csv`, the traces and weight snapshots to
        // `traces/`: the recording returned keeps counts and steps, so memory
        // stays bounded however long the run.
        let mut rec = self.empty_recording(0);
        while self.step < total {
            let next = ((self.step / every + 1) * every).min(total);
            let mut chunk = match self.run_steps(next - self.step) {
                Ok(chunk) => chunk,
                Err(Error::RunInterrupted {
                    step,
                    reason,
                    recording,
                    ..
                }) => {
                    rec.extend(*recording);
                    return Err(Error::RunInterrupted {
                        step,
                        recorded_steps: rec.steps,
                        reason,
                        recording: Box::new(rec),
                    });
                }
                Err(e) => return Err(e),
            };
            let mut by_step: Vec<(usize, usize, usize)> = Vec::new();
            for (idx, r) in chunk.nuclei.iter().enumerate() {
                by_step.extend(r.spikes.iter().map(|&(step, i)| (step, idx, i)));
            }
            by_step.sort_unstable();
            for (step, idx, i) in by_step {
                stream.spike(step, &self.nuclei[idx].label, i)?;
            }
            let steps = chunk.steps;
            traces.drain(&mut chunk, steps)?;
            for r in &mut chunk.nuclei {
                r.spikes = Vec::new();
            }
            rec.extend(chunk);
            self.checkpoint_run(ck, stream.sync()?, &mut traces)?;
        }
        Ok(rec)
    }

    /// A checkpointed run's checkpoint at the current step, recording that the
    /// spike stream is `stream_bytes` long, made the latest.
    fn checkpoint_run(
        &self,
        ck: &Checkpointing,
        stream_bytes: u64,
        traces: &mut RecordingStream,
    ) -> Result<()> {
        traces.flush()?;
        let folder = ck.folder_for(self.step);
        self.save_checkpoint_with(&folder, Some(stream_bytes), Some(traces.rows()))?;
        ck.set_latest(&folder)
    }

    /// Everything a checkpointed run in `ck`'s folder streamed, up to its
    /// last checkpoint, as a recording from step 0: the spikes of
    /// `spikes.csv`, the traces and weight snapshots of `traces/` (all in
    /// memory: for runs whose recording fits; NumPy reads `traces/` as it
    /// is).
    pub fn streamed_spikes(&self, ck: &Checkpointing) -> Result<Recording> {
        let latest = ck.latest()?.ok_or_else(|| Error::Checkpoint {
            path: ck.dir().display().to_string(),
            problem: "holds no checkpoint".into(),
        })?;
        let manifest = checkpoint::verify(&latest)?;
        let steps = manifest.step as usize;
        let rows = checkpoint::read_stream(&ck.spike_file())?;
        let mut rec = self.empty_recording(0);
        rec.first_step = 0;
        rec.steps = steps;
        for r in &mut rec.nuclei {
            r.traces.clear();
        }
        if ck.trace_dir().join("stream.json").is_file() {
            let streamed = Recording::read_streamed(ck.trace_dir())?;
            for (r, s) in rec.nuclei.iter_mut().zip(streamed.nuclei) {
                for (var, mut tr) in s.traces {
                    // Rows after the checkpoint (a crash between a flush
                    // and the next checkpoint) are not part of it.
                    let keep = tr
                        .times
                        .iter()
                        .take_while(|&&t| ((t / self.dt).round() as usize) < steps)
                        .count();
                    tr.times.truncate(keep);
                    tr.values.truncate(keep * tr.neurons.len());
                    r.traces.insert(var, tr);
                }
            }
            // Snapshots up to the checkpoint's step (taken at its end).
            rec.weights = streamed.weights;
            for w in &mut rec.weights {
                let keep = w
                    .times_ms
                    .iter()
                    .take_while(|&&t| ((t / self.dt).round() as usize) <= steps)
                    .count();
                w.times_ms.truncate(keep);
                w.values.truncate(keep);
            }
        }
        for (step, label, neuron) in rows.into_iter().filter(|r| r.0 < steps) {
            let Some(r) = rec.nuclei.iter_mut().find(|r| r.label == label) else {
                return Err(Error::Checkpoint {
                    path: ck.spike_file().display().to_string(),
                    problem: format!("spike of unknown nucleus {label:?}"),
                });
            };
            if neuron >= r.n {
                return Err(Error::Checkpoint {
                    path: ck.spike_file().display().to_string(),
                    problem: format!("neuron {neuron} of nucleus {label:?}, which has {}", r.n),
                });
            }
            r.spikes.push((step, neuron));
            r.spike_count += 1;
        }
        Ok(rec)
    }
}

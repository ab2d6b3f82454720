//! The simulator: owns the TensorFlow session and steps it, one session run
//! per time step. Its concerns live apart: the session's configuration in
//! [`options`], what keeps a run within bounds in [`guards`], export and
//! checkpoints beside their file formats (`export::simulator`,
//! `checkpoint::simulator`), recordings assembled by [`Recording`].

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use tensorflow::{Session, SessionRunArgs, Tensor};

use crate::error::{Error, Result, TfContext};
use crate::network::compile::{compile, Compiled};
use crate::network::model::{ConnectionId, Network, Weights};
use crate::network::plan::{run_steps, NucleusInfo, Plan, PropagationChoice, RoundingNote};
use crate::network::recording::{rate_hz, Recording};
use crate::network::stream::RecordingStream;
use crate::network::tensorboard::EventWriter;
use crate::runtime::quiet_tensorflow;

/// Simulated time between the TensorBoard histograms (and mean) of each
/// plastic connection's weights, in ms.
pub const WEIGHT_SUMMARY_MS: f64 = 1000.0;

mod guards;
mod options;
mod weights;
use guards::check_every;
pub use options::{
    Executor, SimOptions, MODELS_SINGLE_THREADED_UP_TO, ONE_INTRA_OP_THREAD_FROM,
    REMOTE_RUN_TIMEOUT_MS, SINGLE_THREADED_UP_TO,
};

/// A compiled network with its TensorFlow session.
pub struct Simulator {
    pub(in crate::network) session: Session,
    pub(in crate::network) compiled: Compiled,
    pub(in crate::network) nuclei: Vec<NucleusInfo>,
    /// Feed tensor per copy of the step and nucleus with a host input
    /// function (reused every run).
    pub(in crate::network) host_tensors: Vec<Vec<Option<Tensor<f32>>>>,
    /// Per nucleus with a host input function, the slice it writes into.
    pub(in crate::network) host_buffers: Vec<Option<Vec<f64>>>,
    pub(in crate::network) network: u64,
    pub(in crate::network) name: String,
    pub(in crate::network) dt: f64,
    pub(in crate::network) step: usize,
    pub(in crate::network) rounded: Vec<RoundingNote>,
    pub(in crate::network) options: SimOptions,
    /// Serialized `RunOptions` of every step run, if any.
    pub(in crate::network) run_options: Option<Vec<u8>>,
    pub(in crate::network) events: Option<EventWriter>,
    /// Where runs stream their recordings, if they do.
    pub(in crate::network) stream: Option<RecordingStream>,
    /// Steps between finite-state checks (0: none).
    pub(in crate::network) check_every: usize,
    /// The last step a check found finite (or the first step simulated).
    pub(in crate::network) last_finite_step: usize,
    /// How each connection's weights are held, in connection order.
    pub(in crate::network) propagation: Vec<PropagationChoice>,
    /// Connections whose weights learn (index, name): TensorBoard gets
    /// their weights every [`WEIGHT_SUMMARY_MS`].
    pub(in crate::network) plastic: Vec<(usize, String)>,
    /// Connections whose weights are recorded: index, name, steps between
    /// snapshots, weights per snapshot.
    pub(in crate::network) snapshots: Vec<crate::network::plan::SnapshotPlan>,
}

impl std::fmt::Debug for Simulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Simulator")
            .field("name", &self.name)
            .field("dt", &self.dt)
            .field("step", &self.step)
            .finish_non_exhaustive()
    }
}

impl Simulator {
    /// [`Network::build_with`]: plan, compile, start the session,
    /// initialise the variables, open the stream and the event files.
    pub(in crate::network) fn new(net: Network, dt: f64, options: SimOptions) -> Result<Simulator> {
        quiet_tensorflow();
        let network = net.id;
        let name = net.name.clone();
        let check_every = check_every(options.finite_check_ms, dt)?;
        let native = !options.portable && options.target.is_none();
        let plan = Plan::new(net, dt, options.limit(), native)?;
        let (mut compiled, kept) = compile(plan, options.steps_per_run.max(1))?;
        let neurons = kept.nuclei.iter().map(|nu| nu.n).sum();
        let (session, run_options) =
            options::open_session(&compiled, &options, kept.on_cpu, neurons, kept.has_models)?;
        // The init feeds were only needed once: free the host copies.
        compiled.init_feeds.clear();
        crate::runtime::return_freed_memory();
        let host_buffers = kept
            .nuclei
            .iter()
            .map(|nu| nu.host.as_ref().map(|_| vec![0.0; nu.n]))
            .collect();
        let host_tensors = (0..compiled.copies.len())
            .map(|_| {
                kept.nuclei
                    .iter()
                    .map(|nu| nu.host.as_ref().map(|_| Tensor::new(&[nu.n as u64])))
                    .collect()
            })
            .collect();
        let mut sim = Simulator {
            session,
            compiled,
            nuclei: kept.nuclei,
            host_buffers,
            host_tensors,
            network,
            name,
            dt,
            step: 0,
            rounded: kept.rounded,
            run_options,
            check_every,
            options,
            events: None,
            stream: None,
            last_finite_step: 0,
            propagation: kept.propagation,
            plastic: kept.plastic,
            snapshots: kept.snapshots,
        };
        if let Some(dir) = sim.options.stream.clone() {
            sim.stream = Some(sim.open_stream(&dir, true, None)?);
        }
        if let Some(dir) = sim.event_dir() {
            let w = EventWriter::new(&dir)?;
            w.graph(&sim.graph_def()?)?;
            w.flush()?;
            sim.events = Some(w);
        }
        Ok(sim)
    }
}

impl Simulator {
    /// Delays and windows that were rounded to whole steps (see
    /// [`Connection::round_to_step`](crate::network::Connection::round_to_step)).
    pub fn rounded(&self) -> &[RoundingNote] {
        &self.rounded
    }

    /// How each connection's weights are held and applied (dense matrix or
    /// compressed rows), in the order the connections were made, and why:
    /// what [`Propagation`](crate::network::Propagation) chose.
    pub fn propagation(&self) -> &[PropagationChoice] {
        &self.propagation
    }

    /// The time step (ms).
    pub fn dt(&self) -> f64 {
        self.dt
    }

    /// Steps simulated so far.
    pub fn steps_done(&self) -> usize {
        self.step
    }

    /// Advance `steps` steps with bare session runs of the step target (no
    /// feeds, no fetches, nothing recorded) and return the wall time: the
    /// floor that [`run`](Self::run)'s own overhead is measured against.
    /// Networks with host input functions need their feeds: error.
    pub fn time_bare_steps(&mut self, steps: usize) -> Result<Duration> {
        if let Some(nu) = self.nuclei.iter().find(|nu| nu.host.is_some()) {
            return Err(Error::InvalidModel {
                message: format!(
                    "nucleus {:?} has a host input function; bare runs cannot feed it",
                    nu.label
                ),
            });
        }
        let target = &self.compiled.steps[0];
        let started = Instant::now();
        for k in 0..steps {
            let mut args = SessionRunArgs::new();
            args.add_target(target);
            self.session
                .run(&mut args)
                .tf(|| format!("bare run of step {}", self.step + k))?;
        }
        self.step += steps;
        Ok(started.elapsed())
    }

    /// Advance one step with a bare run that asks TensorFlow for a full
    /// trace and the graphs it executed (after Grappler), and return the
    /// serialized `RunMetadata` proto: per-op timings for the benchmarks'
    /// diagnostics.
    #[doc(hidden)]
    pub fn trace_step(&mut self) -> Result<Vec<u8>> {
        let target = &self.compiled.steps[0];
        let mut args = SessionRunArgs::new();
        args.add_target(target);
        // RunOptions { trace_level: FULL_TRACE, output_partition_graphs: true }.
        args.set_run_options(&[0x08, 0x03, 0x28, 0x01]);
        args.set_request_metadata(true);
        self.session
            .run(&mut args)
            .tf(|| format!("traced run of step {}", self.step))?;
        self.step += 1;
        Ok(args.get_metadata().unwrap_or_default().to_vec())
    }

    /// The serialized GraphDef of the model (what TensorBoard shows).
    pub fn graph_def(&self) -> Result<Vec<u8>> {
        self.compiled
            .scope
            .graph()
            .graph_def()
            .tf(|| "serialising the graph".into())
    }

    /// Names of all operations in the graph.
    pub fn op_names(&self) -> Vec<String> {
        self.compiled
            .scope
            .graph()
            .operation_iter()
            .filter_map(|op| op.name().ok())
            .collect()
    }

    /// The folder this simulator's TensorBoard events go to, if any.
    pub fn event_dir(&self) -> Option<PathBuf> {
        self.options
            .tensorboard
            .as_ref()
            .map(|d| d.join(&self.name))
    }

    /// Simulate `t_ms` more milliseconds: `floor(t/dt)` steps, one session run
    /// each, continuing from the current state. Returns what was recorded.
    ///
    /// If a step fails (e.g. a host input function writes a value that is
    /// not finite), the error is [`Error::RunInterrupted`] and carries
    /// everything recorded before that step.
    pub fn run(&mut self, t_ms: f64) -> Result<Recording> {
        let steps = run_steps(t_ms, self.dt)?;
        self.run_steps(steps)
    }

    /// A recording of no steps yet, starting at the current step, with
    /// room for `steps`.
    pub(in crate::network) fn empty_recording(&self, steps: usize) -> Recording {
        Recording::empty(self.network, self.dt, self.step, &self.nuclei, steps)
    }

    /// [`run`](Self::run) for a number of steps.
    pub(in crate::network) fn run_steps(&mut self, steps: usize) -> Result<Recording> {
        let first = self.step;
        let limit = self.options.limit();
        let per_run = self.compiled.copies.len();
        let (traces, capacity) = if self.stream.is_some() {
            (0, per_run.min(steps))
        } else {
            (self.trace_bytes(steps, limit)?, steps)
        };
        let mut rec = self.empty_recording(capacity);
        self.start_snapshots(&mut rec, (steps, capacity), limit)?;
        let summary_every = ((self.options.summary_every_ms / self.dt).round() as usize).max(1);
        let started = Instant::now();
        let mut bar: Option<ProgressBar> = None;
        let mut k = 0;
        while k < steps {
            let m = first + k;
            let want = per_run.min(steps - k);
            // Steps run before a failure are recorded and counted.
            let (done, mut failure) = self.run_chunk(m, want, &mut rec, summary_every);
            k += done;
            // Snapshots first: a streamed run moves them to disk with the
            // chunk's spikes and traces.
            if let Err(e) = self.take_snapshots(&mut rec, m) {
                failure.get_or_insert(e);
            }
            if let Err(e) = self.after_chunk(&mut rec, done, traces, limit) {
                failure.get_or_insert(e);
            }
            if let Some(reason) = failure {
                if let Some(stream) = &mut self.stream {
                    // What was recorded is on disk; a failed flush is the
                    // lesser news.
                    let _ = stream.flush();
                }
                return Err(Error::RunInterrupted {
                    step: first + k,
                    recorded_steps: rec.steps,
                    reason: Box::new(reason),
                    recording: Box::new(rec),
                });
            }
            if bar.is_none()
                && self.options.progress
                && started.elapsed() > Duration::from_secs(2)
                && std::io::stderr().is_terminal()
            {
                let b = ProgressBar::new(steps as u64);
                if let Ok(style) =
                    ProgressStyle::with_template("{bar:40} {pos}/{len} steps, {per_sec}, eta {eta}")
                {
                    b.set_style(style);
                }
                bar = Some(b);
            }
            if let Some(b) = &bar {
                b.set_position(k as u64);
            }
        }
        if let Some(b) = bar {
            b.finish_and_clear();
        }
        if let Some(stream) = &mut self.stream {
            stream.flush()?;
        }
        if let Some(w) = &self.events {
            w.flush()?;
        }
        Ok(rec)
    }

    /// Run up to `want` steps from step `m` in one session run. Returns how
    /// many steps completed (and were recorded), and the error that stopped
    /// the chunk early, if any.
    fn run_chunk(
        &mut self,
        m: usize,
        want: usize,
        rec: &mut Recording,
        summary_every: usize,
    ) -> (usize, Option<Error>) {
        // Host inputs for each step of the chunk; a bad one shortens it.
        let mut count = want;
        let mut failure = None;
        'steps: for j in 0..want {
            let t = (m + j) as f64 * self.dt;
            let feeds = self.nuclei.iter_mut().zip(&mut self.host_buffers);
            for ((nu, buffer), slot) in feeds.zip(self.host_tensors[j].iter_mut()) {
                let (Some(f), Some(buffer), Some(tensor)) =
                    (nu.host.as_mut(), buffer.as_mut(), slot.as_mut())
                else {
                    continue;
                };
                f(t, buffer);
                if let Some((i, x)) = buffer.iter().enumerate().find(|(_, x)| !x.is_finite()) {
                    failure = Some(Error::NonFinite {
                        what: format!(
                            "external input of nucleus {:?}, neuron {i}, at step {}",
                            nu.label,
                            m + j
                        ),
                        value: *x,
                    });
                    count = j;
                    break 'steps;
                }
                for (slot, x) in tensor.iter_mut().zip(buffer.iter()) {
                    *slot = *x as f32;
                }
            }
        }
        if count == 0 {
            return (0, failure);
        }
        match self.session_run(m, count, rec, summary_every) {
            Ok(None) => (count, failure),
            Ok(Some(idx)) => (count, Some(self.diverged(idx, m + count - 1))),
            Err(e) => (0, Some(e)),
        }
    }

    /// One session run of `count` steps from step `m`; records them. Returns
    /// the first nucleus a finite-state check found NaN or infinite in, if
    /// the run checked (at the end of a chunk that reaches a multiple of the
    /// check interval).
    fn session_run(
        &mut self,
        m: usize,
        count: usize,
        rec: &mut Recording,
        summary_every: usize,
    ) -> Result<Option<usize>> {
        let mut args = SessionRunArgs::new();
        for j in 0..count {
            for (ops, tensor) in self.compiled.copies[j].iter().zip(&self.host_tensors[j]) {
                if let (Some(ph), Some(tensor)) = (&ops.host_input, tensor) {
                    args.add_feed(ph, 0, tensor);
                }
            }
        }
        if let Some(o) = &self.run_options {
            args.set_run_options(o);
        }
        args.add_target(&self.compiled.steps[count - 1]);
        let mut spike_tokens = Vec::with_capacity(count * self.nuclei.len());
        let mut trace_tokens = Vec::new();
        for j in 0..count {
            for (idx, (nu, ops)) in self.nuclei.iter().zip(&self.compiled.copies[j]).enumerate() {
                spike_tokens.push((
                    j,
                    idx,
                    args.request_fetch(&ops.spikes.operation, ops.spikes.index),
                ));
                if (m + j).is_multiple_of(nu.every) {
                    for (var, op) in &ops.traces {
                        trace_tokens.push((j, idx, var.clone(), args.request_fetch(op, 0)));
                    }
                }
            }
        }
        let check = self.check_every > 0 && (m + count) / self.check_every > m / self.check_every;
        let finite_tokens: Vec<_> = if check {
            self.compiled.copies[count - 1]
                .iter()
                .map(|ops| args.request_fetch(&ops.finite, 0))
                .collect()
        } else {
            Vec::new()
        };
        self.session.run(&mut args).tf(|| match count {
            1 => format!("running step {m}"),
            _ => format!("running steps {m}..{}", m + count - 1),
        })?;
        // Fetch everything first, so a failed fetch records nothing of the run.
        let mut fired_of = Vec::with_capacity(spike_tokens.len());
        for (j, idx, token) in spike_tokens {
            let fired: Tensor<i64> = args
                .fetch(token)
                .tf(|| format!("fetching the spikes of step {}", m + j))?;
            fired_of.push((j, idx, fired));
        }
        let mut diverged = None;
        for (idx, token) in finite_tokens.into_iter().enumerate() {
            let ok: Tensor<bool> = args
                .fetch(token)
                .tf(|| format!("fetching the finite-state check of step {}", m + count - 1))?;
            if !ok.first().copied().unwrap_or(true) && diverged.is_none() {
                diverged = Some(idx);
            }
        }
        if check && diverged.is_none() {
            self.last_finite_step = m + count - 1;
        }
        let mut values_of = Vec::with_capacity(trace_tokens.len());
        for (j, idx, var, token) in trace_tokens {
            let values: Tensor<f32> = args
                .fetch(token)
                .tf(|| format!("fetching {var} at step {}", m + j))?;
            values_of.push((j, idx, var, values));
        }
        drop(args);
        let per_step = self.nuclei.len();
        for j in 0..count {
            let step = m + j;
            for (_, idx, fired) in &fired_of[j * per_step..(j + 1) * per_step] {
                let nu = &mut self.nuclei[*idx];
                nu.window_spikes += fired.len() as u64;
                rec.add_spikes(*idx, step, fired, nu.spikes);
            }
            for (_, idx, var, values) in values_of.iter().filter(|v| v.0 == j) {
                rec.add_trace_row(*idx, var, step, values);
            }
            self.step += 1;
            rec.steps += 1;
            if (step + 1).is_multiple_of(summary_every) {
                self.summaries(step + 1, summary_every)?;
            }
        }
        Ok(diverged)
    }

    /// Firing rate of each nucleus over the last window, as TensorBoard
    /// scalars `firing_rate/<label>` at step = simulated time in ms.
    fn summaries(&mut self, steps_done: usize, window: usize) -> Result<()> {
        let Some(w) = &self.events else {
            for nu in &mut self.nuclei {
                nu.window_spikes = 0;
            }
            return Ok(());
        };
        let t_ms = (steps_done as f64 * self.dt).round() as i64;
        for nu in &mut self.nuclei {
            let rate = rate_hz(nu.window_spikes, nu.n, window as f64 * self.dt);
            w.scalar(&format!("firing_rate/{}", nu.label), t_ms, rate as f32)?;
            nu.window_spikes = 0;
        }
        // Learned weights: a histogram and the mean, every second.
        let every = (WEIGHT_SUMMARY_MS / self.dt).round().max(1.0) as usize;
        if steps_done % every < window {
            for (k, name) in &self.plastic {
                let values = match self.weights(ConnectionId {
                    network: self.network,
                    index: *k,
                })? {
                    Weights::DenseF32(a) => a.iter().copied().collect::<Vec<f32>>(),
                    Weights::CsrF32 { values, .. } => values,
                    _ => continue,
                };
                let mean =
                    values.iter().map(|&x| x as f64).sum::<f64>() / values.len().max(1) as f64;
                w.histogram(&format!("weights/{name}"), t_ms, &values)?;
                w.scalar(&format!("mean_weight/{name}"), t_ms, mean as f32)?;
            }
        }
        Ok(())
    }
}

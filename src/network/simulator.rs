//! The simulator: owns the TensorFlow session and steps it, one session run
//! per time step.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use tensorflow::{Session, SessionOptions, SessionRunArgs, Tensor};

use crate::error::{write_err, Error, Result, TfContext};
use crate::network::checkpoint::{self, Checkpointing, Manifest, SpikeStream};
use crate::network::compile::{compile, Compiled, InitFeed};
use crate::network::export::{
    self, CheckpointNames, ExportManifest, InputFeed, NucleusFetches, TraceFetch,
};
use crate::network::model::{InputFn, Network, StateVar};
use crate::network::plan::{run_steps, Plan, PlanInput, PropagationChoice, RoundingNote};
use crate::network::proto::{bytes_field, varint_field};
use crate::network::recording::{rate_hz, NucleusRecording, Recording, Trace};
use crate::network::stream::RecordingStream;

mod guards;
use crate::network::tensorboard::EventWriter;
use crate::runtime::quiet_tensorflow;
use guards::check_every;

/// How a network is simulated. Defaults: progress bar on (shown only on a
/// terminal, for runs longer than 2 s), TensorBoard events into
/// `graphs/<network name>/` with firing rates every 10 ms, TensorFlow's
/// default thread pools.
#[derive(Debug, Clone)]
pub struct SimOptions {
    /// Show an indicatif progress bar for long runs.
    pub progress: bool,
    /// Folder under which `<network name>/` gets the event files; `None`
    /// writes none.
    pub tensorboard: Option<PathBuf>,
    /// Simulated ms between firing-rate summaries.
    pub summary_every_ms: f64,
    /// TensorFlow's intra-op thread pool size (0: TensorFlow's default,
    /// or 1 for a local network of [`ONE_INTRA_OP_THREAD_FROM`] neurons or
    /// more when `inter_op_threads` is 0 too).
    pub intra_op_threads: u32,
    /// TensorFlow's inter-op thread pool size (0: TensorFlow's default).
    pub inter_op_threads: u32,
    /// Time steps per session run: the step graph is built this many times,
    /// chained (no `tf.while`). 1, the default, is one session run per step
    /// with host access between steps; more trades that for throughput.
    pub steps_per_run: usize,
    /// The session's master: `None` (the default) runs in this process;
    /// `grpc://host:port` runs on a TensorFlow cluster through that task's
    /// server (see [`ClusterSpec`](crate::network::ClusterSpec)). Remote
    /// sessions keep their variables to themselves (`isolate_session_state`).
    pub target: Option<String>,
    /// Which TensorFlow executor runs the steps (default
    /// [`Executor::Auto`]).
    pub executor: Executor,
    /// Deadline of each session run in ms; 0, the default, means none in
    /// this process and [`REMOTE_RUN_TIMEOUT_MS`] with a remote target,
    /// where an unreachable or stalled worker would otherwise block a run
    /// for ever.
    pub run_timeout_ms: u64,
    /// The most bytes a run's in-memory recording, and any one tensor of
    /// the model (a spike ring, a kernel window, a dense weight matrix), may
    /// take; `None`, the default, is
    /// [`memory::default_limit`](crate::memory::default_limit) (half the
    /// memory available when the network is built or a run starts). A run
    /// whose traces would take more is [`Error::MemoryLimit`] before it
    /// starts; one whose spikes grow past it stops with
    /// [`Error::RunInterrupted`], keeping what it recorded. Streaming
    /// ([`SimOptions::stream`]) lifts the limit for recordings.
    pub memory_limit: Option<u64>,
    /// Stream what every run records into this folder instead of memory
    /// (see [`Recording::read_streamed`] for the files, which NumPy reads):
    /// runs return recordings with the spike counts and steps, and no spike
    /// list or trace. Restoring a checkpoint cuts the files back to its step
    /// (or starts an empty stream there). `None`, the default, records in
    /// memory.
    pub stream: Option<PathBuf>,
    /// Simulated ms between checks that every `v`, `u` and `I` is finite; a
    /// failed check stops the run with [`Error::RunInterrupted`] whose
    /// reason is [`Error::NetworkDiverged`]. 0 turns the check off; default
    /// 1 ms.
    pub finite_check_ms: f64,
}

impl Default for SimOptions {
    fn default() -> Self {
        SimOptions {
            progress: true,
            tensorboard: Some(PathBuf::from("graphs")),
            summary_every_ms: 10.0,
            intra_op_threads: 0,
            inter_op_threads: 0,
            steps_per_run: 1,
            target: None,
            executor: Executor::Auto,
            run_timeout_ms: 0,
            memory_limit: None,
            stream: None,
            finite_check_ms: 1.0,
        }
    }
}

impl SimOptions {
    /// No progress bar.
    pub fn quiet(mut self) -> Self {
        self.progress = false;
        self
    }
    /// Event files under `dir/<network name>/`, or none with `None`.
    pub fn tensorboard(mut self, dir: Option<PathBuf>) -> Self {
        self.tensorboard = dir;
        self
    }
    /// Several steps per session run (see [`SimOptions::steps_per_run`]).
    pub fn steps_per_run(mut self, k: usize) -> Self {
        self.steps_per_run = k.max(1);
        self
    }
    /// Run on a TensorFlow cluster through the server at `grpc://host:port`
    /// (see [`SimOptions::target`]).
    pub fn target(mut self, target: impl Into<String>) -> Self {
        self.target = Some(target.into());
        self
    }
    /// The executor (see [`Executor`]).
    pub fn executor(mut self, executor: Executor) -> Self {
        self.executor = executor;
        self
    }
    /// Deadline of each session run (see [`SimOptions::run_timeout_ms`]).
    pub fn run_timeout_ms(mut self, ms: u64) -> Self {
        self.run_timeout_ms = ms;
        self
    }
    /// The memory limit in bytes (see [`SimOptions::memory_limit`]).
    pub fn memory_limit(mut self, bytes: u64) -> Self {
        self.memory_limit = Some(bytes);
        self
    }
    /// Stream recordings into `dir` (see [`SimOptions::stream`]).
    pub fn stream_to(mut self, dir: impl Into<PathBuf>) -> Self {
        self.stream = Some(dir.into());
        self
    }
    /// The finite-state check's interval (see [`SimOptions::finite_check_ms`]).
    pub fn finite_check_ms(mut self, ms: f64) -> Self {
        self.finite_check_ms = ms;
        self
    }
    /// The memory limit in force (bytes).
    fn limit(&self) -> u64 {
        self.memory_limit
            .unwrap_or_else(crate::memory::default_limit)
    }
    /// TensorFlow thread pools.
    pub fn threads(mut self, intra_op: u32, inter_op: u32) -> Self {
        self.intra_op_threads = intra_op;
        self.inter_op_threads = inter_op;
        self
    }
}

struct NucleusInfo {
    label: String,
    n: usize,
    spikes: bool,
    every: usize,
    traces: Vec<(StateVar, Vec<usize>)>,
    host: Option<InputFn>,
    window_spikes: u64,
}

/// A compiled network with its TensorFlow session.
pub struct Simulator {
    session: Session,
    compiled: Compiled,
    nuclei: Vec<NucleusInfo>,
    /// Feed tensor per copy of the step and nucleus with a host input
    /// function (reused every run).
    host_tensors: Vec<Vec<Option<Tensor<f32>>>>,
    network: u64,
    name: String,
    dt: f64,
    step: usize,
    rounded: Vec<RoundingNote>,
    options: SimOptions,
    /// Serialized `RunOptions` of every step run, if any.
    run_options: Option<Vec<u8>>,
    events: Option<EventWriter>,
    /// Where runs stream their recordings, if they do.
    stream: Option<RecordingStream>,
    /// Steps between finite-state checks (0: none).
    check_every: usize,
    /// The last step a check found finite (or the first step simulated).
    last_finite_step: usize,
    /// How each connection's weights are held, in connection order.
    propagation: Vec<PropagationChoice>,
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

/// Which of TensorFlow's executors runs the step graph. Both compute the
/// same (tested); they differ in speed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Executor {
    /// [`SingleThreaded`](Executor::SingleThreaded) for a local session
    /// whose nuclei all run on the CPU and number at most
    /// [`SINGLE_THREADED_UP_TO`] neurons together, [`Default`](Executor::Default)
    /// otherwise: on this project's benchmarks (2 cores) the single-threaded
    /// executor takes about two thirds of the time at 1000 neurons, breaks
    /// even near 3000 and loses from 4000 on (the basal-ganglia model's 3800
    /// neurons included), where the parallel scheduling of larger ops pays.
    #[default]
    Auto,
    /// TensorFlow's default executor: ops are scheduled on the inter-op
    /// thread pool.
    Default,
    /// TensorFlow's `SINGLE_THREADED_EXECUTOR`: the ops of a step run one
    /// after another in the calling thread, with far less overhead per op
    /// (each op may still use the intra-op threads). Local sessions only.
    SingleThreaded,
}

/// The size up to which [`Executor::Auto`] picks the single-threaded
/// executor: 3000 neurons in all.
pub const SINGLE_THREADED_UP_TO: usize = 3000;

/// From this many neurons in all, a local network whose
/// [`SimOptions::threads`] are left at 0 runs each op on one thread (the
/// ops of a step still run in parallel on the inter-op pool). Measured on
/// this project's 2-core machine: the sparse 10^5-neuron networks of bench
/// case (f) take 0.55-0.65x the time (TensorFlow's intra-op sharding of
/// 10^5-element ops cost more than it gained); 10^4 neurons were the same
/// either way, and 3800 (case (c)) slower with one thread.
pub const ONE_INTRA_OP_THREAD_FROM: usize = 50_000;

/// The deadline of each session run with a remote target, unless
/// [`SimOptions::run_timeout_ms`] says otherwise: 120 s.
pub const REMOTE_RUN_TIMEOUT_MS: u64 = 120_000;

impl SimOptions {
    /// The run deadline in effect (ms, 0 for none).
    fn timeout_ms(&self) -> u64 {
        match (self.run_timeout_ms, &self.target) {
            (0, Some(_)) => REMOTE_RUN_TIMEOUT_MS,
            (t, _) => t,
        }
    }
}

/// Check that a `grpc://host:port` target accepts connections (5 s at
/// most), so that a wrong address is a clear error rather than a wait.
fn probe(target: &str) -> Result<()> {
    use std::net::{TcpStream, ToSocketAddrs};
    let unreachable = |problem: String| Error::Unreachable {
        target: target.into(),
        problem,
    };
    let Some(addr) = target.strip_prefix("grpc://") else {
        return Err(unreachable("not a grpc://host:port target".into()));
    };
    let addrs: Vec<_> = addr
        .to_socket_addrs()
        .map_err(|e| unreachable(format!("bad address: {e}")))?
        .collect();
    let mut last = String::from("no address");
    for a in addrs {
        match TcpStream::connect_timeout(&a, Duration::from_secs(5)) {
            Ok(_) => return Ok(()),
            Err(e) => last = e.to_string(),
        }
    }
    Err(unreachable(last))
}

/// Minimal `ConfigProto`: the two thread-pool sizes (fields 2 and 5), for
/// remote sessions `isolate_session_state` (15), and the executor type.
fn config_proto(options: &SimOptions, single_threaded: bool, neurons: usize) -> Vec<u8> {
    let mut out = Vec::new();
    let intra = match (options.intra_op_threads, options.inter_op_threads) {
        // Neither pool set: one intra-op thread for large local networks.
        (0, 0) if options.target.is_none() && neurons >= ONE_INTRA_OP_THREAD_FROM => 1,
        (intra, _) => intra,
    };
    if intra > 0 {
        varint_field(&mut out, 2, intra as u64);
    }
    if options.inter_op_threads > 0 {
        varint_field(&mut out, 5, options.inter_op_threads as u64);
    }
    if options.timeout_ms() > 0 {
        varint_field(&mut out, 11, options.timeout_ms());
    }
    if options.target.is_some() {
        varint_field(&mut out, 15, 1);
    }
    if single_threaded {
        // ConfigProto.experimental (16) { executor_type (3) }
        let mut exp = Vec::new();
        bytes_field(&mut exp, 3, b"SINGLE_THREADED_EXECUTOR");
        bytes_field(&mut out, 16, &exp);
    }
    out
}

/// `RunOptions` with `timeout_in_ms` (field 2), if any.
fn run_options(timeout_ms: u64) -> Option<Vec<u8>> {
    (timeout_ms > 0).then(|| {
        let mut out = Vec::new();
        varint_field(&mut out, 2, timeout_ms);
        out
    })
}

impl Network {
    /// Compile for time step `dt` (ms) with default [`SimOptions`].
    pub fn build(self, dt: f64) -> Result<Simulator> {
        self.build_with(dt, SimOptions::default())
    }

    /// Compile for time step `dt` (ms) with these options: validates the
    /// model, builds the graph, starts a session and initialises the state
    /// (`v = c`, `u = b c`, `I = 0`, no spikes).
    pub fn build_with(self, dt: f64, options: SimOptions) -> Result<Simulator> {
        quiet_tensorflow();
        let network = self.id;
        let name = self.name.clone();
        let check_every = check_every(options.finite_check_ms, dt)?;
        let mut plan = Plan::new(self, dt, options.limit())?;
        let mut compiled = compile(&mut plan, options.steps_per_run.max(1))?;
        let mut session_options = SessionOptions::new();
        let on_cpu = plan.nuclei.iter().all(|nu| {
            nu.device
                .as_deref()
                .is_none_or(|d| d.to_ascii_uppercase().contains("CPU"))
        });
        let single_threaded = match options.executor {
            Executor::Default => false,
            Executor::SingleThreaded if options.target.is_some() => {
                return Err(Error::InvalidOption {
                    option: "SimOptions::executor".into(),
                    problem: "the single-threaded executor runs local sessions only; \
                              use Executor::Default or Auto with a target"
                        .into(),
                })
            }
            Executor::SingleThreaded => true,
            Executor::Auto => {
                options.target.is_none()
                    && on_cpu
                    && plan.nuclei.iter().map(|nu| nu.n).sum::<usize>() <= SINGLE_THREADED_UP_TO
            }
        };
        let neurons: usize = plan.nuclei.iter().map(|nu| nu.n).sum();
        let config = config_proto(&options, single_threaded, neurons);
        let step_run_options = run_options(options.timeout_ms());
        if let Some(target) = &options.target {
            probe(target)?;
            session_options
                .set_target(target)
                .map_err(|_| Error::InvalidOption {
                    option: "SimOptions::target".into(),
                    problem: format!("session target {target:?} contains a NUL byte"),
                })?;
        }
        if !config.is_empty() {
            session_options
                .set_config(&config)
                .tf(|| "setting the session's thread pools".into())?;
        }
        let session = Session::new(&session_options, &compiled.scope.graph())
            .tf(|| "creating the session".into())?;
        {
            let mut args = SessionRunArgs::new();
            for feed in &compiled.init_feeds {
                match feed {
                    InitFeed::F32(op, t) => args.add_feed(op, 0, t),
                    InitFeed::I32(op, t) => args.add_feed(op, 0, t),
                    InitFeed::I64(op, t) => args.add_feed(op, 0, t),
                }
            }
            if let Some(o) = &step_run_options {
                args.set_run_options(o);
            }
            args.add_target(&compiled.init);
            session
                .run(&mut args)
                .tf(|| "initialising the variables".into())?;
        }
        // The init feeds were only needed once: free the host copies.
        compiled.init_feeds.clear();
        crate::runtime::return_freed_memory();

        let propagation = plan.connections.iter().map(|c| c.layout.clone()).collect();
        let host_tensors = (0..compiled.copies.len())
            .map(|_| {
                plan.nuclei
                    .iter()
                    .map(|nu| match nu.input {
                        PlanInput::Host(_) => Some(Tensor::new(&[nu.n as u64])),
                        _ => None,
                    })
                    .collect()
            })
            .collect();
        let nuclei = plan
            .nuclei
            .into_iter()
            .map(|nu| {
                let host = match nu.input {
                    PlanInput::Host(f) => Some(f),
                    _ => None,
                };
                NucleusInfo {
                    label: nu.label,
                    n: nu.n,
                    spikes: nu.spikes,
                    every: nu.every,
                    traces: nu.traces,
                    host,
                    window_spikes: 0,
                }
            })
            .collect();

        let mut sim = Simulator {
            session,
            compiled,
            nuclei,
            host_tensors,
            network,
            name,
            dt,
            step: 0,
            rounded: plan.rounded,
            run_options: step_run_options,
            check_every,
            options,
            events: None,
            stream: None,
            last_finite_step: 0,
            propagation,
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
    /// If a step fails (e.g. a host input function returns the wrong number
    /// of values), the error is [`Error::RunInterrupted`] and carries
    /// everything recorded before that step.
    pub fn run(&mut self, t_ms: f64) -> Result<Recording> {
        let steps = run_steps(t_ms, self.dt)?;
        self.run_steps(steps)
    }

    /// A recording of no steps yet, starting at the current step, with
    /// room for `steps`.
    fn empty_recording(&self, steps: usize) -> Recording {
        let first = self.step;
        Recording {
            network: self.network,
            dt: self.dt,
            first_step: first,
            steps: 0,
            nuclei: self
                .nuclei
                .iter()
                .map(|nu| NucleusRecording {
                    label: nu.label.clone(),
                    n: nu.n,
                    spikes: Vec::new(),
                    spike_count: 0,
                    traces: nu
                        .traces
                        .iter()
                        .map(|(var, idx)| {
                            (
                                var.name(),
                                Trace {
                                    neurons: idx.clone(),
                                    times: Vec::with_capacity(steps / nu.every + 1),
                                    values: Vec::with_capacity((steps / nu.every + 1) * idx.len()),
                                },
                            )
                        })
                        .collect(),
                })
                .collect(),
        }
    }

    /// [`run`](Self::run) for a number of steps.
    fn run_steps(&mut self, steps: usize) -> Result<Recording> {
        let first = self.step;
        let limit = self.options.limit();
        let per_run = self.compiled.copies.len();
        let (traces, capacity) = if self.stream.is_some() {
            (0, per_run.min(steps))
        } else {
            (self.trace_bytes(steps, limit)?, steps)
        };
        let mut rec = self.empty_recording(capacity);
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
            for (nu, slot) in self.nuclei.iter_mut().zip(self.host_tensors[j].iter_mut()) {
                if let (Some(f), Some(tensor)) = (nu.host.as_mut(), slot.as_mut()) {
                    let values = f(t);
                    if values.len() != nu.n {
                        failure = Some(Error::InputLength {
                            nucleus: nu.label.clone(),
                            step: m + j,
                            t_ms: t,
                            expected: nu.n,
                            got: values.len(),
                        });
                    } else if let Some((i, x)) =
                        values.iter().enumerate().find(|(_, x)| !x.is_finite())
                    {
                        failure = Some(Error::NonFinite {
                            what: format!(
                                "external input of nucleus {:?}, neuron {i}, at step {}",
                                nu.label,
                                m + j
                            ),
                            value: *x,
                        });
                    } else {
                        for (slot, x) in tensor.iter_mut().zip(values) {
                            *slot = x as f32;
                        }
                    }
                    if failure.is_some() {
                        count = j;
                        break 'steps;
                    }
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
                spike_tokens.push((j, idx, args.request_fetch(&ops.spikes, 0)));
                if (m + j) % nu.every == 0 {
                    for (var, op) in &ops.traces {
                        trace_tokens.push((j, idx, var.name(), args.request_fetch(op, 0)));
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
        let range = if count == 1 {
            format!("step {m}")
        } else {
            format!("steps {m}..{}", m + count - 1)
        };
        self.session
            .run(&mut args)
            .tf(|| format!("running {range}"))?;
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
                let r = &mut rec.nuclei[*idx];
                r.spike_count += fired.len() as u64;
                nu.window_spikes += fired.len() as u64;
                if nu.spikes {
                    r.spikes.extend(fired.iter().map(|&i| (step, i as usize)));
                }
            }
            for (_, idx, var, values) in values_of.iter().filter(|v| v.0 == j) {
                if let Some(tr) = rec.nuclei[*idx].traces.get_mut(*var) {
                    tr.times.push(step as f64 * self.dt);
                    tr.values.extend_from_slice(values);
                }
            }
            self.step += 1;
            rec.steps += 1;
            if (step + 1) % summary_every == 0 {
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
        Ok(())
    }
}

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
    /// TensorFlow's `SaveV2`: right after [`build`](Network::build), the
    /// initial state) and `manifest.json` (dt, the step op, the host-input
    /// placeholders with shapes, the spike and trace tensors of every
    /// nucleus, its label and size, the restore op and its prefix
    /// placeholder). The README shows a Python loader.
    ///
    /// The exported step is one time step per run (the first copy when
    /// [`SimOptions::steps_per_run`] is more than 1).
    pub fn export(&self, dir: impl AsRef<Path>) -> Result<()> {
        let dir = dir.as_ref();
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
                    var.name(),
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
        let manifest = checkpoint::verify(path)?;
        let ops = &self.compiled.checkpoint;
        manifest.check_fits(path, self.dt, &ops.variables)?;
        let prefix = path.join(checkpoint::STATE_PREFIX);
        let prefix = Tensor::from(prefix.to_string_lossy().into_owned());
        let mut args = SessionRunArgs::new();
        args.add_feed(&ops.prefix, 0, &prefix);
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

    /// Run until simulated time `until_ms` (from step 0), checkpointing every
    /// [`Checkpointing::every_ms`] into its folder and appending the spikes
    /// of recorded nuclei to its `spikes.csv` as it goes. If the folder
    /// already holds a checkpoint (a run that crashed or was stopped), it is
    /// restored first and the run continues from there, so a crash loses at
    /// most one interval of work and no spike before the last checkpoint.
    ///
    /// Returns what this call recorded (from the step it started or resumed
    /// at); the whole run's spikes are in the stream
    /// ([`streamed_spikes`](Self::streamed_spikes)). A failing step is
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
        // The spikes go to `spikes.csv` and the traces to `traces/`: the
        // recording returned keeps counts and steps, so memory stays bounded
        // however long the run.
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
                    rec.append(*recording);
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
            rec.append(chunk);
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
    /// `spikes.csv` and the traces of `traces/` (all in memory: for runs
    /// whose recording fits; NumPy reads `traces/` as it is).
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

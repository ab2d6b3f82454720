//! How a simulator's session is configured: [`SimOptions`], the executor,
//! the thread pools and run deadlines as TensorFlow's `ConfigProto` and
//! `RunOptions`, and the reachability probe of a remote target.

use std::path::PathBuf;
use std::time::Duration;

use tensorflow::{Session, SessionOptions, SessionRunArgs};

use crate::error::{Error, Result, TfContext};
use crate::network::compile::{Compiled, InitFeed};
use crate::network::proto::{bytes_field, varint_field};
#[allow(unused_imports)] // for doc links
use crate::network::recording::Recording;

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
    /// more, or with a model written as equations, when `inter_op_threads`
    /// is 0 too).
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
    /// list, trace or weight snapshot. Restoring a checkpoint cuts the files back to its step
    /// (or starts an empty stream there). `None`, the default, records in
    /// memory.
    pub stream: Option<PathBuf>,
    /// Simulated ms between checks that every `v`, `u` and `I` is finite; a
    /// failed check stops the run with [`Error::RunInterrupted`] whose
    /// reason is [`Error::NetworkDiverged`]. 0 turns the check off; default
    /// 1 ms.
    pub finite_check_ms: f64,
    /// Only TensorFlow's own ops in the graph. `false`, the default, lets a
    /// session in this process sum compressed rows with snn's kernel
    /// `SnnRowSums` (registered in this process; docs/design.md, "Rows
    /// summed by snn's kernel"), which other TensorFlow runtimes do not
    /// have ([`Simulator::export`](crate::network::Simulator::export) puts
    /// TensorFlow's ops in its place either way). Remote sessions
    /// ([`SimOptions::target`]) always get a portable graph.
    pub portable: bool,
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
            portable: false,
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
    /// Only TensorFlow's own ops (see [`SimOptions::portable`]): the
    /// graph TensorBoard draws and the session runs are then the ones an
    /// export holds.
    pub fn portable(mut self) -> Self {
        self.portable = true;
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
    pub(in crate::network) fn limit(&self) -> u64 {
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
    /// A network with a model written as equations (many small ops per
    /// step) keeps the single-threaded executor up to
    /// [`MODELS_SINGLE_THREADED_UP_TO`] neurons.
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

/// The size up to which [`Executor::Auto`] picks the single-threaded
/// executor for a network with a model written as equations: 40 000
/// neurons (such a network also gets one intra-op thread, see
/// [`ONE_INTRA_OP_THREAD_FROM`]). Measured on the Brette et al. (2007)
/// benchmarks, per simulated second, two runs each (docs/performance.md):
/// CUBA at 8000 neurons 0.59-0.61 s against 1.59-1.65 s with the default
/// executor and thread pools (the previous choice), at 20 000 1.78-1.91 s
/// against 4.6-6.2 s, at 40 000 3.9 s against 3.4-4.5 s with the default
/// executor and one intra-op thread; COBAHH at 20 000 7.8-8.0 s against
/// 10.3-10.4 s, at 8000 3.8-4.4 s against 3.8-4.1 s.
pub const MODELS_SINGLE_THREADED_UP_TO: usize = 40_000;

/// From this many neurons in all, a local network whose
/// [`SimOptions::threads`] are left at 0 runs each op on one thread (the
/// ops of a step still run in parallel on the inter-op pool). Measured on
/// this project's 2-core machine: the sparse 10^5-neuron networks of bench
/// case (f) take 0.55-0.65x the time (TensorFlow's intra-op sharding of
/// 10^5-element ops cost more than it gained); since the step's selects
/// no longer broadcast, also from 6000 neurons (alternating rounds: case
/// (b) at 6000 0.88-0.89x, at 10^4 0.82-1.02x, (f) at 10^4 with K = 1000
/// 0.74-1.05x), while 4000 neurons ((b): 0.97-1.21x) and 3800 (case (c):
/// 0.88-1.01x, earlier 1.16x) gain nothing dependable. A network with
/// a model written as equations gets one intra-op thread at any size: with
/// the single-threaded executor CUBA at 8000 neurons took 0.59-0.61 s
/// against 0.96-1.15 s with TensorFlow's default pool, COBAHH at 20 000
/// 7.8-8.0 s against 15.2-16.5 s, 4000 neurons the same either way.
pub const ONE_INTRA_OP_THREAD_FROM: usize = 6000;

/// The deadline of each session run with a remote target, unless
/// [`SimOptions::run_timeout_ms`] says otherwise: 120 s.
pub const REMOTE_RUN_TIMEOUT_MS: u64 = 120_000;

impl SimOptions {
    /// The run deadline in effect (ms, 0 for none).
    pub(super) fn timeout_ms(&self) -> u64 {
        match (self.run_timeout_ms, &self.target) {
            (0, Some(_)) => REMOTE_RUN_TIMEOUT_MS,
            (t, _) => t,
        }
    }
}

/// Check that a `grpc://host:port` target accepts connections (5 s at
/// most), so that a wrong address is a clear error rather than a wait.
pub(super) fn probe(target: &str) -> Result<()> {
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
pub(super) fn config_proto(
    options: &SimOptions,
    single_threaded: bool,
    neurons: usize,
    has_models: bool,
) -> Vec<u8> {
    let mut out = Vec::new();
    let intra = match (options.intra_op_threads, options.inter_op_threads) {
        // Neither pool set: one intra-op thread for large local networks
        // and for networks with models.
        (0, 0)
            if options.target.is_none() && (neurons >= ONE_INTRA_OP_THREAD_FROM || has_models) =>
        {
            1
        }
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
        // Grappler's memory optimizer turns a sum of large tensors computed
        // at different times (an AddN) into accumulation in a temporary
        // variable, a reference-typed edge the single-threaded executor
        // refuses ("Unimplemented: ... reference-typed edges"): seen with a
        // Poisson input and two connections into v of 12 500 neurons. Off:
        // ConfigProto.graph_options (10) { rewrite_options (10) {
        // memory_optimization (4) = NO_MEM_OPT (1) } }.
        let mut rewrite = Vec::new();
        varint_field(&mut rewrite, 4, 1);
        let mut graph = Vec::new();
        bytes_field(&mut graph, 10, &rewrite);
        bytes_field(&mut out, 10, &graph);
        // ConfigProto.experimental (16) { executor_type (3) }
        let mut exp = Vec::new();
        bytes_field(&mut exp, 3, b"SINGLE_THREADED_EXECUTOR");
        bytes_field(&mut out, 16, &exp);
    }
    out
}

/// `RunOptions` with `timeout_in_ms` (field 2), if any.
pub(super) fn run_options(timeout_ms: u64) -> Option<Vec<u8>> {
    (timeout_ms > 0).then(|| {
        let mut out = Vec::new();
        varint_field(&mut out, 2, timeout_ms);
        out
    })
}

/// Start the session for `compiled` (the executor, thread pools, target
/// and deadline `options` ask for; `on_cpu` and `neurons` decide what
/// [`Executor::Auto`] and the thread pools pick) and run its initialiser.
/// Returns the session and the `RunOptions` of every step run.
pub(super) fn open_session(
    compiled: &Compiled,
    options: &SimOptions,
    on_cpu: bool,
    neurons: usize,
    has_models: bool,
) -> Result<(Session, Option<Vec<u8>>)> {
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
            let up_to = if has_models {
                MODELS_SINGLE_THREADED_UP_TO
            } else {
                SINGLE_THREADED_UP_TO
            };
            options.target.is_none() && on_cpu && neurons <= up_to
        }
    };
    let config = config_proto(options, single_threaded, neurons, has_models);
    let step_run_options = run_options(options.timeout_ms());
    let mut session_options = SessionOptions::new();
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
    Ok((session, step_run_options))
}

//! The model: nuclei, connections and what to record, as plain Rust values.
//! Nothing here touches TensorFlow; [`Network::build`] compiles it.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

use ndarray::Array2;

use crate::equations::{NeuronModel, SynapseModel, Value};
use crate::error::{Error, Result};
use crate::network::simulator::{SimOptions, Simulator};
use crate::network::subgroup::Subgroup;

static NEXT_NETWORK_ID: AtomicU64 = AtomicU64::new(1);

/// A per-neuron parameter: one number for all neurons, or one per neuron.
#[derive(Debug, Clone, PartialEq)]
pub enum Param {
    /// The same value for every neuron.
    Scalar(f64),
    /// One value per neuron (length = nucleus size).
    PerNeuron(Vec<f64>),
}

impl From<f64> for Param {
    fn from(x: f64) -> Self {
        Param::Scalar(x)
    }
}
impl From<Vec<f64>> for Param {
    fn from(v: Vec<f64>) -> Self {
        Param::PerNeuron(v)
    }
}
impl From<&[f64]> for Param {
    fn from(v: &[f64]) -> Self {
        Param::PerNeuron(v.to_vec())
    }
}

impl Param {
    /// The value of neuron `i`.
    pub(crate) fn at(&self, i: usize) -> f64 {
        match self {
            Param::Scalar(x) => *x,
            Param::PerNeuron(v) => v[i],
        }
    }
}

/// A host function of time (ms) writing one input value per neuron into
/// the slice it is given (see [`Input::function`]).
pub type InputFn = Box<dyn FnMut(f64, &mut [f64]) + Send>;

/// External input `Iext` of a nucleus.
pub enum Input {
    /// The same current for every neuron at every step.
    Constant(f64),
    /// One constant current per neuron.
    PerNeuron(Vec<f64>),
    /// A function of `t` (ms), called on the host at every step with a
    /// slice of one value per neuron to fill; the values are fed to the
    /// graph.
    Function(InputFn),
    /// `mean + std * N(0, 1)`, drawn per neuron per step inside the graph
    /// from a counter-based generator keyed by `seed` and the step number, so
    /// runs with the same seed are identical.
    Noise {
        /// Mean current.
        mean: f64,
        /// Standard deviation.
        std: f64,
        /// Generator seed.
        seed: i64,
    },
}

impl fmt::Debug for Input {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Input::Constant(x) => write!(f, "Constant({x})"),
            Input::PerNeuron(v) => write!(f, "PerNeuron({} values)", v.len()),
            Input::Function(_) => write!(f, "Function(..)"),
            Input::Noise { mean, std, seed } => {
                write!(f, "Noise {{ mean: {mean}, std: {std}, seed: {seed} }}")
            }
        }
    }
}

impl From<f64> for Input {
    fn from(x: f64) -> Self {
        Input::Constant(x)
    }
}
impl From<Vec<f64>> for Input {
    fn from(v: Vec<f64>) -> Self {
        Input::PerNeuron(v)
    }
}

impl Input {
    /// A host function of time (ms) that writes the input of every neuron
    /// into the slice it gets, once per step:
    /// `Input::function(|t, out| out.fill(if t < 15.0 { 5.0 } else { 0.0 }))`.
    /// The slice is the same buffer every step and still holds what the
    /// previous call wrote (zeros before the first call), so a function may
    /// change only the neurons whose input changes. A value that is not
    /// finite stops the run with [`Error::NonFinite`](crate::Error::NonFinite)
    /// naming the nucleus, neuron and step.
    pub fn function(f: impl FnMut(f64, &mut [f64]) + Send + 'static) -> Self {
        Input::Function(Box::new(f))
    }
    /// Gaussian noise drawn in the graph: `mean + std * N(0, 1)`.
    pub fn noise(mean: f64, std: f64, seed: i64) -> Self {
        Input::Noise { mean, std, seed }
    }
}

/// Which neurons of a nucleus a state variable is recorded for.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Probe {
    /// Not recorded.
    #[default]
    None,
    /// These neurons (indices into the nucleus).
    Neurons(Vec<usize>),
    /// Every neuron.
    All,
}

impl Probe {
    pub(crate) fn indices(&self, n: usize) -> Vec<usize> {
        match self {
            Probe::None => Vec::new(),
            Probe::Neurons(v) => v.clone(),
            Probe::All => (0..n).collect(),
        }
    }
}

/// The state variables of an Izhikevich neuron that can be recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StateVar {
    /// Membrane potential (mV).
    V,
    /// Recovery variable.
    U,
    /// Input current used by the next step.
    I,
}

impl StateVar {
    /// `v`, `u` or `I`, as in the original library.
    pub fn name(self) -> &'static str {
        match self {
            StateVar::V => "v",
            StateVar::U => "u",
            StateVar::I => "I",
        }
    }
    /// All three, in order.
    pub const ALL: [StateVar; 3] = [StateVar::V, StateVar::U, StateVar::I];
}

/// What to record of one nucleus. Default: spikes only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Record spikes (step and neuron index). Default `true`.
    pub spikes: bool,
    /// Neurons whose `v` is recorded.
    pub v: Probe,
    /// Neurons whose `u` is recorded.
    pub u: Probe,
    /// Neurons whose `I` is recorded.
    pub i: Probe,
    /// Neurons whose every state variable is recorded, for a nucleus whose
    /// model is written as equations (`v`, `u`, `i` serve Izhikevich nuclei).
    pub all: Probe,
    /// Further variables by name, each with its neurons (any variable of
    /// the nucleus's model; `v`, `u`, `I` of an Izhikevich nucleus).
    pub named: Vec<(String, Probe)>,
    /// Record the traces every `every` steps (1 = every step). Default 1.
    pub every: usize,
}

impl Default for Record {
    fn default() -> Self {
        Record {
            spikes: true,
            v: Probe::None,
            u: Probe::None,
            i: Probe::None,
            all: Probe::None,
            named: Vec::new(),
            every: 1,
        }
    }
}

impl Record {
    /// Spikes only.
    pub fn spikes() -> Self {
        Record::default()
    }
    /// Spikes, and `v`, `u`, `I` (every state variable, for a model
    /// written as equations) of these neurons every step.
    pub fn traces(neurons: &[usize]) -> Self {
        let p = Probe::Neurons(neurons.to_vec());
        Record {
            spikes: true,
            v: p.clone(),
            u: p.clone(),
            i: p.clone(),
            all: p,
            named: Vec::new(),
            every: 1,
        }
    }
    /// Also record the variable `name` of these neurons.
    pub fn var(mut self, name: impl Into<String>, neurons: Probe) -> Self {
        self.named.push((name.into(), neurons));
        self
    }
    /// Spikes and every state variable of every neuron, every step.
    pub fn everything() -> Self {
        Record {
            spikes: true,
            v: Probe::All,
            u: Probe::All,
            i: Probe::All,
            all: Probe::All,
            named: Vec::new(),
            every: 1,
        }
    }
    /// Only every `every` steps.
    pub fn every(mut self, every: usize) -> Self {
        self.every = every.max(1);
        self
    }
    pub(crate) fn probe(&self, var: StateVar) -> &Probe {
        match var {
            StateVar::V => &self.v,
            StateVar::U => &self.u,
            StateVar::I => &self.i,
        }
    }
}

/// A population of Izhikevich neurons (the original's `Izhi_Nucleus`).
///
/// Defaults: regular spiking (`a = 0.02, b = 0.2, c = -65, d = 8`), no
/// external input, spikes recorded, placed by TensorFlow.
#[derive(Debug)]
pub struct Nucleus {
    pub(crate) label: String,
    pub(crate) n: usize,
    pub(crate) a: Param,
    pub(crate) b: Param,
    pub(crate) c: Param,
    pub(crate) d: Param,
    pub(crate) input: Input,
    pub(crate) record: Record,
    pub(crate) device: Option<String>,
    /// A model written as equations instead of the built-in Izhikevich
    /// neuron, and initial values that override the model's.
    pub(crate) model: Option<NeuronModel>,
    pub(crate) inits: Vec<(String, Value)>,
}

impl Nucleus {
    /// `n` regular-spiking neurons labelled `label`.
    pub fn new(label: impl Into<String>, n: usize) -> Self {
        Nucleus {
            label: label.into(),
            n,
            a: Param::Scalar(0.02),
            b: Param::Scalar(0.2),
            c: Param::Scalar(-65.0),
            d: Param::Scalar(8.0),
            input: Input::Constant(0.0),
            record: Record::default(),
            device: None,
            model: None,
            inits: Vec::new(),
        }
    }
    /// `n` neurons of a model written as equations (docs/semantics.md §3).
    /// The external input ([`Nucleus::input`]) and connections without an
    /// `on_pre` statement feed the model's first pulse input.
    pub fn with_model(label: impl Into<String>, n: usize, model: NeuronModel) -> Self {
        let mut nucleus = Nucleus::new(label, n);
        nucleus.model = Some(model);
        nucleus
    }
    /// The initial value of a state variable of this nucleus's model (a
    /// number, one per neuron, or an expression of the parameters,
    /// `rand()` and `randn()` drawn from the network's seed), overriding
    /// the model's.
    pub fn init(mut self, var: impl Into<String>, value: impl Into<Value>) -> Self {
        self.inits.push((var.into(), value.into()));
        self
    }
    /// The four Izhikevich parameters, each a number or a per-neuron vector.
    pub fn abcd(
        mut self,
        a: impl Into<Param>,
        b: impl Into<Param>,
        c: impl Into<Param>,
        d: impl Into<Param>,
    ) -> Self {
        self.a = a.into();
        self.b = b.into();
        self.c = c.into();
        self.d = d.into();
        self
    }
    /// External input `Iext` (a number, a per-neuron vector, [`Input::function`]
    /// or [`Input::noise`]).
    pub fn input(mut self, input: impl Into<Input>) -> Self {
        self.input = input.into();
        self
    }
    /// What to record (default: spikes only).
    pub fn record(mut self, record: Record) -> Self {
        self.record = record;
        self
    }
    /// Pin this nucleus and its incoming connections to a TensorFlow device,
    /// e.g. `/device:CPU:0` or `/device:GPU:0`.
    pub fn device(mut self, device: impl Into<String>) -> Self {
        self.device = Some(device.into());
        self
    }
    /// Its label.
    pub fn label(&self) -> &str {
        &self.label
    }
    /// Its size.
    pub fn len(&self) -> usize {
        self.n
    }
    /// True for a nucleus of size 0 (which [`Network::add`] refuses).
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }
}

/// A handle to a nucleus of one [`Network`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NucleusId {
    pub(crate) network: u64,
    pub(crate) index: usize,
}

impl NucleusId {
    /// Position of the nucleus in its network (order of [`Network::add`]).
    pub fn index(self) -> usize {
        self.index
    }
}

/// A handle to a connection of one [`Network`] (returned by
/// [`Network::connect_with`]; [`Simulator::weights`] reads its weights).
///
/// [`Simulator::weights`]: crate::network::Simulator::weights
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ConnectionId {
    pub(crate) network: u64,
    pub(crate) index: usize,
}

impl ConnectionId {
    /// Position of the connection in its network (order of
    /// [`Network::connect_with`]).
    pub fn index(self) -> usize {
        self.index
    }
}

/// Synaptic weights of a connection `pre -> post`; `w[i][j]` goes from
/// presynaptic neuron `i` to postsynaptic neuron `j`.
#[derive(Debug, Clone, PartialEq)]
pub enum Weights {
    /// All-to-all with one weight.
    Scalar(f64),
    /// Dense matrix of shape `(pre.n, post.n)`.
    Dense(Array2<f64>),
    /// Dense float32 matrix of shape `(pre.n, post.n)`: the precision the
    /// graph computes in, handed over without a copy when row-major (for
    /// large networks: 10^8 weights are 400 MB here, 800 MB as f64).
    DenseF32(Array2<f32>),
    /// `(i, j, w)` triplets; repeated pairs add up.
    Triplets(Vec<(usize, usize, f64)>),
    /// Compressed sparse rows over presynaptic neurons: the weights of row `i`
    /// are `values[indptr[i]..indptr[i+1]]` to columns `indices[..]`.
    Csr {
        /// Row pointers, length `pre.n + 1`.
        indptr: Vec<usize>,
        /// Column (postsynaptic) indices.
        indices: Vec<usize>,
        /// Weights.
        values: Vec<f64>,
    },
    /// Compressed sparse rows as the graph holds them (8 bytes a synapse:
    /// `u32` columns, `f32` weights), handed over without a copy: what the
    /// connectivity generators ([`Weights::random`] and the others) make,
    /// for networks of 10^8 synapses.
    CsrF32 {
        /// Row pointers, length `pre.n + 1`.
        indptr: Vec<usize>,
        /// Column (postsynaptic) indices.
        indices: Vec<u32>,
        /// Weights.
        values: Vec<f32>,
    },
    /// A random connectivity, generated when the network is built (see
    /// [`Weights::random`], [`Weights::fixed_in_degree`],
    /// [`Weights::fixed_out_degree`]).
    Random(crate::network::connectivity::RandomWeights),
}

impl From<f64> for Weights {
    fn from(w: f64) -> Self {
        Weights::Scalar(w)
    }
}
impl From<Array2<f64>> for Weights {
    fn from(w: Array2<f64>) -> Self {
        Weights::Dense(w)
    }
}
impl From<Array2<f32>> for Weights {
    fn from(w: Array2<f32>) -> Self {
        Weights::DenseF32(w)
    }
}
impl From<Vec<(usize, usize, f64)>> for Weights {
    fn from(w: Vec<(usize, usize, f64)>) -> Self {
        Weights::Triplets(w)
    }
}

/// The closed set of synapse models (docs/semantics.md §1.4: both are the
/// kernel form).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SynapseKind {
    /// The original's `voltage_jump`: a spike adds `w` to `I` for one step
    /// after the delay (kernel 1 at lag 0, window one step).
    VoltageJump,
    /// The original's `simple`: a kernel of the lag in ms over a window.
    Kernel,
}

/// How a connection turns presynaptic activity into input, per step, and
/// how its weights are held ([`Simulator::propagation`] reports the
/// choice).
///
/// [`Simulator::propagation`]: crate::network::Simulator::propagation
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Propagation {
    /// Weights given dense stay a dense matrix: event-driven for one-step
    /// kernels (voltage jump) and exponential/alpha traces, where few
    /// presynaptic neurons are active in a step; a matrix product for
    /// other kernels with a window, where most neurons that fired in the
    /// window are active (measured: event-driven made the basal-ganglia
    /// model 4x slower). Weights given sparse (triplets, CSR, a generated
    /// connectivity) stay compressed rows, event-driven, below a density of
    /// [`DENSE_FROM_DENSITY`](crate::network::DENSE_FROM_DENSITY), and
    /// become a dense matrix from it on if that fits the memory limit.
    /// The default.
    #[default]
    Auto,
    /// Take the weights of the presynaptic neurons with activity (the
    /// spikes that arrive, or the activity in the kernel's window) and sum
    /// them: cost proportional to the active neurons' synapses, not to
    /// `pre.n` or to all synapses. Sparse weights stay compressed rows.
    EventDriven,
    /// A dense weight matrix (sparse weights are expanded) multiplied by
    /// the activity vector every step.
    Dense,
}

/// A kernel: a function of the lag in ms, sampled once at build time.
pub type KernelFn = Box<dyn Fn(f64) -> f64 + Send>;

/// Per-synapse transmission delays ([`Connection::delays`]).
#[derive(Debug, Clone, PartialEq)]
pub enum Delays {
    /// One delay in ms per synapse, in the order of the synapses of
    /// [`Weights::Csr`] or [`Weights::CsrF32`] (their `values`). Each is a
    /// whole number of steps, or is rounded to the nearest one with
    /// [`Connection::round_to_step`] (reported once for the connection).
    PerSynapse(Vec<f64>),
    /// Drawn per synapse, uniform in `[low, high]` ms, and rounded to the
    /// nearest step (Brian2's `S.delay = 'low + rand() * (high - low)'`);
    /// keyed by `seed` and the synapse's place in the rows.
    Uniform {
        /// Shortest delay, ms (>= 0).
        low: f64,
        /// Longest delay, ms (>= `low`).
        high: f64,
        /// Seed of the draws.
        seed: u64,
    },
}

/// A connection `pre -> post` with weights, delay and synaptic kernel.
///
/// Defaults: delay 0, voltage jump (kernel 1 at lag 0 over one step), delays
/// and windows must be whole numbers of steps.
pub struct Connection {
    pub(crate) pre: Subgroup,
    pub(crate) post: Subgroup,
    pub(crate) weights: Weights,
    pub(crate) delay_ms: f64,
    /// A delay per synapse instead of `delay_ms`.
    pub(crate) delays: Option<Delays>,
    pub(crate) kernel: Option<(KernelFn, f64)>,
    pub(crate) round: bool,
    pub(crate) propagation: Propagation,
    pub(crate) on_pre: Option<String>,
    /// A synapse model with state (plastic weights, traces).
    pub(crate) synapses: Option<SynapseModel>,
    /// Record the weights every this many ms.
    pub(crate) snapshot_ms: Option<f64>,
}

impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection")
            .field("pre", &self.pre)
            .field("post", &self.post)
            .field("delay_ms", &self.delay_ms)
            .field("window_ms", &self.kernel.as_ref().map(|k| k.1))
            .field("round", &self.round)
            .finish_non_exhaustive()
    }
}

impl Connection {
    /// `pre -> post` with these weights, no delay, voltage-jump synapses.
    /// Either end may be a [`Subgroup`] of a nucleus (`p.subgroup(0..3200)`);
    /// the weights are then of the subgroups' sizes.
    pub fn new(
        pre: impl Into<Subgroup>,
        post: impl Into<Subgroup>,
        weights: impl Into<Weights>,
    ) -> Self {
        Connection {
            pre: pre.into(),
            post: post.into(),
            weights: weights.into(),
            delay_ms: 0.0,
            delays: None,
            kernel: None,
            round: false,
            propagation: Propagation::default(),
            on_pre: None,
            synapses: None,
            snapshot_ms: None,
        }
    }
    /// Transmission delay in ms (a whole number of steps unless
    /// [`round_to_step`](Self::round_to_step)).
    pub fn delay(mut self, ms: f64) -> Self {
        self.delay_ms = ms;
        self
    }
    /// A transmission delay per synapse (Brian2's `S.delay = ...`, NEST's
    /// per-connection delay) instead of one for the connection: the spike
    /// of presynaptic neuron `i` at step `m` reaches the target of synapse
    /// `s` at step `m + D_s` (docs/semantics.md §1.4). The weights must be
    /// compressed rows, triplets or a generated connectivity; the
    /// connection is event-driven; kernels are refused. A synapse model
    /// (plasticity) runs `on_pre` when each synapse's spike arrives and
    /// reads presynaptic traces at the synapse's delay (semantics §3.6).
    /// See [`Delays`] and
    /// [`Simulator::delays`](crate::network::Simulator::delays).
    pub fn delays(mut self, delays: Delays) -> Self {
        self.delays = Some(delays);
        self
    }
    /// Synaptic kernel `kernel(lag_ms)` over a window of `window_ms` ms: a
    /// spike at step `m` adds `w * kernel(k * dt)` to `I` at step `m + D + k`
    /// for `k = 0 .. round(window / dt) - 1`.
    pub fn kernel(mut self, kernel: impl Fn(f64) -> f64 + Send + 'static, window_ms: f64) -> Self {
        self.kernel = Some((Box::new(kernel), window_ms));
        self
    }
    /// Round delay and window to the nearest whole step instead of refusing
    /// values that are not multiples of `dt`; what was rounded is reported by
    /// [`Simulator::rounded`](crate::network::Simulator::rounded).
    pub fn round_to_step(mut self) -> Self {
        self.round = true;
        self
    }
    /// How dense weights propagate activity (default [`Propagation::Auto`];
    /// sparse weights always sum over their synapses).
    pub fn propagation(mut self, propagation: Propagation) -> Self {
        self.propagation = propagation;
        self
    }
    /// What each arriving spike does to a postsynaptic nucleus whose model
    /// is written as equations: `x += expr` with `expr` linear in the weight
    /// `w` (`"ge += w"`, `"v += 0.5 * w"`), applied in the step the spike
    /// arrives (docs/semantics.md §3). Without it a connection feeds the
    /// model's first pulse input, as into an Izhikevich nucleus's `I`.
    pub fn on_pre(mut self, statement: impl Into<String>) -> Self {
        self.on_pre = Some(statement.into());
        self
    }
    /// Synapses with state (docs/semantics.md §3.6): the weight `w` and
    /// traces change with the statements of `model` when a presynaptic
    /// spike arrives (`on_pre`, which also says what the spike does to the
    /// postsynaptic model) and when the postsynaptic neuron fires
    /// (`on_post`): spike-timing-dependent plasticity learned in the graph.
    /// Instead of [`on_pre`](Self::on_pre); voltage jumps only (no kernel).
    pub fn synapses(mut self, model: SynapseModel) -> Self {
        self.synapses = Some(model);
        self
    }
    /// Record this connection's weights every `every_ms` of simulated time
    /// (a whole number of steps unless [`round_to_step`](Self::round_to_step)),
    /// into [`Recording::weights`](crate::network::Recording::weights): the
    /// whole matrix as [`Simulator::weights`](crate::network::Simulator::weights)
    /// reads it, taken after the session run that completes each period
    /// (exactly at it with one step per run). Kept in memory, within the
    /// memory limit; a streamed run ([`SimOptions::stream`]) and a
    /// checkpointed run write them into their folder instead, where
    /// [`Recording::read_streamed`] finds them.
    ///
    /// [`SimOptions::stream`]: crate::network::SimOptions::stream
    /// [`Recording::read_streamed`]: crate::network::Recording::read_streamed
    pub fn record_weights(mut self, every_ms: f64) -> Self {
        self.snapshot_ms = Some(every_ms);
        self
    }
    /// Which synapse model this is.
    pub fn kind(&self) -> SynapseKind {
        if self.kernel.is_some() {
            SynapseKind::Kernel
        } else {
            SynapseKind::VoltageJump
        }
    }
}

/// A network description: nuclei and connections.
#[derive(Debug)]
pub struct Network {
    pub(crate) id: u64,
    pub(crate) nuclei: Vec<Nucleus>,
    pub(crate) connections: Vec<Connection>,
    pub(crate) name: String,
    pub(crate) seed: u64,
}

impl Default for Network {
    fn default() -> Self {
        Self::new()
    }
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
        Simulator::new(self, dt, options)
    }

    /// An empty network named `"snn"` (the name of its TensorBoard run folder).
    pub fn new() -> Self {
        Network {
            id: NEXT_NETWORK_ID.fetch_add(1, Ordering::Relaxed),
            nuclei: Vec::new(),
            connections: Vec::new(),
            name: "snn".to_string(),
            seed: 0,
        }
    }

    /// The seed of the random initial values and parameters of models
    /// written as equations and of the `rand()`/`randn()` draws of their
    /// thresholds and resets (Poisson groups among them) (default 0); each
    /// nucleus draws its own streams from it.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Name the network; runs write to `graphs/<name>/`.
    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// The network's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Add a nucleus. Refuses empty nuclei, duplicate or unusable labels.
    pub fn add(&mut self, nucleus: Nucleus) -> Result<NucleusId> {
        if nucleus.n == 0 {
            return Err(Error::EmptyNucleus {
                label: nucleus.label,
            });
        }
        let ok_label = !nucleus.label.is_empty()
            && nucleus
                .label
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphanumeric())
            && nucleus
                .label
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c));
        if !ok_label {
            return Err(Error::InvalidLabel {
                label: nucleus.label,
            });
        }
        if self.nuclei.iter().any(|m| m.label == nucleus.label) {
            return Err(Error::DuplicateLabel {
                label: nucleus.label,
            });
        }
        self.nuclei.push(nucleus);
        Ok(NucleusId {
            network: self.id,
            index: self.nuclei.len() - 1,
        })
    }

    /// Connect `pre -> post` with voltage-jump synapses and no delay.
    pub fn connect(
        &mut self,
        pre: NucleusId,
        post: NucleusId,
        weights: impl Into<Weights>,
    ) -> Result<ConnectionId> {
        self.connect_with(Connection::new(pre, post, weights))
    }

    /// Add a connection built with [`Connection`]'s options.
    pub fn connect_with(&mut self, connection: Connection) -> Result<ConnectionId> {
        for end in [&connection.pre, &connection.post] {
            self.check(end.id)?;
            let nu = &self.nuclei[end.id.index];
            end.check(&nu.label, nu.n)?;
        }
        self.connections.push(connection);
        Ok(ConnectionId {
            network: self.id,
            index: self.connections.len() - 1,
        })
    }

    /// The nucleus behind a handle.
    pub fn nucleus(&self, id: NucleusId) -> Result<&Nucleus> {
        self.check(id)?;
        Ok(&self.nuclei[id.index])
    }

    /// Handles of all nuclei, in order.
    pub fn ids(&self) -> Vec<NucleusId> {
        (0..self.nuclei.len())
            .map(|index| NucleusId {
                network: self.id,
                index,
            })
            .collect()
    }

    pub(crate) fn check(&self, id: NucleusId) -> Result<()> {
        if id.network != self.id || id.index >= self.nuclei.len() {
            return Err(Error::ForeignNucleus { index: id.index });
        }
        Ok(())
    }

    pub(crate) fn conn_name(&self, c: &Connection) -> String {
        format!(
            "{}->{}",
            c.pre.name(&self.nuclei[c.pre.id.index].label),
            c.post.name(&self.nuclei[c.post.id.index].label)
        )
    }
}

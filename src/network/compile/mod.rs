//! The graph compiler: a [`Plan`] becomes a TensorFlow graph whose one run is
//! one time step. Two stages: [`layout`] decides, without TensorFlow, how
//! the plan is laid out (populations, rings, trace groups and banks, event
//! lags); the emitter turns that into ops, along the seams of the step:
//! [`state`] (variables, created once, and checkpoint ops), [`neurons`]
//! (steps 2-5), [`ring`] and [`propagation`] (spike rows and events, and
//! their sums through the weights), [`synapses`] (step 6), [`traces`]
//! (kernel traces), [`noise`], and [`step`] (one copy of the step, with
//! steps 7-8), on the helpers of [`graph`].
//!
//! # Step order (docs/semantics.md §1.3), written down once
//!
//! Names follow the model (docs/design.md, "Names in the graph"): one
//! namespace per nucleus `X/`, a connection's ops under its postsynaptic
//! nucleus (`Y/from_X/`), and the shared machinery in `step/`, `neurons/`,
//! `checkpoint/` and `init`.
//!
//! Every nucleus `X` has resource variables `X/v`, `X/u`, `X/I` (input for
//! the next update) and, if a connection reads its past spikes, `X/spikes`,
//! a ring of the last `L` steps' spikes: at step `m`, row `(m - j) mod L`
//! holds the spikes of step `m - j`. The `step` counter `m` and the time
//! step `step/dt` are variables too. One run:
//!
//! 1. **read**: `v`, `u`, `I`, `step`, kernel traces, and the ring rows the
//!    step needs (`ResourceGather`) are read. The no-op `step/reads_done` depends
//!    on all reads, and every write depends on `reads_done`, so each step
//!    sees only the state left by the previous one, whatever order
//!    TensorFlow schedules ops in. (The original graph had no such ordering
//!    and raced.)
//!
//! Steps 2-5 run once per *population*, the nuclei placed on one device
//! (scope `neurons`, or the nucleus's own scope when it is alone there):
//! the members' `v`, `u` and `I` are joined into one vector, updated by one
//! set of ops with per-neuron parameters, and split back; the arithmetic per
//! neuron is the same as a nucleus on its own would do (on a CPU in a local
//! session one op of snn's, `neurons/update`, computes the same numbers from
//! the members' reads; [`neurons`]).
//!
//! 2. **reset** (`neurons/reset`): neurons that spiked in the previous step get
//!    `v = c`, `u = u + d`. They are the neurons with `v = 30`: a spiking
//!    neuron stored exactly the peak, any other one less, and `c < 30` is
//!    checked when planning.
//! 3. **v** (`neurons/v_update`): `dv = ((0.04 v + 5) v + 140) - u + I`,
//!    `v' = v + dv dt` (the original's float32 order).
//! 4. **u** (`neurons/u_update`): `u' = u + (a (b v' - u)) dt` (with the new `v'`).
//! 5. **threshold** (`neurons/threshold`): `s = v' >= 30`; spiking neurons store
//!    `v' = 30`; `s` is lag 0 for the synapses.
//! 6. **synapses** (`post/from_pre/...`), with `S(j)` the presynaptic spikes at
//!    lag `j` and `y(j) = S(j) · W` (event-driven through dense weights:
//!    per presynaptic nucleus one gather of the ring rows at every lag its
//!    connections read and one `Where`, giving (lag slot, neuron) pairs
//!    (`X/events`), then per connection one `SparseSegmentSum` of `W`'s
//!    rows into a segment per lag; or a matrix product; or a
//!    gather/segment-sum for sparse weights):
//!    - voltage jump: `I_syn = y(D)`;
//!    - exponential kernel `c r^k` (recognised from its samples): a trace
//!      `G = r G + y(D) - r^K y(D + K)`, `I_syn = c G`;
//!    - alpha kernel `c k r^k`: `A = r A + r G - K r^K y(D + K)` with the
//!      previous `G`, `I_syn = c A`;
//!    - the traces are linear in `y`, so all connections into one nucleus
//!      with the same kernel (`c`, `r`, `K`) share one `G` (and `A`), fed
//!      with the sum of their terms `y(D) - r^K y(D + K)` and
//!      `-K r^K y(D + K)`; all traces of a nucleus are the rows of one
//!      `[T, n]` variable `X/traces`, and one step of them is one `MatMul`
//!      (`X/kernels/new`) of a constant coefficient matrix (decays and
//!      every connection's term coefficients) with the old traces and the
//!      connections' lag sums stacked; the current is `c · G` (or `c · A`)
//!      summed over the rows by a second small `MatMul`;
//!    - any other kernel: `x = Σ_k kernel[k] S(D + k)`, `I_syn = x · W`.
//!
//!    The traces are exact for the truncated window (the spikes leaving it
//!    are subtracted), so every form computes the sum of semantics §1.4.
//! 7. **input** (`X/input`): `I = Iext(t) + Σ I_syn` over afferents.
//! 8. **write** (`X/write`): assign `v`, `u`, `I`, the traces, this step's
//!    spikes into ring row `m mod L` (`ResourceScatterUpdate`, one row); the
//!    `step` counter (which also keys the in-graph noise: a Box–Muller
//!    transform of `StatelessRandomUniform` draws) increments.
//!
//! A nucleus whose model is written as equations (docs/semantics.md §3) is
//! a population of its own (scope `X/update`): its variables `X/<name>`
//! are read, the lowered model's bindings become ops (`expr`), the
//! threshold holds where the neuron may fire (from `X/lastspike`); after
//! step 6 its `on_pre` increments, reset and last-spike steps follow
//! (`X/on_pre`, `X/reset`).
//!
//! Large arrays (weights, sparse indices) enter their variables through
//! placeholders fed once by the init run, never as constants in the GraphDef.

use tensorflow::{Operation, Scope, Tensor};

use crate::error::Result;
use crate::network::checkpoint::VarEntry;
use crate::network::plan::{Kept, OwnBlock, Plan};

mod expr;
mod graph;
mod layout;
mod models;
mod neurons;
mod noise;
mod plastic;
pub(crate) mod propagation;
mod ring;
mod state;
mod step;
mod synapses;
mod traces;

use graph::{group, Registry};
use layout::Layout;
use step::{build_step, Chain, GraphState};

/// A tensor fed once at initialisation.
pub(crate) enum InitFeed {
    F32(Operation, Tensor<f32>),
    I32(Operation, Tensor<i32>),
    I64(Operation, Tensor<i64>),
}

/// Fetches of one nucleus in every step.
pub(crate) struct NucleusOps {
    /// `Where(fired)`: int64 `[k, 1]` indices of this step's spikes.
    pub spikes: tensorflow::Output,
    /// Recorded neurons' values after the step, per state variable.
    pub traces: Vec<(String, Operation)>,
    /// Placeholder for a host input function, if any.
    pub host_input: Option<Operation>,
    /// Scalar bool: every `v`, `u` and `I` of the nucleus is finite after
    /// this copy's step (fetched only on the steps the run checks).
    pub finite: Operation,
    /// The variables `v`, `u`, `I` as they are between runs (read when a
    /// check failed, to name the neuron).
    pub state: Vec<(String, Operation)>,
}

pub(crate) struct Compiled {
    /// The root scope owns the graph.
    pub scope: Scope,
    pub init: Operation,
    pub init_feeds: Vec<InitFeed>,
    /// `steps[j]`: the target that advances `j + 1` steps in one run (the
    /// copies of the step are chained, each reading what the previous wrote).
    pub steps: Vec<Operation>,
    /// Per copy of the step, per nucleus.
    pub copies: Vec<Vec<NucleusOps>>,
    /// Save and restore of every variable.
    pub checkpoint: CheckpointOps,
    /// Per connection, reads of its weight variables.
    pub weights: Vec<propagation::WeightOps>,
    /// Per connection with per-synapse delays, its distinct delays in
    /// steps: its compressed rows are keyed by (neuron, delay).
    pub synapse_lags: Vec<Option<Vec<usize>>>,
    /// Per connection whose dense weights hold only a block between
    /// subgroups (`PlanConnection::own`), the block.
    pub own: Vec<Option<OwnBlock>>,
    /// Per connection with state, a read of each trace variable.
    pub synapse_traces: Vec<Vec<(String, Operation)>>,
}

/// TensorFlow's own save and restore ops over every variable of the graph
/// (scope `checkpoint/`): `SaveV2` and `RestoreV2` with the checkpoint
/// prefix fed to `prefix`.
pub(crate) struct CheckpointOps {
    pub prefix: Operation,
    pub save: Operation,
    pub restore: Operation,
    /// String `[n]`: the checkpoint key restore reads for each variable
    /// (defaults to the variables' names).
    pub restore_names: Operation,
    /// Reads the step counter.
    pub step: Operation,
    /// Every variable; its op name is its key in the checkpoint (`CTX/v`).
    pub variables: Vec<VarEntry>,
    /// Per variable, its key in checkpoints written before the graph's
    /// names moved (`dt`, `CTX->D1/weights`), where that differs.
    pub legacy: Vec<Option<String>>,
}
/// Compile `plan` into a graph of `copies` chained steps (1 for one session
/// run per step); the plan's large arrays move into the init feeds, what
/// the simulator needs of the rest is returned beside the graph.
pub(crate) fn compile(mut plan: Plan, copies: usize) -> Result<(Compiled, Kept)> {
    let layout = Layout::new(&plan);
    let mut root = Scope::new_root_scope();
    let mut reg = Registry::default();
    let mut feeds = Vec::new();
    let mut step_scope = root.new_sub_scope("step");
    let step_var = state::step_counter(&mut root, &mut step_scope, &mut reg)?;
    let dt_var = state::time_step(&mut step_scope, plan.dt, &mut reg)?;
    let mut nuclei = state::nuclei(&mut root, &plan, &layout, &mut reg)?;
    let populations = state::population_scopes(&mut root, &plan, &layout, &nuclei);
    let conns = state::connections(&nuclei, &mut plan, &mut reg, &mut feeds)?;
    let banks = state::trace_banks(&plan, &layout, &mut nuclei, &mut reg)?;

    let copies = copies.max(1);
    let mut steps = Vec::with_capacity(copies);
    let mut all_copies = Vec::with_capacity(copies);
    let mut after: Option<Operation> = None;
    let mut step0 = None;
    for copy in 0..copies {
        let state = GraphState {
            step_scope: &step_scope,
            step_var: &step_var,
            dt_var: &dt_var,
            layout: &layout,
            nuclei: &nuclei,
            populations: &populations,
            conns: &conns,
            banks: &banks,
        };
        let chain = Chain {
            after: after.as_ref(),
            copy,
            step0: step0.as_ref(),
            last: copy + 1 == copies,
        };
        let built = build_step(&plan, &state, chain)?;
        steps.push(built.target);
        all_copies.push(built.fetches);
        after = built.done;
        step0.get_or_insert(built.step);
    }
    let checkpoint = state::checkpoint_ops(&mut root, &step_var, &reg)?;
    let init = group(&mut root, "init", reg.inits)?;
    let compiled = Compiled {
        scope: root,
        init,
        init_feeds: feeds,
        steps,
        copies: all_copies,
        checkpoint,
        weights: conns.iter().map(|c| c.w.clone()).collect(),
        synapse_lags: plan
            .connections
            .iter()
            .map(|c| c.synapse_lags.clone())
            .collect(),
        own: plan.connections.iter().map(|c| c.own).collect(),
        synapse_traces: conns
            .iter()
            .map(|c| {
                c.plastic
                    .as_ref()
                    .map(|p| p.reads.clone())
                    .unwrap_or_default()
            })
            .collect(),
    };
    Ok((compiled, plan.keep()))
}

//! The graph compiler: a [`Plan`] becomes a TensorFlow graph whose one run is
//! one time step.
//!
//! # Step order (docs/semantics.md §1.3), written down once
//!
//! Every nucleus `X` has resource variables `X/v`, `X/u`, `X/I` (input for
//! the next update) and, if a connection reads its past spikes, `X/spikes`,
//! a ring of the last `L` steps' spikes: at step `m`, row `(m - j) mod L`
//! holds the spikes of step `m - j`. The `step` counter `m` is a variable
//! too. One run:
//!
//! 1. **read**: `v`, `u`, `I`, `step`, kernel traces, and the ring rows the
//!    step needs (`ResourceGather`) are read. The no-op `reads_done` depends
//!    on all reads, and every write depends on `reads_done`, so each step
//!    sees only the state left by the previous one, whatever order
//!    TensorFlow schedules ops in. (The original graph had no such ordering
//!    and raced.)
//!
//! Steps 2-5 run once per *population*, the nuclei placed on one device
//! (scope `neurons`, or the nucleus's own scope when it is alone there):
//! the members' `v`, `u` and `I` are joined into one vector, updated by one
//! set of ops with per-neuron parameters, and split back; the arithmetic per
//! neuron is the same as a nucleus on its own would do.
//!
//! 2. **reset** (`neurons/reset`): neurons that spiked in the previous step get
//!    `v = c`, `u = u + d`. They are the neurons with `v = 30`: a spiking
//!    neuron stored exactly the peak, any other one less, and `c < 30` is
//!    checked when planning.
//! 3. **v** (`neurons/v_update`): `v' = v + dt (0.04 v² + 5 v + 140 - u + I)`.
//! 4. **u** (`neurons/u_update`): `u' = u + dt a (b v' - u)` (with the new `v'`).
//! 5. **threshold** (`neurons/threshold`): `s = v' >= 30`; spiking neurons store
//!    `v' = 30`; `s` is lag 0 for the synapses.
//! 6. **synapses** (`pre->post/...`), with `S(j)` the presynaptic spikes at
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
//! Large arrays (weights, sparse indices) enter their variables through
//! placeholders fed once by the init run, never as constants in the GraphDef.

use tensorflow::{ops, DataType, Operation, Output, Scope, Shape, Tensor};

use crate::error::Result;
use crate::network::checkpoint::VarEntry;
use crate::network::model::{Propagation, StateVar};
use crate::network::plan::{
    Kept, KernelForm, Plan, PlanConnection, PlanInput, PlanNucleus, PlanWeights,
};

/// A tensor fed once at initialisation.
pub(crate) enum InitFeed {
    F32(Operation, Tensor<f32>),
    I32(Operation, Tensor<i32>),
    I64(Operation, Tensor<i64>),
}

/// Fetches of one nucleus in every step.
pub(crate) struct NucleusOps {
    /// `Where(fired)`: int64 `[k, 1]` indices of this step's spikes.
    pub spikes: Operation,
    /// Recorded neurons' values after the step, per state variable.
    pub traces: Vec<(StateVar, Operation)>,
    /// Placeholder for a host input function, if any.
    pub host_input: Option<Operation>,
    /// Scalar bool: every `v`, `u` and `I` of the nucleus is finite after
    /// this copy's step (fetched only on the steps the run checks).
    pub finite: Operation,
    /// The variables `v`, `u`, `I` as they are between runs (read when a
    /// check failed, to name the neuron).
    pub state: Vec<(StateVar, Operation)>,
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
}

/// TensorFlow's own save and restore ops over every variable of the graph
/// (scope `checkpoint/`): `SaveV2` and `RestoreV2` with the checkpoint
/// prefix fed to `prefix`.
pub(crate) struct CheckpointOps {
    pub prefix: Operation,
    pub save: Operation,
    pub restore: Operation,
    /// Reads the step counter.
    pub step: Operation,
    /// Every variable; its op name is its key in the checkpoint (`CTX/v`).
    pub variables: Vec<VarEntry>,
}

/// Variables and their initialisers, as they are created.
#[derive(Default)]
struct Registry {
    inits: Vec<Operation>,
    vars: Vec<(Var, Vec<u64>)>,
}

fn tf_err(context: &str) -> impl Fn(tensorflow::Status) -> crate::Error + '_ {
    move |status| crate::Error::TensorFlow {
        context: format!("building the graph ({context})"),
        message: status.to_string(),
    }
}

/// Like [`tf_err`] for the graph API's other error types (names with NUL
/// bytes, non-UTF-8 names).
fn other_err<E: std::fmt::Display>(context: &str) -> impl Fn(E) -> crate::Error + '_ {
    move |err| crate::Error::TensorFlow {
        context: format!("building the graph ({context})"),
        message: err.to_string(),
    }
}

/// A constant, without the control dependencies of `scope`: constants read
/// no state, and identical control-free constants of different copies of
/// the step are one node after Grappler's common-subgraph elimination, so a
/// run of `K` steps executes each once, not `K` times.
fn constant<T: tensorflow::TensorType, TT: Into<Tensor<T>>>(
    value: TT,
    scope: &mut Scope,
) -> std::result::Result<Operation, tensorflow::Status> {
    ops::constant(value, &mut scope.with_no_control_dependencies())
}

fn const_f32(scope: &mut Scope, name: &str, values: &[f32], dims: &[u64]) -> Result<Operation> {
    let t = Tensor::new(dims)
        .with_values(values)
        .map_err(tf_err(name))?;
    constant(t, &mut scope.with_op_name(name)).map_err(tf_err(name))
}

fn scalar_f32(scope: &mut Scope, name: &str, x: f32) -> Result<Operation> {
    constant(x, &mut scope.with_op_name(name)).map_err(tf_err(name))
}

fn const_i32(scope: &mut Scope, name: &str, values: &[i32], dims: &[u64]) -> Result<Operation> {
    let t = Tensor::new(dims)
        .with_values(values)
        .map_err(tf_err(name))?;
    constant(t, &mut scope.with_op_name(name)).map_err(tf_err(name))
}

fn shape(dims: &[u64]) -> Shape {
    Shape::from(Some(
        dims.iter().map(|&d| Some(d as i64)).collect::<Vec<_>>(),
    ))
}

/// A resource variable (its initialiser is among the init ops).
#[derive(Clone)]
struct Var {
    handle: Operation,
    dtype: DataType,
}

impl Var {
    /// A fresh read in `scope` (which carries the copy's control dependency).
    fn read_in(&self, scope: &mut Scope, name: &str) -> Result<Operation> {
        ops::ReadVariableOp::new()
            .dtype(self.dtype)
            .build(self.handle.clone(), &mut scope.with_op_name(name))
            .map_err(tf_err(name))
    }
}

fn variable(
    scope: &mut Scope,
    name: &str,
    dtype: DataType,
    dims: &[u64],
    init: Output,
    reg: &mut Registry,
) -> Result<Var> {
    // Resource variables with an empty shared_name would all share one
    // resource; give each its own.
    let shared = format!("snn_{}_{}", reg.vars.len(), name);
    let handle = ops::VarHandleOp::new()
        .dtype(dtype)
        .shared_name(shared)
        .shape(shape(dims))
        .build(&mut scope.with_op_name(name))
        .map_err(tf_err(name))?;
    let init_op = ops::AssignVariableOp::new()
        .dtype(dtype)
        .build(
            handle.clone(),
            init,
            &mut scope.with_op_name(&format!("{name}/init")),
        )
        .map_err(tf_err(name))?;
    reg.inits.push(init_op);
    let var = Var { handle, dtype };
    reg.vars.push((var.clone(), dims.to_vec()));
    Ok(var)
}

/// A variable initialised from a placeholder fed once (for large arrays);
/// `wrap` files the tensor among the init feeds.
#[allow(clippy::too_many_arguments)]
fn fed_variable<T: tensorflow::TensorType>(
    scope: &mut Scope,
    name: &str,
    values: Vec<T>,
    dims: &[u64],
    wrap: fn(Operation, Tensor<T>) -> InitFeed,
    reg: &mut Registry,
    feeds: &mut Vec<InitFeed>,
) -> Result<Var> {
    let ph = ops::Placeholder::new()
        .dtype(T::data_type())
        .shape(shape(dims))
        .build(&mut scope.with_op_name(&format!("{name}/value")))
        .map_err(tf_err(name))?;
    let t = Tensor::new(dims)
        .with_values(&values)
        .map_err(tf_err(name))?;
    // The host copy goes before the next array is copied (a 10^8-synapse
    // network is then held about once, not twice, while it is built).
    let big = std::mem::size_of_val(&values[..]) >= 1 << 24;
    drop(values);
    if big {
        crate::runtime::return_freed_memory();
    }
    feeds.push(wrap(ph.clone(), t));
    variable(scope, name, T::data_type(), dims, ph.into(), reg)
}

fn dtype_name(dtype: DataType) -> &'static str {
    match dtype {
        DataType::Float => "float32",
        DataType::Int32 => "int32",
        DataType::Int64 => "int64",
        _ => "other",
    }
}

/// `checkpoint/save` (SaveV2) and `checkpoint/restore` (RestoreV2, then one
/// assign per variable) over every variable, keyed by the variable's name.
fn checkpoint_ops(
    root: &mut Scope,
    step_var: &Var,
    vars: &[(Var, Vec<u64>)],
) -> Result<CheckpointOps> {
    let e = tf_err("checkpoint");
    let mut s = root.new_sub_scope("checkpoint");
    let prefix = ops::Placeholder::new()
        .dtype(DataType::String)
        .shape(Shape::from(Some(Vec::new())))
        .build(&mut s.with_op_name("prefix"))
        .map_err(&e)?;
    let mut variables = Vec::with_capacity(vars.len());
    for (var, dims) in vars {
        variables.push(VarEntry {
            name: var.handle.name().map_err(other_err("checkpoint"))?,
            dtype: dtype_name(var.dtype).into(),
            shape: dims.clone(),
        });
    }
    let names: Vec<String> = variables.iter().map(|v| v.name.clone()).collect();
    let slices: Vec<String> = vec![String::new(); names.len()];
    let dtypes: Vec<DataType> = vars.iter().map(|(v, _)| v.dtype).collect();
    let mut reads = Vec::with_capacity(vars.len());
    for (k, (var, _)) in vars.iter().enumerate() {
        reads.push(Output {
            operation: var.read_in(&mut s, &format!("read{k}"))?,
            index: 0,
        });
    }
    let save = {
        let tensor_names = constant(&names[..], &mut s.with_op_name("save_names")).map_err(&e)?;
        let shapes = constant(&slices[..], &mut s.with_op_name("save_slices")).map_err(&e)?;
        let name = s.get_unique_name_for_op("save");
        let mut g = s.graph_mut();
        let mut nd = g
            .new_operation("SaveV2", &name)
            .map_err(other_err("checkpoint"))?;
        nd.add_input(prefix.clone());
        nd.add_input(tensor_names);
        nd.add_input(shapes);
        nd.add_input_list(&reads);
        nd.set_attr_type_list("dtypes", &dtypes)
            .map_err(other_err("checkpoint"))?;
        nd.finish().map_err(&e)?
    };
    let restored = {
        let tensor_names =
            constant(&names[..], &mut s.with_op_name("restore_names")).map_err(&e)?;
        let shapes = constant(&slices[..], &mut s.with_op_name("restore_slices")).map_err(&e)?;
        ops::RestoreV2::new()
            .dtypes(dtypes.clone())
            .build(
                prefix.clone(),
                tensor_names,
                shapes,
                &mut s.with_op_name("restored"),
            )
            .map_err(&e)?
    };
    let mut assigns = Vec::with_capacity(vars.len());
    for (k, (var, _)) in vars.iter().enumerate() {
        assigns.push(
            ops::AssignVariableOp::new()
                .dtype(var.dtype)
                .build(
                    var.handle.clone(),
                    Output {
                        operation: restored.clone(),
                        index: k as i32,
                    },
                    &mut s.with_op_name(&format!("assign{k}")),
                )
                .map_err(&e)?,
        );
    }
    let restore = group(&mut s, "restore", assigns)?;
    let step = step_var.read_in(&mut s, "step")?;
    Ok(CheckpointOps {
        prefix,
        save,
        restore,
        step,
        variables,
    })
}

/// The weights of a connection in the graph.
enum WeightOps {
    Dense(Operation),
    /// Compressed rows by presynaptic neuron (see [`PlanWeights::Csr`]).
    Csr {
        /// int64 `[pre.n + 1]`.
        indptr: Operation,
        /// int32 `[nnz]`.
        cols: Operation,
        /// float32 `[nnz]`.
        w: Operation,
    },
}

/// `x · W` for a `[1, pre.n]` activity row: the `[post.n]` input it causes.
/// Event-driven: the rows of active neurons gathered, weighted by their
/// activity and summed (a windowed kernel's row); or a matrix product.
/// Sparse weights gather per synapse and segment-sum. (Spikes through dense
/// weights, event-driven, take [`event_sums`] instead.)
#[allow(clippy::too_many_arguments)]
fn propagate(
    s: &mut Scope,
    name: &str,
    x: Operation,
    w: &WeightOps,
    event_driven: bool,
    pre_n: u64,
    post_n: u64,
) -> Result<Operation> {
    let e = tf_err(name);
    let flat_pre = const_i32(s, &format!("{name}/flat_pre"), &[pre_n as i32], &[1])?;
    match w {
        WeightOps::Dense(wv) if !event_driven => {
            let y = ops::mat_mul(
                x,
                wv.clone(),
                &mut s.with_op_name(&format!("{name}/product")),
            )
            .map_err(&e)?;
            let flat = const_i32(s, &format!("{name}/flat_post"), &[post_n as i32], &[1])?;
            ops::reshape(y, flat, &mut s.with_op_name(name)).map_err(&e)
        }
        WeightOps::Dense(wv) => {
            let (flat, idx) = active_neurons(s, name, x, flat_pre)?;
            let rows = ops::gather(
                wv.clone(),
                idx.clone(),
                &mut s.with_op_name(&format!("{name}/rows")),
            )
            .map_err(&e)?;
            let coef = ops::gather(
                flat,
                idx,
                &mut s.with_op_name(&format!("{name}/activity_of_active")),
            )
            .map_err(&e)?;
            let column = const_i32(s, &format!("{name}/column"), &[-1, 1], &[2])?;
            let coef = ops::reshape(
                coef,
                column,
                &mut s.with_op_name(&format!("{name}/coefficients")),
            )
            .map_err(&e)?;
            let rows = ops::mul(
                rows,
                coef,
                &mut s.with_op_name(&format!("{name}/weighted_rows")),
            )
            .map_err(&e)?;
            let axis =
                constant(0i32, &mut s.with_op_name(&format!("{name}/sum_axis"))).map_err(&e)?;
            ops::sum(rows, axis, &mut s.with_op_name(name)).map_err(&e)
        }
        WeightOps::Csr { .. } => {
            // The neurons with activity and their activity, through their
            // rows only.
            let (flat, idx) = active_neurons(s, name, x, flat_pre)?;
            let coef = ops::gather(
                flat,
                idx.clone(),
                &mut s.with_op_name(&format!("{name}/activity_of_active")),
            )
            .map_err(&e)?;
            csr_sums(s, name, w, idx.into(), Some(coef.into()), None, post_n)
        }
    }
}

/// The activity row `x` flattened to `[pre.n]`, and the int64 indices of
/// its non-zero entries (the neurons with activity).
fn active_neurons(
    s: &mut Scope,
    name: &str,
    x: Operation,
    flat_pre: Operation,
) -> Result<(Operation, Operation)> {
    let e = tf_err(name);
    let flat = ops::reshape(
        x,
        flat_pre,
        &mut s.with_op_name(&format!("{name}/activity")),
    )
    .map_err(&e)?;
    let zero = scalar_f32(s, &format!("{name}/zero"), 0.0)?;
    let active = ops::not_equal(
        flat.clone(),
        zero,
        &mut s.with_op_name(&format!("{name}/active")),
    )
    .map_err(&e)?;
    let idx =
        ops::where_(active, &mut s.with_op_name(&format!("{name}/active_index"))).map_err(&e)?;
    let minus_one = const_i32(s, &format!("{name}/flat_index"), &[-1], &[1])?;
    let idx = ops::reshape(
        idx,
        minus_one,
        &mut s.with_op_name(&format!("{name}/active_neurons")),
    )
    .map_err(&e)?;
    Ok((flat, idx))
}

/// `Σ_e coef_e · W[neuron_e, :]` over events `e` through CSR weights, as
/// `[post.n]`; with `slots` (and `m` of them), each event's row goes to its
/// slot's segment and the result is `[m, post.n]`. The rows of the events'
/// neurons are expanded by one `RaggedRange` into synapse ids, whose columns
/// and weights are gathered and summed by one `UnsortedSegmentSum`: the cost
/// is the events' synapses, not all of them. Within a segment the sum runs
/// over the events in order (the dense rows' `SparseSegmentSum` adds the
/// same numbers in the same order, but in groups of 8 rows, so the two may
/// differ in the last bit when more than 8 spikes arrive at once).
fn csr_sums(
    s: &mut Scope,
    name: &str,
    w: &WeightOps,
    neurons: Output,
    coef: Option<Output>,
    slots: Option<(Output, usize)>,
    post_n: u64,
) -> Result<Operation> {
    let e = tf_err(name);
    let WeightOps::Csr { indptr, cols, w } = w else {
        return Err(crate::Error::Internal {
            context: format!("building {name}"),
            message: "CSR sums of dense weights".into(),
        });
    };
    let op = |what: &str| format!("{name}/{what}");
    let one = constant(1i64, &mut s.with_op_name(&op("one"))).map_err(&e)?;
    let next = ops::add(
        neurons.clone(),
        one.clone(),
        &mut s.with_op_name(&op("next_neuron")),
    )
    .map_err(&e)?;
    let starts = ops::gather(
        indptr.clone(),
        neurons,
        &mut s.with_op_name(&op("row_starts")),
    )
    .map_err(&e)?;
    let limits =
        ops::gather(indptr.clone(), next, &mut s.with_op_name(&op("row_ends"))).map_err(&e)?;
    let rows = ops::RaggedRange::new()
        .build(
            starts,
            limits,
            one.clone(),
            &mut s.with_op_name(&op("synapses")),
        )
        .map_err(&e)?;
    let (splits, ids) = (
        Output {
            operation: rows.clone(),
            index: 0,
        },
        Output {
            operation: rows,
            index: 1,
        },
    );
    let targets = ops::gather(
        cols.clone(),
        ids.clone(),
        &mut s.with_op_name(&op("targets")),
    )
    .map_err(&e)?;
    let mut values: Output =
        ops::gather(w.clone(), ids.clone(), &mut s.with_op_name(&op("weights")))
            .map_err(&e)?
            .into();
    if coef.is_none() && slots.is_none() {
        let n = constant(post_n as i32, &mut s.with_op_name(&op("post_n"))).map_err(&e)?;
        return ops::unsorted_segment_sum(values, targets, n, &mut s.with_op_name(name))
            .map_err(&e);
    }
    // The event each synapse comes from: the number of row ends
    // (splits[1:]) at or before its position.
    let begin = const_i32(s, &op("ends_begin"), &[1], &[1])?;
    let size = const_i32(s, &op("ends_size"), &[-1], &[1])?;
    let ends = ops::slice(splits, begin, size, &mut s.with_op_name(&op("ends"))).map_err(&e)?;
    let batch = const_i32(s, &op("batch"), &[1, -1], &[2])?;
    let ends =
        ops::reshape(ends, batch.clone(), &mut s.with_op_name(&op("ends_row"))).map_err(&e)?;
    let count = ops::Size::new()
        .out_type(DataType::Int64)
        .build(ids, &mut s.with_op_name(&op("count")))
        .map_err(&e)?;
    let zero = constant(0i64, &mut s.with_op_name(&op("zero"))).map_err(&e)?;
    let at = ops::range(zero, count, one, &mut s.with_op_name(&op("positions"))).map_err(&e)?;
    let at = ops::reshape(at, batch, &mut s.with_op_name(&op("positions_row"))).map_err(&e)?;
    let event = ops::UpperBound::new()
        .out_type(DataType::Int64)
        .build(ends, at, &mut s.with_op_name(&op("event_of")))
        .map_err(&e)?;
    let flat = const_i32(s, &op("flat"), &[-1], &[1])?;
    let event = ops::reshape(event, flat, &mut s.with_op_name(&op("event"))).map_err(&e)?;
    if let Some(coef) = coef {
        let c = ops::gather(coef, event.clone(), &mut s.with_op_name(&op("coefficient")))
            .map_err(&e)?;
        values = ops::mul(values, c, &mut s.with_op_name(&op("weighted")))
            .map_err(&e)?
            .into();
    }
    let Some((slots, m)) = slots else {
        let n = constant(post_n as i32, &mut s.with_op_name(&op("post_n"))).map_err(&e)?;
        return ops::unsorted_segment_sum(values, targets, n, &mut s.with_op_name(name))
            .map_err(&e);
    };
    // Segment slot * post.n + column, then [m, post.n].
    let slot = ops::gather(slots, event, &mut s.with_op_name(&op("slot"))).map_err(&e)?;
    let width = constant(post_n as i64, &mut s.with_op_name(&op("width"))).map_err(&e)?;
    let base = ops::mul(slot, width, &mut s.with_op_name(&op("slot_base"))).map_err(&e)?;
    let col = ops::Cast::new()
        .DstT(DataType::Int64)
        .build(targets, &mut s.with_op_name(&op("column")))
        .map_err(&e)?;
    let seg = ops::add(base, col, &mut s.with_op_name(&op("segment"))).map_err(&e)?;
    let n = constant(
        m as i64 * post_n as i64,
        &mut s.with_op_name(&op("segments")),
    )
    .map_err(&e)?;
    let sums =
        ops::unsorted_segment_sum(values, seg, n, &mut s.with_op_name(&op("sums"))).map_err(&e)?;
    let shape = const_i32(s, &op("shape"), &[m as i32, post_n as i32], &[2])?;
    ops::reshape(sums, shape, &mut s.with_op_name(name)).map_err(&e)
}

/// `y(lag) = S(lag) · W` at every lag of `ev`, as `[m, post]` (row `j` for
/// `ev.lags[j]`): the weight rows of the neurons that spiked, summed by
/// one `SparseSegmentSum` (named `name`) into one segment per lag, with no
/// `[k, post]` gather in between.
fn event_sums(s: &mut Scope, name: &str, w: &Operation, ev: &SpikeEvents) -> Result<Operation> {
    let e = tf_err(name);
    let m = constant(
        ev.lags.len() as i32,
        &mut s.with_op_name(&format!("{name}_lags")),
    )
    .map_err(&e)?;
    ops::SparseSegmentSumWithNumSegments::new()
        .build(
            w.clone(),
            ev.neurons.clone(),
            ev.slots.clone(),
            m,
            &mut s.with_op_name(name),
        )
        .map_err(&e)
}

/// `mean + std * Normal(0, 1)`, `n` values keyed by the two-word Philox
/// `key`, by the Box–Muller transform of `StatelessRandomUniform` draws:
/// `u1, u2` uniform on [0, 1) give the independent standard normals
/// `sqrt(-2 ln(1 - u1)) * (cos 2πu2, sin 2πu2)`. TensorFlow's own
/// `StatelessRandomNormal` does the same transform one scalar at a time
/// (libm `logf`, `sincosf`); as whole-tensor ops Eigen vectorises them.
fn normal_noise(s: &mut Scope, n: u64, key: Output, mean: f32, std: f32) -> Result<Output> {
    let e = tf_err("noise");
    let h = n.div_ceil(2);
    let dims = const_i32(s, "uniform_shape", &[2, h as i32], &[2])?;
    let u = ops::StatelessRandomUniform::new()
        .dtype(DataType::Float)
        .build(dims, key, &mut s.with_op_name("uniform"))
        .map_err(&e)?;
    let pair = ops::Unpack::new()
        .num(2)
        .axis(0)
        .build(u, &mut s.with_op_name("uniform_pair"))
        .map_err(&e)?;
    let (u1, u2) = (
        Output {
            operation: pair.clone(),
            index: 0,
        },
        Output {
            operation: pair,
            index: 1,
        },
    );
    let one = scalar_f32(s, "one", 1.0)?;
    let open = ops::sub(one, u1, &mut s.with_op_name("one_minus_u1")).map_err(&e)?;
    let log = ops::log(open, &mut s.with_op_name("log")).map_err(&e)?;
    let scale = scalar_f32(s, "minus_two_var", -2.0 * std * std)?;
    let r2 = ops::mul(log, scale, &mut s.with_op_name("radius_squared")).map_err(&e)?;
    let r = ops::sqrt(r2, &mut s.with_op_name("radius")).map_err(&e)?;
    let two_pi = scalar_f32(s, "two_pi", std::f32::consts::TAU)?;
    let angle = ops::mul(u2, two_pi, &mut s.with_op_name("angle")).map_err(&e)?;
    // cos(θ - [0, π/2]) = [cos θ, sin θ], as a [2, h] pair.
    let phase = const_f32(s, "phase", &[0.0, std::f32::consts::FRAC_PI_2], &[2, 1])?;
    let angles = ops::sub(angle, phase, &mut s.with_op_name("angles")).map_err(&e)?;
    let unit = ops::cos(angles, &mut s.with_op_name("cos")).map_err(&e)?;
    let z = ops::mul(unit, r, &mut s.with_op_name("normal_pair")).map_err(&e)?;
    let flat = const_i32(s, "flat", &[2 * h as i32], &[1])?;
    let mut z = ops::reshape(z, flat, &mut s.with_op_name("normal")).map_err(&e)?;
    if 2 * h != n {
        let begin = const_i32(s, "begin", &[0], &[1])?;
        let size = const_i32(s, "size", &[n as i32], &[1])?;
        z = ops::slice(z, begin, size, &mut s.with_op_name("normal_n")).map_err(&e)?;
    }
    let m = scalar_f32(s, "mean", mean)?;
    Ok(ops::add(z, m, &mut s.with_op_name("Iext"))
        .map_err(&e)?
        .into())
}

/// The rows `(m - lag) mod L` of the spike ring `hist` (length `ring`) for
/// each of `lags`, as `[lags.len(), n]`, in one `ResourceGather` named
/// `name` (a read: pushed to `reads`).
fn ring_gather(
    s: &mut Scope,
    name: &str,
    step: &Output,
    hist: &Var,
    ring: usize,
    lags: &[i64],
    reads: &mut Vec<Operation>,
) -> Result<Operation> {
    let e = tf_err(name);
    let lags_t = Tensor::new(&[lags.len() as u64])
        .with_values(lags)
        .map_err(&e)?;
    let lags_c = constant(lags_t, &mut s.with_op_name(&format!("{name}_lags"))).map_err(&e)?;
    let len = constant(ring as i64, &mut s.with_op_name(&format!("{name}_ring"))).map_err(&e)?;
    let back = ops::sub(step.clone(), lags_c, s).map_err(&e)?;
    let at = ops::floor_mod(back, len, &mut s.with_op_name(&format!("{name}_rows"))).map_err(&e)?;
    let g = ops::ResourceGather::new()
        .dtype(DataType::Float)
        .build(hist.handle.clone(), at, &mut s.with_op_name(name))
        .map_err(&e)?;
    reads.push(g.clone());
    Ok(g)
}

/// The spikes of a nucleus at `lags` (ascending, not empty) as
/// `[lags.len(), n]` float rows: lag 0 is this step's row, the past lags
/// one [`ring_gather`] (named `name`) of the nucleus's ring, the two joined
/// by `{name}_with_now` when both occur.
fn spike_rows(
    s: &mut Scope,
    name: &str,
    lags: &[usize],
    st: &NucleusState,
    now: &NucleusStep,
    step: &Output,
    reads: &mut Vec<Operation>,
) -> Result<Operation> {
    let e = tf_err(name);
    let past: Vec<i64> = lags.iter().filter(|&&l| l > 0).map(|&l| l as i64).collect();
    if past.is_empty() {
        return match lags {
            [0] => Ok(now.new_row.clone()),
            _ => Err(crate::Error::Internal {
                context: format!("building the graph ({name})"),
                message: format!("bad spike lags {lags:?}"),
            }),
        };
    }
    let hist = st.hist.as_ref().ok_or_else(|| crate::Error::Internal {
        context: format!("building the graph ({name})"),
        message: format!("no spike ring for lags {lags:?}"),
    })?;
    let g = ring_gather(s, name, step, hist, st.ring, &past, reads)?;
    if past.len() == lags.len() {
        return Ok(g);
    }
    let axis = constant(0i32, &mut s.with_op_name(&format!("{name}_axis"))).map_err(&e)?;
    Ok(ops::ConcatV2::new()
        .build_instance(
            vec![now.new_row.clone().into(), g.into()],
            axis.into(),
            &mut s.with_op_name(&format!("{name}_with_now")),
        )
        .map_err(&e)?
        .op)
}

/// A no-op that runs after all of `deps`.
fn group(scope: &mut Scope, name: &str, deps: Vec<Operation>) -> Result<Operation> {
    deps.into_iter()
        .fold(ops::NoOp::new(), |op, dep| op.add_control_input(dep))
        .build(&mut scope.with_op_name(name))
        .map_err(tf_err(name))
}

/// A nucleus's state variables and scope, created once.
struct NucleusState {
    scope: Scope,
    v: Var,
    u: Var,
    i: Var,
    /// Spike ring buffer: row `(m - j) mod L` holds the spikes of step
    /// `m - j` (none when no connection reads a past step).
    hist: Option<Var>,
    /// Ring length `L` (0 without a ring).
    ring: usize,
}

/// The nuclei placed on one device (in model order), whose neurons one set
/// of ops updates as one vector: each nucleus keeps its own variables,
/// read and joined before the update and split after it.
struct Population {
    members: Vec<usize>,
    /// The member's own scope if it is alone, else `neurons` (`neurons_1`,
    /// ... for further devices) on the device.
    scope: Scope,
}

/// A connection's weights, created once.
struct ConnState {
    scope: Scope,
    w: WeightOps,
    /// Its kernel trace group (exponential and alpha kernels).
    group: Option<usize>,
}

/// The recursive trace shared by every connection into one nucleus with the
/// same exponential or alpha kernel (`c`, `r` and window `K` alike): the
/// traces are linear in the arriving and leaving input, so one `G` (and
/// `A`) per group computes the sum of the connections' currents.
struct TraceGroup {
    post: usize,
    c: f64,
    r: f64,
    k: usize,
    alpha: bool,
    /// Row of `G` in its nucleus's [`TraceBank`].
    g_row: usize,
    /// Row of `A` (alpha kernels).
    a_row: Option<usize>,
}

/// The traces of every group into one nucleus, the rows of one `[T, n]`
/// variable `X/traces`: one step is `new = M old + Σ terms` with the
/// constant `[T, T]` decay matrix `M` (`r` on the diagonal, and `r` at
/// `(A, G)` for the alpha kernels' `r G` term) and each afferent
/// connection's `[T, n]` terms, and the current is `s · new` with the
/// kernels' scales `c` at their `G` (exponential) or `A` (alpha) rows.
struct TraceBank {
    post: usize,
    scope: Scope,
    var: Var,
    rows: usize,
    /// `M`, row-major.
    decay: Vec<f32>,
    /// `s`, `[1, T]`.
    scale: Vec<f32>,
}

/// What one copy of the step computed for a nucleus.
struct NucleusStep {
    v_new: Output,
    u_new: Output,
    /// `Where(fired)`: int64 `[k, 1]` indices of this step's spikes.
    spike_index: Operation,
    /// This step's spikes as a `[n]` float vector (0 or 1).
    spikes: Output,
    /// The same as a `[1, n]` row (lag 0).
    new_row: Operation,
}

/// The spikes of one nucleus at every lag that event-driven connections
/// with dense weights read from it, as `SparseSegmentSum` takes them: for
/// each spike, the neuron and the slot `j` of its lag `lags[j]`. Built once
/// per step (one ring gather, one `Where`) and shared by those connections.
#[derive(Clone)]
struct SpikeEvents {
    /// Ascending.
    lags: Vec<usize>,
    /// int64 `[k]`.
    neurons: Output,
    /// int64 `[k]`.
    slots: Output,
}

/// Rows of the spike rings and the spike events, each built once per step,
/// and the ring rows this step writes.
struct RingReads<'a> {
    step: &'a Output,
    after: Option<&'a Operation>,
    /// `m mod L` per ring length `L`.
    index: std::collections::HashMap<usize, Operation>,
    /// `[1, n]` float rows (0 or 1) of the presynaptic spikes per
    /// (nucleus, lag).
    rows: std::collections::HashMap<(usize, usize), Operation>,
    events: std::collections::HashMap<usize, SpikeEvents>,
}

impl RingReads<'_> {
    /// `m mod ring`, an int64 scalar: the ring row this step's spikes go to.
    fn write_index(&mut self, root: &Scope, ring: usize) -> Result<Operation> {
        if let Some(op) = self.index.get(&ring) {
            return Ok(op.clone());
        }
        let s = match self.after {
            Some(a) => root.with_control_dependencies(std::slice::from_ref(a)),
            None => root.with_control_dependencies(&[]),
        }
        .new_sub_scope("ring");
        let e = tf_err("ring");
        let name = format!("L{ring}_now");
        let len =
            constant(ring as i64, &mut s.with_op_name(&format!("{name}/length"))).map_err(&e)?;
        let at = ops::floor_mod(self.step.clone(), len, &mut s.with_op_name(&name)).map_err(&e)?;
        self.index.insert(ring, at.clone());
        Ok(at)
    }

    /// The spikes of nucleus `pre` `lag` steps ago (lag 0: this step's), a
    /// `[1, n]` row.
    fn row(
        &mut self,
        pre: usize,
        lag: usize,
        st: &NucleusState,
        step: &NucleusStep,
        reads: &mut Vec<Operation>,
    ) -> Result<Operation> {
        if lag == 0 {
            return Ok(step.new_row.clone());
        }
        if let Some(r) = self.rows.get(&(pre, lag)) {
            return Ok(r.clone());
        }
        let mut s = match self.after {
            Some(a) => st.scope.with_control_dependencies(std::slice::from_ref(a)),
            None => st.scope.with_control_dependencies(&[]),
        }
        .new_sub_scope(&format!("lag{lag}"));
        let row = spike_rows(&mut s, "spikes", &[lag], st, step, self.step, reads)?;
        self.rows.insert((pre, lag), row.clone());
        Ok(row)
    }

    /// [`SpikeEvents`] of nucleus `pre` at `lags` (ascending, not empty;
    /// the same for every call with this `pre`).
    fn spike_events(
        &mut self,
        pre: usize,
        lags: &[usize],
        st: &NucleusState,
        step: &NucleusStep,
        reads: &mut Vec<Operation>,
    ) -> Result<SpikeEvents> {
        if let Some(ev) = self.events.get(&pre) {
            return Ok(ev.clone());
        }
        let e = tf_err("spike events");
        let mut s = match self.after {
            Some(a) => st.scope.with_control_dependencies(std::slice::from_ref(a)),
            None => st.scope.with_control_dependencies(&[]),
        }
        .new_sub_scope("events");
        let (neurons, slots): (Output, Output) = if lags == [0] {
            // This step's spikes only: one segment.
            let flat = const_i32(&mut s, "flat", &[-1], &[1])?;
            let neurons = ops::reshape(
                step.spike_index.clone(),
                flat,
                &mut s.with_op_name("neurons"),
            )
            .map_err(&e)?;
            let slots =
                ops::zeros_like(neurons.clone(), &mut s.with_op_name("slots")).map_err(&e)?;
            (neurons.into(), slots.into())
        } else {
            // Ring rows (m - lag) mod L of the past lags in one gather, with
            // this step's row first if lag 0 is among them.
            let rows = spike_rows(&mut s, "past", lags, st, step, self.step, reads)?;
            let half = scalar_f32(&mut s, "half", 0.5)?;
            let fired = ops::greater(rows, half, &mut s.with_op_name("fired")).map_err(&e)?;
            let at = ops::where_(fired, &mut s.with_op_name("where")).map_err(&e)?;
            // [k, 2] (slot, neuron) pairs, split.
            let pair = ops::Unpack::new()
                .num(2)
                .axis(1)
                .build(at, &mut s.with_op_name("slot_neuron"))
                .map_err(&e)?;
            (
                Output {
                    operation: pair.clone(),
                    index: 1,
                },
                Output {
                    operation: pair,
                    index: 0,
                },
            )
        };
        let ev = SpikeEvents {
            lags: lags.to_vec(),
            neurons,
            slots,
        };
        self.events.insert(pre, ev.clone());
        Ok(ev)
    }
}

/// Build the graph: state once, then `copies` chained copies of the step
/// (1 for one session run per step).
/// Compile `plan` into a graph of `copies` chained steps; the plan's large
/// arrays move into the init feeds, what the simulator needs of the rest is
/// returned beside the graph.
pub(crate) fn compile(mut plan: Plan, copies: usize) -> Result<(Compiled, Kept)> {
    let mut root = Scope::new_root_scope();
    let mut reg = Registry::default();
    let mut feeds = Vec::new();

    let zero = constant(0i64, &mut root.with_op_name("step/zero")).map_err(tf_err("step"))?;
    let step_var = variable(
        &mut root,
        "step",
        DataType::Int64,
        &[],
        zero.into(),
        &mut reg,
    )?;

    // State of every nucleus: v = c, u = b c, I = 0, no spikes.
    let mut nstates = Vec::with_capacity(plan.nuclei.len());
    for nu in &plan.nuclei {
        let mut scope = match &nu.device {
            Some(dev) => root.new_sub_scope(&nu.label).with_device(dev),
            None => root.new_sub_scope(&nu.label),
        };
        let n = nu.n as u64;
        // Lags 1 .. history-1 are read from the ring (lag 0 is this step's
        // spikes, computed): no ring when nothing reads a past step.
        let ring = if nu.history > 1 { nu.history } else { 0 };
        let init_v = const_f32(&mut scope, "v/initial", &nu.c, &[n])?;
        let init_u: Vec<f32> = nu.b.iter().zip(&nu.c).map(|(b, c)| b * c).collect();
        let init_u = const_f32(&mut scope, "u/initial", &init_u, &[n])?;
        let init_i = const_f32(&mut scope, "I/initial", &vec![0.0; nu.n], &[n])?;
        let v = variable(
            &mut scope,
            "v",
            DataType::Float,
            &[n],
            init_v.into(),
            &mut reg,
        )?;
        let u = variable(
            &mut scope,
            "u",
            DataType::Float,
            &[n],
            init_u.into(),
            &mut reg,
        )?;
        let i = variable(
            &mut scope,
            "I",
            DataType::Float,
            &[n],
            init_i.into(),
            &mut reg,
        )?;
        let hist = if ring > 0 {
            let init_h = ops::Fill::new()
                .build(
                    const_i32(&mut scope, "spikes/dims", &[ring as i32, n as i32], &[2])?,
                    scalar_f32(&mut scope, "spikes/zero", 0.0)?,
                    &mut scope.with_op_name("spikes/initial"),
                )
                .map_err(tf_err(&nu.label))?;
            Some(variable(
                &mut scope,
                "spikes",
                DataType::Float,
                &[ring as u64, n],
                init_h.into(),
                &mut reg,
            )?)
        } else {
            None
        };
        nstates.push(NucleusState {
            scope,
            v,
            u,
            i,
            hist,
            ring,
        });
    }

    let mut populations: Vec<Population> = Vec::new();
    for (k, nu) in plan.nuclei.iter().enumerate() {
        match populations
            .iter_mut()
            .find(|p| plan.nuclei[p.members[0]].device == nu.device)
        {
            Some(p) => p.members.push(k),
            None => populations.push(Population {
                members: vec![k],
                scope: nstates[k].scope.new_sub_scope(""),
            }),
        }
    }
    for p in &mut populations {
        if p.members.len() > 1 {
            let dev = &plan.nuclei[p.members[0]].device;
            p.scope = match dev {
                Some(dev) => root.new_sub_scope("neurons").with_device(dev),
                None => root.new_sub_scope("neurons"),
            };
        }
    }

    // Weights (fed once) of every connection, and the kernel traces.
    let mut cstates = Vec::with_capacity(plan.connections.len());
    let mut groups: Vec<TraceGroup> = Vec::new();
    for conn in &mut plan.connections {
        let post = &plan.nuclei[conn.post];
        let (pre_n, post_n) = (plan.nuclei[conn.pre].n as u64, post.n as u64);
        let mut s = match &post.device {
            Some(dev) => root.new_sub_scope(&conn.name).with_device(dev),
            None => root.new_sub_scope(&conn.name),
        };
        let weights = std::mem::replace(&mut conn.weights, PlanWeights::Dense(Vec::new()));
        let w = match weights {
            PlanWeights::Dense(w) => {
                let wv = fed_variable(
                    &mut s,
                    "weights",
                    w,
                    &[pre_n, post_n],
                    InitFeed::F32,
                    &mut reg,
                    &mut feeds,
                )?;
                // Weights never change: one read serves every copy of the step.
                WeightOps::Dense(wv.read_in(&mut s, "read/weights")?)
            }
            PlanWeights::Csr { indptr, cols, w } => {
                let nnz = w.len() as u64;
                let wv = fed_variable(
                    &mut s,
                    "weights",
                    w,
                    &[nnz],
                    InitFeed::F32,
                    &mut reg,
                    &mut feeds,
                )?;
                let cv = fed_variable(
                    &mut s,
                    "columns",
                    cols,
                    &[nnz],
                    InitFeed::I32,
                    &mut reg,
                    &mut feeds,
                )?;
                let pv = fed_variable(
                    &mut s,
                    "row_pointers",
                    indptr,
                    &[pre_n + 1],
                    InitFeed::I64,
                    &mut reg,
                    &mut feeds,
                )?;
                WeightOps::Csr {
                    w: wv.read_in(&mut s, "read/weights")?,
                    cols: cv.read_in(&mut s, "read/columns")?,
                    indptr: pv.read_in(&mut s, "read/row_pointers")?,
                }
            }
        };
        let group = match conn.form {
            KernelForm::Exponential { c, r } | KernelForm::Alpha { c, r } => {
                let alpha = matches!(conn.form, KernelForm::Alpha { .. });
                let k = conn.kernel.len();
                let found = groups.iter().position(|g: &TraceGroup| {
                    g.post == conn.post
                        && g.alpha == alpha
                        && g.c.to_bits() == c.to_bits()
                        && g.r.to_bits() == r.to_bits()
                        && g.k == k
                });
                match found {
                    Some(j) => Some(j),
                    None => {
                        // The next free rows of the nucleus's trace bank.
                        let g_row = groups
                            .iter()
                            .filter(|g| g.post == conn.post)
                            .map(|g| 1 + usize::from(g.alpha))
                            .sum();
                        groups.push(TraceGroup {
                            post: conn.post,
                            c,
                            r,
                            k,
                            alpha,
                            g_row,
                            a_row: alpha.then_some(g_row + 1),
                        });
                        Some(groups.len() - 1)
                    }
                }
            }
            _ => None,
        };
        cstates.push(ConnState { scope: s, w, group });
    }
    // One trace bank per nucleus with kernel traces, in nucleus order.
    let mut banks: Vec<TraceBank> = Vec::new();
    for (post, nu) in plan.nuclei.iter().enumerate() {
        let mine: Vec<&TraceGroup> = groups.iter().filter(|g| g.post == post).collect();
        let rows: usize = mine.iter().map(|g| 1 + usize::from(g.alpha)).sum();
        if rows == 0 {
            continue;
        }
        let mut decay = vec![0f32; rows * rows];
        let mut scale = vec![0f32; rows];
        for g in &mine {
            let r = g.r as f32;
            decay[g.g_row * rows + g.g_row] = r;
            match g.a_row {
                Some(a) => {
                    decay[a * rows + a] = r;
                    decay[a * rows + g.g_row] = r;
                    scale[a] = g.c as f32;
                }
                None => scale[g.g_row] = g.c as f32,
            }
        }
        let ns = &mut nstates[post].scope;
        let dims = [rows as u64, nu.n as u64];
        let zeros = const_f32(ns, "traces/initial", &vec![0.0; rows * nu.n], &dims)?;
        let var = variable(ns, "traces", DataType::Float, &dims, zeros.into(), &mut reg)?;
        banks.push(TraceBank {
            post,
            scope: ns.new_sub_scope("kernels"),
            var,
            rows,
            decay,
            scale,
        });
    }

    let mut steps = Vec::with_capacity(copies);
    let mut all_copies = Vec::with_capacity(copies);
    let copies = copies.max(1);
    let mut after: Option<Operation> = None;
    let mut step0: Option<Output> = None;
    for copy in 0..copies {
        let state = GraphState {
            step_var: &step_var,
            nstates: &nstates,
            populations: &populations,
            cstates: &cstates,
            groups: &groups,
            banks: &banks,
        };
        let chained = Chain {
            after: after.as_ref(),
            copy,
            step0: step0.as_ref(),
            last: copy + 1 == copies,
        };
        let built = build_step(&mut root, &plan, &state, chained)?;
        steps.push(built.target);
        all_copies.push(built.fetches);
        after = built.done;
        step0.get_or_insert(built.step);
    }
    let checkpoint = checkpoint_ops(&mut root, &step_var, &reg.vars)?;
    let init = group(&mut root, "init", reg.inits)?;
    let compiled = Compiled {
        scope: root,
        init,
        init_feeds: feeds,
        steps,
        copies: all_copies,
        checkpoint,
    };
    Ok((compiled, plan.keep()))
}

/// What every copy of the step reads and writes: the variables and the
/// structure built once.
struct GraphState<'a> {
    step_var: &'a Var,
    nstates: &'a [NucleusState],
    populations: &'a [Population],
    cstates: &'a [ConnState],
    groups: &'a [TraceGroup],
    banks: &'a [TraceBank],
}

/// The lags at which a connection's spikes are taken as events
/// ([`event_sums`] through dense weights, [`csr_sums`] through sparse
/// ones): voltage jumps (`D`) and kernel traces (`D`, `D + K`) that run
/// event-driven; `None` for the rest.
fn event_lags(conn: &PlanConnection, w: &WeightOps) -> Option<[usize; 2]> {
    let k = conn.kernel.len();
    let csr = matches!(w, WeightOps::Csr { .. });
    match (conn.form, conn.propagation) {
        (_, Propagation::Dense) if !csr => None,
        (KernelForm::Unit, _) => Some([conn.delay, conn.delay]),
        (KernelForm::Exponential { .. } | KernelForm::Alpha { .. }, _) => {
            Some([conn.delay, conn.delay + k])
        }
        (KernelForm::General, _) => None,
    }
}

fn missing_lag(conn: &PlanConnection, lag: usize) -> crate::Error {
    crate::Error::Internal {
        context: format!("building {}", conn.name),
        message: format!("lag {lag} missing from the presynaptic spike events"),
    }
}

/// One copy of the step; every op of it depends on `after` (the previous
/// copy's writes), so the copy reads the state that copy left. Returns the
/// no-op grouping its writes, and its fetches.
fn build_step(
    root: &mut Scope,
    plan: &Plan,
    state: &GraphState,
    chain: Chain,
) -> Result<BuiltStep> {
    let after = chain.after;
    let GraphState {
        step_var,
        nstates,
        populations,
        cstates,
        groups,
        banks,
    } = *state;
    let ctl = |s: &Scope| -> Scope {
        match after {
            Some(a) => s.with_control_dependencies(std::slice::from_ref(a)),
            None => s.with_control_dependencies(&[]),
        }
    };
    let dt = plan.dt as f32;
    let mut reads: Vec<Operation> = Vec::new();
    let mut rs = ctl(root);
    // The step counter is read once per run (copy 0); copy j takes m + j.
    let step_read: Output = match chain.step0 {
        None => {
            let read = step_var.read_in(&mut rs, "step/read")?;
            reads.push(read.clone());
            read.into()
        }
        Some(m) => {
            let j = constant(chain.copy as i64, &mut rs.with_op_name("step/copy"))
                .map_err(tf_err("step"))?;
            ops::add(m.clone(), j, &mut rs.with_op_name("step/now"))
                .map_err(tf_err("step"))?
                .into()
        }
    };

    // 1-5 per population: the nuclei of one device as one vector (the same
    // arithmetic per neuron, a fraction of the ops per step).
    let mut nsteps: Vec<Option<NucleusStep>> = plan.nuclei.iter().map(|_| None).collect();
    for pop in populations {
        let mut scope = ctl(&pop.scope);
        let members: Vec<(&PlanNucleus, &NucleusState)> = pop
            .members
            .iter()
            .map(|&k| (&plan.nuclei[k], &nstates[k]))
            .collect();
        let sizes: Vec<i32> = members.iter().map(|(nu, _)| nu.n as i32).collect();
        let n: u64 = members.iter().map(|(nu, _)| nu.n as u64).sum();
        let param = |f: fn(&PlanNucleus) -> &Vec<f32>| -> Vec<f32> {
            members
                .iter()
                .flat_map(|(nu, _)| f(nu).iter().copied())
                .collect()
        };
        let (a, b, c, d) = (
            param(|nu| &nu.a),
            param(|nu| &nu.b),
            param(|nu| &nu.c),
            param(|nu| &nu.d),
        );
        let e = tf_err("neurons");
        // Each member's v, u, I read in its own scope, then joined.
        let mut parts: [Vec<Output>; 3] = Default::default();
        for (_, st) in &members {
            let mut ns = ctl(&st.scope);
            for (part, (var, name)) in
                parts
                    .iter_mut()
                    .zip([(&st.v, "read/v"), (&st.u, "read/u"), (&st.i, "read/I")])
            {
                let read = var.read_in(&mut ns, name)?;
                reads.push(read.clone());
                part.push(read.into());
            }
        }
        let axis = constant(0i32, &mut scope.with_op_name("axis")).map_err(&e)?;
        let [v_read, u_read, i_read] = parts;
        let join = |p: Vec<Output>, name: &str, s: &mut Scope| -> Result<Output> {
            if p.len() == 1 {
                return Ok(p[0].clone());
            }
            Ok(ops::ConcatV2::new()
                .build_instance(p, axis.clone().into(), &mut s.with_op_name(name))
                .map_err(tf_err(name))?
                .op
                .into())
        };
        let v_read = join(v_read, "read/v", &mut scope)?;
        let u_read = join(u_read, "read/u", &mut scope)?;
        let i_read = join(i_read, "read/I", &mut scope)?;
        // 2. reset: a neuron that spiked stored v = 30 (the peak), and only
        // such a neuron (c < 30 is checked by the plan): no spike history
        // needs reading.
        let peak = scalar_f32(&mut scope, "peak", 30.0)?;
        let (v_r, u_r) = {
            let mut s = scope.new_sub_scope("reset");
            let prev =
                ops::greater_equal(v_read.clone(), peak.clone(), &mut s.with_op_name("spiked"))
                    .map_err(&e)?;
            let c = const_f32(&mut s, "c", &c, &[n])?;
            let d = const_f32(&mut s, "d", &d, &[n])?;
            let v_r = ops::select_v2(prev.clone(), c, v_read.clone(), &mut s.with_op_name("v"))
                .map_err(&e)?;
            let u_d = ops::add(u_read.clone(), d, &mut s.with_op_name("u_plus_d")).map_err(&e)?;
            let u_r =
                ops::select_v2(prev, u_d, u_read.clone(), &mut s.with_op_name("u")).map_err(&e)?;
            (v_r, u_r)
        };
        // 3. v
        let v1 = {
            let mut s = scope.new_sub_scope("v_update");
            let k004 = scalar_f32(&mut s, "k0.04", 0.04)?;
            let k5 = scalar_f32(&mut s, "k5", 5.0)?;
            let k140 = scalar_f32(&mut s, "k140", 140.0)?;
            let kdt = scalar_f32(&mut s, "dt", dt)?;
            let sq = ops::mul(
                ops::mul(k004, v_r.clone(), &mut s).map_err(&e)?,
                v_r.clone(),
                &mut s,
            )
            .map_err(&e)?;
            let lin = ops::mul(k5, v_r.clone(), &mut s).map_err(&e)?;
            let dv = ops::add(sq, lin, &mut s).map_err(&e)?;
            let dv = ops::add(dv, k140, &mut s).map_err(&e)?;
            let dv = ops::sub(dv, u_r.clone(), &mut s).map_err(&e)?;
            let dv = ops::add(dv, i_read.clone(), &mut s.with_op_name("dv")).map_err(&e)?;
            let step = ops::mul(kdt, dv, &mut s).map_err(&e)?;
            ops::add(v_r.clone(), step, &mut s.with_op_name("v")).map_err(&e)?
        };
        // 4. u
        let u_new = {
            let mut s = scope.new_sub_scope("u_update");
            let dta: Vec<f32> = a.iter().map(|a| dt * a).collect();
            let dta = const_f32(&mut s, "dt_a", &dta, &[n])?;
            let b = const_f32(&mut s, "b", &b, &[n])?;
            let bv = ops::mul(b, v1.clone(), &mut s).map_err(&e)?;
            let diff = ops::sub(bv, u_r.clone(), &mut s).map_err(&e)?;
            let du = ops::mul(dta, diff, &mut s).map_err(&e)?;
            ops::add(u_r, du, &mut s.with_op_name("u")).map_err(&e)?
        };
        // 5. threshold, and the members' parts of the new state.
        // (Ops nothing fetches are pruned by TensorFlow at run time, so the
        // forms below cost nothing where nothing uses them.)
        let mut s = scope.new_sub_scope("threshold");
        let fired = ops::greater_equal(v1.clone(), peak.clone(), &mut s.with_op_name("fired"))
            .map_err(&e)?;
        let v_new =
            ops::select_v2(fired.clone(), peak, v1, &mut s.with_op_name("v")).map_err(&e)?;
        let spikes = ops::Cast::new()
            .DstT(DataType::Float)
            .build(fired.clone(), &mut s.with_op_name("spikes"))
            .map_err(&e)?;
        let sizes_c = const_i32(&mut s, "sizes", &sizes, &[sizes.len() as u64])?;
        let split = |x: Operation, name: &str, s: &mut Scope| -> Result<Vec<Output>> {
            if sizes.len() == 1 {
                return Ok(vec![x.into()]);
            }
            let op = ops::SplitV::new()
                .num_split(sizes.len() as i64)
                .build(x, sizes_c.clone(), axis.clone(), &mut s.with_op_name(name))
                .map_err(tf_err(name))?;
            Ok((0..sizes.len())
                .map(|k| Output {
                    operation: op.clone(),
                    index: k as i32,
                })
                .collect())
        };
        let v_parts = split(v_new, "split_v", &mut s)?;
        let u_parts = split(u_new, "split_u", &mut s)?;
        let spike_parts = split(spikes, "split_spikes", &mut s)?;
        for (k, (&idx, ((v_new, u_new), spikes))) in pop
            .members
            .iter()
            .zip(v_parts.into_iter().zip(u_parts).zip(spike_parts))
            .enumerate()
        {
            let (nu, st) = members[k];
            let mut s = ctl(&st.scope).new_sub_scope("threshold");
            let e = tf_err(&nu.label);
            // A nucleus alone takes its indices from `fired` itself: no
            // cast runs unless a ring or a synapse needs the float form.
            let flags: Output = if sizes.len() == 1 {
                fired.clone().into()
            } else {
                spikes.clone()
            };
            let spike_index = ops::where_(flags, &mut s.with_op_name("spike_index")).map_err(&e)?;
            let new_row = ops::reshape(
                spikes.clone(),
                const_i32(&mut s, "row_shape", &[1, nu.n as i32], &[2])?,
                &mut s.with_op_name("row"),
            )
            .map_err(&e)?;
            nsteps[idx] = Some(NucleusStep {
                v_new,
                u_new,
                spike_index,
                spikes,
                new_row,
            });
        }
    }
    let nsteps: Vec<NucleusStep> = nsteps
        .into_iter()
        .enumerate()
        .map(|(k, st)| {
            st.ok_or_else(|| crate::Error::Internal {
                context: "building the graph".into(),
                message: format!("nucleus {k} in no population"),
            })
        })
        .collect::<Result<_>>()?;

    // 6. synapses, grouped by postsynaptic nucleus.
    let mut spike_lags: Vec<Vec<usize>> = vec![Vec::new(); plan.nuclei.len()];
    for (conn, cst) in plan.connections.iter().zip(cstates) {
        if let Some(lags) = event_lags(conn, &cst.w) {
            spike_lags[conn.pre].extend(lags);
        }
    }
    for lags in &mut spike_lags {
        lags.sort_unstable();
        lags.dedup();
    }
    let mut ring = RingReads {
        step: &step_read,
        after,
        index: std::collections::HashMap::new(),
        rows: std::collections::HashMap::new(),
        events: std::collections::HashMap::new(),
    };
    let mut synaptic: Vec<Vec<Output>> = vec![Vec::new(); plan.nuclei.len()];
    // Per trace group: the arriving and the leaving input of its connections.
    // Per trace bank: its afferent connections' [m, n] inputs at their lags,
    // with the [T, m] coefficients that make them the connection's terms.
    let mut bank_terms: Vec<Vec<(Output, Vec<f32>, usize)>> = vec![Vec::new(); banks.len()];
    let mut trace_writes: Vec<(Operation, Operation, Scope)> = Vec::new();
    for (conn, cst) in plan.connections.iter().zip(cstates) {
        let post = &plan.nuclei[conn.post];
        let pre_n = plan.nuclei[conn.pre].n as u64;
        let post_n = post.n as u64;
        let mut s = ctl(&cst.scope);
        let e = tf_err(&conn.name);
        let k = conn.kernel.len() as u64;
        let unit_kernel = conn.form == KernelForm::Unit;
        let pre_state = &nstates[conn.pre];
        let pre_step = &nsteps[conn.pre];
        let post_label = post.label.clone();
        // Rows of the presynaptic spikes at consecutive lags `first ..
        // first + count`, as `[count, pre.n]` (for windowed kernels): lag 0
        // is this step's spikes, the others come from the ring (read in the
        // presynaptic nucleus's scope, on the ring's device).
        let lag_rows = |first: usize,
                        count: usize,
                        name: &str,
                        reads: &mut Vec<Operation>|
         -> Result<Operation> {
            let mut ps = ctl(&pre_state.scope).new_sub_scope(&format!("to_{post_label}"));
            let lags: Vec<usize> = (first..first + count).collect();
            spike_rows(&mut ps, name, &lags, pre_state, pre_step, &step_read, reads)
        };
        // Spikes through dense weights, event-driven: the [m, post] sums at
        // every lag of the presynaptic nucleus's events, and the slots of
        // this connection's lags among them.
        let events = match event_lags(conn, &cst.w) {
            Some(lags) => {
                let ev = ring.spike_events(
                    conn.pre,
                    &spike_lags[conn.pre],
                    pre_state,
                    pre_step,
                    &mut reads,
                )?;
                // A voltage jump takes its lag's row of the sums (named
                // `synapse`); a trace takes them all.
                let name = match conn.form {
                    KernelForm::Unit => "synapse/lag_sums",
                    _ => "synapse",
                };
                let sums = match &cst.w {
                    WeightOps::Dense(w) => event_sums(&mut s, name, w, &ev)?,
                    csr => csr_sums(
                        &mut s,
                        name,
                        csr,
                        ev.neurons.clone(),
                        None,
                        Some((ev.slots.clone(), ev.lags.len())),
                        post_n,
                    )?,
                };
                let mut slots = [0; 2];
                for (slot, lag) in slots.iter_mut().zip(lags) {
                    *slot = ev
                        .lags
                        .iter()
                        .position(|&l| l == lag)
                        .ok_or_else(|| missing_lag(conn, lag))?;
                }
                Some((sums, ev.lags.len(), slots))
            }
            None => None,
        };
        let current: Operation = match (conn.form, events) {
            (KernelForm::Unit, Some((sums, _, [j, _]))) => {
                let j = constant(j as i32, &mut s.with_op_name("synapse/lag")).map_err(&e)?;
                ops::gather(sums, j, &mut s.with_op_name("synapse")).map_err(&e)?
            }
            (KernelForm::Unit | KernelForm::General, _) => {
                let event_driven = match conn.propagation {
                    Propagation::Auto => unit_kernel,
                    Propagation::EventDriven => true,
                    Propagation::Dense => false,
                };
                // x[i] = sum_k kernel[k] * S(D + k)[i], as a [1, pre.n] row.
                let x = if unit_kernel {
                    ring.row(conn.pre, conn.delay, pre_state, pre_step, &mut reads)?
                } else {
                    let window = lag_rows(conn.delay, k as usize, "window", &mut reads)?;
                    let kern = const_f32(&mut s, "kernel", &conn.kernel, &[1, k])?;
                    ops::mat_mul(kern, window, &mut s.with_op_name("kernel_sum")).map_err(&e)?
                };
                propagate(&mut s, "synapse", x, &cst.w, event_driven, pre_n, post_n)?
            }
            (KernelForm::Exponential { r, .. } | KernelForm::Alpha { r, .. }, events) => {
                // This connection's terms of its group's traces (see below):
                // y(m - D) - r^K y(m - D - K) for G, -K r^K y(m - D - K) for A.
                let Some(j) = cst.group else {
                    return Err(crate::Error::Internal {
                        context: conn.name.clone(),
                        message: "trace group missing".into(),
                    });
                };
                let grp = &groups[j];
                let bank = banks
                    .iter()
                    .position(|b| b.post == conn.post)
                    .ok_or_else(|| crate::Error::Internal {
                        context: conn.name.clone(),
                        message: "trace bank missing".into(),
                    })?;
                let rows = banks[bank].rows;
                let rk = r.powi(k as i32);
                let (g_coef, a_coef) = (-rk as f32, (-(k as f64) * rk) as f32);
                // The [T, n] terms are a [T, m] coefficient block (zero but
                // at this group's rows) times the [m, n] input at the lags;
                // the bank multiplies all its blocks at once.
                let (coef, m, y) = match events {
                    Some((sums, m, [ja, jl])) => {
                        let mut coef = vec![0f32; rows * m];
                        coef[grp.g_row * m + ja] = 1.0;
                        coef[grp.g_row * m + jl] = g_coef;
                        if let Some(a) = grp.a_row {
                            coef[a * m + jl] = a_coef;
                        }
                        (coef, m, sums)
                    }
                    None => {
                        let event_driven = conn.propagation != Propagation::Dense;
                        // y(D) and y(D + K), each from its ring row.
                        let mut y: Vec<Output> = Vec::with_capacity(2);
                        for (lag, name) in [
                            (conn.delay, "synapse_arriving"),
                            (conn.delay + k as usize, "synapse_leaving"),
                        ] {
                            let row = ring.row(conn.pre, lag, pre_state, pre_step, &mut reads)?;
                            y.push(
                                propagate(&mut s, name, row, &cst.w, event_driven, pre_n, post_n)?
                                    .into(),
                            );
                        }
                        let pair = ops::Pack::new()
                            .axis(0)
                            .build_instance(y, &mut s.with_op_name("synapse"))
                            .map_err(&e)?
                            .op;
                        let mut coef = vec![0f32; rows * 2];
                        coef[grp.g_row * 2] = 1.0;
                        coef[grp.g_row * 2 + 1] = g_coef;
                        if let Some(a) = grp.a_row {
                            coef[a * 2 + 1] = a_coef;
                        }
                        (coef, 2, pair)
                    }
                };
                bank_terms[bank].push((y.into(), coef, m));
                continue;
            }
        };
        synaptic[conn.post].push(current.into());
    }

    // The kernel traces of each nucleus (exact, see the module docs):
    //   G_m = r G_{m-1} + sum [y(m - D) - r^K y(m - D - K)]
    //   A_m = r A_{m-1} + r G_{m-1} + sum [-K r^K y(m - D - K)]
    // with the sums over a group's connections (their terms above), all
    // groups of the nucleus as the rows of its bank.
    for (bank, terms) in banks.iter().zip(bank_terms) {
        let mut s = ctl(&bank.scope);
        let e = tf_err("kernel traces");
        let old = bank.var.read_in(&mut s, "read")?;
        reads.push(old.clone());
        // new = [M | C_1 | C_2 ...] [old; y_1; y_2 ...]: the decay and every
        // connection's terms in one product, summed in one fixed order.
        let t = bank.rows;
        let width = t + terms.iter().map(|(_, _, m)| m).sum::<usize>();
        let mut coef = vec![0f32; t * width];
        let mut col = 0;
        for (block, cols) in
            std::iter::once((&bank.decay, t)).chain(terms.iter().map(|(_, c, m)| (c, *m)))
        {
            for row in 0..t {
                coef[row * width + col..row * width + col + cols]
                    .copy_from_slice(&block[row * cols..(row + 1) * cols]);
            }
            col += cols;
        }
        let mut parts: Vec<Output> = vec![old.into()];
        parts.extend(terms.into_iter().map(|(y, _, _)| y));
        let axis = constant(0i32, &mut s.with_op_name("axis")).map_err(&e)?;
        let stacked = ops::ConcatV2::new()
            .build_instance(parts, axis.into(), &mut s.with_op_name("inputs"))
            .map_err(&e)?
            .op;
        let coef = const_f32(&mut s, "coefficients", &coef, &[t as u64, width as u64])?;
        let new = ops::mat_mul(coef, stacked, &mut s.with_op_name("new")).map_err(&e)?;
        let t = t as u64;
        trace_writes.push((
            bank.var.handle.clone(),
            new.clone(),
            s.new_sub_scope("write"),
        ));
        let scale = const_f32(&mut s, "scale", &bank.scale, &[1, t])?;
        let current = ops::mat_mul(scale, new, &mut s.with_op_name("scaled")).map_err(&e)?;
        let n = plan.nuclei[bank.post].n as i32;
        let flat = const_i32(&mut s, "flat", &[n], &[1])?;
        let current = ops::reshape(current, flat, &mut s.with_op_name("current")).map_err(&e)?;
        synaptic[bank.post].push(current.into());
    }

    // 7. input; 8. writes after all reads.
    let reads_done = group(&mut rs, "reads_done", reads)?;
    let mut writes = Vec::new();
    for (handle, value, w) in trace_writes {
        let w = w.with_control_dependencies(std::slice::from_ref(&reads_done));
        writes.push(
            ops::AssignVariableOp::new()
                .dtype(DataType::Float)
                .build(handle, value, &mut w.with_op_name("traces"))
                .map_err(tf_err("traces"))?,
        );
    }
    let mut nuclei_ops = Vec::with_capacity(plan.nuclei.len());
    for (idx, ((nu, st), g)) in plan.nuclei.iter().zip(nstates).zip(&nsteps).enumerate() {
        let n = nu.n as u64;
        let e = tf_err(&nu.label);
        let scope = ctl(&st.scope);
        let mut s = scope.new_sub_scope("input");
        let mut host_input = None;
        let iext: Output = match &nu.input {
            PlanInput::Const(v) => const_f32(&mut s, "Iext", v, &[n])?.into(),
            PlanInput::Host(_) => {
                let ph = ops::Placeholder::new()
                    .dtype(DataType::Float)
                    .shape(shape(&[n]))
                    .build(&mut s.with_op_name("Iext"))
                    .map_err(&e)?;
                host_input = Some(ph.clone());
                ph.into()
            }
            PlanInput::Noise { mean, std, seed } => {
                // Keyed by (seed, step): a resumed run draws the same noise.
                let key = Tensor::new(&[2]).with_values(&[*seed, 0i64]).map_err(&e)?;
                let key = constant(key, &mut s.with_op_name("seed")).map_err(&e)?;
                let sel = Tensor::new(&[2]).with_values(&[0i64, 1]).map_err(&e)?;
                let sel = constant(sel, &mut s.with_op_name("seed_select")).map_err(&e)?;
                let counter = ops::mul(sel, step_read.clone(), &mut s).map_err(&e)?;
                let key = ops::add(key, counter, &mut s.with_op_name("seed_step")).map_err(&e)?;
                normal_noise(&mut s, n, key.into(), *mean, *std)?
            }
        };
        // One AddN over the external and every synaptic input.
        let mut terms = vec![iext];
        terms.append(&mut synaptic[idx]);
        let i_new: Output = if terms.len() == 1 {
            ops::identity(terms.remove(0), &mut s.with_op_name("I")).map_err(&e)?
        } else {
            ops::AddN::new()
                .build_instance(terms, &mut s.with_op_name("I"))
                .map_err(&e)?
                .op
        }
        .into();

        let w = scope
            .new_sub_scope("write")
            .with_control_dependencies(std::slice::from_ref(&reads_done));
        for (var, value, name) in [
            (&st.v, &g.v_new, "v"),
            (&st.u, &g.u_new, "u"),
            (&st.i, &i_new, "I"),
        ] {
            writes.push(
                ops::AssignVariableOp::new()
                    .dtype(DataType::Float)
                    .build(var.handle.clone(), value.clone(), &mut w.with_op_name(name))
                    .map_err(&e)?,
            );
        }
        // This step's spikes into their ring row, `step mod L`.
        if let Some(hist) = &st.hist {
            let at = ring.write_index(root, st.ring)?;
            writes.push(
                ops::resource_scatter_update(
                    hist.handle.clone(),
                    at,
                    g.spikes.clone(),
                    &mut w.with_op_name("spikes"),
                )
                .map_err(&e)?,
            );
        }

        let mut r = scope.new_sub_scope("record");
        let spikes = g.spike_index.clone();
        let mut traces = Vec::new();
        for (var, idx_list) in &nu.traces {
            let value = match var {
                StateVar::V => g.v_new.clone(),
                StateVar::U => g.u_new.clone(),
                StateVar::I => i_new.clone(),
            };
            let op = if idx_list.len() == nu.n && idx_list.iter().enumerate().all(|(a, &b)| a == b)
            {
                ops::identity(value, &mut r.with_op_name(var.name())).map_err(&e)?
            } else {
                let ids: Vec<i32> = idx_list.iter().map(|&i| i as i32).collect();
                let ids = const_i32(
                    &mut r,
                    &format!("{}_neurons", var.name()),
                    &ids,
                    &[ids.len() as u64],
                )?;
                ops::gather(value, ids, &mut r.with_op_name(var.name())).map_err(&e)?
            };
            traces.push((*var, op));
        }
        // Divergence check: one is-finite reduction over the new state.
        let all_new = ops::ConcatV2::new()
            .build_instance(
                vec![g.v_new.clone(), g.u_new.clone(), i_new.clone()],
                constant(0i32, &mut r.with_op_name("state_axis"))
                    .map_err(&e)?
                    .into(),
                &mut r.with_op_name("state"),
            )
            .map_err(&e)?
            .op;
        let is_finite = ops::is_finite(all_new, &mut r.with_op_name("is_finite")).map_err(&e)?;
        let finite = ops::all(
            is_finite,
            constant(0i32, &mut r.with_op_name("finite_axis")).map_err(&e)?,
            &mut r.with_op_name("finite"),
        )
        .map_err(&e)?;
        let inspect = st.scope.new_sub_scope("inspect");
        let mut state = Vec::with_capacity(3);
        for (var, handle) in [
            (StateVar::V, &st.v.handle),
            (StateVar::U, &st.u.handle),
            (StateVar::I, &st.i.handle),
        ] {
            let read = ops::ReadVariableOp::new()
                .dtype(DataType::Float)
                .build(handle.clone(), &mut inspect.with_op_name(var.name()))
                .map_err(&e)?;
            state.push((var, read));
        }
        nuclei_ops.push(NucleusOps {
            spikes,
            traces,
            host_input,
            finite,
            state,
        });
    }
    // The next copy runs after this one's writes; a run ending with this
    // copy also advances the counter by the copies it ran (after copy 0's
    // read of it, on which every copy's reads depend).
    let done = if chain.last {
        None
    } else {
        Some(group(&mut rs, "step/copy_done", writes.clone())?)
    };
    let by =
        constant(chain.copy as i64 + 1, &mut rs.with_op_name("step/by")).map_err(tf_err("step"))?;
    writes.push(
        ops::AssignAddVariableOp::new()
            .dtype(DataType::Int64)
            .build(
                step_var.handle.clone(),
                by,
                &mut rs
                    .with_control_dependencies(&[reads_done])
                    .with_op_name("step/increment"),
            )
            .map_err(tf_err("step"))?,
    );
    let target = group(&mut rs, "step/run", writes)?;
    Ok(BuiltStep {
        done,
        target,
        fetches: nuclei_ops,
        step: step_read,
    })
}

/// Where a copy of the step sits in the chain of a multi-step run.
struct Chain<'a> {
    /// The previous copy's writes (none for copy 0).
    after: Option<&'a Operation>,
    copy: usize,
    /// Copy 0's read of the step counter.
    step0: Option<&'a Output>,
    last: bool,
}

/// One copy of the step.
struct BuiltStep {
    /// The no-op after its writes, for the next copy (none for the last).
    done: Option<Operation>,
    /// The target that runs the copies up to this one and advances the
    /// step counter by their number.
    target: Operation,
    fetches: Vec<NucleusOps>,
    /// The step number this copy computes.
    step: Output,
}

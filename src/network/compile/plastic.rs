//! Synapses with state (docs/semantics.md §3.6): per connection its weight
//! variable `Y/from_X/weights` (a dense `[pre, post]` matrix, or the
//! values of compressed rows) and one variable per trace
//! (`Y/from_X/<trace>`, one value per neuron of its side). In one step:
//!
//! 1. every trace decays by its factor;
//! 2. `on_pre`, for the presynaptic neurons whose spikes arrive (row
//!    `m - D` of the ring, or this step's spikes for `D = 0`): their
//!    synapses' weights are gathered (dense rows, or the entries of their
//!    compressed rows) and the statements run in order (traces of the
//!    arriving neurons, the weights, deliveries `x += c · Σ w` to the
//!    postsynaptic model, which join the model's `on_pre` increments);
//! 3. after every read of the step: the changed weights are scattered
//!    back; `on_post`, for the postsynaptic neurons that fired in this
//!    step: their synapses' weights (dense columns, or the entries a
//!    compressed-column index lists), read after step 2's writes, and the
//!    statements in order; the weights scattered back; the traces written.
//!
//! Only the synapses of arriving and of firing neurons are touched. With
//! per-synapse delays the arrivals and the presynaptic traces a synapse
//! sees are its delay's ([`keyed`]).

mod keyed;

pub(super) use keyed::{on_pre_keyed, KeyedState};

use tensorflow::{ops, DataType, Operation, Output, Scope};

use super::expr::Emitter;
use super::graph::{
    after, const_f32, const_i32, constant, fed_variable, scalar_f32, tf_err, variable, Registry,
    Var,
};
use super::propagation::{entry_rows, row_entries, Table};
use super::synapses::Increment;
use super::InitFeed;
use crate::equations::{algebra_reads, LoweredSynapses, Side, Statement};
use crate::error::Result;
use crate::single::expr::Expr;

/// The compressed layout of a plastic connection's synapses.
pub(super) struct SparseIndex {
    /// Reads of the compressed rows: int64 row pointers, int32 columns.
    indptr: Output,
    cols: Output,
    /// The same synapses by column: int64 column pointers, and per entry
    /// the synapse (int32, its position in the rows) and its row.
    colptr: Output,
    by_col: Output,
    row_of: Output,
    post_n: u64,
}

/// A plastic connection's variables, created once.
pub(super) struct PlasticState {
    pub(super) weights: Var,
    /// Presynaptic neurons (rows of the weights).
    pre_n: u64,
    /// Compressed rows (`None`: a dense matrix).
    sparse: Option<SparseIndex>,
    /// Per trace of the model, its `[n]` variable.
    traces: Vec<Var>,
    /// Per-synapse delays: the delays and the presynaptic traces' past.
    keyed: Option<KeyedState>,
    /// Per trace, its name and a read of it between runs.
    pub(super) reads: Vec<(String, Operation)>,
}

/// The compressed rows of a plastic connection (reads of their
/// variables) and the index by column built from them on the host
/// ([`by_column`]), fed into variables of its own (`by_column/...`).
pub(super) struct CsrParts {
    pub(super) by_column: (Vec<i64>, Vec<i32>, Vec<i32>),
    pub(super) indptr_read: Output,
    pub(super) cols_read: Output,
    /// Per-synapse delays: the distinct delays of the keyed rows.
    pub(super) lags: Option<Vec<usize>>,
}

/// The trace variables of `model` (zeros), in the connection's scope, and
/// for compressed rows the index of the synapses by column.
pub(super) fn plastic_state(
    scope: &mut Scope,
    model: &LoweredSynapses,
    weights: Var,
    (pre_n, post_n): (u64, u64),
    csr: Option<CsrParts>,
    reg: &mut Registry,
    feeds: &mut Vec<InitFeed>,
) -> Result<PlasticState> {
    let mut traces = Vec::with_capacity(model.traces.len());
    let mut reads = Vec::with_capacity(model.traces.len());
    for t in &model.traces {
        let n = match t.side {
            Side::Pre => pre_n,
            Side::Post => post_n,
        };
        let zeros = const_f32(
            scope,
            &format!("{}/initial", t.name),
            &vec![0.0; n as usize],
            &[n],
        )?;
        let var = variable(scope, &t.name, DataType::Float, &[n], zeros.into(), reg)?;
        reads.push((
            t.name.clone(),
            var.read_in(scope, &format!("inspect/{}", t.name))?,
        ));
        traces.push(var);
    }
    let keyed = match csr.as_ref().and_then(|c| c.lags.as_deref()) {
        Some(lags) => Some(KeyedState::new(scope, model, lags, pre_n, reg)?),
        None => None,
    };
    let sparse = match csr {
        None => None,
        Some(parts) => {
            let (colptr, by_col, row_of) = parts.by_column;
            let nnz = by_col.len() as u64;
            let cp = fed_variable(
                scope,
                "by_column/pointers",
                colptr,
                &[post_n + 1],
                InitFeed::I64,
                reg,
                feeds,
            )?;
            let bc = fed_variable(
                scope,
                "by_column/synapses",
                by_col,
                &[nnz],
                InitFeed::I32,
                reg,
                feeds,
            )?;
            let ro = fed_variable(
                scope,
                "by_column/rows",
                row_of,
                &[nnz],
                InitFeed::I32,
                reg,
                feeds,
            )?;
            Some(SparseIndex {
                indptr: parts.indptr_read,
                cols: parts.cols_read,
                colptr: cp.read_in(scope, "by_column/read/pointers")?.into(),
                by_col: bc.read_in(scope, "by_column/read/synapses")?.into(),
                row_of: ro.read_in(scope, "by_column/read/rows")?.into(),
                post_n,
            })
        }
    };
    Ok(PlasticState {
        weights,
        pre_n,
        sparse,
        traces,
        reads,
        keyed,
    })
}

/// The synapses of compressed rows listed by column: column pointers, and
/// per entry the synapse's position in the rows and its row (a counting
/// sort: within a column, by row).
pub(super) fn by_column(
    indptr: &[i64],
    cols: &[i32],
    post_n: usize,
) -> (Vec<i64>, Vec<i32>, Vec<i32>) {
    let mut ptr = vec![0i64; post_n + 1];
    for &c in cols {
        ptr[c as usize + 1] += 1;
    }
    for j in 0..post_n {
        ptr[j + 1] += ptr[j];
    }
    let mut next = ptr.clone();
    let mut synapse = vec![0i32; cols.len()];
    let mut row = vec![0i32; cols.len()];
    for i in 0..indptr.len().saturating_sub(1) {
        for s in indptr[i] as usize..indptr[i + 1] as usize {
            let at = &mut next[cols[s] as usize];
            synapse[*at as usize] = s as i32;
            row[*at as usize] = i as i32;
            *at += 1;
        }
    }
    (ptr, synapse, row)
}

/// Which neurons' spikes a pathway handles.
pub(super) enum Arriving {
    /// `Where` of the spikes: int64 `[k, 1]`.
    Indices(Output),
    /// A 0/1 float row or vector.
    Row(Output),
}

/// int64 `[k]`: the neurons of `arriving`.
fn active(s: &mut Scope, arriving: Arriving, name: &str) -> Result<Output> {
    let e = tf_err("plastic synapses");
    let flat = const_i32(s, &format!("{name}/flat"), &[-1], &[1])?;
    let at: Output = match arriving {
        Arriving::Indices(at) => at,
        Arriving::Row(row) => {
            let v = ops::reshape(row, flat.clone(), s).map_err(&e)?;
            let half = scalar_f32(s, &format!("{name}/half"), 0.5)?;
            let on = ops::greater(v, half, s).map_err(&e)?;
            ops::where_(on, s).map_err(&e)?.into()
        }
    };
    Ok(ops::reshape(at, flat, &mut s.with_op_name(name))
        .map_err(&e)?
        .into())
}

/// `value` broadcast to the shape of `like` (a statement may give a
/// scalar, a row or a column).
fn shaped(s: &mut Scope, value: Output, like: &Output) -> Result<Output> {
    let e = tf_err("plastic synapses");
    let zeros = ops::zeros_like(like.clone(), s).map_err(&e)?;
    Ok(ops::add(zeros, value, s).map_err(&e)?.into())
}

/// How one pathway lays out its synapses: the traces' per-neuron values
/// widened to the weights' shape (`pre`, `post`), and `Σ w` per
/// postsynaptic neuron.
enum View {
    /// Dense `[rows, cols]`: presynaptic values become a column, postsynaptic
    /// ones broadcast along the last axis as they are; sums over axis 0.
    Dense,
    /// Synapse lists: a gather by each synapse's presynaptic and
    /// postsynaptic position; sums by postsynaptic neuron.
    Sparse {
        pre: Output,
        post: Output,
        post_ids: Output,
        post_n: u64,
        /// The presynaptic traces' values are given per synapse (their
        /// delay's past, [`keyed`]), not per neuron.
        pre_per_synapse: bool,
    },
}

impl View {
    fn widen(&self, s: &mut Scope, side: Side, v: &Output) -> Result<Output> {
        let e = tf_err("plastic synapses");
        Ok(match (self, side) {
            (View::Dense, Side::Pre) => {
                let column = const_i32(s, "column", &[-1, 1], &[2])?;
                ops::reshape(v.clone(), column, s).map_err(&e)?.into()
            }
            (View::Dense, Side::Post) => v.clone(),
            (
                View::Sparse {
                    pre_per_synapse: true,
                    ..
                },
                Side::Pre,
            ) => v.clone(),
            (View::Sparse { pre, .. }, Side::Pre) => {
                ops::gather(v.clone(), pre.clone(), s).map_err(&e)?.into()
            }
            (View::Sparse { post, .. }, Side::Post) => {
                ops::gather(v.clone(), post.clone(), s).map_err(&e)?.into()
            }
        })
    }

    fn sum(&self, s: &mut Scope, w: Output, name: &str) -> Result<Output> {
        let e = tf_err("plastic synapses");
        Ok(match self {
            View::Dense => {
                let axis = const_i32(s, &format!("{name}_axis"), &[0], &[1])?;
                ops::sum(w, axis, &mut s.with_op_name(name))
                    .map_err(&e)?
                    .into()
            }
            View::Sparse {
                post_ids, post_n, ..
            } => {
                let n = constant(*post_n as i32, &mut s.with_op_name(&format!("{name}_n")))
                    .map_err(&e)?;
                ops::unsorted_segment_sum(w, post_ids.clone(), n, &mut s.with_op_name(name))
                    .map_err(&e)?
                    .into()
            }
        })
    }
}

/// Run `statements` of one pathway on `w` (the weights gathered) and the
/// traces' per-neuron values (`values`, of the pathway's neurons: the
/// arriving or firing ones on their side, all on the other): returns the
/// new `w` if a statement changed it, and the deliveries.
fn run_statements(
    s: &mut Scope,
    model: &LoweredSynapses,
    statements: &[Statement],
    w: &Output,
    values: &mut [Output],
    view: &View,
) -> Result<(Option<Output>, Vec<Increment>)> {
    let mut w_now = w.clone();
    let mut changed = false;
    let mut deliveries = Vec::new();
    for (j, statement) in statements.iter().enumerate() {
        let mut ss = s.new_sub_scope(&format!("statement{j}"));
        match statement {
            Statement::Trace { index, value } => {
                trace_statement(&mut ss, model, *index, value, values)?;
            }
            Statement::Weight { value } => {
                let mut env = vec![("w".to_string(), w_now.clone())];
                for (t, v) in model.traces.iter().zip(values.iter()) {
                    if algebra_reads(value, &t.name) {
                        env.push((t.name.clone(), view.widen(&mut ss, t.side, v)?));
                    }
                }
                let v = emit(&mut ss, model, &env, value)?;
                // Reading w it has w's shape (the traces broadcast against
                // it); without w it may be smaller.
                w_now = match algebra_reads(value, "w") {
                    true => v,
                    false => shaped(&mut ss, v, &w_now)?,
                };
                changed = true;
            }
            Statement::Deliver(op) => {
                let sum = view.sum(&mut ss, w_now.clone(), "sum")?;
                deliveries.push((op.target.clone(), op.coefficient.clone(), sum));
            }
        }
    }
    Ok((changed.then_some(w_now), deliveries))
}

/// A statement `trace = value` on the values `values[index]` (of the
/// pathway's neurons, or per synapse): it reads only itself.
fn trace_statement(
    s: &mut Scope,
    model: &LoweredSynapses,
    index: usize,
    value: &Expr,
    values: &mut [Output],
) -> Result<()> {
    let own = [(model.traces[index].name.clone(), values[index].clone())];
    let v = emit(s, model, &own, value)?;
    // Reading itself, it has its shape; a constant needs it.
    values[index] = match algebra_reads(value, &model.traces[index].name) {
        true => v,
        false => shaped(s, v, &values[index])?,
    };
    Ok(())
}

/// `e` as a float32 output, its names from `env`.
fn emit(
    s: &mut Scope,
    model: &LoweredSynapses,
    env: &[(String, Output)],
    e: &Expr,
) -> Result<Output> {
    let lookup = |x: &str| env.iter().find(|(n, _)| n == x).map(|(_, o)| o.clone());
    let mut em = Emitter {
        scope: s.new_sub_scope("value"),
        env: &lookup,
        model: &model.model,
        draws: None,
    };
    em.float(e)
}

/// What `on_pre` left for the writes after the step's reads.
pub(super) struct Pending {
    scope: Scope,
    /// int64: the synapses gathered (dense: the arriving rows).
    gathered: Output,
    /// Their weights after `on_pre`, if a statement changed `w`.
    new: Option<Output>,
    /// Per trace, its `[n]` value after the decay and `on_pre`.
    traces: Vec<Output>,
    /// With per-synapse delays, the step counter `m` (the traces' past
    /// is written at row `m mod L`).
    step: Option<Output>,
}

/// The synapses of the neurons `at` on one side: dense rows (`Pre`) are
/// gathered whole; compressed rows or columns give their entries. Returns
/// the view, the ids to scatter back (rows or synapses) and the weights.
fn gather_synapses(
    s: &mut Scope,
    state: &PlasticState,
    side: Side,
    at: &Output,
    read_after: Option<&Operation>,
) -> Result<(View, Output, Output)> {
    let e = tf_err("plastic synapses");
    let mut rs = match read_after {
        Some(op) => s.with_control_dependencies(std::slice::from_ref(op)),
        None => s.with_control_dependencies(&[]),
    };
    let gather_w = |rs: &mut Scope, ids: Output, name: &str| -> Result<Output> {
        Ok(ops::ResourceGather::new()
            .dtype(DataType::Float)
            .build(
                state.weights.handle.clone(),
                ids,
                &mut rs.with_op_name(name),
            )
            .map_err(tf_err("plastic synapses"))?
            .into())
    };
    match (&state.sparse, side) {
        (None, Side::Pre) => {
            let w = gather_w(&mut rs, at.clone(), "rows")?;
            Ok((View::Dense, at.clone(), w))
        }
        (None, Side::Post) => {
            // The columns `at` of every row, gathered from the variable
            // row by row (`batch_dims` 1). Not a read of the whole matrix
            // and a gather from it: TensorFlow copies a variable that is
            // gathered from or scattered into on every `ReadVariableOp`
            // (its "copy on read" mode), the whole matrix each step.
            let j = every_row(s, state.pre_n, at)?;
            let cols = ops::ResourceGather::new()
                .dtype(DataType::Float)
                .batch_dims(1)
                .build(
                    state.weights.handle.clone(),
                    j,
                    &mut rs.with_op_name("columns"),
                )
                .map_err(&e)?
                .into();
            Ok((View::Dense, at.clone(), cols))
        }
        (Some(sp), side) => {
            // The entries of the rows (on_pre) or columns (on_post) of `at`.
            let (ptr, name) = match side {
                Side::Pre => (&sp.indptr, "rows"),
                Side::Post => (&sp.colptr, "columns"),
            };
            let (splits, entries) = row_entries(s, name, &Table::Tensor(ptr.clone()), at.clone())?;
            let which = entry_rows(s, name, splits, entries.clone())?;
            // Each synapse's neuron on the pathway's side and on the other.
            let mine: Output = ops::gather(at.clone(), which, s).map_err(&e)?.into();
            let (ids, other): (Output, Output) = match side {
                Side::Pre => (
                    entries.clone(),
                    ops::gather(sp.cols.clone(), entries, s).map_err(&e)?.into(),
                ),
                Side::Post => (
                    ops::gather(sp.by_col.clone(), entries.clone(), s)
                        .map_err(&e)?
                        .into(),
                    ops::gather(sp.row_of.clone(), entries, s)
                        .map_err(&e)?
                        .into(),
                ),
            };
            let (pre, post) = match side {
                Side::Pre => (mine, other),
                Side::Post => (other, mine),
            };
            let w = gather_w(&mut rs, ids.clone(), "synapses")?;
            let view = View::Sparse {
                pre,
                post: post.clone(),
                post_ids: post,
                post_n: sp.post_n,
                pre_per_synapse: false,
            };
            Ok((view, ids, w))
        }
    }
}

/// The per-neuron values the statements of a pathway see: the trace at
/// the pathway's neurons `at` on its own side, whole on the other.
fn values_at(
    s: &mut Scope,
    model: &LoweredSynapses,
    traces: &[Output],
    side: Side,
    at: &Output,
) -> Result<Vec<Output>> {
    let e = tf_err(&model.model);
    model
        .traces
        .iter()
        .zip(traces)
        .map(|(t, v)| {
            Ok(if t.side == side {
                ops::gather(v.clone(), at.clone(), &mut *s)
                    .map_err(&e)?
                    .into()
            } else {
                v.clone()
            })
        })
        .collect()
}

/// The traces of `side` with the pathway's neurons' new values.
fn put_back(
    s: &mut Scope,
    model: &LoweredSynapses,
    traces: &mut [Output],
    values: Vec<Output>,
    side: Side,
    at: &Output,
) -> Result<()> {
    let e = tf_err(&model.model);
    let column = const_i32(s, "index_column", &[-1, 1], &[2])?;
    let index = ops::reshape(at.clone(), column, &mut *s).map_err(&e)?;
    for ((t, now), v) in model.traces.iter().zip(traces.iter_mut()).zip(values) {
        if t.side == side {
            *now = ops::tensor_scatter_update(now.clone(), index.clone(), v, &mut *s)
                .map_err(&e)?
                .into();
        }
    }
    Ok(())
}

/// Steps 1 and 2 for one connection: the traces decayed, the arriving
/// synapses' weights gathered (pushed to `reads`) and `on_pre` run.
/// Returns what the writes need, the deliveries, and, for a connection
/// without a delivery statement, `Σ w` per postsynaptic neuron of the
/// arriving synapses (before `on_pre`) for the postsynaptic pulse input.
pub(super) fn on_pre(
    conn_scope: &Scope,
    model: &LoweredSynapses,
    state: &PlasticState,
    arriving: Arriving,
    copy_after: Option<&Operation>,
    reads: &mut Vec<Operation>,
) -> Result<(Pending, Vec<Increment>, Option<Output>)> {
    let mut s = after(conn_scope, copy_after).new_sub_scope("on_pre");
    let decayed = decayed_traces(&mut s, model, state, reads)?;
    let arrivals = active(&mut s, arriving, "arrivals")?;
    let (view, gathered, w) = gather_synapses(&mut s, state, Side::Pre, &arrivals, None)?;
    reads.push(w.operation.clone());
    let mut values = values_at(&mut s, model, &decayed, Side::Pre, &arrivals)?;
    let (new, deliveries) = run_statements(&mut s, model, &model.on_pre, &w, &mut values, &view)?;
    let mut traces = decayed;
    put_back(&mut s, model, &mut traces, values, Side::Pre, &arrivals)?;
    let sum_old = undelivered(&mut s, &view, w, &deliveries)?;
    let pending = Pending::new(conn_scope, gathered, new, traces, None);
    Ok((pending, deliveries, sum_old))
}

impl Pending {
    fn new(
        conn_scope: &Scope,
        gathered: Output,
        new: Option<Output>,
        traces: Vec<Output>,
        step: Option<Output>,
    ) -> Pending {
        Pending {
            scope: conn_scope.with_control_dependencies(&[]),
            gathered,
            new,
            traces,
            step,
        }
    }
}

/// For a pathway without an `x += c · w` statement, `Σ w` per
/// postsynaptic neuron (the weights before the statements) for the pulse
/// input; `None` when it delivers itself.
fn undelivered(
    s: &mut Scope,
    view: &View,
    w: Output,
    deliveries: &[Increment],
) -> Result<Option<Output>> {
    Ok(match deliveries.is_empty() {
        true => Some(view.sum(s, w, "sum")?),
        false => None,
    })
}

/// Step 1: every trace read and multiplied by its decay factor.
fn decayed_traces(
    s: &mut Scope,
    model: &LoweredSynapses,
    state: &PlasticState,
    reads: &mut Vec<Operation>,
) -> Result<Vec<Output>> {
    let e = tf_err(&model.model);
    let mut decayed: Vec<Output> = Vec::with_capacity(model.traces.len());
    for (t, var) in model.traces.iter().zip(&state.traces) {
        let read = var.read_in(s, &format!("read/{}", t.name))?;
        reads.push(read.clone());
        let r = scalar_f32(s, &format!("decay/{}", t.name), t.decay as f32)?;
        decayed.push(
            ops::mul(read, r, &mut s.with_op_name(&format!("decayed/{}", t.name)))
                .map_err(&e)?
                .into(),
        );
    }
    Ok(decayed)
}

/// Step 3 for one connection, after `reads_done`: the weights `on_pre`
/// changed written, `on_post` for `post_spikes` (this step's), the
/// weights and the traces written; the writes pushed to `writes`.
pub(super) fn finish(
    pending: Pending,
    model: &LoweredSynapses,
    state: &PlasticState,
    post_spikes: Arriving,
    reads_done: &Operation,
    writes: &mut Vec<Operation>,
) -> Result<()> {
    let e = tf_err(&model.model);
    let mut s = pending
        .scope
        .new_sub_scope("on_post")
        .with_control_dependencies(std::slice::from_ref(reads_done));
    let scatter = |s: &mut Scope, ids: Output, values: Output, name: &str| {
        ops::ResourceScatterUpdate::new()
            .build(
                state.weights.handle.clone(),
                ids,
                values,
                &mut s.with_op_name(name),
            )
            .map_err(tf_err("plastic synapses"))
    };
    let mut pre_written = None;
    if let Some(new) = pending.new {
        let op = scatter(&mut s, pending.gathered, new, "write_pre")?;
        writes.push(op.clone());
        pre_written = Some(op);
    }
    let mut traces = pending.traces;
    // With per-synapse delays: this step's presynaptic traces into their
    // past, which on_post then reads at each synapse's delay.
    let history = match (&state.keyed, &pending.step) {
        (Some(k), Some(step)) => Some(k.write(&mut s, &traces, step, writes)?),
        _ => None,
    };
    if !model.on_post.is_empty() {
        let fired = active(&mut s, post_spikes, "fired")?;
        let (mut view, ids, w) =
            gather_synapses(&mut s, state, Side::Post, &fired, pre_written.as_ref())?;
        let mut values = values_at(&mut s, model, &traces, Side::Post, &fired)?;
        if let (Some(k), Some((step, written))) = (&state.keyed, &history) {
            k.post_view(&mut s, model, &mut view, &mut values, step, written)?;
        }
        let (new, _) = run_statements(&mut s, model, &model.on_post, &w, &mut values, &view)?;
        if let Some(new) = new {
            match view {
                View::Sparse { .. } => writes.push(scatter(&mut s, ids, new, "write_post")?),
                View::Dense => writes.push(dense_columns(&mut s, state, &fired, &w, new)?),
            }
        }
        put_back(&mut s, model, &mut traces, values, Side::Post, &fired)?;
    }
    for ((t, var), value) in model.traces.iter().zip(&state.traces).zip(traces) {
        writes.push(
            ops::AssignVariableOp::new()
                .dtype(DataType::Float)
                .build(
                    var.handle.clone(),
                    value,
                    &mut s.with_op_name(&format!("write/{}", t.name)),
                )
                .map_err(&e)?,
        );
    }
    Ok(())
}

/// `at` (a vector of `k` columns) repeated for each of `rows` rows:
/// `[rows, k]`, as a batched gather of columns and `ScatterNd` take it.
fn every_row(s: &mut Scope, rows: u64, at: &Output) -> Result<Output> {
    let e = tf_err("plastic synapses");
    let zeros = tensorflow::Tensor::<i64>::new(&[rows, 1]);
    let zeros = constant(zeros, &mut s.with_op_name("every_row")).map_err(&e)?;
    let row = const_i32(s, "row", &[1, -1], &[2])?;
    let j = ops::reshape(at.clone(), row, &mut *s).map_err(&e)?;
    Ok(ops::add_v2(zeros, j, &mut *s).map_err(&e)?.into())
}

/// Write the columns `fired` of a dense weight matrix: `ScatterNd` at the
/// indices `(i, j)` of every presynaptic `i` and firing `j`.
fn dense_columns(
    s: &mut Scope,
    state: &PlasticState,
    fired: &Output,
    cols: &Output,
    new: Output,
) -> Result<Operation> {
    let e = tf_err("plastic synapses");
    let shape = ops::shape(cols.clone(), &mut *s).map_err(&e)?;
    let ids: Vec<i64> = (0..state.pre_n as i64).collect();
    let ids = tensorflow::Tensor::new(&[state.pre_n, 1])
        .with_values(&ids)
        .map_err(&e)?;
    let ids = constant(ids, &mut s.with_op_name("pre_ids")).map_err(&e)?;
    let i: Output = ops::broadcast_to(ids, shape, &mut *s).map_err(&e)?.into();
    let j = every_row(s, state.pre_n, fired)?;
    let ij = ops::Pack::new()
        .axis(2)
        .build_instance(vec![i, j], &mut s.with_op_name("ij"))
        .map_err(&e)?;
    ops::ResourceScatterNdUpdate::new()
        .build(
            state.weights.handle.clone(),
            ij.op,
            new,
            &mut s.with_op_name("write_post"),
        )
        .map_err(&e)
}

#[cfg(test)]
mod tests {
    use super::by_column;

    #[test]
    fn compressed_rows_are_listed_by_column() {
        // Rows: 0 -> {1, 2}, 1 -> {}, 2 -> {0, 2}.
        let (ptr, syn, row) = by_column(&[0, 2, 2, 4], &[1, 2, 0, 2], 3);
        assert_eq!(ptr, [0, 1, 2, 4]);
        assert_eq!(syn, [2, 0, 1, 3]);
        assert_eq!(row, [2, 0, 0, 2]);
    }
}

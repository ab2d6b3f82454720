//! Synapses with state (docs/semantics.md §3.6): per connection the dense
//! weight variable `Y/from_X/weights` and one variable per trace
//! (`Y/from_X/<trace>`, one value per neuron of its side). In one step:
//!
//! 1. every trace decays by its factor;
//! 2. `on_pre`, for the presynaptic neurons whose spikes arrive (row
//!    `m - D` of the ring, or this step's spikes for `D = 0`): their rows
//!    of `w` are gathered and the statements run in order on them (traces
//!    of the arriving neurons, the rows, deliveries `x += c · Σ w` to the
//!    postsynaptic model, which join the model's `on_pre` increments);
//! 3. after every read of the step: the changed rows are scattered back;
//!    `on_post`, for the postsynaptic neurons that fired in this step:
//!    their columns of `w` (read after the rows were written) and the
//!    statements in order, the columns scattered back; the traces written.
//!
//! Only the rows of arriving and the columns of firing neurons are touched.

use tensorflow::{ops, DataType, Operation, Output, Scope};

use super::expr::Emitter;
use super::graph::{after, const_i32, scalar_f32, tf_err, variable, Registry, Var};
use crate::equations::{LoweredSynapses, Side, Statement};
use crate::error::Result;
use crate::single::expr::Expr;

/// A plastic connection's variables, created once.
pub(super) struct PlasticState {
    pub(super) weights: Var,
    /// Presynaptic neurons (rows of the weights).
    pub(super) pre_n: u64,
    /// Per trace of the model, its `[n]` variable.
    pub(super) traces: Vec<Var>,
    /// Per trace, its name and a read of it between runs.
    pub(super) reads: Vec<(String, Operation)>,
}

/// The trace variables of `model` (zeros) in the connection's scope.
pub(super) fn plastic_state(
    scope: &mut Scope,
    model: &LoweredSynapses,
    weights: Var,
    pre_n: u64,
    post_n: u64,
    reg: &mut Registry,
) -> Result<PlasticState> {
    let mut traces = Vec::with_capacity(model.traces.len());
    let mut reads = Vec::with_capacity(model.traces.len());
    for t in &model.traces {
        let n = match t.side {
            Side::Pre => pre_n,
            Side::Post => post_n,
        };
        let zeros = super::graph::const_f32(
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
    Ok(PlasticState {
        weights,
        pre_n,
        traces,
        reads,
    })
}

/// What `on_pre` left for the writes after the step's reads.
pub(super) struct Pending {
    scope: Scope,
    /// int64 `[k]`: the presynaptic neurons whose spikes arrive.
    arrivals: Output,
    /// Their rows after `on_pre`, if a statement changed `w`.
    rows: Option<Output>,
    /// Per trace, its `[n]` value after the decay and `on_pre`.
    traces: Vec<Output>,
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
    let spikes = match arriving {
        Arriving::Indices(at) => {
            let flat = const_i32(s, &format!("{name}/indices"), &[-1], &[1])?;
            return Ok(ops::reshape(at, flat, &mut s.with_op_name(name))
                .map_err(&e)?
                .into());
        }
        Arriving::Row(row) => row,
    };
    let flat = const_i32(s, &format!("{name}/flat"), &[-1], &[1])?;
    let v = ops::reshape(spikes, flat, s).map_err(&e)?;
    let half = scalar_f32(s, &format!("{name}/half"), 0.5)?;
    let on = ops::greater(v, half, s).map_err(&e)?;
    let at = ops::where_(on, s).map_err(&e)?;
    let flat = const_i32(s, &format!("{name}/indices"), &[-1], &[1])?;
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

/// Run `statements` of one pathway on `w` (rows or columns) and the
/// traces' values (`values[i]`, shaped to broadcast against `w`): returns
/// the new `w` if a statement changed it, and the deliveries.
fn run_statements(
    s: &mut Scope,
    model: &LoweredSynapses,
    statements: &[Statement],
    w: &Output,
    values: &mut [Output],
) -> Result<(Option<Output>, Vec<(String, Expr, Output)>)> {
    let e = tf_err(&model.model);
    let mut w_now = w.clone();
    let mut changed = false;
    let mut deliveries = Vec::new();
    for (j, statement) in statements.iter().enumerate() {
        let env_values: Vec<(String, Output)> = model
            .traces
            .iter()
            .zip(values.iter())
            .map(|(t, v)| (t.name.clone(), v.clone()))
            .chain(std::iter::once(("w".to_string(), w_now.clone())))
            .collect();
        let lookup = |x: &str| {
            env_values
                .iter()
                .find(|(n, _)| n == x)
                .map(|(_, o)| o.clone())
        };
        let mut em = Emitter {
            scope: s.new_sub_scope(&format!("statement{j}")),
            env: &lookup,
            model: &model.model,
            draws: None,
        };
        match statement {
            Statement::Trace { index, value } => {
                let v = em.float(value)?;
                values[*index] = shaped(s, v, &values[*index])?;
            }
            Statement::Weight { value } => {
                let v = em.float(value)?;
                w_now = shaped(s, v, &w_now)?;
                changed = true;
            }
            Statement::Deliver(op) => {
                // Σ w over the arriving rows, into the postsynaptic model.
                let axis = const_i32(s, &format!("sum_axis{j}"), &[0], &[1])?;
                let sum = ops::sum(w_now.clone(), axis, &mut s.with_op_name(&format!("sum{j}")))
                    .map_err(&e)?;
                deliveries.push((op.target.clone(), op.coefficient.clone(), sum.into()));
            }
        }
    }
    Ok((changed.then_some(w_now), deliveries))
}

/// Steps 1 and 2 for one connection: the traces decayed, the arriving
/// rows gathered (pushed to `reads`) and `on_pre` run. Returns what the
/// writes need and the deliveries; a connection without a delivery
/// statement delivers `Σ w` of the arriving rows (before `on_pre`) to the
/// postsynaptic pulse input (`None` target).
pub(super) fn on_pre(
    conn_scope: &Scope,
    model: &LoweredSynapses,
    state: &PlasticState,
    arriving: Arriving,
    copy_after: Option<&Operation>,
    reads: &mut Vec<Operation>,
) -> Result<(Pending, Vec<(String, Expr, Output)>, Option<Output>)> {
    let e = tf_err(&model.model);
    let mut s = after(conn_scope, copy_after).new_sub_scope("on_pre");
    let mut decayed: Vec<Output> = Vec::with_capacity(model.traces.len());
    for (t, var) in model.traces.iter().zip(&state.traces) {
        let read = var.read_in(&mut s, &format!("read/{}", t.name))?;
        reads.push(read.clone());
        let r = scalar_f32(&mut s, &format!("decay/{}", t.name), t.decay as f32)?;
        decayed.push(
            ops::mul(read, r, &mut s.with_op_name(&format!("decayed/{}", t.name)))
                .map_err(&e)?
                .into(),
        );
    }
    let arrivals = active(&mut s, arriving, "arrivals")?;
    let rows: Output = ops::ResourceGather::new()
        .dtype(DataType::Float)
        .build(
            state.weights.handle.clone(),
            arrivals.clone(),
            &mut s.with_op_name("rows"),
        )
        .map_err(&e)?
        .into();
    reads.push(rows.operation.clone());
    // Values as the statements see them: a presynaptic trace at the
    // arriving neurons as a [k, 1] column, a postsynaptic one whole.
    let column = const_i32(&mut s, "column", &[-1, 1], &[2])?;
    let mut values = Vec::with_capacity(decayed.len());
    for (t, d) in model.traces.iter().zip(&decayed) {
        values.push(match t.side {
            Side::Pre => {
                let at = ops::gather(d.clone(), arrivals.clone(), &mut s).map_err(&e)?;
                ops::reshape(at, column.clone(), &mut s).map_err(&e)?.into()
            }
            Side::Post => d.clone(),
        });
    }
    let (new_rows, deliveries) = run_statements(&mut s, model, &model.on_pre, &rows, &mut values)?;
    // The presynaptic traces with the arriving neurons' new values.
    let index = const_i32(&mut s, "index_column", &[-1, 1], &[2])?;
    let at = ops::reshape(arrivals.clone(), index, &mut s).map_err(&e)?;
    let flat = const_i32(&mut s, "flat", &[-1], &[1])?;
    let mut traces = Vec::with_capacity(decayed.len());
    for ((t, d), v) in model.traces.iter().zip(decayed).zip(values) {
        traces.push(match t.side {
            Side::Pre => {
                let v = ops::reshape(v, flat.clone(), &mut s).map_err(&e)?;
                ops::tensor_scatter_update(
                    d,
                    at.clone(),
                    v,
                    &mut s.with_op_name(&format!("after/{}", t.name)),
                )
                .map_err(&e)?
                .into()
            }
            Side::Post => d,
        });
    }
    let sum_old = if deliveries.is_empty() {
        let axis = const_i32(&mut s, "sum_axis", &[0], &[1])?;
        Some(
            ops::sum(rows, axis, &mut s.with_op_name("sum"))
                .map_err(&e)?
                .into(),
        )
    } else {
        None
    };
    Ok((
        Pending {
            scope: conn_scope.with_control_dependencies(&[]),
            arrivals,
            rows: new_rows,
            traces,
        },
        deliveries,
        sum_old,
    ))
}

/// Step 3 for one connection, after `reads_done`: the rows written,
/// `on_post` for `post_spikes` (this step's),
/// the columns and the traces written; the writes pushed to `writes`.
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
    let mut rows_written = None;
    if let Some(rows) = pending.rows {
        let op = ops::ResourceScatterUpdate::new()
            .build(
                state.weights.handle.clone(),
                pending.arrivals.clone(),
                rows,
                &mut s.with_op_name("write_rows"),
            )
            .map_err(&e)?;
        writes.push(op.clone());
        rows_written = Some(op);
    }
    let mut traces = pending.traces;
    let writes_w = model
        .on_post
        .iter()
        .any(|st| matches!(st, Statement::Weight { .. }));
    if !model.on_post.is_empty() {
        let fired = active(&mut s, post_spikes, "fired")?;
        // w as the rows' writes left it.
        let rs = match &rows_written {
            Some(op) => s.with_control_dependencies(&[reads_done.clone(), op.clone()]),
            None => s.with_control_dependencies(&[]),
        };
        let w = ops::ReadVariableOp::new()
            .dtype(DataType::Float)
            .build(state.weights.handle.clone(), &mut rs.with_op_name("read"))
            .map_err(&e)?;
        let axis = const_i32(&mut s, "column_axis", &[1], &[])?;
        let cols: Output = ops::gather_v2(w, fired.clone(), axis, &mut s.with_op_name("columns"))
            .map_err(&e)?
            .into();
        let column = const_i32(&mut s, "column", &[-1, 1], &[2])?;
        let mut values = Vec::with_capacity(traces.len());
        for (t, v) in model.traces.iter().zip(&traces) {
            values.push(match t.side {
                Side::Pre => ops::reshape(v.clone(), column.clone(), &mut s)
                    .map_err(&e)?
                    .into(),
                Side::Post => ops::gather(v.clone(), fired.clone(), &mut s)
                    .map_err(&e)?
                    .into(),
            });
        }
        let (new_cols, _) = run_statements(&mut s, model, &model.on_post, &cols, &mut values)?;
        if let (Some(new_cols), true) = (new_cols, writes_w) {
            // Indices (i, j) of every presynaptic i and firing j.
            let shape = ops::shape(cols.clone(), &mut s).map_err(&e)?;
            let ids: Vec<i64> = (0..state.pre_n as i64).collect();
            let ids = tensorflow::Tensor::new(&[state.pre_n, 1])
                .with_values(&ids)
                .map_err(&e)?;
            let ids = super::graph::constant(ids, &mut s.with_op_name("pre_ids")).map_err(&e)?;
            let i: Output = ops::broadcast_to(ids, shape.clone(), &mut s)
                .map_err(&e)?
                .into();
            let row = const_i32(&mut s, "row", &[1, -1], &[2])?;
            let j = ops::reshape(fired.clone(), row, &mut s).map_err(&e)?;
            let j: Output = ops::broadcast_to(j, shape, &mut s).map_err(&e)?.into();
            let ij = ops::Pack::new()
                .axis(2)
                .build_instance(vec![i, j], &mut s.with_op_name("ij"))
                .map_err(&e)?;
            writes.push(
                ops::ResourceScatterNdUpdate::new()
                    .build(
                        state.weights.handle.clone(),
                        ij.op,
                        new_cols,
                        &mut s.with_op_name("write_columns"),
                    )
                    .map_err(&e)?,
            );
        }
        let index = const_i32(&mut s, "index_column", &[-1, 1], &[2])?;
        let at = ops::reshape(fired, index, &mut s).map_err(&e)?;
        for ((t, v), now) in model.traces.iter().zip(values).zip(traces.iter_mut()) {
            if t.side == Side::Post {
                *now = ops::tensor_scatter_update(now.clone(), at.clone(), v, &mut s)
                    .map_err(&e)?
                    .into();
            }
        }
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

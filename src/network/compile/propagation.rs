//! Presynaptic activity through a connection's weights: matrix products,
//! event-driven dense rows (`SparseSegmentSum`) and compressed rows (snn's
//! kernel `SnnRowSums` in a local session; else `RaggedRange` and gathers,
//! or `RaggedGather` of whole rows, then `UnsortedSegmentSum`).

use tensorflow::{ops, DataType, Operation, Output, Scope};

use super::graph::{const_i32, constant, kernel_node, other_err, scalar_f32, tf_err, Var};
use super::ring::SpikeEvents;
use crate::error::Result;
use crate::network::native::portable_name;

/// The weights of a connection in the graph.
#[derive(Clone)]
pub(crate) enum WeightOps {
    Dense(Operation),
    /// Compressed rows by presynaptic neuron (see [`PlanWeights::Csr`]).
    Csr {
        /// int64 `[pre.n + 1]`.
        indptr: Operation,
        /// int32 `[nnz]`.
        cols: Operation,
        /// float32 `[nnz]`.
        w: Operation,
        /// The three variables (`indptr`, `cols`, `w`): a step gathers
        /// straight from them (`ResourceGather`), without a read op each.
        vars: [Var; 3],
        /// Rows in ascending order are copied row by row from the reads
        /// of `cols` and `w` ([`ragged_entries`]).
        ragged: bool,
        /// Sums without a coefficient per event go through snn's own
        /// kernel ([`native_sums`]).
        native: bool,
        /// The device of the connection's ops (its postsynaptic
        /// nucleus's), for the ops built outside a scope.
        device: Option<String>,
    },
}

/// An array a step gathers from: a tensor, or a variable (one
/// `ResourceGather`, no `ReadVariableOp` node before it).
pub(super) enum Table<'a> {
    Tensor(Output),
    Var(&'a Var),
}

impl Table<'_> {
    /// `self[idx]` along the first axis, named `name`.
    pub(super) fn take(&self, s: &mut Scope, idx: Output, name: &str) -> Result<Output> {
        let e = tf_err(name);
        let mut s = s.with_op_name(name);
        Ok(match self {
            Table::Tensor(t) => ops::gather(t.clone(), idx, &mut s).map_err(e)?.into(),
            Table::Var(v) => ops::ResourceGather::new()
                .dtype(v.dtype)
                .build(v.handle.clone(), idx, &mut s)
                .map_err(e)?
                .into(),
        })
    }
}

/// `x · W` for a `[1, pre.n]` activity row: the `[post.n]` input it causes.
/// Event-driven: the rows of active neurons gathered, weighted by their
/// activity and summed (a windowed kernel's row); or a matrix product.
/// Sparse weights gather per synapse and segment-sum. (Spikes through dense
/// weights, event-driven, take [`event_sums`] instead.)
#[allow(clippy::too_many_arguments)]
pub(super) fn propagate(
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
            csr_sums(
                s,
                name,
                w,
                Rows::Ascending(idx.into()),
                Some(coef.into()),
                None,
                post_n,
            )
        }
    }
}

/// The activity row `x` flattened to `[pre.n]`, and the int64 indices of
/// its non-zero entries (the neurons with activity).
pub(super) fn active_neurons(
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
/// and weights are gathered (or, for [`Rows::Ascending`] through weights
/// marked `ragged`, copied row by row: [`ragged_entries`]) and summed by
/// one `UnsortedSegmentSum`: the cost is the events' synapses, not all of
/// them. Within a segment the sum runs over the events in order (the dense rows' `SparseSegmentSum` adds the
/// same numbers in the same order, but in groups of 8 rows, so the two may
/// differ in the last bit when more than 8 spikes arrive at once).
pub(super) fn csr_sums(
    s: &mut Scope,
    name: &str,
    w: &WeightOps,
    neurons: Rows,
    coef: Option<Output>,
    slots: Option<(Output, usize)>,
    post_n: u64,
) -> Result<Operation> {
    let e = tf_err(name);
    let weights = w;
    let WeightOps::Csr {
        vars: [indptr, cols, w],
        indptr: indptr_read,
        cols: cols_read,
        w: w_read,
        ragged,
        native,
        device,
    } = w
    else {
        return Err(crate::Error::Internal {
            context: format!("building {name}"),
            message: "CSR sums of dense weights".into(),
        });
    };
    let op = |what: &str| format!("{name}/{what}");
    if *native && coef.is_none() {
        let ascending = matches!(neurons, Rows::Ascending(_));
        let (Rows::Ascending(rows) | Rows::Any(rows)) = neurons;
        let reads = [indptr_read, cols_read, w_read];
        let sums = native_sums(
            s,
            name,
            reads,
            (rows.clone(), slots.clone()),
            post_n,
            device,
        )?;
        // The same sums by TensorFlow's ops, which no step runs (a session
        // prunes what its targets do not need): `Simulator::export` puts
        // them in the kernel's place.
        let mut portable = weights.clone();
        if let WeightOps::Csr { native, .. } = &mut portable {
            *native = false;
        }
        let rows = if ascending {
            Rows::Ascending(rows)
        } else {
            Rows::Any(rows)
        };
        csr_sums(
            s,
            &portable_name(name),
            &portable,
            rows,
            None,
            slots,
            post_n,
        )?;
        return Ok(sums);
    }
    let (splits, ids, targets, mut values) = match neurons {
        Rows::Ascending(neurons) if *ragged => {
            let (splits, targets, values) =
                ragged_entries(s, name, (indptr, device), [cols_read, w_read], neurons)?;
            (splits, targets.clone(), targets, values)
        }
        Rows::Ascending(neurons) | Rows::Any(neurons) => {
            let (splits, ids) = row_entries(s, name, &Table::Var(indptr), neurons)?;
            let targets = Table::Var(cols).take(s, ids.clone(), &op("targets"))?;
            let values = Table::Var(w).take(s, ids.clone(), &op("weights"))?;
            (splits, ids, targets, values)
        }
    };
    if coef.is_none() && slots.is_none() {
        let n = constant(post_n as i32, &mut s.with_op_name(&op("post_n"))).map_err(&e)?;
        return ops::unsorted_segment_sum(values, targets, n, &mut s.with_op_name(name))
            .map_err(&e);
    }
    let event = entry_rows(s, name, splits, ids)?;
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

/// `Σ_e W[rows_e, :]` as `[post_n]` by snn's kernel `SnnRowSums`
/// (crate::network::native) from the reads of the row pointers, columns
/// and weights; with `slots` (and `m` of them), each event's row into its
/// slot's row of `[m, post_n]` (`SnnRowSumsAt`). The numbers, in the order,
/// `UnsortedSegmentSum` of the gathered entries gives, in one op instead of
/// ten or twenty. Given the connection's device (built outside a scope).
fn native_sums(
    s: &mut Scope,
    name: &str,
    reads: [&Operation; 3],
    (rows, slots): (Output, Option<(Output, usize)>),
    post_n: u64,
    device: &Option<String>,
) -> Result<Operation> {
    use crate::network::native::{ROW_SUMS, ROW_SUMS_AT};
    let e = tf_err(name);
    let op = if slots.is_some() {
        ROW_SUMS_AT
    } else {
        ROW_SUMS
    };
    // (Its twin is the reshape's, below: export's second rule.)
    let (sums, _) = kernel_node(
        s,
        op,
        &format!("{name}/rows_summed"),
        device.as_deref(),
        |nd| {
            nd.add_input(rows);
            if let Some((slots, m)) = &slots {
                nd.add_input(slots.clone());
                nd.set_attr_int("lags", *m as i64)
                    .map_err(other_err(name))?;
            }
            for read in reads {
                nd.add_input(read.clone());
            }
            nd.set_attr_int("post_n", post_n as i64)
                .map_err(other_err(name))
        },
    )?;
    // The kernel's output has no static shape; the reshape gives it one.
    let dims = match slots {
        Some((_, m)) => vec![m as i32, post_n as i32],
        None => vec![post_n as i32],
    };
    let shape = const_i32(
        s,
        &format!("{name}/sums_shape"),
        &dims,
        &[dims.len() as u64],
    )?;
    ops::reshape(sums, shape, &mut s.with_op_name(name)).map_err(&e)
}

/// The rows (int64 `[k]`) a step takes from compressed rows.
pub(super) enum Rows {
    /// Strictly ascending (a `Where`'s indices, or a spike list's): they
    /// may be copied row by row.
    Ascending(Output),
    /// In any order, possibly repeated.
    Any(Output),
}

/// The entries of rows `neurons` (int64 `[k]`, strictly ascending) of
/// compressed rows, copied row by row by `RaggedGather` from `tables`
/// (the reads of the columns and the weights): `(splits [k + 1], columns,
/// weights)`, the same as [`row_entries`] and two gathers give.
/// `RaggedGather` checks its whole split vector every call, so it is not
/// handed `indptr` (`pre.n + 1` values) but the `2k + 1` bounds `[0, s_1,
/// e_1, ..., s_k, e_k]` of the asked rows (`s_j = indptr[n_j]`, `e_j =
/// indptr[n_j + 1]`; ascending because the rows are), whose odd rows
/// `1, 3, ..., 2k - 1` are the asked ones. Its kernel counts positions in
/// `int`, so only for fewer than 2^31 synapses.
fn ragged_entries(
    s: &mut Scope,
    name: &str,
    (indptr, device): (&Var, &Option<String>),
    tables: [&Operation; 2],
    neurons: Output,
) -> Result<(Output, Output, Output)> {
    let e = tf_err(name);
    let op = |what: &str| format!("{name}/{what}");
    let column = const_i32(s, &op("column"), &[-1, 1], &[2])?;
    let neurons = ops::reshape(neurons, column, &mut s.with_op_name(&op("rows"))).map_err(&e)?;
    let pair = constant(&[0i64, 1][..], &mut s.with_op_name(&op("start_end"))).map_err(&e)?;
    let ends = ops::add(neurons, pair, &mut s.with_op_name(&op("row_and_next"))).map_err(&e)?;
    let bounds = Table::Var(indptr).take(s, ends.into(), &op("row_bounds"))?;
    let flat = const_i32(s, &op("flat"), &[-1], &[1])?;
    let bounds = ops::reshape(bounds, flat, &mut s.with_op_name(&op("bounds"))).map_err(&e)?;
    let zero = constant(&[0i64][..], &mut s.with_op_name(&op("zero"))).map_err(&e)?;
    let axis = constant(0i32, &mut s.with_op_name(&op("axis"))).map_err(&e)?;
    let splits = ops::ConcatV2::new()
        .build_instance(
            vec![zero.into(), bounds.into()],
            axis.into(),
            &mut s.with_op_name(&op("splits")),
        )
        .map_err(&e)?
        .op;
    // 1, 3, ..., 2k - 1: below the 2k + 1 splits (Range refuses a limit
    // below its start, so not below the 2k bounds).
    let count = ops::Size::new()
        .out_type(DataType::Int64)
        .build(splits.clone(), &mut s.with_op_name(&op("split_count")))
        .map_err(&e)?;
    let one = constant(1i64, &mut s.with_op_name(&op("first_odd"))).map_err(&e)?;
    let two = constant(2i64, &mut s.with_op_name(&op("every_other"))).map_err(&e)?;
    let odd = ops::range(one, count, two, &mut s.with_op_name(&op("odd_rows"))).map_err(&e)?;
    let mut gathered = Vec::with_capacity(2);
    for (table, what) in tables.into_iter().zip(["targets", "weights"]) {
        let what = s.get_unique_name_for_op(&op(what));
        let mut g = s.graph_mut();
        let mut nd = g
            .new_operation("RaggedGather", &what)
            .map_err(other_err(name))?;
        nd.add_input_list(&[splits.clone().into()]);
        nd.add_input(table.clone());
        nd.add_input(odd.clone());
        nd.set_attr_int("OUTPUT_RAGGED_RANK", 1)
            .map_err(other_err(name))?;
        // Beside its tables (a cluster's task): they are large.
        if let Some(dev) = device {
            nd.set_device(dev).map_err(other_err(name))?;
        }
        gathered.push(nd.finish().map_err(&e)?);
    }
    let out = |k: usize, index: i32| Output {
        operation: gathered[k].clone(),
        index,
    };
    Ok((out(0, 0), out(0, 1), out(1, 1)))
}

/// The entries of rows `neurons` (int64 `[k]`) of compressed rows with
/// row pointers `ptr` (int64): `RaggedRange` of the rows' starts and ends,
/// as `(splits [k + 1], entry ids [total])`.
pub(super) fn row_entries(
    s: &mut Scope,
    name: &str,
    ptr: &Table,
    neurons: Output,
) -> Result<(Output, Output)> {
    let e = tf_err(name);
    let op = |what: &str| format!("{name}/{what}");
    let one = constant(1i64, &mut s.with_op_name(&op("one"))).map_err(&e)?;
    let next = ops::add(
        neurons.clone(),
        one.clone(),
        &mut s.with_op_name(&op("next_neuron")),
    )
    .map_err(&e)?;
    let starts = ptr.take(s, neurons, &op("row_starts"))?;
    let limits = ptr.take(s, next.into(), &op("row_ends"))?;
    let rows = ops::RaggedRange::new()
        .build(starts, limits, one, &mut s.with_op_name(&op("synapses")))
        .map_err(&e)?;
    Ok((
        Output {
            operation: rows.clone(),
            index: 0,
        },
        Output {
            operation: rows,
            index: 1,
        },
    ))
}

/// For each entry of [`row_entries`], the position of its row among the
/// rows asked for (int64 `[total]`): the number of row ends (`splits[1:]`)
/// at or before the entry's position.
pub(super) fn entry_rows(s: &mut Scope, name: &str, splits: Output, ids: Output) -> Result<Output> {
    let e = tf_err(name);
    let op = |what: &str| format!("{name}/{what}");
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
    let one = constant(1i64, &mut s.with_op_name(&op("step_one"))).map_err(&e)?;
    let at = ops::range(zero, count, one, &mut s.with_op_name(&op("positions"))).map_err(&e)?;
    let at = ops::reshape(at, batch, &mut s.with_op_name(&op("positions_row"))).map_err(&e)?;
    let event = ops::UpperBound::new()
        .out_type(DataType::Int64)
        .build(ends, at, &mut s.with_op_name(&op("event_of")))
        .map_err(&e)?;
    let flat = const_i32(s, &op("flat"), &[-1], &[1])?;
    Ok(ops::reshape(event, flat, &mut s.with_op_name(&op("event")))
        .map_err(&e)?
        .into())
}

/// `y(lag) = S(lag) · W` at every lag of `ev`, as `[m, post]` (row `j` for
/// `ev.lags[j]`): the weight rows of the neurons that spiked, summed by
/// one `SparseSegmentSum` (named `name`) into one segment per lag, with no
/// `[k, post]` gather in between.
pub(super) fn event_sums(
    s: &mut Scope,
    name: &str,
    w: &Operation,
    ev: &SpikeEvents,
) -> Result<Operation> {
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

//! Plastic synapses with per-synapse delays (docs/semantics.md §3.6,
//! "Per-synapse delays"). A synapse of delay `d` runs `on_pre` when a
//! spike of its neuron arrives, `d` steps after it, and keeps (as Brian2
//! keeps it) its own copy of each presynaptic trace, changed at those
//! arrivals. That copy is the neuron's trace `d` steps late: the trace
//! changed at the spikes themselves. So the graph keeps one trace per
//! presynaptic neuron, changed by this step's spikes, and its past: a
//! `[L, pre.n]` variable `Y/from_X/<trace>/past`, `L` one more than the
//! longest delay, whose row `m mod L` holds the values after step `m`'s
//! `on_pre`. A synapse's value is read there at its delay: before its
//! arrival's statements, the row of step `m - d - 1` decayed by one step;
//! in `on_post`, the row of step `m - d` (for `d = 0` this step's, written
//! before `on_post` reads it).

use tensorflow::{ops, DataType, Operation, Output, Scope, Tensor};

use super::super::graph::{after, const_i32, constant, tf_err, variable, Registry, Var};
use super::super::neurons::NucleusStep;
use super::super::propagation::{entry_rows, row_entries, Table};
use super::super::ring::RingReads;
use super::super::state::NucleusState;
use super::super::synapses::Increment;
use super::{
    active, decayed_traces, put_back, run_statements, trace_statement, undelivered, values_at,
    Arriving, Pending, PlasticState, View,
};
use crate::equations::{LoweredSynapses, Side, Statement};
use crate::error::Result;

/// What a plastic connection with per-synapse delays adds to its state.
pub(in super::super) struct KeyedState {
    /// The distinct delays in steps, ascending: row `i (K + 1) + k` of the
    /// keyed compressed rows holds the synapses of neuron `i` with delay
    /// `lags[k]`.
    lags: Vec<usize>,
    /// Per trace of the model, for a presynaptic one, its past `[L, pre.n]`.
    past: Vec<Option<Var>>,
    /// `L`: the longest delay + 1.
    len: usize,
}

impl KeyedState {
    /// The past of each presynaptic trace of `model` (zeros: traces start
    /// at 0), in the connection's scope.
    pub(super) fn new(
        scope: &mut Scope,
        model: &LoweredSynapses,
        lags: &[usize],
        pre_n: u64,
        reg: &mut Registry,
    ) -> Result<KeyedState> {
        let len = lags.last().copied().unwrap_or(0) + 1;
        let mut past = Vec::with_capacity(model.traces.len());
        for t in &model.traces {
            if t.side != Side::Pre {
                past.push(None);
                continue;
            }
            let e = tf_err(&t.name);
            let name = format!("{}/past", t.name);
            // Filled by the initialiser, not a constant of `L n` zeros.
            let dims = const_i32(
                scope,
                &format!("{name}/dims"),
                &[len as i32, pre_n as i32],
                &[2],
            )?;
            let zero =
                constant(0f32, &mut scope.with_op_name(&format!("{name}/zero"))).map_err(&e)?;
            let zeros = ops::Fill::new()
                .build(
                    dims,
                    zero,
                    &mut scope.with_op_name(&format!("{name}/initial")),
                )
                .map_err(&e)?;
            past.push(Some(variable(
                scope,
                &name,
                DataType::Float,
                &[len as u64, pre_n],
                zeros.into(),
                reg,
            )?));
        }
        Ok(KeyedState {
            lags: lags.to_vec(),
            past,
            len,
        })
    }

    /// int64 `[k]`: the delays (steps) of lag slots `slots` (int32 or
    /// int64 `[k]`).
    fn delays_of(&self, s: &mut Scope, slots: Output, name: &str) -> Result<Output> {
        let e = tf_err("per-synapse delays");
        let lags: Vec<i64> = self.lags.iter().map(|&l| l as i64).collect();
        let t = Tensor::new(&[lags.len() as u64])
            .with_values(&lags)
            .map_err(&e)?;
        let lags = constant(t, &mut s.with_op_name(&format!("{name}/lags"))).map_err(&e)?;
        Ok(ops::gather(lags, slots, &mut s.with_op_name(name))
            .map_err(&e)?
            .into())
    }

    /// Trace `index`'s value `back` steps ago (int64 `[k]`) at neurons
    /// `neurons` (int64 `[k]`): row `(m - back) mod L` of its past.
    fn past_at(
        &self,
        s: &mut Scope,
        index: usize,
        step: &Output,
        back: Output,
        neurons: Output,
        name: &str,
    ) -> Result<Output> {
        let e = tf_err("per-synapse delays");
        let Some(var) = &self.past[index] else {
            return Err(crate::Error::Internal {
                context: "per-synapse delays".into(),
                message: "a postsynaptic trace has no past".into(),
            });
        };
        let len = constant(
            self.len as i64,
            &mut s.with_op_name(&format!("{name}/length")),
        )
        .map_err(&e)?;
        let then = ops::sub(
            step.clone(),
            back,
            &mut s.with_op_name(&format!("{name}/then")),
        )
        .map_err(&e)?;
        let row =
            ops::floor_mod(then, len, &mut s.with_op_name(&format!("{name}/row"))).map_err(&e)?;
        let at = ops::Pack::new()
            .axis(1)
            .build_instance(
                vec![row.into(), neurons],
                &mut s.with_op_name(&format!("{name}/at")),
            )
            .map_err(&e)?;
        Ok(ops::ResourceGatherNd::new()
            .dtype(DataType::Float)
            .build(var.handle.clone(), at.op, &mut s.with_op_name(name))
            .map_err(&e)?
            .into())
    }

    /// After the step's reads: this step's presynaptic traces (`traces`,
    /// after `on_pre`) into row `m mod L` of their past. Returns `m` and
    /// the writes (pushed to `writes` too).
    pub(super) fn write(
        &self,
        s: &mut Scope,
        traces: &[Output],
        step: &Output,
        writes: &mut Vec<Operation>,
    ) -> Result<(Output, Vec<Operation>)> {
        let e = tf_err("per-synapse delays");
        let len = constant(self.len as i64, &mut s.with_op_name("past_length")).map_err(&e)?;
        let row = ops::floor_mod(step.clone(), len, &mut s.with_op_name("past_row")).map_err(&e)?;
        let mut written = Vec::new();
        for (var, value) in self.past.iter().zip(traces) {
            if let Some(var) = var {
                let op = ops::resource_scatter_update(
                    var.handle.clone(),
                    row.clone(),
                    value.clone(),
                    &mut s.with_op_name("write_past"),
                )
                .map_err(&e)?;
                written.push(op);
            }
        }
        writes.extend(written.iter().cloned());
        Ok((step.clone(), written))
    }

    /// `on_post`'s view of a firing column's synapses: the presynaptic
    /// traces' values per synapse, read from their past at the synapse's
    /// delay (after this step's row is `written`). `view`'s `pre` holds
    /// each synapse's keyed row `i (K + 1) + k`.
    pub(super) fn post_view(
        &self,
        s: &mut Scope,
        model: &LoweredSynapses,
        view: &mut View,
        values: &mut [Output],
        step: &Output,
        written: &[Operation],
    ) -> Result<()> {
        let e = tf_err("per-synapse delays");
        let View::Sparse {
            pre,
            pre_per_synapse,
            ..
        } = view
        else {
            return Err(crate::Error::Internal {
                context: "per-synapse delays".into(),
                message: "dense weights".into(),
            });
        };
        let rows = ops::Cast::new()
            .DstT(DataType::Int64)
            .build(pre.clone(), &mut s.with_op_name("keyed_rows"))
            .map_err(&e)?;
        let width = constant(
            self.lags.len() as i64 + 1,
            &mut s.with_op_name("keyed_width"),
        )
        .map_err(&e)?;
        let neurons = ops::floor_div(rows.clone(), width.clone(), &mut s.with_op_name("neurons"))
            .map_err(&e)?;
        let slots = ops::floor_mod(rows, width, &mut s.with_op_name("slots")).map_err(&e)?;
        let delays = self.delays_of(s, slots.into(), "delays")?;
        let mut rs = s.with_control_dependencies(written);
        for (index, t) in model.traces.iter().enumerate() {
            if t.side == Side::Pre {
                values[index] = self.past_at(
                    &mut rs,
                    index,
                    step,
                    delays.clone(),
                    neurons.clone().into(),
                    &format!("past/{}", t.name),
                )?;
            }
        }
        *pre_per_synapse = true;
        Ok(())
    }
}

/// Steps 1 and 2 ([`super::on_pre`]) for a connection with per-synapse
/// delays: the traces decayed; this step's spikes run the presynaptic
/// trace statements of `on_pre` on their neurons' traces; then the spike
/// events `(i, k)` of the keyed rows ([`RingReads::keyed_events`]) take the synapses
/// of `i` with delay `lags[k]`, whose weights and deliveries run every
/// statement of `on_pre`, a presynaptic trace read per synapse from its
/// past (its value before this arrival's statements).
#[allow(clippy::too_many_arguments)]
pub(in super::super) fn on_pre_keyed(
    conn_scope: &Scope,
    model: &LoweredSynapses,
    state: &PlasticState,
    (pre_idx, pre, pre_step): (usize, &NucleusState, &NucleusStep),
    ring: &mut RingReads,
    copy_after: Option<&Operation>,
    reads: &mut Vec<Operation>,
) -> Result<(Pending, Vec<Increment>, Option<Output>)> {
    let e = tf_err(&model.model);
    let internal = |message: &str| crate::Error::Internal {
        context: format!("per-synapse delays ({})", model.model),
        message: message.into(),
    };
    let (Some(k), Some(sp)) = (&state.keyed, &state.sparse) else {
        return Err(internal("no keyed compressed rows"));
    };
    let mut s = after(conn_scope, copy_after).new_sub_scope("on_pre");
    let decayed = decayed_traces(&mut s, model, state, reads)?;
    // This step's spikes change their neurons' presynaptic traces.
    let spiking = active(
        &mut s,
        Arriving::Indices(pre_step.spike_index.clone()),
        "spiking",
    )?;
    let mut own = values_at(&mut s, model, &decayed, Side::Pre, &spiking)?;
    for (j, statement) in model.on_pre.iter().enumerate() {
        if let Statement::Trace { index, value } = statement {
            let mut ss = s.new_sub_scope(&format!("trace{j}"));
            trace_statement(&mut ss, model, *index, value, &mut own)?;
        }
    }
    let mut traces = decayed.clone();
    put_back(&mut s, model, &mut traces, own, Side::Pre, &spiking)?;
    // The arriving synapses: the keyed rows of the events.
    let pre_n = state.pre_n;
    let ev = ring.keyed_events(pre_idx, &k.lags, pre, pre_step, reads, pre_n)?;
    let step = ring.step;
    let (splits, ids) = row_entries(
        &mut s,
        "rows",
        &Table::Tensor(sp.indptr.clone()),
        ev.rows.clone(),
    )?;
    let which = entry_rows(&mut s, "rows", splits, ids.clone())?;
    let neurons: Output = ops::gather(ev.neurons, which.clone(), &mut s.with_op_name("neurons"))
        .map_err(&e)?
        .into();
    let slots = ops::gather(ev.slots, which, &mut s.with_op_name("slots")).map_err(&e)?;
    let delays = k.delays_of(&mut s, slots.into(), "delays")?;
    let post: Output = ops::gather(sp.cols.clone(), ids.clone(), &mut s.with_op_name("targets"))
        .map_err(&e)?
        .into();
    let w: Output = ops::ResourceGather::new()
        .dtype(DataType::Float)
        .build(
            state.weights.handle.clone(),
            ids.clone(),
            &mut s.with_op_name("synapses"),
        )
        .map_err(&e)?
        .into();
    reads.push(w.operation.clone());
    // Per synapse, its presynaptic traces before this arrival: the row of
    // step m - d - 1, decayed by one step.
    let one = constant(1i64, &mut s.with_op_name("one_more")).map_err(&e)?;
    let back = ops::add(delays, one, &mut s.with_op_name("back")).map_err(&e)?;
    let mut values = decayed;
    for (index, t) in model.traces.iter().enumerate() {
        if t.side == Side::Pre {
            let name = format!("past/{}", t.name);
            let then = k.past_at(
                &mut s,
                index,
                step,
                back.clone().into(),
                neurons.clone(),
                &name,
            )?;
            reads.push(then.operation.clone());
            let r = constant(
                t.decay as f32,
                &mut s.with_op_name(&format!("{name}/decay")),
            )
            .map_err(&e)?;
            values[index] = ops::mul(then, r, &mut s.with_op_name(&format!("{name}/decayed")))
                .map_err(&e)?
                .into();
        }
    }
    let view = View::Sparse {
        pre: neurons,
        post: post.clone(),
        post_ids: post,
        post_n: sp.post_n,
        pre_per_synapse: true,
    };
    let (new, deliveries) = run_statements(&mut s, model, &model.on_pre, &w, &mut values, &view)?;
    let sum_old = undelivered(&mut s, &view, w, &deliveries)?;
    let pending = Pending::new(conn_scope, ids, new, traces, Some(step.clone()));
    Ok((pending, deliveries, sum_old))
}

//! Reads of the spike rings: rows at given lags, and per presynaptic
//! nucleus the spike events (neuron, lag slot) its event-driven
//! connections share, each built once per step.

use tensorflow::{ops, DataType, Operation, Output, Scope, Tensor};

use super::graph::{after, const_i32, constant, scalar_f32, tf_err, Var};
use super::neurons::NucleusStep;
use super::propagation::Table;
use super::state::NucleusState;
use crate::error::Result;

/// The rows `(m - lag) mod L` of the spike ring `hist` (length `ring`) for
/// each of `lags`, as `[lags.len(), n]`, in one `ResourceGather` named
/// `name` (a read: pushed to `reads`).
pub(super) fn ring_gather(
    s: &mut Scope,
    name: &str,
    step: &Output,
    hist: &Var,
    ring: usize,
    lags: &[i64],
    reads: &mut Vec<Operation>,
) -> Result<Operation> {
    let e = tf_err(name);
    let at = lag_slots(s, name, step, lags, ring)?;
    let g = ops::ResourceGather::new()
        .dtype(DataType::Float)
        .build(hist.handle.clone(), at, &mut s.with_op_name(name))
        .map_err(&e)?;
    reads.push(g.clone());
    Ok(g)
}

/// The slots `(m - lag) mod L` of `lags` in a ring of length `L`, int64
/// (ops named `{name}_lags`, `{name}_ring`, `{name}_rows`).
pub(super) fn lag_slots(
    s: &mut Scope,
    name: &str,
    step: &Output,
    lags: &[i64],
    len: usize,
) -> Result<Operation> {
    let e = tf_err(name);
    let lags_t = Tensor::new(&[lags.len() as u64])
        .with_values(lags)
        .map_err(&e)?;
    let lags_c = constant(lags_t, &mut s.with_op_name(&format!("{name}_lags"))).map_err(&e)?;
    let len = constant(len as i64, &mut s.with_op_name(&format!("{name}_ring"))).map_err(&e)?;
    let back = ops::sub(step.clone(), lags_c, s).map_err(&e)?;
    ops::floor_mod(back, len, &mut s.with_op_name(&format!("{name}_rows"))).map_err(&e)
}

/// The spikes of a nucleus at `lags` (ascending, not empty) as
/// `[lags.len(), n]` float rows: lag 0 is this step's row, the past lags
/// one [`ring_gather`] (named `name`) of the nucleus's ring, the two joined
/// by `{name}_with_now` when both occur.
pub(super) fn spike_rows(
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

/// The spikes of one nucleus at every lag that event-driven connections
/// with dense weights read from it, as `SparseSegmentSum` takes them: for
/// each spike, the neuron and the slot `j` of its lag `lags[j]`. Built once
/// per step (one ring gather, one `Where`) and shared by those connections.
#[derive(Clone)]
pub(super) struct SpikeEvents {
    /// Ascending.
    pub(super) lags: Vec<usize>,
    /// int64 `[k]`.
    pub(super) neurons: Output,
    /// int64 `[k]`.
    pub(super) slots: Output,
}

/// The spike events of a connection with per-synapse delays: int64
/// `neurons` and, per event, the `slots` of its lag among the
/// connection's `lags` (this step's spikes first, then the listed ones).
#[derive(Clone)]
pub(super) struct KeyedEvents {
    pub(super) neurons: Output,
    pub(super) slots: Output,
    /// int64 `[k]`: each event's keyed row `i (K + 1) + k`.
    pub(super) rows: Output,
}

/// Rows of the spike rings and the spike events, each built once per step,
/// and the ring rows this step writes.
pub(super) struct RingReads<'a> {
    pub(super) step: &'a Output,
    pub(super) after: Option<&'a Operation>,
    /// `m mod L` per ring length `L`.
    pub(super) index: std::collections::HashMap<usize, Operation>,
    /// `[1, n]` float rows (0 or 1) of the presynaptic spikes per
    /// (nucleus, lag).
    pub(super) rows: std::collections::HashMap<(usize, usize), Operation>,
    pub(super) events: std::collections::HashMap<usize, SpikeEvents>,
    /// Per (nucleus, lags of per-synapse delays), the listed spike events.
    pub(super) keyed: std::collections::HashMap<(usize, Vec<usize>), KeyedEvents>,
}

impl RingReads<'_> {
    /// `m mod ring`, an int64 scalar: the ring row this step's spikes go to
    /// (`step/ring/L<ring>_now`, shared by the rings of that length).
    pub(super) fn write_index(&mut self, step_scope: &Scope, ring: usize) -> Result<Operation> {
        if let Some(op) = self.index.get(&ring) {
            return Ok(op.clone());
        }
        let s = after(step_scope, self.after).new_sub_scope("ring");
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
    pub(super) fn row(
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
        let mut s = after(&st.scope, self.after).new_sub_scope(&format!("lag{lag}"));
        let row = spike_rows(&mut s, "spikes", &[lag], st, step, self.step, reads)?;
        self.rows.insert((pre, lag), row.clone());
        Ok(row)
    }

    /// [`SpikeEvents`] of nucleus `pre` at `lags` (ascending, not empty;
    /// the same for every call with this `pre`).
    pub(super) fn spike_events(
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
        let mut s = after(&st.scope, self.after).new_sub_scope("events");
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

    /// [`KeyedEvents`] of nucleus `pre_idx` at a connection's `lags` (of
    /// per-synapse delays): this step's spikes at lag 0 (when the lags have
    /// it), then the spikes the spike lists hold for steps `m - lags[k]`,
    /// gathered by their counts (the cost is the spikes of those steps).
    /// Built once per step for each set of lags, in the nucleus's scope
    /// (`X/listed/...`), and shared by the connections with those lags.
    pub(super) fn keyed_events(
        &mut self,
        pre_idx: usize,
        lags: &[usize],
        pre: &NucleusState,
        pre_step: &NucleusStep,
        reads: &mut Vec<Operation>,
        pre_n: u64,
    ) -> Result<KeyedEvents> {
        if let Some(ev) = self.keyed.get(&(pre_idx, lags.to_vec())) {
            return Ok(ev.clone());
        }
        let mut scope = after(&pre.scope, self.after).new_sub_scope("listed");
        let s = &mut scope;
        let step = self.step;
        let e = tf_err("per-synapse delays");
        let flat = const_i32(s, "flat", &[-1], &[1])?;
        let mut neurons: Vec<Output> = Vec::new();
        let mut slots: Vec<Output> = Vec::new();
        let past: Vec<i64> = lags.iter().filter(|&&l| l > 0).map(|&l| l as i64).collect();
        if lags.first() == Some(&0) {
            let now = ops::reshape(
                pre_step.spike_index.clone(),
                flat.clone(),
                &mut s.with_op_name("now"),
            )
            .map_err(&e)?;
            let zeros =
                ops::zeros_like(now.clone(), &mut s.with_op_name("now_slot")).map_err(&e)?;
            neurons.push(now.into());
            slots.push(zeros.into());
        }
        if !past.is_empty() {
            let list = pre.list.as_ref().ok_or_else(|| crate::Error::Internal {
                context: "per-synapse delays".into(),
                message: "no spike lists".into(),
            })?;
            let at = lag_slots(s, "list", step, &past, list.len)?;
            let counts = Table::Var(&list.counts).take(s, at.clone().into(), "counts")?;
            reads.push(counts.operation.clone());
            let n = constant(pre_n as i64, &mut s.with_op_name("pre_n")).map_err(&e)?;
            let starts = ops::mul(at, n.clone(), &mut s.with_op_name("list_starts")).map_err(&e)?;
            let ends =
                ops::add(starts.clone(), counts, &mut s.with_op_name("list_ends")).map_err(&e)?;
            let one = constant(1i64, &mut s.with_op_name("one")).map_err(&e)?;
            let listed = ops::RaggedRange::new()
                .build(starts, ends, one, &mut s.with_op_name("listed"))
                .map_err(&e)?;
            let positions = Output {
                operation: listed,
                index: 1,
            };
            let ids = Table::Var(&list.ids).take(s, positions.clone(), "past")?;
            reads.push(ids.operation.clone());
            let ids = ops::Cast::new()
                .DstT(tensorflow::DataType::Int64)
                .build(ids, &mut s.with_op_name("past_neurons"))
                .map_err(&e)?;
            // Each listed spike's list row (its position div n), the lag
            // (m - row) mod L that row holds, and that lag's index among
            // the connection's lags (lag 0 first when it has it): no search.
            let row = ops::floor_div(positions, n, &mut s.with_op_name("list_row")).map_err(&e)?;
            let back = ops::sub(step.clone(), row, &mut s.with_op_name("list_back")).map_err(&e)?;
            let len = constant(list.len as i64, &mut s.with_op_name("list_length")).map_err(&e)?;
            let lag = ops::floor_mod(back, len, &mut s.with_op_name("list_lag")).map_err(&e)?;
            let mut index = vec![0i64; lags.last().map_or(0, |&l| l + 1)];
            for (k, &l) in lags.iter().enumerate() {
                index[l] = k as i64;
            }
            let index = Tensor::new(&[index.len() as u64])
                .with_values(&index)
                .map_err(&e)?;
            let index = constant(index, &mut s.with_op_name("lag_index")).map_err(&e)?;
            let k = ops::gather(index, lag, &mut s.with_op_name("past_slot")).map_err(&e)?;
            neurons.push(ids.into());
            slots.push(k.into());
        }
        // This step's events first, then the listed ones.
        let (neurons, slots) = if neurons.len() == 1 {
            (neurons.remove(0), slots.remove(0))
        } else {
            let axis = constant(0i32, &mut s.with_op_name("axis")).map_err(&e)?;
            let join = |parts: Vec<Output>, name: &str| -> Result<Output> {
                Ok(ops::ConcatV2::new()
                    .build_instance(parts, axis.clone().into(), &mut s.with_op_name(name))
                    .map_err(&e)?
                    .output())
            };
            (join(neurons, "neurons")?, join(slots, "slots")?)
        };
        // Row `i (K + 1) + k` of the keyed compressed rows.
        let width = constant(lags.len() as i64 + 1, &mut s.with_op_name("width")).map_err(&e)?;
        let base = ops::mul(neurons.clone(), width, &mut s.with_op_name("row_base")).map_err(&e)?;
        let rows = ops::add(base, slots.clone(), &mut s.with_op_name("rows")).map_err(&e)?;
        let ev = KeyedEvents {
            neurons,
            slots,
            rows: rows.into(),
        };
        self.keyed.insert((pre_idx, lags.to_vec()), ev.clone());
        Ok(ev)
    }
}

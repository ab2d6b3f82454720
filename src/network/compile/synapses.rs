//! Step 6 of semantics §1.3: each connection's input to its postsynaptic
//! nucleus for the next step, from the presynaptic spikes at its lags
//! (this step's, or the ring's) through its weights: a current (voltage
//! jumps, windowed kernels), or its terms of a kernel trace, which the
//! trace bank of the postsynaptic nucleus sums ([`super::traces`]).

use tensorflow::{ops, Operation, Output};

use super::graph::{after, const_f32, const_i32, constant, tf_err};
use super::layout::{term_coefficients, Layout};
use super::neurons::NucleusStep;
use super::plastic::{on_pre as on_pre_plastic, on_pre_keyed, Arriving, Pending};
use super::propagation::{csr_sums, event_sums, propagate, Rows, WeightOps};
use super::ring::{spike_rows, RingReads, SpikeEvents};
use super::state::{ConnState, NucleusState};
use crate::error::Result;
use crate::network::model::Propagation;
use crate::network::plan::{KernelForm, Plan, PlanConnection};
use crate::single::expr::Expr;

/// An `on_pre` increment of a postsynaptic variable: its name, the
/// coefficient of `w`, and `Σ w` over the arriving spikes.
pub(super) type Increment = (String, Expr, Output);

/// A connection's `[m, n]` input at its lags, the `[T, m]` coefficients
/// that make it its terms of a trace bank, and `m`.
pub(super) type BankTerm = (Output, Vec<f32>, usize);

/// What the connections feed their postsynaptic nuclei in one copy of the
/// step.
pub(super) struct SynapticInputs {
    /// Per nucleus, the currents of its afferent connections.
    pub(super) currents: Vec<Vec<Output>>,
    /// Per trace bank, its afferent connections' `[m, n]` inputs at their
    /// lags with the `[T, m]` coefficients that make them the connection's
    /// terms (and `m`).
    pub(super) bank_terms: Vec<Vec<BankTerm>>,
    /// Per nucleus, the `on_pre` increments of its afferent connections:
    /// target, coefficient of `w`, and `Σ w` over the arriving spikes.
    pub(super) on_pre: Vec<Vec<Increment>>,
    /// Per connection with state, what its writes need (by connection).
    pub(super) plastic: Vec<(usize, Pending)>,
}

/// A connection's sums of its events' weight rows: `[m, post.n]`, one row
/// per lag of the presynaptic nucleus's events, or `[post.n]` when there is
/// one lag.
enum Sums {
    Lags(Operation),
    One(Operation),
}

fn internal(context: &str, message: &str) -> crate::Error {
    crate::Error::Internal {
        context: context.into(),
        message: message.into(),
    }
}

/// Every connection's input in this copy of the step.
#[allow(clippy::too_many_arguments)]
pub(super) fn connection_inputs(
    plan: &Plan,
    layout: &Layout,
    nuclei: &[NucleusState],
    steps: &[NucleusStep],
    conns: &[ConnState],
    ring: &mut RingReads,
    copy_after: Option<&Operation>,
    reads: &mut Vec<Operation>,
) -> Result<SynapticInputs> {
    let mut currents: Vec<Vec<Output>> = vec![Vec::new(); plan.nuclei.len()];
    let mut bank_terms: Vec<Vec<BankTerm>> = vec![Vec::new(); layout.banks.len()];
    let mut on_pre: Vec<Vec<Increment>> = vec![Vec::new(); plan.nuclei.len()];
    let mut plastic = Vec::new();
    for (ci, (conn, cst)) in plan.connections.iter().zip(conns).enumerate() {
        if let (Some(state), Some(model)) = (&cst.plastic, &conn.synapses) {
            let (pre_state, pre_step) = (&nuclei[conn.pre], &steps[conn.pre]);
            // This step's spikes (`D = 0`) as the indices the threshold
            // found; a past step's as its ring row; with per-synapse
            // delays the spike events of the keyed rows.
            let (pending, deliveries, sum) = match (&conn.synapse_lags, conn.delay) {
                (Some(_), _) => on_pre_keyed(
                    &cst.scope,
                    model,
                    state,
                    (conn.pre, pre_state, pre_step),
                    ring,
                    copy_after,
                    reads,
                )?,
                (None, d) => {
                    let arriving = match d {
                        0 => Arriving::Indices(pre_step.spike_index.clone()),
                        d => {
                            Arriving::Row(ring.row(conn.pre, d, pre_state, pre_step, reads)?.into())
                        }
                    };
                    on_pre_plastic(&cst.scope, model, state, arriving, copy_after, reads)?
                }
            };
            plastic.push((ci, pending));
            on_pre[conn.post].extend(deliveries);
            currents[conn.post].extend(sum);
            continue;
        }
        let post = &plan.nuclei[conn.post];
        let pre_n = plan.nuclei[conn.pre].n as u64;
        let post_n = post.n as u64;
        let mut s = after(&cst.scope, copy_after);
        let e = tf_err(&conn.name);
        let traces = matches!(
            conn.form,
            KernelForm::Exponential { .. } | KernelForm::Alpha { .. }
        );
        if conn.synapse_lags.is_some() && !traces {
            let current = keyed_sums(
                &mut s,
                conn,
                (&nuclei[conn.pre], &steps[conn.pre]),
                cst,
                ring,
                reads,
                (pre_n, post_n),
                0,
            )?;
            deliver(conn, current, &mut on_pre, &mut currents);
            continue;
        }
        let k = conn.kernel.len() as u64;
        let unit_kernel = conn.form == KernelForm::Unit;
        let pre_state = &nuclei[conn.pre];
        let pre_step = &steps[conn.pre];
        let at = ConnAt {
            layout,
            ci,
            conn,
            cst,
            pre_state,
            pre_step,
        };
        let events = match layout.event_lags[ci] {
            Some(_) => Some(lag_sums(&mut s, &at, ring, reads, post_n)?),
            None => None,
        };
        let current: Operation = match (conn.form, events) {
            (KernelForm::Unit, Some((Sums::One(sums), _, _))) => sums,
            (KernelForm::Unit, Some((Sums::Lags(sums), _, [j, _]))) => {
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
                    ring.row(conn.pre, conn.delay, pre_state, pre_step, reads)?
                } else {
                    // Rows of the presynaptic spikes at lags D .. D + K, read
                    // in the presynaptic nucleus's scope (on the ring's device).
                    let mut ps = after(&pre_state.scope, copy_after)
                        .new_sub_scope(&format!("to_{}", post.label));
                    let lags: Vec<usize> = (conn.delay..conn.delay + k as usize).collect();
                    let window = spike_rows(
                        &mut ps, "window", &lags, pre_state, pre_step, ring.step, reads,
                    )?;
                    let kern = const_f32(&mut s, "kernel", &conn.kernel, &[1, k])?;
                    ops::mat_mul(kern, window, &mut s.with_op_name("kernel_sum")).map_err(&e)?
                };
                propagate(&mut s, "synapse", x, &cst.w, event_driven, pre_n, post_n)?
            }
            (KernelForm::Exponential { .. } | KernelForm::Alpha { .. }, events) => {
                let (bank, terms) = trace_terms(&mut s, &at, ring, reads, events, (pre_n, post_n))?;
                bank_terms[bank].push(terms);
                continue;
            }
        };
        deliver(conn, current, &mut on_pre, &mut currents);
    }
    Ok(SynapticInputs {
        currents,
        bank_terms,
        on_pre,
        plastic,
    })
}

/// One connection as its helpers below read it: the layout, its index,
/// its plan and variables, and its presynaptic nucleus's state and step.
#[derive(Clone, Copy)]
struct ConnAt<'a> {
    layout: &'a Layout,
    ci: usize,
    conn: &'a PlanConnection,
    cst: &'a ConnState,
    pre_state: &'a NucleusState,
    pre_step: &'a NucleusStep,
}

/// A connection's spikes through its weights, event-driven: the `[m,
/// post]` sums at every lag of the presynaptic nucleus's events (`[post]`
/// when there is one lag), the number of lags, and the slots of this
/// connection's lags among them.
fn lag_sums(
    s: &mut tensorflow::Scope,
    c: &ConnAt,
    ring: &mut RingReads,
    reads: &mut Vec<Operation>,
    post_n: u64,
) -> Result<(Sums, usize, [usize; 2])> {
    let ConnAt {
        layout,
        ci,
        conn,
        cst,
        pre_state,
        pre_step,
    } = *c;
    let lags = &layout.spike_lags[conn.pre];
    let ev = ring.spike_events(conn.pre, lags, pre_state, pre_step, reads)?;
    // A voltage jump takes its lag's row of the sums (named
    // `synapse`); a trace takes them all.
    let name = match conn.form {
        KernelForm::Unit => "synapse/lag_sums",
        _ => "synapse",
    };
    let sums = match &cst.w {
        WeightOps::Dense(w) => match conn.own {
            None => Sums::Lags(event_sums(s, name, w, &ev)?),
            Some(own) => {
                let sums = match own.rows {
                    Some((first, rows)) => {
                        let own_ev = subgroup_events(s, &ev, (rows as u64, first))?;
                        event_sums(s, name, w, &own_ev)?
                    }
                    None => event_sums(s, name, w, &ev)?,
                };
                Sums::Lags(match own.cols {
                    Some(cols) => into_columns(s, sums.into(), cols, own.post_all)?,
                    None => sums,
                })
            }
        },
        // One lag: every event goes to the one segment row, so
        // the columns are the segments (no slot arithmetic).
        csr if ev.lags.len() == 1 => Sums::One(csr_sums(
            s,
            "synapse",
            csr,
            Rows::Ascending(ev.neurons.clone()),
            None,
            None,
            post_n,
        )?),
        csr => Sums::Lags(csr_sums(
            s,
            name,
            csr,
            Rows::Any(ev.neurons.clone()),
            None,
            Some((ev.slots.clone(), ev.lags.len())),
            post_n,
        )?),
    };
    let slots = layout
        .event_slots(ci, conn.pre)
        .ok_or_else(|| internal(&conn.name, "its lags are missing from the spike events"))?;
    Ok((sums, ev.lags.len(), slots))
}

/// The spike events `ev` of a presynaptic nucleus as rows of a subgroup's
/// own dense weights (`rows` of them from neuron `first`, then a row of
/// zeros): neuron `i` takes row `i - first` inside the subgroup, the zero
/// row `rows` outside it.
fn subgroup_events(
    s: &mut tensorflow::Scope,
    ev: &SpikeEvents,
    (rows, first): (u64, usize),
) -> Result<SpikeEvents> {
    let e = tf_err("subgroup rows");
    let first = constant(first as i64, &mut s.with_op_name("synapse/first_row")).map_err(&e)?;
    let local = ops::sub(
        ev.neurons.clone(),
        first,
        &mut s.with_op_name("synapse/local"),
    )
    .map_err(&e)?;
    let rows_c = constant(rows as i64, &mut s.with_op_name("synapse/rows")).map_err(&e)?;
    let zero = constant(0i64, &mut s.with_op_name("synapse/zero_row_at")).map_err(&e)?;
    let below =
        ops::less(local.clone(), zero, &mut s.with_op_name("synapse/before")).map_err(&e)?;
    let above = ops::greater_equal(
        local.clone(),
        rows_c.clone(),
        &mut s.with_op_name("synapse/after"),
    )
    .map_err(&e)?;
    let outside =
        ops::logical_or(below, above, &mut s.with_op_name("synapse/outside")).map_err(&e)?;
    // The events are few (the spikes of the lags read), so the scalar
    // broadcast of `SelectV2` costs nothing worth a `Fill` to avoid.
    let neurons =
        ops::select_v2(outside, rows_c, local, &mut s.with_op_name("synapse/row")).map_err(&e)?;
    Ok(SpikeEvents {
        lags: ev.lags.clone(),
        neurons: neurons.into(),
        slots: ev.slots.clone(),
    })
}

/// The `[m, cols]` sums of a postsynaptic subgroup's own columns (`cols`:
/// its first neuron and size) as `[m, post_all]`, zeros around them.
fn into_columns(
    s: &mut tensorflow::Scope,
    sums: Output,
    (first, n): (usize, usize),
    post_all: usize,
) -> Result<Operation> {
    let e = tf_err("subgroup columns");
    let after = (post_all - first - n) as i32;
    let paddings = const_i32(s, "synapse/columns", &[0, 0, first as i32, after], &[2, 2])?;
    ops::pad(sums, paddings, &mut s.with_op_name("synapse/in_columns")).map_err(&e)
}

/// A kernel-trace connection's terms of its group's traces (see
/// `traces`): its trace bank, and `(y, coefficients, m)` for the bank.
fn trace_terms(
    s: &mut tensorflow::Scope,
    c: &ConnAt,
    ring: &mut RingReads,
    reads: &mut Vec<Operation>,
    events: Option<(Sums, usize, [usize; 2])>,
    (pre_n, post_n): (u64, u64),
) -> Result<(usize, BankTerm)> {
    let ConnAt {
        layout,
        ci,
        conn,
        cst,
        pre_state,
        pre_step,
    } = *c;
    let e = tf_err(&conn.name);
    let k = conn.kernel.len() as u64;
    // This connection's terms of its group's traces (see
    // `traces`): y(m - D) - r^K y(m - D - K) for G, -K r^K
    // y(m - D - K) for A.
    let group = layout.conn_group[ci]
        .map(|j| &layout.groups[j])
        .ok_or_else(|| internal(&conn.name, "trace group missing"))?;
    let bank = layout
        .bank_of(conn.post)
        .ok_or_else(|| internal(&conn.name, "trace bank missing"))?;
    let rows = layout.banks[bank].rows;
    // The [T, n] terms are a [T, m] coefficient block (zero but
    // at this group's rows) times the [m, n] input at the lags;
    // the bank multiplies all its blocks at once.
    let (m, slots, y) = match events {
        Some((Sums::Lags(sums), m, slots)) => (m, slots, sums),
        Some((Sums::One(sums), _, slots)) => {
            let shape = const_i32(s, "synapse/row", &[1, post_n as i32], &[2])?;
            let row =
                ops::reshape(sums, shape, &mut s.with_op_name("synapse/lag_sums")).map_err(&e)?;
            (1, slots, row)
        }
        None => {
            // y(D) and y(D + K), each from its ring row; with per-synapse
            // delays the keyed rows at each synapse's delay d_s and at
            // d_s + K.
            let event_driven = conn.propagation != Propagation::Dense;
            let mut y: Vec<Output> = Vec::with_capacity(2);
            for (shift, name) in [(0, "synapse_arriving"), (k as usize, "synapse_leaving")] {
                let sums = match conn.synapse_lags {
                    Some(_) => keyed_sums(
                        &mut s.new_sub_scope(name),
                        conn,
                        (pre_state, pre_step),
                        cst,
                        ring,
                        reads,
                        (pre_n, post_n),
                        shift,
                    )?,
                    None => {
                        let lag = conn.delay + shift;
                        let row = ring.row(conn.pre, lag, pre_state, pre_step, reads)?;
                        propagate(s, name, row, &cst.w, event_driven, pre_n, post_n)?
                    }
                };
                y.push(sums.into());
            }
            let pair = ops::Pack::new()
                .axis(0)
                .build_instance(y, &mut s.with_op_name("synapse"))
                .map_err(&e)?
                .op;
            (2, [0, 1], pair)
        }
    };
    let coef = term_coefficients(rows, group, m, slots);
    Ok((bank, (y.into(), coef, m)))
}

/// A connection's input to its postsynaptic nucleus: an `on_pre`
/// increment, or a current into the pulse input.
fn deliver(
    conn: &PlanConnection,
    current: Operation,
    on_pre: &mut [Vec<Increment>],
    currents: &mut [Vec<Output>],
) {
    match &conn.on_pre {
        Some(op) => {
            on_pre[conn.post].push((op.target.clone(), op.coefficient.clone(), current.into()))
        }
        None => currents[conn.post].push(current.into()),
    }
}

/// The input of a connection with per-synapse delays (semantics §1.4): the
/// spike events `(i, k)` at its delays `lags[k]` (this step's spikes for
/// lag 0; for the past lags the spikes the presynaptic nucleus's spike
/// lists hold for step `m - lags[k]`, gathered by their counts, so the
/// cost is the spikes of those steps), each taking row `i (K + 1) + k` of
/// the keyed compressed rows (the synapses of `i` with that delay), summed
/// into the postsynaptic columns like any compressed rows. With `shift`,
/// the events `shift` steps older (at `lags[k] + shift`, the same keys):
/// what leaves a kernel's window of `shift` steps.
#[allow(clippy::too_many_arguments)]
fn keyed_sums(
    s: &mut tensorflow::Scope,
    conn: &PlanConnection,
    (pre, pre_step): (&NucleusState, &NucleusStep),
    cst: &ConnState,
    ring: &mut RingReads,
    reads: &mut Vec<Operation>,
    (pre_n, post_n): (u64, u64),
    shift: usize,
) -> Result<Operation> {
    let lags: Vec<usize> = conn
        .synapse_lags
        .as_deref()
        .ok_or_else(|| internal("per-synapse delays", "no delays"))?
        .iter()
        .map(|&l| l + shift)
        .collect();
    let ev = ring.keyed_events(conn.pre, &lags, pre, pre_step, reads, pre_n)?;
    csr_sums(s, "synapse", &cst.w, Rows::Any(ev.rows), None, None, post_n)
}

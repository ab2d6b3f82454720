//! One copy of the step (semantics §1.3): read, update each population,
//! the connections' inputs, the trace banks, each nucleus's new input, and
//! the writes after every read; then the step counter.

use tensorflow::{ops, DataType, Operation, Output, Scope};

use super::graph::{after, const_f32, const_i32, constant, group, shape, tf_err, Var};
use super::layout::Layout;
use super::models::{finish_model, update_model};
use super::neurons::{update_population, NucleusStep};
use super::noise::{noise_input, UniformOp};
use super::plastic::{finish as finish_plastic, Arriving};
use super::ring::RingReads;
use super::state::{ConnState, NucleusState, TraceBank};
use super::synapses::connection_inputs;
use super::traces::step_bank;
use super::NucleusOps;
use crate::error::Result;
use crate::network::plan::{Plan, PlanInput, PlanNucleus};

/// What every copy of the step reads and writes: the variables and the
/// structure built once.
pub(super) struct GraphState<'a> {
    /// The `step/` namespace: the counter's ops, the ordering no-ops, the
    /// ring rows written.
    pub(super) step_scope: &'a Scope,
    pub(super) step_var: &'a Var,
    pub(super) dt_var: &'a Var,
    pub(super) layout: &'a Layout,
    pub(super) nuclei: &'a [NucleusState],
    pub(super) populations: &'a [Scope],
    pub(super) conns: &'a [ConnState],
    pub(super) banks: &'a [TraceBank],
}

/// Where a copy of the step sits in the chain of a multi-step run.
pub(super) struct Chain<'a> {
    /// The previous copy's writes (none for copy 0).
    pub(super) after: Option<&'a Operation>,
    pub(super) copy: usize,
    /// Copy 0's read of the step counter.
    pub(super) step0: Option<&'a Output>,
    pub(super) last: bool,
}

/// One copy of the step.
pub(super) struct BuiltStep {
    /// The no-op after its writes, for the next copy (none for the last).
    pub(super) done: Option<Operation>,
    /// The target that runs the copies up to this one and advances the
    /// step counter by their number.
    pub(super) target: Operation,
    pub(super) fetches: Vec<NucleusOps>,
    /// The step number this copy computes.
    pub(super) step: Output,
}

/// One copy of the step; every op of it depends on `chain.after` (the
/// previous copy's writes), so the copy reads the state that copy left.
/// Returns the no-op grouping its writes, and its fetches.
pub(super) fn build_step(plan: &Plan, state: &GraphState, chain: Chain) -> Result<BuiltStep> {
    let copy_after = chain.after;
    let layout = state.layout;
    let mut reads: Vec<Operation> = Vec::new();
    let mut rs = after(state.step_scope, copy_after);
    // The step counter is read once per run (copy 0); copy j takes m + j.
    let step_read: Output = match chain.step0 {
        None => {
            let read = state.step_var.read_in(&mut rs, "read")?;
            reads.push(read.clone());
            read.into()
        }
        Some(m) => {
            let j = constant(chain.copy as i64, &mut rs.with_op_name("copy"))
                .map_err(tf_err("step"))?;
            ops::add(m.clone(), j, &mut rs.with_op_name("now"))
                .map_err(tf_err("step"))?
                .into()
        }
    };

    let dt_read = state.dt_var.read_in(&mut rs, "dt/read")?;
    reads.push(dt_read.clone());
    let dt_read: Output = dt_read.into();
    // 1-5 per population: the nuclei of one device as one vector.
    let mut steps: Vec<Option<NucleusStep>> = plan.nuclei.iter().map(|_| None).collect();
    for (members, scope) in layout.populations.iter().zip(state.populations) {
        let updated = match members[..] {
            [k] if plan.nuclei[k].model.is_some() => vec![update_model(
                scope,
                k,
                plan,
                state.nuclei,
                &step_read,
                copy_after,
                &mut reads,
            )?],
            _ => update_population(
                scope,
                members,
                plan,
                state.nuclei,
                &dt_read,
                copy_after,
                &mut reads,
            )?,
        };
        for (&k, st) in members.iter().zip(updated) {
            steps[k] = Some(st);
        }
    }
    let mut steps: Vec<NucleusStep> = steps
        .into_iter()
        .enumerate()
        .map(|(k, st)| {
            st.ok_or_else(|| crate::Error::Internal {
                context: "building the graph".into(),
                message: format!("nucleus {k} in no population"),
            })
        })
        .collect::<Result<_>>()?;

    // 6. synapses, then the kernel traces of each nucleus.
    let mut ring = RingReads {
        step: &step_read,
        after: copy_after,
        index: std::collections::HashMap::new(),
        rows: std::collections::HashMap::new(),
        events: std::collections::HashMap::new(),
        keyed: std::collections::HashMap::new(),
    };
    let inputs = connection_inputs(
        plan,
        layout,
        state.nuclei,
        &steps,
        state.conns,
        &mut ring,
        copy_after,
        &mut reads,
    )?;
    let mut currents = inputs.currents;
    // Models written as equations: on_pre increments, reset.
    for (k, increments) in inputs.on_pre.into_iter().enumerate() {
        let scope = after(&state.nuclei[k].scope, copy_after);
        let to_pulse = finish_model(&scope, &plan.nuclei[k], &mut steps[k], increments)?;
        currents[k].extend(to_pulse);
    }
    let mut trace_writes = Vec::new();
    for ((bank, var), terms) in layout.banks.iter().zip(state.banks).zip(inputs.bank_terms) {
        let n = plan.nuclei[bank.post].n;
        let stepped = step_bank(bank, var, n, terms, copy_after, &mut reads)?;
        currents[bank.post].push(stepped.current);
        trace_writes.push((var.var.handle.clone(), stepped.new, stepped.write_scope));
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
    // Synapses with state: rows, on_post, columns and traces written.
    for (ci, pending) in inputs.plastic {
        let conn = &plan.connections[ci];
        if let (Some(model), Some(ps)) = (&conn.synapses, &state.conns[ci].plastic) {
            let fired = Arriving::Indices(steps[conn.post].spike_index.clone());
            finish_plastic(pending, model, ps, fired, &reads_done, &mut writes)?;
        }
    }
    let mut fetches = Vec::with_capacity(plan.nuclei.len());
    for (idx, ((nu, st), g)) in plan.nuclei.iter().zip(state.nuclei).zip(&steps).enumerate() {
        let synaptic = std::mem::take(&mut currents[idx]);
        let out = NucleusOutputs {
            nu,
            st,
            g,
            step_read: &step_read,
            copy_after,
            reads_done: &reads_done,
        };
        fetches.push(out.build(state.step_scope, synaptic, &mut ring, &mut writes)?);
    }
    // The next copy runs after this one's writes; a run ending with this
    // copy also advances the counter by the copies it ran (after copy 0's
    // read of it, on which every copy's reads depend).
    let done = if chain.last {
        None
    } else {
        Some(group(&mut rs, "copy_done", writes.clone())?)
    };
    let by = constant(chain.copy as i64 + 1, &mut rs.with_op_name("by")).map_err(tf_err("step"))?;
    writes.push(
        ops::AssignAddVariableOp::new()
            .dtype(DataType::Int64)
            .build(
                state.step_var.handle.clone(),
                by,
                &mut rs
                    .with_control_dependencies(&[reads_done])
                    .with_op_name("increment"),
            )
            .map_err(tf_err("step"))?,
    );
    let target = group(&mut rs, "run", writes)?;
    Ok(BuiltStep {
        done,
        target,
        fetches,
        step: step_read,
    })
}

/// A nucleus's end of one copy of the step: its input for the next step
/// (7), its writes (8), and what runs record and check.
struct NucleusOutputs<'a> {
    nu: &'a PlanNucleus,
    st: &'a NucleusState,
    g: &'a NucleusStep,
    step_read: &'a Output,
    copy_after: Option<&'a Operation>,
    reads_done: &'a Operation,
}

impl NucleusOutputs<'_> {
    fn build(
        &self,
        step_scope: &Scope,
        synaptic: Vec<Output>,
        ring: &mut RingReads,
        writes: &mut Vec<Operation>,
    ) -> Result<NucleusOps> {
        let (nu, st, g) = (self.nu, self.st, self.g);
        let e = tf_err(&nu.label);
        let scope = after(&st.scope, self.copy_after);
        let (i_new, host_input) = self.input(&scope, synaptic)?;
        let w = scope
            .new_sub_scope("write")
            .with_control_dependencies(std::slice::from_ref(self.reads_done));
        let pulse = st.pulse.map(|k| (st.vars[k].0.clone(), i_new.clone()));
        for (name, value) in g.new.iter().chain(&pulse) {
            writes.push(
                ops::AssignVariableOp::new()
                    .dtype(DataType::Float)
                    .build(
                        st.var(name)?.handle.clone(),
                        value.clone(),
                        &mut w.with_op_name(name),
                    )
                    .map_err(&e)?,
            );
        }
        // A model's last spike steps: this step's number at its spikes.
        if let Some(var) = &st.last {
            writes.push(
                ops::resource_scatter_update(
                    var.handle.clone(),
                    g.spike_index.clone(),
                    self.step_read.clone(),
                    &mut w.with_op_name("lastspike"),
                )
                .map_err(&e)?,
            );
        }
        // This step's spike indices into slot `step mod L` of the spike
        // lists, and their number.
        if let Some(list) = &st.list {
            let slot = ring.write_index(step_scope, list.len)?;
            writes.extend(write_list(&w, list, &g.spike_index, slot, nu.n as u64)?);
        }
        // This step's spikes into their ring row, `step mod L`.
        if let Some(hist) = &st.hist {
            let at = ring.write_index(step_scope, st.ring)?;
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
        self.record(&scope, i_new, host_input)
    }

    /// `I = Iext(t) + Σ I_syn`: one `AddN` over the external and every
    /// synaptic input (scope `X/input`); with the host input's placeholder.
    fn input(&self, scope: &Scope, synaptic: Vec<Output>) -> Result<(Output, Option<Operation>)> {
        let nu = self.nu;
        let n = nu.n as u64;
        let e = tf_err(&nu.label);
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
                let by = UniformOp::of(nu);
                noise_input(&mut s, n, self.step_read, (*mean, *std, *seed), &by)?
            }
        };
        let mut terms = vec![iext];
        terms.extend(synaptic);
        let i_new: Output = if terms.len() == 1 {
            ops::identity(terms.remove(0), &mut s.with_op_name("I")).map_err(&e)?
        } else {
            ops::AddN::new()
                .build_instance(terms, &mut s.with_op_name("I"))
                .map_err(&e)?
                .op
        }
        .into();
        Ok((i_new, host_input))
    }

    /// The fetches of scope `X/record`: spike indices, recorded neurons'
    /// values, the is-finite check; and `X/inspect`, the variables' reads.
    fn record(
        &self,
        scope: &Scope,
        i_new: Output,
        host_input: Option<Operation>,
    ) -> Result<NucleusOps> {
        let (nu, st, g) = (self.nu, self.st, self.g);
        let e = tf_err(&nu.label);
        let mut r = scope.new_sub_scope("record");
        let spikes = g.spike_index.clone();
        let mut traces = Vec::new();
        let pulse = st.pulse.map(|k| (st.vars[k].0.clone(), i_new.clone()));
        let after_step: Vec<&(String, Output)> = g.new.iter().chain(&pulse).collect();
        for (var, idx_list) in &nu.traces {
            let value = after_step
                .iter()
                .find(|(n, _)| n == var)
                .map(|(_, v)| v.clone())
                .ok_or_else(|| crate::Error::Internal {
                    context: format!("recording nucleus {:?}", nu.label),
                    message: format!("no variable {var}"),
                })?;
            let all = idx_list.len() == nu.n && idx_list.iter().enumerate().all(|(a, &b)| a == b);
            let op = if all {
                ops::identity(value, &mut r.with_op_name(var)).map_err(&e)?
            } else {
                let ids: Vec<i32> = idx_list.iter().map(|&i| i as i32).collect();
                let name = format!("{var}_neurons");
                let ids = const_i32(&mut r, &name, &ids, &[ids.len() as u64])?;
                ops::gather(value, ids, &mut r.with_op_name(var)).map_err(&e)?
            };
            traces.push((var.clone(), op));
        }
        // Divergence check: one is-finite reduction over the new state.
        let values: Vec<Output> = after_step.iter().map(|(_, v)| v.clone()).collect();
        let all_new: Output = match &values[..] {
            // No state (a Poisson group): nothing can diverge.
            [] => constant(&[0.0f32][..], &mut r.with_op_name("state"))
                .map_err(&e)?
                .into(),
            // One variable (a model with one state variable and no pulse
            // input): ConcatV2 takes two or more.
            [one] => one.clone(),
            _ => ops::ConcatV2::new()
                .build_instance(
                    values,
                    constant(0i32, &mut r.with_op_name("state_axis"))
                        .map_err(&e)?
                        .into(),
                    &mut r.with_op_name("state"),
                )
                .map_err(&e)?
                .op
                .into(),
        };
        let is_finite = ops::is_finite(all_new, &mut r.with_op_name("is_finite")).map_err(&e)?;
        let finite = ops::all(
            is_finite,
            constant(0i32, &mut r.with_op_name("finite_axis")).map_err(&e)?,
            &mut r.with_op_name("finite"),
        )
        .map_err(&e)?;
        let inspect = st.scope.new_sub_scope("inspect");
        let mut state = Vec::with_capacity(st.vars.len());
        for (var, v) in &st.vars {
            let read = ops::ReadVariableOp::new()
                .dtype(DataType::Float)
                .build(v.handle.clone(), &mut inspect.with_op_name(var))
                .map_err(&e)?;
            state.push((var.clone(), read));
        }
        Ok(NucleusOps {
            spikes,
            traces,
            host_input,
            finite,
            state,
        })
    }
}

/// The writes of a nucleus's spike lists (`SpikeList`): the `k` spike
/// indices at `slot n .. slot n + k` and `k` at `slot` (`m mod L`, the
/// ring index of that length).
fn write_list(
    w: &Scope,
    list: &super::state::SpikeList,
    spike_index: &Output,
    slot: Operation,
    n: u64,
) -> Result<[Operation; 2]> {
    let e = tf_err("spike lists");
    let mut s = w.new_sub_scope("spike_list");
    let flat = const_i32(&mut s, "flat", &[-1], &[1])?;
    let ids = ops::reshape(spike_index.clone(), flat, &mut s.with_op_name("ids")).map_err(&e)?;
    let k = ops::Size::new()
        .out_type(DataType::Int64)
        .build(ids.clone(), &mut s.with_op_name("count"))
        .map_err(&e)?;
    let (zero, one) = (
        constant(0i64, &mut s.with_op_name("zero")).map_err(&e)?,
        constant(1i64, &mut s.with_op_name("one")).map_err(&e)?,
    );
    let at = ops::range(zero, k.clone(), one, &mut s.with_op_name("at")).map_err(&e)?;
    let n = constant(n as i64, &mut s.with_op_name("n")).map_err(&e)?;
    let base = ops::mul(slot.clone(), n, &mut s.with_op_name("base")).map_err(&e)?;
    let at = ops::add(at, base, &mut s.with_op_name("positions")).map_err(&e)?;
    let ids32 = ops::Cast::new()
        .DstT(DataType::Int32)
        .build(ids, &mut s.with_op_name("ids32"))
        .map_err(&e)?;
    let write_ids = ops::resource_scatter_update(
        list.ids.handle.clone(),
        at,
        ids32,
        &mut s.with_op_name("write"),
    )
    .map_err(&e)?;
    let one_dim = const_i32(&mut s, "one_dim", &[1], &[1])?;
    let slot1 = ops::reshape(slot, one_dim.clone(), &mut s.with_op_name("slot1")).map_err(&e)?;
    let k1 = ops::reshape(k, one_dim, &mut s.with_op_name("count1")).map_err(&e)?;
    let write_count = ops::resource_scatter_update(
        list.counts.handle.clone(),
        slot1,
        k1,
        &mut s.with_op_name("write_count"),
    )
    .map_err(&e)?;
    Ok([write_ids, write_count])
}

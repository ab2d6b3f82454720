//! Steps of semantics §3 for a nucleus whose model is written as
//! equations (a population of its own): [`update_model`] reads its
//! variables, turns the lowered model's bindings into ops ([`super::expr`])
//! and applies the threshold where the neuron may fire; after the synapses,
//! [`finish_model`] adds the `on_pre` increments, resets, and keeps each
//! neuron's last spike step.

use tensorflow::{ops, DataType, Operation, Output, Scope};

use super::expr::{Draws, Emitter};
use super::graph::{
    after, const_f32, const_i32, constant, known_shape, scalar_f32, select, tf_err,
};
use super::neurons::NucleusStep;
use super::state::NucleusState;
use crate::error::Result;
use crate::network::plan::Plan;

/// What the end of a model nucleus's step needs (after the synapses): the
/// spike condition, the names its expressions read besides the state, and
/// the refractory bookkeeping.
pub(super) struct ModelStep {
    /// This step's spikes (bool `[n]`).
    pub(super) fired: Output,
    /// Parameters, pulse inputs and `t`, by name.
    pub(super) env: Vec<(String, Output)>,
    /// `rand()` and `randn()` of the threshold and the reset.
    pub(super) draws: Draws,
}

/// Steps 1 and 2 of semantics §3 for nucleus `k`, whose model is written as
/// equations: every variable read, one step of the model's method, the
/// threshold on the new state for neurons that are not refractory. The
/// synapses' `on_pre` statements, the reset and the new last-spike steps
/// follow in [`finish_model`].
#[allow(clippy::too_many_arguments)]
pub(super) fn update_model(
    pop_scope: &Scope,
    k: usize,
    plan: &Plan,
    nuclei: &[NucleusState],
    step: &Output,
    copy_after: Option<&Operation>,
    reads: &mut Vec<Operation>,
) -> Result<NucleusStep> {
    let nu = &plan.nuclei[k];
    let st = &nuclei[k];
    let Some(model) = &nu.model else {
        return Err(crate::Error::Internal {
            context: format!("building nucleus {:?}", nu.label),
            message: "no model".into(),
        });
    };
    let e = tf_err(&nu.label);
    let mut ns = after(&st.scope, copy_after);
    let mut env: Vec<(String, Output)> = Vec::new();
    for (name, var) in &st.vars {
        let read = var.read_in(&mut ns, &format!("read/{name}"))?;
        reads.push(read.clone());
        env.push((name.clone(), read.into()));
    }
    let mut s = after(pop_scope, copy_after).new_sub_scope("update");
    let n = nu.n as u64;
    for (name, values) in &model.params {
        let values: Vec<f32> = values.iter().map(|&x| x as f32).collect();
        env.push((name.clone(), const_f32(&mut s, name, &values, &[n])?.into()));
    }
    let m_f = ops::Cast::new()
        .DstT(DataType::Float)
        .build(step.clone(), &mut s.with_op_name("step"))
        .map_err(&e)?;
    let dt = scalar_f32(&mut s, "dt", plan.dt as f32)?;
    env.push((
        "t".into(),
        ops::mul(m_f, dt, &mut s.with_op_name("t"))
            .map_err(&e)?
            .into(),
    ));
    let (active, may_fire) = refractoriness(st, model, step, &mut ns, &mut s, reads)?;
    env.push(("__active".into(), active));
    // `randn()` of white noise (bound first, by the method), then of the
    // threshold and the reset: one key per call (docs/semantics.md §3.5).
    let draws = Draws {
        n,
        step: step.clone(),
        seed: model.draw_seed as i64,
        next: std::cell::Cell::new(0),
        by: super::noise::UniformOp::of(nu),
    };
    // The method's bindings, in order.
    let mut bound: Vec<(String, Output)> = Vec::with_capacity(model.bindings.len());
    for (name, expr) in &model.bindings {
        let value = {
            let lookup = |x: &str| {
                bound
                    .iter()
                    .rev()
                    .chain(env.iter())
                    .find(|(n, _)| n == x)
                    .map(|(_, o)| o.clone())
            };
            let mut em = Emitter {
                scope: s.new_sub_scope(name),
                env: &lookup,
                model: &model.model,
                draws: Some(&draws),
            };
            em.float(expr)?
        };
        bound.push((name.clone(), value));
    }
    let mut new = Vec::with_capacity(model.state.len());
    for (i, x) in model.state.iter().enumerate() {
        let value = match &model.next[i] {
            Some(b) => bound.iter().find(|(n, _)| n == b).map(|(_, o)| o.clone()),
            None => env.iter().find(|(n, _)| n == x).map(|(_, o)| o.clone()),
        }
        .ok_or_else(|| crate::Error::Internal {
            context: format!("building nucleus {:?}", nu.label),
            message: format!("no new value of {x}"),
        })?;
        new.push((x.clone(), value));
    }
    // The threshold on the new state, for neurons that may fire.
    let mut ts = after(&st.scope, copy_after).new_sub_scope("threshold");
    let cond = {
        let lookup = |x: &str| find(&new, &env, x);
        let mut em = Emitter {
            scope: ts.new_sub_scope("condition"),
            env: &lookup,
            model: &model.model,
            draws: Some(&draws),
        };
        em.condition(&model.threshold)?
    };
    // A threshold that reads no value per neuron (constants: `1 < 0`, no
    // threshold at all; or only the time and scalar parameters: `t > 50`)
    // is one value: one per neuron.
    let cond: Output = if known_shape(&ts, &cond) != Some(vec![n as i64]) {
        let dims = const_i32(&mut ts, "neurons", &[n as i32], &[1])?;
        ops::broadcast_to(cond, dims, &mut ts.with_op_name("every_neuron"))
            .map_err(&e)?
            .into()
    } else {
        cond
    };
    let fired: Output = match &may_fire {
        Some(may_fire) => ops::logical_and(cond, may_fire.clone(), &mut ts.with_op_name("fired"))
            .map_err(&e)?
            .into(),
        None => ops::identity(cond, &mut ts.with_op_name("fired"))
            .map_err(&e)?
            .into(),
    };
    let spikes: Output = ops::Cast::new()
        .DstT(DataType::Float)
        .build(fired.clone(), &mut ts.with_op_name("spikes"))
        .map_err(&e)?
        .into();
    let spike_index =
        ops::where_(fired.clone(), &mut ts.with_op_name("spike_index")).map_err(&e)?;
    let new_row = ops::reshape(
        spikes.clone(),
        const_i32(&mut ts, "row_shape", &[1, nu.n as i32], &[2])?,
        &mut ts.with_op_name("row"),
    )
    .map_err(&e)?;
    // Everything but the state: what on_pre and reset expressions read.
    env.retain(|(n, _)| !model.state.contains(n));
    Ok(NucleusStep {
        new,
        spike_index: spike_index.into(),
        spikes,
        new_row,
        model: Some(ModelStep { fired, env, draws }),
    })
}

/// The output named `x` among `first`, then `then`.
fn find(first: &[(String, Output)], then: &[(String, Output)], x: &str) -> Option<Output> {
    first
        .iter()
        .chain(then)
        .find(|(n, _)| n == x)
        .map(|(_, o)| o.clone())
}

/// Refractoriness from each neuron's last spike step `last`: a neuron is
/// refractory at step `m` while `m - last < R` (while `t < t_spike +
/// refractory`, docs/semantics.md §3.2), and then neither updates its
/// *unless refractory* variables nor fires. Returns whether it is active
/// (bool `[n]`) and, with a refractory period, the same as the condition
/// of firing. With one period for every neuron that is one comparison of
/// `last` with a scalar (`last <= m - R`), no subtraction per neuron.
fn refractoriness(
    st: &NucleusState,
    model: &crate::equations::Lowered,
    step: &Output,
    ns: &mut Scope,
    s: &mut Scope,
    reads: &mut Vec<Operation>,
) -> Result<(Output, Option<Operation>)> {
    let (Some(var), Some(r)) = (&st.last, &model.refractory) else {
        let always =
            constant(true, &mut s.with_op_name("always_active")).map_err(tf_err(&model.model))?;
        return Ok((always.into(), None));
    };
    let e = tf_err(&model.model);
    let last = var.read_in(ns, "read/lastspike")?;
    reads.push(last.clone());
    let active = if let [r] = r[..] {
        // The latest last-spike step that leaves a neuron active now.
        let r = constant(r as i64, &mut s.with_op_name("refractory_steps")).map_err(&e)?;
        let until = ops::sub(step.clone(), r, &mut s.with_op_name("active_until")).map_err(&e)?;
        ops::less_equal(last, until, &mut s.with_op_name("active")).map_err(&e)?
    } else {
        let r: Vec<i64> = r.iter().map(|&x| x as i64).collect();
        let r = tensorflow::Tensor::new(&[model.n as u64])
            .with_values(&r)
            .map_err(&e)?;
        let r = constant(r, &mut s.with_op_name("refractory_steps")).map_err(&e)?;
        let since = ops::sub(step.clone(), last, &mut s.with_op_name("since_spike")).map_err(&e)?;
        ops::greater_equal(since, r, &mut s.with_op_name("active")).map_err(&e)?
    };
    Ok((active.clone().into(), Some(active)))
}

/// Steps 3 and 4 of semantics §3 for a model nucleus: each arriving spike's
/// `on_pre` increment (`coefficient(post state) · Σ w` per connection, in
/// connection order), then the reset statements in order for the neurons
/// that fired (their new last-spike step is written by the step's writes,
/// at the spike indices). Returns the increments of pulse inputs (which
/// join the next step's input).
pub(super) fn finish_model(
    scope: &Scope,
    nu: &crate::network::plan::PlanNucleus,
    step: &mut NucleusStep,
    increments: Vec<super::synapses::Increment>,
) -> Result<Vec<Output>> {
    let (Some(model), Some(ms)) = (&nu.model, &step.model) else {
        return Ok(Vec::new());
    };
    let mut to_pulse = Vec::new();
    let e = tf_err(&nu.label);
    // The updated values of the variables that are read-only while
    // refractory, before the synapses and Poisson inputs touch them.
    let before: Vec<Option<Output>> = match model.refractory {
        Some(_) => step
            .new
            .iter()
            .zip(&model.held)
            .map(|((_, o), &held)| held.then(|| o.clone()))
            .collect(),
        None => Vec::new(),
    };
    let mut touched = vec![false; step.new.len()];
    let mut s = scope.new_sub_scope("on_pre");
    for (j, (target, coefficient, y)) in increments.into_iter().enumerate() {
        let k = step.new.iter().position(|(n, _)| *n == target);
        if let Some(k) = k {
            touched[k] = true;
        }
        // `x += w`: the sum itself; else the coefficient times it.
        let inc: Output = if matches!(coefficient, crate::single::expr::Expr::Num(c) if c == 1.0) {
            y
        } else {
            let lookup = |x: &str| find(&step.new, &ms.env, x);
            let mut em = Emitter {
                scope: s.new_sub_scope(&format!("coefficient{j}")),
                env: &lookup,
                model: &model.model,
                draws: None,
            };
            let c = em.float(&coefficient)?;
            ops::mul(c, y, &mut s).map_err(&e)?.into()
        };
        match k {
            Some(k) => {
                let x = ops::add(step.new[k].1.clone(), inc, &mut s.with_op_name(&target))
                    .map_err(&e)?;
                step.new[k].1 = x.into();
            }
            // A pulse input: part of the next step's input.
            None => to_pulse.push(inc),
        }
    }
    // Poisson inputs (after the on_pre increments, before the reset).
    for (j, input) in model.poisson_inputs.iter().enumerate() {
        let inc = poisson_events(scope, j, input, nu.n as u64, &ms.draws)?;
        match step.new.iter().position(|(n, _)| *n == input.target) {
            Some(k) => {
                touched[k] = true;
                let x = ops::add(
                    step.new[k].1.clone(),
                    inc,
                    &mut scope.with_op_name(&format!("poisson_input{j}/into_{}", input.target)),
                )
                .map_err(&e)?;
                step.new[k].1 = x.into();
            }
            None => to_pulse.push(inc),
        }
    }
    // Brian2's read-only rule: what arrives at a neuron that is refractory
    // (or spiked in this step) leaves its unless-refractory variables alone.
    let held: Vec<usize> = (0..step.new.len())
        .filter(|&k| touched[k] && before.get(k).is_some_and(|b| b.is_some()))
        .collect();
    if !held.is_empty() {
        let h = scope.new_sub_scope("refractory_inputs");
        let active = find(&[], &ms.env, "__active").ok_or_else(|| crate::Error::Internal {
            context: format!("building nucleus {:?}", nu.label),
            message: "no __active".into(),
        })?;
        let quiet =
            ops::logical_not(ms.fired.clone(), &mut h.with_op_name("not_fired")).map_err(&e)?;
        let writable: Output = ops::logical_and(active, quiet, &mut h.with_op_name("writable"))
            .map_err(&e)?
            .into();
        for k in held {
            let (name, new) = step.new[k].clone();
            let old = before[k].clone().unwrap_or_else(|| new.clone());
            step.new[k].1 = select(&mut h.with_op_name(&name), writable.clone(), new, old)?;
        }
    }
    let r = scope.new_sub_scope("reset");
    for (i, expr) in &model.reset {
        let value = {
            let lookup = |x: &str| find(&step.new, &ms.env, x);
            let mut em = Emitter {
                scope: r.new_sub_scope(&model.state[*i]),
                env: &lookup,
                model: &model.model,
                draws: Some(&ms.draws),
            };
            em.float(expr)?
        };
        let old = step.new[*i].1.clone();
        let name = model.state[*i].clone();
        step.new[*i].1 = select(&mut r.with_op_name(&name), ms.fired.clone(), value, old)?;
    }
    Ok(to_pulse)
}

/// Poisson input `j`'s increment in this step: `weight · k` per neuron,
/// `k ~ Binomial(n, p)` by inversion: one float64 uniform draw per neuron
/// (keyed by the next call's key of `draws`) counted against the lowered
/// table of the cumulative distribution (`UpperBound`), so the cost is
/// one draw and a binary search however large `n p` is
/// (docs/semantics.md §3.5).
fn poisson_events(
    scope: &Scope,
    j: usize,
    input: &crate::equations::PoissonInput,
    n: u64,
    draws: &Draws,
) -> Result<Output> {
    let mut s = scope.new_sub_scope(&format!("poisson_input{j}"));
    let e = tf_err("Poisson input");
    let index = draws.next.get();
    draws.next.set(index + 1);
    let key = super::noise::step_key(&mut s, &draws.step, draws.seed.wrapping_add(index))?;
    let shape = const_i32(&mut s, "shape", &[1, n as i32], &[2])?;
    let u = ops::StatelessRandomUniform::new()
        .dtype(DataType::Double)
        .build(shape, key, &mut s.with_op_name("uniform"))
        .map_err(&e)?;
    let k = input.cdf.len() as u64;
    let table = tensorflow::Tensor::new(&[1, k])
        .with_values(&input.cdf)
        .map_err(&e)?;
    let table = constant(table, &mut s.with_op_name("cdf")).map_err(&e)?;
    let count = ops::UpperBound::new()
        .out_type(DataType::Int32)
        .build(table, u, &mut s.with_op_name("inverted"))
        .map_err(&e)?;
    let flat = const_i32(&mut s, "flat", &[n as i32], &[1])?;
    let count = ops::reshape(count, flat, &mut s.with_op_name("per_neuron")).map_err(&e)?;
    let events: Output = ops::Cast::new()
        .DstT(DataType::Float)
        .build(count, &mut s.with_op_name("events"))
        .map_err(&e)?
        .into();
    if input.weight == 1.0 {
        return Ok(events);
    }
    let w = scalar_f32(&mut s, "weight", input.weight as f32)?;
    Ok(ops::mul(events, w, &mut s.with_op_name("increment"))
        .map_err(&e)?
        .into())
}

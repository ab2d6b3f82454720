//! One connection of a network planned: delays and kernel windows in
//! steps, the kernel sampled, the weights laid out (dense or compressed
//! rows, the subgroups' block, keyed by delay), its synapse model and
//! `on_pre` lowered.

use super::weights::{embed, plan_weights};
use super::{
    check_size, delays, kernel_form, models, runs_on_cpu, steps, takes_events, KernelForm,
    OwnBlock, PlanConnection, PlanWeights, RoundingNote, WeightLayout,
};
use crate::equations::Lowered;
use crate::error::{Error, Result};
use crate::network::model::{Network, Propagation, Weights};

/// Connection `ci` of `net` with its weights `user_weights` (taken out of
/// the network, so that each matrix is freed once converted); `models`:
/// each nucleus's lowered model; `(dt, limit, native)` as
/// [`Plan::new`](super::Plan::new) takes them.
pub(super) fn plan(
    net: &Network,
    ci: usize,
    user_weights: Weights,
    models: &[Option<Lowered>],
    (dt, limit, native): (f64, u64, bool),
    rounded: &mut Vec<RoundingNote>,
) -> Result<PlanConnection> {
    let c = &net.connections[ci];
    let name = net.conn_name(c);
    // The weights are the subgroups' (the whole nuclei's unless a
    // connection names a range), embedded in the nuclei's below.
    let (pre_all, post_all) = (net.nuclei[c.pre.id.index].n, net.nuclei[c.post.id.index].n);
    let (pre_range, post_range) = (c.pre.neurons(pre_all), c.post.neurons(post_all));
    let (pre_n, post_n) = (pre_range.len(), post_range.len());
    let mut delay = steps(c.delay_ms, dt, "delay", &name, c.round, rounded)?;
    if c.delays.is_some() {
        delays::allowed(c, &user_weights, &name)?;
    }
    let kernel64: Vec<f64> = match &c.kernel {
        None => vec![1.0],
        Some((f, window)) => {
            let k = steps(*window, dt, "window", &name, c.round, rounded)?.max(1);
            check_size(
                || format!("the kernel window of connection {name} ({k} steps of f64)"),
                k as u64,
                8,
                limit,
                "a shorter window (howfar), or a larger dt",
            )?;
            (0..k)
                .map(|i| {
                    let lag = i as f64 * dt;
                    let value = f(lag);
                    if value.is_finite() {
                        Ok(value)
                    } else {
                        Err(Error::KernelValue {
                            connection: name.clone(),
                            lag_ms: lag,
                            value,
                        })
                    }
                })
                .collect::<Result<Vec<f64>>>()?
        }
    };
    let form = kernel_form(&kernel64);
    if c.delays.is_some() {
        delays::kernel(form, &name)?;
    }
    let kernel: Vec<f32> = kernel64.iter().map(|&x| x as f32).collect();
    // Per-synapse delays need compressed rows, taken event-driven.
    let propagation = match c.delays {
        Some(_) => Propagation::EventDriven,
        None => c.propagation,
    };
    let on_cpu = [c.pre.id.index, c.post.id.index]
        .iter()
        .all(|&k| runs_on_cpu(net.nuclei[k].device.as_deref()));
    // The layout does not depend on it: a checkpoint moves between
    // this build, a portable one and a cluster's.
    let snn_sums = native && on_cpu && c.synapses.is_none() && !matches!(form, KernelForm::General);
    let (weights, mut layout) =
        plan_weights(user_weights, pre_n, post_n, &name, propagation, limit)?;
    if c.delays.is_some() {
        layout.reason = "per-synapse delays: compressed rows, event-driven";
    }
    layout.snn_kernel = snn_sums && layout.layout == WeightLayout::Sparse;
    // Dense rows taken by events between subgroups keep only the
    // subgroups' block (`OwnBlock`): Brunel (2000)'s two
    // connections from the subgroups of one nucleus hold their own
    // rows, not the whole nucleus's each.
    let dense = matches!(weights, PlanWeights::Dense(_));
    let events = takes_events(
        form,
        propagation,
        !dense,
        c.synapses.is_some(),
        c.delays.is_some(),
    );
    let part = |r: &std::ops::Range<usize>, all| match *r != (0..all) {
        true => Some((r.start, r.len())),
        false => None,
    };
    let own = match (
        dense && events,
        part(&pre_range, pre_all),
        part(&post_range, post_all),
    ) {
        (true, rows, cols) if rows.is_some() || cols.is_some() => Some(OwnBlock {
            rows,
            cols,
            pre_all,
            post_all,
        }),
        _ => None,
    };
    let weights = embed(
        weights,
        (pre_range, pre_all),
        (post_range, post_all),
        own,
        &name,
        limit,
    )?;
    let (weights, synapse_lags) = match &c.delays {
        None => (weights, None),
        Some(d) => {
            let nnz = match &weights {
                PlanWeights::Csr { w, .. } => w.len(),
                PlanWeights::Dense(_) => 0,
            };
            let s = delays::synapse_steps(d, nnz, dt, &name, c.round, rounded)?;
            let traces = match form {
                KernelForm::Exponential { .. } | KernelForm::Alpha { .. } => kernel.len(),
                _ => 0,
            };
            let (keyed, lags) = delays::keyed(weights, &s, (&name, traces), limit)?;
            drop(s);
            // Its past spikes come from the spike lists, not the
            // ring of rows (`compile::state::SpikeList`).
            delay = 0;
            (keyed, Some(lags))
        }
    };
    let post_model = models[c.post.id.index].as_ref();
    let synapses = models::synapses(c, &name, post_model, dt)?;
    if let (Some(model), Some(lags)) = (&synapses, &synapse_lags) {
        delays::check_past(model, lags, pre_all as u64, &name, limit)?;
    }
    let on_pre = match synapses {
        Some(_) => None,
        None => models::on_pre(c, &name, post_model)?,
    };
    let snapshot_every = match c.snapshot_ms {
        None => None,
        Some(ms) if ms > 0.0 => {
            Some(steps(ms, dt, "weight snapshot period", &name, c.round, rounded)?.max(1))
        }
        Some(ms) => {
            return Err(Error::InvalidModel {
                message: format!(
                    "connection {name}: record_weights({ms}) needs a positive period in ms"
                ),
            })
        }
    };
    Ok(PlanConnection {
        on_pre,
        synapses,
        snapshot_every,
        name,
        pre: c.pre.id.index,
        post: c.post.id.index,
        delay,
        kernel,
        weights,
        propagation,
        layout,
        form,
        synapse_lags,
        own,
        snn_sums,
    })
}

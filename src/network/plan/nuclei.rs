//! The nuclei of a network planned: inputs and parameters as per-neuron
//! `f32` vectors (checked finite), recordings resolved, the length of each
//! nucleus's spike history (checked against the memory limit).

use super::{
    add_trace, check_size, finite, param, runs_on_cpu, KernelForm, PlanConnection, PlanInput,
    PlanNucleus,
};
use crate::equations::Lowered;
use crate::error::{Error, Result};
use crate::network::model::{Input, Nucleus, StateVar};

/// The nuclei `nuclei` (taken over: their inputs move into the plan) with
/// their lowered `models` (taken) and the planned `connections`.
pub(super) fn plan(
    nuclei_in: Vec<Nucleus>,
    models: &mut [Option<Lowered>],
    connections: &[PlanConnection],
    (limit, native): (u64, bool),
) -> Result<Vec<PlanNucleus>> {
    let mut nuclei = Vec::with_capacity(nuclei_in.len());
    for (idx, mut nu) in nuclei_in.into_iter().enumerate() {
        let model_traces = match &models[idx] {
            Some(model) => super::models::traces(&nu, model)?,
            None => Vec::new(),
        };
        let label = nu.label.clone();
        let n = nu.n;
        let input = match std::mem::replace(&mut nu.input, Input::Constant(0.0)) {
            Input::Constant(x) => PlanInput::Const(vec![
                finite(x, || format!(
                    "external input of nucleus {label:?}"
                ))?;
                n
            ]),
            Input::PerNeuron(v) => {
                if v.len() != n {
                    return Err(Error::WrongLength {
                        nucleus: label,
                        what: "external input".into(),
                        expected: n,
                        got: v.len(),
                    });
                }
                PlanInput::Const(
                    v.iter()
                        .enumerate()
                        .map(|(i, x)| {
                            finite(*x, || {
                                format!("external input of nucleus {label:?}, neuron {i}")
                            })
                        })
                        .collect::<Result<_>>()?,
                )
            }
            Input::Function(f) => PlanInput::Host(f),
            Input::Noise { mean, std, seed } => PlanInput::Noise {
                mean: finite(mean, || format!("noise mean of nucleus {label:?}"))?,
                std: finite(std, || format!("noise std of nucleus {label:?}"))?,
                seed,
            },
        };
        let mut traces: Vec<(String, Vec<usize>)> = Vec::new();
        let probes = StateVar::ALL
            .into_iter()
            .map(|var| (var.name().to_string(), nu.record.probe(var)))
            .chain(nu.record.named.iter().map(|(v, p)| (v.clone(), p)))
            // A model nucleus's recording is planned with its model.
            .filter(|_| models[idx].is_none());
        for (var, probe) in probes {
            let idx_list = probe.indices(n);
            if let Some(&bad) = idx_list.iter().find(|&&i| i >= n) {
                return Err(Error::RecordIndex {
                    nucleus: label,
                    variable: var,
                    index: bad,
                    n,
                });
            }
            if !StateVar::ALL.iter().any(|s| s.name() == var) {
                return Err(Error::InvalidModel {
                    message: format!(
                        "recording {var:?} of nucleus {label:?}: an Izhikevich nucleus has v, u and I"
                    ),
                });
            }
            add_trace(&mut traces, var, idx_list);
        }
        let rows_for = |c: &PlanConnection| match c.form {
            // Recursive traces also read the spikes leaving the window.
            KernelForm::Exponential { .. } | KernelForm::Alpha { .. } => {
                c.delay + c.kernel.len() + 1
            }
            _ => c.delay + c.kernel.len(),
        };
        if let Some(c) = connections
            .iter()
            .filter(|c| c.pre == idx)
            .max_by_key(|c| rows_for(c))
        {
            let rows = rows_for(c);
            check_size(
                || {
                    format!(
                        "the spike ring of nucleus {label:?} ({rows} steps x {n} neurons of f32, \
                         twice while its initial value is set; for connection {}: delay {} + \
                         window {} steps)",
                        c.name,
                        c.delay,
                        c.kernel.len()
                    )
                },
                (rows as u64).saturating_mul(n as u64),
                8,
                limit,
                "a shorter delay or window on that connection, or a larger dt",
            )?;
        }
        let history = connections
            .iter()
            .filter(|c| c.pre == idx)
            .map(rows_for)
            .max()
            .unwrap_or(1)
            .max(1);
        let snn_kernels = native && runs_on_cpu(nu.device.as_deref());
        // A model written as equations has no a, b, c, d.
        if let Some(model) = models[idx].take() {
            nuclei.push(PlanNucleus {
                a: Vec::new(),
                b: Vec::new(),
                c: Vec::new(),
                d: Vec::new(),
                traces: model_traces,
                label,
                n,
                input,
                spikes: nu.record.spikes,
                every: nu.record.every.max(1),
                device: nu.device,
                history,
                model: Some(model),
                snn_kernels,
            });
            continue;
        }
        // A neuron that spiked stores v = 30 (the peak); the reset tells
        // spikes from that, so a reset potential must lie below it.
        let c = param(&nu.c, n, "c", &label)?;
        if let Some((i, x)) = c.iter().enumerate().find(|(_, &x)| x >= 30.0) {
            return Err(Error::InvalidModel {
                message: format!(
                    "nucleus {label:?}, neuron {i}: reset potential c = {x} mV is not below the spike peak (30 mV)"
                ),
            });
        }
        nuclei.push(PlanNucleus {
            a: param(&nu.a, n, "a", &label)?,
            b: param(&nu.b, n, "b", &label)?,
            c,
            d: param(&nu.d, n, "d", &label)?,
            label,
            n,
            input,
            spikes: nu.record.spikes,
            traces,
            every: nu.record.every.max(1),
            device: nu.device,
            history,
            model: None,
            snn_kernels,
        });
    }
    Ok(nuclei)
}

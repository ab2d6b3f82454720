//! Validation and resolution of a [`Network`] for one `dt`: every parameter a
//! per-neuron `f32` vector, delays and windows in steps, kernels sampled,
//! weights dense or sparse. TensorFlow-free; the compiler reads only this.

use crate::equations::{Lowered, LoweredSynapses, OnPre};
use crate::error::{Error, Result};
use crate::network::model::{Input, InputFn, Network, Param, Propagation, StateVar, Weights};
pub use weights::{PropagationChoice, WeightLayout, DENSE_FROM_DENSITY};

/// A delay or window rounded to whole steps at the user's request.
#[derive(Debug, Clone, PartialEq)]
pub struct RoundingNote {
    /// `pre->post`.
    pub connection: String,
    /// `delay` or `window`.
    pub what: &'static str,
    /// The value asked for, in ms.
    pub value_ms: f64,
    /// The whole number of steps used.
    pub steps: usize,
    /// That number of steps in ms.
    pub used_ms: f64,
}

impl std::fmt::Display for RoundingNote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "rounded {} of {}: {} ms -> {} steps = {:.3} ms",
            self.what, self.connection, self.value_ms, self.steps, self.used_ms
        )
    }
}

pub(crate) enum PlanInput {
    Const(Vec<f32>),
    Host(InputFn),
    Noise { mean: f32, std: f32, seed: i64 },
}

pub(crate) struct PlanNucleus {
    pub label: String,
    pub n: usize,
    pub a: Vec<f32>,
    pub b: Vec<f32>,
    pub c: Vec<f32>,
    pub d: Vec<f32>,
    pub input: PlanInput,
    pub spikes: bool,
    /// Recorded neurons per state variable (empty: not recorded).
    pub traces: Vec<(String, Vec<usize>)>,
    pub every: usize,
    pub device: Option<String>,
    /// Rows of spike history kept: max over outgoing connections of D + K, >= 1.
    pub history: usize,
    /// The model written as equations, lowered (`None`: Izhikevich, `a` to
    /// `d` above).
    pub model: Option<Lowered>,
}

mod delays;
mod kernels;
mod models;
mod weights;
pub(crate) use kernels::{kernel_form, takes_events, KernelForm};
pub(crate) use weights::PlanWeights;
use weights::{embed, plan_weights};

pub(crate) struct PlanConnection {
    pub name: String,
    pub pre: usize,
    pub post: usize,
    pub delay: usize,
    /// Kernel samples at lags `k * dt`, `k = 0..K`.
    pub kernel: Vec<f32>,
    pub weights: PlanWeights,
    pub propagation: Propagation,
    /// How the weights are held and applied (reported to the user).
    pub layout: PropagationChoice,
    /// How the kernel is applied.
    pub form: KernelForm,
    /// What a spike does to a postsynaptic model written as equations
    /// (`None`: it feeds the pulse input).
    pub on_pre: Option<OnPre>,
    /// Synapses with state (plastic weights, traces; dense weights).
    pub synapses: Option<LoweredSynapses>,
    /// Steps between weight snapshots, if recorded.
    pub snapshot_every: Option<usize>,
    /// Per-synapse delays: the distinct delays in steps (ascending); the
    /// weights are then compressed rows keyed by (neuron, delay)
    /// ([`delays::keyed`]), and `delay` is 0 (the past spikes come from
    /// the presynaptic nucleus's spike lists).
    pub synapse_lags: Option<Vec<usize>>,
    /// Dense weights between subgroups taken by events: the block of the
    /// nuclei's matrix the graph holds (see [`OwnBlock`]).
    pub own: Option<OwnBlock>,
    /// Compressed rows summed by snn's kernel (`SnnRowSums`; a windowed
    /// kernel's coefficients still go through TensorFlow's ops).
    pub snn_sums: bool,
}

/// The part of a dense matrix between subgroups that the graph holds when
/// the connection's spikes are taken as events: a presynaptic subgroup's
/// own rows and a last row of zeros (the events of neuron `i` take row
/// `i - first`, or the zero row), a postsynaptic subgroup's own columns
/// (its sums padded with zeros into the nucleus's columns), instead of the
/// whole nuclei's rows and columns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct OwnBlock {
    /// A presynaptic subgroup's first neuron and size, if its own rows.
    pub rows: Option<(usize, usize)>,
    /// A postsynaptic subgroup's first neuron and size, if its own columns.
    pub cols: Option<(usize, usize)>,
    /// The sizes of the whole presynaptic and postsynaptic nuclei.
    pub pre_all: usize,
    pub post_all: usize,
}

impl OwnBlock {
    /// The dims of the matrix the graph holds.
    pub fn dims(&self) -> (usize, usize) {
        (
            self.rows.map_or(self.pre_all, |(_, n)| n + 1),
            self.cols.map_or(self.post_all, |(_, n)| n),
        )
    }
}

pub(crate) struct Plan {
    pub dt: f64,
    pub nuclei: Vec<PlanNucleus>,
    pub connections: Vec<PlanConnection>,
    pub rounded: Vec<RoundingNote>,
}

/// What the simulator keeps of a plan once it is compiled: per nucleus
/// what its runs record and feed, and the notes on how the model was
/// laid out.
pub(crate) struct Kept {
    pub nuclei: Vec<NucleusInfo>,
    pub propagation: Vec<PropagationChoice>,
    pub rounded: Vec<RoundingNote>,
    /// Every nucleus runs on a CPU device (or none is named).
    pub on_cpu: bool,
    /// Some nucleus runs a model written as equations.
    pub has_models: bool,
    /// Connections whose weights learn: index and name (`pre->post`).
    pub plastic: Vec<(usize, String)>,
    /// Connections whose weights are recorded.
    pub snapshots: Vec<SnapshotPlan>,
}

/// A connection whose weights are recorded (`Connection::record_weights`).
#[derive(Debug, Clone)]
pub(crate) struct SnapshotPlan {
    /// Its position in the network.
    pub index: usize,
    /// `pre->post`.
    pub name: String,
    /// Steps between snapshots.
    pub every: usize,
    /// Weights per snapshot: every entry of a dense matrix, the listed
    /// synapses of compressed rows.
    pub count: u64,
    /// `[pre.n, post.n]`.
    pub shape: [usize; 2],
    /// Held as compressed rows.
    pub sparse: bool,
}

/// One nucleus as the run loop sees it.
pub(crate) struct NucleusInfo {
    pub label: String,
    pub n: usize,
    /// Its spike list is recorded.
    pub spikes: bool,
    /// Steps between recorded trace values.
    pub every: usize,
    pub traces: Vec<(String, Vec<usize>)>,
    /// The host input function, if its input is one.
    pub host: Option<InputFn>,
    /// Spikes since the last firing-rate summary.
    pub window_spikes: u64,
}

/// Whether ops placed on `device` run on a CPU: a CPU device named, or
/// none where TensorFlow has no GPU (a `gpu` build places unplaced ops on
/// its GPU). Kernels that exist on CPU only (`RaggedGather`, snn's
/// `SnnRowSums`) are used only there, or every step would copy their large
/// inputs across devices.
pub(crate) fn runs_on_cpu(device: Option<&str>) -> bool {
    match device {
        Some(d) => d.to_ascii_uppercase().contains("CPU"),
        None => !cfg!(feature = "gpu"),
    }
}

impl Plan {
    /// Consume the plan (after compiling it) into what the simulator keeps.
    pub(crate) fn keep(self) -> Kept {
        let has_models = self.nuclei.iter().any(|nu| nu.model.is_some());
        let on_cpu = self.nuclei.iter().all(|nu| {
            nu.device
                .as_deref()
                .is_none_or(|d| d.to_ascii_uppercase().contains("CPU"))
        });
        let propagation = self.connections.iter().map(|c| c.layout.clone()).collect();
        let plastic = self
            .connections
            .iter()
            .enumerate()
            .filter(|(_, c)| c.synapses.as_ref().is_some_and(|s| s.plastic()))
            .map(|(k, c)| (k, c.name.clone()))
            .collect();
        let snapshots = self
            .connections
            .iter()
            .enumerate()
            .filter_map(|(k, c)| {
                let shape = [self.nuclei[c.pre].n, self.nuclei[c.post].n];
                let sparse = c.layout.layout != WeightLayout::Dense;
                let count = match sparse {
                    false => (shape[0] * shape[1]) as u64,
                    true => c.layout.synapses,
                };
                c.snapshot_every.map(|every| SnapshotPlan {
                    index: k,
                    name: c.name.clone(),
                    every,
                    count,
                    shape,
                    sparse,
                })
            })
            .collect();
        let nuclei = self
            .nuclei
            .into_iter()
            .map(|nu| NucleusInfo {
                label: nu.label,
                n: nu.n,
                spikes: nu.spikes,
                every: nu.every,
                traces: nu.traces,
                host: match nu.input {
                    PlanInput::Host(f) => Some(f),
                    _ => None,
                },
                window_spikes: 0,
            })
            .collect();
        Kept {
            nuclei,
            propagation,
            rounded: self.rounded,
            on_cpu,
            has_models,
            plastic,
            snapshots,
        }
    }
}

/// Record `neurons` of `var`: joined with the neurons already asked for
/// it (sorted, once each); nothing for an empty list.
pub(crate) fn add_trace(traces: &mut Vec<(String, Vec<usize>)>, var: String, neurons: Vec<usize>) {
    match traces.iter_mut().find(|(v, _)| *v == var) {
        Some((_, list)) => {
            list.extend(neurons);
            list.sort_unstable();
            list.dedup();
        }
        None if !neurons.is_empty() => traces.push((var, neurons)),
        None => {}
    }
}

pub(crate) fn finite(value: f64, what: impl FnOnce() -> String) -> Result<f32> {
    if value.is_finite() {
        Ok(value as f32)
    } else {
        Err(Error::NonFinite {
            what: what(),
            value,
        })
    }
}

fn param(p: &Param, n: usize, name: &str, label: &str) -> Result<Vec<f32>> {
    if let Param::PerNeuron(v) = p {
        if v.len() != n {
            return Err(Error::WrongLength {
                nucleus: label.into(),
                what: format!("parameter {name}"),
                expected: n,
                got: v.len(),
            });
        }
    }
    (0..n)
        .map(|i| {
            finite(p.at(i), || {
                format!("parameter {name} of nucleus {label:?}, neuron {i}")
            })
        })
        .collect()
}

/// `ms / dt` as whole steps: exact within 1e-6 relative, or rounded on request.
fn steps(
    ms: f64,
    dt: f64,
    what: &'static str,
    connection: &str,
    round: bool,
    rounded: &mut Vec<RoundingNote>,
) -> Result<usize> {
    if !ms.is_finite() {
        return Err(Error::NonFinite {
            what: format!("{what} of connection {connection}"),
            value: ms,
        });
    }
    if ms < 0.0 {
        return Err(Error::Negative {
            connection: connection.into(),
            what,
            value: ms,
        });
    }
    let x = ms / dt;
    let nearest = x.round();
    let exact = (x - nearest).abs() <= 1e-6 * nearest.max(1.0);
    if !exact {
        if !round {
            return Err(Error::NotMultipleOfDt {
                connection: connection.into(),
                what,
                value: ms,
                dt,
                rounded: nearest as usize,
            });
        }
        rounded.push(RoundingNote {
            connection: connection.into(),
            what,
            value_ms: ms,
            steps: nearest as usize,
            used_ms: nearest * dt,
        });
    }
    Ok(nearest as usize)
}

pub(crate) fn check_dt(dt: f64) -> Result<()> {
    if dt.is_finite() && dt > 0.0 {
        Ok(())
    } else {
        Err(Error::InvalidDt { dt })
    }
}

/// Number of steps of a run of `t` ms: `floor(t/dt + 1e-9)`, at least 1.
pub(crate) fn run_steps(t: f64, dt: f64) -> Result<usize> {
    let steps = (t / dt + 1e-9).floor();
    // More steps than f64 counts exactly (2^53) would never end, and step
    // counters would overflow: refused with the rest.
    if !t.is_finite() || t < dt || steps >= 2f64.powi(53) {
        return Err(Error::InvalidDuration { t, dt });
    }
    Ok(steps as usize)
}

impl Plan {
    /// `limit`: the most bytes one tensor of the model (a spike ring, a
    /// kernel window, a weight matrix made here) may take; anything larger
    /// is [`Error::MemoryLimit`] before it is allocated, here or by
    /// TensorFlow. `native`: compressed rows may be summed by snn's kernel
    /// (a session in this process, not [`SimOptions::portable`](crate::network::SimOptions::portable));
    /// each connection's [`PlanConnection::snn_sums`] says whether its rows are.
    pub(crate) fn new(mut net: Network, dt: f64, limit: u64, native: bool) -> Result<Plan> {
        check_dt(dt)?;
        let mut models = models::lower_models(&net, dt)?;
        let mut rounded = Vec::new();
        let mut connections = Vec::with_capacity(net.connections.len());
        // The weights are taken over one connection at a time, so each
        // user matrix is freed as soon as it is converted (10^8 synapses
        // must not be held twice).
        let mut all_weights: Vec<Weights> = net
            .connections
            .iter_mut()
            .map(|c| std::mem::replace(&mut c.weights, Weights::Scalar(0.0)))
            .collect();
        for (ci, c) in net.connections.iter().enumerate() {
            let name = net.conn_name(c);
            // The weights are the subgroups' (the whole nuclei's unless a
            // connection names a range), embedded in the nuclei's below.
            let (pre_all, post_all) = (net.nuclei[c.pre.id.index].n, net.nuclei[c.post.id.index].n);
            let (pre_range, post_range) = (c.pre.neurons(pre_all), c.post.neurons(post_all));
            let (pre_n, post_n) = (pre_range.len(), post_range.len());
            let mut delay = steps(c.delay_ms, dt, "delay", &name, c.round, &mut rounded)?;
            if c.delays.is_some() {
                delays::allowed(c, &all_weights[ci], &name)?;
            }
            let kernel64: Vec<f64> = match &c.kernel {
                None => vec![1.0],
                Some((f, window)) => {
                    let k = steps(*window, dt, "window", &name, c.round, &mut rounded)?.max(1);
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
            let user_weights = std::mem::replace(&mut all_weights[ci], Weights::Scalar(0.0));
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
            let snn_sums =
                native && on_cpu && c.synapses.is_none() && !matches!(form, KernelForm::General);
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
                    let s = delays::synapse_steps(d, nnz, dt, &name, c.round, &mut rounded)?;
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
                Some(ms) if ms > 0.0 => Some(
                    steps(
                        ms,
                        dt,
                        "weight snapshot period",
                        &name,
                        c.round,
                        &mut rounded,
                    )?
                    .max(1),
                ),
                Some(ms) => {
                    return Err(Error::InvalidModel {
                        message: format!(
                            "connection {name}: record_weights({ms}) needs a positive period in ms"
                        ),
                    })
                }
            };
            connections.push(PlanConnection {
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
            });
        }

        let mut nuclei = Vec::with_capacity(net.nuclei.len());
        for (idx, mut nu) in net.nuclei.into_iter().enumerate() {
            let model_traces = match &models[idx] {
                Some(model) => models::traces(&nu, model)?,
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
            });
        }
        Ok(Plan {
            dt,
            nuclei,
            connections,
            rounded,
        })
    }
}

/// `count` elements of `elem` bytes each: within `limit`.
pub(crate) fn check_size(
    what: impl FnOnce() -> String,
    count: u64,
    elem: u64,
    limit: u64,
    ways_out: &str,
) -> Result<()> {
    let bytes = count.saturating_mul(elem);
    if bytes > limit {
        return Err(Error::MemoryLimit {
            what: what(),
            bytes,
            limit,
            ways_out: format!("{ways_out}; or raise SimOptions::memory_limit"),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_and_windows_become_whole_steps_or_errors() {
        let mut notes = Vec::new();
        assert_eq!(
            steps(1.5, 0.1, "delay", "A->B", false, &mut notes).ok(),
            Some(15)
        );
        assert_eq!(
            steps(0.0, 0.1, "delay", "A->B", false, &mut notes).ok(),
            Some(0)
        );
        // Within 1e-6 relative of a whole number: no rounding note.
        assert_eq!(
            steps(0.3, 0.1, "delay", "A->B", false, &mut notes).ok(),
            Some(3)
        );
        assert!(notes.is_empty());
        assert!(matches!(
            steps(0.16, 0.1, "delay", "A->B", false, &mut notes),
            Err(Error::NotMultipleOfDt { rounded: 2, .. })
        ));
        assert_eq!(
            steps(0.14, 0.1, "window", "A->B", true, &mut notes).ok(),
            Some(1)
        );
        assert_eq!(notes.len(), 1);
        assert_eq!(notes[0].steps, 1);
        assert!(matches!(
            steps(-1.0, 0.1, "delay", "A->B", false, &mut notes),
            Err(Error::Negative { .. })
        ));
        assert!(matches!(
            steps(f64::NAN, 0.1, "delay", "A->B", false, &mut notes),
            Err(Error::NonFinite { .. })
        ));
        // Runs: floor(T / dt + 1e-9), at least one step.
        assert_eq!(run_steps(1.0, 0.1).ok(), Some(10));
        assert_eq!(run_steps(0.1, 0.1).ok(), Some(1));
        assert_eq!(run_steps(0.35, 0.1).ok(), Some(3));
        assert!(matches!(
            run_steps(0.05, 0.1),
            Err(Error::InvalidDuration { .. })
        ));
        assert!(matches!(
            run_steps(f64::INFINITY, 0.1),
            Err(Error::InvalidDuration { .. })
        ));
    }
}

//! Validation and resolution of a [`Network`] for one `dt`: every parameter a
//! per-neuron `f32` vector, delays and windows in steps, kernels sampled,
//! weights dense or sparse. TensorFlow-free; the compiler reads only this.

use crate::equations::{Lowered, LoweredSynapses, OnPre};
use crate::error::{Error, Result};
use crate::network::model::{InputFn, Network, Param, Propagation, Weights};
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
    /// snn's kernels do its work (a local session on a CPU device): its
    /// uniform draws (noise, `rand()`, `randn()`, `xi`) by `SnnUniform`,
    /// the numbers of TensorFlow's `StatelessRandomUniform`; an
    /// Izhikevich nucleus's update by `SnnIzhikevich`, the numbers of
    /// TensorFlow's element-wise ops.
    pub snn_kernels: bool,
}

mod connection;
mod delays;
mod kernels;
mod models;
mod nuclei;
mod weights;
pub(crate) use kernels::{kernel_form, takes_events, KernelForm};
pub(crate) use weights::PlanWeights;

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
    /// TensorFlow. `native`: snn's kernels may be used (a session in this
    /// process, not [`SimOptions::portable`](crate::network::SimOptions::portable));
    /// each connection's [`PlanConnection::snn_sums`] and each nucleus's
    /// [`PlanNucleus::snn_kernels`] say where they are.
    pub(crate) fn new(mut net: Network, dt: f64, limit: u64, native: bool) -> Result<Plan> {
        check_dt(dt)?;
        let mut models = models::lower_models(&net, dt)?;
        let mut rounded = Vec::new();
        let mut connections = Vec::with_capacity(net.connections.len());
        // The weights are taken over one connection at a time, so each
        // user matrix is freed as soon as it is converted (10^8 synapses
        // must not be held twice).
        let all_weights: Vec<Weights> = net
            .connections
            .iter_mut()
            .map(|c| std::mem::replace(&mut c.weights, Weights::Scalar(0.0)))
            .collect();
        let settings = (dt, limit, native);
        for (ci, user_weights) in all_weights.into_iter().enumerate() {
            let c = connection::plan(&net, ci, user_weights, &models, settings, &mut rounded)?;
            connections.push(c);
        }
        let nuclei = nuclei::plan(net.nuclei, &mut models, &connections, (limit, native))?;
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

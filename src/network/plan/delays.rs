//! Per-synapse delays ([`Delays`]): each synapse's delay in whole steps,
//! and the compressed rows re-keyed by (presynaptic neuron, delay) so that
//! a step takes, for each spike event `(i, lag)`, exactly the synapses of
//! `i` with that delay (docs/semantics.md §1.4). TensorFlow-free.

use super::kernels::KernelForm;
use super::weights::PlanWeights;
use super::RoundingNote;
use crate::equations::{LoweredSynapses, Side};
use crate::error::{Error, Result};
use crate::network::connectivity::{Rng, DELAYS};
use crate::network::model::{Connection, Delays, Propagation, Weights};

fn bad(connection: &str, problem: String) -> Error {
    Error::SparseWeights {
        connection: connection.into(),
        problem,
    }
}

/// What per-synapse delays go with: compressed rows (or triplets, or a
/// generated connectivity; delays listed one by one need `Weights::Csr`
/// for their order), voltage jumps, exponential or alpha kernels (traces;
/// a windowed kernel is refused once its form is known, [`kernel`]),
/// `on_pre` statements or a synapse model, no delay of the connection
/// besides, no dense product.
pub(crate) fn allowed(c: &Connection, weights: &Weights, name: &str) -> Result<()> {
    let refuse = |problem: &str| {
        Err(Error::SparseWeights {
            connection: name.into(),
            problem: format!("per-synapse delays {problem}"),
        })
    };
    let listed = matches!(c.delays, Some(Delays::PerSynapse(_)));
    match weights {
        Weights::Csr { .. } | Weights::CsrF32 { .. } => {}
        Weights::Triplets(_) | Weights::Random(_) if !listed => {}
        Weights::Triplets(_) | Weights::Random(_) => {
            return refuse(
                "listed one by one follow the order of Weights::Csr values; give the weights as \
                 compressed rows, or draw the delays (Delays::Uniform)",
            )
        }
        _ => {
            return refuse(
                "need sparse weights (compressed rows, triplets or a generated connectivity)",
            )
        }
    }
    if c.delay_ms != 0.0 {
        return refuse("replace the connection's delay; give one or the other");
    }
    if c.propagation == Propagation::Dense {
        return refuse("are event-driven; Propagation::Dense cannot take them");
    }
    Ok(())
}

/// A synapse model with per-synapse delays keeps the past of each
/// presynaptic trace (`L = max delay + 1` steps of `pre.n` floats,
/// `compile::plastic::keyed`): it must fit the memory `limit`.
pub(crate) fn check_past(
    model: &LoweredSynapses,
    lags: &[usize],
    pre_n: u64,
    connection: &str,
    limit: u64,
) -> Result<()> {
    let traces = model.traces.iter().filter(|t| t.side == Side::Pre).count() as u64;
    let steps = lags.last().copied().unwrap_or(0) as u64 + 1;
    super::check_size(
        || {
            format!(
                "the past of the presynaptic traces of connection {connection} \
                 ({traces} traces x {steps} steps x {pre_n} neurons, float32)"
            )
        },
        traces.saturating_mul(steps).saturating_mul(pre_n),
        4,
        limit,
        "shorter delays, or a larger dt",
    )
}

/// The delay of each of `nnz` synapses in steps of `dt`, in the synapses'
/// order. Given delays must be finite, >= 0 and whole steps (or rounded to
/// the nearest with `round`, one note for the connection: its largest
/// change); uniform ones are drawn (seeded, one draw per synapse in order)
/// and rounded to the nearest step, as Brian2 rounds delays.
pub(crate) fn synapse_steps(
    delays: &Delays,
    nnz: usize,
    dt: f64,
    connection: &str,
    round: bool,
    rounded: &mut Vec<RoundingNote>,
) -> Result<Vec<u32>> {
    let step = |ms: f64, k: usize| -> Result<(u32, f64)> {
        if !ms.is_finite() || ms < 0.0 {
            return Err(bad(
                connection,
                format!("delay #{k} is {ms} ms; delays are finite and >= 0"),
            ));
        }
        let nearest = (ms / dt).round();
        if nearest > u32::MAX as f64 {
            return Err(bad(
                connection,
                format!("delay #{k} ({ms} ms) is over 2^32 steps"),
            ));
        }
        Ok((nearest as u32, (nearest * dt - ms).abs()))
    };
    match delays {
        Delays::PerSynapse(ms) => {
            if ms.len() != nnz {
                return Err(bad(
                    connection,
                    format!("{} delays given for {nnz} synapses", ms.len()),
                ));
            }
            let mut worst: Option<(f64, u32, f64)> = None;
            let mut out = Vec::with_capacity(nnz);
            for (k, &d) in ms.iter().enumerate() {
                let (s, off) = step(d, k)?;
                if off > 1e-6 * (s as f64 * dt).max(dt) {
                    if !round {
                        return Err(bad(
                            connection,
                            format!(
                                "delay #{k} ({d} ms) is not a whole number of steps of {dt} ms; \
                                 call .round_to_step() on the connection to round each to \
                                 the nearest step"
                            ),
                        ));
                    }
                    if worst.is_none_or(|w| off > w.2) {
                        worst = Some((d, s, off));
                    }
                }
                out.push(s);
            }
            if let Some((d, s, _)) = worst {
                rounded.push(RoundingNote {
                    connection: connection.into(),
                    what: "per-synapse delays (the largest change)",
                    value_ms: d,
                    steps: s as usize,
                    used_ms: s as f64 * dt,
                });
            }
            Ok(out)
        }
        &Delays::Uniform { low, high, seed } => {
            if !(low.is_finite() && high.is_finite() && low >= 0.0 && high >= low) {
                return Err(bad(
                    connection,
                    format!("uniform delays in [{low}, {high}] ms; need 0 <= low <= high, finite"),
                ));
            }
            step(high, 0)?;
            // One stream (the generators' xoshiro256**, so a seed gives
            // the same delays whatever the version of the `rand` crate).
            let mut rng = Rng::new(seed, DELAYS, 0);
            (0..nnz)
                .map(|k| Ok(step(low + rng.unit() * (high - low), k)?.0))
                .collect()
        }
    }
}

/// Per-synapse delays with a kernel of this form: voltage jumps and the
/// recursive traces of exponential and alpha kernels (which take the keyed
/// rows at each delay and at each delay + K); a windowed kernel would need
/// them at every lag of its window, refused.
pub(crate) fn kernel(form: KernelForm, name: &str) -> Result<()> {
    match form {
        KernelForm::General => Err(bad(
            name,
            "per-synapse delays go with voltage jumps, exponential or alpha kernels, or \
             on_pre statements, not with a windowed kernel"
                .into(),
        )),
        _ => Ok(()),
    }
}

/// Compressed rows of `pre` neurons re-keyed by (neuron, delay): `lags`
/// are the distinct delays (ascending, `K` of them), and row `i (K + 1) +
/// k` of the result holds the synapses of neuron `i` with delay `lags[k]`
/// (in their order within the row); row `i (K + 1) + K` is empty (the
/// spike events at lags this connection does not use go there). The
/// synapses of neuron `i` stay contiguous, so row `i` of the original
/// rows is `indptr[i (K + 1)] .. indptr[(i + 1) (K + 1)]`.
/// The pointers (`8 pre.n (K + 1)` bytes) must fit the memory `limit`.
/// `window` more steps of spike lists for a kernel's traces.
pub(crate) fn keyed(
    w: PlanWeights,
    steps: &[u32],
    (connection, window): (&str, usize),
    limit: u64,
) -> Result<(PlanWeights, Vec<usize>)> {
    let PlanWeights::Csr { indptr, cols, w } = w else {
        return Err(Error::Internal {
            context: format!("per-synapse delays of {connection}"),
            message: "dense weights".into(),
        });
    };
    let mut lags: Vec<usize> = steps.iter().map(|&s| s as usize).collect();
    lags.sort_unstable();
    lags.dedup();
    let width = lags.len() + 1;
    let slot = |s: u32| lags.binary_search(&(s as usize)).unwrap_or(lags.len());
    let pre = indptr.len().saturating_sub(1);
    super::check_size(
        || {
            format!(
                "the row pointers of connection {connection} by neuron and delay \
                 ({pre} neurons x {} delays + 1, int64)",
                lags.len()
            )
        },
        (pre as u64).saturating_mul(width as u64),
        8,
        limit,
        "fewer distinct delays (a narrower range, or delays in coarser steps)",
    )?;
    // The presynaptic nucleus's spike lists: up to `pre.n` int32 indices
    // for each of the last `max + 1` steps (`max + K + 1` for traces).
    let longest = (lags.last().copied().unwrap_or(0) + window) as u64;
    super::check_size(
        || {
            format!(
                "the spike lists for connection {connection} ({} steps x {pre} neurons, int32)",
                longest + 1
            )
        },
        (longest + 1).saturating_mul(pre as u64),
        4,
        limit,
        "shorter delays, or a larger dt",
    )?;
    let mut counts = vec![0i64; pre * width + 1];
    for i in 0..pre {
        for s in indptr[i] as usize..indptr[i + 1] as usize {
            counts[i * width + slot(steps[s]) + 1] += 1;
        }
    }
    for r in 0..pre * width {
        counts[r + 1] += counts[r];
    }
    let keyed_ptr = counts;
    let mut next: Vec<i64> = keyed_ptr[..pre * width].to_vec();
    let (mut kc, mut kw) = (vec![0i32; cols.len()], vec![0f32; w.len()]);
    for i in 0..pre {
        for s in indptr[i] as usize..indptr[i + 1] as usize {
            let r = i * width + slot(steps[s]);
            let at = next[r] as usize;
            kc[at] = cols[s];
            kw[at] = w[s];
            next[r] += 1;
        }
    }
    Ok((
        PlanWeights::Csr {
            indptr: keyed_ptr,
            cols: kc,
            w: kw,
        },
        lags,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_keyed_by_neuron_and_delay() {
        // Neuron 0: synapses to 5 (delay 3), 6 (delay 1), 7 (delay 3);
        // neuron 1: none; neuron 2: to 8 (delay 1).
        let w = PlanWeights::Csr {
            indptr: vec![0, 3, 3, 4],
            cols: vec![5, 6, 7, 8],
            w: vec![0.5, 0.6, 0.7, 0.8],
        };
        let (k, lags) = keyed(w, &[3, 1, 3, 1], ("A->B", 0), u64::MAX).unwrap();
        assert_eq!(lags, [1, 3]);
        let PlanWeights::Csr { indptr, cols, w } = k else {
            panic!("compressed rows expected");
        };
        // Rows (neuron, slot): (0,1) (0,3) (0,-) (1,1) (1,3) (1,-) (2,1) ...
        assert_eq!(indptr, [0, 1, 3, 3, 3, 3, 3, 4, 4, 4]);
        assert_eq!(cols, [6, 5, 7, 8]);
        assert_eq!(w, [0.6, 0.5, 0.7, 0.8]);
    }

    #[test]
    fn delays_are_whole_steps_rounded_or_refused() {
        let mut notes = Vec::new();
        let given = Delays::PerSynapse(vec![0.0, 0.3, 1.5]);
        assert_eq!(
            synapse_steps(&given, 3, 0.1, "A->B", false, &mut notes).unwrap(),
            [0, 3, 15]
        );
        let off = Delays::PerSynapse(vec![0.3, 0.26, 0.12]);
        assert!(synapse_steps(&off, 3, 0.1, "A->B", false, &mut notes).is_err());
        assert!(notes.is_empty());
        assert_eq!(
            synapse_steps(&off, 3, 0.1, "A->B", true, &mut notes).unwrap(),
            [3, 3, 1]
        );
        assert_eq!(notes.len(), 1);
        assert_eq!(notes[0].value_ms, 0.26);
        for bad in [vec![-0.1], vec![f64::NAN], vec![1.0, 2.0]] {
            let d = Delays::PerSynapse(bad);
            assert!(synapse_steps(&d, 1, 0.1, "A->B", true, &mut notes).is_err());
        }
        let uniform = Delays::Uniform {
            low: 1.0,
            high: 5.0,
            seed: 3,
        };
        let s = synapse_steps(&uniform, 10_000, 0.1, "A->B", false, &mut notes).unwrap();
        assert!(s.iter().all(|&x| (10..=50).contains(&x)));
        let mean = s.iter().map(|&x| x as f64).sum::<f64>() / s.len() as f64;
        // Uniform on [10, 50] steps, rounded: mean 30, sd 11.5 / sqrt(n).
        assert!((mean - 30.0).abs() < 0.6, "{mean}");
        assert_eq!(
            s,
            synapse_steps(&uniform, 10_000, 0.1, "A->B", false, &mut notes).unwrap()
        );
        let backwards = Delays::Uniform {
            low: 2.0,
            high: 1.0,
            seed: 3,
        };
        assert!(synapse_steps(&backwards, 1, 0.1, "A->B", false, &mut notes).is_err());
    }
}

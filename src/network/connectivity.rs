//! Random connectivity, made for users: Bernoulli `p` (Brian2's
//! `connect(p=...)`), fixed in-degree and fixed out-degree (NEST's
//! `fixed_indegree` / `fixed_outdegree`), seeded, produced directly as
//! compressed rows ([`Weights::CsrF32`], 8 bytes a synapse) with no dense
//! intermediate and without holding the synapses twice. TensorFlow-free.
//!
//! Every row (fixed in-degree: every column) draws from its own generator,
//! keyed by the seed and its index, so the result depends on the seed alone,
//! not on the order the rows are made in. The generator is xoshiro256**
//! seeded through SplitMix64, written out here so that a seed gives the same
//! network in every version of snn and of its dependencies.

use crate::error::{Error, Result};
use crate::network::model::Weights;

/// Which pairs of neurons are connected.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Connectivity {
    /// Each pair `(i, j)` independently with probability `p` (Brian2's
    /// `connect(p=p)`; self-pairs included when a nucleus connects to
    /// itself, as in Brian2).
    Bernoulli(f64),
    /// Each postsynaptic neuron receives exactly `k` synapses from `k`
    /// distinct presynaptic neurons drawn uniformly.
    FixedInDegree(usize),
    /// Each presynaptic neuron makes exactly `k` synapses onto `k` distinct
    /// postsynaptic neurons drawn uniformly.
    FixedOutDegree(usize),
}

/// The weight of each generated synapse.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum WeightValue {
    /// The same weight for every synapse.
    Constant(f64),
    /// Uniform in `[low, high)`, drawn per synapse.
    Uniform(f64, f64),
}

impl From<f64> for WeightValue {
    fn from(w: f64) -> Self {
        WeightValue::Constant(w)
    }
}

/// A connectivity rule with its weights and seed: what [`Weights::random`]
/// and the others describe, generated when the network is built (when the
/// nuclei's sizes are known).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RandomWeights {
    /// Which pairs.
    pub rule: Connectivity,
    /// Their weights.
    pub value: WeightValue,
    /// The seed.
    pub seed: u64,
}

impl Weights {
    /// Bernoulli connectivity with probability `p` and weight `w`, seeded:
    /// Brian2's `connect(p=p)` with `w = w`.
    pub fn random(p: f64, w: impl Into<WeightValue>, seed: u64) -> Weights {
        Weights::Random(RandomWeights {
            rule: Connectivity::Bernoulli(p),
            value: w.into(),
            seed,
        })
    }

    /// Every postsynaptic neuron gets `k` synapses from distinct
    /// presynaptic neurons, weights `w`, seeded.
    pub fn fixed_in_degree(k: usize, w: impl Into<WeightValue>, seed: u64) -> Weights {
        Weights::Random(RandomWeights {
            rule: Connectivity::FixedInDegree(k),
            value: w.into(),
            seed,
        })
    }

    /// Every presynaptic neuron makes `k` synapses onto distinct
    /// postsynaptic neurons, weights `w`, seeded.
    pub fn fixed_out_degree(k: usize, w: impl Into<WeightValue>, seed: u64) -> Weights {
        Weights::Random(RandomWeights {
            rule: Connectivity::FixedOutDegree(k),
            value: w.into(),
            seed,
        })
    }
}

impl RandomWeights {
    /// The synapses for `pre_n` presynaptic and `post_n` postsynaptic
    /// neurons, as [`Weights::CsrF32`]; `name` names the connection in
    /// errors.
    pub fn generate(&self, pre_n: usize, post_n: usize, name: &str) -> Result<Weights> {
        let bad = |problem: String| Error::InvalidModel {
            message: format!("connectivity of connection {name}: {problem}"),
        };
        match self.value {
            WeightValue::Constant(w) if !w.is_finite() => {
                return Err(bad(format!("weight {w} is not finite")))
            }
            WeightValue::Uniform(lo, hi) if !(lo.is_finite() && hi.is_finite() && lo <= hi) => {
                return Err(bad(format!(
                    "uniform weights in [{lo}, {hi}): need finite low <= high"
                )))
            }
            _ => {}
        }
        if post_n > u32::MAX as usize || pre_n > u32::MAX as usize {
            return Err(bad("nuclei over 2^32 neurons".into()));
        }
        let value = self.value;
        match self.rule {
            Connectivity::Bernoulli(p) => {
                if !(0.0..=1.0).contains(&p) {
                    return Err(bad(format!("probability {p} is not in [0, 1]")));
                }
                Ok(bernoulli(pre_n, post_n, p, value, self.seed))
            }
            Connectivity::FixedOutDegree(k) => {
                if k > post_n {
                    return Err(bad(format!(
                        "out-degree {k} is more than the {post_n} postsynaptic neurons"
                    )));
                }
                Ok(fixed_out_degree(pre_n, post_n, k, value, self.seed))
            }
            Connectivity::FixedInDegree(k) => {
                if k > pre_n {
                    return Err(bad(format!(
                        "in-degree {k} is more than the {pre_n} presynaptic neurons"
                    )));
                }
                Ok(fixed_in_degree(pre_n, post_n, k, value, self.seed))
            }
        }
    }
}

/// xoshiro256** (Blackman and Vigna), seeded by SplitMix64.
pub(crate) struct Rng([u64; 4]);

impl Rng {
    /// The generator of stream `index` (a row or column) under `seed`;
    /// `purpose` separates the structure's stream from the weights'.
    pub(crate) fn new(seed: u64, purpose: u64, index: u64) -> Rng {
        let mut x = seed
            ^ purpose.wrapping_mul(0xA076_1D64_78BD_642F)
            ^ index.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let mut next = || {
            x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = x;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        };
        Rng([next(), next(), next(), next()])
    }

    fn next_u64(&mut self) -> u64 {
        let s = &mut self.0;
        let out = s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        out
    }

    /// Uniform in `[0, 1)`, 53 bits.
    pub(crate) fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in `0..n` (`n >= 1`), by Lemire's multiply-and-reject.
    fn below(&mut self, n: u64) -> u64 {
        let threshold = n.wrapping_neg() % n;
        loop {
            let m = (self.next_u64() as u128) * (n as u128);
            if (m as u64) >= threshold {
                return (m >> 64) as u64;
            }
        }
    }
}

const STRUCTURE: u64 = 1;
const VALUES: u64 = 2;
/// The stream of per-synapse delays (`plan::delays`).
pub(crate) const DELAYS: u64 = 3;

fn draw(value: WeightValue, rng: &mut Rng) -> f32 {
    match value {
        WeightValue::Constant(w) => w as f32,
        WeightValue::Uniform(lo, hi) => (lo + (hi - lo) * rng.unit()) as f32,
    }
}

fn bernoulli(pre_n: usize, post_n: usize, p: f64, value: WeightValue, seed: u64) -> Weights {
    let mut indptr = Vec::with_capacity(pre_n + 1);
    // About p * pre * post synapses; a little room for the spread.
    let expect = p * pre_n as f64 * post_n as f64;
    let room = (expect + 5.0 * expect.sqrt() + 16.0) as usize;
    let mut indices: Vec<u32> = Vec::with_capacity(room);
    let mut values: Vec<f32> = Vec::with_capacity(room);
    indptr.push(0);
    // Gaps between successive synapses of a row are geometric: a row costs
    // its synapses, not post.n draws.
    let log_q = (1.0 - p).ln();
    for i in 0..pre_n {
        let mut rng = Rng::new(seed, STRUCTURE, i as u64);
        let mut vals = Rng::new(seed, VALUES, i as u64);
        if p >= 1.0 {
            for j in 0..post_n {
                indices.push(j as u32);
                values.push(draw(value, &mut vals));
            }
        } else if p > 0.0 {
            let mut j = -1.0f64;
            loop {
                // 1 - U is in (0, 1]: its log is finite.
                let gap = ((1.0 - rng.unit()).ln() / log_q).floor();
                j += 1.0 + gap;
                if j >= post_n as f64 {
                    break;
                }
                indices.push(j as u32);
                values.push(draw(value, &mut vals));
            }
        }
        indptr.push(indices.len());
    }
    indices.shrink_to_fit();
    values.shrink_to_fit();
    Weights::CsrF32 {
        indptr,
        indices,
        values,
    }
}

/// `k` distinct values of `0..perm.len()` by a partial Fisher–Yates shuffle
/// of `perm` (the identity on entry and on return: the swaps are undone),
/// passed to `take` in the order drawn.
fn distinct(
    perm: &mut [u32],
    k: usize,
    rng: &mut Rng,
    swaps: &mut Vec<u32>,
    mut take: impl FnMut(u32),
) {
    let n = perm.len();
    swaps.clear();
    for t in 0..k {
        let r = t + rng.below((n - t) as u64) as usize;
        perm.swap(t, r);
        swaps.push(r as u32);
        take(perm[t]);
    }
    for t in (0..k).rev() {
        perm.swap(t, swaps[t] as usize);
    }
}

fn fixed_out_degree(
    pre_n: usize,
    post_n: usize,
    k: usize,
    value: WeightValue,
    seed: u64,
) -> Weights {
    let mut perm: Vec<u32> = (0..post_n as u32).collect();
    let mut swaps = Vec::with_capacity(k);
    let mut indices: Vec<u32> = Vec::with_capacity(pre_n * k);
    let mut values: Vec<f32> = Vec::with_capacity(pre_n * k);
    let indptr = (0..=pre_n).map(|i| i * k).collect();
    for i in 0..pre_n {
        let mut rng = Rng::new(seed, STRUCTURE, i as u64);
        let mut vals = Rng::new(seed, VALUES, i as u64);
        distinct(&mut perm, k, &mut rng, &mut swaps, |j| {
            indices.push(j);
            values.push(draw(value, &mut vals));
        });
    }
    Weights::CsrF32 {
        indptr,
        indices,
        values,
    }
}

/// Columns of `k` presynaptic neurons each, stored as rows: the columns are
/// drawn twice from their generators, once to count each row's synapses and
/// once to place them, so the synapses are held once.
fn fixed_in_degree(
    pre_n: usize,
    post_n: usize,
    k: usize,
    value: WeightValue,
    seed: u64,
) -> Weights {
    let mut perm: Vec<u32> = (0..pre_n as u32).collect();
    let mut swaps = Vec::with_capacity(k);
    let mut counts = vec![0usize; pre_n + 1];
    for j in 0..post_n {
        let mut rng = Rng::new(seed, STRUCTURE, j as u64);
        distinct(&mut perm, k, &mut rng, &mut swaps, |i| {
            counts[i as usize + 1] += 1
        });
    }
    for i in 0..pre_n {
        counts[i + 1] += counts[i];
    }
    let indptr = counts;
    let mut next: Vec<usize> = indptr[..pre_n].to_vec();
    let total = indptr[pre_n];
    let mut indices = vec![0u32; total];
    let mut values = vec![0f32; total];
    for j in 0..post_n {
        let mut rng = Rng::new(seed, STRUCTURE, j as u64);
        let mut vals = Rng::new(seed, VALUES, j as u64);
        distinct(&mut perm, k, &mut rng, &mut swaps, |i| {
            let at = &mut next[i as usize];
            indices[*at] = j as u32;
            values[*at] = draw(value, &mut vals);
            *at += 1;
        });
    }
    Weights::CsrF32 {
        indptr,
        indices,
        values,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(w: Weights) -> (Vec<usize>, Vec<u32>, Vec<f32>) {
        match w {
            Weights::CsrF32 {
                indptr,
                indices,
                values,
            } => (indptr, indices, values),
            _ => panic!("not CSR"),
        }
    }

    #[test]
    fn uniform_draws_cover_the_range_evenly() {
        let mut rng = Rng::new(1, 2, 3);
        let mut bins = [0usize; 10];
        for _ in 0..100_000 {
            bins[rng.below(10) as usize] += 1;
        }
        // Each bin 10 000 +- 5 sigma (sigma = 95).
        assert!(
            bins.iter().all(|&b| (9_525..=10_475).contains(&b)),
            "{bins:?}"
        );
        let mean: f64 = (0..100_000).map(|_| rng.unit()).sum::<f64>() / 100_000.0;
        assert!((mean - 0.5).abs() < 5.0 * (1.0 / 12.0f64).sqrt() / 100_000f64.sqrt());
    }

    #[test]
    fn distinct_draws_are_distinct_and_leave_the_identity() {
        let mut perm: Vec<u32> = (0..50).collect();
        let mut swaps = Vec::new();
        let mut rng = Rng::new(9, 1, 0);
        for k in [0, 1, 25, 50] {
            let mut got = Vec::new();
            distinct(&mut perm, k, &mut rng, &mut swaps, |x| got.push(x));
            got.sort_unstable();
            got.dedup();
            assert_eq!(got.len(), k);
            assert!(perm.iter().enumerate().all(|(i, &x)| i as u32 == x));
        }
    }

    #[test]
    fn out_degree_rows_are_exact_and_sorted_by_row() -> Result<()> {
        let w = RandomWeights {
            rule: Connectivity::FixedOutDegree(7),
            value: WeightValue::Uniform(1.0, 2.0),
            seed: 5,
        };
        let (indptr, idx, val) = parts(w.generate(40, 30, "A->B")?);
        assert_eq!(indptr.len(), 41);
        for i in 0..40 {
            let mut row: Vec<u32> = idx[indptr[i]..indptr[i + 1]].to_vec();
            assert_eq!(row.len(), 7);
            row.sort_unstable();
            row.dedup();
            assert_eq!(row.len(), 7, "distinct targets in row {i}");
            assert!(row.iter().all(|&j| j < 30));
        }
        assert!(val.iter().all(|&x| (1.0..2.0).contains(&x)));
        Ok(())
    }

    #[test]
    fn bad_rules_are_named() {
        let w = Weights::random(1.5, 1.0, 1);
        let Weights::Random(r) = w else { panic!() };
        assert!(matches!(
            r.generate(3, 3, "A->B"),
            Err(Error::InvalidModel { .. })
        ));
        let r = RandomWeights {
            rule: Connectivity::FixedInDegree(4),
            value: WeightValue::Constant(1.0),
            seed: 0,
        };
        match r.generate(3, 10, "A->B") {
            Err(Error::InvalidModel { message }) => {
                assert!(
                    message.contains("A->B") && message.contains("in-degree 4"),
                    "{message}"
                )
            }
            other => panic!("{other:?}"),
        }
    }
}

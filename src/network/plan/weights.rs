//! A connection's weights as the graph will hold them: a dense float32
//! matrix, or compressed rows over presynaptic neurons (CSR: int64 row
//! pointers, int32 columns, float32 values, 8 bytes a synapse), and which of
//! the two [`Propagation`] chose. TensorFlow-free.

use crate::error::{Error, Result};
use crate::network::connectivity::Connectivity;
use crate::network::model::{Propagation, Weights};
use crate::network::plan::{check_size, finite, OwnBlock};

/// Weights given sparse (triplets, CSR, a generated connectivity) go dense
/// under [`Propagation::Auto`] from this density on (when the dense matrix
/// fits the memory limit): a spike then costs one contiguous row of
/// `post.n` values rather than `density * post.n` scattered ones.
pub const DENSE_FROM_DENSITY: f64 = 0.1;

pub(crate) enum PlanWeights {
    /// Row-major `pre.n x post.n`.
    Dense(Vec<f32>),
    /// Compressed rows by presynaptic neuron: the synapses of neuron `i` are
    /// `indptr[i]..indptr[i + 1]`, to columns `cols[..]` with weights `w[..]`;
    /// repeated columns in a row add up.
    Csr {
        indptr: Vec<i64>,
        cols: Vec<i32>,
        w: Vec<f32>,
    },
}

/// How a connection's weights are held in the graph.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WeightLayout {
    /// A dense `pre.n x post.n` float32 matrix (4 bytes per pair of
    /// neurons); spikes take its rows (or the matrix multiplies the
    /// activity, see [`Propagation`]).
    Dense,
    /// Compressed rows by presynaptic neuron (8 bytes per synapse); each
    /// step takes only the synapses of the neurons whose spikes arrive, so
    /// its cost follows spikes x fan-out, not the number of synapses.
    Sparse,
}

/// What [`Propagation`] chose for one connection, as
/// [`Simulator::propagation`](crate::network::Simulator::propagation)
/// reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct PropagationChoice {
    /// `pre->post`.
    pub connection: String,
    /// Dense matrix or compressed rows.
    pub layout: WeightLayout,
    /// Synapses given (entries of a sparse weight list, or `pre.n * post.n`
    /// for dense weights).
    pub synapses: u64,
    /// `synapses / (pre.n * post.n)`.
    pub density: f64,
    /// Why.
    pub reason: &'static str,
    /// Compressed rows summed by snn's own kernel (`SnnRowSums`,
    /// docs/design.md "Rows summed by snn's kernel") rather than by
    /// TensorFlow's ops.
    pub snn_kernel: bool,
}

/// Convert the user's weights into the graph's layout, choosing it by the
/// connection's [`Propagation`], the density and the memory `limit`.
pub(crate) fn plan_weights(
    w: Weights,
    pre_n: usize,
    post_n: usize,
    name: &str,
    propagation: Propagation,
    limit: u64,
) -> Result<(PlanWeights, PropagationChoice)> {
    let pairs = (pre_n as u64).saturating_mul(post_n as u64);
    let density = |synapses: u64| {
        if pairs == 0 {
            0.0
        } else {
            synapses as f64 / pairs as f64
        }
    };
    let choice = |layout, synapses: u64, reason| PropagationChoice {
        connection: name.to_string(),
        layout,
        synapses,
        density: density(synapses),
        reason,
        snn_kernel: false,
    };
    let dense_size = || {
        check_size(
            || format!("the dense weights of connection {name} ({pre_n} x {post_n} f32)"),
            pairs,
            4,
            limit,
            "sparse weights (Weights::Csr, triplets or a generated connectivity) for a \
             sparse connection, or smaller nuclei",
        )
    };
    let w = match w {
        Weights::Random(r) => {
            let expected = match r.rule {
                Connectivity::Bernoulli(p) => (p.clamp(0.0, 1.0) * pairs as f64) as u64,
                Connectivity::FixedInDegree(k) => (k as u64).saturating_mul(post_n as u64),
                Connectivity::FixedOutDegree(k) => (k as u64).saturating_mul(pre_n as u64),
            };
            check_size(
                || format!("the synapses of connection {name} ({expected} expected, 8 bytes each)"),
                expected,
                8,
                limit,
                "a lower connection probability or degree, or smaller nuclei",
            )?;
            r.generate(pre_n, post_n, name)?
        }
        w => w,
    };
    let (indptr, cols, w) = match w {
        Weights::Scalar(_) | Weights::Dense(_) | Weights::DenseF32(_) => {
            dense_size()?;
            let d = dense(w, pre_n, post_n, name)?;
            return Ok((d, choice(WeightLayout::Dense, pairs, "given dense")));
        }
        Weights::Triplets(t) => from_triplets(t, pre_n, post_n, name)?,
        Weights::Random(_) => {
            return Err(Error::Internal {
                context: format!("planning the weights of {name}"),
                message: "a random connectivity left ungenerated".into(),
            })
        }
        Weights::Csr {
            indptr,
            indices,
            values,
        } => {
            check_rows(&indptr, indices.len(), values.len(), pre_n, name)?;
            let cols = indices
                .iter()
                .map(|&j| column(j, post_n, name))
                .collect::<Result<Vec<i32>>>()?;
            drop(indices);
            let w = values
                .iter()
                .enumerate()
                .map(|(k, &x)| finite(x, || format!("weight #{k} of connection {name}")))
                .collect::<Result<Vec<f32>>>()?;
            (indptr.iter().map(|&p| p as i64).collect(), cols, w)
        }
        Weights::CsrF32 {
            indptr,
            indices,
            values,
        } => {
            check_rows(&indptr, indices.len(), values.len(), pre_n, name)?;
            if let Some(&j) = indices.iter().find(|&&j| j as usize >= post_n) {
                column(j as usize, post_n, name)?;
            }
            if let Some((k, &x)) = values.iter().enumerate().find(|(_, x)| !x.is_finite()) {
                finite(x as f64, || format!("weight #{k} of connection {name}"))?;
            }
            // Same size and alignment: the vector is reused, not copied.
            let cols: Vec<i32> = indices.into_iter().map(|j| j as i32).collect();
            (indptr.iter().map(|&p| p as i64).collect(), cols, values)
        }
    };
    let synapses = w.len() as u64;
    let csr = PlanWeights::Csr { indptr, cols, w };
    let (go_dense, reason) = match propagation {
        Propagation::Dense => (true, "Propagation::Dense asked for a dense matrix"),
        Propagation::EventDriven => (false, "Propagation::EventDriven on sparse weights"),
        Propagation::Auto if density(synapses) < DENSE_FROM_DENSITY => {
            (false, "Auto: sparse weights below the dense density")
        }
        Propagation::Auto if dense_size().is_err() => (
            false,
            "Auto: dense enough, but the dense matrix is over the memory limit",
        ),
        Propagation::Auto => (true, "Auto: sparse weights at or above the dense density"),
    };
    if go_dense {
        dense_size()?;
        Ok((
            densify(csr, pre_n, post_n),
            choice(WeightLayout::Dense, synapses, reason),
        ))
    } else {
        Ok((csr, choice(WeightLayout::Sparse, synapses, reason)))
    }
}

/// The weights of a connection between subgroups (`pre`, `post`: each the
/// range and the size of its nucleus) as rows and columns of the whole
/// nuclei's: the graph holds every connection in its nuclei's numbering.
/// Compressed rows gain empty rows and shifted columns (no synapse added);
/// a dense matrix is laid into zeros (its size checked against `limit`),
/// or with `own` only into the block [`OwnBlock`] names.
pub(crate) fn embed(
    w: PlanWeights,
    (pre, pre_all): (std::ops::Range<usize>, usize),
    (post, post_all): (std::ops::Range<usize>, usize),
    own: Option<OwnBlock>,
    name: &str,
    limit: u64,
) -> Result<PlanWeights> {
    if pre == (0..pre_all) && post == (0..post_all) {
        return Ok(w);
    }
    match w {
        PlanWeights::Csr { indptr, cols, w } => {
            let nnz = *indptr.last().unwrap_or(&0);
            let mut rows = Vec::with_capacity(pre_all + 1);
            rows.resize(pre.start + 1, 0i64);
            rows.extend_from_slice(&indptr[1..]);
            rows.resize(pre_all + 1, nnz);
            let shift = i32::try_from(post.start)
                .map_err(|_| sparse_err(name, format!("column offset {} over 2^31", post.start)))?;
            let cols = cols.into_iter().map(|j| j + shift).collect();
            Ok(PlanWeights::Csr {
                indptr: rows,
                cols,
                w,
            })
        }
        PlanWeights::Dense(d) => {
            // Rows: the whole nucleus's, or the subgroup's and one of
            // zeros; columns: the whole nucleus's or the subgroup's.
            let own = own.unwrap_or(OwnBlock {
                rows: None,
                cols: None,
                pre_all,
                post_all,
            });
            let (rows, width) = own.dims();
            let first_row = if own.rows.is_some() { 0 } else { pre.start };
            let first_col = if own.cols.is_some() { 0 } else { post.start };
            check_size(
                || {
                    format!("the dense weights of connection {name} within its nuclei ({rows} x {width} f32)")
                },
                (rows as u64).saturating_mul(width as u64),
                4,
                limit,
                "sparse weights (Weights::Csr, triplets or a generated connectivity) for a \
                 connection between subgroups",
            )?;
            let mut out = vec![0f32; rows * width];
            for (i, row) in d.chunks_exact(post.len()).enumerate() {
                let at = (first_row + i) * width + first_col;
                out[at..at + post.len()].copy_from_slice(row);
            }
            Ok(PlanWeights::Dense(out))
        }
    }
}

/// A dense matrix must be `(pre.n, post.n)`.
fn check_dims(got: (usize, usize), pre_n: usize, post_n: usize, name: &str) -> Result<()> {
    if got == (pre_n, post_n) {
        Ok(())
    } else {
        Err(Error::WeightShape {
            connection: name.into(),
            expected: (pre_n, post_n),
            got,
        })
    }
}

fn dense(w: Weights, pre_n: usize, post_n: usize, name: &str) -> Result<PlanWeights> {
    let what = |i: usize, j: usize| move || format!("weight {i}->{j} of connection {name}");
    match w {
        Weights::Scalar(x) => Ok(PlanWeights::Dense(vec![
            finite(x, || format!(
                "weight of connection {name}"
            ))?;
            pre_n * post_n
        ])),
        Weights::Dense(m) => {
            check_dims(m.dim(), pre_n, post_n, name)?;
            let mut out = Vec::with_capacity(pre_n * post_n);
            for ((i, j), x) in m.indexed_iter() {
                out.push(finite(*x, what(i, j))?);
            }
            Ok(PlanWeights::Dense(out))
        }
        Weights::DenseF32(m) => {
            check_dims(m.dim(), pre_n, post_n, name)?;
            if let Some(((i, j), x)) = m.indexed_iter().find(|(_, x)| !x.is_finite()) {
                return Err(Error::NonFinite {
                    what: what(i, j)(),
                    value: *x as f64,
                });
            }
            // Row-major data moves over as it is; other layouts are copied.
            let out = if m.is_standard_layout() {
                let (data, offset) = m.into_raw_vec_and_offset();
                match offset {
                    Some(0) | None => data,
                    Some(o) => data[o..o + pre_n * post_n].to_vec(),
                }
            } else {
                m.iter().copied().collect()
            };
            Ok(PlanWeights::Dense(out))
        }
        _ => Err(Error::Internal {
            context: format!("planning the weights of {name}"),
            message: "sparse weights taken for dense ones".into(),
        }),
    }
}

fn sparse_err(name: &str, problem: String) -> Error {
    Error::SparseWeights {
        connection: name.into(),
        problem,
    }
}

fn column(j: usize, post_n: usize, name: &str) -> Result<i32> {
    if j >= post_n {
        return Err(sparse_err(
            name,
            format!("column index {j} is >= post.n = {post_n}"),
        ));
    }
    Ok(j as i32)
}

/// Row pointers of a CSR matrix with `nnz` entries (and `values` values).
fn check_rows(indptr: &[usize], nnz: usize, values: usize, pre_n: usize, name: &str) -> Result<()> {
    if indptr.len() != pre_n + 1 {
        return Err(sparse_err(
            name,
            format!(
                "indptr has {} entries, expected pre.n + 1 = {}",
                indptr.len(),
                pre_n + 1
            ),
        ));
    }
    if nnz != values {
        return Err(sparse_err(
            name,
            format!("{nnz} indices but {values} values"),
        ));
    }
    if indptr[0] != 0 || indptr.windows(2).any(|p| p[0] > p[1]) || indptr[pre_n] != nnz {
        return Err(sparse_err(
            name,
            "indptr must start at 0, never decrease and end at the number of values".into(),
        ));
    }
    Ok(())
}

/// Triplets sorted into rows (a counting sort by presynaptic neuron,
/// keeping the given order within a row).
fn from_triplets(
    t: Vec<(usize, usize, f64)>,
    pre_n: usize,
    post_n: usize,
    name: &str,
) -> Result<(Vec<i64>, Vec<i32>, Vec<f32>)> {
    let mut indptr = vec![0i64; pre_n + 1];
    for &(i, j, x) in &t {
        if i >= pre_n || j >= post_n {
            return Err(sparse_err(
                name,
                format!("triplet ({i}, {j}) outside the {pre_n} x {post_n} matrix"),
            ));
        }
        finite(x, || format!("weight {i}->{j} of connection {name}"))?;
        indptr[i + 1] += 1;
    }
    for i in 0..pre_n {
        indptr[i + 1] += indptr[i];
    }
    let mut next: Vec<i64> = indptr[..pre_n].to_vec();
    let mut cols = vec![0i32; t.len()];
    let mut w = vec![0f32; t.len()];
    for (i, j, x) in t {
        let at = next[i] as usize;
        cols[at] = j as i32;
        w[at] = x as f32;
        next[i] += 1;
    }
    Ok((indptr, cols, w))
}

/// The dense matrix of CSR weights (repeated entries add up).
fn densify(csr: PlanWeights, pre_n: usize, post_n: usize) -> PlanWeights {
    match csr {
        PlanWeights::Csr { indptr, cols, w } => {
            let mut out = vec![0f32; pre_n * post_n];
            for i in 0..pre_n {
                for k in indptr[i] as usize..indptr[i + 1] as usize {
                    out[i * post_n + cols[k] as usize] += w[k];
                }
            }
            PlanWeights::Dense(out)
        }
        dense => dense,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn csr_of(p: PlanWeights) -> (Vec<i64>, Vec<i32>, Vec<f32>) {
        match p {
            PlanWeights::Csr { indptr, cols, w } => (indptr, cols, w),
            PlanWeights::Dense(_) => panic!("dense"),
        }
    }

    #[test]
    fn triplets_become_rows_in_their_order() -> Result<()> {
        let t = vec![(2, 0, 1.0), (0, 3, 2.0), (2, 1, 3.0), (0, 3, 4.0)];
        let (w, c) = plan_weights(
            Weights::Triplets(t),
            3,
            4,
            "A->B",
            Propagation::EventDriven,
            u64::MAX,
        )?;
        assert_eq!(c.layout, WeightLayout::Sparse);
        assert_eq!(c.synapses, 4);
        assert_eq!(
            csr_of(w),
            (vec![0, 2, 2, 4], vec![3, 3, 0, 1], vec![2.0, 4.0, 1.0, 3.0])
        );
        Ok(())
    }

    #[test]
    fn auto_goes_dense_from_the_density_on_and_sums_repeats() -> Result<()> {
        // 3 of 4 pairs: dense under Auto, with the repeated pair summed.
        let t = vec![(0, 0, 1.0), (0, 0, 0.5), (1, 1, 2.0)];
        let (w, c) = plan_weights(
            Weights::Triplets(t),
            2,
            2,
            "A->B",
            Propagation::Auto,
            u64::MAX,
        )?;
        assert_eq!(c.layout, WeightLayout::Dense);
        assert!((c.density - 0.75).abs() < 1e-12);
        match w {
            PlanWeights::Dense(d) => assert_eq!(d, vec![1.5, 0.0, 0.0, 2.0]),
            PlanWeights::Csr { .. } => panic!("sparse"),
        }
        // One pair in 100: sparse.
        let t = vec![(3, 7, 1.0)];
        let (_, c) = plan_weights(
            Weights::Triplets(t.clone()),
            10,
            10,
            "A->B",
            Propagation::Auto,
            u64::MAX,
        )?;
        assert_eq!(c.layout, WeightLayout::Sparse);
        // Dense asked for, but over the limit: the size error names it.
        let e = plan_weights(
            Weights::Triplets(t),
            10,
            10,
            "A->B",
            Propagation::Dense,
            100,
        );
        assert!(matches!(e, Err(Error::MemoryLimit { .. })));
        Ok(())
    }

    #[test]
    fn f32_rows_are_checked_and_kept() -> Result<()> {
        let ok = Weights::CsrF32 {
            indptr: vec![0, 1, 3],
            indices: vec![2, 0, 1],
            values: vec![0.5, -1.0, 2.0],
        };
        let (w, _) = plan_weights(ok, 2, 3, "A->B", Propagation::EventDriven, u64::MAX)?;
        assert_eq!(
            csr_of(w),
            (vec![0, 1, 3], vec![2, 0, 1], vec![0.5, -1.0, 2.0])
        );
        let bad = Weights::CsrF32 {
            indptr: vec![0, 1, 3],
            indices: vec![2, 0, 3],
            values: vec![0.5, -1.0, 2.0],
        };
        assert!(matches!(
            plan_weights(bad, 2, 3, "A->B", Propagation::Auto, u64::MAX),
            Err(Error::SparseWeights { .. })
        ));
        let nan = Weights::CsrF32 {
            indptr: vec![0, 1],
            indices: vec![0],
            values: vec![f32::NAN],
        };
        assert!(matches!(
            plan_weights(nan, 1, 3, "A->B", Propagation::Auto, u64::MAX),
            Err(Error::NonFinite { .. })
        ));
        Ok(())
    }
}

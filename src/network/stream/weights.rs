//! Weight snapshots in a streamed folder (`Connection::record_weights`),
//! per recorded connection with index `k` in its network:
//! `weights_<k>_times.npy` (float64, ms), `weights_<k>_values.npy`
//! (float32, snapshots x weights: a dense matrix's entries row by row, or
//! the values of compressed rows in their order) and, for compressed rows,
//! their structure, which learning does not change, once:
//! `weights_<k>_indptr.npy` and `weights_<k>_indices.npy` (int64).

use std::path::{Path, PathBuf};

use ndarray::Array2;
use serde::{Deserialize, Serialize};

use super::npy::{malformed, read_npy, Dtype, NpyData, NpyWriter};
use crate::error::{read_err, Error, Result};
use crate::network::plan::SnapshotPlan;
use crate::network::recording::WeightSnapshots;
use crate::network::Weights;

/// What the manifest says of one recorded connection.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct StreamedWeights {
    /// `pre->post`.
    connection: String,
    /// Its position in the network.
    index: usize,
    /// `[pre.n, post.n]`.
    shape: [usize; 2],
    /// Compressed rows (else a dense matrix).
    sparse: bool,
    /// Weights per snapshot.
    count: u64,
    /// Snapshots in the folder.
    pub(super) snapshots: u64,
}

impl StreamedWeights {
    /// The files of this connection in the folder `dir`.
    pub(super) fn files(&self, dir: &Path) -> Vec<PathBuf> {
        let mut whats = vec!["times", "values"];
        if self.sparse {
            whats.extend(["indptr", "indices"]);
        }
        whats
            .into_iter()
            .map(|what| weight_file(dir, self.index, what))
            .collect()
    }
}

/// The growing files of one recorded connection.
#[derive(Debug)]
pub(super) struct WeightFiles {
    times: NpyWriter,
    values: NpyWriter,
}

pub(super) fn weight_file(dir: &Path, index: usize, what: &str) -> PathBuf {
    dir.join(format!("weights_{index}_{what}.npy"))
}

impl WeightFiles {
    /// The files of `plan` in `dir`, opened by `open` (new, or a resumed
    /// stream's cut back), and what the manifest says of them.
    pub(super) fn open(
        dir: &Path,
        plan: &SnapshotPlan,
        open: &dyn Fn(PathBuf, Dtype, Option<usize>) -> Result<NpyWriter>,
    ) -> Result<(WeightFiles, StreamedWeights)> {
        let width = usize::try_from(plan.count).map_err(|_| Error::Internal {
            context: format!("streaming the weights of {}", plan.name),
            message: format!("{} weights a snapshot", plan.count),
        })?;
        let times = open(weight_file(dir, plan.index, "times"), Dtype::F64, None)?;
        let values = open(
            weight_file(dir, plan.index, "values"),
            Dtype::F32,
            Some(width),
        )?;
        let m = StreamedWeights {
            connection: plan.name.clone(),
            index: plan.index,
            shape: plan.shape,
            sparse: plan.sparse,
            count: plan.count,
            snapshots: times.rows(),
        };
        Ok((WeightFiles { times, values }, m))
    }

    /// Move the snapshots `snaps` holds into the files (it keeps none).
    pub(super) fn drain(
        &mut self,
        dir: &Path,
        m: &mut StreamedWeights,
        snaps: &mut WeightSnapshots,
    ) -> Result<()> {
        for (t, w) in snaps.times_ms.iter().zip(&snaps.values) {
            match w {
                Weights::DenseF32(a) if !m.sparse => match a.as_slice() {
                    Some(v) => self.values.append_f32(v)?,
                    None => self
                        .values
                        .append_f32(&a.iter().copied().collect::<Vec<_>>())?,
                },
                Weights::CsrF32 {
                    indptr,
                    indices,
                    values,
                } if m.sparse => {
                    if m.snapshots == 0 {
                        let ints = |what: &str, values: &mut dyn Iterator<Item = i64>| {
                            let path = weight_file(dir, m.index, what);
                            let mut w = NpyWriter::create(&path, Dtype::I64, None)?;
                            w.append_i64(values)?;
                            w.flush()
                        };
                        ints("indptr", &mut indptr.iter().map(|&x| x as i64))?;
                        ints("indices", &mut indices.iter().map(|&x| x as i64))?;
                    }
                    self.values.append_f32(values)?;
                }
                _ => {
                    return Err(Error::Internal {
                        context: format!("streaming the weights of {}", m.connection),
                        message: "a snapshot of another layout".into(),
                    })
                }
            }
            self.times.append_f64(&[*t])?;
            m.snapshots += 1;
        }
        snaps.times_ms.clear();
        snaps.values.clear();
        Ok(())
    }

    pub(super) fn flush(&mut self) -> Result<()> {
        self.times.flush()?;
        self.values.flush()
    }

    /// Keep the snapshots taken at step `step` or before (a simulator
    /// restored to that step's checkpoint goes on from it).
    pub(super) fn cut_back_to(
        &mut self,
        m: &mut StreamedWeights,
        step: usize,
        dt: f64,
    ) -> Result<()> {
        m.snapshots = super::cut_timed(&mut self.times, &mut self.values, |s| s <= step, dt)?;
        Ok(())
    }

    /// The growing files, for a checkpoint's row counts.
    pub(super) fn writers(&self) -> [&NpyWriter; 2] {
        [&self.times, &self.values]
    }
}

/// The snapshots of `m` in folder `dir`, checked against the manifest: as
/// many values as times x weights, compressed rows whose pointers and
/// columns fit the shape.
pub(super) fn read_weights(dir: &Path, m: &StreamedWeights) -> Result<WeightSnapshots> {
    let tp = weight_file(dir, m.index, "times");
    let vp = weight_file(dir, m.index, "values");
    let NpyData::F64(times) = read_npy(&tp)?.1 else {
        return Err(read_err(&tp, "expected float64"));
    };
    let NpyData::F32(values) = read_npy(&vp)?.1 else {
        return Err(read_err(&vp, "expected float32"));
    };
    let [pre, post] = m.shape;
    let count = usize::try_from(m.count).map_err(|_| malformed(&vp, "too many weights"))?;
    if Some(values.len()) != times.len().checked_mul(count) {
        return Err(malformed(
            &vp,
            format!(
                "{} values for {} snapshots of {count} weights",
                values.len(),
                times.len()
            ),
        ));
    }
    let snapshot = |k: usize| values[k * count..(k + 1) * count].to_vec();
    let out: Vec<Weights> = if m.sparse {
        let (indptr, indices) = if times.is_empty() {
            (Vec::new(), Vec::new())
        } else {
            read_structure(dir, m)?
        };
        (0..times.len())
            .map(|k| Weights::CsrF32 {
                indptr: indptr.clone(),
                indices: indices.clone(),
                values: snapshot(k),
            })
            .collect()
    } else {
        if pre.checked_mul(post) != Some(count) {
            return Err(malformed(
                &vp,
                format!("{count} weights a snapshot of a {pre} x {post} matrix"),
            ));
        }
        (0..times.len())
            .map(|k| {
                Array2::from_shape_vec((pre, post), snapshot(k))
                    .map(Weights::DenseF32)
                    .map_err(|e| malformed(&vp, e.to_string()))
            })
            .collect::<Result<_>>()?
    };
    Ok(WeightSnapshots {
        connection: m.connection.clone(),
        index: m.index,
        times_ms: times,
        values: out,
    })
}

/// Compressed rows' pointers and columns, checked: `pre.n + 1` pointers
/// from 0, never decreasing, to the weights per snapshot; as many columns,
/// each below `post.n`.
fn read_structure(dir: &Path, m: &StreamedWeights) -> Result<(Vec<usize>, Vec<u32>)> {
    let [pre, post] = m.shape;
    let pp = weight_file(dir, m.index, "indptr");
    let ip = weight_file(dir, m.index, "indices");
    let ptr = super::ints(&pp, read_npy(&pp)?.1)?;
    let cols = super::ints(&ip, read_npy(&ip)?.1)?;
    let ordered = ptr.first() == Some(&0)
        && ptr.windows(2).all(|w| w[0] <= w[1])
        && ptr.last().is_some_and(|&x| x as u64 == m.count);
    if Some(ptr.len()) != pre.checked_add(1) || !ordered {
        return Err(malformed(
            &pp,
            format!(
                "not the row pointers of {pre} rows and {} synapses",
                m.count
            ),
        ));
    }
    if cols.len() as u64 != m.count {
        return Err(malformed(
            &ip,
            format!("{} columns for {} synapses", cols.len(), m.count),
        ));
    }
    let cols = cols
        .into_iter()
        .map(|j| match u32::try_from(j) {
            Ok(j) if (j as usize) < post => Ok(j),
            _ => Err(malformed(&ip, format!("column {j} of {post}"))),
        })
        .collect::<Result<_>>()?;
    Ok((ptr.into_iter().map(|x| x as usize).collect(), cols))
}

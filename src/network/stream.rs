//! Recordings streamed to disk while a run goes on: `.npy` files that grow
//! (NumPy's format, version 1.0, with room in the header for any row count)
//! and a `stream.json` manifest, so a run of any length holds bounded
//! memory; and the reader that loads such a folder back as a [`Recording`].
//! TensorFlow-free.
//!
//! Files of a folder, per nucleus `<label>` (the names of
//! [`Recording::write_npz`]'s arrays, with the spikes as steps):
//! `<label>_spike_steps.npy` and `<label>_spike_neurons.npy` (int64, one
//! entry per spike, in step order), and per recorded variable `<var>`:
//! `<label>_<var>.npy` (float32, recorded steps x recorded neurons),
//! `<label>_<var>_times.npy` (float64, ms) and `<label>_<var>_neurons.npy`
//! (int64); per connection whose weights are recorded, the files of
//! `stream/weights.rs`. The headers and the manifest are brought up to date at the end
//! of every run (and every [`FLUSH_EVERY_STEPS`] steps during one), so a
//! folder is readable whenever no run is writing to it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{read_err, write_err, Error, Result};
use crate::network::recording::{NucleusRecording, Recording, Trace};

mod npy;
mod weights;
pub(crate) use npy::{malformed, read_npy, Dtype, NpyData, NpyWriter};
use weights::{read_weights, StreamedWeights, WeightFiles};

use crate::network::plan::SnapshotPlan;

/// Steps between two header/manifest updates during a long streamed run.
pub const FLUSH_EVERY_STEPS: usize = 10_000;

/// `stream.json`: what a streamed folder holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct StreamManifest {
    format: String,
    network: String,
    /// The in-process id of the network, so that its
    /// [`NucleusId`](crate::network::NucleusId)s work on a recording read
    /// back in the process that wrote it.
    network_id: u64,
    dt: f64,
    first_step: usize,
    steps: usize,
    nuclei: Vec<StreamedNucleus>,
    /// Connections whose weights are recorded (none in folders written
    /// before they were streamed).
    #[serde(default)]
    weights: Vec<StreamedWeights>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct StreamedNucleus {
    label: String,
    n: usize,
    spikes: bool,
    spike_count: u64,
    traces: Vec<String>,
}

const FORMAT: &str = "snn-stream-1";
const MANIFEST: &str = "stream.json";

/// The files of one recorded variable.
#[derive(Debug)]
struct TraceFiles {
    var: String,
    values: NpyWriter,
    times: NpyWriter,
}

#[derive(Debug)]
struct NucleusFiles {
    spikes: Option<(NpyWriter, NpyWriter)>,
    traces: Vec<TraceFiles>,
}

/// A folder a run streams its recording into.
#[derive(Debug)]
pub(crate) struct RecordingStream {
    dir: PathBuf,
    manifest: StreamManifest,
    files: Vec<NucleusFiles>,
    weights: Vec<WeightFiles>,
    since_flush: usize,
}

/// What one nucleus records, for a new stream.
pub(crate) struct StreamLayout<'a> {
    pub label: &'a str,
    pub n: usize,
    pub spikes: bool,
    pub traces: Vec<(&'a str, &'a [usize])>,
}

fn file(dir: &Path, label: &str, what: &str) -> PathBuf {
    dir.join(format!("{label}_{what}.npy"))
}

/// A name the network allows for a nucleus or a variable, so that no file
/// named after it leaves the folder.
fn plain(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with('.')
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c))
}

impl StreamManifest {
    /// Every file of the folder `dir` this manifest names (those of nuclei
    /// or variables whose names are not [`plain`] left out).
    fn files(&self, dir: &Path) -> Vec<PathBuf> {
        let mut out = Vec::new();
        for nu in self.nuclei.iter().filter(|nu| plain(&nu.label)) {
            if nu.spikes {
                out.push(file(dir, &nu.label, "spike_steps"));
                out.push(file(dir, &nu.label, "spike_neurons"));
            }
            for var in nu.traces.iter().filter(|v| plain(v)) {
                for what in ["", "_times", "_neurons"] {
                    out.push(file(dir, &nu.label, &format!("{var}{what}")));
                }
            }
        }
        for w in &self.weights {
            out.extend(w.files(dir));
        }
        out
    }
}

/// Remove the files of an earlier stream in `dir` (those its `stream.json`
/// names), so that a new stream into the folder leaves none of them beside
/// its own: a file of a nucleus or a connection the new network does not
/// record would otherwise look like part of the new recording. Files the
/// manifest does not name are left alone, and so is a folder without a
/// manifest of this format.
fn remove_earlier_stream(dir: &Path) -> Result<()> {
    let Ok(text) = std::fs::read(dir.join(MANIFEST)) else {
        return Ok(());
    };
    let Ok(old) = serde_json::from_slice::<StreamManifest>(&text) else {
        return Ok(());
    };
    if old.format != FORMAT {
        return Ok(());
    }
    for path in old.files(dir) {
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(write_err(&path, e)),
            _ => {}
        }
    }
    Ok(())
}

impl RecordingStream {
    /// A new stream into `dir` (created; the files of an earlier stream
    /// there are removed first), starting at `first_step`. With `rows`, the files exist
    /// already and are cut back to those rows (a checkpointed run resuming,
    /// see [`RecordingStream::rows`]).
    pub(crate) fn open(
        dir: &Path,
        network: (&str, u64),
        dt: f64,
        first_step: usize,
        layout: &[StreamLayout<'_>],
        snapshots: &[SnapshotPlan],
        rows: Option<&BTreeMap<String, u64>>,
    ) -> Result<RecordingStream> {
        std::fs::create_dir_all(dir).map_err(|e| write_err(dir, e))?;
        if rows.is_none() {
            remove_earlier_stream(dir)?;
        }
        let open = |path: PathBuf, dtype: Dtype, width: Option<usize>| -> Result<NpyWriter> {
            match rows {
                None => NpyWriter::create(&path, dtype, width),
                Some(rows) => {
                    let name = path
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default();
                    let r = rows.get(&name).copied().ok_or_else(|| Error::Checkpoint {
                        path: path.display().to_string(),
                        problem: "its length is not in the checkpoint".into(),
                    })?;
                    NpyWriter::reopen(&path, dtype, width, r)
                }
            }
        };
        let mut files = Vec::with_capacity(layout.len());
        let mut nuclei = Vec::with_capacity(layout.len());
        for nu in layout {
            let spikes = if nu.spikes {
                Some((
                    open(file(dir, nu.label, "spike_steps"), Dtype::I64, None)?,
                    open(file(dir, nu.label, "spike_neurons"), Dtype::I64, None)?,
                ))
            } else {
                None
            };
            let mut traces = Vec::with_capacity(nu.traces.len());
            for &(name, neurons) in &nu.traces {
                let mut idx = NpyWriter::create(
                    &file(dir, nu.label, &format!("{name}_neurons")),
                    Dtype::I64,
                    None,
                )?;
                idx.append_i64(neurons.iter().map(|&j| j as i64))?;
                idx.flush()?;
                traces.push(TraceFiles {
                    var: name.to_string(),
                    values: open(file(dir, nu.label, name), Dtype::F32, Some(neurons.len()))?,
                    times: open(
                        file(dir, nu.label, &format!("{name}_times")),
                        Dtype::F64,
                        None,
                    )?,
                });
            }
            let spike_count = spikes.as_ref().map_or(0, |(s, _)| s.rows());
            nuclei.push(StreamedNucleus {
                label: nu.label.to_string(),
                n: nu.n,
                spikes: nu.spikes,
                spike_count,
                traces: nu.traces.iter().map(|(v, _)| v.to_string()).collect(),
            });
            files.push(NucleusFiles { spikes, traces });
        }
        // Weight files a resumed stream's checkpoint does not list were not
        // streamed then: they start empty.
        let open_weights = |path: PathBuf, dtype: Dtype, width: Option<usize>| {
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
            match rows {
                Some(r) if name.is_some_and(|n| r.contains_key(&n)) => open(path, dtype, width),
                _ => NpyWriter::create(&path, dtype, width),
            }
        };
        let mut weights = Vec::with_capacity(snapshots.len());
        let mut streamed_weights = Vec::with_capacity(snapshots.len());
        for plan in snapshots {
            let (f, m) = WeightFiles::open(dir, plan, &open_weights)?;
            weights.push(f);
            streamed_weights.push(m);
        }
        let (first_step, steps) = match rows {
            Some(rows) => {
                // Resuming: the stream started where its manifest says.
                let path = dir.join(MANIFEST);
                let text = std::fs::read(&path).map_err(|e| read_err(&path, e))?;
                let old: StreamManifest =
                    serde_json::from_slice(&text).map_err(|e| read_err(&path, e))?;
                (
                    old.first_step,
                    rows.get(MANIFEST).copied().unwrap_or(0) as usize,
                )
            }
            None => (first_step, 0),
        };
        let mut stream = RecordingStream {
            dir: dir.to_path_buf(),
            manifest: StreamManifest {
                format: FORMAT.into(),
                network: network.0.to_string(),
                network_id: network.1,
                dt,
                first_step,
                steps,
                nuclei,
                weights: streamed_weights,
            },
            files,
            weights,
            since_flush: 0,
        };
        stream.flush()?;
        Ok(stream)
    }

    /// Move what `rec` holds of spikes, traces and weight snapshots into
    /// the files (`rec` keeps its counts and steps, and empty lists),
    /// flushing every [`FLUSH_EVERY_STEPS`] steps.
    pub(crate) fn drain(&mut self, rec: &mut Recording, steps: usize) -> Result<()> {
        for ((snaps, f), m) in rec
            .weights
            .iter_mut()
            .zip(&mut self.weights)
            .zip(&mut self.manifest.weights)
        {
            f.drain(&self.dir, m, snaps)?;
        }
        for ((r, f), m) in rec
            .nuclei
            .iter_mut()
            .zip(&mut self.files)
            .zip(&mut self.manifest.nuclei)
        {
            if let Some((st, ne)) = &mut f.spikes {
                st.append_i64(r.spikes.iter().map(|&(s, _)| s as i64))?;
                ne.append_i64(r.spikes.iter().map(|&(_, i)| i as i64))?;
                m.spike_count += r.spikes.len() as u64;
            }
            r.spikes.clear();
            for tf in &mut f.traces {
                if let Some(tr) = r.traces.get_mut(&tf.var) {
                    tf.values.append_f32(&tr.values)?;
                    tf.times.append_f64(&tr.times)?;
                    tr.values.clear();
                    tr.times.clear();
                }
            }
        }
        self.manifest.steps += steps;
        self.since_flush += steps;
        if self.since_flush >= FLUSH_EVERY_STEPS {
            self.flush()?;
        }
        Ok(())
    }

    /// Headers and manifest up to date.
    pub(crate) fn flush(&mut self) -> Result<()> {
        for f in &mut self.files {
            if let Some((a, b)) = &mut f.spikes {
                a.flush()?;
                b.flush()?;
            }
            for t in &mut f.traces {
                t.values.flush()?;
                t.times.flush()?;
            }
        }
        for w in &mut self.weights {
            w.flush()?;
        }
        let path = self.dir.join(MANIFEST);
        let json = serde_json::to_vec_pretty(&self.manifest).map_err(|e| write_err(&path, e))?;
        let tmp = self.dir.join(format!("{MANIFEST}.tmp"));
        std::fs::write(&tmp, json).map_err(|e| write_err(&tmp, e))?;
        std::fs::rename(&tmp, &path).map_err(|e| write_err(&path, e))?;
        self.since_flush = 0;
        Ok(())
    }

    /// Drop everything streamed for steps `step` and later (a simulator
    /// restored to an earlier checkpoint goes on from `step`): spikes of
    /// those steps and trace rows at their times. If the stream started
    /// after `step`, it starts again at `step`, empty.
    pub(crate) fn cut_back_to(&mut self, step: usize) -> Result<()> {
        let (first, end) = (
            self.manifest.first_step,
            self.manifest.first_step + self.manifest.steps,
        );
        if step >= end {
            if self.manifest.steps == 0 {
                // Nothing streamed yet: the stream starts where the run does.
                self.manifest.first_step = step;
                return self.flush();
            }
            if step == end {
                return Ok(());
            }
            return Err(Error::InvalidOption {
                option: "SimOptions::stream".into(),
                problem: format!(
                    "the stream in {} holds steps {first}..{end}; going on from step {step} \
                     would leave a gap in it: stream into another folder",
                    self.dir.display()
                ),
            });
        }
        self.flush()?;
        let dt = self.manifest.dt;
        for (f, m) in self.files.iter_mut().zip(&mut self.manifest.nuclei) {
            if let Some((steps, neurons)) = &mut f.spikes {
                let keep = match read_npy(&steps.path)?.1 {
                    NpyData::I64(v) => v.iter().take_while(|&&s| (s as usize) < step).count(),
                    _ => 0,
                } as u64;
                *steps = NpyWriter::reopen(&steps.path.clone(), Dtype::I64, None, keep)?;
                *neurons = NpyWriter::reopen(&neurons.path.clone(), Dtype::I64, None, keep)?;
                m.spike_count = keep;
            }
            for t in &mut f.traces {
                cut_timed(&mut t.times, &mut t.values, |s| s < step, dt)?;
            }
        }
        for (w, m) in self.weights.iter_mut().zip(&mut self.manifest.weights) {
            w.cut_back_to(m, step, dt)?;
        }
        self.manifest.first_step = first.min(step);
        self.manifest.steps = step - self.manifest.first_step;
        self.flush()
    }

    /// Rows of every growing file by file name, and the steps streamed
    /// under the manifest's name: what a checkpoint keeps to resume the
    /// stream with [`RecordingStream::open`].
    pub(crate) fn rows(&self) -> BTreeMap<String, u64> {
        let mut out = BTreeMap::new();
        let mut put = |w: &NpyWriter| {
            if let Some(name) = w.path.file_name() {
                out.insert(name.to_string_lossy().into_owned(), w.rows());
            }
        };
        for f in &self.files {
            if let Some((a, b)) = &f.spikes {
                put(a);
                put(b);
            }
            for t in &f.traces {
                put(&t.values);
                put(&t.times);
            }
        }
        for w in &self.weights {
            w.writers().into_iter().for_each(&mut put);
        }
        out.insert(MANIFEST.into(), self.manifest.steps as u64);
        out
    }
}

/// Cut a growing file of times (ms, float64) and its float32 rows back to
/// the rows whose step (time / `dt`, rounded) `keep`s, in order from the
/// first: how many.
fn cut_timed(
    times: &mut NpyWriter,
    values: &mut NpyWriter,
    keep: impl Fn(usize) -> bool,
    dt: f64,
) -> Result<u64> {
    let rows = match read_npy(&times.path)?.1 {
        NpyData::F64(v) => v
            .iter()
            .take_while(|&&x| keep((x / dt).round() as usize))
            .count(),
        _ => 0,
    } as u64;
    let width = values.width;
    *values = NpyWriter::reopen(&values.path.clone(), Dtype::F32, width, rows)?;
    *times = NpyWriter::reopen(&times.path.clone(), Dtype::F64, None, rows)?;
    Ok(rows)
}

fn ints(path: &Path, data: NpyData) -> Result<Vec<i64>> {
    match data {
        NpyData::I64(v) => Ok(v),
        _ => Err(malformed(path, "expected int64")),
    }
}

impl Recording {
    /// Load a folder a run streamed into ([`SimOptions::stream`](crate::network::SimOptions::stream),
    /// or a checkpointed run's `traces/`) as one recording, every spike,
    /// trace and weight snapshot in memory: for folders that fit. NumPy reads the same files
    /// (`numpy.load`, with `mmap_mode="r"` for the large ones).
    pub fn read_streamed(dir: impl AsRef<Path>) -> Result<Recording> {
        let dir = dir.as_ref();
        let path = dir.join(MANIFEST);
        let text = std::fs::read(&path).map_err(|e| read_err(&path, e))?;
        let m: StreamManifest = serde_json::from_slice(&text).map_err(|e| read_err(&path, e))?;
        if m.format != FORMAT {
            return Err(read_err(
                &path,
                format!("format {:?}, expected {FORMAT:?}", m.format),
            ));
        }
        if !(m.dt.is_finite() && m.dt > 0.0) {
            return Err(malformed(&path, format!("dt {}: not a time step", m.dt)));
        }
        let mut nuclei = Vec::with_capacity(m.nuclei.len());
        for nu in &m.nuclei {
            if !plain(&nu.label) || !nu.traces.iter().all(|t| plain(t)) {
                return Err(malformed(
                    &path,
                    format!(
                        "nucleus {:?} or its traces {:?}: not names a network gives",
                        nu.label, nu.traces
                    ),
                ));
            }
            // Neuron indices of `what` (read from `p`) inside the nucleus.
            let neuron_indices = |p: &Path, what: Vec<i64>| -> Result<Vec<usize>> {
                what.into_iter()
                    .map(|i| match usize::try_from(i) {
                        Ok(i) if i < nu.n => Ok(i),
                        _ => Err(malformed(p, format!("neuron {i} of a nucleus of {}", nu.n))),
                    })
                    .collect()
            };
            let mut spikes = Vec::new();
            if nu.spikes {
                let sp = file(dir, &nu.label, "spike_steps");
                let np = file(dir, &nu.label, "spike_neurons");
                let steps = ints(&sp, read_npy(&sp)?.1)?;
                let neurons = neuron_indices(&np, ints(&np, read_npy(&np)?.1)?)?;
                if steps.len() != neurons.len() {
                    return Err(malformed(
                        &np,
                        format!("{} neurons for {} spike steps", neurons.len(), steps.len()),
                    ));
                }
                spikes = steps
                    .into_iter()
                    .zip(neurons)
                    .map(|(s, i)| match usize::try_from(s) {
                        Ok(s) => Ok((s, i)),
                        Err(_) => Err(malformed(&sp, format!("spike step {s}"))),
                    })
                    .collect::<Result<_>>()?;
            }
            let mut traces = BTreeMap::new();
            for name in &nu.traces {
                let vp = file(dir, &nu.label, name);
                let tp = file(dir, &nu.label, &format!("{name}_times"));
                let ip = file(dir, &nu.label, &format!("{name}_neurons"));
                let NpyData::F32(values) = read_npy(&vp)?.1 else {
                    return Err(read_err(&vp, "expected float32"));
                };
                let NpyData::F64(times) = read_npy(&tp)?.1 else {
                    return Err(read_err(&tp, "expected float64"));
                };
                let neurons = neuron_indices(&ip, ints(&ip, read_npy(&ip)?.1)?)?;
                if Some(values.len()) != times.len().checked_mul(neurons.len()) {
                    return Err(malformed(
                        &vp,
                        format!(
                            "{} values for {} times x {} neurons",
                            values.len(),
                            times.len(),
                            neurons.len()
                        ),
                    ));
                }
                traces.insert(
                    name.clone(),
                    Trace {
                        neurons,
                        times,
                        values,
                    },
                );
            }
            nuclei.push(NucleusRecording {
                label: nu.label.clone(),
                n: nu.n,
                spike_count: if nu.spikes {
                    spikes.len() as u64
                } else {
                    nu.spike_count
                },
                spikes,
                traces,
            });
        }
        let weights = m
            .weights
            .iter()
            .map(|w| read_weights(dir, w))
            .collect::<Result<_>>()?;
        Ok(Recording {
            network: m.network_id,
            dt: m.dt,
            first_step: m.first_step,
            steps: m.steps,
            nuclei,
            weights,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::npy::HEADER_BYTES;
    use super::*;

    fn tempdir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("snn-stream-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap_or(());
        d
    }

    /// An earlier manifest's files are removed, but never one named after
    /// a label or variable that would lead out of the folder.
    #[test]
    fn earlier_files_outside_the_folder_are_never_removed() -> Result<()> {
        let root = tempdir("earlier");
        let dir = root.join("stream");
        std::fs::create_dir_all(&dir).map_err(|e| write_err(&dir, e))?;
        let outside = root.join("x_spike_steps.npy");
        let inside = file(&dir, "A", "v");
        for p in [&outside, &inside] {
            std::fs::write(p, b"data").map_err(|e| write_err(p, e))?;
        }
        let manifest = serde_json::json!({
            "format": FORMAT, "network": "n", "network_id": 1, "dt": 0.1,
            "first_step": 0, "steps": 1,
            "nuclei": [
                {"label": "../x", "n": 1, "spikes": true, "spike_count": 0, "traces": []},
                {"label": "A", "n": 1, "spikes": false, "spike_count": 0, "traces": ["v", "../../x"]}
            ]
        });
        let path = dir.join(MANIFEST);
        std::fs::write(&path, manifest.to_string()).map_err(|e| write_err(&path, e))?;
        remove_earlier_stream(&dir)?;
        assert!(outside.exists());
        assert!(!inside.exists());
        let _ = std::fs::remove_dir_all(&root);
        Ok(())
    }

    #[test]
    fn a_growing_npy_reads_back_with_its_rows() -> Result<()> {
        let d = tempdir("npy");
        let p = d.join("x.npy");
        let mut w = NpyWriter::create(&p, Dtype::F32, Some(3))?;
        w.append_f32(&[1.0, 2.0, 3.0])?;
        w.flush()?;
        assert_eq!(
            read_npy(&p)?,
            (vec![1, 3], NpyData::F32(vec![1.0, 2.0, 3.0]))
        );
        w.append_f32(&[4.0, 5.0, 6.0, 7.0, 8.0, 9.0])?;
        w.flush()?;
        let (shape, data) = read_npy(&p)?;
        assert_eq!(shape, vec![3, 3]);
        assert_eq!(data, NpyData::F32((1..=9).map(|x| x as f32).collect()));
        // A header is 128 bytes whatever the count, and NumPy's layout.
        let bytes = std::fs::read(&p).map_err(|e| read_err(&p, e))?;
        assert_eq!(bytes.len(), HEADER_BYTES + 9 * 4);
        assert_eq!(bytes[HEADER_BYTES - 1], b'\n');
        assert!(String::from_utf8_lossy(&bytes[10..HEADER_BYTES]).contains("'shape': (3, 3)"));
        // Cut back to one row, as a resumed checkpointed run does.
        drop(w);
        let mut w = NpyWriter::reopen(&p, Dtype::F32, Some(3), 1)?;
        w.append_f32(&[0.5, 0.25, 0.125])?;
        w.flush()?;
        assert_eq!(
            read_npy(&p)?,
            (
                vec![2, 3],
                NpyData::F32(vec![1.0, 2.0, 3.0, 0.5, 0.25, 0.125])
            )
        );
        let _ = std::fs::remove_dir_all(&d);
        Ok(())
    }

    #[test]
    fn one_dimensional_int_arrays() -> Result<()> {
        let d = tempdir("ints");
        let p = d.join("i.npy");
        let mut w = NpyWriter::create(&p, Dtype::I64, None)?;
        w.flush()?;
        assert_eq!(read_npy(&p)?, (vec![0], NpyData::I64(vec![])));
        w.append_i64([3, -1, i64::MAX])?;
        w.flush()?;
        assert_eq!(
            read_npy(&p)?,
            (vec![3], NpyData::I64(vec![3, -1, i64::MAX]))
        );
        let text = String::from_utf8_lossy(
            &std::fs::read(&p).map_err(|e| read_err(&p, e))?[..HEADER_BYTES],
        )
        .into_owned();
        assert!(text.contains("'shape': (3,)"), "{text}");
        let _ = std::fs::remove_dir_all(&d);
        Ok(())
    }
}

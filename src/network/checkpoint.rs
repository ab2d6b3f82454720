//! Checkpoints on disk, and the spike stream of a checkpointed run.
//! TensorFlow-free: the simulator runs TensorFlow's `SaveV2`/`RestoreV2` and
//! this module makes their output safe to keep.
//!
//! A checkpoint is a folder:
//!
//! ```text
//! step-000005000/
//!   state.index                  TensorFlow's tensor bundle, written by SaveV2
//!   state.data-00000-of-00001    (every variable: v, u, I, spike rings,
//!                                 kernel traces, weights, the step counter)
//!   checkpoint.json              what wrote it (network, dt, step, the
//!                                 variables' names, types and shapes) and
//!                                 each state file's size and FNV-1a checksum
//! ```
//!
//! It is written under a temporary name beside its final one and renamed
//! into place when complete, so a crash leaves either the old checkpoint or
//! the new one, never half of one. Before restoring, every state file's size
//! and checksum are verified (TensorFlow checks its own CRCs again when it
//! reads), so a truncated or corrupt checkpoint is an error, never loaded.
//!
//! A checkpointed run ([`Checkpointing`]) keeps, in its folder, the latest
//! checkpoint, a `latest` file naming it (replaced atomically), and
//! `spikes.csv`, the spikes streamed as the run goes: each chunk's spikes
//! are appended and synced to disk before the chunk's checkpoint is taken,
//! and the checkpoint records the stream's length, so resuming cuts off
//! whatever a crash left after it.

mod simulator;

use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{read_err, write_err, Error, Result};

/// File name prefix that `SaveV2` writes under in a checkpoint folder.
pub(crate) const STATE_PREFIX: &str = "state";
const MANIFEST: &str = "checkpoint.json";
const FORMAT: &str = "snn-checkpoint-1";
const LATEST: &str = "latest";
const SPIKES: &str = "spikes.csv";

/// A variable as a checkpoint lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct VarEntry {
    pub name: String,
    pub dtype: String,
    pub shape: Vec<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct FileEntry {
    name: String,
    bytes: u64,
    fnv1a64: String,
}

/// `checkpoint.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Manifest {
    format: String,
    pub network: String,
    pub dt: f64,
    pub step: u64,
    pub t_ms: f64,
    pub variables: Vec<VarEntry>,
    files: Vec<FileEntry>,
    /// Length of the run's `spikes.csv` when this checkpoint was taken.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spike_stream_bytes: Option<u64>,
    /// Rows of each file of the run's trace stream (`traces/`) when this
    /// checkpoint was taken.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_rows: Option<std::collections::BTreeMap<String, u64>>,
}

impl Manifest {
    pub(crate) fn new(network: &str, dt: f64, step: u64, variables: Vec<VarEntry>) -> Manifest {
        Manifest {
            format: FORMAT.into(),
            network: network.into(),
            dt,
            step,
            t_ms: step as f64 * dt,
            variables,
            files: Vec::new(),
            spike_stream_bytes: None,
            trace_rows: None,
        }
    }

    /// The key under which this checkpoint holds each of `ours`: its name,
    /// or, for a checkpoint written before the graph's names moved, its
    /// older name from `legacy` (that entry then takes the current name, so
    /// [`check_fits`](Self::check_fits) compares like with like).
    pub(crate) fn keys_for(&mut self, ours: &[VarEntry], legacy: &[Option<String>]) -> Vec<String> {
        let mut keys = Vec::with_capacity(ours.len());
        for (k, want) in ours.iter().enumerate() {
            let has = |name: &str| self.variables.iter().position(|v| v.name == name);
            let key = match (has(&want.name), legacy.get(k).and_then(|l| l.as_deref())) {
                (None, Some(old)) => match has(old) {
                    Some(at) => {
                        self.variables[at].name = want.name.clone();
                        old.to_string()
                    }
                    None => want.name.clone(),
                },
                _ => want.name.clone(),
            };
            keys.push(key);
        }
        keys
    }

    /// Compare with what the restoring simulator has.
    pub(crate) fn check_fits(&self, path: &Path, dt: f64, variables: &[VarEntry]) -> Result<()> {
        let mismatch = |what: String, expected: String, found: String| Error::CheckpointMismatch {
            path: path.display().to_string(),
            what,
            expected,
            found,
        };
        if self.dt != dt {
            return Err(mismatch(
                "dt".into(),
                format!("{dt} ms"),
                format!("{} ms", self.dt),
            ));
        }
        for want in variables {
            match self.variables.iter().find(|v| v.name == want.name) {
                None => {
                    return Err(mismatch(
                        format!("variable {:?}", want.name),
                        "present".into(),
                        "absent".into(),
                    ))
                }
                Some(got) if got != want => {
                    return Err(mismatch(
                        format!("variable {:?}", want.name),
                        format!("{} {:?}", want.dtype, want.shape),
                        format!("{} {:?}", got.dtype, got.shape),
                    ))
                }
                Some(_) => {}
            }
        }
        if let Some(extra) = self
            .variables
            .iter()
            .find(|v| !variables.iter().any(|w| w.name == v.name))
        {
            return Err(mismatch(
                format!("variable {:?}", extra.name),
                "absent".into(),
                "present".into(),
            ));
        }
        Ok(())
    }
}

fn problem(path: &Path, problem: impl Into<String>) -> Error {
    Error::Checkpoint {
        path: path.display().to_string(),
        problem: problem.into(),
    }
}

/// FNV-1a (64 bit) of a file and its length. Any single changed byte changes
/// the hash (each step is a bijection of the running hash).
fn fnv1a64(path: &Path) -> Result<(u64, u64)> {
    let mut file = File::open(path).map_err(|e| read_err(path, e))?;
    let mut buf = vec![0u8; 1 << 20];
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut len = 0u64;
    loop {
        let k = file.read(&mut buf).map_err(|e| read_err(path, e))?;
        if k == 0 {
            break;
        }
        for &b in &buf[..k] {
            h = (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3);
        }
        len += k as u64;
    }
    Ok((h, len))
}

/// Write `bytes` to `path` atomically: a temporary file beside it, synced,
/// then renamed over it.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = sibling(path, "tmp");
    write_synced(&tmp, bytes)?;
    fs::rename(&tmp, path).map_err(|e| write_err(path, e))?;
    sync_parent(path);
    Ok(())
}

/// Write `bytes` to `path` and sync them to disk.
fn write_synced(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut f = File::create(path).map_err(|e| write_err(path, e))?;
    f.write_all(bytes).map_err(|e| write_err(path, e))?;
    f.sync_all().map_err(|e| write_err(path, e))
}

/// `.<name>.<what>-<pid>` in the same folder as `path`.
fn sibling(path: &Path, what: &str) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "checkpoint".into());
    path.with_file_name(format!(".{name}.{what}-{}", std::process::id()))
}

/// Make a rename durable (best effort: not every platform can sync a folder).
fn sync_parent(path: &Path) {
    if let Some(parent) = path.parent() {
        let parent = if parent.as_os_str().is_empty() {
            Path::new(".")
        } else {
            parent
        };
        if let Ok(d) = File::open(parent) {
            let _ = d.sync_all();
        }
    }
}

/// A fresh, empty staging folder for a checkpoint that will become `target`.
pub(crate) fn staging(target: &Path) -> Result<PathBuf> {
    if let Some(parent) = target.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent).map_err(|e| write_err(parent, e))?;
    }
    let dir = sibling(target, "tmp");
    if dir.exists() {
        fs::remove_dir_all(&dir).map_err(|e| write_err(&dir, e))?;
    }
    fs::create_dir(&dir).map_err(|e| write_err(&dir, e))?;
    Ok(dir)
}

/// Seal the staging folder (checksums and manifest, synced) and move it to
/// `target`. An existing `target` is replaced: it is renamed aside first and
/// removed only once the new checkpoint is in place.
pub(crate) fn commit(staging: &Path, target: &Path, mut manifest: Manifest) -> Result<()> {
    let mut files = Vec::new();
    for entry in fs::read_dir(staging).map_err(|e| write_err(staging, e))? {
        let entry = entry.map_err(|e| write_err(staging, e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with(STATE_PREFIX) {
            let path = entry.path();
            File::open(&path)
                .and_then(|f| f.sync_all())
                .map_err(|e| write_err(&path, e))?;
            let (h, bytes) = fnv1a64(&path)?;
            files.push(FileEntry {
                name,
                bytes,
                fnv1a64: format!("{h:016x}"),
            });
        }
    }
    files.sort_by(|a, b| a.name.cmp(&b.name));
    if !files.iter().any(|f| f.name.ends_with(".index")) {
        return Err(problem(staging, "TensorFlow wrote no state.index"));
    }
    manifest.files = files;
    let json = serde_json::to_vec_pretty(&manifest).map_err(|e| write_err(staging, e))?;
    let mpath = staging.join(MANIFEST);
    write_synced(&mpath, &json)?;
    sync_parent(&mpath);
    let old = sibling(target, "old");
    let replacing = target.exists();
    if replacing {
        if old.exists() {
            fs::remove_dir_all(&old).map_err(|e| write_err(&old, e))?;
        }
        fs::rename(target, &old).map_err(|e| write_err(target, e))?;
    }
    fs::rename(staging, target).map_err(|e| write_err(target, e))?;
    sync_parent(target);
    if replacing {
        fs::remove_dir_all(&old).map_err(|e| write_err(&old, e))?;
    }
    Ok(())
}

/// Read a checkpoint's manifest and verify every state file it lists: an
/// error if anything is missing, truncated, extended or changed.
pub(crate) fn verify(dir: &Path) -> Result<Manifest> {
    if !dir.is_dir() {
        return Err(problem(dir, "no such checkpoint folder"));
    }
    let mpath = dir.join(MANIFEST);
    let text = fs::read(&mpath).map_err(|e| problem(&mpath, format!("cannot read: {e}")))?;
    let manifest: Manifest = serde_json::from_slice(&text)
        .map_err(|e| problem(&mpath, format!("not a valid checkpoint manifest: {e}")))?;
    if manifest.format != FORMAT {
        return Err(problem(
            &mpath,
            format!("format {:?}, expected {FORMAT:?}", manifest.format),
        ));
    }
    if manifest.files.is_empty() {
        return Err(problem(&mpath, "lists no state files"));
    }
    for f in &manifest.files {
        let path = dir.join(&f.name);
        if f.name.contains('/') || f.name.contains('\\') || f.name.starts_with('.') {
            return Err(problem(&mpath, format!("bad file name {:?}", f.name)));
        }
        if !path.is_file() {
            return Err(problem(&path, "missing"));
        }
        let (h, bytes) = fnv1a64(&path)?;
        if bytes != f.bytes {
            return Err(problem(
                &path,
                format!(
                    "{bytes} bytes, but {} were written (truncated or extended)",
                    f.bytes
                ),
            ));
        }
        if format!("{h:016x}") != f.fnv1a64 {
            return Err(problem(
                &path,
                format!(
                    "checksum {h:016x} differs from the {} written: the file is corrupt",
                    f.fnv1a64
                ),
            ));
        }
    }
    Ok(manifest)
}

/// Periodic checkpoints and a spike stream for long runs; see
/// [`Simulator::run_checkpointed`](crate::network::Simulator::run_checkpointed).
///
/// Default: a checkpoint every 100 ms of simulated time.
#[derive(Debug, Clone, PartialEq)]
pub struct Checkpointing {
    dir: PathBuf,
    every_ms: f64,
}

impl Checkpointing {
    /// Checkpoints and `spikes.csv` in `dir` (created if needed).
    pub fn new(dir: impl Into<PathBuf>) -> Checkpointing {
        Checkpointing {
            dir: dir.into(),
            every_ms: 100.0,
        }
    }

    /// Simulated ms between checkpoints: a crash loses at most this much
    /// work. Rounded to whole steps, at least one.
    pub fn every_ms(mut self, every_ms: f64) -> Checkpointing {
        self.every_ms = every_ms;
        self
    }

    /// The folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The spike stream, `spikes.csv`: a `#` header naming the nuclei and
    /// dt, then `step,nucleus,neuron` rows (spike time = step × dt).
    pub fn spike_file(&self) -> PathBuf {
        self.dir.join(SPIKES)
    }

    /// The trace stream: the recorded traces of a checkpointed run as
    /// growing `.npy` files (see
    /// [`Recording::read_streamed`](crate::network::Recording::read_streamed)).
    pub fn trace_dir(&self) -> PathBuf {
        self.dir.join("traces")
    }

    pub(crate) fn every(&self) -> f64 {
        self.every_ms
    }

    /// The latest complete checkpoint, if any.
    pub fn latest(&self) -> Result<Option<PathBuf>> {
        let path = self.dir.join(LATEST);
        match fs::read_to_string(&path) {
            Ok(name) => {
                let name = name.trim();
                if name.is_empty() || name.contains('/') || name.contains('\\') {
                    return Err(problem(&path, format!("names no checkpoint: {name:?}")));
                }
                Ok(Some(self.dir.join(name)))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(read_err(&path, e)),
        }
    }

    /// Folder for the checkpoint at `step`.
    pub(crate) fn folder_for(&self, step: usize) -> PathBuf {
        self.dir.join(format!("step-{step:09}"))
    }

    /// Point `latest` at `folder` (atomically) and remove older checkpoints.
    pub(crate) fn set_latest(&self, folder: &Path) -> Result<()> {
        let name = folder
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .ok_or_else(|| problem(folder, "no folder name"))?;
        write_atomic(&self.dir.join(LATEST), name.as_bytes())?;
        for entry in fs::read_dir(&self.dir).map_err(|e| write_err(&self.dir, e))? {
            let entry = entry.map_err(|e| write_err(&self.dir, e))?;
            let other = entry.file_name().to_string_lossy().into_owned();
            if other.starts_with("step-") && other != name {
                let p = entry.path();
                fs::remove_dir_all(&p).map_err(|e| write_err(&p, e))?;
            }
        }
        Ok(())
    }
}

/// Appends spikes to `spikes.csv`, synced at every checkpoint.
pub(crate) struct SpikeStream {
    path: PathBuf,
    out: BufWriter<File>,
}

impl SpikeStream {
    /// Open the stream for appending. With `keep = Some(len)` the file is
    /// cut to `len` bytes (what the checkpoint being resumed had seen; an
    /// error if the file is shorter); with `None` it starts afresh with
    /// `header`.
    pub(crate) fn open(path: &Path, keep: Option<u64>, header: &str) -> Result<SpikeStream> {
        let file = match keep {
            Some(len) => {
                let f = OpenOptions::new()
                    .read(true)
                    .write(true)
                    .open(path)
                    .map_err(|e| problem(path, format!("the spike stream is gone: {e}")))?;
                let have = f.metadata().map_err(|e| read_err(path, e))?.len();
                if have < len {
                    return Err(problem(
                        path,
                        format!("{have} bytes, but the checkpoint saw {len}: spikes were lost"),
                    ));
                }
                f.set_len(len).map_err(|e| write_err(path, e))?;
                f
            }
            None => {
                let mut f = File::create(path).map_err(|e| write_err(path, e))?;
                f.write_all(header.as_bytes())
                    .map_err(|e| write_err(path, e))?;
                f
            }
        };
        let mut out = BufWriter::new(file);
        std::io::Seek::seek(&mut out, std::io::SeekFrom::End(0)).map_err(|e| write_err(path, e))?;
        Ok(SpikeStream {
            path: path.to_path_buf(),
            out,
        })
    }

    pub(crate) fn spike(&mut self, step: usize, nucleus: &str, neuron: usize) -> Result<()> {
        writeln!(self.out, "{step},{nucleus},{neuron}").map_err(|e| write_err(&self.path, e))
    }

    /// Flush and sync; the stream's length.
    pub(crate) fn sync(&mut self) -> Result<u64> {
        self.out.flush().map_err(|e| write_err(&self.path, e))?;
        let f = self.out.get_ref();
        f.sync_data().map_err(|e| write_err(&self.path, e))?;
        Ok(f.metadata().map_err(|e| write_err(&self.path, e))?.len())
    }
}

/// The header of a spike stream.
pub(crate) fn stream_header(dt: f64, nuclei: &[(String, usize)]) -> String {
    let list: Vec<String> = nuclei.iter().map(|(l, n)| format!("{l}:{n}")).collect();
    format!(
        "# snn spike stream; dt={dt}; nuclei={}\nstep,nucleus,neuron\n",
        list.join(" ")
    )
}

/// Rows `(step, nucleus, neuron)` of a spike stream.
pub(crate) fn read_stream(path: &Path) -> Result<Vec<(usize, String, usize)>> {
    let f = File::open(path).map_err(|e| read_err(path, e))?;
    let mut rows = Vec::new();
    for (k, line) in BufReader::new(f).lines().enumerate() {
        let line = line.map_err(|e| read_err(path, e))?;
        if line.starts_with('#') || line == "step,nucleus,neuron" || line.is_empty() {
            continue;
        }
        let bad = || {
            problem(
                path,
                format!("line {}: not step,nucleus,neuron: {line:?}", k + 1),
            )
        };
        let mut parts = line.rsplitn(2, ',');
        let neuron = parts.next().ok_or_else(bad)?;
        let rest = parts.next().ok_or_else(bad)?;
        let (step, nucleus) = rest.split_once(',').ok_or_else(bad)?;
        rows.push((
            step.parse().map_err(|_| bad())?,
            nucleus.to_string(),
            neuron.parse().map_err(|_| bad())?,
        ));
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tempdir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("snn-ckpt-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        d
    }

    fn fake_checkpoint(dir: &Path) -> Result<PathBuf> {
        let target = dir.join("ck");
        let st = staging(&target)?;
        fs::write(st.join("state.index"), b"index bytes").unwrap();
        fs::write(st.join("state.data-00000-of-00001"), vec![7u8; 5000]).unwrap();
        let m = Manifest::new(
            "net",
            0.1,
            42,
            vec![VarEntry {
                name: "A/v".into(),
                dtype: "float32".into(),
                shape: vec![3],
            }],
        );
        commit(&st, &target, m)?;
        Ok(target)
    }

    #[test]
    fn every_single_byte_change_and_truncation_is_detected() -> Result<()> {
        let dir = tempdir("flip");
        let target = fake_checkpoint(&dir)?;
        assert_eq!(verify(&target)?.step, 42);
        assert!(
            !sibling(&target, "tmp").exists(),
            "staging folder left behind"
        );
        let data = target.join("state.data-00000-of-00001");
        let original = fs::read(&data).unwrap();
        for pos in [0, 1, 2500, 4999] {
            let mut bytes = original.clone();
            bytes[pos] ^= 0x10;
            fs::write(&data, &bytes).unwrap();
            let err = verify(&target).unwrap_err();
            assert!(err.to_string().contains("corrupt"), "{err}");
        }
        fs::write(&data, &original[..4000]).unwrap();
        let err = verify(&target).unwrap_err();
        assert!(err.to_string().contains("truncated"), "{err}");
        fs::write(&data, &original).unwrap();
        verify(&target)?;
        fs::write(target.join(MANIFEST), b"{ not json").unwrap();
        assert!(matches!(verify(&target), Err(Error::Checkpoint { .. })));
        let _ = fs::remove_dir_all(&dir);
        Ok(())
    }

    #[test]
    fn replacing_a_checkpoint_keeps_exactly_one() -> Result<()> {
        let dir = tempdir("replace");
        fake_checkpoint(&dir)?;
        fake_checkpoint(&dir)?;
        let names: Vec<String> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, vec!["ck".to_string()]);
        let _ = fs::remove_dir_all(&dir);
        Ok(())
    }

    #[test]
    fn mismatched_variables_are_named() {
        let m = Manifest::new(
            "net",
            0.1,
            0,
            vec![VarEntry {
                name: "A/v".into(),
                dtype: "float32".into(),
                shape: vec![3],
            }],
        );
        let here = vec![VarEntry {
            name: "A/v".into(),
            dtype: "float32".into(),
            shape: vec![4],
        }];
        let err = m.check_fits(Path::new("x"), 0.1, &here).unwrap_err();
        assert!(err.to_string().contains("\"A/v\""), "{err}");
        assert!(m.check_fits(Path::new("x"), 0.2, &m.variables).is_err());
        assert!(m.check_fits(Path::new("x"), 0.1, &m.variables).is_ok());
    }

    #[test]
    fn stream_resumes_at_the_checkpointed_length() -> Result<()> {
        let dir = tempdir("stream");
        let path = dir.join(SPIKES);
        let header = stream_header(0.1, &[("A,B".into(), 3)]);
        let mut s = SpikeStream::open(&path, None, &header)?;
        s.spike(1, "A,B", 2)?;
        let len = s.sync()?;
        s.spike(2, "A,B", 0)?;
        s.sync()?;
        drop(s);
        let mut s = SpikeStream::open(&path, Some(len), &header)?;
        s.spike(3, "A,B", 1)?;
        s.sync()?;
        assert_eq!(
            read_stream(&path)?,
            vec![(1, "A,B".to_string(), 2), (3, "A,B".to_string(), 1)]
        );
        assert!(SpikeStream::open(&path, Some(1 << 20), &header).is_err());
        let _ = fs::remove_dir_all(&dir);
        Ok(())
    }
}

//! An independent reference stepper: docs/semantics.md §1 line by line, in f64, on plain
//! vectors. It shares no code with the engine.
#![allow(dead_code)]

pub mod draws;
pub mod models;
pub mod song;
pub mod stats;

pub struct RefNucleus {
    pub a: Vec<f64>,
    pub b: Vec<f64>,
    pub c: Vec<f64>,
    pub d: Vec<f64>,
    /// Iext(t) for every neuron.
    pub iext: Box<dyn FnMut(f64) -> Vec<f64>>,
}

impl RefNucleus {
    pub fn uniform(
        n: usize,
        a: f64,
        b: f64,
        c: f64,
        d: f64,
        iext: impl FnMut(f64) -> Vec<f64> + 'static,
    ) -> Self {
        RefNucleus {
            a: vec![a; n],
            b: vec![b; n],
            c: vec![c; n],
            d: vec![d; n],
            iext: Box::new(iext),
        }
    }
    pub fn n(&self) -> usize {
        self.a.len()
    }
}

pub struct RefConn {
    pub pre: usize,
    pub post: usize,
    /// w[i][j], from pre neuron i to post neuron j.
    pub w: Vec<Vec<f64>>,
    pub delay_steps: usize,
    /// kernel(k * dt) for k = 0..K.
    pub kernel: Vec<f64>,
}

pub struct RefResult {
    /// (step, neuron) per nucleus, in step then neuron order.
    pub spikes: Vec<Vec<(usize, usize)>>,
    /// v after each step, per nucleus: v[nucleus][step][neuron].
    pub v: Vec<Vec<Vec<f64>>>,
}

pub fn simulate(nuclei: &mut [RefNucleus], conns: &[RefConn], dt: f64, steps: usize) -> RefResult {
    simulate_opts(nuclei, conns, dt, steps, true)
}

/// As [`simulate`]; `record_v: false` keeps no v traces (for benchmarks).
pub fn simulate_opts(
    nuclei: &mut [RefNucleus],
    conns: &[RefConn],
    dt: f64,
    steps: usize,
    record_v: bool,
) -> RefResult {
    let k = nuclei.len();
    let mut v: Vec<Vec<f64>> = nuclei.iter().map(|x| x.c.clone()).collect();
    let mut u: Vec<Vec<f64>> = nuclei
        .iter()
        .map(|x| x.b.iter().zip(&x.c).map(|(b, c)| b * c).collect())
        .collect();
    let mut input: Vec<Vec<f64>> = nuclei.iter().map(|x| vec![0.0; x.n()]).collect();
    // fired[nucleus][step][neuron]
    let mut fired: Vec<Vec<Vec<bool>>> = vec![Vec::new(); k];
    let mut out = RefResult {
        spikes: vec![Vec::new(); k],
        v: vec![Vec::new(); k],
    };
    for m in 0..steps {
        let t = m as f64 * dt;
        for x in 0..k {
            let nu = &nuclei[x];
            let mut s = vec![false; nu.n()];
            for i in 0..nu.n() {
                // 1. reset after a spike in the previous step
                if m > 0 && fired[x][m - 1][i] {
                    v[x][i] = nu.c[i];
                    u[x][i] += nu.d[i];
                }
                // 2. v
                let vv = v[x][i];
                let v_new = vv + dt * (0.04 * vv * vv + 5.0 * vv + 140.0 - u[x][i] + input[x][i]);
                // 3. u with the new v
                u[x][i] += dt * nu.a[i] * (nu.b[i] * v_new - u[x][i]);
                // 4. spike
                if v_new >= 30.0 {
                    s[i] = true;
                    v[x][i] = 30.0;
                    out.spikes[x].push((m, i));
                } else {
                    v[x][i] = v_new;
                }
            }
            fired[x].push(s);
            if record_v {
                out.v[x].push(v[x].clone());
            }
        }
        // 5. input for the next step, spikes of this step visible at delay 0
        for x in 0..k {
            let mut i_new = (nuclei[x].iext)(t);
            for c in conns.iter().filter(|c| c.post == x) {
                for (kk, kern) in c.kernel.iter().enumerate() {
                    let lag = c.delay_steps + kk;
                    if lag > m {
                        continue;
                    }
                    let past = &fired[c.pre][m - lag];
                    for (i, &f) in past.iter().enumerate() {
                        if f {
                            for (j, slot) in i_new.iter_mut().enumerate() {
                                *slot += c.w[i][j] * kern;
                            }
                        }
                    }
                }
            }
            input[x] = i_new;
        }
    }
    out
}

/// Compare v traces (all neurons recorded) with the reference: every sample
/// within 1 mV, and 99% of them within 0.05 mV. The loose bound is for the
/// spike upswing, where one step multiplies a float32 rounding difference by
/// up to 1 + dt (0.08 v + 5) per step, and for bursting neurons, whose
/// recovery variable accumulates rounding over many resets.
pub fn assert_v_close(rec: &snn::network::Recording, idx: usize, reference: &[Vec<f64>]) {
    let tr = &rec.nuclei[idx].traces["v"];
    let vals = tr.values();
    assert_eq!(vals.nrows(), reference.len());
    let mut diffs = Vec::new();
    for (m, row) in reference.iter().enumerate() {
        for (i, &x) in row.iter().enumerate() {
            diffs.push((vals[[m, i]] as f64 - x).abs());
        }
    }
    diffs.sort_by(|a, b| a.total_cmp(b));
    let worst = diffs[diffs.len() - 1];
    let p99 = diffs[diffs.len() * 99 / 100];
    assert!(
        worst <= 1.0 && p99 <= 0.05,
        "nucleus {idx}: |v_tf - v_ref| max {worst} mV, 99th percentile {p99} mV"
    );
}

/// Two Izhikevich nuclei the reference tests share: `A` (`na` regular
/// spiking neurons driven by the host function `input_a`) and `B` (`nb`
/// neurons with a = 0.1, d = 2 and a constant input 3), both recording
/// everything.
pub fn driven_pair(
    net: &mut snn::network::Network,
    (na, nb): (usize, usize),
    input_a: impl Fn(f64) -> Vec<f64> + Send + 'static,
) -> snn::Result<(snn::network::NucleusId, snn::network::NucleusId)> {
    use snn::network::{Input, Nucleus, Record};
    let a = net.add(
        Nucleus::new("A", na)
            .input(Input::function(move |t, out| {
                out.copy_from_slice(&input_a(t))
            }))
            .record(Record::everything()),
    )?;
    let b = net.add(
        Nucleus::new("B", nb)
            .abcd(0.1, 0.2, -65.0, 2.0)
            .input(3.0)
            .record(Record::everything()),
    )?;
    Ok((a, b))
}

/// A small deterministic generator (xorshift) for test weights.
pub struct Rng(pub u64);
impl Rng {
    pub fn next_f64(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
    pub fn matrix(&mut self, rows: usize, cols: usize, lo: f64, hi: f64) -> Vec<Vec<f64>> {
        (0..rows)
            .map(|_| {
                (0..cols)
                    .map(|_| lo + (hi - lo) * self.next_f64())
                    .collect()
            })
            .collect()
    }
}

/// The files of `dir`, sorted, and what each holds: the originals a
/// damaged-files test restores after each case.
pub fn files_of(dir: &std::path::Path) -> std::io::Result<(Vec<std::path::PathBuf>, Vec<Vec<u8>>)> {
    let mut files: Vec<std::path::PathBuf> = std::fs::read_dir(dir)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    files.sort();
    let bytes = files.iter().map(std::fs::read).collect::<Result<_, _>>()?;
    Ok((files, bytes))
}

pub fn to_array(w: &[Vec<f64>]) -> ndarray::Array2<f64> {
    let rows = w.len();
    let cols = w.first().map_or(0, |r| r.len());
    ndarray::Array2::from_shape_fn((rows, cols), |(i, j)| w[i][j])
}

/// A Python with numpy and TensorBoard, for checks with their own loaders.
pub fn python_with_tools() -> Result<std::path::PathBuf, Box<dyn std::error::Error>> {
    python_venv(
        "pytools-numpy-tensorboard-2.21.0",
        &["numpy", "tensorboard==2.21.0"],
    )
}

/// A Python with TensorFlow itself (`tensorflow-cpu` from PyPI, the version
/// whose C library snn links), for loading exported graphs.
pub fn python_with_tensorflow() -> Result<std::path::PathBuf, Box<dyn std::error::Error>> {
    python_venv("pytf-tensorflow-cpu-2.21.0", &["tensorflow-cpu==2.21.0"])
}

/// A venv with `packages`, made once per machine with the machine's
/// `python3` (venv + pip, under a file lock) in the same per-user cache as
/// libtensorflow; its Python.
fn python_venv(
    name: &str,
    packages: &[&str],
) -> Result<std::path::PathBuf, Box<dyn std::error::Error>> {
    use std::process::Command;
    let root = match std::env::var_os("SNN_TF_CACHE_DIR") {
        Some(d) => std::path::PathBuf::from(d),
        None => match std::env::var_os("XDG_CACHE_HOME").filter(|d| !d.is_empty()) {
            Some(d) => std::path::PathBuf::from(d).join("snn"),
            None => std::path::PathBuf::from(std::env::var_os("HOME").ok_or("HOME not set")?)
                .join(".cache/snn"),
        },
    };
    std::fs::create_dir_all(&root)?;
    let venv = root.join(name);
    let python = venv.join("bin/python");
    let marker = venv.join("SNN_COMPLETE");
    let lock = std::fs::File::create(root.join(".pytools.lock"))?;
    lock.lock()?;
    if !marker.is_file() {
        let _ = std::fs::remove_dir_all(&venv);
        let ok = Command::new("python3")
            .args(["-m", "venv"])
            .arg(&venv)
            .status()?
            .success();
        if !ok {
            return Err("python3 -m venv failed".into());
        }
        let ok = Command::new(&python)
            .args(["-m", "pip", "install", "--quiet"])
            .args(packages)
            .status()?
            .success();
        if !ok {
            return Err(format!("pip install {packages:?} failed").into());
        }
        std::fs::write(&marker, "ok\n")?;
    }
    Ok(python)
}

/// Run a Python snippet with the tools' Python; its stdout.
pub fn run_python(code: &str, args: &[&str]) -> Result<String, Box<dyn std::error::Error>> {
    let python = python_with_tools()?;
    let out = std::process::Command::new(python)
        .arg("-c")
        .arg(code)
        .args(args)
        .output()?;
    if !out.status.success() {
        return Err(format!("python failed: {}", String::from_utf8_lossy(&out.stderr)).into());
    }
    Ok(String::from_utf8(out.stdout)?)
}

/// The reference run of one nucleus of `n = inputs.len()` regular-spiking
/// neurons with constant per-neuron inputs and a recurrent voltage-jump
/// connection `w` with `delay_steps`.
pub fn one_nucleus_reference(
    inputs: &[f64],
    w: &[Vec<f64>],
    delay_steps: usize,
    dt: f64,
    steps: usize,
) -> RefResult {
    let inp = inputs.to_vec();
    let mut rn = vec![RefNucleus::uniform(
        inputs.len(),
        0.02,
        0.2,
        -65.0,
        8.0,
        move |_| inp.clone(),
    )];
    let conns = vec![RefConn {
        pre: 0,
        post: 0,
        w: w.to_vec(),
        delay_steps,
        kernel: vec![1.0],
    }];
    simulate(&mut rn, &conns, dt, steps)
}

/// A fresh, empty temporary folder for one test.
pub fn tempdir(tag: &str) -> Result<std::path::PathBuf, Box<dyn std::error::Error>> {
    let d = std::env::temp_dir().join(format!("snn-test-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d)?;
    Ok(d)
}

//! Export for other TensorFlow runtimes: Python's TensorFlow (`tensorflow-cpu`
//! from PyPI, run by the user guide's own loader snippet) steps an exported
//! network and gets exactly the spikes of the Rust run.

mod common;

use common::{python_with_tensorflow, tempdir, to_array, Rng};
use ndarray::Array2;
use ndarray_npy::NpzWriter;
use snn::network::{Connection, Input, Network, Nucleus, Record, SimOptions, Weights};

type R = Result<(), Box<dyn std::error::Error>>;

const STEPS: usize = 200;
const DT: f64 = 0.5;

/// The user guide's Python block under "Export for other TensorFlow runtimes".
fn guide_loader() -> Result<String, Box<dyn std::error::Error>> {
    let guide = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/guide.md"))?;
    let section = guide
        .split("#### Export for other TensorFlow runtimes")
        .nth(1)
        .ok_or("docs/guide.md has no export section")?;
    let block = section
        .split("```python\n")
        .nth(1)
        .and_then(|b| b.split("\n```").next())
        .ok_or("the export section has no python block")?;
    Ok(block.to_string())
}

/// A spike as the loader prints it: step, nucleus label, neuron.
type Spike = (usize, String, usize);

/// Python's TensorFlow steps `export` for `steps` steps with the guide's
/// loader (fed `inputs`, an `.npz`, if given): the spikes it prints, as
/// sorted `(step, label, neuron)`.
fn python_steps(
    dir: &std::path::Path,
    export: &std::path::Path,
    inputs: Option<&std::path::Path>,
) -> Result<Vec<Spike>, Box<dyn std::error::Error>> {
    let script = dir.join("step_exported.py");
    std::fs::write(&script, guide_loader()?)?;
    let mut cmd = std::process::Command::new(python_with_tensorflow()?);
    cmd.arg(&script).arg(export).arg(STEPS.to_string());
    if let Some(npz) = inputs {
        cmd.arg(npz);
    }
    let out = cmd.output()?;
    if !out.status.success() {
        return Err(format!("python failed: {}", String::from_utf8_lossy(&out.stderr)).into());
    }
    let mut got: Vec<(usize, String, usize)> = Vec::new();
    for line in String::from_utf8(out.stdout)?.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() != 3 {
            return Err(format!("unexpected output line {line:?}").into());
        }
        got.push((f[0].parse()?, f[1].to_string(), f[2].parse()?));
    }
    got.sort();
    Ok(got)
}

fn host_input(t: f64) -> Vec<f64> {
    (0..8)
        .map(|i| 4.0 + 0.5 * i as f64 + 3.0 * (t / 7.0).sin())
        .collect()
}

#[test]
fn python_tensorflow_steps_the_export_to_the_same_spikes() -> R {
    let dir = tempdir("export")?;
    let mut net = Network::new().named("exported");
    let a = net.add(
        Nucleus::new("A", 12)
            .input(Input::noise(5.0, 4.0, 99))
            .record(Record::spikes()),
    )?;
    let b = net.add(
        Nucleus::new("B", 8)
            .abcd(0.1, 0.2, -65.0, 2.0)
            .input(Input::function(|t, out| {
                out.copy_from_slice(&host_input(t))
            }))
            .record(Record::everything()),
    )?;
    net.connect_with(Connection::new(a, b, to_array(&Rng(21).matrix(12, 8, 0.0, 5.0))).delay(1.5))?;
    net.connect_with(
        Connection::new(b, a, to_array(&Rng(22).matrix(8, 12, -1.0, 3.0)))
            .kernel(|t| (-t / 4.0).exp(), 10.0),
    )?;
    let mut sim = net.build_with(DT, SimOptions::default().quiet().tensorboard(None))?;
    let export = dir.join("exported");
    sim.export(&export)?;
    let rec = sim.run(STEPS as f64 * DT)?;

    let mut expected: Vec<(usize, String, usize)> = Vec::new();
    for r in &rec.nuclei {
        expected.extend(r.spikes.iter().map(|&(s, i)| (s, r.label.clone(), i)));
    }
    expected.sort();
    for r in &rec.nuclei {
        assert!(
            r.spikes.len() > 10,
            "{} needs spikes: {}",
            r.label,
            r.spikes.len()
        );
    }

    // The inputs the Rust run was fed, step by step.
    let inputs = Array2::from_shape_fn((STEPS, 8), |(k, i)| host_input(k as f64 * DT)[i] as f32);
    let npz = dir.join("inputs.npz");
    let mut w = NpzWriter::new(std::fs::File::create(&npz)?);
    w.add_array("B", &inputs)?;
    w.finish()?;

    let got = python_steps(&dir, &export, Some(&npz))?;
    assert_eq!(got, expected, "Python's TensorFlow and snn disagree");

    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(export.join("manifest.json"))?)?;
    assert_eq!(manifest["dt"], 0.5);
    assert_eq!(manifest["nuclei"][1]["n"], 8);
    assert_eq!(manifest["inputs"][0]["shape"][0], 8);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// A model written as equations with white noise `xi` (drawn in the graph,
/// keyed by seed and step), refractoriness, a delayed recurrent `on_pre`
/// connection and one with per-synapse delays: Python's TensorFlow steps
/// its export to exactly the spikes of the Rust run. The Rust run sums the
/// compressed rows with snn's kernel, which Python's TensorFlow does not
/// have: the export, taken after 50 steps, holds TensorFlow's ops in its
/// place (and so does the portable build's, restored from a checkpoint
/// of the run).
#[test]
fn python_tensorflow_steps_an_exported_noisy_model_to_the_same_spikes() -> R {
    let dir = tempdir("export-model")?;
    let options = SimOptions::default().quiet().tensorboard(None);
    let mut sim = noisy_model()?.build_with(DT, options.clone())?;
    assert!(sim.propagation().iter().any(|c| c.snn_kernel));
    let export = dir.join("exported");
    sim.run(50.0 * DT)?;
    sim.save_checkpoint(dir.join("ck"))?;
    sim.export(&export)?;
    // The run used snn's kernels (row sums, the white noise's uniform
    // draws); the export holds none of them.
    let graph = std::fs::read(export.join("graph.pb"))?;
    assert!(!graph.windows(3).any(|w| w == b"Snn"));
    let mut portable = noisy_model()?.build_with(DT, options.portable())?;
    portable.restore_checkpoint(dir.join("ck"))?;
    let export_portable = dir.join("exported_portable");
    portable.export(&export_portable)?;
    let rec = sim.run(STEPS as f64 * DT)?;
    assert_eq!(rec.first_step, 50);
    let mut expected: Vec<(usize, String, usize)> = rec.nuclei[0]
        .spikes
        .iter()
        .map(|&(s, i)| (s, "A".to_string(), i))
        .collect();
    expected.sort();
    assert!(expected.len() > 50, "{} spikes", expected.len());

    for export in [&export, &export_portable] {
        let got = python_steps(&dir, export, None)?;
        assert_eq!(got, expected, "Python's TensorFlow and snn disagree");
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// The network of the test above.
fn noisy_model() -> snn::Result<Network> {
    let lif = common::models::noisy_lif("-60 + 10 * rand()", 2.0);
    let mut net = Network::new().named("exported_model").seed(4);
    let a = net.add(Nucleus::with_model("A", 40, lif))?;
    net.connect_with(
        Connection::new(a, a, Weights::random(0.2, -0.5, 9))
            .on_pre("v += w")
            .delay(1.0),
    )?;
    net.connect_with(
        Connection::new(a, a, Weights::random(0.2, 0.4, 10))
            .on_pre("v += w")
            .delays(snn::network::Delays::Uniform {
                low: 0.5,
                high: 3.0,
                seed: 2,
            }),
    )?;
    Ok(net)
}

/// Plastic synapses travel with the export: Poisson inputs onto two groups
/// of Song et al.'s neurons with STDP, one through a dense matrix, one
/// through compressed rows with a delay per synapse (the presynaptic
/// trace's past read at each synapse's delay). Python's TensorFlow steps
/// the export to exactly the spikes of the Rust run, learned weights and
/// all (the same network with static weights fires differently within the
/// run, so the learning shows in the spikes).
#[test]
fn python_tensorflow_steps_an_exported_plastic_network_to_the_same_spikes() -> R {
    use snn::network::Delays;
    let dir = tempdir("export-plastic")?;
    let gmax = 0.3;
    let w = Rng(5).matrix(30, 3, 0.0, gmax);
    // With `plastic` false the same network with static weights.
    let build = |plastic: bool| -> snn::Result<snn::network::Simulator> {
        let learn = |c: Connection| match plastic {
            true => c.synapses(common::song::stdp(gmax)),
            false => c.on_pre("ge += w"),
        };
        let mut net = Network::new().named("exported_plastic").seed(8);
        let input = net.add(Nucleus::poisson("input", 30, 80.0))?;
        let dense = net.add(Nucleus::with_model("D", 3, common::song::neuron()))?;
        let rows = net.add(Nucleus::with_model("S", 3, common::song::neuron()))?;
        net.connect_with(learn(
            Connection::new(input, dense, to_array(&w)).delay(0.5),
        ))?;
        let nnz = 30 * 3;
        net.connect_with(learn(
            Connection::new(
                input,
                rows,
                Weights::Csr {
                    indptr: (0..=30).map(|i| 3 * i).collect(),
                    indices: (0..nnz).map(|s| s % 3).collect(),
                    values: w.iter().flatten().copied().collect(),
                },
            )
            .delays(Delays::PerSynapse(
                (0..nnz).map(|s| 0.5 * ((s * 7) % 5) as f64).collect(),
            )),
        ))?;
        net.build_with(DT, SimOptions::default().quiet().tensorboard(None))
    };
    let spikes = |rec: &snn::network::Recording| {
        let mut out: Vec<Spike> = Vec::new();
        for (k, label) in [(1, "D"), (2, "S")] {
            out.extend(
                rec.nuclei[k]
                    .spikes
                    .iter()
                    .map(|&(s, i)| (s, label.to_string(), i)),
            );
        }
        out.sort();
        out
    };
    let mut sim = build(true)?;
    let export = dir.join("exported");
    sim.export(&export)?;
    let expected = spikes(&sim.run(STEPS as f64 * DT)?);
    for label in ["D", "S"] {
        let n = expected.iter().filter(|s| s.1 == label).count();
        assert!(n > 10, "{label}: {n} spikes");
    }
    // Learning changes the spikes of both groups within the run.
    let fixed = spikes(&build(false)?.run(STEPS as f64 * DT)?);
    for label in ["D", "S"] {
        let of = |v: &[Spike]| {
            v.iter()
                .filter(|s| s.1 == label)
                .cloned()
                .collect::<Vec<_>>()
        };
        assert_ne!(
            of(&fixed),
            of(&expected),
            "{label}: learning changed nothing"
        );
    }
    let mut got = python_steps(&dir, &export, None)?;
    got.retain(|s| s.1 != "input");
    assert_eq!(got, expected, "Python's TensorFlow and snn disagree");
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

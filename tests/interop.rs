//! What snn writes, read back by the real readers: TensorBoard's own event
//! loader, NumPy's `.npz` loader.

mod common;

use snn::network::{Connection, Network, Nucleus, Record, SimOptions, StateVar};

type R = Result<(), Box<dyn std::error::Error>>;

fn two_nuclei(
    dir: &std::path::Path,
) -> snn::Result<(
    snn::network::Simulator,
    snn::network::NucleusId,
    snn::network::NucleusId,
)> {
    let mut net = Network::new().named("interop");
    let ctx = net.add(
        Nucleus::new("CTX", 20)
            .input(8.0)
            .record(Record::traces(&[0, 5])),
    )?;
    let d1 = net.add(Nucleus::new("D1", 10).abcd(0.1, 0.2, -65.0, 2.0))?;
    net.connect_with(
        Connection::new(ctx, d1, 1.5)
            .delay(1.0)
            .kernel(|t| (-t / 5.0).exp(), 5.0),
    )?;
    let sim = net.build_with(
        0.1,
        SimOptions::default()
            .quiet()
            .tensorboard(Some(dir.to_path_buf())),
    )?;
    Ok((sim, ctx, d1))
}

/// TensorBoard's EventAccumulator finds the graph, with the model's scope
/// names, and one firing-rate scalar per nucleus every 10 ms whose values
/// agree with the recording.
#[test]
fn tensorboard_reads_graph_and_scalars() -> R {
    let dir = common::tempdir("tb")?;
    let (mut sim, ctx, _) = two_nuclei(&dir)?;
    let rec = sim.run(100.0)?;
    drop(sim);
    let code = r#"
import sys
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
acc = EventAccumulator(sys.argv[1], size_guidance={'scalars': 0})
acc.Reload()
g = acc.Graph()
names = sorted(n.name for n in g.node)
for want in ['CTX/v', 'neurons/reset/v', 'D1/input/I', 'CTX->D1/synapse', 'CTX->D1/weights', 'reads_done']:
    assert want in names, want
tags = acc.Tags()['scalars']
print(' '.join(sorted(tags)))
ev = acc.Scalars('firing_rate/CTX')
print(len(ev), sum(e.value for e in ev) / len(ev))
"#;
    let out = common::run_python(code, &[dir.join("interop").to_str().ok_or("path")?])?;
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some("firing_rate/CTX firing_rate/D1"));
    let second: Vec<f64> = lines
        .next()
        .ok_or("no count line")?
        .split(' ')
        .map(|x| x.parse())
        .collect::<Result<_, _>>()?;
    assert_eq!(second[0], 10.0, "one summary per 10 ms over 100 ms");
    // The mean of ten equal windows is the whole run's rate.
    let rate = rec.firing_rate(ctx)?;
    assert!(
        (second[1] - rate).abs() < 1e-3 * rate.max(1.0),
        "tensorboard mean {} vs recording {rate}",
        second[1]
    );
    assert!(rate > 0.0);
    Ok(())
}

/// NumPy loads the `.npz` export: spike times, neurons and traces equal
/// the recording.
#[test]
fn numpy_loads_the_npz_export() -> R {
    let dir = common::tempdir("npz")?;
    let (mut sim, ctx, _) = two_nuclei(&dir)?;
    let rec = sim.run(50.0)?;
    let path = dir.join("rec.npz");
    rec.write_npz(&path)?;
    let code = r#"
import sys, numpy as np
z = np.load(sys.argv[1])
t, i = z['CTX_spike_times'], z['CTX_spike_neurons']
v = z['CTX_v']
print(len(t), int(i.sum()), v.shape[0], v.shape[1], repr(float(v[-1, 1])), repr(float(t.sum())))
"#;
    let out = common::run_python(code, &[path.to_str().ok_or("path")?])?;
    let f: Vec<f64> = out
        .split_whitespace()
        .map(|x| x.parse())
        .collect::<Result<_, _>>()?;
    let (times, neurons) = rec.spikes(ctx)?;
    let v = rec.trace(ctx, StateVar::V)?.values();
    assert_eq!(f[0] as usize, times.len());
    assert_eq!(f[1] as usize, neurons.sum());
    assert_eq!((f[2] as usize, f[3] as usize), (500, 2));
    assert_eq!(f[4], v[[499, 1]] as f64);
    assert!((f[5] - times.sum()).abs() < 1e-9);
    Ok(())
}

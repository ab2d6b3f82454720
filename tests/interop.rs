//! What snn writes, read back by the real readers: TensorBoard's own event
//! loader, NumPy's `.npz` loader.

mod common;

#[path = "../examples/basal_ganglia.rs"]
#[allow(dead_code)]
mod basal_ganglia;

use snn::network::{Connection, Network, Nucleus, Propagation, Record, SimOptions, StateVar};

type R = Result<(), Box<dyn std::error::Error>>;

/// The numbers of one line of a Python snippet's output.
fn numbers(line: Option<&str>) -> Result<Vec<f64>, Box<dyn std::error::Error>> {
    Ok(line
        .ok_or("a line of numbers is missing")?
        .split_whitespace()
        .map(|x| x.parse())
        .collect::<Result<_, _>>()?)
}

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
for want in ['CTX/v', 'neurons/reset/v', 'D1/input/I', 'D1/from_CTX/synapse', 'D1/from_CTX/weights', 'step/reads_done']:
    assert want in names, want
tags = acc.Tags()['scalars']
print(' '.join(sorted(tags)))
ev = acc.Scalars('firing_rate/CTX')
print(len(ev), sum(e.value for e in ev) / len(ev))
"#;
    let out = common::run_python(code, &[dir.join("interop").to_str().ok_or("path")?])?;
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some("firing_rate/CTX firing_rate/D1"));
    let second = numbers(lines.next())?;
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
    let f = numbers(Some(&out))?;
    let (times, neurons) = rec.spikes(ctx)?;
    let v = rec.trace(ctx, StateVar::V)?.values();
    assert_eq!(f[0] as usize, times.len());
    assert_eq!(f[1] as usize, neurons.sum());
    assert_eq!((f[2] as usize, f[3] as usize), (500, 2));
    assert_eq!(f[4], v[[499, 1]] as f64);
    assert!((f[5] - times.sum()).abs() < 1e-9);
    Ok(())
}

/// The basal-ganglia example run for 50 ms with its TensorBoard folder in
/// `dir` (run `basal_ganglia`).
fn basal_ganglia_run(dir: &std::path::Path) -> Result<(), Box<dyn std::error::Error>> {
    let (net, _) = basal_ganglia::basal_ganglia(Propagation::Auto)?;
    let mut sim = net.build_with(
        0.2,
        SimOptions::default()
            .quiet()
            .tensorboard(Some(dir.to_path_buf())),
    )?;
    sim.run(50.0)?;
    Ok(())
}

/// The model's connections `pre -> post` between different nuclei, read
/// off the original's weight matrix (rows: from; columns: to) rather than
/// from our code.
const BASAL_GANGLIA_EDGES: &str = "CTX->D1 CTX->D2 CTX->STN D1->D2 D1->Gpi D2->D1 D2->TA D2->TI \
     TA->D1 TA->D2 TA->TI TA->STN TI->D1 TI->D2 TI->Gpi TI->TA TI->STN STN->Gpi STN->TA STN->TI";

/// The written GraphDef grouped the way TensorBoard's graph page groups it:
/// an op belongs to the namespace of its name's first component, and two
/// namespaces are joined when an op of one takes an input (data or
/// control) from an op of the other. TensorBoard pulls high-degree nodes
/// out as "auxiliary" only when a level has 15 nodes or more
/// (`minNodeCountForExtraction` in its graph renderer), so few top-level
/// namespaces keep every nucleus in the main graph.
#[test]
fn tensorboard_groups_the_graph_into_nuclei_and_connections() -> R {
    let dir = common::tempdir("tb-groups")?;
    basal_ganglia_run(&dir)?;
    let code = r#"
import sys
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
acc = EventAccumulator(sys.argv[1])
acc.Reload()
g = acc.Graph()
top = lambda name: name.split('/')[0]
print('top', ' '.join(sorted({top(n.name) for n in g.node})))
edges = set()
for n in g.node:
    for i in n.input:
        a, b = top(i.lstrip('^').split(':')[0]), top(n.name)
        if a != b:
            edges.add(a + '->' + b)
print('edges', ' '.join(sorted(edges)))
"#;
    let out = common::run_python(code, &[dir.join("basal_ganglia").to_str().ok_or("path")?])?;
    let line = |tag: &str| -> Vec<String> {
        out.lines()
            .find_map(|l| l.strip_prefix(tag))
            .map(|l| l.split_whitespace().map(String::from).collect())
            .unwrap_or_default()
    };
    let top = line("top ");
    let nuclei = basal_ganglia::NAMES;
    let infrastructure = ["step", "neurons", "checkpoint", "init"];
    for name in &top {
        assert!(
            nuclei.contains(&name.as_str()) || infrastructure.contains(&name.as_str()),
            "unexpected top-level namespace {name:?} in {top:?}"
        );
    }
    for name in nuclei {
        assert!(
            top.iter().any(|t| t == name),
            "no namespace {name}: {top:?}"
        );
    }
    assert!(top.len() < 15, "{} top-level nodes: {top:?}", top.len());
    let between_nuclei: std::collections::BTreeSet<String> = line("edges ")
        .into_iter()
        .filter(|e| {
            let (a, b) = e.split_once("->").unwrap_or(("", ""));
            nuclei.contains(&a) && nuclei.contains(&b)
        })
        .collect();
    let expected: std::collections::BTreeSet<String> = BASAL_GANGLIA_EDGES
        .split_whitespace()
        .map(String::from)
        .collect();
    assert_eq!(between_nuclei, expected);
    Ok(())
}

/// TensorBoard's own HTTP data API, as the browser queries it, from a
/// `tensorboard` process on a free local port: the runs, the firing-rate
/// tags and values, and the graph, whose nodes are those of the event file.
#[test]
fn tensorboard_serves_runs_tags_and_graph_over_http() -> R {
    let dir = common::tempdir("tb-http")?;
    basal_ganglia_run(&dir)?;
    let code = r#"
import json, socket, subprocess, sys, time, urllib.parse, urllib.request
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
logdir = sys.argv[1]
sock = socket.socket()
sock.bind(('127.0.0.1', 0))
port = sock.getsockname()[1]
sock.close()
server = subprocess.Popen(
    [sys.executable, '-m', 'tensorboard.main', '--logdir', logdir,
     '--host', '127.0.0.1', '--port', str(port)],
    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
def get(path):
    with urllib.request.urlopen('http://127.0.0.1:%d%s' % (port, path), timeout=60) as r:
        return r.read()
try:
    deadline = time.time() + 180
    runs = []
    while not runs:
        if server.poll() is not None:
            sys.exit('tensorboard exited: ' + server.stderr.read().decode())
        if time.time() > deadline:
            sys.exit('tensorboard listed no run within 180 s')
        try:
            runs = json.loads(get('/data/runs'))
        except OSError:
            time.sleep(0.5)
    print('runs', ' '.join(sorted(runs)))
    tags = json.loads(get('/data/plugin/scalars/tags'))['basal_ganglia']
    print('tags', ' '.join(sorted(tags)))
    q = urllib.parse.urlencode({'run': 'basal_ganglia', 'tag': 'firing_rate/CTX'})
    points = json.loads(get('/data/plugin/scalars/scalars?' + q))
    print('ctx', len(points), ' '.join(repr(p[2]) for p in points))
    q = urllib.parse.urlencode({'run': 'basal_ganglia', 'conceptual': 'false'})
    served = get('/data/plugin/graphs/graph?' + q).decode()
    names = [l.strip()[len('name: "'):-1] for l in served.splitlines()
             if l.startswith('  name: "')]
    acc = EventAccumulator(logdir + '/basal_ganglia', size_guidance={'scalars': 0})
    acc.Reload()
    written = [n.name for n in acc.Graph().node]
    print('graph', len(names), int(names == written), int('D1/from_CTX/weights' in names))
    print('file', ' '.join(repr(e.value) for e in acc.Scalars('firing_rate/CTX')))
finally:
    server.terminate()
    server.wait(30)
"#;
    let out = common::run_python(code, &[dir.to_str().ok_or("path")?])?;
    let line = |tag: &str| -> Vec<String> {
        out.lines()
            .find_map(|l| l.strip_prefix(tag))
            .map(|l| l.split_whitespace().map(String::from).collect())
            .unwrap_or_default()
    };
    assert_eq!(line("runs "), ["basal_ganglia"]);
    let mut want: Vec<String> = basal_ganglia::NAMES
        .iter()
        .map(|n| format!("firing_rate/{n}"))
        .collect();
    want.sort();
    assert_eq!(line("tags "), want);
    // One rate every 10 ms over 50 ms; the same values as the event file.
    let ctx = line("ctx ");
    assert_eq!(ctx.first().map(String::as_str), Some("5"), "{out}");
    assert_eq!(ctx[1..], line("file ")[..], "{out}");
    let graph = line("graph ");
    assert!(graph[0].parse::<usize>()? > 500, "{out}");
    assert_eq!(
        graph[1..],
        ["1", "1"],
        "served graph differs from the file: {out}"
    );
    Ok(())
}

/// A plastic connection's weights reach TensorBoard through TensorFlow's
/// own `WriteHistogramSummary`: one histogram of `weights/<pre->post>` and
/// one `mean_weight/<pre->post>` scalar per simulated second, whose last
/// values are the learned weights `Simulator::weights` reads.
#[test]
fn tensorboard_reads_the_learned_weights() -> R {
    use snn::equations::{NeuronModel, SynapseModel};
    use snn::network::{Weights, WEIGHT_SUMMARY_MS};
    let dir = common::tempdir("tb-weights")?;
    let mut net = Network::new().named("plastic").seed(2);
    let input = net.add(Nucleus::poisson("input", 200, 20.0))?;
    let neuron = NeuronModel::new()
        .equation("v", "(ge * (0 - v) - 74 - v) / 10")
        .equation("ge", "-ge / 5")
        .init("v", -60.0)
        .threshold("v > -54")
        .reset("v = -60");
    let out = net.add(Nucleus::with_model("neuron", 1, neuron))?;
    let stdp = SynapseModel::new()
        .trace("Apre", "-Apre / 20")
        .trace("Apost", "-Apost / 20")
        .on_pre("ge += w; Apre += 0.001; w = clip(w + Apost, 0, 0.1)")
        .on_post("Apost -= 0.00105; w = clip(w + Apre, 0, 0.1)");
    let w = ndarray::Array2::from_shape_fn((200, 1), |(i, _)| 0.1 * (i % 10) as f64 / 10.0);
    let c = net.connect_with(Connection::new(input, out, w).synapses(stdp))?;
    let mut sim = net.build_with(
        0.1,
        SimOptions::default().quiet().tensorboard(Some(dir.clone())),
    )?;
    sim.run(2.0 * WEIGHT_SUMMARY_MS)?;
    let Weights::DenseF32(learned) = sim.weights(c)? else {
        return Err("dense weights expected".into());
    };
    drop(sim);
    let code = r#"
import sys
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
acc = EventAccumulator(sys.argv[1], size_guidance={'histograms': 0, 'scalars': 0})
acc.Reload()
print(' '.join(sorted(acc.Tags()['histograms'])))
h = acc.Histograms('weights/input->neuron')
last = h[-1].histogram_value
print(len(h), h[-1].step, last.num, repr(last.sum), repr(last.min), repr(last.max))
m = acc.Scalars('mean_weight/input->neuron')
print(len(m), repr(m[-1].value))
"#;
    let out = common::run_python(code, &[dir.join("plastic").to_str().ok_or("path")?])?;
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some("weights/input->neuron"));
    let f = numbers(lines.next())?;
    let sum: f64 = learned.iter().map(|&x| x as f64).sum();
    let (min, max) = learned.iter().fold((f64::MAX, f64::MIN), |(a, b), &x| {
        (a.min(x as f64), b.max(x as f64))
    });
    assert_eq!(
        (f[0], f[1], f[2]),
        (2.0, 2.0 * WEIGHT_SUMMARY_MS, 200.0),
        "{out}"
    );
    assert!(
        (f[3] - sum).abs() < 1e-4 * sum.abs().max(1.0),
        "{out} vs sum {sum}"
    );
    assert_eq!((f[4], f[5]), (min, max), "{out}");
    let m = numbers(lines.next())?;
    assert_eq!(m[0], 2.0);
    assert!((m[1] - sum / 200.0).abs() < 1e-6, "{out}");
    // The weights learned: they no longer sum to the initial 9.0.
    assert!((sum - 9.0).abs() > 1e-3, "sum {sum}");
    Ok(())
}

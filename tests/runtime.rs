//! The TensorFlow engine's runtime choices give the same run: both
//! executors, several steps per session run, device pinning; the graph's
//! names and size.

mod common;

#[path = "../examples/basal_ganglia.rs"]
#[allow(dead_code)]
mod basal_ganglia;

use snn::network::{
    Connection, Executor, Input, Network, Nucleus, Probe, Propagation, Record, SimOptions,
};
use snn::Error;

type R = Result<(), Box<dyn std::error::Error>>;

/// Spikes, and v of every neuron.
fn record_v() -> Record {
    Record {
        v: Probe::All,
        ..Record::default()
    }
}

fn opts() -> SimOptions {
    SimOptions::default().quiet().tensorboard(None)
}

/// TensorFlow's default and single-threaded executors compute the same
/// steps: identical spikes and traces on a network with noise, a host input,
/// delays, an alpha kernel and a windowed kernel. The single-threaded one
/// refuses a remote target.
#[test]
fn both_executors_give_the_same_run() -> R {
    let run = |executor: Executor| -> Result<snn::network::Recording, Box<dyn std::error::Error>> {
        let mut net = Network::new();
        let a = net.add(
            Nucleus::new("A", 40)
                .input(Input::noise(5.0, 5.0, 7))
                .record(Record::everything()),
        )?;
        let b = net.add(
            Nucleus::new("B", 20)
                .abcd(0.1, 0.2, -65.0, 2.0)
                .input(Input::function(|t, out| out.fill(4.0 + (t / 5.0).sin())))
                .record(Record::everything()),
        )?;
        net.connect_with(Connection::new(a, b, 0.6).delay(1.0))?;
        net.connect_with(
            Connection::new(b, a, -0.4).kernel(|t| (t / 3.0) * (1.0 - t / 3.0).exp(), 9.0),
        )?;
        net.connect_with(Connection::new(a, a, 0.05).kernel(|t| (1.0 - t / 2.0).max(0.0), 2.0))?;
        Ok(net.build_with(0.1, opts().executor(executor))?.run(150.0)?)
    };
    let default = run(Executor::Default)?;
    let counts: Vec<u64> = default.nuclei.iter().map(|r| r.spike_count).collect();
    assert!(
        counts.iter().all(|&c| c > 20),
        "the test needs spikes: {counts:?}"
    );
    assert_eq!(run(Executor::SingleThreaded)?.nuclei, default.nuclei);
    assert_eq!(run(Executor::Auto)?.nuclei, default.nuclei);

    let mut net = Network::new();
    net.add(Nucleus::new("A", 3))?;
    let err = net
        .build_with(
            0.1,
            opts()
                .executor(Executor::SingleThreaded)
                .target("grpc://127.0.0.1:1"),
        )
        .unwrap_err();
    assert!(err.to_string().contains("single-threaded"), "{err}");
    Ok(())
}

/// The graph's op names mirror the model.
#[test]
fn graph_scopes_mirror_the_model() -> R {
    let mut net = Network::new();
    let ctx = net.add(Nucleus::new("CTX", 4))?;
    let d1 = net.add(Nucleus::new("D1", 3))?;
    net.connect_with(Connection::new(ctx, d1, 1.0).delay(0.5))?;
    let sim = net.build_with(0.1, opts())?;
    let names = sim.op_names();
    // Only a nucleus whose past spikes some connection reads keeps a ring.
    assert!(!names.iter().any(|n| n == "D1/spikes"), "{names:?}");
    for want in [
        "CTX/v",
        "CTX/u",
        "CTX/I",
        "CTX/spikes",
        "CTX/read/v",
        "CTX/threshold/spike_index",
        // The nuclei of one device are updated as one vector.
        "neurons/read/v",
        "neurons/reset/v",
        "neurons/threshold/fired",
        "D1/input/I",
        // A connection's ops are its postsynaptic nucleus's, `from_` its
        // presynaptic one.
        "D1/from_CTX/synapse",
        "D1/from_CTX/weights",
        "step/reads_done",
        "step/run",
        "step/dt",
    ] {
        assert!(
            names.iter().any(|n| n == want),
            "no op {want:?} in {names:?}"
        );
    }
    Ok(())
}

/// A 1000 x 1000 weight matrix enters its variable through a feed: the
/// GraphDef stays small (4 MB of weights would be in it otherwise).
#[test]
fn weights_are_not_constants_in_the_graph() -> R {
    let mut net = Network::new();
    let a = net.add(Nucleus::new("A", 1000))?;
    net.connect(a, a, ndarray::Array2::from_elem((1000, 1000), 0.25))?;
    let sim = net.build_with(0.1, opts())?;
    let size = sim.graph_def()?.len();
    assert!(size < 100_000, "GraphDef is {size} bytes");
    Ok(())
}

/// A nucleus pinned to the CPU device runs and gives the same spikes as an
/// unpinned one; a device that does not exist is a TensorFlow error, not a
/// crash.
#[test]
fn device_pinning() -> R {
    let run = |device: Option<&str>| -> snn::Result<Vec<(usize, usize)>> {
        let mut net = Network::new();
        let mut n = Nucleus::new("P", 5).input(10.0);
        if let Some(d) = device {
            n = n.device(d);
        }
        let p = net.add(n)?;
        net.connect(p, p, 0.5)?;
        Ok(
            net.build_with(0.1, opts().threads(1, 1))?.run(50.0)?.nuclei[0]
                .spikes
                .clone(),
        )
    };
    let free = run(None)?;
    assert!(!free.is_empty());
    assert_eq!(run(Some("/device:CPU:0"))?, free);
    let e = run(Some("/device:GPU:7")).unwrap_err();
    assert!(matches!(e, Error::TensorFlow { .. }), "{e}");
    Ok(())
}

/// A network with every feature (host input, in-graph noise, delays,
/// exponential, alpha and general kernels, sparse weights) recorded with
/// `steps_per_run` 1 and 7, over 101 steps and then 102 more (the first
/// call ends with a run of 3 steps, the second starts after it, so the step
/// counter, which keys the noise, must have advanced by exactly 3): the
/// spikes and traces are identical, bit for bit (the same ops run, chained).
#[test]
fn several_steps_per_run_give_the_same_results() -> R {
    type Runs = Vec<snn::network::Recording>;
    let run = |k: usize| -> Result<Runs, Box<dyn std::error::Error>> {
        let mut net = Network::new();
        let a = net.add(
            Nucleus::new("A", 12)
                .input(Input::function(|t, out| {
                    for (i, x) in out.iter_mut().enumerate() {
                        *x = if t < 10.0 { 8.0 + i as f64 * 0.2 } else { 4.0 };
                    }
                }))
                .record(Record::traces(&[0, 3]).every(3)),
        )?;
        let b = net.add(
            Nucleus::new("B", 8)
                .abcd(0.1, 0.2, -65.0, 2.0)
                .input(Input::noise(3.0, 4.0, 9))
                .record(record_v()),
        )?;
        let c = net.add(Nucleus::new("C", 5).input(2.0))?;
        net.connect_with(
            Connection::new(a, b, 1.5)
                .delay(1.0)
                .kernel(|t| (-t / 3.0).exp(), 4.0),
        )?;
        net.connect_with(
            Connection::new(b, a, -0.8).kernel(|t| (t / 2.0) * (1.0 - t / 2.0).exp(), 5.0),
        )?;
        net.connect_with(
            Connection::new(a, c, 2.0)
                .kernel(|t| (1.0 - t / 2.0).max(0.0), 2.0)
                .delay(0.5),
        )?;
        net.connect(b, c, vec![(0, 1, 3.0), (2, 4, 2.5), (7, 0, 4.0)])?;
        let mut sim = net.build_with(0.25, opts().steps_per_run(k))?;
        let first = sim.run(101.0 * 0.25)?;
        let second = sim.run(102.0 * 0.25)?;
        assert_eq!(sim.steps_done(), 203);
        Ok(vec![first, second])
    };
    let one = run(1)?;
    let seven = run(7)?;
    for (part, (one, seven)) in one.iter().zip(&seven).enumerate() {
        // Every nucleus fires in the first part; B, driven by the noise, in
        // both.
        let counts: Vec<u64> = one.nuclei.iter().map(|n| n.spike_count).collect();
        assert!(
            counts[1] > 0 && (part > 0 || counts.iter().all(|&c| c > 0)),
            "too few spikes in part {part}: {counts:?}"
        );
        assert_eq!(one.steps, seven.steps);
        for (x, y) in one.nuclei.iter().zip(&seven.nuclei) {
            assert!(
                x == y,
                "nucleus {} differs between 1 and 7 steps per run in part {part}",
                x.label
            );
        }
    }
    Ok(())
}

/// The basal-ganglia example (seven nuclei, noise, delays, exponential and
/// alpha kernel traces shared by several connections) records bit for bit
/// the same v, u, I and spikes with 1 and 10 steps per session run. (It
/// once did not: Grappler's arithmetic optimizer regrouped a chain of adds
/// in a kernel trace differently in different copies of the step, and I
/// drifted by an ulp from step 77 on.)
#[test]
fn basal_ganglia_is_bitwise_the_same_with_several_steps_per_run() -> R {
    let run = |k: usize| -> Result<snn::network::Recording, Box<dyn std::error::Error>> {
        let (net, _) =
            basal_ganglia::basal_ganglia_recording(Propagation::Auto, Record::everything())?;
        Ok(net.build_with(0.2, opts().steps_per_run(k))?.run(60.0)?)
    };
    let (one, ten) = (run(1)?, run(10)?);
    assert_eq!(one.steps, 300);
    for (x, y) in one.nuclei.iter().zip(&ten.nuclei) {
        for (var, tx) in &x.traces {
            let ty = &y.traces[var];
            let (vx, vy) = (tx.values(), ty.values());
            let first = vx
                .iter()
                .zip(vy.iter())
                .position(|(p, q)| p.to_bits() != q.to_bits());
            assert_eq!(first, None, "{} {var}: first differing value", x.label);
        }
        assert!(x == y, "{} differs", x.label);
    }
    Ok(())
}

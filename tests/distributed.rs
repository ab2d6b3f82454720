//! TensorFlow's distributed runtime: two worker processes on 127.0.0.1 (free
//! ports chosen at run time, killed at the end) run a three-nucleus network
//! split across them to the spikes of the single-process run; a refused
//! connection, a worker that dies mid-run and a cluster file that does not
//! parse are clear errors, and what was recorded before a failure is kept.
//!
//! The workers are this test binary run again with `SNN_WORKER_TASK` set:
//! its ignored `worker_process` test then serves that task.

mod common;

use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{tempdir, to_array, Rng};
use snn::equations::{Method, NeuronModel};
use snn::network::{
    ClusterSpec, Connection, Input, Network, Nucleus, Record, Recording, Server, SimOptions,
};
use snn::Error;

type R = Result<(), Box<dyn std::error::Error>>;

const DT: f64 = 0.1;

/// CTX (task 0) -> STR (task 1) -> GPe (task 1) -> CTX, with noise, delays
/// and an exponential kernel; `host` is GPe's external input; and CTX ->
/// LIF (task 1), a model written as equations.
fn network(
    devices: Option<(&str, &str)>,
    mut host: impl FnMut(f64) -> Vec<f64> + Send + 'static,
) -> snn::Result<Network> {
    let place = |nu: Nucleus, task: usize| match devices {
        Some((d0, d1)) => nu.device(if task == 0 { d0 } else { d1 }),
        None => nu,
    };
    let mut net = Network::new().named("distributed");
    let ctx = net.add(place(
        Nucleus::new("CTX", 40)
            .input(Input::noise(5.0, 4.0, 3))
            .record(Record::spikes()),
        0,
    ))?;
    let str_ = net.add(place(
        Nucleus::new("STR", 30).input(5.0).record(Record::spikes()),
        1,
    ))?;
    let gpe = net.add(place(
        Nucleus::new("GPe", 20)
            .abcd(0.1, 0.2, -65.0, 2.0)
            .input(Input::function(move |t, out| out.copy_from_slice(&host(t))))
            .record(Record::spikes()),
        1,
    ))?;
    net.connect_with(
        Connection::new(ctx, str_, to_array(&Rng(1).matrix(40, 30, 0.0, 2.0))).delay(1.5),
    )?;
    net.connect_with(
        Connection::new(str_, gpe, to_array(&Rng(2).matrix(30, 20, -1.0, 1.0)))
            .kernel(|t| (-t / 4.0).exp(), 12.0),
    )?;
    net.connect_with(
        Connection::new(gpe, ctx, to_array(&Rng(3).matrix(20, 40, -1.5, 0.5))).delay(2.0),
    )?;
    // A nucleus whose model is written as equations, on task 1: leaky
    // integrators with a refractory period, driven by CTX through on_pre.
    let lif = NeuronModel::new()
        .named("lif")
        .equation("v", "(El - v) / tau")
        .unless_refractory()
        .param("El", -60.0)
        .param("tau", 10.0)
        .init("v", "El + 10 * rand()")
        .threshold("v > -50")
        .reset("v = El")
        .refractory(2.0)
        .method(Method::Exact);
    let integrators = net.add(place(
        Nucleus::with_model("LIF", 25, lif).record(Record::spikes()),
        1,
    ))?;
    net.connect_with(
        Connection::new(ctx, integrators, to_array(&Rng(4).matrix(40, 25, 0.0, 3.0)))
            .delay(1.0)
            .on_pre("v += w"),
    )?;
    Ok(net)
}

fn gpe_input(t: f64) -> Vec<f64> {
    (0..20)
        .map(|i| 4.0 + 0.2 * i as f64 + (t / 9.0).sin())
        .collect()
}

fn opts() -> SimOptions {
    SimOptions::default().quiet().tensorboard(None)
}

fn spikes(rec: &Recording) -> Vec<Vec<(usize, usize)>> {
    rec.nuclei.iter().map(|r| r.spikes.clone()).collect()
}

fn free_port() -> Result<u16, Box<dyn std::error::Error>> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Worker processes, killed when dropped (also when a test fails).
struct Workers {
    cluster: ClusterSpec,
    children: Vec<Arc<Mutex<Child>>>,
}

impl Workers {
    /// Two workers on free ports; waits (30 s at most) until both listen.
    fn start(dir: &Path) -> Result<Workers, Box<dyn std::error::Error>> {
        let ports = [free_port()?, free_port()?];
        let file = dir.join("cluster.json");
        std::fs::write(
            &file,
            format!(
                "{{\"worker\": [\"127.0.0.1:{}\", \"127.0.0.1:{}\"]}}",
                ports[0], ports[1]
            ),
        )?;
        let cluster = ClusterSpec::from_file(&file)?;
        let mut children = Vec::new();
        for task in 0..2 {
            let child = Command::new(std::env::current_exe()?)
                .args(["worker_process", "--exact", "--ignored", "--nocapture"])
                .env("SNN_WORKER_CLUSTER", &file)
                .env("SNN_WORKER_TASK", task.to_string())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()?;
            children.push(Arc::new(Mutex::new(child)));
        }
        let workers = Workers { cluster, children };
        let deadline = Instant::now() + Duration::from_secs(30);
        for port in ports {
            while TcpStream::connect(("127.0.0.1", port)).is_err() {
                if Instant::now() > deadline {
                    return Err(format!("worker on port {port} did not come up in 30 s").into());
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        Ok(workers)
    }

    fn devices(&self) -> Result<(String, String), Box<dyn std::error::Error>> {
        Ok((
            self.cluster.device("worker", 0)?,
            self.cluster.device("worker", 1)?,
        ))
    }
}

impl Drop for Workers {
    fn drop(&mut self) {
        for c in &self.children {
            if let Ok(mut c) = c.lock() {
                let _ = c.kill();
                let _ = c.wait();
            }
        }
    }
}

/// A worker: serves its task until killed (or for 5 minutes at most, so an
/// orphan cannot outlive a crashed test run by long).
#[test]
#[ignore = "run as a separate process by the distributed tests"]
fn worker_process() -> R {
    let cluster = ClusterSpec::from_file(std::env::var("SNN_WORKER_CLUSTER")?)?;
    let task: usize = std::env::var("SNN_WORKER_TASK")?.parse()?;
    let _server = Server::start(&cluster, "worker", task)?;
    std::thread::sleep(Duration::from_secs(300));
    std::process::exit(0);
}

#[test]
fn two_worker_processes_give_the_single_process_spikes() -> R {
    let dir = tempdir("distributed")?;
    let local = network(None, gpe_input)?
        .build_with(DT, opts())?
        .run(150.0)?;
    for r in &local.nuclei {
        assert!(
            r.spike_count > 20,
            "{} needs spikes: {}",
            r.label,
            r.spike_count
        );
    }

    let workers = Workers::start(&dir)?;
    let (d0, d1) = workers.devices()?;
    let mut sim = network(Some((&d0, &d1)), gpe_input)?
        .build_with(DT, opts().target(workers.cluster.target("worker", 0)?))?;
    // The graph really is split: ops on both tasks.
    let graph = String::from_utf8_lossy(&sim.graph_def()?).into_owned();
    assert!(graph.contains("/job:worker/task:0/device:CPU:0"));
    assert!(graph.contains("/job:worker/task:1/device:CPU:0"));
    let first = sim.run(70.0)?;
    // A checkpoint of the split run (written by the master task, here on
    // this machine) resumes in a single-process simulator: variables are
    // named by the model, not by where they live.
    let ck = dir.join("at70");
    sim.save_checkpoint(&ck)?;
    let second = sim.run(80.0)?;
    let mut resumed = network(None, gpe_input)?.build_with(DT, opts())?;
    resumed.restore_checkpoint(&ck)?;
    assert_eq!(spikes(&resumed.run(80.0)?), spikes(&second));
    assert_eq!(first.steps + second.steps, 1500);
    let mut both = first;
    for (a, b) in both.nuclei.iter_mut().zip(&second.nuclei) {
        a.spikes.extend_from_slice(&b.spikes);
    }
    assert_eq!(spikes(&both), spikes(&local));

    // A second network on the same workers starts from its own fresh state
    // (sessions on a cluster do not share variables).
    let again = network(Some((&d0, &d1)), gpe_input)?
        .build_with(DT, opts().target(workers.cluster.target("worker", 1)?))?
        .run(150.0)?;
    assert_eq!(spikes(&again), spikes(&local));
    drop(workers);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

#[test]
fn a_worker_that_dies_mid_run_is_an_error_that_keeps_the_recording() -> R {
    let dir = tempdir("distributed-dies")?;
    let local = network(None, gpe_input)?
        .build_with(DT, opts())?
        .run(100.0)?;
    let workers = Workers::start(&dir)?;
    let (d0, d1) = workers.devices()?;
    // GPe's input function kills worker 1 when asked for t = 60 ms.
    let victim = Arc::clone(&workers.children[1]);
    let host = move |t: f64| {
        if (t - 60.0).abs() < 1e-9 {
            if let Ok(mut c) = victim.lock() {
                let _ = c.kill();
                let _ = c.wait();
            }
        }
        gpe_input(t)
    };
    let mut sim = network(Some((&d0, &d1)), host)?.build_with(
        DT,
        opts()
            .target(workers.cluster.target("worker", 0)?)
            .run_timeout_ms(30_000),
    )?;
    let started = Instant::now();
    let err = sim.run(100.0).unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "the failure took too long"
    );
    let Error::RunInterrupted {
        step, recording, ..
    } = &err
    else {
        return Err(format!("expected RunInterrupted, got {err}").into());
    };
    assert_eq!(*step, 600, "{err}");
    assert_eq!(recording.steps, 600);
    let before: Vec<Vec<(usize, usize)>> = local
        .nuclei
        .iter()
        .map(|r| r.spikes.iter().copied().filter(|s| s.0 < 600).collect())
        .collect();
    assert!(
        before.iter().all(|s| !s.is_empty()),
        "the check needs spikes"
    );
    assert_eq!(
        spikes(recording),
        before,
        "the recording before the failure differs"
    );
    drop(workers);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

#[test]
fn refused_connections_and_bad_cluster_files_are_clear_errors() -> R {
    let dir = tempdir("distributed-errors")?;
    let port = free_port()?;
    let target = format!("grpc://127.0.0.1:{port}");
    let started = Instant::now();
    let err = network(None, gpe_input)?
        .build_with(DT, opts().target(target.as_str()))
        .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(matches!(err, Error::Unreachable { .. }), "{err}");
    assert!(err.to_string().contains(&target), "{err}");

    let file = dir.join("cluster.json");
    std::fs::write(&file, "{\"worker\": [\"127.0.0.1:1\", ")?;
    let err = ClusterSpec::from_file(&file).unwrap_err();
    assert!(matches!(err, Error::Cluster { .. }), "{err}");
    assert!(err.to_string().contains("cluster.json"), "{err}");
    assert!(err.to_string().contains("not valid JSON"), "{err}");
    let err = ClusterSpec::from_file(dir.join("missing.json")).unwrap_err();
    assert!(err.to_string().contains("missing.json"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

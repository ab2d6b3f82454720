//! A task of a TensorFlow cluster, or a demonstration of one.
//!
//! `cargo run --example worker -- --cluster cluster.json --task 1 [--job worker]`
//! starts TensorFlow's gRPC server of that task (from the cluster file,
//! `{"worker": ["host:port", ...]}`) and serves until killed: run one per
//! task, on whichever machines the file names.
//!
//! Without arguments it demonstrates (and checks) the distributed runtime on
//! this machine: two workers on free ports of 127.0.0.1 in this process, a
//! three-nucleus network split across them (CTX on task 0, STR and GPe on
//! task 1), whose spikes must equal the single-process run's.

use std::error::Error;
use std::net::TcpListener;
use std::time::Instant;

use snn::network::{
    ClusterSpec, Connection, Input, Network, Nucleus, Record, Recording, Server, SimOptions,
};

fn network(devices: Option<(&str, &str)>) -> snn::Result<Network> {
    let place = |nu: Nucleus, k: usize| match devices {
        Some((d0, d1)) => nu.device(if k == 0 { d0 } else { d1 }),
        None => nu,
    };
    let mut net = Network::new().named("distributed");
    let ctx = net.add(place(
        Nucleus::new("CTX", 200)
            .input(Input::noise(6.0, 3.0, 7))
            .record(Record::spikes()),
        0,
    ))?;
    let str_ = net.add(place(
        Nucleus::new("STR", 100)
            .abcd(0.02, 0.2, -65.0, 8.0)
            .input(4.0)
            .record(Record::spikes()),
        1,
    ))?;
    let gpe = net.add(place(
        Nucleus::new("GPe", 50)
            .abcd(0.1, 0.2, -65.0, 2.0)
            .input(4.0)
            .record(Record::spikes()),
        1,
    ))?;
    net.connect_with(Connection::new(ctx, str_, 0.4).delay(2.0))?;
    net.connect_with(
        Connection::new(str_, gpe, -0.8)
            .delay(1.0)
            .kernel(|t| (-t / 5.0).exp(), 20.0),
    )?;
    net.connect_with(Connection::new(gpe, ctx, -0.3).delay(3.0))?;
    Ok(net)
}

fn free_port() -> Result<u16, Box<dyn Error>> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn spikes(rec: &Recording) -> Vec<Vec<(usize, usize)>> {
    rec.nuclei.iter().map(|r| r.spikes.clone()).collect()
}

fn demo() -> Result<(), Box<dyn Error>> {
    let (dt, t_ms) = (0.1, 200.0);
    let quiet = SimOptions::default().quiet().tensorboard(None);
    let local = network(None)?.build_with(dt, quiet.clone())?.run(t_ms)?;

    let (p0, p1) = (free_port()?, free_port()?);
    let cluster = ClusterSpec::new().job(
        "worker",
        &[&format!("127.0.0.1:{p0}"), &format!("127.0.0.1:{p1}")],
    )?;
    let _w0 = Server::start(&cluster, "worker", 0)?;
    let _w1 = Server::start(&cluster, "worker", 1)?;
    let (d0, d1) = (cluster.device("worker", 0)?, cluster.device("worker", 1)?);
    let started = Instant::now();
    let mut sim =
        network(Some((&d0, &d1)))?.build_with(dt, quiet.target(cluster.target("worker", 0)?))?;
    let rec = sim.run(t_ms)?;
    let took = started.elapsed();
    for r in &rec.nuclei {
        println!(
            "{:>4}: {:5} spikes, {:5.1} Hz",
            r.label,
            r.spike_count,
            1000.0 * r.spike_count as f64 / (r.n as f64 * rec.duration_ms())
        );
    }
    println!(
        "{} steps on 2 workers ({} and {}) in {:.2} s",
        rec.steps,
        cluster.address("worker", 0)?,
        cluster.address("worker", 1)?,
        took.as_secs_f64()
    );
    if spikes(&rec) != spikes(&local) {
        return Err("the distributed run's spikes differ from the single-process run's".into());
    }
    if rec.nuclei.iter().any(|r| r.spike_count == 0) {
        return Err("a nucleus did not fire; the check would be empty".into());
    }
    println!("spikes identical to the single-process run");
    Ok(())
}

fn serve(args: &[String]) -> Result<(), Box<dyn Error>> {
    let mut cluster = None;
    let mut task = None;
    let mut job = "worker".to_string();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = || {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{a} needs a value"))
        };
        match a.as_str() {
            "--cluster" => cluster = Some(value()?),
            "--task" => {
                task = Some(
                    value()?
                        .parse::<usize>()
                        .map_err(|e| format!("--task: {e}"))?,
                )
            }
            "--job" => job = value()?,
            other => {
                return Err(format!(
                    "unknown argument {other:?}; usage: --cluster FILE --task K [--job NAME]"
                )
                .into())
            }
        }
    }
    let cluster = ClusterSpec::from_file(cluster.ok_or("--cluster FILE is required")?)?;
    let task = task.ok_or("--task K is required")?;
    let server = Server::start(&cluster, &job, task)?;
    println!(
        "{} serving at {} (device {})",
        server.task_name(),
        cluster.address(&job, task)?,
        cluster.device(&job, task)?
    );
    server.join()?;
    Ok(())
}

fn main() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.is_empty() {
        demo()
    } else {
        serve(&args)
    }
}

//! What a session run and an op cost TensorFlow here, apart from any
//! model: the floor under the engine's per-step figures
//! (docs/performance.md, "Where CUBA's time went").
//!
//!     cargo bench --bench floor --features mimalloc
//!
//! One graph per line: a float32 variable of `size` elements, read, put
//! through a chain of `ops` binary ops (`Add` and `Mul` in turn, each with
//! a read of a second variable, so Grappler can neither fold nor fuse the
//! chain), and assigned back; one session run per step on the
//! single-threaded executor with one intra-op thread, as `Executor::Auto`
//! runs small networks. Three rounds of 20 000 runs alternate over the
//! lines; each line prints its range of microseconds per run.
//!
//! Then what adding values into a variable at scattered places costs (a
//! buffer of future inputs for per-synapse delays would need it,
//! docs/design.md): `ResourceScatterAdd` into a flat `[51 n]` variable
//! and `ResourceScatterNdAdd` into a `[51, n]` one, `k` values a run.

use std::time::Instant;

use tensorflow::{ops, DataType, Output, Scope, Session, SessionOptions, SessionRunArgs, Tensor};

type R<T> = Result<T, Box<dyn std::error::Error>>;

/// `ConfigProto { intra_op_parallelism_threads: 1, experimental {
/// executor_type: "SINGLE_THREADED_EXECUTOR" } }`.
fn config() -> Vec<u8> {
    let executor = b"SINGLE_THREADED_EXECUTOR";
    let mut experimental = vec![0x1a, executor.len() as u8];
    experimental.extend_from_slice(executor);
    let mut out = vec![0x10, 0x01, 0x82, 0x01, experimental.len() as u8];
    out.extend(experimental);
    out
}

/// The session and its step target for a chain of `chain` ops on `size`
/// elements (the variables initialised to ones).
fn build(chain: usize, size: u64) -> R<(Session, tensorflow::Operation)> {
    let mut scope = Scope::new_root_scope();
    let ones = Tensor::<f32>::new(&[size]).with_values(&vec![1.0f32; size as usize])?;
    let ones = ops::constant(ones, &mut scope)?;
    let var = |scope: &mut Scope| -> R<(Output, tensorflow::Operation)> {
        let h = ops::VarHandleOp::new()
            .dtype(DataType::Float)
            .shape(tensorflow::Shape::from(None))
            .build(scope)?;
        let init = ops::AssignVariableOp::new().build(h.clone(), ones.clone(), scope)?;
        Ok((h.into(), init))
    };
    let ((x_var, x_init), (y_var, y_init)) = (var(&mut scope)?, var(&mut scope)?);
    let read = |h: &Output, scope: &mut Scope| {
        ops::ReadVariableOp::new()
            .dtype(DataType::Float)
            .build(h.clone(), scope)
    };
    let y: Output = read(&y_var, &mut scope)?.into();
    let mut x: Output = read(&x_var, &mut scope)?.into();
    for k in 0..chain {
        x = match k % 2 {
            0 => ops::add(x, y.clone(), &mut scope)?.into(),
            _ => ops::mul(x, y.clone(), &mut scope)?.into(),
        };
    }
    let step = ops::AssignVariableOp::new().build(x_var, x, &mut scope)?;
    let mut options = SessionOptions::new();
    options.set_config(&config())?;
    let session = Session::new(&options, &scope.graph())?;
    let mut init = SessionRunArgs::new();
    init.add_target(&x_init);
    init.add_target(&y_init);
    session.run(&mut init)?;
    Ok((session, step))
}

/// A `[51 n]` (flat) or `[51, n]` variable and a step adding `k` values at
/// fixed scattered places.
fn build_scatter(flat: bool, n: u64, k: u64) -> R<(Session, tensorflow::Operation)> {
    let rows = 51u64;
    let mut scope = Scope::new_root_scope();
    let mut x = 12345u64;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let at: Vec<(i64, i64)> = (0..k)
        .map(|_| ((next() % rows) as i64, (next() % n) as i64))
        .collect();
    let values = ops::constant(
        Tensor::<f32>::new(&[k]).with_values(&vec![0.5; k as usize])?,
        &mut scope,
    )?;
    let h = ops::VarHandleOp::new()
        .dtype(DataType::Float)
        .shape(tensorflow::Shape::from(None))
        .build(&mut scope)?;
    let (zeros, step) = if flat {
        let idx: Vec<i64> = at.iter().map(|(r, c)| r * n as i64 + c).collect();
        let idx = ops::constant(Tensor::<i64>::new(&[k]).with_values(&idx)?, &mut scope)?;
        let zeros = ops::constant(Tensor::<f32>::new(&[rows * n]), &mut scope)?;
        let step = ops::ResourceScatterAdd::new().build(h.clone(), idx, values, &mut scope)?;
        (zeros, step)
    } else {
        let idx: Vec<i64> = at.iter().flat_map(|&(r, c)| [r, c]).collect();
        let idx = ops::constant(Tensor::<i64>::new(&[k, 2]).with_values(&idx)?, &mut scope)?;
        let zeros = ops::constant(Tensor::<f32>::new(&[rows, n]), &mut scope)?;
        let step = ops::ResourceScatterNdAdd::new().build(h.clone(), idx, values, &mut scope)?;
        (zeros, step)
    };
    let init = ops::AssignVariableOp::new().build(h, zeros, &mut scope)?;
    let mut options = SessionOptions::new();
    options.set_config(&config())?;
    let session = Session::new(&options, &scope.graph())?;
    let mut args = SessionRunArgs::new();
    args.add_target(&init);
    session.run(&mut args)?;
    Ok((session, step))
}

/// `runs` runs of `step`, in microseconds per run.
fn time_runs(session: &Session, step: &tensorflow::Operation, runs: usize) -> R<f64> {
    let started = Instant::now();
    for _ in 0..runs {
        let mut args = SessionRunArgs::new();
        args.add_target(step);
        session.run(&mut args)?;
    }
    Ok(started.elapsed().as_secs_f64() * 1e6 / runs as f64)
}

fn main() -> R<()> {
    let runs = 20_000;
    let lines: Vec<(usize, u64)> = [1u64, 400, 4000, 40_000]
        .iter()
        .flat_map(|&size| [(0, size), (60, size)])
        .collect();
    let built: Vec<_> = lines
        .iter()
        .map(|&(chain, size)| build(chain, size))
        .collect::<R<_>>()?;
    let mut times = vec![Vec::new(); lines.len()];
    for _round in 0..3 {
        for ((session, step), t) in built.iter().zip(&mut times) {
            t.push(time_runs(session, step, runs)?);
        }
    }
    println!("| elements | ops in the chain | us per session run (three rounds) |");
    println!("| --- | --- | --- |");
    for ((chain, size), t) in lines.iter().zip(&times) {
        let lo = t.iter().cloned().fold(f64::INFINITY, f64::min);
        let hi = t.iter().cloned().fold(0.0, f64::max);
        println!("| {size} | {chain} | {lo:.2}-{hi:.2} |");
    }

    let scatters: Vec<(bool, u64, u64)> = [(100_000u64, 5500u64), (10_000, 54_000)]
        .iter()
        .flat_map(|&(n, k)| [(true, n, k), (false, n, k)])
        .collect();
    let built: Vec<_> = scatters
        .iter()
        .map(|&(flat, n, k)| build_scatter(flat, n, k))
        .collect::<R<_>>()?;
    let mut times = vec![Vec::new(); scatters.len()];
    for _round in 0..3 {
        for ((session, step), t) in built.iter().zip(&mut times) {
            t.push(time_runs(session, step, 1000)?);
        }
    }
    println!();
    println!("| op | n | values added | ns per value (three rounds) |");
    println!("| --- | --- | --- | --- |");
    for ((flat, n, k), t) in scatters.iter().zip(&times) {
        let lo = t.iter().cloned().fold(f64::INFINITY, f64::min) * 1000.0 / *k as f64;
        let hi = t.iter().cloned().fold(0.0, f64::max) * 1000.0 / *k as f64;
        let op = if *flat {
            "ResourceScatterAdd, [51 n]"
        } else {
            "ResourceScatterNdAdd, [51, n]"
        };
        println!("| {op} | {n} | {k} | {lo:.0}-{hi:.0} |");
    }
    Ok(())
}

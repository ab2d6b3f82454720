//! In-graph Gaussian noise keyed by (seed, step).

use tensorflow::{ops, DataType, Output, Scope, Tensor};

use super::graph::{
    const_f32, const_i32, constant, identity_n, kernel_node, other_err, scalar_f32, tf_err,
};
use crate::error::Result;
use crate::network::native::{BOX_MULLER_IN, BOX_MULLER_OUT, UNIFORM};

/// Which op makes a nucleus's uniform draws.
#[derive(Clone, Debug)]
pub(super) enum UniformOp {
    /// TensorFlow's `StatelessRandomUniform`.
    Stock,
    /// snn's `SnnUniform`, on the nucleus's device (built outside its
    /// scope, so given here).
    Snn { device: Option<String> },
}

impl UniformOp {
    pub(super) fn of(nu: &crate::network::plan::PlanNucleus) -> UniformOp {
        match nu.snn_kernels {
            true => UniformOp::Snn {
                device: nu.device.clone(),
            },
            false => UniformOp::Stock,
        }
    }
}

/// `dims` (int32 vector) uniform floats on [0, 1) keyed by the two-word
/// Philox `key`: TensorFlow's `StatelessRandomUniform`, or with `Snn`
/// snn's kernel `SnnUniform`, which gives the same floats with the Philox
/// rounds vectorised (docs/design.md, "Uniform draws by snn's kernel").
/// Beside the kernel it builds `StatelessRandomUniform` as `name/portable`,
/// which no step runs and `Simulator::export` puts in the kernel's place.
pub(super) fn uniform(
    s: &mut Scope,
    dims: Output,
    key: Output,
    name: &str,
    by: &UniformOp,
) -> Result<Output> {
    let e = tf_err("random draws");
    let stock = |s: &mut Scope, name: &str| -> Result<Output> {
        Ok(ops::StatelessRandomUniform::new()
            .dtype(DataType::Float)
            .build(dims.clone(), key.clone(), &mut s.with_op_name(name))
            .map_err(&e)?
            .into())
    };
    let UniformOp::Snn { device } = by else {
        return stock(s, name);
    };
    let (draws, twin) = kernel_node(s, UNIFORM, name, device.as_deref(), |nd| {
        nd.add_input(dims.clone());
        nd.add_input(key.clone());
        Ok(())
    })?;
    stock(s, &twin)?;
    Ok(draws.into())
}

/// `mean + std * Normal(0, 1)`, `n` values keyed by the two-word Philox
/// `key`, by the Box–Muller transform of uniform draws ([`uniform`]):
/// `u1, u2` uniform on [0, 1) give the independent standard normals
/// `sqrt(-2 ln(1 - u1)) * (cos 2πu2, sin 2πu2)`. TensorFlow's own
/// `StatelessRandomNormal` does the same transform one scalar at a time
/// (libm `logf`, `sincosf`); as whole-tensor ops Eigen vectorises them.
pub(super) fn normal_noise(
    s: &mut Scope,
    n: u64,
    key: Output,
    (mean, std): (f32, f32),
    by: &UniformOp,
) -> Result<Output> {
    box_muller(s, n, key, std, Some(mean), by)
}

/// `std * Normal(0, 1)`: [`normal_noise`] without the mean.
pub(super) fn scaled_normal(
    s: &mut Scope,
    n: u64,
    key: Output,
    std: f32,
    by: &UniformOp,
) -> Result<Output> {
    box_muller(s, n, key, std, None, by)
}

/// The Box–Muller transform as whole-tensor ops (`Stock`), or (`Snn`)
/// TensorFlow's `Log` and `Cos` between snn's kernels for the arithmetic
/// before and after them, `SnnBoxMullerIn` (`draws`) and `SnnBoxMullerOut`
/// (`normal_pair`), which give the same floats (docs/design.md, "Normal
/// draws around TensorFlow's log and cos"). Beside the kernels, in the
/// sub-scope `portable`, the ops they stand for, which no step runs and
/// `Simulator::export` puts in their place (as `draws/portable`, an
/// `IdentityN` of the two, and `normal_pair/portable`). Either way the
/// mean is added to the pairs, which are then flattened (`normal`, a
/// reshape that also gives the graph their static shape) and cut to `n`
/// (`normal_n`). (Added after the reshape, just before the sum of the
/// nucleus's inputs, it made a chain of additions TensorFlow's graph
/// optimiser may rewrite, and the portable build's inputs then differed
/// from the kernels' in the last bit in connected networks.)
fn box_muller(
    s: &mut Scope,
    n: u64,
    key: Output,
    std: f32,
    mean: Option<f32>,
    by: &UniformOp,
) -> Result<Output> {
    let e = tf_err("noise");
    let h = n.div_ceil(2);
    let dims: Output = const_i32(s, "uniform_shape", &[2, h as i32], &[2])?.into();
    let scale: Output = scalar_f32(s, "minus_two_var", -2.0 * std * std)?.into();
    let mean: Option<Output> = match mean {
        Some(m) => Some(scalar_f32(s, "mean", m)?.into()),
        None => None,
    };
    let log_cos = |s: &mut Scope, open: Output, angles: Output| -> Result<[Output; 2]> {
        let log = ops::log(open, &mut s.with_op_name("log")).map_err(&e)?;
        // cos(θ - [0, π/2]) = [cos θ, sin θ], as a [2, h] pair.
        let unit = ops::cos(angles, &mut s.with_op_name("cos")).map_err(&e)?;
        Ok([log.into(), unit.into()])
    };
    let pairs = match by {
        UniformOp::Stock => {
            let (open, angles) = before_log(s, dims, key, by)?;
            let [log, unit] = log_cos(s, open, angles)?;
            after_cos(s, [log, unit, scale], mean)?
        }
        UniformOp::Snn { device } => {
            let device = device.as_deref();
            let (draws, draws_twin) = kernel_node(s, BOX_MULLER_IN, "draws", device, |nd| {
                nd.add_input(dims.clone());
                nd.add_input(key.clone());
                Ok(())
            })?;
            let out = |index| Output {
                operation: draws.clone(),
                index,
            };
            let [log, unit] = log_cos(s, out(0), out(1))?;
            let inputs = [log, unit, scale];
            let (pairs, pairs_twin) =
                kernel_node(s, BOX_MULLER_OUT, "normal_pair", device, |nd| {
                    for x in &inputs {
                        nd.add_input(x.clone());
                    }
                    nd.add_input_list(mean.as_slice());
                    nd.set_attr_int("M", mean.iter().len() as i64)
                        .map_err(other_err("noise"))
                })?;
            let mut p = s.new_sub_scope("portable");
            let (open, angles) = before_log(&mut p, dims, key, &UniformOp::Stock)?;
            identity_n(s, &draws_twin, &[open, angles], &[DataType::Float; 2])?;
            let stock = after_cos(&mut p, inputs, mean)?;
            ops::identity(stock, &mut s.with_op_name(&pairs_twin)).map_err(&e)?;
            pairs.into()
        }
    };
    let flat = const_i32(s, "flat", &[2 * h as i32], &[1])?;
    let mut z = ops::reshape(pairs, flat, &mut s.with_op_name("normal")).map_err(&e)?;
    if 2 * h != n {
        let begin = const_i32(s, "begin", &[0], &[1])?;
        let size = const_i32(s, "size", &[n as i32], &[1])?;
        z = ops::slice(z, begin, size, &mut s.with_op_name("normal_n")).map_err(&e)?;
    }
    Ok(z.into())
}

/// The transform before `Log` and `Cos` as TensorFlow's ops: `u` uniform
/// `[2, h]` (`dims`), `1 - u[0]` and `u[1] 2π - [0, π/2]`.
fn before_log(
    s: &mut Scope,
    dims: Output,
    key: Output,
    by: &UniformOp,
) -> Result<(Output, Output)> {
    let e = tf_err("noise");
    let u = uniform(s, dims, key, "uniform", by)?;
    let pair = ops::Unpack::new()
        .num(2)
        .axis(0)
        .build(u, &mut s.with_op_name("uniform_pair"))
        .map_err(&e)?;
    let (u1, u2) = (
        Output {
            operation: pair.clone(),
            index: 0,
        },
        Output {
            operation: pair,
            index: 1,
        },
    );
    let one = scalar_f32(s, "one", 1.0)?;
    let open = ops::sub(one, u1, &mut s.with_op_name("one_minus_u1")).map_err(&e)?;
    let two_pi = scalar_f32(s, "two_pi", std::f32::consts::TAU)?;
    let angle = ops::mul(u2, two_pi, &mut s.with_op_name("angle")).map_err(&e)?;
    let phase = const_f32(s, "phase", &[0.0, std::f32::consts::FRAC_PI_2], &[2, 1])?;
    let angles = ops::sub(angle, phase, &mut s.with_op_name("angles")).map_err(&e)?;
    Ok((open.into(), angles.into()))
}

/// The transform after `Log` and `Cos` as TensorFlow's ops: `r =
/// sqrt(log scale)`, the pairs `unit r`, plus `mean` (`[2, h]`, named
/// `normal_pair`).
fn after_cos(
    s: &mut Scope,
    [log, unit, scale]: [Output; 3],
    mean: Option<Output>,
) -> Result<Output> {
    let e = tf_err("noise");
    let r2 = ops::mul(log, scale, &mut s.with_op_name("radius_squared")).map_err(&e)?;
    let r = ops::sqrt(r2, &mut s.with_op_name("radius")).map_err(&e)?;
    Ok(match mean {
        None => ops::mul(unit, r, &mut s.with_op_name("normal_pair"))
            .map_err(&e)?
            .into(),
        Some(m) => {
            let z = ops::mul(unit, r, &mut s.with_op_name("scaled_pair")).map_err(&e)?;
            ops::add(z, m, &mut s.with_op_name("normal_pair"))
                .map_err(&e)?
                .into()
        }
    })
}

/// `Iext` of a noise input in scope `s`: `n` draws of `mean + std N(0, 1)`
/// keyed by `(seed, step)`, so a resumed run draws the same noise.
pub(super) fn noise_input(
    s: &mut Scope,
    n: u64,
    step: &Output,
    (mean, std, seed): (f32, f32, i64),
    by: &UniformOp,
) -> Result<Output> {
    let key = step_key(s, step, seed)?;
    normal_noise(s, n, key, (mean, std), by)
}

/// The Philox key `[seed, step]` (int64 `[2]`) of a step's draws.
pub(super) fn step_key(s: &mut Scope, step: &Output, seed: i64) -> Result<Output> {
    let e = tf_err("random draws");
    let key = Tensor::new(&[2]).with_values(&[seed, 0i64]).map_err(&e)?;
    let key = constant(key, &mut s.with_op_name("seed")).map_err(&e)?;
    let sel = Tensor::new(&[2]).with_values(&[0i64, 1]).map_err(&e)?;
    let sel = constant(sel, &mut s.with_op_name("seed_select")).map_err(&e)?;
    let counter = ops::mul(sel, step.clone(), s).map_err(&e)?;
    Ok(ops::add(key, counter, &mut s.with_op_name("seed_step"))
        .map_err(&e)?
        .into())
}

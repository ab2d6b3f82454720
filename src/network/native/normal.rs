//! The arithmetic of the Box–Muller transform around TensorFlow's `Log` and
//! `Cos` (docs/design.md, "Normal draws around TensorFlow's log and cos").
//! `compile::noise` draws `n` normals as `u1, u2` uniform (`[2, h]`, `h =
//! ceil(n / 2)`), `r = sqrt((-2 std²) ln(1 - u1))` and `z = r [cos 2πu2,
//! cos(2πu2 - π/2)]`, then `z + mean`. TensorFlow's `Log` and `Cos` stay
//! theirs (Eigen's vectorised functions, whose bits no other code
//! promises); the element-wise steps before and after them are these two
//! kernels:
//!
//! ```text
//! SnnBoxMullerIn(shape: int32 [2] = [2, h], seed: int64 [2])
//!   -> (open: float [h], angles: float [2, h])
//!   u = StatelessRandomUniform(shape, seed); open = 1 - u[0];
//!   angles = u[1] * 2π - [0, π/2]
//! SnnBoxMullerOut(log: float [h], unit: float [2, h], scale: float,
//!                 mean: M * float) -> z: float [2 h]
//!   z = unit * sqrt(log * scale) (+ mean), flattened
//! ```
//!
//! (The compiler reshapes `z` to `[2 h]`, which also gives the graph its
//! static shape, and takes its first `n`.)
//!
//! Each value is the one TensorFlow's ops (`Unpack`, `Sub`, `Mul`, `Sqrt`,
//! `Reshape`, `Slice`, `Add`) give, one IEEE operation each, in their
//! order; the compiler keeps those ops beside the kernels for export.

use std::ffi::{c_int, c_void};
use std::panic::{catch_unwind, AssertUnwindSafe};

use tensorflow_sys as tf;

use super::{fail, input, output, philox, Context};

/// `2π` and `π/2` as the graph's float32 constants.
const TWO_PI: f32 = std::f32::consts::TAU;
const HALF_PI: f32 = std::f32::consts::FRAC_PI_2;

/// `SnnBoxMullerIn`'s arithmetic on the uniform draws `u` (`[2, h]`, row
/// 0 `u1`, row 1 `u2`), in place: `u` becomes the angles, `open` gets
/// `1 - u1`.
pub(super) fn prepare(u: &mut [f32], open: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2.
        return unsafe { prepare_avx2(u, open) };
    }
    prepare_plain(u, open)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn prepare_avx2(u: &mut [f32], open: &mut [f32]) {
    prepare_plain(u, open)
}

/// [`prepare`] itself, inlined into each path (vectorised for its
/// vectors; the same operations, so the same bits).
#[inline(always)]
fn prepare_plain(u: &mut [f32], open: &mut [f32]) {
    let h = open.len();
    let (first, second) = u.split_at_mut(h);
    for ((o, a0), a1) in open.iter_mut().zip(first).zip(second.iter_mut()) {
        *o = 1.0 - *a0;
        let angle = *a1 * TWO_PI;
        *a0 = angle - 0.0;
        *a1 = angle - HALF_PI;
    }
}

/// `SnnBoxMullerOut`'s arithmetic: `z[k h + j] = unit[k h + j] * sqrt(log[j]
/// * scale) (+ mean)` (`unit` and `z` of `2 h`).
pub(super) fn finish(log: &[f32], unit: &[f32], scale: f32, mean: Option<f32>, z: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2.
        return unsafe { finish_avx2(log, unit, scale, mean, z) };
    }
    finish_plain(log, unit, scale, mean, z)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn finish_avx2(log: &[f32], unit: &[f32], scale: f32, mean: Option<f32>, z: &mut [f32]) {
    finish_plain(log, unit, scale, mean, z)
}

/// [`finish`] itself: one `sqrt` per pair, both of its normals.
#[inline(always)]
fn finish_plain(log: &[f32], unit: &[f32], scale: f32, mean: Option<f32>, z: &mut [f32]) {
    let h = log.len();
    let (z0, z1) = z.split_at_mut(h);
    let (c0, c1) = unit.split_at(h);
    let pairs = z0.iter_mut().zip(z1).zip(c0.iter().zip(c1)).zip(log);
    match mean {
        Some(m) => {
            for (((a, b), (&ca, &cb)), &l) in pairs {
                let r = (l * scale).sqrt();
                *a = ca * r + m;
                *b = cb * r + m;
            }
        }
        None => {
            for (((a, b), (&ca, &cb)), &l) in pairs {
                let r = (l * scale).sqrt();
                *a = ca * r;
                *b = cb * r;
            }
        }
    }
}

pub(super) extern "C" fn compute_in(_: *mut c_void, c: *mut Context) {
    let outcome = catch_unwind(AssertUnwindSafe(|| unsafe { run_in(c) }));
    fail(c, "snn's Box-Muller draws", outcome);
}

/// # Safety
/// `c` is the context TensorFlow handed to [`compute_in`].
unsafe fn run_in(c: *mut Context) -> std::result::Result<(), String> {
    use tf::TF_DataType::{TF_FLOAT, TF_INT32, TF_INT64};
    let (shape, seed) = (input(c, 0)?, input(c, 1)?);
    let h = match shape.values::<i32>("shape", TF_INT32)? {
        &[2, h] if h >= 0 => h as usize,
        other => return Err(format!("shape {other:?}, not [2, h]")),
    };
    let seed = match seed.values::<i64>("seed", TF_INT64)? {
        &[s0, s1] => [s0, s1],
        other => return Err(format!("a seed of {} values, not 2", other.len())),
    };
    let (_o, open) = output::<f32>(c, 0, TF_FLOAT, &[h as i64], h)?;
    let (_a, angles) = output::<f32>(c, 1, TF_FLOAT, &[2, h as i64], 2 * h)?;
    philox::fill_uniform(seed, angles);
    prepare(angles, open);
    Ok(())
}

pub(super) extern "C" fn compute_out(_: *mut c_void, c: *mut Context) {
    let outcome = catch_unwind(AssertUnwindSafe(|| unsafe { run_out(c) }));
    fail(c, "snn's Box-Muller transform", outcome);
}

/// # Safety
/// `c` is the context TensorFlow handed to [`compute_out`].
unsafe fn run_out(c: *mut Context) -> std::result::Result<(), String> {
    use tf::TF_DataType::TF_FLOAT;
    let inputs = usize::try_from(super::TF_NumInputs(c)).map_err(|e| e.to_string())?;
    let held = (0..inputs)
        .map(|k| input(c, k as c_int))
        .collect::<std::result::Result<Vec<_>, _>>()?;
    let [log, unit, scale, rest @ ..] = &held[..] else {
        return Err(format!("{inputs} inputs"));
    };
    let log = log.values::<f32>("log", TF_FLOAT)?;
    let h = log.len();
    let unit = unit.elements::<f32>("unit", TF_FLOAT)?;
    if unit.len() != 2 * h {
        return Err(format!("unit is not [2, {h}] floats"));
    }
    let scale = scale.float("scale")?;
    let mean = match rest {
        [] => None,
        [m] => Some(m.float("mean")?),
        _ => return Err("more than one mean".into()),
    };
    let (_z, z) = output::<f32>(c, 0, TF_FLOAT, &[2 * h as i64], 2 * h)?;
    finish(log, unit, scale, mean, z);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The transform of a few draws, against the formulas written out.
    #[test]
    fn prepare_and_finish_are_the_formulas() {
        let mut u = vec![0.0f32, 0.25, 0.5, 0.75, 0.125, 0.999];
        let mut open = vec![0.0f32; 3];
        prepare(&mut u, &mut open);
        assert_eq!(open, vec![1.0, 0.75, 0.5]);
        for (j, u2) in [0.75f32, 0.125, 0.999].into_iter().enumerate() {
            assert_eq!(u[j], u2 * TWO_PI);
            assert_eq!(u[3 + j], u2 * TWO_PI - HALF_PI);
        }
        // Six normals from three pairs, row by row.
        let log = [-0.5f32, -1.0, 0.0];
        let unit = [1.0f32, -0.5, 0.25, 0.0, 1.0, -1.0];
        let mut z = vec![f32::NAN; 6];
        finish(&log, &unit, -2.0, Some(3.0), &mut z);
        let r = [1.0f32, 2.0f32.sqrt(), 0.0];
        let want: Vec<f32> = (0..6).map(|i| unit[i] * r[i % 3] + 3.0).collect();
        assert_eq!(z, want);
    }

    /// The kernels around TensorFlow's `Log` and `Cos` against TensorFlow's
    /// ops for the whole transform, in one graph: the same floats, bit for
    /// bit, before the log and cos and at the end (odd and even `n`, with
    /// and without a mean).
    #[test]
    fn kernels_give_tensorflows_floats() {
        use tensorflow::{ops, DataType, Operation, Output, Scope, Session, SessionOptions};
        use tensorflow::{SessionRunArgs, Tensor};
        super::super::register().expect("register");
        for (n, mean) in [
            (300u64, Some(3.0f32)),
            (7, None),
            (1, Some(-1.5)),
            (2000, Some(5.0)),
            (100_000, Some(0.0)),
        ] {
            let h = n.div_ceil(2) as i32;
            let mut s = Scope::new_root_scope();
            let c_i32 = |s: &mut Scope, v: &[i32], dims: &[u64]| -> Output {
                let t = Tensor::new(dims).with_values(v).expect("tensor");
                ops::constant(t, s).expect("const").into()
            };
            let c_f32 = |s: &mut Scope, v: &[f32], dims: &[u64]| -> Output {
                let t = Tensor::new(dims).with_values(v).expect("tensor");
                ops::constant(t, s).expect("const").into()
            };
            let dims = c_i32(&mut s, &[2, h], &[2]);
            let seed: Output = ops::constant(
                Tensor::new(&[2]).with_values(&[7i64, -3]).expect("seed"),
                &mut s,
            )
            .expect("seed")
            .into();
            let scale = c_f32(&mut s, &[-18.0], &[]);
            let means: Vec<Output> = mean.map(|m| c_f32(&mut s, &[m], &[])).into_iter().collect();
            // TensorFlow's ops.
            let u = ops::StatelessRandomUniform::new()
                .dtype(DataType::Float)
                .build(dims.clone(), seed.clone(), &mut s)
                .expect("uniform");
            let pair = ops::Unpack::new()
                .num(2)
                .axis(0)
                .build(u, &mut s)
                .expect("unpack");
            let one = c_f32(&mut s, &[1.0], &[]);
            let open = ops::sub(
                one,
                Output {
                    operation: pair.clone(),
                    index: 0,
                },
                &mut s,
            )
            .expect("sub");
            let two_pi = c_f32(&mut s, &[TWO_PI], &[]);
            let angle = ops::mul(
                Output {
                    operation: pair,
                    index: 1,
                },
                two_pi,
                &mut s,
            )
            .expect("mul");
            let phase = c_f32(&mut s, &[0.0, HALF_PI], &[2, 1]);
            let angles = ops::sub(angle, phase, &mut s).expect("sub");
            let log = ops::log(open.clone(), &mut s).expect("log");
            let unit = ops::cos(angles.clone(), &mut s).expect("cos");
            let r = ops::sqrt(ops::mul(log, scale.clone(), &mut s).expect("mul"), &mut s)
                .expect("sqrt");
            let z = ops::mul(unit, r, &mut s).expect("mul");
            let flat = c_i32(&mut s, &[2 * h], &[1]);
            let z = ops::reshape(z, flat, &mut s).expect("reshape");
            let (begin, size) = (c_i32(&mut s, &[0], &[1]), c_i32(&mut s, &[n as i32], &[1]));
            let mut stock: Output = ops::slice(z, begin, size, &mut s).expect("slice").into();
            if let Some(m) = means.first() {
                stock = ops::add(stock, m.clone(), &mut s).expect("add").into();
            }
            // The kernels.
            let mut g = s.graph_mut();
            let mut nd = g
                .new_operation(super::super::BOX_MULLER_IN, "in")
                .expect("op");
            nd.add_input(dims);
            nd.add_input(seed);
            let draws: Operation = nd.finish().expect("in");
            drop(g);
            let out = |index| Output {
                operation: draws.clone(),
                index,
            };
            let log = ops::log(out(0), &mut s).expect("log");
            let unit = ops::cos(out(1), &mut s).expect("cos");
            let mut g = s.graph_mut();
            let mut nd = g
                .new_operation(super::super::BOX_MULLER_OUT, "out")
                .expect("op");
            nd.add_input(log);
            nd.add_input(unit);
            nd.add_input(scale);
            nd.add_input_list(&means);
            nd.set_attr_int("M", means.len() as i64).expect("M");
            let ours = nd.finish().expect("out");
            drop(g);
            let flat = c_i32(&mut s, &[2 * h], &[1]);
            let ours = ops::reshape(ours, flat, &mut s).expect("reshape");
            let (begin, size) = (c_i32(&mut s, &[0], &[1]), c_i32(&mut s, &[n as i32], &[1]));
            let ours = ops::slice(ours, begin, size, &mut s).expect("slice");
            let session = Session::new(&SessionOptions::new(), &s.graph()).expect("session");
            let mut args = SessionRunArgs::new();
            let fetches = [
                args.request_fetch(&open, 0),
                args.request_fetch(&draws, 0),
                args.request_fetch(&angles, 0),
                args.request_fetch(&draws, 1),
                args.request_fetch(&stock.operation, stock.index),
                args.request_fetch(&ours, 0),
            ];
            session.run(&mut args).expect("run");
            let bits: Vec<Vec<u32>> = fetches
                .iter()
                .map(|&f| {
                    let t: Tensor<f32> = args.fetch(f).expect("fetch");
                    t.iter().map(|x| x.to_bits()).collect()
                })
                .collect();
            for (k, what) in [(0, "1 - u1"), (2, "angles"), (4, "z")] {
                assert_eq!(bits[k], bits[k + 1], "{what}, n = {n}");
            }
            assert_eq!(bits[5].len(), n as usize);
        }
    }

    /// The AVX2 paths give the plain loops' bits.
    #[test]
    fn every_path_gives_the_same_bits() {
        let h = 1003;
        let u: Vec<f32> = (0..2 * h)
            .map(|j| ((j * 7919) % 1000) as f32 / 1000.0)
            .collect();
        let log: Vec<f32> = (0..h).map(|j| -((j % 97) as f32) / 13.0).collect();
        let bits = |x: &[f32]| x.iter().map(|y| y.to_bits()).collect::<Vec<_>>();
        let (mut a, mut open_a) = (u.clone(), vec![0.0f32; h]);
        prepare_plain(&mut a, &mut open_a);
        let mut za = vec![0.0f32; 2 * h];
        finish_plain(&log, &a, -8.0, Some(0.5), &mut za);
        let (mut b, mut open_b) = (u.clone(), vec![0.0f32; h]);
        prepare(&mut b, &mut open_b);
        let mut zb = vec![0.0f32; 2 * h];
        finish(&log, &b, -8.0, Some(0.5), &mut zb);
        assert_eq!(bits(&a), bits(&b));
        assert_eq!(bits(&open_a), bits(&open_b));
        assert_eq!(bits(&za), bits(&zb));
    }
}

//! `SnnIzhikevich`: steps 2-5 of docs/semantics.md §1.3 for the Izhikevich
//! nuclei of one population in one pass over their neurons, with the
//! numbers TensorFlow's element-wise ops give (docs/design.md, "The
//! Izhikevich update by snn's kernel").
//!
//! ```text
//! SnnIzhikevich(v: N * float, u: N * float, i: N * float, dt: float,
//!               a: float [n], b: float [n], c: float [n], d: float [n])
//!   -> (v_new: N * float, u_new: N * float, fired: N * bool, spikes: N * int64)
//! ```
//!
//! `v`, `u`, `i` are the `N` members' state (in population order, `n`
//! neurons together), `a`-`d` the population's parameters, joined; member
//! `k`'s outputs are its new `v` and `u`, its spikes as bools, and their
//! indices as int64 `[k, 1]` (what `Where` gives). Each value is computed by
//! the float32 operations, in the order, of the TensorFlow ops
//! `compile::neurons` builds for the same step (which the compiler keeps
//! beside the kernel for export): one rounding per operation, no fused
//! multiply-add, `MulNoNan` for the products with `dt`. The kernel runs on
//! TensorFlow's thread, under the same floating-point mode as its ops.

use std::ffi::{c_int, c_void};
use std::panic::{catch_unwind, AssertUnwindSafe};

use tensorflow_sys as tf;

use super::{attr_int, fail, input, output, Construction, Context};

/// The spike peak (mV): a neuron that fired stores it, and only such a
/// neuron holds it at the next step's reset.
const PEAK: f32 = 30.0;

/// One member's state, read.
pub(super) struct State<'a> {
    pub(super) v: &'a [f32],
    pub(super) u: &'a [f32],
    pub(super) i: &'a [f32],
}

/// One member's parameters (its part of the population's).
pub(super) struct Params<'a> {
    pub(super) a: &'a [f32],
    pub(super) b: &'a [f32],
    pub(super) c: &'a [f32],
    pub(super) d: &'a [f32],
}

/// One member's new state.
pub(super) struct Next<'a> {
    pub(super) v: &'a mut [f32],
    pub(super) u: &'a mut [f32],
    pub(super) fired: &'a mut [bool],
}

/// TensorFlow's `MulNoNan(x, y)`: 0 where `y` is 0, else `x * y`.
#[inline(always)]
fn mul_no_nan(x: f32, y: f32) -> f32 {
    if y == 0.0 {
        0.0
    } else {
        x * y
    }
}

/// Reset, `v`, `u` and threshold of one member (all slices of its length;
/// the caller checks), in AVX2's vectors when the CPU has them: the same
/// operations in every lane, so the same bits on every path. (AVX-512 was
/// measured no faster: at 10^5 neurons the loop waits for memory, at 10^4
/// its masked loads took a third longer.)
pub(super) fn step(s: &State<'_>, p: &Params<'_>, dt: f32, out: Next<'_>) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2.
        return unsafe { step_avx2(s, p, dt, out) };
    }
    step_plain(s, p, dt, out)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn step_avx2(s: &State<'_>, p: &Params<'_>, dt: f32, out: Next<'_>) {
    step_plain(s, p, dt, out)
}

/// The update itself, without branches on the data (every value is loaded
/// whether it is chosen or not) so that the loop vectorises; each line is
/// one of the graph's ops. Inlined into each of the paths above, which
/// compile it for their vectors (Rust never fuses a multiply and an add).
#[inline(always)]
fn step_plain(s: &State<'_>, p: &Params<'_>, dt: f32, out: Next<'_>) {
    let n = s.v.len();
    let (v, u, i) = (&s.v[..n], &s.u[..n], &s.i[..n]);
    let (a, b, c, d) = (&p.a[..n], &p.b[..n], &p.c[..n], &p.d[..n]);
    let (v_out, u_out, fired) = (&mut out.v[..n], &mut out.u[..n], &mut out.fired[..n]);
    for j in 0..n {
        let (vj, uj, ij) = (v[j], u[j], i[j]);
        let (aj, bj, cj, dj) = (a[j], b[j], c[j], d[j]);
        // 2. reset (`reset/spiked`, `reset/v`, `reset/u_plus_d`, `reset/u`).
        let spiked = vj >= PEAK;
        let v_r = if spiked { cj } else { vj };
        let u_d = uj + dj;
        let u_r = if spiked { u_d } else { uj };
        // 3. dv = ((0.04 v + 5) v + 140) - u + I; v' = v + dv dt.
        let lin = 0.04f32 * v_r;
        let lin = lin + 5.0;
        let quad = lin * v_r;
        let dv = quad + 140.0;
        let dv = dv - u_r;
        let dv = dv + ij;
        let v1 = v_r + mul_no_nan(dv, dt);
        // 4. u' = u + (a (b v' - u)) dt.
        let bv = bj * v1;
        let diff = bv - u_r;
        let du = aj * diff;
        u_out[j] = u_r + mul_no_nan(du, dt);
        // 5. threshold.
        let hit = v1 >= PEAK;
        v_out[j] = if hit { PEAK } else { v1 };
        fired[j] = hit;
    }
}

/// The indices of the `true`s of `fired`, in order, into `out` (as long as
/// their number, [`count`]): eight flags a word, skipping words of none.
pub(super) fn indices(fired: &[bool], out: &mut [i64]) {
    let mut k = 0;
    let words = fired.chunks_exact(8);
    let tail = words.remainder();
    for (w, chunk) in words.enumerate() {
        if word(chunk) == 0 {
            continue;
        }
        for (j, &f) in chunk.iter().enumerate() {
            if f {
                out[k] = (w * 8 + j) as i64;
                k += 1;
            }
        }
    }
    let base = fired.len() - tail.len();
    for (j, &f) in tail.iter().enumerate() {
        if f {
            out[k] = (base + j) as i64;
            k += 1;
        }
    }
}

/// How many of `fired` are `true` (each bool is the byte 0 or 1, so a
/// word's ones are its flags).
pub(super) fn count(fired: &[bool]) -> usize {
    let words = fired.chunks_exact(8);
    let tail = words.remainder().iter().filter(|&&f| f).count();
    words.map(|c| word(c).count_ones() as usize).sum::<usize>() + tail
}

/// Eight flags as one word.
#[inline(always)]
fn word(chunk: &[bool]) -> u64 {
    let mut bytes = [0u8; 8];
    // SAFETY: a bool is one byte, 0 or 1.
    let flags = unsafe { std::slice::from_raw_parts(chunk.as_ptr().cast::<u8>(), chunk.len()) };
    bytes.copy_from_slice(flags);
    u64::from_ne_bytes(bytes)
}

/// The kernel's state: its number of members `N`, or why it could not be
/// read.
type Members = std::result::Result<usize, String>;

pub(super) extern "C" fn create(c: *mut Construction) -> *mut c_void {
    let members: Members =
        attr_int(c, c"N").and_then(|n| usize::try_from(n).map_err(|_| format!("N = {n}")));
    Box::into_raw(Box::new(members)).cast()
}

pub(super) extern "C" fn delete(state: *mut c_void) {
    if !state.is_null() {
        drop(unsafe { Box::from_raw(state.cast::<Members>()) });
    }
}

pub(super) extern "C" fn compute(state: *mut c_void, c: *mut Context) {
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: `state` is the box `create` made; TensorFlow keeps it
        // until `delete`.
        let members = unsafe { &*state.cast::<Members>() };
        let m = members.clone()?;
        unsafe { run(c, m) }
    }));
    fail(c, "snn's Izhikevich update", outcome);
}

/// # Safety
/// `c` is the context TensorFlow handed to [`compute`]; the op has `m`
/// members.
unsafe fn run(c: *mut Context, m: usize) -> std::result::Result<(), String> {
    use tf::TF_DataType::{TF_BOOL, TF_FLOAT, TF_INT64};
    let held = (0..3 * m + 5)
        .map(|k| input(c, k as c_int))
        .collect::<std::result::Result<Vec<_>, _>>()?;
    let dt = held[3 * m].float("dt")?;
    let param = |k: usize, what: &str| held[3 * m + 1 + k].values::<f32>(what, TF_FLOAT);
    let all = [
        param(0, "a")?,
        param(1, "b")?,
        param(2, "c")?,
        param(3, "d")?,
    ];
    let total = all[0].len();
    if all.iter().any(|p| p.len() != total) {
        return Err("parameters a-d of different lengths".into());
    }
    let mut at = 0usize;
    for k in 0..m {
        let state = State {
            v: held[k].values::<f32>("v", TF_FLOAT)?,
            u: held[m + k].values::<f32>("u", TF_FLOAT)?,
            i: held[2 * m + k].values::<f32>("i", TF_FLOAT)?,
        };
        let n = state.v.len();
        let end = at.checked_add(n).filter(|&e| e <= total);
        let Some(end) = end.filter(|_| state.u.len() == n && state.i.len() == n) else {
            return Err(format!(
                "member {k}: v, u, I of {n}, {}, {} neurons from neuron {at} of {total}",
                state.u.len(),
                state.i.len()
            ));
        };
        let params = Params {
            a: &all[0][at..end],
            b: &all[1][at..end],
            c: &all[2][at..end],
            d: &all[3][at..end],
        };
        let dims = [n as i64];
        let index = |j: usize, of: usize| (j * m + of) as c_int;
        let (_v, v) = output::<f32>(c, index(0, k), TF_FLOAT, &dims, n)?;
        let (_u, u) = output::<f32>(c, index(1, k), TF_FLOAT, &dims, n)?;
        let (_f, fired) = output::<bool>(c, index(2, k), TF_BOOL, &dims, n)?;
        step(&state, &params, dt, Next { v, u, fired });
        // `Where(fired)`: the indices in order, as `[k, 1]`.
        let count = count(fired);
        let (_s, spikes) = output::<i64>(c, index(3, k), TF_INT64, &[count as i64, 1], count)?;
        indices(fired, spikes);
        at = end;
    }
    if at != total {
        return Err(format!("{at} neurons in v for {total} parameters"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A member's state and parameters over the given slices.
    fn views<'a>(
        [v, u, i]: [&'a [f32]; 3],
        [a, b, c, d]: [&'a [f32]; 4],
    ) -> (State<'a>, Params<'a>) {
        (State { v, u, i }, Params { a, b, c, d })
    }

    /// The update of one neuron as semantics §1.3 writes it, in f64 where
    /// the result is exact in f32 anyway (resets, thresholds), against
    /// the kernel's: a neuron at the peak is reset, one crossing it fires
    /// and stores the peak, a zero dt leaves `v` and `u` reset only.
    #[test]
    fn resets_updates_and_thresholds() {
        let v = [30.0f32, -65.0, 29.0, -70.0];
        let u = [-13.0f32, -13.0, -10.0, -14.0];
        let i = [0.0f32, 5.0, 40.0, 0.0];
        let (a, b, c, d) = ([0.02f32; 4], [0.2f32; 4], [-65.0f32; 4], [8.0f32; 4]);
        let mut out = ([0.0f32; 4], [0.0f32; 4], [false; 4]);
        let (state, params) = views([&v, &u, &i], [&a, &b, &c, &d]);
        for dt in [0.5f32, 0.0] {
            step(
                &state,
                &params,
                dt,
                Next {
                    v: &mut out.0,
                    u: &mut out.1,
                    fired: &mut out.2,
                },
            );
            for j in 0..4 {
                let (mut vj, mut uj) = (v[j], u[j]);
                if vj >= 30.0 {
                    vj = c[j];
                    uj += d[j];
                }
                let dv = ((0.04f32 * vj + 5.0) * vj + 140.0) - uj + i[j];
                let v1 = vj + dv * dt;
                let u1 = uj + a[j] * (b[j] * v1 - uj) * dt;
                assert_eq!(out.2[j], v1 >= 30.0, "neuron {j}, dt {dt}");
                let v1 = if v1 >= 30.0 { 30.0 } else { v1 };
                assert_eq!(out.0[j].to_bits(), v1.to_bits(), "v of neuron {j}, dt {dt}");
                assert_eq!(out.1[j].to_bits(), u1.to_bits(), "u of neuron {j}, dt {dt}");
            }
            // Neuron 2 (29 mV, 40 of input) crosses the peak in half a
            // millisecond; without time nothing moves past the reset.
            let crossing = dt > 0.0;
            assert_eq!(out.2, [false, false, crossing, false], "dt {dt}");
            if !crossing {
                assert_eq!((out.0[0], out.1[0]), (-65.0, -5.0));
            }
        }
    }

    /// Flags in every pattern a word can hold, and tails of 1-7: the
    /// indices and count `Where` would give.
    #[test]
    fn indices_are_wheres() {
        let mut x = 0x2545_f491_4f6c_dd1du64;
        for n in [0usize, 1, 7, 8, 9, 64, 1001] {
            for density in [0u64, 3, 50, 100] {
                let fired: Vec<bool> = (0..n)
                    .map(|_| {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        x % 100 < density
                    })
                    .collect();
                let want: Vec<i64> = (0..n).filter(|&j| fired[j]).map(|j| j as i64).collect();
                assert_eq!(count(&fired), want.len(), "{n} {density}");
                let mut got = vec![-1i64; want.len()];
                indices(&fired, &mut got);
                assert_eq!(got, want, "{n} {density}");
            }
        }
    }

    /// The AVX2 path gives the plain loop's bits (neurons around the
    /// peak, reset or not, odd lengths for the loops' tails).
    #[test]
    fn every_path_gives_the_same_bits() {
        let n = 1037;
        let f = |j: usize, k: f32| ((j as f32 * k).sin() * 60.0) - 30.0;
        let v: Vec<f32> = (0..n)
            .map(|j| if j % 7 == 0 { 30.0 } else { f(j, 0.37) + 25.0 })
            .collect();
        let u: Vec<f32> = (0..n).map(|j| f(j, 1.3) / 3.0).collect();
        let i: Vec<f32> = (0..n).map(|j| f(j, 2.1)).collect();
        let a: Vec<f32> = (0..n).map(|j| 0.02 + 0.08 * (j % 2) as f32).collect();
        let b = vec![0.2f32; n];
        let c: Vec<f32> = (0..n).map(|j| -65.0 + (j % 3) as f32 * 7.5).collect();
        let d: Vec<f32> = (0..n).map(|j| 2.0 + (j % 4) as f32 * 2.0).collect();
        let (state, params) = views([&v, &u, &i], [&a, &b, &c, &d]);
        let run = |path: &dyn Fn(Next<'_>)| {
            let (mut v1, mut u1, mut f1) = (vec![0.0f32; n], vec![0.0f32; n], vec![false; n]);
            path(Next {
                v: &mut v1,
                u: &mut u1,
                fired: &mut f1,
            });
            let bits = |x: &[f32]| x.iter().map(|y| y.to_bits()).collect::<Vec<_>>();
            (bits(&v1), bits(&u1), f1)
        };
        let plain = run(&|out| step_plain(&state, &params, 0.1, out));
        assert!(plain.2.iter().any(|&f| f) && !plain.2.iter().all(|&f| f));
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx2") {
                // SAFETY: the CPU has AVX2.
                let avx2 = run(&|out| unsafe { step_avx2(&state, &params, 0.1, out) });
                assert!(avx2 == plain, "AVX2");
            }
        }
    }
}

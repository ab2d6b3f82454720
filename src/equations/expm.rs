//! The matrix exponential for the `exact` method: `exp(M dt)` of a small
//! dense matrix by scaling and squaring of its Taylor series, in f64.

/// `exp(a)` for a square row-major `k x k` matrix: `a` scaled by `2^-s`
/// until its 1-norm is at most 1/2, the Taylor series to 30 terms (beyond
/// f64 precision at that norm), then squared `s` times.
pub(crate) fn expm(a: &[f64], k: usize) -> Vec<f64> {
    assert_eq!(a.len(), k * k, "expm: not a square matrix");
    let norm = (0..k)
        .map(|j| (0..k).map(|i| a[i * k + j].abs()).sum::<f64>())
        .fold(0.0, f64::max);
    let mut s = 0;
    while norm / 2f64.powi(s) > 0.5 && s < 1000 {
        s += 1;
    }
    let scale = 2f64.powi(-s);
    let x: Vec<f64> = a.iter().map(|v| v * scale).collect();
    let mut result = identity(k);
    let mut term = identity(k);
    for n in 1..=30 {
        term = matmul(&term, &x, k);
        for v in &mut term {
            *v /= n as f64;
        }
        for (r, t) in result.iter_mut().zip(&term) {
            *r += t;
        }
    }
    for _ in 0..s {
        result = matmul(&result, &result, k);
    }
    result
}

fn identity(k: usize) -> Vec<f64> {
    let mut m = vec![0.0; k * k];
    for i in 0..k {
        m[i * k + i] = 1.0;
    }
    m
}

fn matmul(a: &[f64], b: &[f64], k: usize) -> Vec<f64> {
    let mut c = vec![0.0; k * k];
    for i in 0..k {
        for l in 0..k {
            let x = a[i * k + l];
            if x != 0.0 {
                for j in 0..k {
                    c[i * k + j] += x * b[l * k + j];
                }
            }
        }
    }
    c
}

/// The propagators of `x' = M x + c` (`c` constant over a step) for a step
/// `dt`: `x(t + dt) = P x(t) + G c` with `P = exp(M dt)` and `G = ∫_0^dt
/// exp(M s) ds`, both `k x k`, read off the exponential of the augmented
/// matrix `[[M, I], [0, 0]] dt`.
pub(crate) fn propagators(m: &[f64], k: usize, dt: f64) -> (Vec<f64>, Vec<f64>) {
    let w = 2 * k;
    let mut aug = vec![0.0; w * w];
    for i in 0..k {
        for j in 0..k {
            aug[i * w + j] = m[i * k + j] * dt;
        }
        aug[i * w + k + i] = dt;
    }
    let e = expm(&aug, w);
    let mut p = vec![0.0; k * k];
    let mut g = vec![0.0; k * k];
    for i in 0..k {
        for j in 0..k {
            p[i * k + j] = e[i * w + j];
            g[i * k + j] = e[i * w + k + j];
        }
    }
    (p, g)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-13 * b.abs().max(1.0)
    }

    /// exp of a diagonal matrix and of a rotation generator against their
    /// closed forms.
    #[test]
    fn exponentials_match_closed_forms() {
        let e = expm(&[-2.0, 0.0, 0.0, 0.5], 2);
        assert!(close(e[0], (-2f64).exp()) && close(e[3], 0.5f64.exp()));
        assert!(e[1] == 0.0 && e[2] == 0.0);
        let w = 3.0;
        let e = expm(&[0.0, -w, w, 0.0], 2);
        assert!(close(e[0], w.cos()) && close(e[1], -w.sin()));
        assert!(close(e[2], w.sin()) && close(e[3], w.cos()));
    }

    /// `x' = -x/tau + c`: P = e^{-dt/tau}, G = tau (1 - e^{-dt/tau}).
    #[test]
    fn propagators_of_a_leak_match_the_closed_form() {
        let (tau, dt) = (20.0, 0.1);
        let (p, g) = propagators(&[-1.0 / tau], 1, dt);
        assert!(close(p[0], (-dt / tau).exp()));
        assert!(close(g[0], tau * (1.0 - (-dt / tau).exp())));
    }
}

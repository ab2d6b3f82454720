//! Sample statistics for the tests of random draws in the engine, and the
//! closed-form checks they are held to (5 standard errors).

use snn::network::{NucleusId, Recording};

/// Mean and (unbiased) variance.
pub fn moments(x: &[f64]) -> (f64, f64) {
    let n = x.len() as f64;
    let mean = x.iter().sum::<f64>() / n;
    let var = x.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0);
    (mean, var)
}

/// Pearson's correlation of two samples.
pub fn correlation(x: &[f64], y: &[f64]) -> f64 {
    let ((mx, vx), (my, vy)) = (moments(x), moments(y));
    let cov = x
        .iter()
        .zip(y)
        .map(|(a, b)| (a - mx) * (b - my))
        .sum::<f64>()
        / (x.len() as f64 - 1.0);
    cov / (vx * vy).sqrt()
}

/// A sample variance of `n` normal values lies within 5 standard errors
/// (`var · sqrt(2 / (n - 1))`) of the true `var`.
pub fn assert_variance(got: f64, want: f64, n: usize, what: &str) {
    let se = want * (2.0 / (n as f64 - 1.0)).sqrt();
    assert!(
        (got - want).abs() < 5.0 * se,
        "{what}: variance {got}, closed form {want} (5 standard errors: {})",
        5.0 * se
    );
}

/// Mean and variance of `x` within 5 standard errors of the closed form.
pub fn assert_moments(x: &[f64], mean: f64, var: f64, what: &str) {
    let n = x.len() as f64;
    let (m, v) = moments(x);
    assert!(
        (m - mean).abs() < 5.0 * (var / n).sqrt(),
        "{what}: mean {m}, closed form {mean}"
    );
    assert_variance(v, var, x.len(), what);
}

/// Every recorded neuron's value of `var` at recorded row `row`.
pub fn row(rec: &Recording, id: NucleusId, var: &str, row: usize) -> snn::Result<Vec<f64>> {
    let t = rec.trace_of(id, var)?;
    Ok(t.values().row(row).iter().map(|&x| x as f64).collect())
}

//! Binomial draws by inversion of a table: the cumulative distribution of
//! Binomial(`n`, `p`) computed once, and one uniform draw per sample
//! looked up in it (docs/semantics.md §3.5). Exact to the uniform's
//! resolution; one lookup per sample however large `n p` is.

/// `cdf[k] = P(K <= k)` for `k = 0, 1, ...`, up to the first `k` past the
/// mean whose next probability is below `1e-20` (the rest of the tail,
/// falling geometrically there, is below `1e-18`), or `k = n`; that last
/// entry is 1.
/// The pmf is summed in log space from `k = 0` (`ln P(0) = n ln(1 - p)`,
/// then `P(k + 1) = P(k) (n - k) / (k + 1) · p / (1 - p)`), so large `n`
/// neither overflows nor underflows on the way to the mode. `p` is in
/// `[0, 1)`.
pub(crate) fn cdf_table(n: u64, p: f64) -> Vec<f64> {
    if p <= 0.0 {
        return vec![1.0];
    }
    let (log_q, log_odds) = ((-p).ln_1p(), (p / (1.0 - p)).ln());
    let mean = n as f64 * p;
    let mut log_pmf = n as f64 * log_q;
    let mut total = 0.0;
    let mut table = Vec::new();
    for k in 0..n {
        total += log_pmf.exp();
        log_pmf += ((n - k) as f64 / (k + 1) as f64).ln() + log_odds;
        if k as f64 > mean && log_pmf.exp() < 1e-20 {
            break;
        }
        table.push(total);
    }
    table.push(1.0);
    table
}

/// The sample of uniform `u` in `[0, 1)`: how many table entries are `<= u`.
pub(crate) fn invert(table: &[f64], u: f64) -> u64 {
    table.partition_point(|&c| c <= u) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_tables_are_the_closed_form() {
        let t = cdf_table(3, 0.5);
        assert_eq!(t.len(), 4);
        for (got, want) in t.iter().zip([0.125, 0.5, 0.875, 1.0]) {
            assert!((got - want).abs() < 1e-15, "{t:?}");
        }
        assert_eq!(cdf_table(10, 0.0), vec![1.0]);
        assert_eq!(invert(&t, 0.0), 0);
        assert_eq!(invert(&t, 0.124), 0);
        assert_eq!(invert(&t, 0.126), 1);
        assert_eq!(invert(&t, 0.9), 3);
    }

    /// The table's distribution has the binomial's mean `n p` and
    /// variance `n p (1 - p)`, from tiny to large `n p`.
    #[test]
    fn tables_have_the_binomial_moments() {
        for (n, p) in [
            (1000, 0.004),
            (1000, 0.002),
            (100_000, 0.3),
            (16_777_216, 0.01),
        ] {
            let t = cdf_table(n, p);
            let (mut mean, mut second, mut prev) = (0.0, 0.0, 0.0);
            for (k, &c) in t.iter().enumerate() {
                let pk = c - prev;
                prev = c;
                mean += k as f64 * pk;
                second += (k as f64).powi(2) * pk;
            }
            let var = second - mean * mean;
            let (m, v) = (n as f64 * p, n as f64 * p * (1.0 - p));
            assert!(
                (mean - m).abs() < 1e-6 * m.max(1.0),
                "n {n} p {p}: mean {mean} vs {m}"
            );
            assert!(
                (var - v).abs() < 1e-5 * v.max(1.0),
                "n {n} p {p}: variance {var} vs {v}"
            );
            assert!(t.len() < 20 + (m + 12.0 * v.sqrt()) as usize, "{}", t.len());
        }
    }
}

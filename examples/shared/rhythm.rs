//! The frequency of a population rhythm, for the examples that check one
//! (`brunel_hakim`, `brunel2000`) against their Brian2 twins.

use snn::network::{NucleusId, Recording};

/// The rhythm of nucleus `id` as the Brian2 twins measure it: the largest
/// spectral peak above 20 Hz of its population rate (raw, every step)
/// from 100 ms on.
pub fn rhythm(rec: &Recording, id: NucleusId) -> snn::Result<f64> {
    let rate: Vec<f64> = rec
        .population_rate(id, 0.0)?
        .into_iter()
        .filter(|(t, _)| *t >= 100.0)
        .map(|(_, r)| r)
        .collect();
    Ok(spectral_peak(&rate, rec.dt, 20.0, 1000.0))
}

/// The frequency (Hz) of the largest peak of the power spectrum of `rate`
/// (sampled every `dt` ms) between `lo` and `hi` Hz, on a 0.5 Hz grid.
pub fn spectral_peak(rate: &[f64], dt: f64, lo: f64, hi: f64) -> f64 {
    let mean = rate.iter().sum::<f64>() / rate.len() as f64;
    let mut best = (lo, 0.0);
    let mut f = lo;
    while f <= hi {
        let w = std::f64::consts::TAU * f * dt / 1000.0;
        let (mut re, mut im) = (0.0, 0.0);
        for (k, r) in rate.iter().enumerate() {
            let (s, c) = (w * k as f64).sin_cos();
            re += (r - mean) * c;
            im -= (r - mean) * s;
        }
        let power = re * re + im * im;
        if power > best.1 {
            best = (f, power);
        }
        f += 0.5;
    }
    best.0
}

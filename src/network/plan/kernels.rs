//! How a connection applies its kernel: the kernel's shape recognised from
//! its samples (a voltage jump, one or two recursive traces, or a window),
//! and whether its spikes are taken as events. TensorFlow-free.

use crate::network::model::Propagation;

/// A kernel's shape, recognised from its samples, for the cheapest exact
/// update.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum KernelForm {
    /// One step, value 1 (voltage jump).
    Unit,
    /// `kernel[k] = c r^k`: one recursive trace.
    Exponential { c: f64, r: f64 },
    /// `kernel[k] = c k r^k`: two recursive traces.
    Alpha { c: f64, r: f64 },
    /// Anything else: the window product.
    General,
}

/// Whether a connection's spikes are taken as events (summed through
/// dense rows or compressed rows at its lags): voltage jumps, and
/// exponential or alpha kernels as traces, unless the connection asks for
/// dense products of dense weights; not windowed kernels, synapses with
/// state (they gather their arriving rows themselves) or per-synapse
/// delays (keyed rows of their own).
pub(crate) fn takes_events(
    form: KernelForm,
    propagation: Propagation,
    csr: bool,
    plastic: bool,
    keyed: bool,
) -> bool {
    if plastic || keyed || (propagation == Propagation::Dense && !csr) {
        return false;
    }
    !matches!(form, KernelForm::General)
}

/// Recognise `c r^k` and `c k r^k` (0 < r < 1) within 1e-9 of the largest
/// sample; windows shorter than 3 steps stay general.
pub(crate) fn kernel_form(samples: &[f64]) -> KernelForm {
    if samples.len() == 1 && samples[0] == 1.0 {
        return KernelForm::Unit;
    }
    if samples.len() < 3 {
        return KernelForm::General;
    }
    let scale = samples.iter().fold(0.0f64, |m, x| m.max(x.abs()));
    if scale == 0.0 {
        return KernelForm::General;
    }
    let fits = |f: &dyn Fn(usize) -> f64| {
        samples
            .iter()
            .enumerate()
            .all(|(k, x)| (x - f(k)).abs() <= 1e-9 * scale)
    };
    if samples[0] != 0.0 {
        let (c, r) = (samples[0], samples[1] / samples[0]);
        if r > 0.0 && r < 1.0 && fits(&|k| c * r.powi(k as i32)) {
            return KernelForm::Exponential { c, r };
        }
    } else if samples[1] != 0.0 {
        let r = samples[2] / (2.0 * samples[1]);
        let c = samples[1] / r;
        if r > 0.0 && r < 1.0 && fits(&|k| c * k as f64 * r.powi(k as i32)) {
            return KernelForm::Alpha { c, r };
        }
    }
    KernelForm::General
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_forms_are_recognised_from_their_samples() {
        assert_eq!(kernel_form(&[1.0]), KernelForm::Unit);
        // A single sample that is not 1, and windows of two, stay general.
        assert_eq!(kernel_form(&[2.0]), KernelForm::General);
        assert_eq!(kernel_form(&[1.0, 0.5]), KernelForm::General);
        // c r^k with c = 2, r = 0.8.
        let exp: Vec<f64> = (0..20).map(|k| 2.0 * 0.8f64.powi(k)).collect();
        match kernel_form(&exp) {
            KernelForm::Exponential { c, r } => {
                assert_eq!(c, 2.0);
                assert!((r - 0.8).abs() < 1e-15);
            }
            other => panic!("{other:?}"),
        }
        // c k r^k with c = 3, r = 0.9.
        let alpha: Vec<f64> = (0..20).map(|k| 3.0 * k as f64 * 0.9f64.powi(k)).collect();
        match kernel_form(&alpha) {
            KernelForm::Alpha { c, r } => {
                assert!((c - 3.0).abs() < 1e-12 && (r - 0.9).abs() < 1e-12);
            }
            other => panic!("{other:?}"),
        }
        // Growing (r >= 1), off by more than 1e-9 of the largest sample, or
        // all zero: general.
        let grow: Vec<f64> = (0..5).map(|k| 1.1f64.powi(k)).collect();
        assert_eq!(kernel_form(&grow), KernelForm::General);
        let mut off = exp.clone();
        off[7] += 1e-6;
        assert_eq!(kernel_form(&off), KernelForm::General);
        assert_eq!(kernel_form(&[0.0; 5]), KernelForm::General);
    }
}

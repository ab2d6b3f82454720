//! Poisson input groups and plastic synapses (docs/semantics.md §3.5,
//! §3.6), against closed forms and an independent f64 reference stepper.

mod common;

use snn::network::{Network, Nucleus, Record, SimOptions};

type R = Result<(), Box<dyn std::error::Error>>;

fn quiet() -> SimOptions {
    SimOptions::default().quiet().tensorboard(None)
}

/// Per step, how many of the group's neurons fired; per neuron, its count.
fn counts(spikes: &[(usize, usize)], steps: usize, n: usize) -> (Vec<f64>, Vec<f64>) {
    let mut per_step = vec![0.0; steps];
    let mut per_neuron = vec![0.0; n];
    for &(m, i) in spikes {
        per_step[m] += 1.0;
        per_neuron[i] += 1.0;
    }
    (per_step, per_neuron)
}

fn mean_var(x: &[f64]) -> (f64, f64) {
    let m = x.iter().sum::<f64>() / x.len() as f64;
    let v = x.iter().map(|a| (a - m) * (a - m)).sum::<f64>() / (x.len() - 1) as f64;
    (m, v)
}

/// 1000 trains at 15 Hz for 1 s (dt = 0.1 ms, p = 0.0015 a step): the
/// count per neuron has the Poisson mean and variance, the count per step
/// the binomial variance n p (1 - p) (draws independent across neurons)
/// and no correlation from one step to the next; the same seed gives the
/// same spikes, another seed others; a run of 10 steps per session run
/// gives the spikes of one step per run.
#[test]
fn a_poisson_group_fires_independent_trains_at_its_rate() -> R {
    let (n, steps, p) = (1000usize, 10_000usize, 15.0 * 0.1 / 1000.0);
    let run = |seed: u64, per_run: usize| -> snn::Result<Vec<(usize, usize)>> {
        let mut net = Network::new().seed(seed);
        let g = net.add(Nucleus::poisson("P", n, 15.0).record(Record::spikes()))?;
        let mut sim = net.build_with(0.1, quiet().steps_per_run(per_run))?;
        let rec = sim.run(1000.0)?;
        Ok(rec.nuclei[g.index()].spikes.clone())
    };
    let spikes = run(7, 1)?;
    let (per_step, per_neuron) = counts(&spikes, steps, n);
    let total = spikes.len() as f64;
    let expected = (n * steps) as f64 * p;
    let sd = (expected * (1.0 - p)).sqrt();
    assert!(
        (total - expected).abs() < 5.0 * sd,
        "{total} spikes, expected {expected} ± {sd}"
    );
    let (m, v) = mean_var(&per_neuron);
    assert!(
        (v / m - 1.0).abs() < 0.2,
        "per neuron: mean {m}, variance {v}"
    );
    let (m, v) = mean_var(&per_step);
    let binomial = n as f64 * p * (1.0 - p);
    assert!(
        (v / binomial - 1.0).abs() < 0.1,
        "per step: mean {m}, variance {v} vs {binomial}"
    );
    let lag1 = per_step
        .windows(2)
        .map(|w| (w[0] - m) * (w[1] - m))
        .sum::<f64>()
        / ((steps - 1) as f64 * v);
    assert!(lag1.abs() < 0.05, "step-to-step correlation {lag1}");
    assert_eq!(run(7, 1)?, spikes);
    assert_ne!(run(8, 1)?, spikes);
    assert_eq!(run(7, 10)?, spikes);
    Ok(())
}

/// Rates per neuron (0 to 99 Hz) and as an expression of t (40 Hz for
/// the first 500 ms, then none).
#[test]
fn poisson_rates_per_neuron_and_over_time() -> R {
    let n = 100;
    let rates: Vec<f64> = (0..n).map(|i| i as f64).collect();
    let mut net = Network::new().seed(3);
    let a = net.add(Nucleus::poisson("A", n, rates.clone()).record(Record::spikes()))?;
    let b = net.add(Nucleus::poisson("B", 400, "40 if t < 500 else 0").record(Record::spikes()))?;
    let rec = net.build_with(0.1, quiet())?.run(2000.0)?;
    let (_, per_neuron) = counts(&rec.nuclei[a.index()].spikes, 20_000, n);
    assert_eq!(per_neuron[0], 0.0, "rate 0 never fires");
    // Over all neurons: counts against 2 s x rate, in units of their
    // Poisson standard deviations.
    let chi2: f64 = (1..n)
        .map(|i| (per_neuron[i] - 2.0 * rates[i]).powi(2) / (2.0 * rates[i]))
        .sum();
    // chi-square with 99 degrees of freedom: mean 99, sd 14.
    assert!(chi2 < 99.0 + 5.0 * 14.0, "chi2 {chi2}");
    let spikes_b = &rec.nuclei[b.index()].spikes;
    assert!(
        spikes_b.iter().all(|&(m, _)| m < 5000),
        "spikes after 500 ms"
    );
    let expected = 400.0 * 40.0 * 0.5;
    assert!(
        (spikes_b.len() as f64 - expected).abs() < 5.0 * expected.sqrt(),
        "{} spikes, expected {expected}",
        spikes_b.len()
    );
    Ok(())
}

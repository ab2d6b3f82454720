//! STDP selects delays (Gerstner et al. 1996, "A neuronal learning rule for
//! sub-millisecond temporal coding"): 1000 Poisson inputs whose common rate
//! oscillates at 40 Hz (`15 (1 + cos(2π t / 25 ms))` Hz) reach one neuron
//! through synapses with delays spread over one period (synapse `i` delays
//! by `(i mod 250) 0.1` ms), with Song et al.'s additive STDP and neuron
//! (examples/stdp.rs). Every synapse sees the same statistics except for
//! the phase its delay gives its arrivals; the rule keeps the synapses
//! whose spikes arrive together just before the neuron fires and prunes
//! the others, so the learned weight becomes a function of the delay: a
//! band of about 10 ms near gmax, the rest near 0 (after 30 s here: the
//! synapses delayed 12-17 ms at 0.95 gmax on average, those delayed 24-4
//! ms at 0.03). Draws the weights against the
//! delays and the output rate over time to `out/delay_selection.png` and
//! checks that selection: the mean weight of the best 5 ms of delays is
//! at least three times that of the 5 ms half a period away. Units: mV
//! and ms. `DELAY_SECONDS` changes the run's length (30 s). Brian2's twin
//! (`benches/brian2_delay_selection.py`) selects a band too; where it lies
//! is set by the run's draws (after 30 s, seeds 1-3: 15-20 ms at 0.90
//! gmax, 4-9 ms at 0.92, 0-5 ms at 0.74; half a period away 0.05-0.22).
#[path = "stdp.rs"]
mod stdp;

use snn::network::{plot, Connection, Delays, Network, Nucleus, Record, Weights};
use stdp::{neuron, GMAX, N};

/// Delays (ms) cover one period of the input rhythm.
const PERIOD_MS: f64 = 25.0;

/// The delay of synapse `i` in ms: 0 to 24.9 ms in steps of 0.1 ms.
fn delay(i: usize) -> f64 {
    (i % 250) as f64 * 0.1
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let seconds: f64 = std::env::var("DELAY_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(30.0);
    let mut net = Network::new().named("delay_selection").seed(3);
    let rate = format!("15 * (1 + cos(2 * pi * t / {PERIOD_MS}))");
    let input = net.add(Nucleus::poisson("input", N, rate.as_str()))?;
    let out = net.add(Nucleus::with_model("neuron", 1, neuron()).record(Record::spikes()))?;
    // Every input onto the neuron, half of gmax each, one delay per synapse.
    let c = net.connect_with(
        Connection::new(
            input,
            out,
            Weights::Csr {
                indptr: (0..=N).collect(),
                indices: vec![0; N],
                values: vec![GMAX / 2.0; N],
            },
        )
        .delays(Delays::PerSynapse((0..N).map(delay).collect()))
        .synapses(stdp::stdp()),
    )?;
    let mut sim = net.build(0.1)?;
    let started = std::time::Instant::now();
    let rec = sim.run(seconds * 1000.0)?;
    let wall = started.elapsed().as_secs_f64();
    // The weights as the graph lists them (by delay within the row) with
    // their delays.
    let Weights::CsrF32 { values, .. } = sim.weights(c)? else {
        return Err("the weights are compressed rows".into());
    };
    let delays = sim.delays(c)?.ok_or("per-synapse delays")?;
    let w: Vec<f64> = values.iter().map(|&x| x as f64).collect();
    let spikes = &rec.nucleus(out)?.spikes;
    let (per_second, rate_series) = stdp::rate_per_second(spikes, seconds);
    plot::weights_by_delay(&delays, &w, GMAX, &rate_series, "out/delay_selection.png")?;
    // Mean weight per 1 ms of delay.
    let mut sum = [0.0; 25];
    let mut count = [0.0; 25];
    for (&d, &x) in delays.iter().zip(&w) {
        let k = (d as usize).min(24);
        sum[k] += x / GMAX;
        count[k] += 1.0;
    }
    let mean: Vec<f64> = sum.iter().zip(&count).map(|(s, c)| s / c).collect();
    // The best 5 ms (cyclically) and the 5 ms half a period away.
    let band = |start: usize| (0..5).map(|k| mean[(start + k) % 25]).sum::<f64>() / 5.0;
    let best = (0..25)
        .max_by(|&a, &b| band(a).total_cmp(&band(b)))
        .unwrap_or(0);
    let (top, opposite) = (band(best), band((best + 12) % 25));
    // (Both bands wrap around the period: 24-4 ms is 24, 0, 1, 2, 3.)
    println!("simulated {seconds} s in {wall:.1} s");
    println!(
        "output rate {:.1} Hz over the run (last second {:.0} Hz)",
        spikes.len() as f64 / seconds,
        per_second[per_second.len() - 1]
    );
    println!(
        "mean weight / gmax per ms of delay: {}",
        mean.iter()
            .map(|x| format!("{x:.2}"))
            .collect::<Vec<_>>()
            .join(" ")
    );
    let far = (best + 12) % 25;
    println!(
        "delays {best}-{} ms: {top:.2} gmax; {far}-{} ms: {opposite:.2} gmax",
        (best + 5) % 25,
        (far + 5) % 25
    );
    println!("wrote out/delay_selection.png and graphs/delay_selection/");
    // Also refused when either mean is NaN.
    if top.partial_cmp(&(3.0 * opposite)).is_none_or(|o| o.is_lt()) {
        return Err(format!(
            "no delay selected: {top:.2} gmax at the best delays, {opposite:.2} half a period away"
        )
        .into());
    }
    Ok(())
}

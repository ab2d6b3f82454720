//! Spike-timing-dependent plasticity, Song, Miller & Abbott (2000), as in
//! Brian2's `examples/synapses/STDP.py`: 1000 Poisson inputs at 15 Hz onto
//! one conductance-based integrate-and-fire neuron (Euler), additive STDP
//! with traces (taupre = taupost = 20 ms, gmax = 0.01, dApre = 0.01 gmax,
//! dApost = -1.05 dApre), weights initially uniform in [0, gmax]; 100 s at
//! dt = 0.1 ms. Units: mV and ms. Draws the learned weights (against the
//! input index, their histogram) and the output rate over time to
//! `out/stdp.png`, and checks that the weights became bimodal: piled up
//! near 0 and near gmax, as the competition between inputs makes them
//! (Brian2 on this machine: 25% in the lowest tenth, 20% in the highest,
//! 24.5 Hz output). `STDP_SECONDS` and `STDP_SEED` change the run's length
//! (100) and seed (1).
use rand::{Rng, SeedableRng};
use snn::equations::{NeuronModel, SynapseModel};
use snn::network::{plot, Connection, Delays, Network, Nucleus, Record, Weights};

/// The parameters of Brian2's script.
pub const N: usize = 1000;
pub const GMAX: f64 = 0.01;

/// The neuron: `dv/dt = (ge (Ee - v) + El - v) / taum`, `dge/dt = -ge /
/// taue`.
pub fn neuron() -> NeuronModel {
    NeuronModel::new()
        .named("song")
        .equation("v", "(ge * (Ee - v) + El - v) / taum")
        .equation("ge", "-ge / taue")
        .param("taum", 10.0)
        .param("taue", 5.0)
        .param("Ee", 0.0)
        .param("vt", -54.0)
        .param("vr", -60.0)
        .param("El", -74.0)
        .init("v", -60.0)
        .threshold("v > vt")
        .reset("v = vr")
}

/// The synapses: `w`, traces `Apre`, `Apost`, and Brian2's statements.
pub fn stdp() -> SynapseModel {
    let (taupre, taupost) = (20.0, 20.0);
    let d_apre = 0.01 * GMAX;
    let d_apost = -d_apre * taupre / taupost * 1.05;
    SynapseModel::new()
        .named("stdp")
        .trace("Apre", "-Apre / taupre")
        .trace("Apost", "-Apost / taupost")
        .param("taupre", taupre)
        .param("taupost", taupost)
        .param("gmax", GMAX)
        .param("dApre", d_apre)
        .param("dApost", d_apost)
        .on_pre("ge += w; Apre += dApre; w = clip(w + Apost, 0, gmax)")
        .on_post("Apost += dApost; w = clip(w + Apre, 0, gmax)")
}

/// The network with its seeds: Poisson inputs, the neuron, and the
/// plastic connection with weights `rand() · gmax`.
pub fn song(
    seed: u64,
) -> snn::Result<(Network, snn::network::ConnectionId, snn::network::NucleusId)> {
    song_with(seed, 1, None)
}

/// The same with `posts` output neurons, every input onto each (the
/// benchmark's wider plastic network), and with `delays = Some((low,
/// high))` a delay per synapse drawn uniform in `[low, high]` ms (the
/// weights then as compressed rows, the same values).
pub fn song_with(
    seed: u64,
    posts: usize,
    delays: Option<(f64, f64)>,
) -> snn::Result<(Network, snn::network::ConnectionId, snn::network::NucleusId)> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let w = ndarray::Array2::from_shape_simple_fn((N, posts), || rng.random::<f64>() * GMAX);
    let mut net = Network::new().named("stdp").seed(seed);
    let input = net.add(Nucleus::poisson("input", N, 15.0))?;
    let out = net.add(Nucleus::with_model("neuron", posts, neuron()).record(Record::spikes()))?;
    let c = match delays {
        None => Connection::new(input, out, w),
        Some((low, high)) => Connection::new(
            input,
            out,
            Weights::Csr {
                indptr: (0..=N).map(|i| i * posts).collect(),
                indices: (0..N * posts).map(|s| s % posts).collect(),
                values: w.iter().copied().collect(),
            },
        )
        .delays(Delays::Uniform { low, high, seed }),
    };
    let c = net.connect_with(c.synapses(stdp()))?;
    Ok((net, c, out))
}

/// Spikes `(step, neuron)` at dt = 0.1 ms over `seconds`: the count in
/// each second, and the same as `(mid-second in s, Hz)` points to plot.
pub fn rate_per_second(spikes: &[(usize, usize)], seconds: f64) -> (Vec<f64>, Vec<(f64, f64)>) {
    let bins = (seconds as usize).max(1);
    let mut per_second = vec![0.0; bins];
    for &(m, _) in spikes {
        per_second[((m as f64 * 0.1 / 1000.0) as usize).min(bins - 1)] += 1.0;
    }
    let series = per_second
        .iter()
        .enumerate()
        .map(|(s, &k)| (s as f64 + 0.5, k))
        .collect();
    (per_second, series)
}

/// Fractions of the weights in each tenth of [0, gmax].
pub fn tenths(w: &[f64]) -> [f64; 10] {
    let mut f = [0.0; 10];
    for &x in w {
        f[((x / GMAX * 10.0).floor().max(0.0) as usize).min(9)] += 1.0 / w.len() as f64;
    }
    f
}

#[allow(dead_code)]
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let seconds: f64 = std::env::var("STDP_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(100.0);
    let seed: u64 = std::env::var("STDP_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    let (net, c, out) = song(seed)?;
    let mut sim = net.build(0.1)?;
    let started = std::time::Instant::now();
    let rec = sim.run(seconds * 1000.0)?;
    let wall = started.elapsed().as_secs_f64();
    let Weights::DenseF32(w) = sim.weights(c)? else {
        return Err("the weights are dense".into());
    };
    let w: Vec<f64> = w.iter().map(|&x| x as f64).collect();
    let spikes = &rec.nucleus(out)?.spikes;
    let rate = spikes.len() as f64 / seconds;
    let (per_second, series) = rate_per_second(spikes, seconds);
    plot::learned_weights(&w, GMAX, &series, "out/stdp.png")?;
    let f = tenths(&w);
    println!("simulated {seconds} s in {wall:.1} s");
    println!(
        "output rate {rate:.1} Hz (first second {:.0} Hz, last {:.0} Hz)",
        per_second[0],
        per_second[per_second.len() - 1]
    );
    println!(
        "weights in tenths of gmax: {}",
        f.iter()
            .map(|x| format!("{:.0}%", 100.0 * x))
            .collect::<Vec<_>>()
            .join(" ")
    );
    println!("wrote out/stdp.png and graphs/stdp/");
    // Bimodal: both ends hold more than any tenth between them.
    let middle = f[1..9].iter().cloned().fold(0.0, f64::max);
    if !(f[0] > 0.12 && f[9] > 0.10 && f[0] > middle && f[9] > middle) {
        return Err(format!("the weights are not bimodal: {f:?}").into());
    }
    if !(5.0..60.0).contains(&rate) {
        return Err(format!("output rate {rate:.1} Hz, Brian2 gives about 24.5 Hz").into());
    }
    Ok(())
}

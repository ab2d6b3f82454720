//! The Song et al. (2000) neuron and synapses, scaled down: `N` Poisson
//! inputs onto one conductance-based LIF neuron (Euler), additive STDP
//! with traces (Brian2's `examples/synapses/STDP.py` statements).

pub const TAUM: f64 = 10.0;
pub const TAUE: f64 = 5.0;
pub const EE: f64 = 0.0;
pub const VT: f64 = -54.0;
pub const VR: f64 = -60.0;
pub const EL: f64 = -74.0;
pub const TAUPRE: f64 = 20.0;
pub const TAUPOST: f64 = 20.0;

pub fn neuron() -> snn::equations::NeuronModel {
    snn::equations::NeuronModel::new()
        .named("song")
        .equation("v", "(ge * (Ee - v) + El - v) / taum")
        .equation("ge", "-ge / taue")
        .param("taum", TAUM)
        .param("taue", TAUE)
        .param("Ee", EE)
        .param("vt", VT)
        .param("vr", VR)
        .param("El", EL)
        .init("v", VR)
        .threshold("v > vt")
        .reset("v = vr")
}

pub fn stdp(gmax: f64) -> snn::equations::SynapseModel {
    let d_apre = 0.01 * gmax;
    let d_apost = -d_apre * TAUPRE / TAUPOST * 1.05;
    snn::equations::SynapseModel::new()
        .named("stdp")
        .trace("Apre", "-Apre / taupre")
        .trace("Apost", "-Apost / taupost")
        .param("taupre", TAUPRE)
        .param("taupost", TAUPOST)
        .param("gmax", gmax)
        .param("dApre", d_apre)
        .param("dApost", d_apost)
        .on_pre("ge += w\nApre += dApre\nw = clip(w + Apost, 0, gmax)")
        .on_post("Apost += dApost; w = clip(w + Apre, 0, gmax)")
}

/// [`stdp`] whose `on_pre` also reads `Apre`, before and after its
/// update: `w = clip(w + Apost - Apre / 2, 0, gmax)`, `Apre += dApre`,
/// `w = clip(w + Apre / 4, 0, gmax)` (not a rule from the literature: it
/// makes the value a synapse sees of a presynaptic trace matter in
/// `on_pre` too).
pub fn stdp_reading_apre(gmax: f64) -> snn::equations::SynapseModel {
    stdp(gmax).on_pre(
        "ge += w\nw = clip(w + Apost - Apre / 2, 0, gmax)\nApre += dApre\n\
         w = clip(w + Apre / 4, 0, gmax)",
    )
}

pub struct Reference {
    /// (step, postsynaptic neuron) of every output spike.
    pub spikes: Vec<(usize, usize)>,
    /// The weights at the end, per synapse.
    pub w: Vec<f64>,
    /// Per-synapse traces at the end (stepped as Brian2's event-driven
    /// variables: decayed from the synapse's last update to the
    /// event's time).
    pub apre: Vec<f64>,
    pub apost: Vec<f64>,
}

/// The synapses of [`reference`]: `(pre, post)` pairs, each one's delay
/// in steps and its initial weight.
pub struct Wiring<'a> {
    pub syn: &'a [(usize, usize)],
    pub delays: &'a [usize],
    pub w0: &'a [f64],
}

/// docs/semantics.md §3.2 and §3.6 written out in f64 for `n_post`
/// neurons and the synapses `syn` (pre, post) with weights `w0`, traces
/// kept per synapse (as Brian2 keeps them) and decayed exactly by the
/// time since each synapse's last event: `input[m]` lists the inputs
/// that spike at step `m`, which arrive at synapse `s` `delays[s]` steps
/// later; `reads_apre` for the `on_pre` of [`stdp_reading_apre`].
pub fn reference(
    input: &[Vec<usize>],
    Wiring { syn, delays, w0 }: Wiring,
    n_post: usize,
    gmax: f64,
    dt: f64,
    reads_apre: bool,
) -> Reference {
    let n = syn.len();
    let d_apre = 0.01 * gmax;
    let d_apost = -d_apre * TAUPRE / TAUPOST * 1.05;
    let (mut v, mut ge) = (vec![VR; n_post], vec![0.0; n_post]);
    let mut w = w0.to_vec();
    let (mut apre, mut apost) = (vec![0.0; n], vec![0.0; n]);
    let mut last = vec![0.0f64; n];
    let mut spikes = Vec::new();
    // Per step, the neurons that spiked in it.
    let spiked: Vec<Vec<bool>> = input
        .iter()
        .map(|ids| {
            let mut row = vec![false; syn.iter().map(|p| p.0 + 1).max().unwrap_or(0)];
            for &i in ids {
                if i < row.len() {
                    row[i] = true;
                }
            }
            row
        })
        .collect();
    for m in 0..input.len() {
        let t = m as f64 * dt;
        // 1. Euler on the state at the start of the step; 2. threshold.
        let mut fired = vec![false; n_post];
        for j in 0..n_post {
            let dv = (ge[j] * (EE - v[j]) + EL - v[j]) / TAUM;
            let dge = -ge[j] / TAUE;
            v[j] += dt * dv;
            ge[j] += dt * dge;
            fired[j] = v[j] > VT;
        }
        // 3. synapses: on_pre for the arriving spikes, then on_post.
        let mut touch = |s: usize, apre: &mut [f64], apost: &mut [f64]| {
            let gap = t - last[s];
            apre[s] *= (-gap / TAUPRE).exp();
            apost[s] *= (-gap / TAUPOST).exp();
            last[s] = t;
        };
        // Synapse s takes the spike of its neuron delays[s] steps ago.
        let arrives = |s: usize| {
            m.checked_sub(delays[s])
                .is_some_and(|k| spiked[k].get(syn[s].0) == Some(&true))
        };
        for s in (0..n).filter(|&s| arrives(s)) {
            touch(s, &mut apre, &mut apost);
            ge[syn[s].1] += w[s];
            if reads_apre {
                w[s] = (w[s] + apost[s] - apre[s] / 2.0).clamp(0.0, gmax);
                apre[s] += d_apre;
                w[s] = (w[s] + apre[s] / 4.0).clamp(0.0, gmax);
            } else {
                apre[s] += d_apre;
                w[s] = (w[s] + apost[s]).clamp(0.0, gmax);
            }
        }
        for j in (0..n_post).filter(|&j| fired[j]) {
            for s in (0..n).filter(|&s| syn[s].1 == j) {
                touch(s, &mut apre, &mut apost);
                apost[s] += d_apost;
                w[s] = (w[s] + apre[s]).clamp(0.0, gmax);
            }
            spikes.push((m, j));
            // 4. reset.
            v[j] = VR;
        }
    }
    let t_end = (input.len() - 1) as f64 * dt;
    for s in 0..n {
        apre[s] *= (-(t_end - last[s]) / TAUPRE).exp();
        apost[s] *= (-(t_end - last[s]) / TAUPOST).exp();
    }
    Reference {
        spikes,
        w,
        apre,
        apost,
    }
}

//! Sparse networks: compressed rows, event-driven, give the dense path's
//! spikes, and its state to float32 rounding (delays, voltage jumps,
//! exponential and alpha traces), and checkpoint like it; generated
//! connectivity has the asked statistics and is the same for the same seed.

mod common;

use common::Rng;
use snn::network::{
    Connection, Delays, Input, Network, Nucleus, NucleusId, Propagation, Record, Recording,
    SimOptions, Simulator, WeightLayout, WeightValue, Weights,
};

type R = Result<(), Box<dyn std::error::Error>>;

const DT: f64 = 0.1;

/// A random `pre x post` matrix with about `p` of its entries non-zero.
fn sparse_matrix(
    rng: &mut Rng,
    pre: usize,
    post: usize,
    p: f64,
    lo: f64,
    hi: f64,
) -> Vec<Vec<f64>> {
    (0..pre)
        .map(|_| {
            (0..post)
                .map(|_| {
                    if rng.next_f64() < p {
                        lo + (hi - lo) * rng.next_f64()
                    } else {
                        0.0
                    }
                })
                .collect()
        })
        .collect()
}

fn as_dense(w: &[Vec<f64>]) -> Weights {
    Weights::Dense(common::to_array(w))
}

fn as_triplets(w: &[Vec<f64>]) -> Weights {
    let mut t = Vec::new();
    for (i, row) in w.iter().enumerate() {
        for (j, &x) in row.iter().enumerate() {
            if x != 0.0 {
                t.push((i, j, x));
            }
        }
    }
    Weights::Triplets(t)
}

/// Three noisy nuclei; voltage jumps with and without delay, an
/// exponential and an alpha kernel with delays, all through weights made
/// by `weights` with `propagation`.
fn network(
    weights: fn(&[Vec<f64>]) -> Weights,
    propagation: Propagation,
) -> snn::Result<Simulator> {
    let (net, _) = described(weights, propagation)?;
    net.build_with(DT, SimOptions::default().quiet().tensorboard(None))
}

/// The network of [`network`], not built yet, and its three nuclei.
fn described(
    weights: fn(&[Vec<f64>]) -> Weights,
    propagation: Propagation,
) -> snn::Result<(Network, [NucleusId; 3])> {
    let mut rng = Rng(7);
    let mut net = Network::new().named("sparse");
    let a = net.add(
        Nucleus::new("A", 300)
            .input(Input::noise(5.0, 3.0, 1))
            .record(Record::everything()),
    )?;
    let b = net.add(
        Nucleus::new("B", 200)
            .input(Input::noise(4.0, 3.0, 2))
            .record(Record::everything()),
    )?;
    let c = net.add(
        Nucleus::new("C", 100)
            .input(Input::noise(4.5, 2.0, 3))
            .record(Record::everything()),
    )?;
    let conns = [
        (a, b, 300, 200, 0.05, 0.0, 6.0, 0.0, None),
        (a, a, 300, 300, 0.03, -1.0, 4.0, 1.5, None),
        (b, c, 200, 100, 0.08, 0.0, 3.0, 2.0, Some(false)),
        (c, a, 100, 300, 0.05, -3.0, 1.0, 0.5, Some(true)),
        (b, b, 200, 200, 0.02, 0.0, 5.0, 0.0, Some(false)),
    ];
    for (pre, post, np, nq, p, lo, hi, delay, kernel) in conns {
        let w = sparse_matrix(&mut rng, np, nq, p, lo, hi);
        let mut conn = Connection::new(pre, post, weights(&w))
            .delay(delay)
            .propagation(propagation);
        conn = match kernel {
            Some(false) => conn.kernel(|t| 2.0 * (-t / 3.0).exp(), 6.0),
            Some(true) => conn.kernel(|t| t * (-t / 2.0).exp(), 8.0),
            None => conn,
        };
        net.connect_with(conn)?;
    }
    Ok((net, [a, b, c]))
}

#[test]
fn compressed_rows_give_the_dense_runs_spikes_and_state() -> R {
    let mut dense = network(as_dense, Propagation::Auto)?;
    let mut sparse = network(as_triplets, Propagation::EventDriven)?;
    for c in dense.propagation() {
        assert_eq!(c.layout, WeightLayout::Dense, "{c:?}");
    }
    for c in sparse.propagation() {
        assert_eq!(c.layout, WeightLayout::Sparse, "{c:?}");
        assert!(c.density < 0.1, "{c:?}");
    }
    // Below 10^6 synapses no row is taken whole (here snn's kernel sums
    // them all).
    assert!(!graph_has(&sparse, "RaggedGather")?);
    let d: Recording = dense.run(300.0)?;
    let s: Recording = sparse.run(300.0)?;
    // v, u and I of every neuron at every step: the same to float32
    // rounding (the dense rows are summed by SparseSegmentSum in groups of
    // 8, the compressed rows one after another, so a sum of more than 8
    // arriving spikes may round differently in its last bit).
    same_spikes_and_traces(&d, &s, 100, |var, label, a, b| {
        let worst = a
            .iter()
            .zip(b.iter())
            .map(|(p, q)| (p - q).abs() / (1.0 + p.abs()))
            .fold(0f32, f32::max);
        assert!(
            worst < 1e-5,
            "{var} of {label}: relative difference {worst}"
        );
    });
    Ok(())
}

fn csr(w: Weights) -> (Vec<usize>, Vec<u32>, Vec<f32>) {
    match w {
        Weights::CsrF32 {
            indptr,
            indices,
            values,
        } => (indptr, indices, values),
        other => panic!("not CSR: {other:?}"),
    }
}

fn generate(w: Weights, pre: usize, post: usize) -> snn::Result<(Vec<usize>, Vec<u32>, Vec<f32>)> {
    match w {
        Weights::Random(r) => Ok(csr(r.generate(pre, post, "A->B")?)),
        other => panic!("not random: {other:?}"),
    }
}

/// Fixed in-degree: every column holds exactly k distinct presynaptic
/// neurons; the same seed gives the same synapses, another seed others.
#[test]
fn fixed_in_degree_is_exact_and_seeded() -> R {
    let (pre, post, k) = (500, 300, 40);
    let (indptr, idx, val) = generate(
        Weights::fixed_in_degree(k, WeightValue::Uniform(-1.0, 2.0), 3),
        pre,
        post,
    )?;
    assert_eq!(indptr.len(), pre + 1);
    assert_eq!(idx.len(), post * k);
    let mut incoming: Vec<Vec<usize>> = vec![Vec::new(); post];
    for i in 0..pre {
        for s in indptr[i]..indptr[i + 1] {
            incoming[idx[s] as usize].push(i);
        }
    }
    for (j, from) in incoming.iter_mut().enumerate() {
        assert_eq!(from.len(), k, "in-degree of {j}");
        from.sort_unstable();
        from.dedup();
        assert_eq!(from.len(), k, "distinct presynaptic neurons of {j}");
    }
    // Uniform weights: in range, mean 0.5 within 5 standard errors.
    assert!(val.iter().all(|&w| (-1.0..2.0).contains(&w)));
    let mean = val.iter().map(|&w| w as f64).sum::<f64>() / val.len() as f64;
    let se = 3.0 / 12f64.sqrt() / (val.len() as f64).sqrt();
    assert!((mean - 0.5).abs() < 5.0 * se, "mean {mean}");
    // Out-degrees spread as Binomial(post * k, 1 / pre) would: mean 24.
    let out: Vec<f64> = (0..pre)
        .map(|i| (indptr[i + 1] - indptr[i]) as f64)
        .collect();
    let m = out.iter().sum::<f64>() / pre as f64;
    assert!((m - (post * k) as f64 / pre as f64).abs() < 1e-9);
    let again = generate(
        Weights::fixed_in_degree(k, WeightValue::Uniform(-1.0, 2.0), 3),
        pre,
        post,
    )?;
    assert_eq!(again, (indptr.clone(), idx.clone(), val.clone()));
    let other = generate(
        Weights::fixed_in_degree(k, WeightValue::Uniform(-1.0, 2.0), 4),
        pre,
        post,
    )?;
    assert_ne!(other.1, idx);
    Ok(())
}

/// Bernoulli p: the number of synapses, and of each row, is binomial: mean
/// and variance within 5 standard errors; every column is reached about
/// equally; the same seed gives the same synapses.
#[test]
fn bernoulli_has_the_binomial_statistics() -> R {
    let (n, p) = (2000usize, 0.02);
    let (indptr, idx, val) = generate(Weights::random(p, 1.5, 11), n, n)?;
    let pairs = (n * n) as f64;
    let nnz = idx.len() as f64;
    let sd = (pairs * p * (1.0 - p)).sqrt();
    assert!((nnz - pairs * p).abs() < 5.0 * sd, "{nnz} synapses");
    assert!(val.iter().all(|&w| w == 1.5));
    let rows: Vec<f64> = (0..n).map(|i| (indptr[i + 1] - indptr[i]) as f64).collect();
    let mean = rows.iter().sum::<f64>() / n as f64;
    let var = rows.iter().map(|r| (r - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
    let expected_var = n as f64 * p * (1.0 - p);
    // Standard error of a sample variance: var * sqrt(2 / (n - 1)).
    assert!(
        (var - expected_var).abs() < 5.0 * expected_var * (2.0 / (n - 1) as f64).sqrt(),
        "row variance {var}, expected {expected_var}"
    );
    // Columns strictly increasing within a row (no pair twice).
    for i in 0..n {
        assert!(idx[indptr[i]..indptr[i + 1]]
            .windows(2)
            .all(|w| w[0] < w[1]));
    }
    // Columns: counts binomial too.
    let mut cols = vec![0f64; n];
    for &j in &idx {
        cols[j as usize] += 1.0;
    }
    let cvar = cols.iter().map(|c| (c - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
    assert!(
        (cvar - expected_var).abs() < 5.0 * expected_var * (2.0 / (n - 1) as f64).sqrt(),
        "column variance {cvar}"
    );
    assert_eq!(generate(Weights::random(p, 1.5, 11), n, n)?.1, idx);
    // p = 0 and p = 1.
    assert!(generate(Weights::random(0.0, 1.0, 1), 10, 10)?.1.is_empty());
    assert_eq!(generate(Weights::random(1.0, 1.0, 1), 10, 10)?.1.len(), 100);
    Ok(())
}

#[test]
fn fixed_out_degree_is_exact() -> R {
    let (indptr, idx, _) = generate(Weights::fixed_out_degree(9, 1.0, 2), 100, 50)?;
    for i in 0..100 {
        let mut row = idx[indptr[i]..indptr[i + 1]].to_vec();
        assert_eq!(row.len(), 9);
        row.sort_unstable();
        row.dedup();
        assert_eq!(row.len(), 9);
    }
    Ok(())
}

/// A network wired by a generator runs on compressed rows (Auto: 2% of
/// pairs) and fires exactly as the same synapses given as a dense matrix.
#[test]
fn a_generated_network_runs_sparse_as_its_dense_twin() -> R {
    let n = 1000;
    let run = |weights: Weights| -> snn::Result<(Vec<(usize, usize)>, WeightLayout)> {
        let mut net = Network::new();
        let a = net.add(Nucleus::new("A", n).input(Input::noise(4.0, 4.0, 9)))?;
        net.connect_with(Connection::new(a, a, weights).delay(0.5))?;
        let mut sim = net.build_with(DT, SimOptions::default().quiet().tensorboard(None))?;
        let layout = sim.propagation()[0].layout;
        Ok((sim.run(200.0)?.nuclei[0].spikes.clone(), layout))
    };
    let generated = Weights::fixed_in_degree(20, WeightValue::Uniform(0.0, 3.0), 5);
    let (indptr, idx, val) = generate(generated.clone(), n, n)?;
    let mut dense = ndarray::Array2::<f32>::zeros((n, n));
    for i in 0..n {
        for s in indptr[i]..indptr[i + 1] {
            dense[[i, idx[s] as usize]] += val[s];
        }
    }
    let (sparse_spikes, layout) = run(generated)?;
    assert_eq!(layout, WeightLayout::Sparse);
    let (dense_spikes, layout) = run(Weights::DenseF32(dense))?;
    assert_eq!(layout, WeightLayout::Dense);
    assert!(sparse_spikes.len() > 1000, "{} spikes", sparse_spikes.len());
    assert_eq!(sparse_spikes, dense_spikes);
    Ok(())
}

/// snn's kernel `SnnRowSums` (docs/design.md, "Rows summed by snn's
/// kernel") adds the numbers TensorFlow's gathers and `UnsortedSegmentSum`
/// add, in their order: the network above, with a connection of
/// per-synapse delays besides (keyed rows), gives the portable graph's
/// spikes and every recorded value bit for bit. Only the default graph
/// holds the op, and its export does not.
#[test]
fn snn_kernel_sums_as_tensorflow_does_bit_for_bit() -> R {
    let build = |portable: bool| -> snn::Result<Simulator> {
        let (mut net, [a, b, _]) = described(as_triplets, Propagation::EventDriven)?;
        let w = sparse_matrix(&mut Rng(11), 200, 300, 0.06, -1.0, 3.0);
        net.connect_with(
            Connection::new(b, a, as_triplets(&w)).delays(Delays::Uniform {
                low: 0.5,
                high: 3.0,
                seed: 5,
            }),
        )?;
        net.build_with(DT, options(portable))
    };
    let mut native = build(false)?;
    let mut portable = build(true)?;
    // One lag (`SnnRowSums`; in the GraphDef the op field's tag and
    // length come first) and the two lags of a kernel trace (`SnnRowSumsAt`).
    assert!(graph_has(&native, "\x12\x0aSnnRowSums")?);
    assert!(graph_has(&native, "SnnRowSumsAt")?);
    assert!(!graph_has(&portable, "SnnRowSums")?);
    // The nuclei's noise: snn's kernels around TensorFlow's log and cos
    // against TensorFlow's ops; their update: snn's kernel against
    // TensorFlow's element-wise ops.
    for op in ["SnnBoxMullerIn", "SnnBoxMullerOut", "SnnIzhikevich"] {
        assert!(graph_has(&native, op)?, "{op}");
        assert!(!graph_has(&portable, op)?, "{op}");
    }
    assert!(native.propagation().iter().all(|c| c.snn_kernel));
    assert!(portable.propagation().iter().all(|c| !c.snn_kernel));
    let x: Recording = native.run(300.0)?;
    let y: Recording = portable.run(300.0)?;
    same_spikes_and_traces(&x, &y, 100, bit_for_bit);
    // The export holds TensorFlow's ops in the kernels' place
    // (tests/export.rs steps such an export in Python's TensorFlow).
    let dir = common::tempdir("snn-kernel-export")?;
    native.export(dir.join("native"))?;
    let exported = std::fs::read(dir.join("native/graph.pb"))?;
    assert!(!exported.windows(3).any(|w| w == b"Snn"));
    portable.export(dir.join("portable"))?;
    assert!(dir.join("portable/graph.pb").is_file());
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// Every nucleus of the two runs fires more than `min_spikes` times, with
/// the same spikes in both, and `check(var, label, x, y)` holds for each
/// recorded trace (same shape in both).
fn same_spikes_and_traces(
    x: &Recording,
    y: &Recording,
    min_spikes: u64,
    check: impl Fn(&str, &str, &ndarray::Array2<f32>, &ndarray::Array2<f32>),
) {
    assert_eq!(x.nuclei.len(), y.nuclei.len());
    for (p, q) in x.nuclei.iter().zip(&y.nuclei) {
        let label = &p.label;
        assert!(
            p.spike_count > min_spikes,
            "{label} fires: {}",
            p.spike_count
        );
        assert_eq!(p.spikes, q.spikes, "spikes of {label}");
        assert_eq!(p.traces.len(), q.traces.len(), "traces of {label}");
        for (var, tp) in &p.traces {
            let (a, b) = (tp.values(), q.traces[var].values());
            assert_eq!(a.dim(), b.dim(), "{var} of {label}");
            check(var, label, &a, &b);
        }
    }
}

/// Quiet options without event files; `portable`: TensorFlow's ops only.
fn options(portable: bool) -> SimOptions {
    let options = SimOptions::default().quiet().tensorboard(None);
    if portable {
        options.portable()
    } else {
        options
    }
}

/// A [`same_spikes_and_traces`] check: every value the same bits.
fn bit_for_bit(var: &str, label: &str, a: &ndarray::Array2<f32>, b: &ndarray::Array2<f32>) {
    let differ = a
        .iter()
        .zip(b.iter())
        .filter(|(p, q)| p.to_bits() != q.to_bits());
    assert_eq!(differ.count(), 0, "{var} of {label}");
}

/// Whether a simulator's graph holds an op of type `op`.
fn graph_has(sim: &Simulator, op: &str) -> snn::Result<bool> {
    let def = sim.graph_def()?;
    Ok(def.windows(op.len()).any(|w| w == op.as_bytes()))
}

/// In a portable graph (TensorFlow's ops only), connections of 10^6
/// synapses or more take the compressed rows of the neurons that spiked
/// whole (`RaggedGather`, docs/design.md "Compressed rows"), smaller ones
/// synapse by synapse: through lag 0, a delay, an exponential trace and a
/// windowed kernel, the rows taken whole give the dense matrices' spikes
/// and state. The weights lie on a grid of 1/64 and the windowed kernel's
/// samples are 1/2 and 1/4, so every sum of them is exact in float32 and
/// the layouts, which add in different orders, must agree bit for bit (with
/// arbitrary weights they agree to rounding, and a noisy network's
/// trajectories part after a while: tests/sparse.rs's other comparisons).
/// The default graph, where snn's kernel sums the rows of all but the
/// windowed kernel, gives the portable one's bit for bit.
#[test]
fn rows_taken_whole_give_the_dense_runs_spikes_and_state() -> R {
    let (n, k) = (2000, 500);
    let probe: Vec<usize> = (0..n).step_by(37).collect();
    let build = |sparse: bool, portable: bool| -> snn::Result<Simulator> {
        let mut net = Network::new().named("rows_whole");
        let a = net.add(
            Nucleus::new("A", n)
                .input(Input::noise(5.0, 3.0, 1))
                .record(Record::traces(&probe)),
        )?;
        let b = net.add(
            Nucleus::new("B", n)
                .input(Input::noise(4.5, 3.0, 2))
                .record(Record::traces(&probe)),
        )?;
        type Kernel = Option<(fn(f64) -> f64, f64)>;
        let exponential: fn(f64) -> f64 = |t| 2.0 * (-t / 3.0).exp();
        let steps: fn(f64) -> f64 = |t| if t < 2.0 { 0.5 } else { 0.25 };
        let conns: [(_, _, f64, f64, f64, Kernel); 4] = [
            (a, a, -0.3, 0.3, 0.0, None),
            (a, b, 0.0, 0.4, 1.0, None),
            (b, a, -0.2, 0.1, 0.5, Some((exponential, 6.0))),
            (b, b, -0.3, 0.2, 0.0, Some((steps, 4.0))),
        ];
        for (seed, (pre, post, lo, hi, delay, kernel)) in conns.into_iter().enumerate() {
            let rule = Weights::fixed_in_degree(k, WeightValue::Uniform(lo, hi), 40 + seed as u64);
            let (indptr, idx, val) = generate(rule, n, n)?;
            let val: Vec<f32> = val.iter().map(|w| (w * 64.0).round() / 64.0).collect();
            let weights = if sparse {
                Weights::CsrF32 {
                    indptr,
                    indices: idx,
                    values: val,
                }
            } else {
                let mut dense = ndarray::Array2::<f32>::zeros((n, n));
                for i in 0..n {
                    for s in indptr[i]..indptr[i + 1] {
                        dense[[i, idx[s] as usize]] += val[s];
                    }
                }
                Weights::DenseF32(dense)
            };
            let mut conn = Connection::new(pre, post, weights)
                .delay(delay)
                .propagation(Propagation::EventDriven);
            if let Some((f, window)) = kernel {
                conn = conn.kernel(f, window);
            }
            net.connect_with(conn)?;
        }
        net.build_with(DT, options(portable))
    };
    let mut sparse = build(true, true)?;
    let mut dense = build(false, true)?;
    let mut native = build(true, false)?;
    for c in sparse.propagation() {
        assert_eq!(c.layout, WeightLayout::Sparse, "{c:?}");
        assert_eq!(c.synapses, (n * k) as u64, "{c:?}");
    }
    assert!(graph_has(&sparse, "RaggedGather")?);
    assert!(!graph_has(&dense, "RaggedGather")?);
    let kernel = native
        .propagation()
        .iter()
        .map(|c| c.snn_kernel)
        .collect::<Vec<_>>();
    assert_eq!(kernel, [true, true, true, false]);
    let s: Recording = sparse.run(200.0)?;
    let d: Recording = dense.run(200.0)?;
    same_spikes_and_traces(&s, &native.run(200.0)?, 500, bit_for_bit);
    same_spikes_and_traces(&d, &s, 500, bit_for_bit);
    Ok(())
}

/// Compressed rows are variables like the dense weights: a checkpoint taken
/// half way and restored into a new simulator continues exactly as the
/// uninterrupted run.
#[test]
fn compressed_rows_checkpoint_and_resume() -> R {
    let dir = common::tempdir("sparse-ckpt")?;
    let mut whole = network(as_triplets, Propagation::EventDriven)?;
    let all = whole.run(100.0)?;
    let mut first = network(as_triplets, Propagation::EventDriven)?;
    let head = first.run(50.0)?;
    first.save_checkpoint(dir.join("half"))?;
    drop(first);
    let mut second = network(as_triplets, Propagation::EventDriven)?;
    second.restore_checkpoint(dir.join("half"))?;
    let tail = second.run(50.0)?;
    for ((a, h), t) in all.nuclei.iter().zip(&head.nuclei).zip(&tail.nuclei) {
        let joined: Vec<_> = h.spikes.iter().chain(&t.spikes).copied().collect();
        assert_eq!(a.spikes, joined, "{}", a.label);
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

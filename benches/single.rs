//! The compiled expression evaluator against the same right-hand sides
//! written by hand in Rust, one RK4 step at a time (parameters re-evaluated
//! once per step in both, as the simulation does), and whole simulations.
//!
//!     cargo bench --bench single
use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use snn::single::integrate::{step, Workspace, RK4};
use snn::single::usual_models::{fitzhugh_nagumo, hodgkin_huxley, izhikevich, lif};

fn hh_hand(_t: f64, x: &[f64], d: &mut [f64]) {
    let (v, n, m, h) = (x[0], x[1], x[2], x[3]);
    let (cm, gk, gna, gl, vk, vna, vl, iapp) = (1.0, 36.0, 120.0, 0.3, -77.0, 50.0, -54.4, 10.0);
    let an = 0.01 * (-v - 55.0) / (((-v - 55.0) / 10.0).exp() - 1.0);
    let bn = 0.125 * ((-v - 65.0) / 80.0).exp();
    let am = 0.1 * (-v - 40.0) / (((-v - 40.0) / 10.0).exp() - 1.0);
    let bm = 4.0 * ((-v - 65.0) / 18.0).exp();
    let ah = 0.07 * ((-v - 65.0) / 20.0).exp();
    let bh = 1.0 / (1.0 + ((-v - 36.0) / 10.0).exp());
    d[0] = (1.0 / cm)
        * (-gk * n.powi(4) * (v - vk) - gna * m.powi(3) * h * (v - vna) - gl * (v - vl) + iapp);
    d[1] = an * (1.0 - n) - bn * n;
    d[2] = am * (1.0 - m) - bm * m;
    d[3] = ah * (1.0 - h) - bh * h;
}

fn fhn_hand(_t: f64, x: &[f64], d: &mut [f64]) {
    let (v, w) = (x[0], x[1]);
    let (a, b, tau, i) = (0.7, 1.2, 12.5, 0.5);
    d[0] = -w + v - (1.0 / 3.0) * v.powi(3) + i;
    d[1] = (1.0 / tau) * (v + a - b * w);
}

fn bench(c: &mut Criterion) {
    let mut hh = hodgkin_huxley();
    let _ = hh.set("Iapp", 10.0);
    let mut fhn = fitzhugh_nagumo();
    let _ = fhn.set("I", 0.5);
    let models = [
        ("hh", hh.clone(), hh_hand as fn(f64, &[f64], &mut [f64])),
        ("fhn", fhn.clone(), fhn_hand),
    ];
    for (name, model, hand) in models {
        let Ok(mut rhs) = model.rhs() else { return };
        let x0 = rhs.initial_state();
        let n = x0.len();
        let mut ws = Workspace::new(n, 4);
        let mut x = x0.clone();
        let mut out = vec![0.0; n];
        c.bench_function(&format!("{name}/rk4_step/compiled"), |b| {
            b.iter(|| {
                let mut f = |t: f64, y: &[f64], d: &mut [f64]| rhs.derivatives(t, y, d);
                step(&RK4, &mut f, 0.0, black_box(&x), 0.01, &mut ws, &mut out);
                x.copy_from_slice(&out);
                if !x[0].is_finite() {
                    x.copy_from_slice(&x0);
                }
            })
        });
        let mut x = x0.clone();
        c.bench_function(&format!("{name}/rk4_step/hand_written"), |b| {
            b.iter(|| {
                let mut f = |t: f64, y: &[f64], d: &mut [f64]| hand(t, y, d);
                step(&RK4, &mut f, 0.0, black_box(&x), 0.01, &mut ws, &mut out);
                x.copy_from_slice(&out);
                if !x[0].is_finite() {
                    x.copy_from_slice(&x0);
                }
            })
        });
    }
    let mut iz = izhikevich();
    let _ = iz.set("I", 10.0);
    let mut lf = lif();
    let _ = lf.set("I", 1.5);
    // Whole simulations of 100,000 RK4 steps (T = 1000, dt = 0.01), history
    // of every column included, translation to native code included.
    for (name, model) in [("hh", hh), ("fhn", fhn), ("izhikevich", iz), ("lif", lf)] {
        c.bench_function(&format!("{name}/simulation_100000_steps"), |b| {
            b.iter(|| black_box(model.simulation(1000.0, 0.01).map(|h| h.spikes.len())))
        });
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).measurement_time(std::time::Duration::from_secs(3)).warm_up_time(std::time::Duration::from_millis(500));
    targets = bench
}
criterion_main!(benches);

use ndarray::Array2;
use rand::{Rng, SeedableRng};
use snn::network::{Connection, Input, Network, Nucleus, SimOptions};
fn mem(tag: &str) {
    let s = std::fs::read_to_string("/proc/self/status").unwrap();
    let get = |k: &str| {
        s.lines()
            .find(|l| l.starts_with(k))
            .unwrap()
            .split_whitespace()
            .nth(1)
            .unwrap()
            .parse::<f64>()
            .unwrap()
            / 1024.0
    };
    println!(
        "{tag:30} rss {:7.0} MB  peak {:7.0} MB",
        get("VmRSS:"),
        get("VmHWM:")
    );
}
fn main() -> Result<(), Box<dyn std::error::Error>> {
    mem("start");
    let n = 10000;
    let ne = 8000;
    let ni = 2000;
    let scale = 1000.0 / n as f64;
    let mut rng = rand::rngs::StdRng::seed_from_u64(2003);
    let mut mat = |rows: usize, cols: usize, w: f64| {
        Array2::from_shape_simple_fn((rows, cols), || (w * scale * rng.random::<f64>()) as f32)
    };
    let (w_ee, w_ei) = (mat(ne, ne, 0.5), mat(ne, ni, 0.5));
    let (w_ie, w_ii) = (mat(ni, ne, -1.0), mat(ni, ni, -1.0));
    mem("weights made (400 MB)");
    let mut net = Network::new();
    let e = net.add(Nucleus::new("E", ne).input(Input::noise(0.0, 15.8, 1)))?;
    let i = net.add(
        Nucleus::new("I", ni)
            .abcd(0.1, 0.2, -65.0, 2.0)
            .input(Input::noise(0.0, 6.3, 2)),
    )?;
    net.connect_with(Connection::new(e, e, w_ee))?;
    net.connect_with(Connection::new(e, i, w_ei))?;
    net.connect_with(Connection::new(i, e, w_ie))?;
    net.connect_with(Connection::new(i, i, w_ii))?;
    mem("network");
    let mut sim = net.build_with(0.1, SimOptions::default().quiet().tensorboard(None))?;
    mem("built");
    sim.run(1.0)?;
    mem("10 steps");
    sim.run(1000.0)?;
    mem("1000 ms");
    Ok(())
}

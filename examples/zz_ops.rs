use snn::network::{Network, Nucleus, Record, SimOptions};
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut net = Network::new().named("ops");
    let n = net.add(
        Nucleus::new("N", 100)
            .input(5.0)
            .record(Record::traces(&[0])),
    )?;
    net.connect(n, n, 0.5)?;
    let sim = net.build_with(0.1, SimOptions::default().quiet().tensorboard(None))?;
    for o in sim.op_names() {
        if !o.starts_with("checkpoint")
            && !o.contains("/init")
            && !o.contains("initial")
            && !o.ends_with("/value")
        {
            println!("{o}");
        }
    }
    Ok(())
}

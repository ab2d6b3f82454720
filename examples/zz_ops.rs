#[path = "basal_ganglia.rs"]
#[allow(dead_code)]
mod bg;
use snn::network::{Propagation, SimOptions};
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (net, _) = bg::basal_ganglia(Propagation::Auto)?;
    let sim = net.build_with(0.2, SimOptions::default().quiet().tensorboard(None))?;
    let names: Vec<String> = sim
        .op_names()
        .into_iter()
        .filter(|o| {
            !o.starts_with("checkpoint")
                && !o.contains("/init")
                && !o.contains("initial")
                && !o.ends_with("/value")
                && !o.contains("/record/")
        })
        .collect();
    println!("total {}", names.len());
    let mut cats = std::collections::BTreeMap::new();
    for n in &names {
        let parts: Vec<&str> = n.split('/').collect();
        let key = if parts.len() > 1 {
            if parts[0].contains("->") {
                format!("conn/{}", parts[1])
            } else {
                format!("nucleus/{}", parts[1])
            }
        } else {
            parts[0].to_string()
        };
        *cats.entry(key).or_insert(0) += 1;
    }
    for (k, v) in cats {
        println!("{v:5} {k}");
    }
    Ok(())
}

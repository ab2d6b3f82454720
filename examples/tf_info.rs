//! Prints the linked TensorFlow version and devices, and steps a tiny graph.
use snn::runtime;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!(
        "TensorFlow {} (from {})",
        runtime::tf_version(),
        runtime::tf_lib_dir().unwrap_or("system")
    );
    println!("malloc: {}", runtime::allocator());
    let devices = runtime::devices()?;
    for d in &devices {
        println!(
            "  device {} ({}), {} bytes",
            d.name, d.device_type, d.memory_bytes
        );
    }
    if !devices.iter().any(|d| d.device_type == "CPU") {
        return Err("no CPU device listed".into());
    }
    Ok(())
}

//! Planning nuclei whose model is written as equations: lowering each model
//! for its nucleus (with the nucleus's initial values and its own stream
//! of the network's seed), its `on_pre` connections, what it records.

use crate::equations::{Lowered, LoweredSynapses, OnPre, Statement};
use crate::error::{Error, Result};
use crate::network::model::{Connection, Input, Network, Nucleus};

/// Per nucleus, its lowered model (`None`: a built-in Izhikevich nucleus).
pub(super) fn lower_models(net: &Network, dt: f64) -> Result<Vec<Option<Lowered>>> {
    net.nuclei
        .iter()
        .enumerate()
        .map(|(i, nu)| {
            let Some(model) = &nu.model else {
                return Ok(None);
            };
            let mut model = model.clone();
            for (var, value) in &nu.inits {
                model = model.init(var.as_str(), value.clone());
            }
            // A stream of its own per nucleus (splitmix64 of seed and index).
            let seed = splitmix(net.seed ^ splitmix(i as u64 + 1));
            let lowered = model.lower(nu.n, dt, seed)?;
            let no_input = matches!(nu.input, Input::Constant(x) if x == 0.0);
            if lowered.pulses.is_empty() && !no_input {
                return Err(Error::InvalidModel {
                    message: format!(
                        "nucleus {:?} has an external input but its model {:?} no pulse input to take it",
                        nu.label, lowered.model
                    ),
                });
            }
            Ok(Some(lowered))
        })
        .collect()
}

fn splitmix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A connection's `on_pre` statement lowered against its postsynaptic
/// model; a connection without one into a model needs a pulse input.
pub(super) fn on_pre(c: &Connection, name: &str, post: Option<&Lowered>) -> Result<Option<OnPre>> {
    match (&c.on_pre, post) {
        (None, Some(model)) if model.pulses.is_empty() => Err(Error::InvalidModel {
            message: format!(
                "connection {name}: the model {:?} of its target has no pulse input; \
                 say what a spike does with Connection::on_pre(\"x += w\")",
                model.model
            ),
        }),
        (None, _) => Ok(None),
        (Some(stmt), None) => Err(Error::InvalidModel {
            message: format!(
                "connection {name}: on_pre({stmt:?}) needs a target whose model is written as \
                 equations (an Izhikevich nucleus takes its input in I)"
            ),
        }),
        (Some(_), Some(_)) if c.kernel.is_some() => Err(Error::InvalidModel {
            message: format!(
                "connection {name}: a kernel connection feeds the pulse input; it takes no on_pre"
            ),
        }),
        (Some(stmt), Some(model)) => model.on_pre(stmt).map(Some),
    }
}

/// A connection's synapse model with state, lowered against its
/// postsynaptic model (`None`: static synapses).
pub(super) fn synapses(
    c: &Connection,
    name: &str,
    post: Option<&Lowered>,
    dt: f64,
) -> Result<Option<LoweredSynapses>> {
    let Some(model) = &c.synapses else {
        return Ok(None);
    };
    let refuse = |why: &str| {
        Err(Error::InvalidModel {
            message: format!("connection {name}: {why}"),
        })
    };
    if c.on_pre.is_some() {
        return refuse("its synapse model carries the on_pre statements; drop Connection::on_pre");
    }
    if c.kernel.is_some() {
        return refuse("synapses with state act as voltage jumps (on_pre), without a kernel");
    }
    let lowered = model.lower(post, dt)?;
    let delivers = lowered
        .on_pre
        .iter()
        .any(|s| matches!(s, Statement::Deliver(_)));
    if let (false, Some(post)) = (delivers, post) {
        if post.pulses.is_empty() {
            return refuse(&format!(
                "the model {:?} of its target has no pulse input; say what a spike does in                  the synapse model's on_pre (\"ge += w\")",
                post.model
            ));
        }
    }
    Ok(Some(lowered))
}

/// What a model nucleus records: `Record::all` for every variable (state
/// and pulse inputs), `Record::var` for the ones named.
pub(super) fn traces(nu: &Nucleus, model: &Lowered) -> Result<Vec<(String, Vec<usize>)>> {
    let vars: Vec<&String> = model.state.iter().chain(&model.pulses).collect();
    let mut traces: Vec<(String, Vec<usize>)> = Vec::new();
    let all = vars.iter().map(|v| ((*v).clone(), &nu.record.all));
    let named = nu.record.named.iter().map(|(v, p)| (v.clone(), p));
    for (var, probe) in all.chain(named) {
        if !vars.contains(&&var) {
            return Err(Error::InvalidModel {
                message: format!(
                    "recording {var:?} of nucleus {:?}: its model {:?} has {}",
                    nu.label,
                    model.model,
                    vars.iter()
                        .map(|v| v.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            });
        }
        let list = probe.indices(nu.n);
        if let Some(&bad) = list.iter().find(|&&i| i >= nu.n) {
            return Err(Error::RecordIndex {
                nucleus: nu.label.clone(),
                variable: var,
                index: bad,
                n: nu.n,
            });
        }
        super::add_trace(&mut traces, var, list);
    }
    Ok(traces)
}

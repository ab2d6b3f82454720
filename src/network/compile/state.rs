//! The graph's state, created once before the copies of the step: every
//! nucleus's variables and scope, the populations' scopes, the connections'
//! weights (fed once), the trace banks, and TensorFlow's save and restore
//! ops over all of them.

use std::collections::HashMap;

use tensorflow::{ops, DataType, Output, Scope, Shape, Tensor};

use super::graph::{
    const_f32, const_i32, constant, fed_variable, group, other_err, scalar_f32, tf_err, variable,
    Registry, Var,
};
use super::layout::Layout;
use super::plastic::{by_column, plastic_state, CsrParts, PlasticState};
use super::propagation::WeightOps;
use super::{CheckpointOps, InitFeed};
use crate::equations::Lowered;
use crate::error::Result;
use crate::network::checkpoint::VarEntry;
use crate::network::plan::{Plan, PlanWeights};

/// A nucleus's state variables and scope, created once.
pub(super) struct NucleusState {
    pub(super) scope: Scope,
    /// Its variables by name (`X/<name>`): the state variables, then the
    /// pulse input (`v`, `u`, `I` for an Izhikevich nucleus).
    pub(super) vars: Vec<(String, Var)>,
    /// The index in `vars` of the pulse input that takes the external
    /// input and the synaptic currents.
    pub(super) pulse: Option<usize>,
    /// Spike ring buffer: row `(m - j) mod L` holds the spikes of step
    /// `m - j` (none when no connection reads a past step).
    pub(super) hist: Option<Var>,
    /// Ring length `L` (0 without a ring).
    pub(super) ring: usize,
    /// A model's step of each neuron's last spike (int64; models with a
    /// refractory period).
    pub(super) last: Option<Var>,
    /// The spikes' indices of each of the last steps, for connections with
    /// per-synapse delays.
    pub(super) list: Option<SpikeList>,
}

/// A nucleus's spike lists: slot `(m mod L)` holds the indices of step
/// `m`'s spikes at `ids[slot n .. slot n + counts[slot]]`. Written by
/// scatter at the spikes and read by gathers of the listed indices, so a
/// step costs the spikes of the steps it reads, not `L n`.
pub(super) struct SpikeList {
    /// int32 `[L n]`.
    pub(super) ids: Var,
    /// int64 `[L]`.
    pub(super) counts: Var,
    /// `L`.
    pub(super) len: usize,
}

/// The spike lists `X/spike_list` and `X/spike_count` of `len` steps (none
/// when `len` is 0), empty.
fn spike_list(
    scope: &mut Scope,
    len: usize,
    n: u64,
    reg: &mut Registry,
) -> Result<Option<SpikeList>> {
    if len == 0 {
        return Ok(None);
    }
    let e = tf_err("spike lists");
    // Filled when the initialiser runs, not a constant of `len n` zeros in
    // the GraphDef (as the spike ring).
    let dims = const_i32(scope, "spike_list/dims", &[(len as u64 * n) as i32], &[1])?;
    let zero = constant(0i32, &mut scope.with_op_name("spike_list/zero")).map_err(&e)?;
    let ids = ops::Fill::new()
        .build(dims, zero, &mut scope.with_op_name("spike_list/initial"))
        .map_err(&e)?;
    let counts = constant(
        Tensor::<i64>::new(&[len as u64]),
        &mut scope.with_op_name("spike_count/initial"),
    )
    .map_err(&e)?;
    Ok(Some(SpikeList {
        ids: variable(
            scope,
            "spike_list",
            DataType::Int32,
            &[len as u64 * n],
            ids.into(),
            reg,
        )?,
        counts: variable(
            scope,
            "spike_count",
            DataType::Int64,
            &[len as u64],
            counts.into(),
            reg,
        )?,
        len,
    }))
}

impl NucleusState {
    /// The variable `name`.
    pub(super) fn var(&self, name: &str) -> Result<&Var> {
        self.vars
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v)
            .ok_or_else(|| crate::Error::Internal {
                context: "building the graph".into(),
                message: format!("no variable {name}"),
            })
    }
}

/// A connection's weights, created once.
pub(super) struct ConnState {
    pub(super) scope: Scope,
    pub(super) w: WeightOps,
    /// Synapses with state: the weight and trace variables.
    pub(super) plastic: Option<PlasticState>,
}

/// A nucleus's trace bank variable (its layout is a
/// [`BankLayout`](super::layout::BankLayout)).
pub(super) struct TraceBank {
    pub(super) scope: Scope,
    pub(super) var: Var,
}

/// The step counter `step`, an int64 scalar starting at 0 (its ops live
/// in `step_scope`, the `step/` namespace).
pub(super) fn step_counter(
    root: &mut Scope,
    step_scope: &mut Scope,
    reg: &mut Registry,
) -> Result<Var> {
    let zero = constant(0i64, &mut step_scope.with_op_name("zero")).map_err(tf_err("step"))?;
    variable(root, "step", DataType::Int64, &[], zero.into(), reg)
}

/// The time step `step/dt` (ms), a float32 scalar variable: read, not
/// folded. Checkpoints before the namespaces of issue 17 called it `dt`.
pub(super) fn time_step(step_scope: &mut Scope, dt: f64, reg: &mut Registry) -> Result<Var> {
    let value = scalar_f32(step_scope, "dt/value", dt as f32)?;
    let var = variable(step_scope, "dt", DataType::Float, &[], value.into(), reg)?;
    reg.legacy_key("dt");
    Ok(var)
}

/// Every nucleus's `v = c`, `u = b c`, `I = 0` and spike ring (no spikes),
/// in its own scope (on its device).
pub(super) fn nuclei(
    root: &mut Scope,
    plan: &Plan,
    layout: &Layout,
    reg: &mut Registry,
) -> Result<Vec<NucleusState>> {
    let mut states = Vec::with_capacity(plan.nuclei.len());
    for ((nu, &ring), &list) in plan.nuclei.iter().zip(&layout.rings).zip(&layout.lists) {
        let mut scope = match &nu.device {
            Some(dev) => root.new_sub_scope(&nu.label).with_device(dev),
            None => root.new_sub_scope(&nu.label),
        };
        let n = nu.n as u64;
        if let Some(model) = &nu.model {
            let mut st = model_state(scope, model, ring, reg)?;
            st.list = spike_list(&mut st.scope, list, n, reg)?;
            states.push(st);
            continue;
        }
        let init_v = const_f32(&mut scope, "v/initial", &nu.c, &[n])?;
        let init_u: Vec<f32> = nu.b.iter().zip(&nu.c).map(|(b, c)| b * c).collect();
        let init_u = const_f32(&mut scope, "u/initial", &init_u, &[n])?;
        let init_i = const_f32(&mut scope, "I/initial", &vec![0.0; nu.n], &[n])?;
        let float = DataType::Float;
        let v = variable(&mut scope, "v", float, &[n], init_v.into(), reg)?;
        let u = variable(&mut scope, "u", float, &[n], init_u.into(), reg)?;
        let i = variable(&mut scope, "I", float, &[n], init_i.into(), reg)?;
        let hist = spike_ring(&mut scope, ring, n, reg)?;
        let list = spike_list(&mut scope, list, n, reg)?;
        states.push(NucleusState {
            scope,
            vars: vec![("v".into(), v), ("u".into(), u), ("I".into(), i)],
            pulse: Some(2),
            hist,
            ring,
            last: None,
            list,
        });
    }
    Ok(states)
}

/// The variables of a nucleus whose model is written as equations: its
/// state variables from their initial values, its pulse inputs at 0, the
/// step of each neuron's last spike (long ago) if it has a refractory
/// period, and its spike ring.
fn model_state(
    mut scope: Scope,
    model: &Lowered,
    ring: usize,
    reg: &mut Registry,
) -> Result<NucleusState> {
    let n = model.n as u64;
    let float = DataType::Float;
    let mut vars = Vec::with_capacity(model.state.len() + model.pulses.len());
    for (name, init) in model.state.iter().zip(&model.init) {
        let values: Vec<f32> = init.iter().map(|&x| x as f32).collect();
        let initial = const_f32(&mut scope, &format!("{name}/initial"), &values, &[n])?;
        vars.push((
            name.clone(),
            variable(&mut scope, name, float, &[n], initial.into(), reg)?,
        ));
    }
    for name in &model.pulses {
        let zeros = const_f32(
            &mut scope,
            &format!("{name}/initial"),
            &vec![0.0; model.n],
            &[n],
        )?;
        vars.push((
            name.clone(),
            variable(&mut scope, name, float, &[n], zeros.into(), reg)?,
        ));
    }
    let pulse = (!model.pulses.is_empty()).then_some(model.state.len());
    let last = match model.refractory {
        Some(_) => {
            let long_ago = Tensor::new(&[n])
                .with_values(&vec![i64::MIN / 2; model.n])
                .map_err(tf_err("lastspike"))?;
            let long_ago = constant(long_ago, &mut scope.with_op_name("lastspike/initial"))
                .map_err(tf_err("lastspike"))?;
            Some(variable(
                &mut scope,
                "lastspike",
                DataType::Int64,
                &[n],
                long_ago.into(),
                reg,
            )?)
        }
        None => None,
    };
    let hist = spike_ring(&mut scope, ring, n, reg)?;
    Ok(NucleusState {
        scope,
        vars,
        pulse,
        hist,
        ring,
        last,
        list: None,
    })
}

/// The spike ring `X/spikes` of `ring` rows of `n` zeros (none when `ring`
/// is 0: nothing reads a past step).
fn spike_ring(scope: &mut Scope, ring: usize, n: u64, reg: &mut Registry) -> Result<Option<Var>> {
    if ring == 0 {
        return Ok(None);
    }
    let init = ops::Fill::new()
        .build(
            const_i32(scope, "spikes/dims", &[ring as i32, n as i32], &[2])?,
            scalar_f32(scope, "spikes/zero", 0.0)?,
            &mut scope.with_op_name("spikes/initial"),
        )
        .map_err(tf_err("spikes"))?;
    let dims = [ring as u64, n];
    Ok(Some(variable(
        scope,
        "spikes",
        DataType::Float,
        &dims,
        init.into(),
        reg,
    )?))
}

/// Each population's scope: its member's own when it is alone, else
/// `neurons` (`neurons_1`, ... for further devices) on the device.
pub(super) fn population_scopes(
    root: &mut Scope,
    plan: &Plan,
    layout: &Layout,
    nuclei: &[NucleusState],
) -> Vec<Scope> {
    layout
        .populations
        .iter()
        .map(|members| match members[..] {
            [only] => nuclei[only].scope.new_sub_scope(""),
            _ => match &plan.nuclei[members[0]].device {
                Some(dev) => root.new_sub_scope("neurons").with_device(dev),
                None => root.new_sub_scope("neurons"),
            },
        })
        .collect()
}

/// Compressed rows of this many synapses or more are read row by row
/// (`RaggedGather`) rather than synapse by synapse: its copies cost 1.5-2.5
/// ns a synapse against the gathers' 4-5, for about eight more
/// ops a step (a few microseconds). At a few hertz and dt = 0.1 ms a step's
/// spikes carry about 5e-4 of a connection's synapses, so the rows pay from
/// about 10^6 synapses (docs/performance.md, case (f)).
const RAGGED_FROM_NNZ: u64 = 1_000_000;

/// Every connection's weights in variables fed once by the init run (dense
/// `[pre.n, post.n]`, or compressed rows), in its scope on the postsynaptic
/// device; the plan's arrays move into the feeds.
pub(super) fn connections(
    nuclei: &[NucleusState],
    plan: &mut Plan,
    reg: &mut Registry,
    feeds: &mut Vec<InitFeed>,
) -> Result<Vec<ConnState>> {
    let mut states = Vec::with_capacity(plan.connections.len());
    // Checkpoints written before connections moved under their
    // postsynaptic nucleus keyed their variables `X->Y/...`, the second
    // connection X -> Y `X->Y_1/...`: TensorFlow's unique scope names.
    let mut old_scopes: HashMap<String, usize> = HashMap::new();
    for conn in &mut plan.connections {
        let (pre_n, post_n) = (
            plan.nuclei[conn.pre].n as u64,
            plan.nuclei[conn.post].n as u64,
        );
        let on_cpu = [conn.pre, conn.post]
            .iter()
            .all(|&k| crate::network::plan::runs_on_cpu(plan.nuclei[k].device.as_deref()));
        let mut s = nuclei[conn.post]
            .scope
            .new_sub_scope(&format!("from_{}", plan.nuclei[conn.pre].label));
        let seen = old_scopes.entry(conn.name.clone()).or_insert(0);
        let old_scope = match *seen {
            0 => conn.name.clone(),
            k => format!("{}_{k}", conn.name),
        };
        *seen += 1;
        let vars_before = reg.vars.len();
        let weights = std::mem::replace(&mut conn.weights, PlanWeights::Dense(Vec::new()));
        // The weights' variables, and what synapses with state add to them.
        let (w, wv, csr) = match weights {
            PlanWeights::Dense(w) => {
                // A subgroup's own rows (and a row of zeros) or columns.
                let dims = match conn.own {
                    Some(own) => {
                        let (rows, cols) = own.dims();
                        [rows as u64, cols as u64]
                    }
                    None => [pre_n, post_n],
                };
                let wv = fed_variable(&mut s, "weights", w, &dims, InitFeed::F32, reg, feeds)?;
                // Static weights never change: one read serves every copy
                // of the step.
                let ops = WeightOps::Dense(wv.read_in(&mut s, "read/weights")?);
                (ops, wv, None)
            }
            PlanWeights::Csr { indptr, cols, w } => {
                let nnz = w.len() as u64;
                // Plastic: the synapses by column, for on_post.
                let index = conn
                    .synapses
                    .as_ref()
                    .map(|_| by_column(&indptr, &cols, post_n as usize));
                let wv = fed_variable(&mut s, "weights", w, &[nnz], InitFeed::F32, reg, feeds)?;
                let cv = fed_variable(&mut s, "columns", cols, &[nnz], InitFeed::I32, reg, feeds)?;
                // `pre.n + 1`, or with per-synapse delays one pointer per
                // (neuron, delay) row and one more.
                let rows = [indptr.len() as u64];
                let pv = fed_variable(
                    &mut s,
                    "row_pointers",
                    indptr,
                    &rows,
                    InitFeed::I64,
                    reg,
                    feeds,
                )?;
                let (w_read, cols_read, indptr_read) = (
                    wv.read_in(&mut s, "read/weights")?,
                    cv.read_in(&mut s, "read/columns")?,
                    pv.read_in(&mut s, "read/row_pointers")?,
                );
                let csr = index.map(|by_column| CsrParts {
                    by_column,
                    indptr_read: indptr_read.clone().into(),
                    cols_read: cols_read.clone().into(),
                    lags: conn.synapse_lags.clone(),
                });
                // Rows copied whole (`RaggedGather`, CPU only, positions
                // below 2^31) where a step's spikes carry enough synapses
                // to pay its few more ops. Not with a synapse model: its
                // weights may learn, and TensorFlow copies a variable at
                // every read once a scatter (or gather) has touched it.
                let ragged =
                    on_cpu && csr.is_none() && (RAGGED_FROM_NNZ..=i32::MAX as u64).contains(&nnz);
                let ops = WeightOps::Csr {
                    w: w_read,
                    cols: cols_read,
                    indptr: indptr_read,
                    vars: [pv.clone(), cv.clone(), wv.clone()],
                    ragged,
                    native: conn.snn_sums,
                    device: plan.nuclei[conn.post].device.clone(),
                };
                (ops, wv, csr)
            }
        };
        // Only the weights' variables existed before the names moved.
        reg.legacy_keys_from(vars_before, &old_scope)?;
        let plastic = match &conn.synapses {
            Some(model) => Some(plastic_state(
                &mut s,
                model,
                wv,
                (pre_n, post_n),
                csr,
                reg,
                feeds,
            )?),
            None => None,
        };
        states.push(ConnState {
            scope: s,
            w,
            plastic,
        });
    }
    Ok(states)
}

/// One `[T, n]` variable `X/traces` (zeros) per bank of the layout, in
/// the nucleus's scope.
pub(super) fn trace_banks(
    plan: &Plan,
    layout: &Layout,
    nuclei: &mut [NucleusState],
    reg: &mut Registry,
) -> Result<Vec<TraceBank>> {
    let mut banks = Vec::with_capacity(layout.banks.len());
    for bank in &layout.banks {
        let ns = &mut nuclei[bank.post].scope;
        let n = plan.nuclei[bank.post].n;
        let dims = [bank.rows as u64, n as u64];
        let zeros = const_f32(ns, "traces/initial", &vec![0.0; bank.rows * n], &dims)?;
        let var = variable(ns, "traces", DataType::Float, &dims, zeros.into(), reg)?;
        banks.push(TraceBank {
            scope: ns.new_sub_scope("kernels"),
            var,
        });
    }
    Ok(banks)
}

fn dtype_name(dtype: DataType) -> &'static str {
    match dtype {
        DataType::Float => "float32",
        DataType::Int32 => "int32",
        DataType::Int64 => "int64",
        _ => "other",
    }
}

/// `checkpoint/save` (SaveV2) and `checkpoint/restore` (RestoreV2, then one
/// assign per variable) over every variable, keyed by the variable's name.
/// The keys restore reads default to those names and can be fed
/// (`checkpoint/restore_names`), so a checkpoint that keyed a variable by
/// its older name still restores.
pub(super) fn checkpoint_ops(
    root: &mut Scope,
    step_var: &Var,
    reg: &Registry,
) -> Result<CheckpointOps> {
    let vars = &reg.vars;
    let e = tf_err("checkpoint");
    let mut s = root.new_sub_scope("checkpoint");
    let prefix = ops::Placeholder::new()
        .dtype(DataType::String)
        .shape(Shape::from(Some(Vec::new())))
        .build(&mut s.with_op_name("prefix"))
        .map_err(&e)?;
    let mut variables = Vec::with_capacity(vars.len());
    for (var, dims) in vars {
        variables.push(VarEntry {
            name: var.handle.name().map_err(other_err("checkpoint"))?,
            dtype: dtype_name(var.dtype).into(),
            shape: dims.clone(),
        });
    }
    let names: Vec<String> = variables.iter().map(|v| v.name.clone()).collect();
    let slices: Vec<String> = vec![String::new(); names.len()];
    let dtypes: Vec<DataType> = vars.iter().map(|(v, _)| v.dtype).collect();
    let mut reads = Vec::with_capacity(vars.len());
    for (k, (var, _)) in vars.iter().enumerate() {
        reads.push(Output {
            operation: var.read_in(&mut s, &format!("read{k}"))?,
            index: 0,
        });
    }
    let save = {
        let tensor_names = constant(&names[..], &mut s.with_op_name("save_names")).map_err(&e)?;
        let shapes = constant(&slices[..], &mut s.with_op_name("save_slices")).map_err(&e)?;
        let name = s.get_unique_name_for_op("save");
        let mut g = s.graph_mut();
        let mut nd = g
            .new_operation("SaveV2", &name)
            .map_err(other_err("checkpoint"))?;
        nd.add_input(prefix.clone());
        nd.add_input(tensor_names);
        nd.add_input(shapes);
        nd.add_input_list(&reads);
        nd.set_attr_type_list("dtypes", &dtypes)
            .map_err(other_err("checkpoint"))?;
        nd.finish().map_err(&e)?
    };
    let restore_names = ops::PlaceholderWithDefault::new()
        .dtype(DataType::String)
        .shape(Shape::from(Some(vec![Some(names.len() as i64)])))
        .build(
            constant(&names[..], &mut s.with_op_name("names")).map_err(&e)?,
            &mut s.with_op_name("restore_names"),
        )
        .map_err(&e)?;
    let restored = {
        let tensor_names = restore_names.clone();
        let shapes = constant(&slices[..], &mut s.with_op_name("restore_slices")).map_err(&e)?;
        ops::RestoreV2::new()
            .dtypes(dtypes.clone())
            .build(
                prefix.clone(),
                tensor_names,
                shapes,
                &mut s.with_op_name("restored"),
            )
            .map_err(&e)?
    };
    let mut assigns = Vec::with_capacity(vars.len());
    for (k, (var, _)) in vars.iter().enumerate() {
        assigns.push(
            ops::AssignVariableOp::new()
                .dtype(var.dtype)
                .build(
                    var.handle.clone(),
                    Output {
                        operation: restored.clone(),
                        index: k as i32,
                    },
                    &mut s.with_op_name(&format!("assign{k}")),
                )
                .map_err(&e)?,
        );
    }
    let restore = group(&mut s, "restore", assigns)?;
    let step = step_var.read_in(&mut s, "step")?;
    let mut legacy = vec![None; variables.len()];
    for (k, key) in &reg.legacy {
        legacy[*k] = Some(key.clone());
    }
    Ok(CheckpointOps {
        prefix,
        save,
        restore,
        restore_names,
        step,
        variables,
        legacy,
    })
}

//! Steps 2-5 of semantics §1.3 for one population (the nuclei placed on one
//! device, in model order): the members' `v`, `u` and `I` are read in their
//! own scopes and joined into one vector, reset, updated and thresholded by
//! one set of ops with per-neuron parameters, and split back. The
//! arithmetic per neuron is the same as a nucleus on its own would do. On a
//! CPU in a local session snn's kernel `SnnIzhikevich` computes the same
//! numbers from the members' reads in one op, and those ops become its twin
//! for export.

use tensorflow::{ops, DataType, Operation, Output, Scope};

use super::graph::{
    after, const_f32, const_i32, constant, identity_n, kernel_node, other_err, scalar_f32, select,
    tf_err,
};
use super::state::NucleusState;
use crate::error::Result;
use crate::network::native::IZHIKEVICH;
use crate::network::plan::{Plan, PlanNucleus};

/// What one copy of the step computed for a nucleus.
pub(super) struct NucleusStep {
    /// The new value of each state variable (not the pulse input), by name.
    pub(super) new: Vec<(String, Output)>,
    /// `Where(fired)`: int64 `[k, 1]` indices of this step's spikes.
    pub(super) spike_index: Output,
    /// This step's spikes as a `[n]` float vector (0 or 1).
    pub(super) spikes: Output,
    /// The same as a `[1, n]` row (lag 0).
    pub(super) new_row: Operation,
    /// A model written as equations: what the end of its step needs.
    pub(super) model: Option<super::models::ModelStep>,
}

/// The update of one population in `pop_scope`: returns each member's
/// [`NucleusStep`] (in `members` order) and pushes the state reads to
/// `reads`.
/// `dt` is the time step read from its variable, and the products with it
/// are `MulNoNan` (the same product for dt > 0): Grappler folds a constant
/// into a chain of `Mul`s (`(a x) dt` into `x (a dt)`) and reorders such
/// chains to broadcast less, which rounds differently, and neither touches
/// `MulNoNan` or a variable's value.
pub(super) fn update_population(
    pop_scope: &Scope,
    members: &[usize],
    plan: &Plan,
    nuclei: &[NucleusState],
    dt: &Output,
    copy_after: Option<&Operation>,
    reads: &mut Vec<Operation>,
) -> Result<Vec<NucleusStep>> {
    let mut scope = after(pop_scope, copy_after);
    let members: Vec<(&PlanNucleus, &NucleusState)> = members
        .iter()
        .map(|&k| (&plan.nuclei[k], &nuclei[k]))
        .collect();
    let stock = stock_update(&mut scope, &members, dt, copy_after, reads)?;
    let mut outputs = stock.outputs;
    if members.iter().all(|(nu, _)| nu.snn_kernels) {
        let kernel = Kernel {
            members: &members,
            reads: &stock.reads,
            dt,
            params: &stock.params,
        };
        outputs = kernel.build(&mut scope, outputs)?;
    }
    let [v_parts, u_parts, fired_parts, index_parts] = outputs;
    let mut steps = Vec::with_capacity(members.len());
    for (k, &(nu, st)) in members.iter().enumerate() {
        let mut s = after(&st.scope, copy_after).new_sub_scope("threshold");
        let e = tf_err(&nu.label);
        let spikes: Output = ops::Cast::new()
            .DstT(DataType::Float)
            .build(fired_parts[k].clone(), &mut s.with_op_name("spikes"))
            .map_err(&e)?
            .into();
        let new_row = ops::reshape(
            spikes.clone(),
            const_i32(&mut s, "row_shape", &[1, nu.n as i32], &[2])?,
            &mut s.with_op_name("row"),
        )
        .map_err(&e)?;
        steps.push(NucleusStep {
            new: vec![
                ("v".into(), v_parts[k].clone()),
                ("u".into(), u_parts[k].clone()),
            ],
            spike_index: index_parts[k].clone(),
            spikes,
            new_row,
            model: None,
        });
    }
    Ok(steps)
}

/// The population's update as TensorFlow's ops (what runs where snn's
/// kernel cannot, and the kernel's twin where it can).
struct StockUpdate {
    /// Each member's new `v`, new `u`, bool spikes and spike indices.
    outputs: [Vec<Output>; 4],
    /// Each member's reads of `v`, `u`, `I`.
    reads: Vec<[Output; 3]>,
    /// The population's `a`, `b`, `c`, `d` (constants).
    params: [Output; 4],
}

/// Steps 2-5 for `members` as TensorFlow's ops in `scope`: the members'
/// reads joined, one set of ops, the results split back.
fn stock_update(
    scope: &mut Scope,
    members: &[(&PlanNucleus, &NucleusState)],
    dt: &Output,
    copy_after: Option<&Operation>,
    reads: &mut Vec<Operation>,
) -> Result<StockUpdate> {
    let sizes: Vec<i32> = members.iter().map(|(nu, _)| nu.n as i32).collect();
    let n: u64 = members.iter().map(|(nu, _)| nu.n as u64).sum();
    let param = |f: fn(&PlanNucleus) -> &Vec<f32>| -> Vec<f32> {
        members
            .iter()
            .flat_map(|(nu, _)| f(nu).iter().copied())
            .collect()
    };
    let (a, b, c, d) = (
        param(|nu| &nu.a),
        param(|nu| &nu.b),
        param(|nu| &nu.c),
        param(|nu| &nu.d),
    );
    let e = tf_err("neurons");
    // Each member's v, u, I read in its own scope, then joined.
    let mut parts: [Vec<Output>; 3] = Default::default();
    let mut member_reads: Vec<[Output; 3]> = Vec::with_capacity(members.len());
    for (_, st) in members {
        let mut ns = after(&st.scope, copy_after);
        let mut read = |var: &str| -> Result<Output> {
            let read = st.var(var)?.read_in(&mut ns, &format!("read/{var}"))?;
            reads.push(read.clone());
            Ok(read.into())
        };
        let three = [read("v")?, read("u")?, read("I")?];
        for (part, x) in parts.iter_mut().zip(&three) {
            part.push(x.clone());
        }
        member_reads.push(three);
    }
    let axis = constant(0i32, &mut scope.with_op_name("axis")).map_err(&e)?;
    let [v_read, u_read, i_read] = parts;
    let join = |p: Vec<Output>, name: &str, s: &mut Scope| -> Result<Output> {
        if p.len() == 1 {
            return Ok(p[0].clone());
        }
        Ok(ops::ConcatV2::new()
            .build_instance(p, axis.clone().into(), &mut s.with_op_name(name))
            .map_err(tf_err(name))?
            .op
            .into())
    };
    let v_read = join(v_read, "read/v", scope)?;
    let u_read = join(u_read, "read/u", scope)?;
    let i_read = join(i_read, "read/I", scope)?;
    // 2. reset: a neuron that spiked stored v = 30 (the peak), and only
    // such a neuron (c < 30 is checked by the plan): no spike history
    // needs reading.
    let peak = scalar_f32(scope, "peak", 30.0)?;
    let (v_r, u_r, c_c, d_c) = {
        let mut s = scope.new_sub_scope("reset");
        let prev = ops::greater_equal(v_read.clone(), peak.clone(), &mut s.with_op_name("spiked"))
            .map_err(&e)?;
        let c = const_f32(&mut s, "c", &c, &[n])?;
        let d = const_f32(&mut s, "d", &d, &[n])?;
        let v_r = select(
            &mut s.with_op_name("v"),
            prev.clone().into(),
            c.clone().into(),
            v_read.clone(),
        )?;
        let u_d =
            ops::add(u_read.clone(), d.clone(), &mut s.with_op_name("u_plus_d")).map_err(&e)?;
        let u_r = select(
            &mut s.with_op_name("u"),
            prev.into(),
            u_d.into(),
            u_read.clone(),
        )?;
        (v_r, u_r, Output::from(c), Output::from(d))
    };
    // 3. v, in the original's float32 order (semantics §1.3):
    // dv = ((0.04 v + 5) v + 140) - u + I, v' = v + dv dt.
    let kdt = dt.clone();
    let v1 = {
        let mut s = scope.new_sub_scope("v_update");
        let k004 = scalar_f32(&mut s, "k0.04", 0.04)?;
        let k5 = scalar_f32(&mut s, "k5", 5.0)?;
        let k140 = scalar_f32(&mut s, "k140", 140.0)?;
        let lin = ops::mul(k004, v_r.clone(), &mut s).map_err(&e)?;
        let lin = ops::add(lin, k5, &mut s).map_err(&e)?;
        let quad = ops::mul(lin, v_r.clone(), &mut s).map_err(&e)?;
        let dv = ops::add(quad, k140, &mut s).map_err(&e)?;
        let dv = ops::sub(dv, u_r.clone(), &mut s).map_err(&e)?;
        let dv = ops::add(dv, i_read.clone(), &mut s.with_op_name("dv")).map_err(&e)?;
        let step = ops::mul_no_nan(dv, kdt.clone(), &mut s).map_err(&e)?;
        ops::add(v_r.clone(), step, &mut s.with_op_name("v")).map_err(&e)?
    };
    // 4. u' = u + (a (b v' - u)) dt, with the new v'.
    let (u_new, a_c, b_c) = {
        let mut s = scope.new_sub_scope("u_update");
        let a = const_f32(&mut s, "a", &a, &[n])?;
        let b = const_f32(&mut s, "b", &b, &[n])?;
        let bv = ops::mul(b.clone(), v1.clone(), &mut s).map_err(&e)?;
        let diff = ops::sub(bv, u_r.clone(), &mut s).map_err(&e)?;
        let du = ops::mul(a.clone(), diff, &mut s).map_err(&e)?;
        let du = ops::mul_no_nan(du, kdt, &mut s).map_err(&e)?;
        let u_new = ops::add(u_r, du, &mut s.with_op_name("u")).map_err(&e)?;
        (u_new, Output::from(a), Output::from(b))
    };
    // 5. threshold, and the members' parts of the new state.
    // (Ops nothing fetches are pruned by TensorFlow at run time, so the
    // forms below cost nothing where nothing uses them.)
    let mut s = scope.new_sub_scope("threshold");
    let fired =
        ops::greater_equal(v1.clone(), peak.clone(), &mut s.with_op_name("fired")).map_err(&e)?;
    let v_new = select(
        &mut s.with_op_name("v"),
        fired.clone().into(),
        peak.into(),
        v1.into(),
    )?;
    let sizes_c = const_i32(&mut s, "sizes", &sizes, &[sizes.len() as u64])?;
    let split = |x: Output, name: &str, s: &mut Scope| -> Result<Vec<Output>> {
        if sizes.len() == 1 {
            return Ok(vec![x]);
        }
        let op = ops::SplitV::new()
            .num_split(sizes.len() as i64)
            .build(x, sizes_c.clone(), axis.clone(), &mut s.with_op_name(name))
            .map_err(tf_err(name))?;
        Ok((0..sizes.len())
            .map(|k| Output {
                operation: op.clone(),
                index: k as i32,
            })
            .collect())
    };
    let v_parts = split(v_new, "split_v", &mut s)?;
    let u_parts = split(u_new.into(), "split_u", &mut s)?;
    // Each member's indices come from its part of the bool `fired` (a
    // `Where` over bools, not over the float form, which is cast only where
    // a ring or a synapse needs it).
    let fired_parts = split(fired.into(), "split_fired", &mut s)?;
    let mut index_parts = Vec::with_capacity(members.len());
    for ((nu, st), flags) in members.iter().zip(&fired_parts) {
        let s = after(&st.scope, copy_after).new_sub_scope("threshold");
        let index = ops::where_(flags.clone(), &mut s.with_op_name("spike_index"))
            .map_err(tf_err(&nu.label))?;
        index_parts.push(Output::from(index));
    }
    Ok(StockUpdate {
        outputs: [v_parts, u_parts, fired_parts, index_parts],
        reads: member_reads,
        params: [a_c, b_c, c_c, d_c],
    })
}

/// snn's kernel `SnnIzhikevich` for a population on a CPU of this process
/// (docs/design.md, "The Izhikevich update by snn's kernel"): the same
/// numbers as the ops above, in one pass over the members' reads, not
/// their joins.
struct Kernel<'a> {
    members: &'a [(&'a PlanNucleus, &'a NucleusState)],
    /// Each member's reads of `v`, `u`, `I`.
    reads: &'a [[Output; 3]],
    dt: &'a Output,
    /// The population's `a`-`d` (constants the ops above read too).
    params: &'a [Output; 4],
}

impl Kernel<'_> {
    /// Builds the kernel as `update` in `scope`, and, as its twin
    /// `update/portable`, an `IdentityN` of `ops` (each member's new `v`,
    /// `u`, bool spikes and spike indices, by TensorFlow's ops), which
    /// `Simulator::export` puts in the kernel's place. Returns the kernel's
    /// outputs in the same order.
    fn build(&self, scope: &mut Scope, ops: [Vec<Output>; 4]) -> Result<[Vec<Output>; 4]> {
        let m = self.members.len();
        let device = self.members[0].0.device.as_deref();
        let (op, twin_name) = kernel_node(scope, IZHIKEVICH, "update", device, |nd| {
            for j in 0..3 {
                nd.add_input_list(&self.reads.iter().map(|r| r[j].clone()).collect::<Vec<_>>());
            }
            nd.add_input(self.dt.clone());
            for p in self.params {
                nd.add_input(p.clone());
            }
            nd.set_attr_int("N", m as i64)
                .map_err(other_err("the Izhikevich update"))
        })?;
        let twin: Vec<Output> = ops.into_iter().flatten().collect();
        let types: Vec<DataType> = [DataType::Float, DataType::Float, DataType::Bool]
            .into_iter()
            .chain([DataType::Int64])
            .flat_map(|t| std::iter::repeat_n(t, m))
            .collect();
        identity_n(scope, &twin_name, &twin, &types)?;
        let out = |j: usize| -> Vec<Output> {
            (0..m)
                .map(|k| Output {
                    operation: op.clone(),
                    index: (j * m + k) as i32,
                })
                .collect()
        };
        Ok([out(0), out(1), out(2), out(3)])
    }
}

//! The small graph-building helpers every part of the emitter uses:
//! error mapping, control-free constants, resource variables (plain and
//! fed once), grouping no-ops, and the copy's control dependency.

use tensorflow::{ops, DataType, Operation, Output, Scope, Shape, Tensor};

use super::InitFeed;
use crate::error::Result;

/// Variables and their initialisers, as they are created.
#[derive(Default)]
pub(super) struct Registry {
    pub(super) inits: Vec<Operation>,
    pub(super) vars: Vec<(Var, Vec<u64>)>,
    /// The key an older checkpoint gave the variable of the same index,
    /// where it differs from the variable's name (docs/design.md,
    /// "Names in the graph").
    pub(super) legacy: Vec<(usize, String)>,
}

impl Registry {
    /// The last variable was called `key` in older checkpoints.
    pub(super) fn legacy_key(&mut self, key: &str) {
        if let Some(k) = self.vars.len().checked_sub(1) {
            self.legacy.push((k, key.to_string()));
        }
    }

    /// The variables from index `start` on lived in the scope `old_scope`
    /// in older checkpoints (same last name component).
    pub(super) fn legacy_keys_from(&mut self, start: usize, old_scope: &str) -> Result<()> {
        for k in start..self.vars.len() {
            let name = self.vars[k]
                .0
                .handle
                .name()
                .map_err(other_err("checkpoint"))?;
            let leaf = name.rsplit('/').next().unwrap_or(&name);
            self.legacy.push((k, format!("{old_scope}/{leaf}")));
        }
        Ok(())
    }
}

pub(super) fn tf_err(context: &str) -> impl Fn(tensorflow::Status) -> crate::Error + '_ {
    move |status| crate::Error::TensorFlow {
        context: format!("building the graph ({context})"),
        message: status.to_string(),
    }
}

/// Like [`tf_err`] for the graph API's other error types (names with NUL
/// bytes, non-UTF-8 names).
pub(super) fn other_err<E: std::fmt::Display>(context: &str) -> impl Fn(E) -> crate::Error + '_ {
    move |err| crate::Error::TensorFlow {
        context: format!("building the graph ({context})"),
        message: err.to_string(),
    }
}

/// A constant, without the control dependencies of `scope`: constants read
/// no state, and identical control-free constants of different copies of
/// the step are one node after Grappler's common-subgraph elimination, so a
/// run of `K` steps executes each once, not `K` times.
pub(super) fn constant<T: tensorflow::TensorType, TT: Into<Tensor<T>>>(
    value: TT,
    scope: &mut Scope,
) -> std::result::Result<Operation, tensorflow::Status> {
    ops::constant(value, &mut scope.with_no_control_dependencies())
}

/// A named constant tensor of shape `dims` (see [`constant`]).
pub(super) fn const_tensor<T: tensorflow::TensorType>(
    scope: &mut Scope,
    name: &str,
    values: &[T],
    dims: &[u64],
) -> Result<Operation> {
    let t = Tensor::new(dims)
        .with_values(values)
        .map_err(tf_err(name))?;
    constant(t, &mut scope.with_op_name(name)).map_err(tf_err(name))
}

pub(super) fn const_f32(
    scope: &mut Scope,
    name: &str,
    values: &[f32],
    dims: &[u64],
) -> Result<Operation> {
    const_tensor(scope, name, values, dims)
}

pub(super) fn scalar_f32(scope: &mut Scope, name: &str, x: f32) -> Result<Operation> {
    constant(x, &mut scope.with_op_name(name)).map_err(tf_err(name))
}

pub(super) fn const_i32(
    scope: &mut Scope,
    name: &str,
    values: &[i32],
    dims: &[u64],
) -> Result<Operation> {
    const_tensor(scope, name, values, dims)
}

pub(super) fn shape(dims: &[u64]) -> Shape {
    Shape::from(Some(
        dims.iter().map(|&d| Some(d as i64)).collect::<Vec<_>>(),
    ))
}

/// A resource variable (its initialiser is among the init ops).
#[derive(Clone)]
pub(crate) struct Var {
    pub(super) handle: Operation,
    pub(super) dtype: DataType,
}

impl Var {
    /// A fresh read in `scope` (which carries the copy's control dependency).
    pub(super) fn read_in(&self, scope: &mut Scope, name: &str) -> Result<Operation> {
        ops::ReadVariableOp::new()
            .dtype(self.dtype)
            .build(self.handle.clone(), &mut scope.with_op_name(name))
            .map_err(tf_err(name))
    }
}

pub(super) fn variable(
    scope: &mut Scope,
    name: &str,
    dtype: DataType,
    dims: &[u64],
    init: Output,
    reg: &mut Registry,
) -> Result<Var> {
    // Resource variables with an empty shared_name would all share one
    // resource; give each its own.
    let shared = format!("snn_{}_{}", reg.vars.len(), name);
    let handle = ops::VarHandleOp::new()
        .dtype(dtype)
        .shared_name(shared)
        .shape(shape(dims))
        .build(&mut scope.with_op_name(name))
        .map_err(tf_err(name))?;
    let init_op = ops::AssignVariableOp::new()
        .dtype(dtype)
        .build(
            handle.clone(),
            init,
            &mut scope.with_op_name(&format!("{name}/init")),
        )
        .map_err(tf_err(name))?;
    reg.inits.push(init_op);
    let var = Var { handle, dtype };
    reg.vars.push((var.clone(), dims.to_vec()));
    Ok(var)
}

/// A variable initialised from a placeholder fed once (for large arrays);
/// `wrap` files the tensor among the init feeds.
#[allow(clippy::too_many_arguments)]
pub(super) fn fed_variable<T: tensorflow::TensorType>(
    scope: &mut Scope,
    name: &str,
    values: Vec<T>,
    dims: &[u64],
    wrap: fn(Operation, Tensor<T>) -> InitFeed,
    reg: &mut Registry,
    feeds: &mut Vec<InitFeed>,
) -> Result<Var> {
    let ph = ops::Placeholder::new()
        .dtype(T::data_type())
        .shape(shape(dims))
        .build(&mut scope.with_op_name(&format!("{name}/value")))
        .map_err(tf_err(name))?;
    let t = Tensor::new(dims)
        .with_values(&values)
        .map_err(tf_err(name))?;
    // The host copy goes before the next array is copied (a 10^8-synapse
    // network is then held about once, not twice, while it is built).
    let big = std::mem::size_of_val(&values[..]) >= 1 << 24;
    drop(values);
    if big {
        crate::runtime::return_freed_memory();
    }
    feeds.push(wrap(ph.clone(), t));
    variable(scope, name, T::data_type(), dims, ph.into(), reg)
}

/// A no-op that runs after all of `deps`.
pub(super) fn group(scope: &mut Scope, name: &str, deps: Vec<Operation>) -> Result<Operation> {
    deps.into_iter()
        .fold(ops::NoOp::new(), |op, dep| op.add_control_input(dep))
        .build(&mut scope.with_op_name(name))
        .map_err(tf_err(name))
}

/// `scope` with the control dependency of one copy of the step on the
/// previous copy's writes (`after`), or none: every op of a copy that reads
/// state is built in such a scope, so it reads what the previous copy left.
pub(super) fn after(scope: &Scope, after: Option<&Operation>) -> Scope {
    match after {
        Some(a) => scope.with_control_dependencies(std::slice::from_ref(a)),
        None => scope.with_control_dependencies(&[]),
    }
}

/// The shape of `o` as the graph knows it before running, if every
/// dimension is known (`[]` for a scalar).
pub(super) fn known_shape(s: &Scope, o: &Output) -> Option<Vec<i64>> {
    let shape: Shape = s.graph().tensor_shape(o.clone()).ok()?;
    (0..shape.dims()?).map(|k| shape[k]).collect()
}

/// `cond ? t : f` element-wise. Where the condition and both values have
/// one fully known shape (a scalar value is broadcast to it first: for a
/// constant, Grappler folds that into a constant vector), TensorFlow's
/// `Select`, whose same-shape kernel is a plain vectorised loop; otherwise
/// `SelectV2`, which broadcasts element by element (measured several times
/// slower on a 4000-neuron vector). The values chosen are the same.
pub(super) fn select(s: &mut Scope, cond: Output, t: Output, f: Output) -> Result<Output> {
    let e = tf_err("select");
    let (c, a, b) = (
        known_shape(s, &cond),
        known_shape(s, &t),
        known_shape(s, &f),
    );
    let Some(c) = c.filter(|c| !c.is_empty()) else {
        return Ok(ops::select_v2(cond, t, f, s).map_err(&e)?.into());
    };
    let fits = |x: &Option<Vec<i64>>| matches!(x, Some(x) if x == &c || x.is_empty());
    if !(fits(&a) && fits(&b)) {
        return Ok(ops::select_v2(cond, t, f, s).map_err(&e)?.into());
    }
    let dims: Vec<i32> = c.iter().map(|&d| d as i32).collect();
    let mut full = |x: Output, scalar: bool, what: &str| -> Result<Output> {
        if !scalar {
            return Ok(x);
        }
        let shape = const_tensor(s, &format!("{what}_shape"), &dims, &[dims.len() as u64])?;
        Ok(
            ops::broadcast_to(x, shape, &mut s.with_op_name(&format!("{what}_everywhere")))
                .map_err(tf_err("select"))?
                .into(),
        )
    };
    let t = full(t, a.is_some_and(|a| a.is_empty()), "then")?;
    let f = full(f, b.is_some_and(|b| b.is_empty()), "else")?;
    Ok(ops::select(cond, t, f, s).map_err(&e)?.into())
}

/// An `IdentityN` named `name` in `scope` (relative to its prefix) of
/// `inputs`, of the types `types`: the twin of a kernel of ours with
/// several outputs (docs/design.md, "Export without the kernel").
pub(super) fn identity_n(
    scope: &mut Scope,
    name: &str,
    inputs: &[Output],
    types: &[DataType],
) -> Result<Operation> {
    let name = scope.get_unique_name_for_op(name);
    let mut g = scope.graph_mut();
    let mut nd = g
        .new_operation("IdentityN", &name)
        .map_err(other_err("twin"))?;
    nd.add_input_list(inputs);
    nd.set_attr_type_list("T", types)
        .map_err(other_err("twin"))?;
    nd.finish().map_err(tf_err("twin"))
}

/// A node of one of snn's kernels (`op`, registered by `native`), named
/// `name` in `s` (made unique) and placed on `device`; `build` adds its
/// inputs and attributes. Returns the node and the name its twin of
/// TensorFlow's ops takes, relative to `s`'s prefix as `name` is
/// (`name/portable`, with the unique suffix; `name` holds no `/`), which
/// `Simulator::export` puts in the kernel's place.
pub(super) fn kernel_node(
    s: &mut Scope,
    op: &str,
    name: &str,
    device: Option<&str>,
    build: impl FnOnce(&mut tensorflow::OperationDescription<'_>) -> Result<()>,
) -> Result<(Operation, String)> {
    crate::network::native::register()?;
    let what = format!("snn's kernel {op}");
    let unique = s.get_unique_name_for_op(name);
    let node = {
        let mut g = s.graph_mut();
        let mut nd = g.new_operation(op, &unique).map_err(other_err(&what))?;
        build(&mut nd)?;
        if let Some(dev) = device {
            nd.set_device(dev).map_err(other_err(&what))?;
        }
        nd.finish().map_err(tf_err(&what))?
    };
    let own = unique
        .rsplit_once('/')
        .map_or(unique.as_str(), |(_, own)| own);
    Ok((node, crate::network::native::portable_name(own)))
}

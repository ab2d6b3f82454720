//! snn's own TensorFlow kernels, registered in this process through
//! TensorFlow's C kernel API (`tensorflow/c/kernels.h`, `ops.h`; the
//! tensorflow crate wraps neither): `SnnRowSums`, the sums of the rows of
//! compressed rows that a step's spikes select, and `SnnRowSumsAt`, the
//! same into one row per lag (docs/design.md, "Rows summed by snn's
//! kernel"); `SnnUniform(shape: int32, seed: int64 [2]) -> float`, the
//! floats of TensorFlow's `StatelessRandomUniform` for the same shape and
//! seed, with the Philox rounds vectorised ([`philox`]; docs/design.md,
//! "Uniform draws by snn's kernel"); `SnnIzhikevich`, the reset, update
//! and threshold of a population of Izhikevich nuclei in one pass
//! ([`izhikevich`]; docs/design.md, "The Izhikevich update by snn's
//! kernel"); `SnnBoxMullerIn` and `SnnBoxMullerOut`, the arithmetic of
//! the Box–Muller transform before and after TensorFlow's `Log` and `Cos`
//! ([`normal`]; docs/design.md, "Normal draws around TensorFlow's log and
//! cos").
//!
//! ```text
//! SnnRowSums(rows: int64 [k], indptr: int64 [pre + 1], cols: int32 [nnz],
//!            w: float [nnz]; post_n: int) -> sums: float [post_n]
//! sums[j] = Σ over rows r in the given order, over p in indptr[r]..indptr[r + 1]
//!           with cols[p] = j, of w[p], added one by one to 0
//! SnnRowSumsAt(rows: int64 [k], slots: int64 [k], indptr, cols, w;
//!              post_n: int, lags: int) -> sums: float [lags, post_n]
//! the same with the entries of rows[e] summed into row slots[e]
//! ```
//!
//! That is the order in which `UnsortedSegmentSum` adds the entries the
//! gathers of `compile::propagation::csr_sums` produce, so both give the
//! same bits; the kernel reads each synapse once (about 1 ns) where TensorFlow's
//! ops copy the columns and weights out first and then add value by value
//! through a tensor chip (about 5 ns). Every index is checked: a bad one
//! fails the step with `InvalidArgument` naming the op, nothing reads out of
//! bounds. Other TensorFlow runtimes do not know the op, so the compiler
//! builds TensorFlow's ops for the same sums beside each kernel (`name/portable`,
//! which no step runs) and [`Simulator::export`](crate::network::Simulator)
//! writes the graph with them in the kernel's place.

use std::ffi::{c_char, c_int, c_void, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::OnceLock;

use tensorflow_sys as tf;

use crate::error::{Error, Result};
use crate::network::tf_status::Status;

mod izhikevich;
mod normal;
mod philox;

/// The ops' type names in the graph.
pub(crate) const ROW_SUMS: &str = "SnnRowSums";
pub(crate) const ROW_SUMS_AT: &str = "SnnRowSumsAt";
/// `StatelessRandomUniform` (float) with the Philox rounds vectorised.
pub(crate) const UNIFORM: &str = "SnnUniform";
/// Steps 2-5 of the Izhikevich nuclei of one population ([`izhikevich`]).
pub(crate) const IZHIKEVICH: &str = "SnnIzhikevich";
/// The Box–Muller transform's arithmetic before and after TensorFlow's
/// `Log` and `Cos` ([`normal`]).
pub(crate) const BOX_MULLER_IN: &str = "SnnBoxMullerIn";
pub(crate) const BOX_MULLER_OUT: &str = "SnnBoxMullerOut";
/// Every op of ours, which other TensorFlow runtimes do not have.
pub(crate) const OPS: [&str; 6] = [
    ROW_SUMS,
    ROW_SUMS_AT,
    UNIFORM,
    IZHIKEVICH,
    BOX_MULLER_IN,
    BOX_MULLER_OUT,
];

/// The name of the twin of TensorFlow's ops the compiler builds beside the
/// op `name` of ours (for the row sums, `name` is the reshape of the
/// kernel's output), which `Simulator::export` puts in its place.
pub(crate) fn portable_name(name: &str) -> String {
    format!("{name}/portable")
}

#[repr(C)]
struct OpDefBuilder {
    _opaque: [u8; 0],
}
#[repr(C)]
struct KernelBuilder {
    _opaque: [u8; 0],
}
#[repr(C)]
struct Construction {
    _opaque: [u8; 0],
}
#[repr(C)]
struct Context {
    _opaque: [u8; 0],
}
#[repr(C)]
struct ShapeContext {
    _opaque: [u8; 0],
}

extern "C" {
    fn TF_NewOpDefinitionBuilder(op_name: *const c_char) -> *mut OpDefBuilder;
    fn TF_OpDefinitionBuilderAddInput(b: *mut OpDefBuilder, spec: *const c_char);
    fn TF_OpDefinitionBuilderAddOutput(b: *mut OpDefBuilder, spec: *const c_char);
    fn TF_OpDefinitionBuilderAddAttr(b: *mut OpDefBuilder, spec: *const c_char);
    fn TF_OpDefinitionBuilderSetShapeInferenceFunction(
        b: *mut OpDefBuilder,
        f: extern "C" fn(*mut ShapeContext, *mut tf::TF_Status),
    );
    fn TF_RegisterOpDefinition(b: *mut OpDefBuilder, status: *mut tf::TF_Status);
    fn TF_ShapeInferenceContextSetUnknownShape(c: *mut ShapeContext, status: *mut tf::TF_Status);
    fn TF_NewKernelBuilder(
        op_name: *const c_char,
        device: *const c_char,
        create: extern "C" fn(*mut Construction) -> *mut c_void,
        compute: extern "C" fn(*mut c_void, *mut Context),
        delete: extern "C" fn(*mut c_void),
    ) -> *mut KernelBuilder;
    fn TF_RegisterKernelBuilder(
        kernel_name: *const c_char,
        b: *mut KernelBuilder,
        status: *mut tf::TF_Status,
    );
    fn TF_OpKernelConstruction_GetAttrInt64(
        c: *mut Construction,
        name: *const c_char,
        value: *mut i64,
        status: *mut tf::TF_Status,
    );
    fn TF_NumInputs(c: *mut Context) -> c_int;
    fn TF_GetInput(c: *mut Context, i: c_int, t: *mut *mut tf::TF_Tensor, s: *mut tf::TF_Status);
    fn TF_AllocateOutput(
        c: *mut Context,
        index: c_int,
        dtype: tf::TF_DataType,
        dims: *const i64,
        num_dims: c_int,
        len: usize,
        status: *mut tf::TF_Status,
    ) -> *mut tf::TF_Tensor;
    fn TF_OpKernelContext_Failure(c: *mut Context, status: *mut tf::TF_Status);
}

/// Registers the ops and their CPU kernels once per process; later calls
/// return the first call's outcome.
pub(crate) fn register() -> Result<()> {
    static DONE: OnceLock<std::result::Result<(), String>> = OnceLock::new();
    let csr = ["indptr: int64", "cols: int32", "w: float"];
    DONE.get_or_init(|| {
        register_op(&OpSpec {
            name: ROW_SUMS,
            inputs: [&["rows: int64"][..], &csr].concat(),
            outputs: &["sums: float"],
            attrs: &["post_n: int >= 0"],
            kernel: (create_sums, compute, delete),
        })?;
        register_op(&OpSpec {
            name: ROW_SUMS_AT,
            inputs: [&["rows: int64", "slots: int64"][..], &csr].concat(),
            outputs: &["sums: float"],
            attrs: &["post_n: int >= 0", "lags: int >= 1"],
            kernel: (create_at, compute, delete),
        })?;
        // `SnnUniform(shape: int32, seed: int64) -> output: float`: the
        // floats `StatelessRandomUniform` gives for the same shape and
        // seed ([`philox::fill_uniform`]).
        register_op(&OpSpec {
            name: UNIFORM,
            inputs: vec!["shape: int32", "seed: int64"],
            outputs: &["output: float"],
            attrs: &[],
            kernel: (create_stateless, compute_uniform, delete_stateless),
        })?;
        register_op(&OpSpec {
            name: IZHIKEVICH,
            inputs: vec![
                "v: N * float",
                "u: N * float",
                "i: N * float",
                "dt: float",
                "a: float",
                "b: float",
                "c: float",
                "d: float",
            ],
            outputs: &[
                "v_new: N * float",
                "u_new: N * float",
                "fired: N * bool",
                "spikes: N * int64",
            ],
            attrs: &["N: int >= 1"],
            kernel: (izhikevich::create, izhikevich::compute, izhikevich::delete),
        })?;
        register_op(&OpSpec {
            name: BOX_MULLER_IN,
            inputs: vec!["shape: int32", "seed: int64"],
            outputs: &["open: float", "angles: float"],
            attrs: &[],
            kernel: (create_stateless, normal::compute_in, delete_stateless),
        })?;
        register_op(&OpSpec {
            name: BOX_MULLER_OUT,
            inputs: vec![
                "log: float",
                "unit: float",
                "scale: float",
                "mean: M * float",
            ],
            outputs: &["z: float"],
            attrs: &["M: int >= 0"],
            kernel: (create_stateless, normal::compute_out, delete_stateless),
        })
    })
    .clone()
    .map_err(|message| Error::TensorFlow {
        context: "registering snn's kernels".into(),
        message,
    })
}

/// An op of ours: its inputs, outputs and attributes in TensorFlow's
/// op-definition syntax, and its CPU kernel's create, compute and delete
/// functions.
struct OpSpec<'a> {
    name: &'a str,
    inputs: Vec<&'a str>,
    outputs: &'a [&'a str],
    attrs: &'a [&'a str],
    #[allow(clippy::type_complexity)]
    kernel: (
        extern "C" fn(*mut Construction) -> *mut c_void,
        extern "C" fn(*mut c_void, *mut Context),
        extern "C" fn(*mut c_void),
    ),
}

fn register_op(spec: &OpSpec<'_>) -> std::result::Result<(), String> {
    let c = |s: &str| CString::new(s).map_err(|e| e.to_string());
    let op = c(spec.name)?;
    let status = Status::new();
    unsafe {
        let b = TF_NewOpDefinitionBuilder(op.as_ptr());
        for input in &spec.inputs {
            TF_OpDefinitionBuilderAddInput(b, c(input)?.as_ptr());
        }
        for output in spec.outputs {
            TF_OpDefinitionBuilderAddOutput(b, c(output)?.as_ptr());
        }
        for attr in spec.attrs {
            TF_OpDefinitionBuilderAddAttr(b, c(attr)?.as_ptr());
        }
        TF_OpDefinitionBuilderSetShapeInferenceFunction(b, unknown_shape);
        // Takes `b` over.
        TF_RegisterOpDefinition(b, status.0);
    }
    if let Some(m) = status.message() {
        return Err(m);
    }
    let cpu = c("CPU")?;
    let kernel = c(&format!("{}_CPU", spec.name))?;
    let (create, compute, delete) = spec.kernel;
    unsafe {
        let b = TF_NewKernelBuilder(op.as_ptr(), cpu.as_ptr(), create, compute, delete);
        // Takes `b` over.
        TF_RegisterKernelBuilder(kernel.as_ptr(), b, status.0);
    }
    status.message().map_or(Ok(()), Err)
}

extern "C" fn create_stateless(_: *mut Construction) -> *mut c_void {
    std::ptr::null_mut()
}

extern "C" fn delete_stateless(_: *mut c_void) {}

extern "C" fn compute_uniform(_: *mut c_void, c: *mut Context) {
    // SAFETY: `c` is the context TensorFlow handed to the kernel.
    let outcome = catch_unwind(AssertUnwindSafe(|| unsafe { uniform(c) }));
    fail(c, "snn's uniform draws", outcome);
}

/// Fails the kernel's run with `outcome`'s error, if any.
fn fail(
    c: *mut Context,
    what: &str,
    outcome: std::thread::Result<std::result::Result<(), String>>,
) {
    let message = match outcome {
        Ok(Ok(())) => return,
        Ok(Err(m)) => m,
        Err(_) => "the kernel panicked".to_string(),
    };
    let status = Status::new();
    let msg = CString::new(format!("{what}: {message}"))
        .unwrap_or_else(|_| CString::from(c"snn's kernel: bad input"));
    unsafe {
        tf::TF_SetStatus(status.0, tf::TF_Code::TF_INVALID_ARGUMENT, msg.as_ptr());
        TF_OpKernelContext_Failure(c, status.0);
    }
}

/// # Safety
/// `c` is the context TensorFlow handed to [`compute_uniform`].
unsafe fn uniform(c: *mut Context) -> std::result::Result<(), String> {
    use tf::TF_DataType::{TF_FLOAT, TF_INT32, TF_INT64};
    let (shape, seed) = (input(c, 0)?, input(c, 1)?);
    let dims: Vec<i64> = shape
        .values::<i32>("shape", TF_INT32)?
        .iter()
        .map(|&d| i64::from(d))
        .collect();
    let seed = match seed.values::<i64>("seed", TF_INT64)? {
        &[s0, s1] => [s0, s1],
        other => return Err(format!("a seed of {} values, not 2", other.len())),
    };
    let mut n = 1usize;
    for &d in &dims {
        let d = usize::try_from(d).map_err(|_| format!("dimension {d} in the shape"))?;
        n = n.checked_mul(d).ok_or("too many values")?;
    }
    let out = output(c, 0, TF_FLOAT, &dims, n)?;
    philox::fill_uniform(seed, out.1);
    Ok(())
}

/// Output `index` of type `dtype` and shape `dims` (`n` values of `T`).
///
/// # Safety
/// `c` is a kernel's context; `T` is the Rust type of `dtype`.
unsafe fn output<'a, T>(
    c: *mut Context,
    index: c_int,
    dtype: tf::TF_DataType,
    dims: &[i64],
    n: usize,
) -> std::result::Result<(Held, &'a mut [T]), String> {
    let status = Status::new();
    let out = Held(TF_AllocateOutput(
        c,
        index,
        dtype,
        dims.as_ptr(),
        dims.len() as c_int,
        n * std::mem::size_of::<T>(),
        status.0,
    ));
    if let Some(m) = status.message() {
        return Err(m);
    }
    if out.0.is_null() {
        return Err("no output".into());
    }
    if n == 0 {
        return Ok((out, &mut []));
    }
    let data = tf::TF_TensorData(out.0).cast::<T>();
    if data.is_null() {
        return Err("no output buffer".into());
    }
    Ok((out, std::slice::from_raw_parts_mut(data, n)))
}

extern "C" fn unknown_shape(c: *mut ShapeContext, status: *mut tf::TF_Status) {
    unsafe { TF_ShapeInferenceContextSetUnknownShape(c, status) }
}

/// A kernel's attributes: `post_n`, and `lags` for `SnnRowSumsAt`.
#[derive(Clone, Copy)]
struct Shape {
    post_n: i64,
    lags: Option<i64>,
}

/// A kernel's state: its attributes, or why they could not be read.
type Attr = std::result::Result<Shape, String>;

fn attr_int(c: *mut Construction, name: &std::ffi::CStr) -> std::result::Result<i64, String> {
    let status = Status::new();
    let mut value = 0i64;
    unsafe { TF_OpKernelConstruction_GetAttrInt64(c, name.as_ptr(), &mut value, status.0) };
    status.message().map_or(Ok(value), Err)
}

extern "C" fn create_sums(c: *mut Construction) -> *mut c_void {
    let state: Attr = attr_int(c, c"post_n").map(|post_n| Shape { post_n, lags: None });
    Box::into_raw(Box::new(state)).cast()
}

extern "C" fn create_at(c: *mut Construction) -> *mut c_void {
    let state: Attr = attr_int(c, c"post_n").and_then(|post_n| {
        let lags = Some(attr_int(c, c"lags")?);
        Ok(Shape { post_n, lags })
    });
    Box::into_raw(Box::new(state)).cast()
}

extern "C" fn delete(state: *mut c_void) {
    if !state.is_null() {
        drop(unsafe { Box::from_raw(state.cast::<Attr>()) });
    }
}

extern "C" fn compute(state: *mut c_void, c: *mut Context) {
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: `state` is the box `create` made; TensorFlow keeps it
        // until `delete`.
        let attr = unsafe { &*state.cast::<Attr>() };
        let shape = attr.clone()?;
        unsafe { row_sums(c, shape) }
    }));
    fail(c, "snn's row sums", outcome);
}

/// An input or output tensor, deleted (the wrapper; TensorFlow keeps the
/// buffer) on drop.
struct Held(*mut tf::TF_Tensor);

impl Drop for Held {
    fn drop(&mut self) {
        if !self.0.is_null() {
            unsafe { tf::TF_DeleteTensor(self.0) }
        }
    }
}

impl Held {
    /// The value of a tensor of one float (a scalar).
    ///
    /// # Safety
    /// The tensor is live.
    unsafe fn float(&self, what: &str) -> std::result::Result<f32, String> {
        match self.elements::<f32>(what, tf::TF_DataType::TF_FLOAT)? {
            &[x] => Ok(x),
            _ => Err(format!("{what} is not one float")),
        }
    }

    /// The values of a 1-D tensor of type `dtype`.
    ///
    /// # Safety
    /// `T` must be the Rust type of `dtype`.
    unsafe fn values<T>(
        &self,
        what: &str,
        dtype: tf::TF_DataType,
    ) -> std::result::Result<&[T], String> {
        if tf::TF_NumDims(self.0) != 1 {
            return Err(format!("{what} is not a vector of the expected type"));
        }
        self.elements(what, dtype)
    }

    /// The values of a tensor of type `dtype` of any shape, row-major.
    ///
    /// # Safety
    /// `T` must be the Rust type of `dtype`.
    unsafe fn elements<T>(
        &self,
        what: &str,
        dtype: tf::TF_DataType,
    ) -> std::result::Result<&[T], String> {
        let t = self.0;
        if tf::TF_TensorType(t) != dtype {
            return Err(format!("{what} is not of the expected type"));
        }
        let n = usize::try_from(tf::TF_TensorElementCount(t)).map_err(|e| e.to_string())?;
        if n == 0 {
            return Ok(&[]);
        }
        let data = tf::TF_TensorData(t).cast::<T>();
        if data.is_null() || tf::TF_TensorByteSize(t) < n * std::mem::size_of::<T>() {
            return Err(format!("{what} has no data"));
        }
        Ok(std::slice::from_raw_parts(data, n))
    }
}

unsafe fn input(c: *mut Context, i: c_int) -> std::result::Result<Held, String> {
    let status = Status::new();
    let mut t = std::ptr::null_mut();
    TF_GetInput(c, i, &mut t, status.0);
    let held = Held(t);
    match status.message() {
        Some(m) => Err(m),
        None if t.is_null() => Err(format!("input {i} missing")),
        None => Ok(held),
    }
}

/// # Safety
/// `c` is the context TensorFlow handed to [`compute`].
unsafe fn row_sums(c: *mut Context, shape: Shape) -> std::result::Result<(), String> {
    use tf::TF_DataType::{TF_FLOAT, TF_INT32, TF_INT64};
    let at = i32::from(shape.lags.is_some());
    let (rows, indptr, cols, w) = (
        input(c, 0)?,
        input(c, 1 + at)?,
        input(c, 2 + at)?,
        input(c, 3 + at)?,
    );
    let slots = if at == 1 { Some(input(c, 1)?) } else { None };
    let rows = rows.values::<i64>("rows", TF_INT64)?;
    let slots = match &slots {
        Some(t) => Some(t.values::<i64>("slots", TF_INT64)?),
        None => None,
    };
    let indptr = indptr.values::<i64>("indptr", TF_INT64)?;
    let cols = cols.values::<i32>("cols", TF_INT32)?;
    let w = w.values::<f32>("w", TF_FLOAT)?;
    if cols.len() != w.len() {
        return Err(format!("{} columns for {} weights", cols.len(), w.len()));
    }
    if slots.is_some_and(|s| s.len() != rows.len()) {
        return Err(format!(
            "{} rows with {:?} slots",
            rows.len(),
            slots.map(<[i64]>::len)
        ));
    }
    let n = usize::try_from(shape.post_n).map_err(|e| e.to_string())?;
    let lags = usize::try_from(shape.lags.unwrap_or(1)).map_err(|e| e.to_string())?;
    let total = n.checked_mul(lags).ok_or("too many sums")?;
    let dims = [shape.lags.unwrap_or(1), shape.post_n];
    let dims = &dims[1 - at as usize..];
    let (_out, sums) = output::<f32>(c, 0, TF_FLOAT, dims, total)?;
    sums.fill(0.0);
    let pre_n = indptr.len().saturating_sub(1);
    for (e, &r) in rows.iter().enumerate() {
        let row = usize::try_from(r)
            .ok()
            .filter(|&r| r < pre_n)
            .ok_or_else(|| format!("row {r} outside 0..{pre_n}"))?;
        let (a, b) = (indptr[row], indptr[row + 1]);
        let range = usize::try_from(a)
            .ok()
            .zip(usize::try_from(b).ok())
            .filter(|&(a, b)| a <= b && b <= cols.len())
            .ok_or_else(|| format!("row {row} spans {a}..{b} of {} synapses", cols.len()))?;
        let lag = match slots {
            Some(s) => usize::try_from(s[e])
                .ok()
                .filter(|&l| l < lags)
                .ok_or_else(|| format!("slot {} outside 0..{lags}", s[e]))?,
            None => 0,
        };
        let into = &mut sums[lag * n..(lag + 1) * n];
        let (cs, ws) = (&cols[range.0..range.1], &w[range.0..range.1]);
        for (&col, &value) in cs.iter().zip(ws) {
            let slot = usize::try_from(col)
                .ok()
                .and_then(|j| into.get_mut(j))
                .ok_or_else(|| format!("column {col} outside 0..{n}"))?;
            *slot += value;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tensorflow::{Graph, Operation, Session, SessionOptions, SessionRunArgs, Tensor};

    fn constant<T: tensorflow::TensorType>(g: &mut Graph, name: &str, v: &[T]) -> Operation {
        let t = Tensor::new(&[v.len() as u64])
            .with_values(v)
            .expect("tensor");
        let mut nd = g.new_operation("Const", name).expect("const");
        nd.set_attr_tensor("value", t).expect("value");
        nd.set_attr_type("dtype", T::data_type()).expect("dtype");
        nd.finish().expect("finish")
    }

    /// Runs `op` (`SnnRowSums`, or `SnnRowSumsAt` with `slots`) on
    /// compressed rows of 3 neurons onto 4: the flat sums, or the error.
    fn run(
        rows: &[i64],
        slots: Option<&[i64]>,
        cols: &[i32],
    ) -> std::result::Result<Vec<f32>, String> {
        register().map_err(|e| e.to_string())?;
        let mut g = Graph::new();
        let rows = constant(&mut g, "rows", rows);
        let slots = slots.map(|s| constant(&mut g, "slots", s));
        // Row 0: columns 1, 3; row 1: none; row 2: columns 0, 1, 1.
        let indptr = constant(&mut g, "indptr", &[0i64, 2, 2, 5]);
        let cols = constant(&mut g, "cols", cols);
        let w = constant(&mut g, "w", &[0.5f32, 1.0, 2.0, 0.25, 4.0]);
        let op = if slots.is_some() {
            ROW_SUMS_AT
        } else {
            ROW_SUMS
        };
        let mut nd = g.new_operation(op, "sums").expect("op");
        nd.add_input(rows);
        if let Some(s) = slots {
            nd.add_input(s);
            nd.set_attr_int("lags", 2).expect("lags");
        }
        for t in [indptr, cols, w] {
            nd.add_input(t);
        }
        nd.set_attr_int("post_n", 4).expect("post_n");
        let sums = nd.finish().expect("finish");
        let session = Session::new(&SessionOptions::new(), &g).expect("session");
        let mut args = SessionRunArgs::new();
        let out = args.request_fetch(&sums, 0);
        session.run(&mut args).map_err(|e| e.to_string())?;
        let t: Tensor<f32> = args.fetch(out).map_err(|e| e.to_string())?;
        Ok(t.to_vec())
    }

    #[test]
    fn sums_the_asked_rows_in_order_and_by_slot() {
        let cols = [1, 3, 0, 1, 1];
        // Rows 2, 0, 2 again, 1 (empty): column 1 gets 0.25 + 4 + 0.5 +
        // 0.25 + 4, added in that order.
        let flat = run(&[2, 0, 2, 1], None, &cols).expect("sums");
        let col1 = (((0.25f32 + 4.0) + 0.5) + 0.25) + 4.0;
        assert_eq!(flat, vec![4.0, col1, 0.0, 1.0]);
        // The same events into lags 1, 0, 1, 0.
        let at = run(&[2, 0, 2, 1], Some(&[1, 0, 1, 0]), &cols).expect("sums");
        assert_eq!(at, vec![0.0, 0.5, 0.0, 1.0, 4.0, 8.5, 0.0, 0.0]);
    }

    #[test]
    fn bad_indices_fail_the_run_naming_them() {
        let cols = [1, 3, 0, 1, 1];
        for (rows, slots, cols, culprit) in [
            (&[3i64][..], None, &cols[..], "row 3 outside 0..3"),
            (&[-1], None, &cols, "row -1"),
            (&[2], None, &[1, 3, 0, 4, 1][..], "column 4 outside 0..4"),
            (&[0], Some(&[2i64][..]), &cols, "slot 2 outside 0..2"),
        ] {
            let err = run(rows, slots, cols).expect_err("a bad index");
            assert!(err.contains(culprit), "{err}");
        }
    }

    /// `SnnUniform` and TensorFlow's `StatelessRandomUniform` in one graph
    /// for the same shapes and seeds: the same floats, bit for bit (shapes
    /// not a multiple of 4 or of the kernel's blocks of 32; seeds of any
    /// sign and size).
    #[test]
    fn uniform_draws_are_tensorflows_bit_for_bit() {
        register().expect("register");
        let shapes: [&[i32]; 6] = [&[0], &[1], &[7], &[2, 33], &[1000], &[3, 5, 7]];
        let seeds = [
            [0i64, 0],
            [-1, 123_456_789_012],
            [i64::MIN, i64::MAX],
            [7, 3],
        ];
        for shape in shapes {
            for seed in seeds {
                let mut g = Graph::new();
                let dims = constant(&mut g, "dims", shape);
                let key = constant(&mut g, "key", &seed);
                let mut ops = Vec::new();
                for (name, op) in [("ours", UNIFORM), ("tf", "StatelessRandomUniform")] {
                    let mut nd = g.new_operation(op, name).expect("op");
                    nd.add_input(dims.clone());
                    nd.add_input(key.clone());
                    if op != UNIFORM {
                        nd.set_attr_type("dtype", tensorflow::DataType::Float)
                            .expect("dtype");
                    }
                    ops.push(nd.finish().expect("finish"));
                }
                let session = Session::new(&SessionOptions::new(), &g).expect("session");
                let mut args = SessionRunArgs::new();
                let outs: Vec<_> = ops.iter().map(|op| args.request_fetch(op, 0)).collect();
                session.run(&mut args).expect("run");
                let [ours, tf]: [Tensor<f32>; 2] =
                    [0, 1].map(|k| args.fetch(outs[k]).expect("fetch"));
                assert_eq!(ours.dims(), tf.dims(), "{shape:?}");
                let bits = |t: &Tensor<f32>| t.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(&ours), bits(&tf), "{shape:?} {seed:?}");
            }
        }
    }

    #[test]
    fn a_bad_seed_or_shape_fails_the_run_naming_it() {
        register().expect("register");
        for (dims, seed, culprit) in [
            (&[4i32][..], &[1i64, 2, 3][..], "a seed of 3 values"),
            (&[-2], &[1, 2], "dimension -2"),
        ] {
            let mut g = Graph::new();
            let dims = constant(&mut g, "dims", dims);
            let key = constant(&mut g, "key", seed);
            let mut nd = g.new_operation(UNIFORM, "ours").expect("op");
            nd.add_input(dims);
            nd.add_input(key);
            let op = nd.finish().expect("finish");
            let session = Session::new(&SessionOptions::new(), &g).expect("session");
            let mut args = SessionRunArgs::new();
            args.request_fetch(&op, 0);
            let err = session.run(&mut args).expect_err("a bad input").to_string();
            assert!(err.contains(culprit), "{err}");
        }
    }
}

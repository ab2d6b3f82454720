//! Native code for compiled [`Program`]s, through Cranelift (feature `jit`,
//! on by default).
//!
//! The stack programs of [`crate::single::expr`] are translated one to one:
//! the evaluation stack is followed at translation time, so every value
//! becomes an SSA register, every instruction the machine instruction (or
//! the call of the same Rust function) the interpreter would execute. The
//! results are therefore bit for bit those of [`Program::eval`] — the tests
//! check this — and only the dispatch is gone.
//!
//! A program is translated into one function `fn(slots, x, dx, noise) -> f64`
//! under a [`Layout`]: the slots of the state variables are read from `x`
//! and the derivative slots written to `dx`, so an integrator hands its
//! stage vectors over without copying them into and out of the slots.
//! When translation is not possible (an unsupported host, an unexpected
//! program shape), the caller keeps the interpreter: JIT compilation is an
//! optimisation, never a source of errors.

use std::collections::HashMap;
use std::ffi::c_void;
use std::sync::Arc;

use cranelift_codegen::ir::condcodes::FloatCC;
use cranelift_codegen::ir::{
    types, AbiParam, Block, FuncRef, InstBuilder, MemFlagsData, Signature, UserFuncName, Value,
};
use cranelift_codegen::settings::{self, Configurable};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};
use cranelift_jit::{JITBuilder, JITModule};
use cranelift_module::{default_libcall_names, FuncId, Linkage, Module};

use crate::single::expr::{python_mod, CmpOp, Func, Noise, Op, Program};
use crate::single::integrate::Tableau;

/// The signature of a translated program: the slots, the state `x`, the
/// derivatives `dx`, and a pointer to a `&mut dyn Noise` (read only by
/// `rand()`/`randn()`).
/// Whole steps (see [`NativeStep`]) take the step `dt` as a fifth argument;
/// single programs get it too and ignore it.
type RawFn = unsafe extern "C" fn(*mut f64, *const f64, *mut f64, *mut c_void, f64) -> f64;

/// Where a model keeps its state and derivatives among the slots: `n`
/// variables from slot `state`, their derivatives from slot `deriv`. Loads
/// of the former go to `x`, stores to the latter to `dx`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Layout {
    pub state: usize,
    pub deriv: usize,
    pub n: usize,
}

/// The executable memory of one batch of translated programs; freed when
/// the last [`NativeFn`] of the batch is dropped.
struct CodeMemory(Option<JITModule>);

// SAFETY: after `finalize_definitions` the module's code is immutable; the
// module is only touched again to free it, in `Drop`, when no `NativeFn`
// (and hence no caller) is left.
unsafe impl Send for CodeMemory {}
unsafe impl Sync for CodeMemory {}

impl Drop for CodeMemory {
    fn drop(&mut self) {
        if let Some(m) = self.0.take() {
            // SAFETY: every function pointer into this memory lives in a
            // `NativeFn` holding an `Arc` of this value; the last one is gone.
            unsafe { m.free_memory() };
        }
    }
}

/// A program as native code.
#[derive(Clone)]
pub(crate) struct NativeFn {
    f: RawFn,
    min_slots: usize,
    layout: Layout,
    _code: Arc<CodeMemory>,
}

impl std::fmt::Debug for NativeFn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NativeFn")
            .field("min_slots", &self.min_slots)
            .finish()
    }
}

impl NativeFn {
    /// Evaluate, as [`Program::eval`] would, state and derivatives in
    /// their slots.
    #[inline]
    pub(crate) fn call(&self, slots: &mut [f64], noise: &mut dyn Noise) -> f64 {
        let l = self.layout;
        if slots.len() < self.min_slots.max(l.state + l.n).max(l.deriv + l.n) {
            return f64::NAN;
        }
        let p = slots.as_mut_ptr();
        // SAFETY: the code reads and writes slots below `min_slots`, `x[..n]`
        // and `dx[..n]` only, all inside `slots` (checked above; raw pointers
        // into one buffer, no reference held meanwhile).
        unsafe { invoke(self.f, p, p.add(l.state), p.add(l.deriv), noise, 0.0) }
    }

    /// Evaluate with the state read from `x` and the derivatives written to
    /// `dx` instead of their slots (which keep their values).
    #[inline]
    pub(crate) fn call_with(
        &self,
        slots: &mut [f64],
        x: &[f64],
        dx: &mut [f64],
        noise: &mut dyn Noise,
    ) -> f64 {
        let n = self.layout.n;
        if slots.len() < self.min_slots || x.len() < n || dx.len() < n {
            return f64::NAN;
        }
        // SAFETY: as in `call`, with `x` and `dx` separate buffers of at
        // least `n` values (checked above).
        unsafe {
            invoke(
                self.f,
                slots.as_mut_ptr(),
                x.as_ptr(),
                dx.as_mut_ptr(),
                noise,
                0.0,
            )
        }
    }
}

/// Call translated code.
///
/// # Safety
/// `f` touches `slots`, `x` and `dx` within the sizes its caller checked;
/// `noise` is handed back only to `snn_rand`/`snn_randn`, which use it as the
/// `&mut dyn Noise` it is, within this call.
#[inline]
unsafe fn invoke(
    f: RawFn,
    slots: *mut f64,
    x: *const f64,
    dx: *mut f64,
    noise: &mut dyn Noise,
    dt: f64,
) -> f64 {
    let mut noise: &mut dyn Noise = noise;
    f(
        slots,
        x,
        dx,
        &mut noise as *mut &mut dyn Noise as *mut c_void,
        dt,
    )
}

extern "C" fn snn_rand(ctx: *mut c_void) -> f64 {
    // SAFETY: `ctx` is the `&mut &mut dyn Noise` of `NativeFn::call`.
    let noise = unsafe { &mut *(ctx as *mut &mut dyn Noise) };
    noise.uniform()
}

extern "C" fn snn_randn(ctx: *mut c_void) -> f64 {
    // SAFETY: as in `snn_rand`.
    let noise = unsafe { &mut *(ctx as *mut &mut dyn Noise) };
    noise.normal()
}

extern "C" fn snn_powi(x: f64, k: i32) -> f64 {
    x.powi(k)
}
extern "C" fn snn_pow(x: f64, y: f64) -> f64 {
    x.powf(y)
}
extern "C" fn snn_mod(x: f64, y: f64) -> f64 {
    python_mod(x, y)
}
extern "C" fn snn_min(x: f64, y: f64) -> f64 {
    x.min(y)
}
extern "C" fn snn_max(x: f64, y: f64) -> f64 {
    x.max(y)
}
extern "C" fn snn_heaviside(x: f64, y: f64) -> f64 {
    if x > 0.0 {
        1.0
    } else if x < 0.0 {
        0.0
    } else {
        y
    }
}

macro_rules! unary {
    ($($name:ident => $method:ident),* $(,)?) => {
        $(extern "C" fn $name(x: f64) -> f64 { x.$method() })*
    };
}
extern "C" fn snn_exprel(x: f64) -> f64 {
    super::expr::exprel(x)
}

unary!(
    snn_exp => exp, snn_ln => ln, snn_log10 => log10, snn_sin => sin, snn_cos => cos,
    snn_tan => tan, snn_tanh => tanh, snn_sinh => sinh, snn_cosh => cosh, snn_asin => asin,
    snn_acos => acos, snn_atan => atan,
);

/// The Rust functions the code calls: name, address, argument kinds.
#[derive(Clone, Copy)]
enum Args {
    F,
    FF,
    FI,
    Ctx,
}

fn externs() -> Vec<(&'static str, *const u8, Args)> {
    vec![
        ("snn_rand", snn_rand as *const u8, Args::Ctx),
        ("snn_randn", snn_randn as *const u8, Args::Ctx),
        ("snn_powi", snn_powi as *const u8, Args::FI),
        ("snn_pow", snn_pow as *const u8, Args::FF),
        ("snn_mod", snn_mod as *const u8, Args::FF),
        ("snn_min", snn_min as *const u8, Args::FF),
        ("snn_max", snn_max as *const u8, Args::FF),
        ("snn_heaviside", snn_heaviside as *const u8, Args::FF),
        ("snn_exp", snn_exp as *const u8, Args::F),
        ("snn_ln", snn_ln as *const u8, Args::F),
        ("snn_log10", snn_log10 as *const u8, Args::F),
        ("snn_sin", snn_sin as *const u8, Args::F),
        ("snn_cos", snn_cos as *const u8, Args::F),
        ("snn_tan", snn_tan as *const u8, Args::F),
        ("snn_tanh", snn_tanh as *const u8, Args::F),
        ("snn_sinh", snn_sinh as *const u8, Args::F),
        ("snn_cosh", snn_cosh as *const u8, Args::F),
        ("snn_asin", snn_asin as *const u8, Args::F),
        ("snn_acos", snn_acos as *const u8, Args::F),
        ("snn_atan", snn_atan as *const u8, Args::F),
        ("snn_exprel", snn_exprel as *const u8, Args::F),
    ]
}

/// Translate `programs` into native functions (one per program, in order),
/// or `None` when this host or one of the programs cannot be translated.
#[cfg(test)]
pub(crate) fn compile(programs: &[&Program], layout: Layout) -> Option<Vec<NativeFn>> {
    compile_with_step(programs, layout, None).map(|(fns, _)| fns)
}

/// [`compile`], and with `step = Some((i, tableau))` also one whole
/// integration step of the derivatives `programs[i]` (see [`NativeStep`]).
pub(crate) fn compile_with_step(
    programs: &[&Program],
    layout: Layout,
    step: Option<(usize, &Tableau)>,
) -> Option<(Vec<NativeFn>, Option<NativeStep>)> {
    if std::env::var_os("SNN_NO_JIT").is_some() {
        return None;
    }
    let mut flags = settings::builder();
    flags.set("opt_level", "speed").ok()?;
    flags.set("use_colocated_libcalls", "false").ok()?;
    flags.set("is_pic", "false").ok()?;
    // The verifier re-checks the IR we generate at every translation; the
    // tests compare native results with the interpreter's instead.
    flags.set("enable_verifier", "false").ok()?;
    let isa = cranelift_native::builder()
        .ok()?
        .finish(settings::Flags::new(flags))
        .ok()?;
    let mut jb = JITBuilder::with_isa(isa, default_libcall_names());
    let ext = externs();
    for (name, ptr, _) in &ext {
        jb.symbol(*name, *ptr);
    }
    let mut module = JITModule::new(jb);
    let ptr = module.target_config().pointer_type();

    let base = module.make_signature();
    let sig = |args: Args| -> Signature {
        let mut s = base.clone();
        match args {
            Args::F => s.params.push(AbiParam::new(types::F64)),
            Args::FF => {
                s.params.push(AbiParam::new(types::F64));
                s.params.push(AbiParam::new(types::F64));
            }
            Args::FI => {
                s.params.push(AbiParam::new(types::F64));
                s.params.push(AbiParam::new(types::I32));
            }
            Args::Ctx => s.params.push(AbiParam::new(ptr)),
        }
        s.returns.push(AbiParam::new(types::F64));
        s
    };
    let mut ext_ids = Vec::new();
    for (name, _, args) in &ext {
        let s = sig(*args);
        ext_ids.push((
            *name,
            module.declare_function(name, Linkage::Import, &s).ok()?,
        ));
    }
    let mut main_sig = module.make_signature();
    for _ in 0..4 {
        main_sig.params.push(AbiParam::new(ptr));
    }
    main_sig.params.push(AbiParam::new(types::F64));
    main_sig.returns.push(AbiParam::new(types::F64));

    let mut ctx = module.make_context();
    let mut fctx = FunctionBuilderContext::new();
    // Declare and define one function whose body `body` emits.
    let mut define = |module: &mut JITModule, name: &str, body: Body| -> Option<FuncId> {
        let id = module
            .declare_function(name, Linkage::Local, &main_sig)
            .ok()?;
        ctx.func.signature = main_sig.clone();
        ctx.func.name = UserFuncName::user(0, id.as_u32());
        {
            let mut b = FunctionBuilder::new(&mut ctx.func, &mut fctx);
            let mut refs = HashMap::new();
            for (name, fid) in &ext_ids {
                refs.insert(*name, module.declare_func_in_func(*fid, b.func));
            }
            body(&mut b, &refs)?;
            b.seal_all_blocks();
            b.finalize(module.target_config());
        }
        module.define_function(id, &mut ctx).ok()?;
        module.clear_context(&mut ctx);
        Some(id)
    };
    let mut ids = Vec::new();
    for (i, p) in programs.iter().enumerate() {
        let id = define(&mut module, &format!("program{i}"), &|b, refs| {
            translate(p, layout, b, refs)
        })?;
        ids.push((id, p.min_slots));
    }
    let mut step_id = None;
    if let Some((i, tab)) = step {
        let p = *programs.get(i)?;
        let id = define(&mut module, "step", &|b, refs| {
            translate_step(p, layout, tab, b, refs)
        })?;
        step_id = Some((id, p.min_slots));
    }
    module.finalize_definitions().ok()?;
    let finalized = |id: FuncId| -> RawFn {
        let code = module.get_finalized_function(id);
        // SAFETY: `code` is a function defined above with `main_sig`, the C
        // ABI signature of `RawFn`.
        unsafe { std::mem::transmute::<*const u8, RawFn>(code) }
    };
    let step_fn = step_id.map(|(id, min_slots)| (finalized(id), min_slots));
    let fns: Vec<(RawFn, usize)> = ids
        .iter()
        .map(|&(id, min_slots)| (finalized(id), min_slots))
        .collect();
    let memory = Arc::new(CodeMemory(Some(module)));
    let step = step_fn.map(|(f, min_slots)| NativeStep {
        f,
        min_slots,
        n: layout.n,
        _code: memory.clone(),
    });
    let fns = fns
        .into_iter()
        .map(|(f, min_slots)| NativeFn {
            f,
            min_slots,
            layout,
            _code: memory.clone(),
        })
        .collect();
    Some((fns, step))
}

/// One whole explicit Runge–Kutta step as native code: the tableau
/// unrolled, every stage's state and derivatives in registers, the
/// derivative program inlined at each stage. The same floating-point
/// operations in the same order as [`crate::single::integrate::step`] with
/// the interpreter, hence the same result bit for bit.
#[derive(Clone)]
pub(crate) struct NativeStep {
    f: RawFn,
    min_slots: usize,
    n: usize,
    _code: Arc<CodeMemory>,
}

impl std::fmt::Debug for NativeStep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NativeStep").field("n", &self.n).finish()
    }
}

impl NativeStep {
    /// One step from `(slots[0], x)` with step `dt` into `out`; the state
    /// and derivative slots are left alone. False (nothing done) when a
    /// length does not fit.
    #[inline]
    pub(crate) fn call(
        &self,
        slots: &mut [f64],
        x: &[f64],
        dt: f64,
        out: &mut [f64],
        noise: &mut dyn Noise,
    ) -> bool {
        if slots.len() < self.min_slots || x.len() < self.n || out.len() < self.n {
            return false;
        }
        // SAFETY: as in `NativeFn::call_with`: slots below `min_slots`,
        // `x[..n]` and `out[..n]` only (checked above).
        unsafe {
            invoke(
                self.f,
                slots.as_mut_ptr(),
                x.as_ptr(),
                out.as_mut_ptr(),
                noise,
                dt,
            );
        }
        true
    }
}

/// Start the entry block; its values are the function's arguments.
fn enter(b: &mut FunctionBuilder) -> Vec<Value> {
    let entry = b.create_block();
    b.append_block_params_for_function_params(entry);
    b.switch_to_block(entry);
    b.block_params(entry).to_vec()
}

/// Emits a function body, with the imported Rust functions at hand.
type Body<'a> = &'a dyn Fn(&mut FunctionBuilder, &HashMap<&str, FuncRef>) -> Option<()>;

/// The body of a [`NativeStep`] for derivatives `p` and tableau `tab`.
fn translate_step(
    p: &Program,
    layout: Layout,
    tab: &Tableau,
    b: &mut FunctionBuilder,
    refs: &HashMap<&str, FuncRef>,
) -> Option<()> {
    let params = enter(b);
    let (slots, x_ptr, out_ptr, noise, dt) =
        (params[0], params[1], params[2], params[3], params[4]);
    let flags = MemFlagsData::trusted();
    let n = layout.n;
    let off = |i: usize| i32::try_from(i.checked_mul(8)?).ok();
    let t = b.ins().load(types::F64, flags, slots, 0);
    let mut x = Vec::with_capacity(n);
    for i in 0..n {
        x.push(b.ins().load(types::F64, flags, x_ptr, off(i)?));
    }
    let mut env = Env {
        slots,
        noise,
        regs: HashMap::new(),
        ptrs: Vec::new(),
        capture: layout.deriv..layout.deriv + n,
        captured: HashMap::new(),
    };
    let mut ks: Vec<Vec<Value>> = Vec::new();
    for s in 0..tab.b.len() {
        let row = *tab.a.get(s)?;
        let state: Vec<Value> = if row.iter().all(|&a| a == 0.0) {
            x.clone()
        } else {
            (0..n)
                .map(|i| {
                    let mut v = x[i];
                    for (&a, k) in row.iter().zip(&ks) {
                        if a != 0.0 {
                            // v += dt * a * k[i]
                            let a = b.ins().f64const(a);
                            let da = b.ins().fmul(dt, a);
                            let term = b.ins().fmul(da, k[i]);
                            v = b.ins().fadd(v, term);
                        }
                    }
                    v
                })
                .collect()
        };
        // t + c[s] * dt
        let c = b.ins().f64const(*tab.c.get(s)?);
        let cdt = b.ins().fmul(c, dt);
        let ts = b.ins().fadd(t, cdt);
        env.regs.clear();
        env.regs.insert(0, ts);
        for (i, v) in state.iter().enumerate() {
            env.regs.insert(layout.state + i, *v);
        }
        env.captured.clear();
        emit(p, b, refs, &mut env)?;
        let k: Option<Vec<Value>> = (0..n)
            .map(|i| env.captured.get(&(layout.deriv + i)).copied())
            .collect();
        ks.push(k?);
    }
    for i in 0..n {
        // out = x + dt * b[s] * k_s, in the order of s
        let mut v = x[i];
        for (&w, k) in tab.b.iter().zip(&ks) {
            let w = b.ins().f64const(w);
            let dw = b.ins().fmul(dt, w);
            let term = b.ins().fmul(dw, k[i]);
            v = b.ins().fadd(v, term);
        }
        b.ins().store(flags, v, out_ptr, off(i)?);
    }
    let nan = b.ins().f64const(f64::NAN);
    b.ins().return_(&[nan]);
    Some(())
}

/// Emit the body of one program. `None` for a shape the translation does
/// not expect (the caller then keeps the interpreter).
/// Where a program's loads come from and its stores go.
struct Env {
    slots: Value,
    noise: Value,
    /// Slots whose value is held in a register (the stage's `t` and state
    /// in a whole step), read without a load.
    regs: HashMap<usize, Value>,
    /// Slot ranges that live behind another pointer: (first slot, count,
    /// base pointer).
    ptrs: Vec<(usize, usize, Value)>,
    /// Stores into these slots are kept as registers (the stage's
    /// derivatives in a whole step), not written.
    capture: std::ops::Range<usize>,
    captured: HashMap<usize, Value>,
}

impl Env {
    fn place(&self, s: usize) -> Option<(Value, i32)> {
        let (base, i) = self
            .ptrs
            .iter()
            .find(|&&(first, n, _)| (first..first + n).contains(&s))
            .map_or((self.slots, s), |&(first, _, base)| (base, s - first));
        Some((base, i32::try_from(i.checked_mul(8)?).ok()?))
    }
    fn load(&self, b: &mut FunctionBuilder, s: usize) -> Option<Value> {
        if let Some(&v) = self.regs.get(&s) {
            return Some(v);
        }
        let (base, off) = self.place(s)?;
        Some(b.ins().load(types::F64, MemFlagsData::trusted(), base, off))
    }
    fn store(&mut self, b: &mut FunctionBuilder, s: usize, v: Value) -> Option<()> {
        if self.capture.contains(&s) {
            self.captured.insert(s, v);
            return Some(());
        }
        let (base, off) = self.place(s)?;
        b.ins().store(MemFlagsData::trusted(), v, base, off);
        Some(())
    }
}

/// A whole function for one program: `fn(slots, x, dx, noise, dt) -> f64`.
fn translate(
    p: &Program,
    layout: Layout,
    b: &mut FunctionBuilder,
    refs: &HashMap<&str, FuncRef>,
) -> Option<()> {
    let params = enter(b);
    let mut env = Env {
        slots: params[0],
        noise: params[3],
        regs: HashMap::new(),
        ptrs: vec![
            (layout.state, layout.n, params[1]),
            (layout.deriv, layout.n, params[2]),
        ],
        capture: 0..0,
        captured: HashMap::new(),
    };
    let v = emit(p, b, refs, &mut env)?;
    b.ins().return_(&[v]);
    Some(())
}

/// Emit `p` into the current block (ending in a block that falls through),
/// returning the value the interpreter would return.
fn emit(
    p: &Program,
    b: &mut FunctionBuilder,
    refs: &HashMap<&str, FuncRef>,
    env: &mut Env,
) -> Option<Value> {
    let ops = &p.ops;
    // Blocks at jump targets: an `else` start (target of JumpIfZero, entered
    // with the stack as it was below the condition) or a join (target of
    // Jump, entered with one block parameter: the value of the branch).
    let mut else_at: HashMap<usize, Block> = HashMap::new();
    let mut join_at: HashMap<usize, Block> = HashMap::new();
    for op in ops {
        match *op {
            Op::JumpIfZero(t) => {
                else_at.entry(t).or_insert_with(|| b.create_block());
            }
            Op::Jump(t) => {
                join_at.entry(t).or_insert_with(|| {
                    let blk = b.create_block();
                    b.append_block_param(blk, types::F64);
                    blk
                });
            }
            _ => {}
        }
    }
    if else_at.keys().any(|t| join_at.contains_key(t)) {
        return None;
    }
    let noise = env.noise;
    let nan = b.ins().f64const(f64::NAN);
    // The interpreter's accumulator starts as NaN above an empty stack.
    let mut stack: Vec<Value> = vec![nan];
    // The stack below the value of each branch, saved at its JumpIfZero
    // (for the else block) and checked at the join.
    let mut saved: HashMap<usize, Vec<Value>> = HashMap::new();
    // Whether the current block still needs a terminator (false right after
    // an unconditional jump, until the next block starts).
    let mut open = true;

    let zero = b.ins().f64const(0.0);
    let one = b.ins().f64const(1.0);

    macro_rules! pop {
        () => {
            stack.pop()?
        };
    }
    macro_rules! top {
        () => {
            *stack.last()?
        };
    }
    let bool_to_f64 = |b: &mut FunctionBuilder, c: Value, zero: Value, one: Value| -> Value {
        b.ins().select(c, one, zero)
    };
    let cc = |op: CmpOp| match op {
        CmpOp::Lt => FloatCC::LessThan,
        CmpOp::Le => FloatCC::LessThanOrEqual,
        CmpOp::Gt => FloatCC::GreaterThan,
        CmpOp::Ge => FloatCC::GreaterThanOrEqual,
        CmpOp::Eq => FloatCC::Equal,
        CmpOp::Ne => FloatCC::NotEqual,
    };
    let call = |b: &mut FunctionBuilder, name: &str, args: &[Value]| -> Option<Value> {
        let f = *refs.get(name)?;
        let inst = b.ins().call(f, args);
        Some(b.inst_results(inst)[0])
    };

    for (pc, op) in ops.iter().enumerate() {
        if let Some(&blk) = join_at.get(&pc) {
            // Fall through from the else branch into the join.
            if open {
                let v = pop!();
                b.ins().jump(blk, &[v.into()]);
            }
            b.switch_to_block(blk);
            stack = saved.remove(&(usize::MAX - pc)).unwrap_or_default();
            if stack.is_empty() {
                return None;
            }
            stack.push(b.block_params(blk)[0]);
            open = true;
        }
        if let Some(&blk) = else_at.get(&pc) {
            if open {
                // Only reachable through the jump.
                return None;
            }
            b.switch_to_block(blk);
            stack = saved.get(&pc)?.clone();
            open = true;
        }
        if !open {
            return None;
        }
        let load = |b: &mut FunctionBuilder, s: usize| env.load(b, s);
        match *op {
            Op::Const(x) => {
                let v = b.ins().f64const(x);
                stack.push(v);
            }
            Op::Load(s) => {
                let v = load(b, s)?;
                stack.push(v);
            }
            Op::Add | Op::Sub | Op::Mul | Op::Div => {
                let y = pop!();
                let x = pop!();
                let v = match op {
                    Op::Add => b.ins().fadd(x, y),
                    Op::Sub => b.ins().fsub(x, y),
                    Op::Mul => b.ins().fmul(x, y),
                    _ => b.ins().fdiv(x, y),
                };
                stack.push(v);
            }
            Op::AddC(c) | Op::SubC(c) | Op::MulC(c) | Op::DivC(c) | Op::RSubC(c) | Op::RDivC(c) => {
                let x = pop!();
                let c = b.ins().f64const(c);
                let v = match op {
                    Op::AddC(_) => b.ins().fadd(x, c),
                    Op::SubC(_) => b.ins().fsub(x, c),
                    Op::MulC(_) => b.ins().fmul(x, c),
                    Op::DivC(_) => b.ins().fdiv(x, c),
                    Op::RSubC(_) => b.ins().fsub(c, x),
                    _ => b.ins().fdiv(c, x),
                };
                stack.push(v);
            }
            Op::AddL(s) | Op::SubL(s) | Op::MulL(s) | Op::DivL(s) => {
                let x = pop!();
                let y = load(b, s)?;
                let v = match op {
                    Op::AddL(_) => b.ins().fadd(x, y),
                    Op::SubL(_) => b.ins().fsub(x, y),
                    Op::MulL(_) => b.ins().fmul(x, y),
                    _ => b.ins().fdiv(x, y),
                };
                stack.push(v);
            }
            Op::AddLL(s, t) | Op::SubLL(s, t) | Op::MulLL(s, t) | Op::DivLL(s, t) => {
                let x = load(b, s)?;
                let y = load(b, t)?;
                let v = match op {
                    Op::AddLL(..) => b.ins().fadd(x, y),
                    Op::SubLL(..) => b.ins().fsub(x, y),
                    Op::MulLL(..) => b.ins().fmul(x, y),
                    _ => b.ins().fdiv(x, y),
                };
                stack.push(v);
            }
            Op::NegL(s) => {
                let x = load(b, s)?;
                let v = b.ins().fneg(x);
                stack.push(v);
            }
            Op::SquareL(s) => {
                let x = load(b, s)?;
                let v = b.ins().fmul(x, x);
                stack.push(v);
            }
            Op::CubeL(s) => {
                let x = load(b, s)?;
                let x2 = b.ins().fmul(x, x);
                let v = b.ins().fmul(x2, x);
                stack.push(v);
            }
            Op::Square => {
                let x = pop!();
                let v = b.ins().fmul(x, x);
                stack.push(v);
            }
            Op::Cube => {
                let x = pop!();
                let x2 = b.ins().fmul(x, x);
                let v = b.ins().fmul(x2, x);
                stack.push(v);
            }
            Op::PowI(4) => {
                let x = pop!();
                let x2 = b.ins().fmul(x, x);
                let v = b.ins().fmul(x2, x2);
                stack.push(v);
            }
            Op::PowI(k) => {
                let x = pop!();
                let k = b.ins().iconst(types::I32, i64::from(k));
                let v = call(b, "snn_powi", &[x, k])?;
                stack.push(v);
            }
            Op::Pow | Op::Mod => {
                let y = pop!();
                let x = pop!();
                let name = if *op == Op::Pow { "snn_pow" } else { "snn_mod" };
                let v = call(b, name, &[x, y])?;
                stack.push(v);
            }
            Op::And | Op::Or => {
                let y = pop!();
                let x = pop!();
                let truthy = b.ins().fcmp(FloatCC::NotEqual, x, zero);
                let v = if *op == Op::And {
                    b.ins().select(truthy, y, x)
                } else {
                    b.ins().select(truthy, x, y)
                };
                stack.push(v);
            }
            Op::Neg => {
                let x = pop!();
                let v = b.ins().fneg(x);
                stack.push(v);
            }
            Op::Not => {
                let x = pop!();
                let truthy = b.ins().fcmp(FloatCC::NotEqual, x, zero);
                let v = b.ins().select(truthy, zero, one);
                stack.push(v);
            }
            Op::Exp => {
                let x = pop!();
                let v = call(b, "snn_exp", &[x])?;
                stack.push(v);
            }
            Op::Cmp(c) => {
                let y = pop!();
                let x = pop!();
                let t = b.ins().fcmp(cc(c), x, y);
                let v = bool_to_f64(b, t, zero, one);
                stack.push(v);
            }
            Op::CmpKeep(c) => {
                // .. acc0 x y -> .. acc0' y
                let y = pop!();
                let x = pop!();
                let acc0 = pop!();
                let t = b.ins().fcmp(cc(c), x, y);
                let truthy = b.ins().fcmp(FloatCC::NotEqual, acc0, zero);
                let both = b.ins().band(t, truthy);
                let v = bool_to_f64(b, both, zero, one);
                stack.push(v);
                stack.push(y);
            }
            Op::AndBool => {
                let _last = pop!();
                let _ = top!();
            }
            Op::Call(f, argc) => {
                let (x, y) = match argc {
                    0 => (zero, zero),
                    1 => (pop!(), zero),
                    _ => {
                        let y = pop!();
                        (pop!(), y)
                    }
                };
                let v = match f {
                    Func::Sqrt => b.ins().sqrt(x),
                    Func::Abs => b.ins().fabs(x),
                    Func::Floor => b.ins().floor(x),
                    Func::Ceil => b.ins().ceil(x),
                    Func::Rand => call(b, "snn_rand", &[noise])?,
                    Func::Randn => call(b, "snn_randn", &[noise])?,
                    Func::Heaviside => {
                        let half = b.ins().f64const(0.5);
                        let y = if argc == 1 { half } else { y };
                        call(b, "snn_heaviside", &[x, y])?
                    }
                    Func::Min => call(b, "snn_min", &[x, y])?,
                    Func::Max => call(b, "snn_max", &[x, y])?,
                    Func::Pow => call(b, "snn_pow", &[x, y])?,
                    Func::Exp => call(b, "snn_exp", &[x])?,
                    Func::Log => call(b, "snn_ln", &[x])?,
                    Func::Log10 => call(b, "snn_log10", &[x])?,
                    Func::Sin => call(b, "snn_sin", &[x])?,
                    Func::Cos => call(b, "snn_cos", &[x])?,
                    Func::Tan => call(b, "snn_tan", &[x])?,
                    Func::Tanh => call(b, "snn_tanh", &[x])?,
                    Func::Sinh => call(b, "snn_sinh", &[x])?,
                    Func::Cosh => call(b, "snn_cosh", &[x])?,
                    Func::Asin => call(b, "snn_asin", &[x])?,
                    Func::Acos => call(b, "snn_acos", &[x])?,
                    Func::Atan => call(b, "snn_atan", &[x])?,
                    Func::Exprel => call(b, "snn_exprel", &[x])?,
                };
                stack.push(v);
            }
            Op::Store(s) => {
                let v = pop!();
                env.store(b, s, v)?;
            }
            Op::JumpIfZero(target) => {
                let cond = pop!();
                let truthy = b.ins().fcmp(FloatCC::NotEqual, cond, zero);
                let then_blk = b.create_block();
                let else_blk = *else_at.get(&target)?;
                b.ins().brif(truthy, then_blk, &[], else_blk, &[]);
                if saved.insert(target, stack.clone()).is_some() {
                    return None;
                }
                b.switch_to_block(then_blk);
            }
            Op::Jump(target) => {
                let v = pop!();
                let blk = *join_at.get(&target)?;
                b.ins().jump(blk, &[v.into()]);
                // The stack below the branch value, for the join (keyed
                // apart from the else starts).
                let key = usize::MAX - target;
                match saved.get(&key) {
                    Some(s) if *s != stack => return None,
                    Some(_) => {}
                    None => {
                        saved.insert(key, stack.clone());
                    }
                }
                open = false;
            }
        }
    }
    if let Some(&blk) = join_at.get(&ops.len()) {
        if open {
            let v = pop!();
            b.ins().jump(blk, &[v.into()]);
        }
        b.switch_to_block(blk);
        stack = saved.remove(&(usize::MAX - ops.len()))?;
        stack.push(b.block_params(blk)[0]);
        open = true;
    }
    if !open {
        return None;
    }
    Some(top!())
}

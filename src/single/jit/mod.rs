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

use cranelift_codegen::ir::{
    types, AbiParam, FuncRef, InstBuilder, MemFlagsData, Signature, UserFuncName, Value,
};
use cranelift_codegen::settings::{self, Configurable};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};
use cranelift_jit::{JITBuilder, JITModule};
use cranelift_module::{default_libcall_names, FuncId, Linkage, Module};

use crate::single::expr::{python_mod, Noise, Program};
use crate::single::integrate::Tableau;

mod emit;

use emit::{emit, translate, Env};

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

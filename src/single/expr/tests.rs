//! The expression language's unit tests (parser, folding, programs, evaluation).

use super::compile::*;
use super::program::*;
use super::*;
use crate::error::Error;

#[test]
fn min_slots_covers_every_slot_reading_instruction() {
    assert_eq!(min_slots(&[]), 0);
    assert_eq!(min_slots(&[Op::Const(1.0), Op::Add]), 0);
    assert_eq!(min_slots(&[Op::AddLL(2, 7), Op::SquareL(3)]), 8);
    assert_eq!(min_slots(&[Op::NegL(5), Op::Load(1)]), 6);
    assert_eq!(min_slots(&[Op::CubeL(9), Op::Store(4)]), 10);
    assert_eq!(min_slots(&[Op::DivLL(11, 0)]), 12);
}

fn sx(s: &str) -> String {
    match parse(s) {
        Ok(e) => e.to_string(),
        Err(e) => format!("error: {e}"),
    }
}

/// `exprel` as Brian2's: 1 at 0, `expm1(x)/x` elsewhere, accurate near 0
/// (where `(exp(x) - 1)/x` loses every digit).
#[test]
fn exprel_is_accurate_near_zero() {
    assert_eq!(exprel(0.0), 1.0);
    assert!((exprel(1e-12) - (1.0 + 5e-13)).abs() < 1e-15);
    assert!((exprel(1.0) - (std::f64::consts::E - 1.0)).abs() < 1e-15);
    assert!((exprel(-20.0) - (1.0 - (-20.0f64).exp()) / 20.0).abs() < 1e-15);
}

/// NumPy's `clip(x, lo, hi)`, written as `min(max(x, lo), hi)`.
#[test]
fn clip_is_min_of_max() {
    assert_eq!(sx("clip(w + a, 0, g)"), sx("min(max(w + a, 0), g)"));
    assert!(sx("clip(w, 1)").contains("clip takes 3 arguments"));
}

#[test]
fn precedence_and_associativity() {
    assert_eq!(sx("-v**2"), "(- (** v 2))");
    assert_eq!(sx("2**3**2"), "(** 2 (** 3 2))");
    assert_eq!(sx("2**-1"), "(** 2 (- 1))");
    assert_eq!(sx("1 + 2 * 3"), "(+ 1 (* 2 3))");
    assert_eq!(sx("a - b - c"), "(- (- a b) c)");
    assert_eq!(sx("a / b * c % d"), "(% (* (/ a b) c) d)");
    assert_eq!(sx("a if b else c if d else e"), "(if b a (if d c e))");
    assert_eq!(sx("(a if b else c) if d else e"), "(if d (if b a c) e)");
    assert_eq!(sx("not a and b or c"), "(or (and (not a) b) c)");
    assert_eq!(sx("a < b <= c"), "(chain a < b <= c)");
    assert_eq!(sx("-x + y >= 0 and z"), "(and (>= (+ (- x) y) 0) z)");
    assert_eq!(
        sx("max(a, b) + exp(-t/10)"),
        "(+ (max a b) (exp (/ (- t) 10)))"
    );
}

#[test]
fn seed_strings_parse() {
    assert_eq!(
        sx("v -(1/3)* v **3 - w + I"),
        "(+ (- (- v (* (/ 1 3) (** v 3))) w) I)"
    );
    assert_eq!(
        sx("(1/ tau )*( v +a - b * w )"),
        "(* (/ 1 tau) (- (+ v a) (* b w)))"
    );
    assert_eq!(sx(".5 if t <500 else 0"), "(if (< t 500) 0.5 0)");
    assert_eq!(
        sx("0.01*(-V-55)/(exp((-V-55)/10) -1)"),
        "(/ (* 0.01 (- (- V) 55)) (- (exp (/ (- (- V) 55) 10)) 1))"
    );
    assert_eq!(sx("V>=30"), "(>= V 30)");
    assert_eq!(sx("u+d"), "(+ u d)");
    assert_eq!(sx("1e-3 * 2.5E+2"), "(* 0.001 250)");
}

#[test]
fn syntax_errors_point_at_the_culprit() {
    let e = parse("v + * 2").unwrap_err();
    match &e {
        Error::Syntax { pos, .. } => assert_eq!(*pos, 4),
        other => panic!("{other:?}"),
    }
    let text = e.to_string();
    assert!(text.contains("v + * 2\n    ^"), "{text}");
    assert!(matches!(parse("(a + b"), Err(Error::Syntax { pos: 6, .. })));
    assert!(matches!(parse("a if b"), Err(Error::Syntax { .. })));
    assert!(matches!(parse("a $ b"), Err(Error::Syntax { pos: 2, .. })));
    assert!(matches!(parse(""), Err(Error::Syntax { pos: 0, .. })));
}

struct Fixed;
impl Noise for Fixed {
    fn uniform(&mut self) -> f64 {
        0.25
    }
    fn normal(&mut self) -> f64 {
        -1.0
    }
}

fn eval(src: &str, vars: &[(&str, f64)]) -> f64 {
    let names: Vec<String> = vars.iter().map(|v| v.0.to_string()).collect();
    let slots: Vec<f64> = vars.iter().map(|v| v.1).collect();
    let e = parse(src).unwrap();
    let p = compile(&e, src, &|n| names.iter().position(|k| k == n), &names).unwrap();
    let mut stack = vec![0.0; p.max_stack];
    let mut slots = slots;
    p.eval(&mut slots, &mut stack, &mut Fixed)
}

#[test]
fn evaluation_follows_python() {
    assert_eq!(eval("-2**2", &[]), -4.0);
    assert_eq!(eval("2**3**2", &[]), 512.0);
    assert_eq!(eval("-7 % 3", &[]), 2.0);
    assert_eq!(eval("7 % -3", &[]), -2.0);
    assert_eq!(eval(".5 if t < 500 else 0", &[("t", 499.0)]), 0.5);
    assert_eq!(eval(".5 if t < 500 else 0", &[("t", 500.0)]), 0.0);
    assert_eq!(eval("1 < x < 3", &[("x", 2.0)]), 1.0);
    assert_eq!(eval("1 < x < 3", &[("x", 3.0)]), 0.0);
    assert_eq!(eval("3 > x > 1 > 0", &[("x", 2.0)]), 1.0);
    assert_eq!(eval("2 and 3", &[]), 3.0);
    assert_eq!(eval("0 or 5", &[]), 5.0);
    assert_eq!(eval("not 0", &[]), 1.0);
    assert_eq!(eval("(x >= 1) * 10", &[("x", 1.0)]), 10.0);
    assert_eq!(eval("max(1, 2) + min(1, 2) + pow(2, 3)", &[]), 11.0);
    assert_eq!(
        eval("heaviside(0) + heaviside(-1) + heaviside(2)", &[]),
        1.5
    );
    assert_eq!(eval("rand() + randn()", &[]), -0.75);
    assert!((eval("pi - arccos(-1)", &[]) - 0.0).abs() < 1e-15);
    assert!((eval("log(e)", &[]) - 1.0).abs() < 1e-15);
    // A user's own `e` wins over the constant.
    assert_eq!(eval("e", &[("e", 3.0)]), 3.0);
    let nested = "(1 if a > 0 else 2) + (3 if b > 0 else (4 if c > 0 else 5))";
    assert_eq!(eval(nested, &[("a", 1.0), ("b", -1.0), ("c", -1.0)]), 6.0);
}

#[test]
fn unknown_names_and_arity() {
    let names = vec!["tau".to_string(), "v".to_string()];
    let e = parse("1/tua").unwrap();
    let err = compile(&e, "1/tua", &|n| names.iter().position(|k| k == n), &names).unwrap_err();
    match err {
        Error::UnknownName {
            name,
            suggestion,
            known,
            ..
        } => {
            assert_eq!(name, "tua");
            assert_eq!(suggestion.as_deref(), Some("tau"));
            assert!(known.contains(&"v".to_string()));
        }
        other => panic!("{other:?}"),
    }
    let e = parse("exp(1, 2)").unwrap();
    let err = compile(&e, "exp(1, 2)", &|_| None, &[]).unwrap_err();
    assert!(
        matches!(err, Error::Arity { ref function, got: 2, .. } if function == "exp"),
        "{err}"
    );
    let e = parse("expp(1)").unwrap();
    let err = compile(&e, "expp(1)", &|_| None, &[]).unwrap_err();
    assert!(
        matches!(err, Error::UnknownName { ref suggestion, .. } if suggestion.as_deref() == Some("exp()")),
        "{err}"
    );
}

/// Walks the tree directly: the reference for the compiled programs.
fn walk(e: &Expr, vars: &[(&str, f64)]) -> f64 {
    let b = |x: bool| if x { 1.0 } else { 0.0 };
    match e {
        Expr::Num(x) => *x,
        Expr::Name(n) => vars
            .iter()
            .find(|v| v.0 == n)
            .map(|v| v.1)
            .unwrap_or(f64::NAN),
        Expr::Neg(x) => -walk(x, vars),
        Expr::Not(x) => b(walk(x, vars) == 0.0),
        Expr::Bin(op, x, y) => {
            let (x, y) = (walk(x, vars), walk(y, vars));
            match op {
                BinOp::Add => x + y,
                BinOp::Sub => x - y,
                BinOp::Mul => x * y,
                BinOp::Div => x / y,
                BinOp::Mod => python_mod(x, y),
                BinOp::Pow => x.powf(y),
                BinOp::And => {
                    if x != 0.0 {
                        y
                    } else {
                        x
                    }
                }
                BinOp::Or => {
                    if x != 0.0 {
                        x
                    } else {
                        y
                    }
                }
            }
        }
        Expr::Compare(first, rest) => {
            let mut a = walk(first, vars);
            for (op, x) in rest {
                let c = walk(x, vars);
                if !op.apply(a, c) {
                    return 0.0;
                }
                a = c;
            }
            1.0
        }
        Expr::If {
            cond,
            then,
            otherwise,
        } => {
            if walk(cond, vars) != 0.0 {
                walk(then, vars)
            } else {
                walk(otherwise, vars)
            }
        }
        Expr::Call(f, args) => {
            let a: Vec<f64> = args.iter().map(|x| walk(x, vars)).collect();
            match f.as_str() {
                "exp" => a[0].exp(),
                "max" => a[0].max(a[1]),
                "abs" => a[0].abs(),
                _ => f64::NAN,
            }
        }
    }
}

/// Random expressions in infix form: the compiled program (with its
/// fused instructions, register-held top of stack and unchecked
/// indexing) agrees with walking the parsed tree.
#[test]
fn compiled_programs_agree_with_the_tree() {
    let vars = [("v", -1.25), ("w", 0.5), ("a", 3.0), ("b", 0.0)];
    let mut state = 99u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    fn gen(depth: u32, next: &mut dyn FnMut() -> u64) -> String {
        let atoms = ["v", "w", "a", "b", "2", "0.5", "3", "1e-2"];
        if depth == 0 || next().is_multiple_of(4) {
            return atoms[(next() % atoms.len() as u64) as usize].to_string();
        }
        let x = gen(depth - 1, next);
        let y = gen(depth - 1, next);
        match next() % 14 {
            0 => format!("({x} + {y})"),
            1 => format!("({x} - {y})"),
            2 => format!("({x} * {y})"),
            3 => format!("({x} / {y})"),
            4 => format!("({x})**2"),
            5 => format!("({x})**3"),
            6 => format!("(-{x})"),
            7 => format!("({x} if {y} > 0 else {x} - {y})"),
            8 => format!("({x} < {y} <= 2)"),
            9 => format!("({x} and {y})"),
            10 => format!("(not {x} or {y})"),
            11 => format!("exp({x} / 10)"),
            12 => format!("max({x}, {y})"),
            _ => format!("({x} % 3)"),
        }
    }
    let names: Vec<String> = vars.iter().map(|v| v.0.to_string()).collect();
    let mut compiled = Vec::new();
    for _ in 0..3000 {
        let src = gen(5, &mut next);
        let e = parse(&src).unwrap();
        let p = compile(&e, &src, &|n| names.iter().position(|k| k == n), &names).unwrap();
        let mut slots: Vec<f64> = vars.iter().map(|v| v.1).collect();
        let mut stack = vec![0.0; p.max_stack];
        let got = p.eval(&mut slots, &mut stack, &mut Fixed);
        let want = walk(&e, &vars);
        assert!(
            got == want
                || (got.is_nan() && want.is_nan())
                || (got - want).abs() <= 1e-12 * want.abs(),
            "{src}: {got} vs {want}"
        );
        compiled.push((src, p, got));
    }
    // Native code (feature `jit`) gives the interpreter's results bit for
    // bit, one program at a time and fused into one (every value stored
    // into a slot of its own, jumps relocated).
    // The layout makes `w` (slot 1) come from `x` and every value stored
    // to slot 6 go to `dx`.
    #[cfg(feature = "jit")]
    let layout = crate::single::jit::Layout {
        state: 1,
        deriv: vars.len() + 2,
        n: 1,
    };
    #[cfg(feature = "jit")]
    for chunk in compiled.chunks(200) {
        let programs: Vec<&Program> = chunk.iter().map(|c| &c.1).collect();
        let native = crate::single::jit::compile(&programs, layout).expect("jit");
        for ((src, _, want), f) in chunk.iter().zip(&native) {
            let mut slots: Vec<f64> = vars.iter().map(|v| v.1).collect();
            slots.resize(layout.deriv + 1, 0.0);
            let got = f.call(&mut slots, &mut Fixed);
            assert!(
                got.to_bits() == want.to_bits() || (got.is_nan() && want.is_nan()),
                "native {src}: {got} vs {want}"
            );
            // `w` read from `x`, not from its (spoilt) slot.
            slots[1] = f64::NAN;
            let got = f.call_with(&mut slots, &[vars[1].1], &mut [0.0], &mut Fixed);
            assert!(
                got.to_bits() == want.to_bits() || (got.is_nan() && want.is_nan()),
                "native, state from x: {src}: {got} vs {want}"
            );
        }
        let mut fused = Program::empty();
        for (i, c) in chunk.iter().enumerate() {
            fused.append_store(&c.1, vars.len() + i);
        }
        let native = crate::single::jit::compile(&[&fused], layout).expect("jit");
        let mut slots: Vec<f64> = vars.iter().map(|v| v.1).collect();
        slots.resize(vars.len() + chunk.len(), f64::INFINITY);
        let mut interp = slots.clone();
        let mut direct = slots.clone();
        native[0].call(&mut direct, &mut Fixed);
        let mut dx = [f64::NAN];
        native[0].call_with(&mut slots, &[vars[1].1], &mut dx, &mut Fixed);
        fused.eval(&mut interp, &mut vec![0.0; fused.max_stack], &mut Fixed);
        assert_eq!(
            direct.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
            interp.iter().map(|x| x.to_bits()).collect::<Vec<_>>()
        );
        // Through `call_with`, slot 6 keeps its value and `dx` has it.
        assert!(
            dx[0].to_bits() == interp[layout.deriv].to_bits()
                || (dx[0].is_nan() && interp[layout.deriv].is_nan())
        );
        slots[layout.deriv] = interp[layout.deriv];
        for (i, (a, b)) in slots.iter().zip(&interp).enumerate() {
            assert!(
                a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan()),
                "fused slot {i}: {a} vs {b}"
            );
        }
    }
}

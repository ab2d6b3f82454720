//! Explicit Runge–Kutta integrators as data (Butcher tableaux), stepping the
//! whole system as one vector.

/// Integration method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Method {
    /// Forward Euler (first order).
    Euler,
    /// The classic fourth-order Runge–Kutta method.
    #[default]
    Rk4,
}

/// An explicit Butcher tableau: `a` (lower triangular, row `i` has `i`
/// entries), weights `b`, nodes `c`.
#[derive(Debug, Clone, Copy)]
pub struct Tableau {
    /// Stage coefficients.
    pub a: &'static [&'static [f64]],
    /// Weights.
    pub b: &'static [f64],
    /// Nodes.
    pub c: &'static [f64],
}

/// Forward Euler.
pub const EULER: Tableau = Tableau {
    a: &[&[]],
    b: &[1.0],
    c: &[0.0],
};

/// Classic RK4.
pub const RK4: Tableau = Tableau {
    a: &[&[], &[0.5], &[0.0, 0.5], &[0.0, 0.0, 1.0]],
    b: &[1.0 / 6.0, 1.0 / 3.0, 1.0 / 3.0, 1.0 / 6.0],
    c: &[0.0, 0.5, 0.5, 1.0],
};

impl Method {
    /// Its tableau.
    pub fn tableau(self) -> &'static Tableau {
        match self {
            Method::Euler => &EULER,
            Method::Rk4 => &RK4,
        }
    }
}

/// Scratch space for [`step`]: allocated once per simulation.
#[derive(Debug, Clone)]
pub struct Workspace {
    k: Vec<Vec<f64>>,
    tmp: Vec<f64>,
}

impl Workspace {
    /// For `n` variables and up to `stages` stages.
    pub fn new(n: usize, stages: usize) -> Self {
        Workspace {
            k: vec![vec![0.0; n]; stages],
            tmp: vec![0.0; n],
        }
    }
}

/// `dst = src` for the short vectors of a model's state. A plain
/// `copy_from_slice` of an unknown small length becomes a call to `memmove`,
/// which cost a quarter of a FitzHugh–Nagumo step; lengths up to 8 are
/// copied inline here.
#[inline]
pub(crate) fn copy_small(dst: &mut [f64], src: &[f64]) {
    #[inline(always)]
    fn fixed<const N: usize>(dst: &mut [f64], src: &[f64]) {
        if let (Some(d), Some(s)) = (dst.get_mut(..N), src.get(..N)) {
            let a: [f64; N] = std::array::from_fn(|i| s[i]);
            d.copy_from_slice(&a);
        }
    }
    if dst.len() != src.len() {
        return dst.copy_from_slice(src);
    }
    match dst.len() {
        0 => {}
        1 => fixed::<1>(dst, src),
        2 => fixed::<2>(dst, src),
        3 => fixed::<3>(dst, src),
        4 => fixed::<4>(dst, src),
        5 => fixed::<5>(dst, src),
        6 => fixed::<6>(dst, src),
        7 => fixed::<7>(dst, src),
        8 => fixed::<8>(dst, src),
        _ => dst.copy_from_slice(src),
    }
}

/// A right-hand side `f(t, x, dxdt)`: writes the derivative at `(t, x)`.
pub type Derivative<'a> = dyn FnMut(f64, &[f64], &mut [f64]) + 'a;

/// One step of `dx/dt = f(t, x)` from `(t, x)` into `out`, with
/// `f(t, x, dxdt)` writing the derivative. Allocates nothing.
///
/// Stage `s` evaluates `f` at `x + dt·Σ_j a[s][j]·k_j`, summed in the order
/// of `j`; `out = x + dt·Σ_s b[s]·k_s`, in the order of `s`.
pub fn step(
    tab: &Tableau,
    f: &mut Derivative,
    t: f64,
    x: &[f64],
    dt: f64,
    ws: &mut Workspace,
    out: &mut [f64],
) {
    let stages = tab.b.len();
    for s in 0..stages {
        let (before, rest) = ws.k.split_at_mut(s);
        let row = tab.a[s];
        if row.iter().all(|&a| a == 0.0) {
            // The stage is at x itself: no copy.
            f(t + tab.c[s] * dt, x, &mut rest[0]);
            continue;
        }
        for (i, y) in ws.tmp.iter_mut().enumerate() {
            let mut v = x[i];
            for (&a, k) in row.iter().zip(before.iter()) {
                if a != 0.0 {
                    v += dt * a * k[i];
                }
            }
            *y = v;
        }
        f(t + tab.c[s] * dt, &ws.tmp, &mut rest[0]);
    }
    for (i, y) in out.iter_mut().enumerate() {
        let mut v = x[i];
        for (&b, k) in tab.b.iter().zip(ws.k.iter()) {
            v += dt * b * k[i];
        }
        *y = v;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn solve(method: Method, dt: f64, t_end: f64, x0: &[f64], f: &mut Derivative) -> Vec<f64> {
        let tab = method.tableau();
        let mut ws = Workspace::new(x0.len(), tab.b.len());
        let mut x = x0.to_vec();
        let mut out = x.clone();
        let steps = (t_end / dt).round() as usize;
        for m in 0..steps {
            step(tab, f, m as f64 * dt, &x, dt, &mut ws, &mut out);
            x.copy_from_slice(&out);
        }
        x
    }

    /// x' = -x: x(1) = e^-1. Global error ratios when dt halves: ~2 (Euler),
    /// ~16 (RK4).
    #[test]
    fn exponential_decay_converges_at_the_right_order() {
        let exact = (-1.0f64).exp();
        let err = |m: Method, dt: f64| {
            (solve(m, dt, 1.0, &[1.0], &mut |_, x, d| d[0] = -x[0])[0] - exact).abs()
        };
        let r_euler = err(Method::Euler, 0.01) / err(Method::Euler, 0.005);
        let r_rk4 = err(Method::Rk4, 0.1) / err(Method::Rk4, 0.05);
        assert!((1.9..2.1).contains(&r_euler), "Euler ratio {r_euler}");
        assert!((15.0..17.0).contains(&r_rk4), "RK4 ratio {r_rk4}");
        assert!(err(Method::Rk4, 0.01) < 1e-10);
    }

    /// Harmonic oscillator x'' = -x from (1, 0): (cos t, -sin t) at t = 2π.
    #[test]
    fn harmonic_oscillator() {
        let mut f = |_: f64, x: &[f64], d: &mut [f64]| {
            d[0] = x[1];
            d[1] = -x[0];
        };
        let t = 2.0 * std::f64::consts::PI;
        let x = solve(Method::Rk4, t / 1000.0, t, &[1.0, 0.0], &mut f);
        assert!((x[0] - 1.0).abs() < 1e-10 && x[1].abs() < 1e-10, "{x:?}");
        let e1 = {
            let x = solve(Method::Rk4, t / 200.0, t, &[1.0, 0.0], &mut f);
            ((x[0] - 1.0).powi(2) + x[1].powi(2)).sqrt()
        };
        let e2 = {
            let x = solve(Method::Rk4, t / 400.0, t, &[1.0, 0.0], &mut f);
            ((x[0] - 1.0).powi(2) + x[1].powi(2)).sqrt()
        };
        assert!((15.0..17.0).contains(&(e1 / e2)), "RK4 ratio {}", e1 / e2);
    }
}

//! Phase-plane analysis of two variables: vector field, nullclines (marching
//! squares from the `contour` crate), fixed points classified from the
//! Jacobian's eigenvalues, trajectories; and the f–I curve.

use crate::error::{Error, Result};
use crate::single::compiled::Compiled;
use crate::single::expr::closest;
use crate::single::model::{Model, SimulationOptions, Value};

/// What to draw in a phase plane. Defaults: a 20 x 20 arrow grid, nullclines
/// on a 200 x 200 grid, no rescaling, trajectories of 200 time units at
/// step 0.05.
#[derive(Debug, Clone, PartialEq)]
pub struct PhasePlane {
    /// Horizontal variable and its range.
    pub x: (String, f64, f64),
    /// Vertical variable and its range.
    pub y: (String, f64, f64),
    /// Arrows per side.
    pub grid: usize,
    /// Samples per side for the nullclines.
    pub resolution: usize,
    /// Scale the second component so both have the same largest magnitude.
    pub rescale: bool,
    /// Start points of trajectories.
    pub starts: Vec<(f64, f64)>,
    /// Duration of each trajectory.
    pub duration: f64,
    /// Step of each trajectory.
    pub dt: f64,
}

impl PhasePlane {
    /// The plane of `x` over `[x.1, x.2]` and `y` over `[y.1, y.2]`.
    pub fn new(x: (&str, f64, f64), y: (&str, f64, f64)) -> Self {
        PhasePlane {
            x: (x.0.to_string(), x.1, x.2),
            y: (y.0.to_string(), y.1, y.2),
            grid: 20,
            resolution: 200,
            rescale: false,
            starts: Vec::new(),
            duration: 200.0,
            dt: 0.05,
        }
    }
    /// Arrows per side.
    pub fn grid(mut self, n: usize) -> Self {
        self.grid = n.max(2);
        self
    }
    /// Rescale the second component (see the field's docs).
    pub fn rescale(mut self, on: bool) -> Self {
        self.rescale = on;
        self
    }
    /// A trajectory from `(x0, y0)`.
    pub fn trajectory(mut self, x0: f64, y0: f64) -> Self {
        self.starts.push((x0, y0));
        self
    }
    /// Duration and step of trajectories.
    pub fn duration(mut self, t: f64, dt: f64) -> Self {
        self.duration = t;
        self.dt = dt;
        self
    }
}

/// Kind of a fixed point of a planar system.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FixedPointKind {
    /// Both eigenvalues real and negative.
    StableNode,
    /// Both eigenvalues real and positive.
    UnstableNode,
    /// Complex eigenvalues with negative real part.
    StableFocus,
    /// Complex eigenvalues with positive real part.
    UnstableFocus,
    /// Real eigenvalues of opposite signs.
    Saddle,
    /// Purely imaginary eigenvalues (or a degenerate case).
    Center,
}

impl FixedPointKind {
    /// Human-readable name.
    pub fn name(self) -> &'static str {
        match self {
            FixedPointKind::StableNode => "stable node",
            FixedPointKind::UnstableNode => "unstable node",
            FixedPointKind::StableFocus => "stable focus",
            FixedPointKind::UnstableFocus => "unstable focus",
            FixedPointKind::Saddle => "saddle",
            FixedPointKind::Center => "center",
        }
    }
}

/// A fixed point, its Jacobian's eigenvalues `(re, im)` and its kind.
#[derive(Debug, Clone, PartialEq)]
pub struct FixedPoint {
    /// Horizontal coordinate.
    pub x: f64,
    /// Vertical coordinate.
    pub y: f64,
    /// Eigenvalues as `(re, im)`.
    pub eigenvalues: [(f64, f64); 2],
    /// Its kind.
    pub kind: FixedPointKind,
}

/// Everything a phase-plane plot shows.
#[derive(Debug, Clone, PartialEq)]
pub struct PhasePlaneData {
    /// The specification it was computed from.
    pub spec: PhasePlane,
    /// `(x, y, dx, dy)` per grid point (dy rescaled if asked).
    pub arrows: Vec<(f64, f64, f64, f64)>,
    /// Polylines where `x' = 0`.
    pub x_nullcline: Vec<Vec<(f64, f64)>>,
    /// Polylines where `y' = 0`.
    pub y_nullcline: Vec<Vec<(f64, f64)>>,
    /// Fixed points in the rectangle.
    pub fixed_points: Vec<FixedPoint>,
    /// One polyline per start point.
    pub trajectories: Vec<Vec<(f64, f64)>>,
}

/// Evaluates `(x', y')` at points of the plane, other variables at their
/// initial values, parameters re-evaluated for each state at `t = 0`.
struct Field {
    c: Compiled,
    ix: usize,
    iy: usize,
    state: Vec<f64>,
    out: Vec<f64>,
}

impl Field {
    fn new(model: &Model, x: &str, y: &str) -> Result<Field> {
        let c = model.compile()?;
        let find = |name: &str| {
            model
                .variables
                .iter()
                .position(|v| v.name == name)
                .ok_or_else(|| Error::NoSuchName {
                    name: name.into(),
                    suggestion: closest(
                        name,
                        &model
                            .variables
                            .iter()
                            .map(|v| v.name.clone())
                            .collect::<Vec<_>>(),
                    ),
                })
        };
        let (ix, iy) = (find(x)?, find(y)?);
        if ix == iy {
            return Err(Error::InvalidModel {
                message: format!("phase plane of {x:?} against itself"),
            });
        }
        let state = c.slots[1..=c.nvars].to_vec();
        let out = vec![0.0; c.nvars];
        Ok(Field {
            c,
            ix,
            iy,
            state,
            out,
        })
    }
    fn at(&mut self, x: f64, y: f64) -> (f64, f64) {
        self.state[self.ix] = x;
        self.state[self.iy] = y;
        self.c.set_state(0.0, &self.state);
        self.c.update_params();
        self.c.deriv_prepared(&mut self.out);
        (self.out[self.ix], self.out[self.iy])
    }
}

fn check_range(name: &str, lo: f64, hi: f64) -> Result<()> {
    if lo.is_finite() && hi.is_finite() && lo < hi && (hi - lo).is_finite() {
        Ok(())
    } else {
        Err(Error::InvalidModel {
            message: format!("range of {name:?} must be finite with min < max, got [{lo}, {hi}]"),
        })
    }
}

impl Model {
    /// Compute the phase plane described by `spec`.
    pub fn phase_plane(&self, spec: &PhasePlane) -> Result<PhasePlaneData> {
        let (xn, x0, x1) = (&spec.x.0, spec.x.1, spec.x.2);
        let (yn, y0, y1) = (&spec.y.0, spec.y.1, spec.y.2);
        check_range(xn, x0, x1)?;
        check_range(yn, y0, y1)?;
        let mut field = Field::new(self, xn, yn)?;
        let g = spec.grid.max(2);
        let r = spec.resolution.max(10);
        // The arrows (4 f64 each) and both components on the nullclines'
        // grid, before anything is allocated: a grid too large to hold is
        // an error, not an aborted process.
        let bytes = crate::memory::bytes(g as u64, g as u64, 32)
            .saturating_add(crate::memory::bytes(r as u64, r as u64, 16));
        let limit = crate::memory::default_limit();
        if bytes > limit {
            return Err(Error::MemoryLimit {
                what: format!("a phase plane of {g} x {g} arrows and {r} x {r} nullcline samples"),
                bytes,
                limit,
                ways_out: "a smaller PhasePlane::grid or resolution".into(),
            });
        }

        let mut arrows = Vec::with_capacity(g * g);
        for i in 0..g {
            for j in 0..g {
                let x = x0 + (x1 - x0) * (i as f64 + 0.5) / g as f64;
                let y = y0 + (y1 - y0) * (j as f64 + 0.5) / g as f64;
                let (dx, dy) = field.at(x, y);
                arrows.push((x, y, dx, dy));
            }
        }
        if spec.rescale {
            let mx = arrows.iter().map(|a| a.2.abs()).fold(0.0, f64::max);
            let my = arrows.iter().map(|a| a.3.abs()).fold(0.0, f64::max);
            if mx > 0.0 && my > 0.0 {
                for a in &mut arrows {
                    a.3 *= mx / my;
                }
            }
        }

        // Nullclines: zero contours of each component on a fine grid.
        let (hx, hy) = ((x1 - x0) / (r - 1) as f64, (y1 - y0) / (r - 1) as f64);
        let mut fx = vec![0.0; r * r];
        let mut fy = vec![0.0; r * r];
        for j in 0..r {
            for i in 0..r {
                let (dx, dy) = field.at(x0 + i as f64 * hx, y0 + j as f64 * hy);
                fx[j * r + i] = dx;
                fy[j * r + i] = dy;
            }
        }
        let x_nullcline = zero_contour(&fx, r, (x0, x1, hx), (y0, y1, hy))?;
        let y_nullcline = zero_contour(&fy, r, (x0, x1, hx), (y0, y1, hy))?;

        let fixed_points = self.fixed_points(spec)?;

        let mut trajectories = Vec::new();
        for &(sx, sy) in &spec.starts {
            let opts = SimulationOptions {
                keep: Some(vec![xn.clone(), yn.clone()]),
                start: vec![(xn.clone(), sx), (yn.clone(), sy)],
                ..Default::default()
            };
            let h = match self.simulation_with(spec.duration, spec.dt, &opts) {
                Ok(h) => h,
                Err(Error::Diverged { history, .. }) => *history,
                Err(e) => return Err(e),
            };
            let (hx, hy) = (h.column(xn)?, h.column(yn)?);
            trajectories.push(hx.iter().zip(hy.iter()).map(|(&a, &b)| (a, b)).collect());
        }
        Ok(PhasePlaneData {
            spec: spec.clone(),
            arrows,
            x_nullcline,
            y_nullcline,
            fixed_points,
            trajectories,
        })
    }

    /// Fixed points of the planar system `spec.x`, `spec.y` inside its
    /// rectangle: Newton's method from a grid of starts (Jacobian by central
    /// differences), duplicates merged, each classified.
    pub fn fixed_points(&self, spec: &PhasePlane) -> Result<Vec<FixedPoint>> {
        let (x0, x1, y0, y1) = (spec.x.1, spec.x.2, spec.y.1, spec.y.2);
        check_range(&spec.x.0, x0, x1)?;
        check_range(&spec.y.0, y0, y1)?;
        let mut field = Field::new(self, &spec.x.0, &spec.y.0)?;
        let (sx, sy) = (x1 - x0, y1 - y0);
        let (hx, hy) = (1e-6 * sx, 1e-6 * sy);
        let mut found: Vec<FixedPoint> = Vec::new();
        let seeds = 12;
        for i in 0..seeds {
            for j in 0..seeds {
                let mut x = x0 + sx * (i as f64 + 0.5) / seeds as f64;
                let mut y = y0 + sy * (j as f64 + 0.5) / seeds as f64;
                let mut converged = false;
                for _ in 0..60 {
                    let (f, g) = field.at(x, y);
                    if !(f.is_finite() && g.is_finite()) {
                        break;
                    }
                    if f.abs() < 1e-12 && g.abs() < 1e-12 {
                        converged = true;
                        break;
                    }
                    let j = jacobian(&mut field, x, y, hx, hy);
                    let det = j[0][0] * j[1][1] - j[0][1] * j[1][0];
                    if det.abs() < 1e-300 || !det.is_finite() {
                        break;
                    }
                    let dx = (j[1][1] * f - j[0][1] * g) / det;
                    let dy = (-j[1][0] * f + j[0][0] * g) / det;
                    x -= dx;
                    y -= dy;
                    if dx.abs() < 1e-13 * sx && dy.abs() < 1e-13 * sy {
                        let (f, g) = field.at(x, y);
                        converged = f.abs() < 1e-8 && g.abs() < 1e-8;
                        break;
                    }
                }
                let inside = x >= x0 && x <= x1 && y >= y0 && y <= y1;
                if converged
                    && inside
                    && !found
                        .iter()
                        .any(|p| (p.x - x).abs() < 1e-6 * sx && (p.y - y).abs() < 1e-6 * sy)
                {
                    let jm = jacobian(&mut field, x, y, hx, hy);
                    let (eigenvalues, kind) = classify(jm);
                    found.push(FixedPoint {
                        x,
                        y,
                        eigenvalues,
                        kind,
                    });
                }
            }
        }
        found.sort_by(|a, b| a.x.total_cmp(&b.x));
        Ok(found)
    }

    /// Firing rate (spikes per 1000 time units: Hz for a model in ms) against
    /// a constant value of the parameter `param`, for each value in
    /// `values`; the first `transient` time units are not counted.
    pub fn fi_curve(
        &self,
        param: &str,
        values: &[f64],
        t_end: f64,
        dt: f64,
        transient: f64,
    ) -> Result<Vec<(f64, f64)>> {
        if self.spike.is_none() {
            return Err(Error::InvalidModel {
                message: "an f-I curve needs a spike condition".into(),
            });
        }
        if !(transient >= 0.0 && transient < t_end) {
            return Err(Error::InvalidDuration { t: t_end, dt });
        }
        let mut out = Vec::with_capacity(values.len());
        for &i in values {
            let mut m = self.clone();
            m.set(param, Value::Number(i))?;
            let h = m.simulation_with(
                t_end,
                dt,
                &SimulationOptions {
                    keep: Some(vec!["t".into()]),
                    ..Default::default()
                },
            )?;
            let count = h.spikes.iter().filter(|&&t| t >= transient).count();
            out.push((i, 1000.0 * count as f64 / (t_end - transient)));
        }
        Ok(out)
    }
}

fn jacobian(field: &mut Field, x: f64, y: f64, hx: f64, hy: f64) -> [[f64; 2]; 2] {
    let (fxp, gxp) = field.at(x + hx, y);
    let (fxm, gxm) = field.at(x - hx, y);
    let (fyp, gyp) = field.at(x, y + hy);
    let (fym, gym) = field.at(x, y - hy);
    [
        [(fxp - fxm) / (2.0 * hx), (fyp - fym) / (2.0 * hy)],
        [(gxp - gxm) / (2.0 * hx), (gyp - gym) / (2.0 * hy)],
    ]
}

/// Eigenvalues of a 2 x 2 matrix and the kind of fixed point they make.
pub(crate) fn classify(j: [[f64; 2]; 2]) -> ([(f64, f64); 2], FixedPointKind) {
    let tr = j[0][0] + j[1][1];
    let det = j[0][0] * j[1][1] - j[0][1] * j[1][0];
    let disc = tr * tr - 4.0 * det;
    if disc >= 0.0 {
        let s = disc.sqrt();
        let (l1, l2) = ((tr - s) / 2.0, (tr + s) / 2.0);
        let kind = if l1 < 0.0 && l2 > 0.0 {
            FixedPointKind::Saddle
        } else if l2 < 0.0 {
            FixedPointKind::StableNode
        } else if l1 > 0.0 {
            FixedPointKind::UnstableNode
        } else {
            FixedPointKind::Center
        };
        ([(l1, 0.0), (l2, 0.0)], kind)
    } else {
        let im = (-disc).sqrt() / 2.0;
        let re = tr / 2.0;
        let kind = if re < 0.0 {
            FixedPointKind::StableFocus
        } else if re > 0.0 {
            FixedPointKind::UnstableFocus
        } else {
            FixedPointKind::Center
        };
        ([(re, -im), (re, im)], kind)
    }
}

/// The zero level of `values` (row-major, `r x r`, sample `(i, j)` at
/// `(x0 + i hx, y0 + j hy)`) as polylines inside the rectangle. The
/// marching-squares rings close along the border; those border runs are cut.
fn zero_contour(
    values: &[f64],
    r: usize,
    x: (f64, f64, f64),
    y: (f64, f64, f64),
) -> Result<Vec<Vec<(f64, f64)>>> {
    let (x0, x1, hx) = x;
    let (y0, y1, hy) = y;
    let lines = contour::ContourBuilder::new(r, r, true)
        .x_origin(x0 - 0.5 * hx)
        .y_origin(y0 - 0.5 * hy)
        .x_step(hx)
        .y_step(hy)
        .lines(values, &[0.0])
        .map_err(|e| Error::InvalidModel {
            message: format!("nullcline computation failed: {e:?}"),
        })?;
    let (ex, ey) = (1e-9 * (x1 - x0), 1e-9 * (y1 - y0));
    let inside = |p: (f64, f64)| p.0 > x0 + ex && p.0 < x1 - ex && p.1 > y0 + ey && p.1 < y1 - ey;
    let mut out = Vec::new();
    for line in &lines {
        for ls in &line.geometry().0 {
            let mut cur: Vec<(f64, f64)> = Vec::new();
            for c in &ls.0 {
                let p = (c.x, c.y);
                if inside(p) {
                    cur.push(p);
                } else if cur.len() > 1 {
                    out.push(std::mem::take(&mut cur));
                } else {
                    cur.clear();
                }
            }
            if cur.len() > 1 {
                out.push(cur);
            }
        }
    }
    Ok(out)
}

//! The lowering stage, without TensorFlow: how a [`Plan`] is laid out in
//! the graph. Which nuclei are updated as one vector, how long each spike
//! ring is, which connections share a kernel trace and where its rows sit
//! in the nucleus's trace bank (with the bank's constant matrices), and at
//! which lags each presynaptic nucleus's spikes are taken as events. The
//! emitter (the sibling modules) only turns these decisions into ops.

use crate::network::plan::{takes_events, KernelForm, Plan, PlanConnection, PlanWeights};

/// Every layout decision about a plan.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Layout {
    /// The Izhikevich nuclei placed on one device, in model order, one list
    /// per device in order of first appearance: each list is updated as one
    /// vector. A nucleus whose model is written as equations is a
    /// population of its own.
    pub populations: Vec<Vec<usize>>,
    /// Per nucleus, the length `L` of its spike ring (0: nothing reads a
    /// past step of it, so it has no ring).
    pub rings: Vec<usize>,
    /// The kernel-trace groups (exponential and alpha kernels).
    pub groups: Vec<TraceGroup>,
    /// Per connection, its trace group.
    pub conn_group: Vec<Option<usize>>,
    /// One trace bank per nucleus with traces, in nucleus order.
    pub banks: Vec<BankLayout>,
    /// Per connection, the lags `[arriving, leaving]` at which its spikes
    /// are taken as events (`None`: not event-driven).
    pub event_lags: Vec<Option<[usize; 2]>>,
    /// Per nucleus, the lags its event-driven connections read from it
    /// (ascending, distinct): one spike-event set per step covers them.
    pub spike_lags: Vec<Vec<usize>>,
    /// Per nucleus, the length of its spike lists (the spikes' indices of
    /// each of the last `L` steps, for connections with per-synapse
    /// delays; 0: none).
    pub lists: Vec<usize>,
}

/// The recursive trace shared by every connection into one nucleus with the
/// same exponential or alpha kernel (`c`, `r` and window `K` alike): the
/// traces are linear in the arriving and leaving input, so one `G` (and
/// `A`) per group computes the sum of the connections' currents.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TraceGroup {
    pub post: usize,
    pub c: f64,
    pub r: f64,
    pub k: usize,
    pub alpha: bool,
    /// Row of `G` in its nucleus's bank.
    pub g_row: usize,
    /// Row of `A` (alpha kernels).
    pub a_row: Option<usize>,
}

/// The traces of every group into one nucleus, the rows of one `[T, n]`
/// variable `X/traces`: one step is `new = M old + Σ terms` with the
/// constant `[T, T]` decay matrix `M` (`r` on the diagonal, and `r` at
/// `(A, G)` for the alpha kernels' `r G` term) and each afferent
/// connection's `[T, n]` terms, and the current is `s · new` with the
/// kernels' scales `c` at their `G` (exponential) or `A` (alpha) rows.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct BankLayout {
    pub post: usize,
    /// `T`.
    pub rows: usize,
    /// `M`, row-major `[T, T]`.
    pub decay: Vec<f32>,
    /// `s`, `[1, T]`.
    pub scale: Vec<f32>,
}

impl Layout {
    /// Lay out `plan` (before its weights move into the graph: whether a
    /// connection's weights are compressed rows decides its event lags).
    pub(crate) fn new(plan: &Plan) -> Layout {
        let mut populations: Vec<Vec<usize>> = Vec::new();
        for (k, nu) in plan.nuclei.iter().enumerate() {
            let izhikevich = |j: usize| plan.nuclei[j].model.is_none();
            match populations.iter_mut().find(|p| {
                izhikevich(k) && izhikevich(p[0]) && plan.nuclei[p[0]].device == nu.device
            }) {
                Some(p) => p.push(k),
                None => populations.push(vec![k]),
            }
        }
        // Lags 1 .. history-1 are read from the ring (lag 0 is this step's
        // spikes, computed): no ring when nothing reads a past step.
        let rings = plan
            .nuclei
            .iter()
            .map(|nu| if nu.history > 1 { nu.history } else { 0 })
            .collect();
        let mut groups: Vec<TraceGroup> = Vec::new();
        let conn_group = plan
            .connections
            .iter()
            .map(|conn| trace_group(conn, &mut groups))
            .collect();
        let banks = plan
            .nuclei
            .iter()
            .enumerate()
            .filter_map(|(post, _)| bank(post, &groups))
            .collect();
        let event_lags: Vec<Option<[usize; 2]>> = plan.connections.iter().map(event_lags).collect();
        let mut spike_lags = vec![Vec::new(); plan.nuclei.len()];
        let mut lists = vec![0; plan.nuclei.len()];
        for (conn, lags) in plan.connections.iter().zip(&event_lags) {
            if let Some(lags) = lags {
                spike_lags[conn.pre].extend(lags);
            }
            // Per-synapse delays read past steps from the spike lists
            // (kernel traces K steps further back).
            if let Some(&longest) = conn.synapse_lags.as_ref().and_then(|l| l.last()) {
                let reach = match conn.form {
                    KernelForm::Exponential { .. } | KernelForm::Alpha { .. } => {
                        longest + conn.kernel.len()
                    }
                    _ => longest,
                };
                if reach > 0 {
                    lists[conn.pre] = lists[conn.pre].max(reach + 1);
                }
            }
        }
        for lags in &mut spike_lags {
            lags.sort_unstable();
            lags.dedup();
        }
        Layout {
            populations,
            rings,
            groups,
            conn_group,
            banks,
            event_lags,
            spike_lags,
            lists,
        }
    }

    /// The slots of connection `c`'s event lags among the spike lags of its
    /// presynaptic nucleus `pre` (the rows of the event sums it takes).
    pub(crate) fn event_slots(&self, c: usize, pre: usize) -> Option<[usize; 2]> {
        let lags = self.event_lags[c]?;
        let all = &self.spike_lags[pre];
        let slot = |lag| all.iter().position(|&l| l == lag);
        Some([slot(lags[0])?, slot(lags[1])?])
    }

    /// The index of nucleus `post`'s trace bank.
    pub(crate) fn bank_of(&self, post: usize) -> Option<usize> {
        self.banks.iter().position(|b| b.post == post)
    }
}

/// The lags at which a connection's spikes are taken as events (summed
/// through dense rows or compressed rows): voltage jumps at `D`, kernel
/// traces at `D` and `D + K`, unless the connection asks for dense
/// products of dense weights; windowed kernels never.
fn event_lags(conn: &PlanConnection) -> Option<[usize; 2]> {
    let csr = matches!(conn.weights, PlanWeights::Csr { .. });
    let keyed = conn.synapse_lags.is_some();
    if !takes_events(
        conn.form,
        conn.propagation,
        csr,
        conn.synapses.is_some(),
        keyed,
    ) {
        return None;
    }
    let k = conn.kernel.len();
    match conn.form {
        KernelForm::Unit => Some([conn.delay, conn.delay]),
        _ => Some([conn.delay, conn.delay + k]),
    }
}

/// The trace group of a connection with an exponential or alpha kernel: an
/// existing one into the same nucleus with the same kernel, or a new one
/// at the next free rows of the nucleus's bank.
fn trace_group(conn: &PlanConnection, groups: &mut Vec<TraceGroup>) -> Option<usize> {
    let (KernelForm::Exponential { c, r } | KernelForm::Alpha { c, r }) = conn.form else {
        return None;
    };
    let alpha = matches!(conn.form, KernelForm::Alpha { .. });
    let k = conn.kernel.len();
    let same = |g: &TraceGroup| {
        g.post == conn.post
            && g.alpha == alpha
            && g.c.to_bits() == c.to_bits()
            && g.r.to_bits() == r.to_bits()
            && g.k == k
    };
    if let Some(j) = groups.iter().position(same) {
        return Some(j);
    }
    let g_row = groups
        .iter()
        .filter(|g| g.post == conn.post)
        .map(|g| 1 + usize::from(g.alpha))
        .sum();
    groups.push(TraceGroup {
        post: conn.post,
        c,
        r,
        k,
        alpha,
        g_row,
        a_row: alpha.then_some(g_row + 1),
    });
    Some(groups.len() - 1)
}

/// Nucleus `post`'s trace bank, if any group feeds it.
fn bank(post: usize, groups: &[TraceGroup]) -> Option<BankLayout> {
    let mine: Vec<&TraceGroup> = groups.iter().filter(|g| g.post == post).collect();
    let rows: usize = mine.iter().map(|g| 1 + usize::from(g.alpha)).sum();
    if rows == 0 {
        return None;
    }
    let mut decay = vec![0f32; rows * rows];
    let mut scale = vec![0f32; rows];
    for g in &mine {
        let r = g.r as f32;
        decay[g.g_row * rows + g.g_row] = r;
        match g.a_row {
            Some(a) => {
                decay[a * rows + a] = r;
                decay[a * rows + g.g_row] = r;
                scale[a] = g.c as f32;
            }
            None => scale[g.g_row] = g.c as f32,
        }
    }
    Some(BankLayout {
        post,
        rows,
        decay,
        scale,
    })
}

/// The `[T, m]` coefficients that turn a connection's input `y` at `m` lag
/// slots into its terms of its group's traces (semantics §1.4, exact for
/// the truncated window): `y(D) - r^K y(D + K)` for `G` and `-K r^K
/// y(D + K)` for `A`, with `arriving` and `leaving` the slots of `D` and
/// `D + K`; zero at the other groups' rows.
pub(crate) fn term_coefficients(
    rows: usize,
    group: &TraceGroup,
    m: usize,
    [arriving, leaving]: [usize; 2],
) -> Vec<f32> {
    let rk = group.r.powi(group.k as i32);
    let (g_coef, a_coef) = (-rk as f32, (-(group.k as f64) * rk) as f32);
    let mut coef = vec![0f32; rows * m];
    coef[group.g_row * m + arriving] = 1.0;
    coef[group.g_row * m + leaving] = g_coef;
    if let Some(a) = group.a_row {
        coef[a * m + leaving] = a_coef;
    }
    coef
}

/// The bank's step matrix `[M | C_1 | C_2 ...]`, `[T, T + Σ m_i]`
/// row-major: the decay and each afferent connection's `[T, m_i]`
/// coefficient block side by side, so one product with the old traces and
/// the connections' inputs stacked computes the new traces in one fixed
/// order.
pub(crate) fn bank_matrix(bank: &BankLayout, blocks: &[(Vec<f32>, usize)]) -> Vec<f32> {
    let t = bank.rows;
    let width = t + blocks.iter().map(|(_, m)| m).sum::<usize>();
    let mut coef = vec![0f32; t * width];
    let mut col = 0;
    for (block, cols) in
        std::iter::once((&bank.decay, t)).chain(blocks.iter().map(|(c, m)| (c, *m)))
    {
        for row in 0..t {
            coef[row * width + col..row * width + col + cols]
                .copy_from_slice(&block[row * cols..(row + 1) * cols]);
        }
        col += cols;
    }
    coef
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::network::model::{Connection, Network, Nucleus, Propagation};

    fn plan(net: Network) -> Plan {
        Plan::new(net, 1.0, u64::MAX, true).expect("plan")
    }

    #[test]
    fn nuclei_of_one_device_form_one_population_in_model_order() {
        let mut net = Network::new();
        net.add(Nucleus::new("A", 2)).unwrap();
        net.add(Nucleus::new("B", 2).device("/device:GPU:0"))
            .unwrap();
        net.add(Nucleus::new("C", 2)).unwrap();
        net.add(Nucleus::new("D", 2).device("/device:GPU:0"))
            .unwrap();
        let layout = Layout::new(&plan(net));
        assert_eq!(layout.populations, vec![vec![0, 2], vec![1, 3]]);
    }

    /// Two exponential connections with the same kernel into B share one
    /// group; an alpha kernel gets two rows; the decay matrix and scales
    /// follow (r on the diagonal, r at (A, G), c at G or A).
    #[test]
    fn traces_of_one_kernel_are_shared_and_banked() {
        let mut net = Network::new();
        let a = net.add(Nucleus::new("A", 3)).unwrap();
        let b = net.add(Nucleus::new("B", 2)).unwrap();
        let c = net.add(Nucleus::new("C", 4)).unwrap();
        let exp = |t: f64| 2.0 * 0.5f64.powf(t);
        let alpha = |t: f64| 3.0 * t * 0.25f64.powf(t);
        net.connect_with(Connection::new(a, b, 1.0).kernel(exp, 5.0))
            .unwrap();
        net.connect_with(Connection::new(c, b, 1.0).delay(2.0).kernel(exp, 5.0))
            .unwrap();
        net.connect_with(Connection::new(a, b, 1.0).kernel(alpha, 6.0))
            .unwrap();
        net.connect_with(Connection::new(a, c, 1.0)).unwrap();
        let layout = Layout::new(&plan(net));
        assert_eq!(layout.conn_group, vec![Some(0), Some(0), Some(1), None]);
        let g = &layout.groups;
        assert_eq!((g[0].g_row, g[0].a_row), (0, None));
        assert_eq!((g[1].g_row, g[1].a_row), (1, Some(2)));
        assert_eq!(layout.banks.len(), 1);
        let bank = &layout.banks[0];
        assert_eq!((bank.post, bank.rows), (1, 3));
        #[rustfmt::skip]
        let decay = vec![
            0.5, 0.0, 0.0,
            0.0, 0.25, 0.0,
            0.0, 0.25, 0.25,
        ];
        assert_eq!(bank.decay, decay);
        assert_eq!(bank.scale, vec![2.0, 0.0, 3.0]);
        assert_eq!(layout.bank_of(1), Some(0));
        assert_eq!(layout.bank_of(2), None);
    }

    /// A's events are read at lags 0 (jump to C, exponential to B), 5 (its
    /// window's end) and 2 (the delayed jump); the dense product asks for
    /// none; each connection finds its slots among A's lags.
    #[test]
    fn event_lags_are_collected_per_presynaptic_nucleus() {
        let mut net = Network::new();
        let a = net.add(Nucleus::new("A", 3)).unwrap();
        let b = net.add(Nucleus::new("B", 2)).unwrap();
        let c = net.add(Nucleus::new("C", 4)).unwrap();
        net.connect_with(Connection::new(a, c, 1.0)).unwrap();
        net.connect_with(Connection::new(a, b, 1.0).kernel(|t| 0.5f64.powf(t), 5.0))
            .unwrap();
        net.connect_with(Connection::new(a, b, 1.0).delay(2.0))
            .unwrap();
        net.connect_with(
            Connection::new(b, c, 1.0)
                .delay(3.0)
                .propagation(Propagation::Dense),
        )
        .unwrap();
        let layout = Layout::new(&plan(net));
        assert_eq!(
            layout.event_lags,
            vec![Some([0, 0]), Some([0, 5]), Some([2, 2]), None]
        );
        assert_eq!(layout.spike_lags, vec![vec![0, 2, 5], vec![], vec![]]);
        assert_eq!(layout.event_slots(1, 0), Some([0, 2]));
        assert_eq!(layout.event_slots(2, 0), Some([1, 1]));
        assert_eq!(layout.event_slots(3, 1), None);
        // A's past is read up to lag 5: a ring of 6 rows; B's up to 3.
        assert_eq!(layout.rings, vec![6, 4, 0]);
    }

    /// The terms of an alpha connection (r = 0.5, K = 3) at slots 1 and 2
    /// of m = 3 in a bank of 3 rows whose group sits at rows 1 and 2:
    /// G gets y(D) - r^K y(D + K), A gets -K r^K y(D + K).
    #[test]
    fn term_coefficients_and_bank_matrix_are_laid_side_by_side() {
        let group = TraceGroup {
            post: 0,
            c: 1.0,
            r: 0.5,
            k: 3,
            alpha: true,
            g_row: 1,
            a_row: Some(2),
        };
        let coef = term_coefficients(3, &group, 3, [1, 2]);
        #[rustfmt::skip]
        let want = vec![
            0.0, 0.0, 0.0,
            0.0, 1.0, -0.125,
            0.0, 0.0, -0.375,
        ];
        assert_eq!(coef, want);
        let bank = BankLayout {
            post: 0,
            rows: 2,
            decay: vec![1.0, 2.0, 3.0, 4.0],
            scale: vec![0.0, 1.0],
        };
        let m = bank_matrix(
            &bank,
            &[(vec![5.0, 6.0], 1), (vec![7.0, 8.0, 9.0, 10.0], 2)],
        );
        #[rustfmt::skip]
        let want = vec![
            1.0, 2.0, 5.0, 7.0, 8.0,
            3.0, 4.0, 6.0, 9.0, 10.0,
        ];
        assert_eq!(m, want);
    }
}

//! A small revised simplex for covering LPs with a handful of rows and thousands of columns:
//! `min c.x  s.t.  A x >= b, x >= 0` with `b >= 0`. The basis inverse is an m x m dense matrix
//! (m <= 8 here), so an iteration is one pricing pass over the columns: fast enough to solve the
//! lower bound exactly on every solve, with no external solver.

/// The optimum: objective value and the dual price of every row (what one more unit is worth).
#[derive(Debug, Clone, PartialEq)]
pub struct LpOptimum {
    pub objective: f64,
    pub duals: Vec<f64>,
    /// (column, value) for the basic structural columns.
    pub primal: Vec<(usize, f64)>,
}

const EPS: f64 = 1e-9;
const MAX_ITERATIONS: usize = 5_000;

/// Solves the covering LP. `columns[j]` has one coefficient per row. Returns None when it is
/// infeasible, unbounded, or the input holds non-finite numbers.
pub fn minimize(costs: &[f64], columns: &[Vec<f64>], rhs: &[f64]) -> Option<LpOptimum> {
    let m = rhs.len();
    let n = columns.len();
    if m == 0 || costs.len() != n || columns.iter().any(|c| c.len() != m) {
        return None;
    }
    if rhs.iter().any(|b| !b.is_finite() || *b < 0.0)
        || costs.iter().any(|c| !c.is_finite())
        || columns.iter().flatten().any(|a| !a.is_finite())
    {
        return None;
    }
    // Scale rows to unit right-hand sides (or unit max coefficient) and costs to at most 1.
    let row_scale: Vec<f64> = (0..m)
        .map(|i| {
            if rhs[i] > EPS {
                1.0 / rhs[i]
            } else {
                let max = columns.iter().map(|c| c[i].abs()).fold(0.0, f64::max);
                if max > EPS { 1.0 / max } else { 1.0 }
            }
        })
        .collect();
    let max_cost = costs.iter().map(|c| c.abs()).fold(0.0, f64::max);
    let cost_scale = if max_cost > EPS { 1.0 / max_cost } else { 1.0 };
    let b: Vec<f64> = (0..m).map(|i| rhs[i] * row_scale[i]).collect();

    // Column space: structural 0..n, surplus n..n+m (-e_i), artificial n+m..n+2m (+e_i).
    let total = n + 2 * m;
    let column = |j: usize, i: usize| -> f64 {
        if j < n {
            columns[j][i] * row_scale[i]
        } else if j < n + m {
            if j - n == i { -1.0 } else { 0.0 }
        } else if j - n - m == i {
            1.0
        } else {
            0.0
        }
    };
    let is_artificial = |j: usize| j >= n + m;

    let mut basis: Vec<usize> = (0..m).map(|i| n + m + i).collect();
    let mut inverse = identity(m);
    let mut values = b.clone();

    for phase in [1, 2] {
        let cost = |j: usize| -> f64 {
            if phase == 1 {
                if is_artificial(j) { 1.0 } else { 0.0 }
            } else if j < n {
                costs[j] * cost_scale
            } else {
                0.0
            }
        };
        let mut iterations = 0;
        loop {
            iterations += 1;
            if iterations > MAX_ITERATIONS {
                return None;
            }
            // Duals y = c_B B^-1.
            let y: Vec<f64> = (0..m)
                .map(|k| (0..m).map(|i| cost(basis[i]) * inverse[i][k]).sum())
                .collect();
            // Pricing: most negative reduced cost; Bland's rule after many iterations.
            let bland = iterations > 500;
            let mut entering = None;
            let mut best = -EPS;
            for j in 0..total {
                if phase == 2 && is_artificial(j) {
                    continue;
                }
                if basis.contains(&j) {
                    continue;
                }
                let reduced = cost(j) - (0..m).map(|i| y[i] * column(j, i)).sum::<f64>();
                if reduced < best {
                    best = reduced;
                    entering = Some(j);
                    if bland {
                        break;
                    }
                }
            }
            let Some(entering) = entering else { break };
            // Direction d = B^-1 a_j.
            let d: Vec<f64> = (0..m)
                .map(|i| (0..m).map(|k| inverse[i][k] * column(entering, k)).sum())
                .collect();
            let mut leaving = None;
            let mut ratio = f64::INFINITY;
            for i in 0..m {
                // In phase 2 an artificial left in the basis at zero must stay at zero.
                let ri = if phase == 2 && is_artificial(basis[i]) && d[i].abs() > EPS {
                    0.0
                } else if d[i] > EPS {
                    values[i] / d[i]
                } else {
                    continue;
                };
                if ri < ratio - EPS
                    || (ri < ratio + EPS && leaving.is_some_and(|l: usize| basis[i] < basis[l]))
                {
                    ratio = ri;
                    leaving = Some(i);
                }
            }
            let Some(row) = leaving else {
                return None; // unbounded: cannot happen with non-negative costs, but never trust input
            };
            // Pivot.
            let pivot = d[row];
            for cell in inverse[row].iter_mut() {
                *cell /= pivot;
            }
            values[row] /= pivot;
            let pivot_row = inverse[row].clone();
            for i in 0..m {
                if i != row && d[i].abs() > 0.0 {
                    let factor = d[i];
                    for (cell, p) in inverse[i].iter_mut().zip(&pivot_row) {
                        *cell -= factor * p;
                    }
                    values[i] -= factor * values[row];
                    if values[i] < 0.0 && values[i] > -1e-9 {
                        values[i] = 0.0;
                    }
                }
            }
            basis[row] = entering;
        }
        if phase == 1 {
            let infeasibility: f64 = (0..m)
                .filter(|&i| is_artificial(basis[i]))
                .map(|i| values[i])
                .sum();
            if infeasibility > 1e-7 {
                return None;
            }
        }
    }

    let cost2 = |j: usize| if j < n { costs[j] * cost_scale } else { 0.0 };
    let y: Vec<f64> = (0..m)
        .map(|k| (0..m).map(|i| cost2(basis[i]) * inverse[i][k]).sum())
        .collect();
    let objective = (0..m)
        .filter(|&i| basis[i] < n)
        .map(|i| costs[basis[i]] * values[i])
        .sum::<f64>();
    let duals = (0..m)
        .map(|i| (y[i] * row_scale[i] / cost_scale).max(0.0))
        .collect();
    let primal = (0..m)
        .filter(|&i| basis[i] < n)
        .map(|i| (basis[i], values[i]))
        .collect();
    Some(LpOptimum {
        objective,
        duals,
        primal,
    })
}

fn identity(m: usize) -> Vec<Vec<f64>> {
    (0..m)
        .map(|i| (0..m).map(|k| if i == k { 1.0 } else { 0.0 }).collect())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_the_cheapest_mix_of_two_shapes() {
        // cpu-rich (4 cpu, 1 mem) at 1.0, mem-rich (1 cpu, 4 mem) at 1.0; need 10 cpu, 10 mem.
        let columns = vec![vec![4.0, 1.0], vec![1.0, 4.0]];
        let lp = minimize(&[1.0, 1.0], &columns, &[10.0, 10.0]).unwrap();
        assert!((lp.objective - 4.0).abs() < 1e-9, "{lp:?}");
        assert!((lp.duals[0] - 0.2).abs() < 1e-9 && (lp.duals[1] - 0.2).abs() < 1e-9);
    }

    #[test]
    fn infeasible_is_none() {
        let columns = vec![vec![1.0, 0.0]];
        assert!(minimize(&[1.0], &columns, &[1.0, 1.0]).is_none());
    }

    #[test]
    fn a_zero_row_with_negative_coefficients_is_handled() {
        // x0 spot (cheap), x1 on-demand; x1 >= 0.2 (x0 + x1) and x0 + x1 >= 10 (capacity).
        let columns = vec![vec![1.0, -0.2], vec![1.0, 0.8]];
        let lp = minimize(&[1.0, 3.0], &columns, &[10.0, 0.0]).unwrap();
        assert!((lp.objective - (8.0 + 6.0)).abs() < 1e-9, "{lp:?}");
    }
}

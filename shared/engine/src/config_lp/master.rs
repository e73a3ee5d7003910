//! The restricted master of the configuration LP.

/// The restricted master: `min c.x  s.t.  A x >= b, x >= 0` by a revised simplex with an explicit
/// basis inverse, columns added between solves (the basis stays feasible). Columns 0..m are
/// surplus (-e_i), m..2m big-M artificials (+e_i), then the configurations.
pub(super) struct Master {
    m: usize,
    b: Vec<f64>,
    columns: Vec<Vec<f64>>,
    costs: Vec<f64>,
    basis: Vec<usize>,
    inverse: Vec<Vec<f64>>,
    values: Vec<f64>,
}

impl Master {
    pub(super) fn new(rhs: &[f64], big_m: f64) -> Self {
        let m = rhs.len();
        let mut columns = Vec::with_capacity(2 * m);
        let mut costs = Vec::with_capacity(2 * m);
        for sign in [-1.0, 1.0] {
            for i in 0..m {
                let mut c = vec![0.0; m];
                c[i] = sign;
                columns.push(c);
                costs.push(if sign > 0.0 { big_m } else { 0.0 });
            }
        }
        Master {
            m,
            b: rhs.to_vec(),
            columns,
            costs,
            basis: (m..2 * m).collect(),
            inverse: (0..m)
                .map(|i| (0..m).map(|k| if i == k { 1.0 } else { 0.0 }).collect())
                .collect(),
            values: rhs.to_vec(),
        }
    }

    pub(super) fn add(&mut self, column: Vec<f64>, cost: f64) {
        self.columns.push(column);
        self.costs.push(cost);
    }

    pub(super) fn duals(&self) -> Vec<f64> {
        let m = self.m;
        (0..m)
            .map(|k| {
                (0..m)
                    .map(|i| self.costs[self.basis[i]] * self.inverse[i][k])
                    .sum()
            })
            .collect()
    }

    pub(super) fn objective(&self) -> f64 {
        (0..self.m)
            .filter(|&i| self.basis[i] >= 2 * self.m)
            .map(|i| self.costs[self.basis[i]] * self.values[i])
            .sum()
    }

    pub(super) fn artificial_value(&self) -> f64 {
        (0..self.m)
            .filter(|&i| (self.m..2 * self.m).contains(&self.basis[i]))
            .map(|i| self.values[i])
            .sum()
    }

    /// Value of every configuration column (index from 0 = first configuration).
    pub(super) fn primal(&self) -> Vec<f64> {
        let mut x = vec![0.0; self.columns.len().saturating_sub(2 * self.m)];
        for i in 0..self.m {
            if let Some(j) = self.basis[i].checked_sub(2 * self.m) {
                x[j] = self.values[i];
            }
        }
        x
    }

    /// Pivots to optimality (or the cap); false when unbounded or stuck.
    pub(super) fn optimize(&mut self, cap: usize) -> bool {
        let m = self.m;
        let eps = 1e-10;
        let mut in_basis = vec![false; self.columns.len()];
        for &j in &self.basis {
            in_basis[j] = true;
        }
        for iteration in 0..cap {
            let y = self.duals();
            let bland = iteration > cap / 2;
            let mut entering = None;
            let mut best = -eps;
            for j in 0..self.columns.len() {
                if in_basis[j] {
                    continue;
                }
                let col = &self.columns[j];
                let reduced = self.costs[j] - col.iter().zip(&y).map(|(a, b)| a * b).sum::<f64>();
                let scaled = reduced / (1.0 + self.costs[j]);
                if scaled < best {
                    best = scaled;
                    entering = Some(j);
                    if bland {
                        break;
                    }
                }
            }
            let Some(j) = entering else { return true };
            let col = &self.columns[j];
            let d: Vec<f64> = (0..m)
                .map(|i| (0..m).map(|k| self.inverse[i][k] * col[k]).sum())
                .collect();
            let mut leaving = None;
            let mut ratio = f64::INFINITY;
            for i in 0..m {
                if d[i] > 1e-9 {
                    let r = self.values[i].max(0.0) / d[i];
                    if r < ratio - 1e-12
                        || (r <= ratio + 1e-12
                            && leaving.is_some_and(|l: usize| self.basis[i] < self.basis[l]))
                    {
                        ratio = r;
                        leaving = Some(i);
                    }
                }
            }
            let Some(row) = leaving else { return false };
            let pivot = d[row];
            for cell in self.inverse[row].iter_mut() {
                *cell /= pivot;
            }
            self.values[row] /= pivot;
            let pivot_row = self.inverse[row].clone();
            let pivot_value = self.values[row];
            for i in 0..m {
                if i != row && d[i] != 0.0 {
                    let f = d[i];
                    for (cell, p) in self.inverse[i].iter_mut().zip(&pivot_row) {
                        *cell -= f * p;
                    }
                    self.values[i] -= f * pivot_value;
                    if self.values[i] < 0.0 && self.values[i] > -1e-9 {
                        self.values[i] = 0.0;
                    }
                }
            }
            in_basis[self.basis[row]] = false;
            in_basis[j] = true;
            self.basis[row] = j;
        }
        let _ = &self.b;
        true
    }
}

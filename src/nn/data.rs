//! Data sets: the CSV loader, seeded generators, standardization and mini-batches.
//!
//! CSV: a header row; the target is the last column unless named (`--target`);
//! for MSE the last `k` columns where `k` is the model's output width. Class labels are integers
//! `0..C−1`. Errors name the line and the column. A first row made only of numbers is refused
//! (a file without a header would otherwise lose its first sample to the header).
//!
//! Generators, by name with an optional count (`moons:500`; default 200 samples):
//! `moons`, `circles`, `xor` (2 classes), `blobs`, `spirals` (3 classes), all with 2 features,
//! and `sine` (regression, 1 feature, 1 target: `sin x` plus noise); at most
//! [`MAX_GENERATED_SAMPLES`](crate::limits::MAX_GENERATED_SAMPLES) samples.
//!
//! [`DataOrigin`] records where a data set came from (generator and seed, or a file and a
//! fingerprint of its bytes), so that a model file can say what it was trained on.

use crate::error::{Error, Result};
use nalgebra::DMatrix;
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, Normal};
use std::path::Path;

/// The targets of a data set.
#[derive(Debug, Clone, PartialEq)]
pub enum Targets {
    /// Class labels `0..C−1`, one per sample.
    Labels(Vec<usize>),
    /// Numeric targets, `N x k`.
    Values(DMatrix<f64>),
}

impl Targets {
    /// Number of samples.
    pub fn len(&self) -> usize {
        match self {
            Targets::Labels(l) => l.len(),
            Targets::Values(v) => v.nrows(),
        }
    }
    /// Whether there are no samples.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The targets of the samples `idx`, in that order.
    pub fn select(&self, idx: &[usize]) -> Targets {
        match self {
            Targets::Labels(l) => Targets::Labels(idx.iter().map(|&i| l[i]).collect()),
            Targets::Values(v) => Targets::Values(v.select_rows(idx)),
        }
    }
}

/// What the targets are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Task {
    /// Class labels in one column; `n_classes` (the model's output width) bounds them when known.
    Classification {
        /// Number of classes, when known.
        n_classes: Option<usize>,
    },
    /// `n_outputs` numeric target columns.
    Regression {
        /// Number of target columns.
        n_outputs: usize,
    },
}

impl Task {
    /// The targets a loss needs from a model with `n_outputs` outputs: class labels below
    /// `n_outputs` for cross-entropy, `n_outputs` numeric columns for MSE.
    pub fn for_loss(kind: super::LossKind, n_outputs: usize) -> Task {
        match kind {
            super::LossKind::CrossEntropy => Task::Classification {
                n_classes: Some(n_outputs),
            },
            super::LossKind::Mse => Task::Regression { n_outputs },
        }
    }
}

/// z-score statistics of the features, kept so that new data can be transformed the same way.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Standardization {
    /// Feature means.
    pub mean: Vec<f64>,
    /// Feature standard deviations (population; a constant feature keeps scale 1).
    pub std: Vec<f64>,
}

/// Features and targets.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    /// Features, `N x d`.
    pub x: DMatrix<f64>,
    /// Targets.
    pub targets: Targets,
    /// Feature names.
    pub feature_names: Vec<String>,
    /// Target column names.
    pub target_names: Vec<String>,
    /// The standardization applied to `x`, if any.
    pub standardization: Option<Standardization>,
}

const GENERATORS: &str = "moons, circles, blobs, spirals, xor, sine";

/// Where a data set came from: what `--data` named, and enough to tell whether other data is
/// the same (the generator's seed, or a fingerprint of the file's bytes).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DataOrigin {
    /// The `--data` text: a generator spec (`moons:500`) or a file path.
    pub spec: String,
    /// The generator's seed (generators only).
    pub seed: Option<u64>,
    /// `fnv1a64:` and the 64-bit FNV-1a hash of the file's bytes, in hex (files only).
    pub fingerprint: Option<String>,
    /// The target columns named with `--target`, if any.
    pub target: Option<Vec<String>>,
}

impl DataOrigin {
    /// Whether the origin is a generator (else a file).
    pub fn is_generator(&self) -> bool {
        self.seed.is_some()
    }

    /// A short description for messages: `moons:500 (seed 3)` or `data/iris.csv`.
    pub fn describe(&self) -> String {
        match self.seed {
            Some(s) => format!("{} (seed {s})", self.spec),
            None => self.spec.clone(),
        }
    }

    /// Why `other` is different data from `self`, or `None` when it is the same: another
    /// generator spec or seed, a file with other bytes (the same bytes under another path are
    /// the same data), other targets.
    pub fn difference(&self, other: &DataOrigin) -> Option<String> {
        let instead = || {
            Some(format!(
                "{} instead of {}",
                other.describe(),
                self.describe()
            ))
        };
        match (self.is_generator(), other.is_generator()) {
            (true, true) if self.spec != other.spec => return instead(),
            (true, true) if self.seed != other.seed => {
                return Some(format!(
                    "seed {} instead of seed {}",
                    other.seed.unwrap_or(0),
                    self.seed.unwrap_or(0)
                ))
            }
            (false, false) if self.fingerprint != other.fingerprint => {
                return if self.spec == other.spec {
                    Some(format!("{} has changed since training", self.spec))
                } else {
                    instead()
                };
            }
            (true, false) | (false, true) => return instead(),
            _ => {}
        }
        if other.target.is_some() && self.target != other.target {
            return Some(format!(
                "target columns {} instead of {}",
                other.target.as_deref().unwrap_or(&[]).join(","),
                self.target
                    .as_deref()
                    .map_or("the default".into(), |t| t.join(","))
            ));
        }
        None
    }
}

/// The 64-bit FNV-1a hash of `bytes` as `fnv1a64:<16 hex digits>`: cheap, stable across
/// platforms and versions, enough to notice that a file changed.
pub fn fingerprint(bytes: &[u8]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("fnv1a64:{h:016x}")
}

/// Whether `spec` names a generator: its name is one, and no file of that name exists.
fn is_generator(spec: &str) -> bool {
    let name = spec.split(':').next().unwrap_or("");
    !Path::new(spec).exists() && GENERATORS.split(", ").any(|g| g == name)
}

impl Dataset {
    /// Number of samples.
    pub fn n_samples(&self) -> usize {
        self.x.nrows()
    }

    /// Number of features.
    pub fn n_features(&self) -> usize {
        self.x.ncols()
    }

    /// The class labels, for a classification set.
    pub fn labels(&self) -> Option<&[usize]> {
        match &self.targets {
            Targets::Labels(l) => Some(l),
            Targets::Values(_) => None,
        }
    }

    /// Number of classes (largest label + 1), for a classification set.
    pub fn n_classes(&self) -> Option<usize> {
        self.labels().map(|l| l.iter().max().map_or(0, |m| m + 1))
    }

    /// Loads `spec`: a generator (`moons`, `moons:500`, ...) unless a file of that name exists,
    /// else a CSV file.
    ///
    /// # Errors
    /// As [`Dataset::from_csv`] and [`Dataset::generate`].
    pub fn load(spec: &str, target: Option<&[String]>, task: Task, seed: u64) -> Result<Dataset> {
        Ok(Dataset::load_for(spec, target, task, seed, None)?.0)
    }

    /// As [`Dataset::load`], for a model with `n_inputs` inputs when given: a data set with
    /// another number of features is refused before its rows are read ("64 features against 4
    /// inputs" rather than a later complaint about a label). Also returns the [`DataOrigin`].
    ///
    /// # Errors
    /// As [`Dataset::load`]; [`Error::Data`] for a feature count other than `n_inputs`.
    pub fn load_for(
        spec: &str,
        target: Option<&[String]>,
        task: Task,
        seed: u64,
        n_inputs: Option<usize>,
    ) -> Result<(Dataset, DataOrigin)> {
        let mut origin = DataOrigin {
            spec: spec.to_string(),
            seed: None,
            fingerprint: None,
            target: target.map(<[String]>::to_vec),
        };
        if is_generator(spec) {
            let d = Dataset::generate(spec, seed)?;
            origin.seed = Some(seed);
            if let Some(k) = n_inputs {
                if k != d.n_features() {
                    return Err(Error::Data(format!(
                        "'{spec}' has {} features but the model takes {k} inputs",
                        d.n_features()
                    )));
                }
            }
            match (task, &d.targets) {
                (Task::Classification { n_classes: Some(c) }, Targets::Labels(_)) => {
                    let have = d.n_classes().unwrap_or(0);
                    if have > c {
                        return Err(Error::invalid(
                            "data",
                            format!("'{spec}' has {have} classes but the model has {c} outputs"),
                        ));
                    }
                }
                (Task::Classification { .. }, Targets::Values(_)) => {
                    return Err(Error::invalid(
                        "data",
                        format!("'{spec}' is a regression set; use the mse loss"),
                    ));
                }
                (Task::Regression { .. }, Targets::Labels(_)) => {
                    return Err(Error::invalid(
                        "data",
                        format!("'{spec}' is a classification set; use the cross-entropy loss"),
                    ));
                }
                _ => {}
            }
            return Ok((d, origin));
        }
        let path = Path::new(spec);
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        origin.fingerprint = Some(fingerprint(&bytes));
        let text = String::from_utf8(bytes)
            .map_err(|_| Error::Data(format!("{spec}: not a UTF-8 text (CSV) file")))?;
        let d = Dataset::parse_csv(&text, spec, target, task, n_inputs)?;
        Ok((d, origin))
    }

    /// Reads a CSV file (see the module docs).
    ///
    /// # Errors
    /// [`Error::Io`] when unreadable; [`Error::Data`] naming the line and column for an empty
    /// file, ragged rows, non-numbers, labels that are not integers or out of range, unknown
    /// target columns.
    pub fn from_csv(path: &Path, target: Option<&[String]>, task: Task) -> Result<Dataset> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Dataset::from_csv_str(&text, &path.display().to_string(), target, task)
    }

    /// Parses CSV text; `source` names it in errors.
    ///
    /// # Errors
    /// As [`Dataset::from_csv`].
    pub fn from_csv_str(
        text: &str,
        source: &str,
        target: Option<&[String]>,
        task: Task,
    ) -> Result<Dataset> {
        Dataset::parse_csv(text, source, target, task, None)
    }

    /// The CSV parser; `n_inputs`, when given, is checked against the feature columns before
    /// any row is read.
    fn parse_csv(
        text: &str,
        source: &str,
        target: Option<&[String]>,
        task: Task,
        n_inputs: Option<usize>,
    ) -> Result<Dataset> {
        let mut rdr = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .trim(csv::Trim::All)
            .from_reader(text.as_bytes());
        let mut records = rdr.records();
        let header: Vec<String> = match records.next() {
            None => {
                return Err(Error::Data(format!(
                    "{source}: the file is empty (expected a header row)"
                )))
            }
            Some(r) => r
                .map_err(|e| Error::Data(format!("{source}: {e}")))?
                .iter()
                .map(str::to_string)
                .collect(),
        };
        if !header.is_empty() && header.iter().all(|h| h.parse::<f64>().is_ok()) {
            let shown: Vec<&str> = header.iter().take(4).map(String::as_str).collect();
            return Err(Error::Data(format!(
                "{source}: the first row ({}{}) is numbers, not a header; add a header row of column names (critpt does not drop a data row silently)",
                shown.join(","),
                if header.len() > 4 { ",..." } else { "" }
            )));
        }
        let n_cols = header.len();
        let target_cols: Vec<usize> = match target {
            Some(names) => names
                .iter()
                .map(|t| {
                    header.iter().position(|h| h == t).ok_or_else(|| {
                        Error::Data(format!(
                            "{source}: no column named '{t}'; columns: {}",
                            header.join(", ")
                        ))
                    })
                })
                .collect::<Result<_>>()?,
            None => {
                let k = match task {
                    Task::Classification { .. } => 1,
                    Task::Regression { n_outputs } => n_outputs,
                };
                if k >= n_cols {
                    return Err(Error::Data(format!(
                        "{source}: {n_cols} columns leave no feature column beside {k} target column(s)"
                    )));
                }
                (n_cols - k..n_cols).collect()
            }
        };
        if let (Task::Classification { .. }, true) = (task, target_cols.len() != 1) {
            return Err(Error::invalid(
                "target columns",
                "classification takes exactly one target column",
            ));
        }
        let feature_cols: Vec<usize> = (0..n_cols).filter(|c| !target_cols.contains(c)).collect();
        if feature_cols.is_empty() {
            return Err(Error::Data(format!("{source}: no feature columns")));
        }
        if let Some(k) = n_inputs {
            if k != feature_cols.len() {
                let names: Vec<&str> = target_cols.iter().map(|&c| header[c].as_str()).collect();
                return Err(Error::Data(format!(
                    "{source} has {} feature columns but the model takes {k} inputs (target column(s): {}{})",
                    feature_cols.len(),
                    names.join(", "),
                    if target.is_none() { "; choose the target columns" } else { "" }
                )));
            }
        }
        let mut feats: Vec<f64> = Vec::new();
        let mut tvals: Vec<f64> = Vec::new();
        let mut labels: Vec<usize> = Vec::new();
        let mut n = 0usize;
        for rec in records {
            let rec = rec.map_err(|e| Error::Data(format!("{source}: {e}")))?;
            let line = rec.position().map_or(n + 2, |p| p.line() as usize);
            if rec.len() == 1 && rec.get(0) == Some("") {
                continue; // A blank line.
            }
            if rec.len() != n_cols {
                return Err(Error::Data(format!(
                    "{source}: line {line} has {} fields but the header has {n_cols}",
                    rec.len()
                )));
            }
            let num = |c: usize| -> Result<f64> {
                let s = &rec[c];
                s.parse::<f64>()
                    .ok()
                    .filter(|v| v.is_finite())
                    .ok_or_else(|| {
                        Error::Data(format!(
                            "{source}: line {line}, column {} ('{}'): '{s}' is not a finite number",
                            c + 1,
                            header[c]
                        ))
                    })
            };
            for &c in &feature_cols {
                feats.push(num(c)?);
            }
            match task {
                Task::Classification { n_classes } => {
                    let c = target_cols[0];
                    let v = num(c)?;
                    if v < 0.0 || v.fract() != 0.0 || v > u32::MAX as f64 {
                        return Err(Error::Data(format!(
                            "{source}: line {line}, column {} ('{}'): class label {v} is not an integer 0, 1, 2, ...",
                            c + 1,
                            header[c]
                        )));
                    }
                    let l = v as usize;
                    if let Some(k) = n_classes {
                        if l >= k {
                            return Err(Error::Data(format!(
                                "{source}: line {line}, column {} ('{}'): class label {l} is out of range for {k} classes (0..{})",
                                c + 1,
                                header[c],
                                k - 1
                            )));
                        }
                    }
                    labels.push(l);
                }
                Task::Regression { .. } => {
                    for &c in &target_cols {
                        tvals.push(num(c)?);
                    }
                }
            }
            n += 1;
        }
        if n == 0 {
            return Err(Error::Data(format!(
                "{source}: no data rows after the header"
            )));
        }
        let d = feature_cols.len();
        let x = DMatrix::from_row_slice(n, d, &feats);
        let targets = match task {
            Task::Classification { .. } => Targets::Labels(labels),
            Task::Regression { .. } => {
                Targets::Values(DMatrix::from_row_slice(n, target_cols.len(), &tvals))
            }
        };
        Ok(Dataset {
            x,
            targets,
            feature_names: feature_cols.iter().map(|&c| header[c].clone()).collect(),
            target_names: target_cols.iter().map(|&c| header[c].clone()).collect(),
            standardization: None,
        })
    }

    /// A generated data set, `name` or `name:count` (see the module docs), from `seed`.
    ///
    /// # Errors
    /// An unknown name, or a count that is not a positive integer.
    pub fn generate(spec: &str, seed: u64) -> Result<Dataset> {
        let (name, count) = match spec.split_once(':') {
            Some((a, b)) => {
                let c: usize = b.trim().parse().ok().filter(|&c| c > 0).ok_or_else(|| {
                    Error::invalid(
                        "data",
                        format!("'{b}' in '{spec}' is not a positive sample count"),
                    )
                })?;
                (a, c)
            }
            None => (spec, 200),
        };
        if GENERATORS.split(", ").any(|g| g == name) {
            crate::limits::check_generated_samples(spec, count)?;
        }
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let noise = |sd: f64| Normal::new(0.0, sd).expect("positive standard deviation");
        let mut x = Vec::with_capacity(2 * count);
        let mut labels = Vec::with_capacity(count);
        let mut two = |x: &mut Vec<f64>, a: f64, b: f64, l: usize| {
            x.push(a);
            x.push(b);
            labels.push(l);
        };
        match name {
            "moons" => {
                let nz = noise(0.1);
                let n_out = count / 2 + count % 2;
                for i in 0..count {
                    let (half, idx, m) = if i < n_out {
                        (0, i, n_out)
                    } else {
                        (1, i - n_out, count - n_out)
                    };
                    let t = std::f64::consts::PI * idx as f64 / (m.max(2) - 1) as f64;
                    let (a, b) = if half == 0 {
                        (t.cos(), t.sin())
                    } else {
                        (1.0 - t.cos(), 0.5 - t.sin())
                    };
                    two(
                        &mut x,
                        a + nz.sample(&mut rng),
                        b + nz.sample(&mut rng),
                        half,
                    );
                }
            }
            "circles" => {
                let nz = noise(0.05);
                for i in 0..count {
                    let c = i % 2;
                    let r = if c == 0 { 1.0 } else { 0.5 };
                    let t = rng.random_range(0.0..std::f64::consts::TAU);
                    two(
                        &mut x,
                        r * t.cos() + nz.sample(&mut rng),
                        r * t.sin() + nz.sample(&mut rng),
                        c,
                    );
                }
            }
            "blobs" => {
                let nz = noise(0.6);
                let centers = [(0.0, 2.0), (-2.0, -1.0), (2.0, -1.0)];
                for i in 0..count {
                    let c = i % 3;
                    two(
                        &mut x,
                        centers[c].0 + nz.sample(&mut rng),
                        centers[c].1 + nz.sample(&mut rng),
                        c,
                    );
                }
            }
            "spirals" => {
                let nz = noise(0.15);
                for i in 0..count {
                    let c = i % 3;
                    let t: f64 = rng.random_range(0.05..1.0);
                    let th = 4.0 * t + std::f64::consts::TAU * c as f64 / 3.0 + nz.sample(&mut rng);
                    two(&mut x, t * th.cos(), t * th.sin(), c);
                }
            }
            "xor" => {
                for _ in 0..count {
                    let a: f64 = rng.random_range(-1.0..1.0);
                    let b: f64 = rng.random_range(-1.0..1.0);
                    two(&mut x, a, b, usize::from((a > 0.0) != (b > 0.0)));
                }
            }
            "sine" => {
                let nz = noise(0.1);
                let mut t = Vec::with_capacity(count);
                for _ in 0..count {
                    let a: f64 = rng.random_range(-std::f64::consts::PI..std::f64::consts::PI);
                    x.push(a);
                    t.push(a.sin() + nz.sample(&mut rng));
                }
                return Ok(Dataset {
                    x: DMatrix::from_column_slice(count, 1, &x),
                    targets: Targets::Values(DMatrix::from_column_slice(count, 1, &t)),
                    feature_names: vec!["x".into()],
                    target_names: vec!["y".into()],
                    standardization: None,
                });
            }
            _ => {
                return Err(Error::Unknown {
                    what: "data set".into(),
                    name: spec.into(),
                    known: format!("a CSV file or {GENERATORS}"),
                })
            }
        }
        Ok(Dataset {
            x: DMatrix::from_row_slice(count, 2, &x),
            targets: Targets::Labels(labels),
            feature_names: vec!["x1".into(), "x2".into()],
            target_names: vec!["label".into()],
            standardization: None,
        })
    }

    /// z-scores every feature with its mean and population standard deviation, keeps the
    /// statistics, and returns them. A constant feature is only centered.
    pub fn standardize(&mut self) -> Standardization {
        let n = self.n_samples().max(1) as f64;
        let mut st = Standardization {
            mean: vec![],
            std: vec![],
        };
        for c in 0..self.n_features() {
            let col = self.x.column(c);
            let m = col.sum() / n;
            let sd = (col.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / n).sqrt();
            st.mean.push(m);
            st.std.push(if sd > 0.0 { sd } else { 1.0 });
        }
        self.apply_standardization(&st);
        self.standardization = Some(st.clone());
        st
    }

    /// Applies given statistics (from the training data) to these features.
    pub fn apply_standardization(&mut self, st: &Standardization) {
        for c in 0..self.n_features().min(st.mean.len()) {
            let (m, sd) = (st.mean[c], st.std[c]);
            self.x
                .column_mut(c)
                .iter_mut()
                .for_each(|v| *v = (*v - m) / sd);
        }
        self.standardization = Some(st.clone());
    }

    /// Features and targets of the samples `idx`.
    pub fn select(&self, idx: &[usize]) -> (DMatrix<f64>, Targets) {
        (self.x.select_rows(idx), self.targets.select(idx))
    }
}

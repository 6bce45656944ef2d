//! The teaching figures: the numbers each picture draws, the files, and failure isolation.

use crate::util::critpt;
use critpt::critical::CriticalKind;
use critpt::gallery::{self, FigureOutput, FigureSpec};
use critpt::objective::{gradient_vec, norm, Loss};
use critpt::optim::{BatchSize, MiniBatchRunner, Runner, Schedule, Sgd};
use std::path::{Path, PathBuf};

fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("critpt-gallery-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

/// Width and height from a PNG's IHDR chunk.
fn png_size(path: &Path) -> (u32, u32) {
    let b = std::fs::read(path).expect("the figure file exists");
    assert_eq!(&b[..8], b"\x89PNG\r\n\x1a\n", "{} is a PNG", path.display());
    assert_eq!(&b[12..16], b"IHDR");
    let w = u32::from_be_bytes([b[16], b[17], b[18], b[19]]);
    let h = u32::from_be_bytes([b[20], b[21], b[22], b[23]]);
    (w, h)
}

#[test]
fn himmelblau_nine_points_with_the_right_kinds() {
    let data = gallery::critical_points::compute().unwrap();
    assert_eq!(data.points.len(), 9);
    // Known points: docs/reference.md §2 / the literature.
    let known: [([f64; 2], CriticalKind); 9] = [
        ([3.0, 2.0], CriticalKind::Minimum),
        ([-2.805118, 3.131313], CriticalKind::Minimum),
        ([-3.779310, -3.283186], CriticalKind::Minimum),
        ([3.584428, -1.848127], CriticalKind::Minimum),
        ([-0.270845, -0.923039], CriticalKind::Maximum),
        ([3.385154, 0.073852], CriticalKind::Saddle),
        ([0.086678, 2.884255], CriticalKind::Saddle),
        ([-3.073026, -0.081353], CriticalKind::Saddle),
        ([-0.127961, -1.953715], CriticalKind::Saddle),
    ];
    for (kp, kind) in known {
        let found = data
            .points
            .iter()
            .find(|p| (p.point[0] - kp[0]).abs() < 1e-5 && (p.point[1] - kp[1]).abs() < 1e-5)
            .unwrap_or_else(|| panic!("{kp:?} not found"));
        assert_eq!(found.kind, kind, "{kp:?}");
        // Critical by the hand-written gradient of (x²+y−11)² + (x+y²−7)².
        let (x, y) = (found.point[0], found.point[1]);
        let a = x * x + y - 11.0;
        let b = x + y * y - 7.0;
        let g = [4.0 * x * a + 2.0 * b, 2.0 * a + 4.0 * y * b];
        assert!(norm(&g) < 1e-6, "{g:?}");
    }
}

#[test]
fn saddle_escape_lowers_the_loss_and_the_hyperbola_is_zero_loss() {
    let d = gallery::saddle_escape::compute().unwrap();
    assert_eq!(d.saddle.kind, CriticalKind::Saddle);
    // H(0) = [[0, -2], [-2, 0]]: eigenvalues ∓2, eigenvectors (1, 1)/√2 and (1, −1)/√2.
    assert!((d.saddle.spectrum.eigenvalues()[0] + 2.0).abs() < 1e-12);
    assert!((d.saddle.spectrum.eigenvalues()[1] - 2.0).abs() < 1e-12);
    let v = d.saddle.spectrum.eigenvector(0);
    assert!((v[0] - v[1]).abs() < 1e-12 && (v[0].abs() - 0.5f64.sqrt()).abs() < 1e-12);
    let l = |p: &[f64]| (1.0 - p[0] * p[1]).powi(2);
    let e = &d.escape;
    assert_eq!(e.from, vec![0.0, 0.0]);
    assert!(l(&e.to) < l(&e.from), "{} -> {}", l(&e.from), l(&e.to));
    assert!((l(&e.to) - e.value_after).abs() < 1e-15);
    // The step is along the negative-curvature direction (w1 = w2).
    assert!((e.to[0] - e.to[1]).abs() < 1e-12);
    for branch in &d.hyperbola {
        assert!(branch.len() > 10);
        for p in branch {
            assert!((p[0] * p[1] - 1.0).abs() < 1e-12);
            assert!(p[0].abs() <= 2.0 + 1e-12 && p[1].abs() <= 2.0 + 1e-12);
        }
    }
}

#[test]
fn batch_size_paths_are_the_runners_and_full_batch_is_gradient_descent() {
    use gallery::batch_size as bs;
    let d = bs::compute().unwrap();
    let updates: Vec<usize> = d.runs.iter().map(|r| r.updates).collect();
    assert_eq!(updates, [bs::EPOCHS, bs::EPOCHS * 4, bs::EPOCHS * 20]);
    // Batch size N: exactly full-gradient descent (Runner over the same loss).
    let gd = Runner::new(Schedule::constant(bs::LR).unwrap(), bs::EPOCHS)
        .run(&d.data, &mut Sgd::new(), &bs::START)
        .unwrap();
    assert_eq!(gd.path.len(), d.runs[0].path.len());
    for (a, b) in gd.path.iter().zip(&d.runs[0].path) {
        assert!((a[0] - b[0]).abs() < 1e-12 && (a[1] - b[1]).abs() < 1e-12);
    }
    // The noisy paths are the mini-batch runner's own (same seed, same path).
    for (k, &b) in [5usize, 1].iter().enumerate() {
        let again = MiniBatchRunner::new(
            Schedule::constant(bs::LR).unwrap(),
            BatchSize::Fixed(b),
            bs::EPOCHS,
        )
        .unwrap()
        .with_seed(bs::SEED)
        .run(&d.data, &mut Sgd::new(), &bs::START)
        .unwrap();
        assert_eq!(again.path, d.runs[k + 1].path);
    }
    // Batch size 1 is noisier: its last epoch moves around more than full batch's.
    let spread = |p: &[Vec<f64>], from: usize| {
        p[from..]
            .windows(2)
            .map(|w| (w[1][0] - w[0][0]).hypot(w[1][1] - w[0][1]))
            .sum::<f64>()
    };
    let n1 = &d.runs[2].path;
    assert!(spread(n1, n1.len() - 21) > spread(&d.runs[0].path, d.runs[0].path.len() - 2));
    assert_eq!(d.seconds_per_epoch.len(), bs::TIMED_BATCHES.len());
    assert!(d
        .seconds_per_epoch
        .iter()
        .all(|s| s.is_finite() && *s > 0.0));
}

#[test]
fn momentum_paths_follow_the_books_formulas() {
    use gallery::momentum as m;
    let d = m::compute().unwrap();
    let grad = |p: &[f64]| [4.0 * p[0].powi(3) - 4.0 * p[0] + 0.5, 2.0 * p[1]];
    // Gradient descent and momentum-book (docs/reference.md §3) by hand.
    let (mut g, mut q, mut mv) = (m::START, m::START, [0.0, 0.0]);
    for k in 0..m::STEPS {
        let dg = grad(&g);
        g = [g[0] - m::LR * dg[0], g[1] - m::LR * dg[1]];
        let dq = grad(&q);
        mv = [
            m::LAMBDA * mv[0] - m::LR * dq[0],
            m::LAMBDA * mv[1] - m::LR * dq[1],
        ];
        q = [q[0] + mv[0], q[1] + mv[1]];
        assert!(
            (d.gd.path[k + 1][0] - g[0]).abs() < 1e-9 && (d.gd.path[k + 1][1] - g[1]).abs() < 1e-9
        );
        assert!((d.momentum.path[k + 1][0] - q[0]).abs() < 1e-9);
        assert!((d.momentum.path[k + 1][1] - q[1]).abs() < 1e-9);
    }
    // Roots of 4x³ − 4x + 0.5 by Newton: the shallow and the deep minimum.
    let root = |mut x: f64| {
        for _ in 0..50 {
            x -= (4.0 * x * x * x - 4.0 * x + 0.5) / (12.0 * x * x - 4.0);
        }
        x
    };
    assert!((d.gd.last()[0] - root(1.0)).abs() < 1e-3);
    assert!((d.momentum.last()[0] - root(-1.0)).abs() < 1e-3);
    assert!(d.momentum.values.last().unwrap() < &(d.gd.values.last().unwrap() - 0.9));
}

#[test]
fn adaptive_valley_end_points_match_reference() {
    use gallery::adaptive as a;
    let d = a::compute().unwrap();
    let end = |i: usize| d.runs[i].last().to_vec();
    // docs/reference.md §3.
    let close = |p: Vec<f64>, b: f64, w: f64, tb: f64, tw: f64| {
        assert!(
            (p[0] - b).abs() < tb && (p[1] - w).abs() < tw,
            "{p:?} vs ({b}, {w})"
        );
    };
    close(end(0), -123.69, 2.483, 0.01, 0.001);
    close(end(1), -149.23, 2.5568, 0.01, 0.0001);
    close(end(2), -188.367, 2.669, 0.001, 0.001);
    close(end(3), -188.433, 2.669, 0.05, 0.01);
    close(end(4), -188.433, 2.669, 0.05, 0.05);
    // The first GD step by hand: ∇L = −2 Σ r (1, x), r = y − b − w x.
    let (x, y) = (critpt::surfaces::VALLEY_X, critpt::surfaces::VALLEY_Y);
    let r: Vec<f64> = x
        .iter()
        .zip(y)
        .map(|(xi, yi)| yi + 120.0 + 4.0 * xi)
        .collect();
    let gb = -2.0 * r.iter().sum::<f64>();
    let gw = -2.0 * r.iter().zip(x).map(|(ri, xi)| ri * xi).sum::<f64>();
    let p1 = &d.runs[0].path[1];
    assert!((p1[0] - (-120.0 - 1e-7 * gb)).abs() < 1e-9);
    assert!((p1[1] - (-4.0 - 1e-7 * gw)).abs() < 1e-9);
    assert!(d
        .runs
        .iter()
        .all(|r| r.path.len() == a::STEPS + 1 && !r.diverged));
}

#[test]
fn adagrad_book_spikes_without_a_schedule_only() {
    use gallery::adagrad_explosion as ae;
    assert_eq!(
        ae::first_spike(&[10.0, 5.0, 1.0, 2.0, 150.0, 3.0], 0.0),
        Some(4)
    );
    assert_eq!(ae::first_spike(&[10.0, 5.0, 1.0, 99.0], 0.0), None);
    let d = ae::compute().unwrap();
    assert!(d.first_spikes[0].is_some());
    assert_eq!(&d.first_spikes[1..], &[None, None]);
    // The book's first step is η·sign(g) per coordinate (σ⁰ = |g⁰|): both gradients are
    // negative at (−120, −4), so the first point is (−120 + 2, −4 + 2).
    let p1 = &d.runs[0].path[1];
    assert!(
        (p1[0] + 118.0).abs() < 1e-9 && (p1[1] + 2.0).abs() < 1e-9,
        "{p1:?}"
    );
    // L* is the least-squares optimum's loss: below every value of every run.
    assert!(d
        .runs
        .iter()
        .all(|r| r.values.iter().all(|v| *v >= d.optimum_loss - 1e-6)));
}

#[test]
fn schedules_match_schedule_lr_and_closed_forms() {
    use gallery::schedules as s;
    let d = s::compute().unwrap();
    assert_eq!(d.rates.len(), s::SPECS.len());
    assert!(d.rates.iter().all(|r| r.len() == s::STEPS));
    let at = |i: usize, k: usize| d.rates[i][k];
    assert_eq!(at(0, 100), 1.0);
    assert!((at(1, 100) - 0.5f64.powi(4)).abs() < 1e-15);
    assert!((at(2, 100) - 0.97f64.powi(100)).abs() < 1e-12);
    assert!(at(3, 100).abs() < 1e-15);
    // cosine:100 halfway: (1 + cos(π/2)) / 2.
    assert!((at(3, 50) - 0.5).abs() < 1e-15);
    assert!((at(4, 0) - 1.0 / 3.0).abs() < 1e-15 && (at(4, 100) - 1.0).abs() < 1e-15);
    // warmup-cosine:10:100: (k + 1)/10 while warming up, 1 at the end of it, the cosine's
    // midpoint 1/2 at step 55, and 0 from step 100 on.
    assert!((at(5, 4) - 0.5).abs() < 1e-15);
    assert!((at(5, 9) - 1.0).abs() < 1e-15);
    assert!((at(5, 55) - 0.5).abs() < 1e-15);
    assert!(at(5, 120).abs() < 1e-15);
    assert!((at(6, 19) - 64f64.powf(-0.5) * 20f64.powf(-0.5)).abs() < 1e-15);
    assert!((at(7, 100) - 1.0 / 6.0).abs() < 1e-15);
    // The peaks each curve is divided by, in closed form: 1 for every schedule that starts at
    // (or warms up to) the base rate; the transformer rule peaks at s = warmup = 20.
    let want = [
        1.0,
        1.0,
        1.0,
        1.0,
        1.0,
        1.0,
        64f64.powf(-0.5) * 20f64.powf(-0.5),
        1.0,
    ];
    for (i, (p, w)) in d.peaks.iter().zip(want).enumerate() {
        assert!((p - w).abs() < 1e-15, "{}: peak {p}, want {w}", s::SPECS[i]);
    }
}

#[test]
fn mse_and_ce_match_reference() {
    let d = gallery::mse_vs_ce::compute().unwrap();
    // docs/reference.md §4.
    assert!((d.mse[0].value - 1.999975).abs() < 1e-6);
    assert!((d.ce[0].value - 12.000006).abs() < 1e-6);
    assert!((d.mse[0].gradient_norm - 3.5e-5).abs() < 0.1e-5);
    assert!((d.ce[0].gradient_norm - 1.414).abs() < 1e-3);
    assert!((d.mse[1].value - 0.5).abs() < 1e-12);
    assert!((d.ce[1].value - 2f64.ln()).abs() < 1e-12);
    // MSE is stuck on its plateau; CE moves.
    let moved = |p: &[f64]| (p[0] + 6.5).hypot(p[1] - 5.5);
    assert!(moved(d.mse_run.last()) < 0.01);
    assert!(moved(d.ce_run.last()) > 5.0);
}

#[test]
fn normalization_condition_numbers_match_the_closed_form() {
    let d = gallery::normalization::compute().unwrap();
    // (2/N) XᵀX = [[a, b], [b, c]]; eigenvalues (a+c)/2 ± sqrt(((a−c)/2)² + b²).
    let kappa = |x: &[f64]| {
        let n = x.len() as f64 / 2.0;
        let (mut a, mut b, mut c) = (0.0, 0.0, 0.0);
        for r in x.chunks(2) {
            a += r[0] * r[0];
            b += r[0] * r[1];
            c += r[1] * r[1];
        }
        let (a, b, c) = (2.0 * a / n, 2.0 * b / n, 2.0 * c / n);
        let m = (a + c) / 2.0;
        let s = (((a - c) / 2.0).powi(2) + b * b).sqrt();
        (m + s) / (m - s)
    };
    let kr = kappa(&d.raw.data.x);
    let kz = kappa(&d.normalized.data.x);
    assert!((d.raw.condition_number - kr).abs() < 1e-9 * kr);
    assert!((d.normalized.condition_number - kz).abs() < 1e-9 * kz);
    assert!(kr > 30.0 && kz < 2.0, "{kr} {kz}");
    // The z-scored features have mean 0 and variance 1.
    let col = |j: usize| {
        d.normalized
            .data
            .x
            .iter()
            .skip(j)
            .step_by(2)
            .copied()
            .collect::<Vec<_>>()
    };
    for j in 0..2 {
        let c = col(j);
        let mean = c.iter().sum::<f64>() / c.len() as f64;
        let var = c.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / c.len() as f64;
        assert!(mean.abs() < 1e-12 && (var - 1.0).abs() < 1e-12);
    }
    // The drawn paths are gradient descent on each loss (first step by hand).
    for s in [&d.raw, &d.normalized] {
        let g = gradient_vec(&s.data, &gallery::normalization::START).unwrap();
        let p1 = &s.run.path[1];
        assert!((p1[0] - (-1.0 - s.lr * g[0])).abs() < 1e-12);
        assert!((p1[1] - (-1.0 - s.lr * g[1])).abs() < 1e-12);
    }
    let gap = |s: &gallery::normalization::Side| {
        s.run.values.last().unwrap() - s.data.loss(&s.data.optimum().unwrap()).unwrap()
    };
    assert!(gap(&d.normalized) < 1e-9 && gap(&d.raw) > 1e-3);
}

#[test]
fn figures_are_pngs_of_the_requested_size() {
    let dir = temp_dir("sizes");
    let only: Vec<String> = ["saddle-escape", "schedules", "mse-vs-ce"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let report = gallery::run_all(&dir, &only).unwrap();
    assert!(report.all_ok(), "{:?}", report.failed());
    let names: Vec<&str> = report.figures.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["saddle-escape", "schedules", "mse-vs-ce"]);
    assert_eq!(png_size(&dir.join("02-saddle-escape.png")), (1200, 900));
    assert_eq!(png_size(&dir.join("08-schedules.png")), (1200, 900));
    assert_eq!(png_size(&dir.join("09-mse-vs-ce.png")), (2400, 900));
    let _ = std::fs::remove_dir_all(&dir);
}

fn failing(_: &Path) -> critpt::Result<FigureOutput> {
    Err(critpt::Error::Unsupported("deliberate failure".into()))
}

fn panicking(_: &Path) -> critpt::Result<FigureOutput> {
    panic!("deliberate panic")
}

#[test]
fn a_failing_figure_does_not_stop_the_others() {
    let specs = [
        FigureSpec {
            number: 90,
            name: "fails",
            title: "",
            render: failing,
        },
        FigureSpec {
            number: 91,
            name: "panics",
            title: "",
            render: panicking,
        },
        FigureSpec {
            number: 8,
            name: "schedules",
            title: "",
            render: gallery::schedules::render,
        },
    ];
    let dir = temp_dir("isolation");
    let report = gallery::run_figures(&specs, &dir, &[]).unwrap();
    let names: Vec<&str> = report.figures.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["fails", "panics", "schedules"]);
    assert!(report.figures[0]
        .outcome
        .as_ref()
        .unwrap_err()
        .contains("deliberate failure"));
    assert!(report.figures[1]
        .outcome
        .as_ref()
        .unwrap_err()
        .contains("deliberate panic"));
    assert!(report.figures[2].ok());
    assert_eq!(png_size(&dir.join("08-schedules.png")), (1200, 900));
    assert_eq!(report.failed().len(), 2);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn unwritable_output_fails_every_figure_clearly() {
    let dir = temp_dir("unwritable");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("a-file");
    std::fs::write(&file, "not a directory").unwrap();
    let out = file.join("plots");
    let report = gallery::run_all(&out, &["schedules".to_string()]).unwrap();
    let err = report.figures[0].outcome.as_ref().unwrap_err();
    assert!(err.contains("cannot create output directory"), "{err}");
    // The command line: a FAILED line with the reason, exit status 1.
    let o = critpt(&[
        "gallery",
        "--out",
        out.to_str().unwrap(),
        "--only",
        "schedules,momentum",
    ]);
    assert_eq!(o.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        stdout.contains("FAILED") && stdout.contains("schedules") && stdout.contains("momentum"),
        "{stdout}"
    );
    assert!(
        stdout.contains("cannot create output directory"),
        "{stdout}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn cli_gallery_writes_and_reports() {
    let dir = temp_dir("cli");
    let o = critpt(&[
        "gallery",
        "--out",
        dir.to_str().unwrap(),
        "--only",
        "schedules",
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        stdout.contains("OK") && stdout.contains("08-schedules.png"),
        "{stdout}"
    );
    assert_eq!(png_size(&dir.join("08-schedules.png")), (1200, 900));
    let bad = critpt(&[
        "gallery",
        "--out",
        dir.to_str().unwrap(),
        "--only",
        "no-such-figure",
    ]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("no-such-figure"));
    let _ = std::fs::remove_dir_all(&dir);
}

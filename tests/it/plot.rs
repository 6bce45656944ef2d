//! Plotting: files of the requested size and format, errors for bad outputs and functions, the
//! `critpt plot` command, and (ignored, run by hand) the figures to look at.

use critpt::critical::{classify_point, escape_saddle, CriticalKind, EscapeOptions, Tolerances};
use critpt::expr::Formula;
use critpt::objective::{gradient_vec, Loss};
use critpt::plot::{
    LinePlot, Panels, Plot, PlotBox, PointMarker, ScatterPlot, Series, SpectrumPlot, SpectrumScale,
    Surface3d, SurfacePlot, ValueScale,
};
use critpt::Error;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Width and height from a PNG's IHDR chunk: 8-byte signature, 4-byte length, "IHDR", then
/// big-endian width and height.
fn png_size(path: &Path) -> (u32, u32) {
    let b = std::fs::read(path).expect("read png");
    assert!(b.len() > 24, "png too short");
    assert_eq!(&b[..8], b"\x89PNG\r\n\x1a\n", "png signature");
    assert_eq!(&b[12..16], b"IHDR", "first chunk is IHDR");
    let w = u32::from_be_bytes([b[16], b[17], b[18], b[19]]);
    let h = u32::from_be_bytes([b[20], b[21], b[22], b[23]]);
    (w, h)
}

/// Width and height attributes of an SVG's root element.
fn svg_size(text: &str) -> (u32, u32) {
    let start = text.find("<svg").expect("an <svg> element");
    let tag = &text[start..start + text[start..].find('>').expect("end of <svg> tag")];
    let attr = |name: &str| -> u32 {
        let key = format!(" {name}=\"");
        let i = tag
            .find(&key)
            .unwrap_or_else(|| panic!("no {name} in {tag}"))
            + key.len();
        let j = i + tag[i..].find('"').expect("closing quote");
        tag[i..j].trim_end_matches("px").parse().expect("a number")
    };
    (attr("width"), attr("height"))
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("critpt-plot-tests-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir.join(name)
}

fn saddle_plot() -> SurfacePlot {
    SurfacePlot::from_fn(
        |p| p[0] * p[0] - p[1] * p[1],
        PlotBox::new(-2.0, 2.0, -2.0, 2.0).unwrap(),
        40,
    )
    .unwrap()
    .with_title("x² − y²")
    .with_critical_point([0.0, 0.0], CriticalKind::Saddle)
}

#[test]
fn png_has_requested_size() {
    let path = scratch("saddle.png");
    saddle_plot().save(&path, (640, 480)).unwrap();
    assert_eq!(png_size(&path), (640, 480));
}

#[test]
fn svg_has_requested_size() {
    let path = scratch("saddle.svg");
    saddle_plot().save(&path, (800, 500)).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(svg_size(&text), (800, 500));
    // Text is real text (the legend names the kind), not paths.
    assert!(text.contains("saddle"));
}

#[test]
fn svg_string_for_notebooks_matches_file_output() {
    // The string for notebooks and the file `save` writes come from two code paths.
    let s = saddle_plot().to_svg_string((700, 400)).unwrap();
    assert_eq!(svg_size(&s), (700, 400));
    let path = scratch("notebook.svg");
    saddle_plot().save(&path, (700, 400)).unwrap();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), s);
    let nb = saddle_plot().notebook((700, 400)).unwrap();
    assert_eq!(svg_size(&nb.0), (700, 400));
    assert!(nb.0.contains("saddle"));
}

/// RGB pixels of a PNG (8-bit RGB or RGBA), row by row.
fn png_pixels(path: &Path) -> (u32, u32, Vec<[u8; 3]>) {
    let file = std::fs::File::open(path).expect("open png");
    let mut reader = png::Decoder::new(std::io::BufReader::new(file))
        .read_info()
        .expect("png header");
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).expect("png frame");
    assert_eq!(info.bit_depth, png::BitDepth::Eight);
    let channels = info.color_type.samples();
    assert!(channels >= 3, "{:?}", info.color_type);
    let pixels = buf[..info.buffer_size()]
        .chunks(channels)
        .map(|c| [c[0], c[1], c[2]])
        .collect();
    (info.width, info.height, pixels)
}

/// A heat map that is drawn: the middle of the plotting area (where `x² − y²` varies over its
/// whole range) holds many colours and almost no background.
#[test]
fn the_heat_map_is_painted() {
    let path = scratch("heat.png");
    saddle_plot().save(&path, (640, 480)).unwrap();
    let (w, h, px) = png_pixels(&path);
    assert_eq!((w, h), (640, 480));
    let background = px[0];
    // The central fifth of the image lies inside the axes whatever the margins.
    let (x0, x1, y0, y1) = (2 * w / 5, 3 * w / 5, 2 * h / 5, 3 * h / 5);
    let mut colours = std::collections::BTreeSet::new();
    let (mut n, mut bg) = (0usize, 0usize);
    for y in y0..y1 {
        for x in x0..x1 {
            let c = px[(y * w + x) as usize];
            colours.insert(c);
            n += 1;
            bg += usize::from(c == background);
        }
    }
    assert!(colours.len() > 20, "{} colours", colours.len());
    assert!(bg * 20 < n, "{bg} of {n} pixels are background");
    // And the whole image is not one colour.
    assert!(px.iter().any(|c| *c != background));
}

#[test]
fn every_figure_kind_renders_both_formats() {
    let bx = PlotBox::new(-1.0, 1.0, -1.0, 1.0).unwrap();
    let f = |p: &[f64]| p[0] * p[0] + 2.0 * p[1] * p[1];
    let png = scratch("kinds.png");
    let check = |r: critpt::Result<()>, s: critpt::Result<String>| {
        r.unwrap();
        assert_eq!(png_size(&png), (500, 400));
        assert_eq!(svg_size(&s.unwrap()), (500, 400));
    };
    let s3 = Surface3d::from_fn(f, bx, 20).unwrap();
    check(s3.save(&png, (500, 400)), s3.to_svg_string((500, 400)));
    let sp = SpectrumPlot::new(&[-1.0, 0.5, 0.7, 2.0])
        .with_scale(SpectrumScale::SymLog { linthresh: 0.1 });
    check(sp.save(&png, (500, 400)), sp.to_svg_string((500, 400)));
    let lp = LinePlot::new(vec![Series::from_values("loss", &[3.0, 2.0, 1.5])]).with_log_y(true);
    check(lp.save(&png, (500, 400)), lp.to_svg_string((500, 400)));
    let sc = ScatterPlot::new(vec![Series::new("runs", vec![[0.5, 1.0], [0.9, 0.1]])]);
    check(sc.save(&png, (500, 400)), sc.to_svg_string((500, 400)));
    let pn = Panels::new(vec![saddle_plot(), saddle_plot()])
        .unwrap()
        .with_title("two");
    check(pn.save(&png, (500, 400)), pn.to_svg_string((500, 400)));
}

#[test]
fn unwritable_path_is_an_io_error() {
    let missing = scratch("no-such-dir").join("deeper").join("f.png");
    let err = saddle_plot().save(&missing, (400, 300)).unwrap_err();
    assert!(matches!(err, Error::Io { .. }), "{err}");
    assert!(err.to_string().contains("no-such-dir"), "{err}");
    // A path through a regular file fails even for root (who ignores permissions).
    let file = scratch("plain-file");
    std::fs::write(&file, "x").unwrap();
    let err = saddle_plot()
        .save(file.join("f.png"), (400, 300))
        .unwrap_err();
    assert!(matches!(err, Error::Io { .. }), "{err}");
    let missing_svg = scratch("no-such-dir").join("f.svg");
    let err = saddle_plot().save(&missing_svg, (400, 300)).unwrap_err();
    assert!(matches!(err, Error::Io { .. }), "{err}");
}

#[test]
fn unknown_extension_is_an_error() {
    for name in ["f.jpg", "f", "f.pdf"] {
        let err = saddle_plot().save(scratch(name), (400, 300)).unwrap_err();
        assert!(matches!(err, Error::InvalidParameter { .. }), "{err}");
        assert!(err.to_string().contains(".png or .svg"), "{err}");
    }
}

#[test]
fn non_two_dimensional_function_is_an_error() {
    let bx = PlotBox::new(-1.0, 1.0, -1.0, 1.0).unwrap();
    for src in ["x^2", "x + y + z"] {
        let f = Formula::parse(src).unwrap();
        let err = SurfacePlot::from_loss(&f, bx, 20).unwrap_err();
        assert!(err.to_string().contains("2 variables"), "{err}");
    }
}

#[test]
fn non_finite_values_are_left_blank() {
    // ln(x) is undefined for x <= 0: half the box is NaN.
    let f = Formula::parse("ln(x) + y^2").unwrap();
    let plot = SurfacePlot::from_loss(&f, PlotBox::new(-1.0, 1.0, -1.0, 1.0).unwrap(), 41).unwrap();
    let g = plot.grid();
    assert!(g.values.iter().any(|v| !v.is_finite()));
    assert!(g.values.iter().any(|v| v.is_finite()));
    let path = scratch("ln.png");
    plot.save(&path, (500, 400)).unwrap();
    assert_eq!(png_size(&path), (500, 400));
}

fn critpt() -> Command {
    Command::new(env!("CARGO_BIN_EXE_critpt"))
}

/// Runs the binary; returns (status code, stderr).
fn run(args: &[&str]) -> (i32, String) {
    let out = critpt().args(args).output().expect("run critpt");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn assert_user_error(args: &[&str], needle: &str) {
    let (code, err) = run(args);
    assert_eq!(code, 1, "args {args:?}: stderr {err}");
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert!(err.starts_with("error: "), "{err}");
    assert!(err.contains(needle), "expected '{needle}' in {err}");
}

#[test]
fn cli_writes_png_and_svg_of_requested_size() {
    let png = scratch("cli.png");
    let (code, err) = run(&[
        "plot",
        "--fn",
        "himmelblau",
        "--critical",
        "--out",
        png.to_str().unwrap(),
        "--width",
        "640",
        "--height",
        "480",
        "--resolution",
        "60",
    ]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(png_size(&png), (640, 480));
    let svg = scratch("cli.svg");
    let (code, err) = run(&[
        "plot",
        "--expr",
        "x^2 - y^2",
        "--box",
        "-1,1,-2,2",
        "--out",
        svg.to_str().unwrap(),
        "--log",
        "--resolution",
        "30",
    ]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        svg_size(&std::fs::read_to_string(&svg).unwrap()),
        (1200, 900)
    );
}

#[test]
fn cli_marks_found_critical_points_and_draws_optimizer_paths() {
    // x·y has one critical point, the saddle at the origin, which `find` must supply for --expr;
    // the legend names each optimizer and the saddle.
    let svg = scratch("cli-overlays.svg");
    let (code, err) = run(&[
        "plot",
        "--expr",
        "x*y + 0.1*x^4 + 0.1*y^4",
        "--box",
        "-3,3,-3,3",
        "--critical",
        "--optimizers",
        "sgd,adam",
        "--start",
        "0.5,-0.4",
        "--lr",
        "0.05",
        "--steps",
        "50",
        "--out",
        svg.to_str().unwrap(),
        "--resolution",
        "30",
    ]);
    assert_eq!(code, 0, "{err}");
    let text = std::fs::read_to_string(&svg).unwrap();
    for needle in ["sgd", "adam", "saddle", "minimum"] {
        assert!(text.contains(needle), "{needle} missing from the legend");
    }
}

#[test]
fn cli_errors_are_one_line() {
    let ok_out = scratch("e.png");
    let ok_out = ok_out.to_str().unwrap();
    let missing = scratch("missing-dir").join("x").join("f.png");
    assert_user_error(
        &[
            "plot",
            "--fn",
            "saddle",
            "--out",
            missing.to_str().unwrap(),
            "--resolution",
            "20",
        ],
        "missing-dir",
    );
    assert_user_error(
        &["plot", "--fn", "saddle", "--out", "f.gif"],
        ".png or .svg",
    );
    assert_user_error(
        &[
            "plot", "--expr", "x+y+z", "--box", "0,1,0,1", "--out", ok_out,
        ],
        "2 variables",
    );
    assert_user_error(&["plot", "--expr", "x+y", "--out", ok_out], "--box");
    assert_user_error(
        &["plot", "--expr", "x+y", "--box", "0,1,0", "--out", ok_out],
        "4",
    );
    assert_user_error(
        &["plot", "--expr", "x+y", "--box", "1,0,0,1", "--out", ok_out],
        "lo < hi",
    );
    assert_user_error(
        &[
            "plot",
            "--fn",
            "saddle",
            "--optimizers",
            "sgd,bogus",
            "--start",
            "1,1",
            "--out",
            ok_out,
        ],
        "bogus",
    );
    assert_user_error(
        &[
            "plot",
            "--fn",
            "saddle",
            "--optimizers",
            "sgd",
            "--out",
            ok_out,
        ],
        "--start",
    );
    assert_user_error(
        &["plot", "--fn", "saddle", "--out", ok_out, "--width", "10"],
        "figure size",
    );
}

// ---------------------------------------------------------------------------------------------
// Figures to look at: `cargo test --release --test integration look_at_figures -- --ignored`
// writes them into /tmp/plots/.

fn gd_path(f: &Formula, start: [f64; 2], lr: f64, steps: usize) -> Vec<[f64; 2]> {
    let mut p = start.to_vec();
    let mut out = vec![start];
    for _ in 0..steps {
        let g = gradient_vec(f, &p).unwrap();
        p[0] -= lr * g[0];
        p[1] -= lr * g[1];
        out.push([p[0], p[1]]);
    }
    out
}

fn momentum_path(f: &Formula, start: [f64; 2], lr: f64, beta: f64, steps: usize) -> Vec<[f64; 2]> {
    let mut p = start.to_vec();
    let mut v = [0.0, 0.0];
    let mut out = vec![start];
    for _ in 0..steps {
        let g = gradient_vec(f, &p).unwrap();
        for k in 0..2 {
            v[k] = beta * v[k] + g[k];
            p[k] -= lr * v[k];
        }
        out.push([p[0], p[1]]);
    }
    out
}

#[test]
#[ignore = "writes figures to /tmp/plots for a person to look at"]
fn look_at_figures() {
    let dir = Path::new("/tmp/plots");
    std::fs::create_dir_all(dir).unwrap();
    let size = critpt::plot::DEFAULT_SIZE;

    // Himmelblau with its 9 critical points and two descents.
    let s = critpt::surfaces::by_name("himmelblau").unwrap();
    let f = s.formula();
    let markers = s.critical_points.iter().map(|k| PointMarker {
        point: [k.point[0], k.point[1]],
        kind: k.kind,
    });
    SurfacePlot::from_loss(&f, PlotBox::from_pairs(&s.plot_box).unwrap(), 200)
        .unwrap()
        .with_title("Himmelblau: 4 minima, 4 saddles, 1 maximum")
        .with_value_label("f(x, y)")
        .with_scale(ValueScale::Log)
        .with_critical_points(markers)
        .with_trajectory("gradient descent", gd_path(&f, [-0.5, 4.5], 0.01, 60))
        .with_trajectory(
            "momentum 0.9",
            momentum_path(&f, [0.5, -4.5], 0.002, 0.9, 80),
        )
        .save(dir.join("himmelblau.png"), size)
        .unwrap();

    // The two-weight network: saddle, eigenvector arrows, escape step, hyperbola of minima.
    let f = Formula::parse("(1 - w1*w2)^2").unwrap();
    let cp = classify_point(&f, &[0.0, 0.0], &Tolerances::dual()).unwrap();
    let pairs: Vec<(f64, [f64; 2])> = (0..2)
        .map(|k| {
            let v = cp.spectrum.eigenvector(k);
            (cp.spectrum.eigenvalues()[k], [v[0], v[1]])
        })
        .collect();
    let esc = escape_saddle(
        &f,
        &[0.0, 0.0],
        &Tolerances::dual(),
        &EscapeOptions::default(),
    )
    .unwrap();
    let branch = |sign: f64| -> Vec<[f64; 2]> {
        (0..=200)
            .map(|k| {
                let w1 = sign * (0.45 + 1.6 * k as f64 / 200.0);
                [w1, 1.0 / w1]
            })
            .collect()
    };
    SurfacePlot::from_loss(&f, PlotBox::new(-2.0, 2.0, -2.0, 2.0).unwrap(), 200)
        .unwrap()
        .with_title("L(w1, w2) = (1 − w1·w2)²: saddle at the origin")
        .with_value_label("L")
        .with_curve("minima: w1·w2 = 1", vec![branch(1.0), branch(-1.0)])
        .with_eigen_arrows([0.0, 0.0], &pairs, 0.55)
        .with_escape_step([esc.from[0], esc.from[1]], [esc.to[0], esc.to[1]])
        .with_critical_point([0.0, 0.0], cp.kind)
        .save(dir.join("two_weight.png"), size)
        .unwrap();

    // Rosenbrock, log scale, with a descent.
    let s = critpt::surfaces::by_name("rosenbrock").unwrap();
    let f = s.formula();
    SurfacePlot::from_loss(&f, PlotBox::from_pairs(&s.plot_box).unwrap(), 200)
        .unwrap()
        .with_title("Rosenbrock (log colour scale)")
        .with_scale(ValueScale::Log)
        .with_critical_point([1.0, 1.0], CriticalKind::Minimum)
        .with_trajectory("gradient descent", gd_path(&f, [-1.5, 2.5], 0.001, 3000))
        .save(dir.join("rosenbrock.png"), size)
        .unwrap();

    // Half-defined surface.
    let f = Formula::parse("ln(x) + y^2").unwrap();
    SurfacePlot::from_loss(&f, PlotBox::new(-1.0, 2.0, -1.0, 1.0).unwrap(), 150)
        .unwrap()
        .with_title("ln(x) + y²: undefined for x ≤ 0 (blank)")
        .save(dir.join("undefined.png"), size)
        .unwrap();

    // 3-D view.
    let f = critpt::surfaces::by_name("himmelblau").unwrap().formula();
    Surface3d::from_loss(&f, PlotBox::new(-5.0, 5.0, -5.0, 5.0).unwrap(), 60)
        .unwrap()
        .with_title("Himmelblau in 3-D")
        .save(dir.join("himmelblau_3d.png"), size)
        .unwrap();

    // Spectrum of a seeded random symmetric matrix (Wigner semicircle).
    use rand::{rngs::StdRng, SeedableRng};
    use rand_distr::{Distribution, StandardNormal};
    let n = 400;
    let mut rng = StdRng::seed_from_u64(7);
    let mut a = nalgebra::DMatrix::<f64>::zeros(n, n);
    for i in 0..n {
        for j in 0..=i {
            let x: f64 = StandardNormal.sample(&mut rng);
            let x = x / (n as f64).sqrt() * if i == j { 2f64.sqrt() } else { 1.0 };
            a[(i, j)] = x;
            a[(j, i)] = x;
        }
    }
    let eig = a.symmetric_eigenvalues();
    let density: Vec<[f64; 2]> = (0..=200)
        .map(|k| {
            let l = -2.0 + 4.0 * k as f64 / 200.0;
            [
                l,
                (4.0 - l * l).max(0.0).sqrt() / (2.0 * std::f64::consts::PI),
            ]
        })
        .collect();
    SpectrumPlot::new(eig.as_slice())
        .with_density(density)
        .with_title("Spectrum of a 400×400 random symmetric matrix")
        .save(dir.join("spectrum.png"), size)
        .unwrap();
    let mut outliers: Vec<f64> = eig.iter().map(|l| l * 0.01).collect();
    outliers.extend([35.0, 80.0, 150.0, -2.0]);
    SpectrumPlot::new(&outliers)
        .with_scale(SpectrumScale::SymLog { linthresh: 0.01 })
        .with_log_counts(true)
        .with_title("Bulk and outliers (symmetric log scale)")
        .save(dir.join("spectrum_symlog.png"), size)
        .unwrap();

    // Loss curves and a schedule.
    let curve = |rate: f64, noise: f64| -> Vec<f64> {
        (0..300)
            .map(|k| 2.0 * (-rate * k as f64).exp() + 0.01 + noise * ((k as f64) * 0.7).sin().abs())
            .collect()
    };
    LinePlot::new(vec![
        Series::from_values("sgd", &curve(0.01, 0.05)),
        Series::from_values("momentum", &curve(0.03, 0.02)),
        Series::from_values("adam", &curve(0.05, 0.005)),
    ])
    .with_title("Training loss")
    .with_axis_labels("step", "loss")
    .with_log_y(true)
    .save(dir.join("loss_curves.png"), size)
    .unwrap();
    let warm_cos: Vec<f64> = (0..200)
        .map(|k| {
            if k < 20 {
                (k + 1) as f64 / 20.0
            } else {
                0.5 * (1.0 + (std::f64::consts::PI * (k - 20) as f64 / 180.0).cos())
            }
        })
        .collect();
    LinePlot::new(vec![Series::from_values("warmup + cosine", &warm_cos)])
        .with_title("Learning-rate schedule")
        .with_axis_labels("step", "learning rate / base")
        .save(dir.join("schedule.png"), size)
        .unwrap();

    // Scatter: loss vs minimum ratio.
    let mut rng = StdRng::seed_from_u64(3);
    let pts: Vec<[f64; 2]> = (0..60)
        .map(|_| {
            let r: f64 = rand::Rng::random_range(&mut rng, 0.5..1.0);
            let e: f64 = StandardNormal.sample(&mut rng);
            [r, ((1.0 - r) * 4.0 + 0.1 * e).exp() * 0.01]
        })
        .collect();
    ScatterPlot::new(vec![Series::new("trained networks", pts)])
        .with_title("Training loss vs minimum ratio")
        .with_axis_labels("minimum ratio", "training loss")
        .with_log_y(true)
        .save(dir.join("scatter.png"), size)
        .unwrap();

    // MSE vs cross-entropy over two logits (target class 1, third logit −1000).
    let bx = PlotBox::new(-10.0, 10.0, -10.0, 10.0).unwrap();
    let mse = Formula::parse("(1 - exp(y1)/(exp(y1)+exp(y2)))^2 + (exp(y2)/(exp(y1)+exp(y2)))^2")
        .unwrap();
    let ce = Formula::parse("ln(1 + exp(y2 - y1))").unwrap();
    assert_eq!(mse.n_params(), 2);
    let start = [-8.0, 8.0];
    Panels::new(vec![
        SurfacePlot::from_loss(&mse, bx, 150)
            .unwrap()
            .with_title("mean square error")
            .with_value_label("loss")
            .with_critical_point(start, CriticalKind::NotCritical),
        SurfacePlot::from_loss(&ce, bx, 150)
            .unwrap()
            .with_title("cross-entropy")
            .with_value_label("loss")
            .with_critical_point(start, CriticalKind::NotCritical),
    ])
    .unwrap()
    .with_title("Same logits, two losses: MSE is flat where cross-entropy still slopes")
    .save(dir.join("mse_vs_ce.png"), (1800, 800))
    .unwrap();
}

/// `--vars y,x` swaps the axes: the surface's box and its known points follow the variables, so
/// each marked point is still a critical point of the plotted formula.
#[test]
fn plot_vars_reorders_the_box_and_the_points() {
    let out = scratch("camel-vars.svg");
    let run = |vars: Option<&str>| {
        let mut args = vec![
            "plot",
            "--fn",
            "six-hump-camel",
            "--critical",
            "--resolution",
            "20",
            "--out",
            out.to_str().unwrap(),
        ];
        if let Some(v) = vars {
            args.extend(["--vars", v]);
        }
        crate::util::critpt_json(&args)
    };
    let natural = run(None);
    let swapped = run(Some("y,x"));
    assert_eq!(
        natural["box"],
        serde_json::json!([[-2.0, 2.0], [-1.0, 1.0]])
    );
    assert_eq!(
        swapped["box"],
        serde_json::json!([[-1.0, 1.0], [-2.0, 2.0]])
    );
    assert_eq!(swapped["variables"], serde_json::json!(["y", "x"]));
    let f = Formula::parse_with_vars(
        "(4 - 2.1*x^2 + x^4/3)*x^2 + x*y + (-4 + 4*y^2)*y^2",
        Some(&["y".to_string(), "x".to_string()]),
    )
    .unwrap();
    let points = swapped["critical_points"].as_array().unwrap();
    assert_eq!(points.len(), 2);
    for (p, q) in points
        .iter()
        .zip(natural["critical_points"].as_array().unwrap())
    {
        let p = crate::util::nums(&p["point"]);
        let q = crate::util::nums(&q["point"]);
        assert_eq!(p, vec![q[1], q[0]]);
        let g = gradient_vec(&f, &p).unwrap();
        assert!(g.iter().all(|c| c.abs() < 1e-7), "gradient {g:?} at {p:?}");
    }
}

//! The documented size limits, checked before anything is allocated.
//!
//! A size the user gives (steps, epochs, starts, samples, widths, grid points, variables) is
//! refused when it is beyond a limit that real use never reaches, so that a typo such as
//! `--epochs 1000000000000` is a one-line error instead of a failed allocation or an hours-long
//! run. Each refusal names the limit and the way around it. README.md lists the same numbers.

use crate::error::{Error, Result};

/// Most optimizer steps whose points are recorded in one trajectory (the path holds one point
/// per recorded step: 10⁷ points of 2 variables are 160 MB).
pub const MAX_RECORDED_STEPS: usize = 10_000_000;

/// Most steps of a trajectory drawn by `critpt plot` (every point is drawn).
pub const MAX_PLOTTED_STEPS: usize = 1_000_000;

/// Most training epochs (one record is kept per epoch).
pub const MAX_EPOCHS: usize = 1_000_000;

/// Most starts of the critical-point search (a 2-variable surface takes about 0.15 ms a start).
pub const MAX_STARTS: usize = 1_000_000;

/// Most samples a data-set generator draws (`moons:N`).
pub const MAX_GENERATED_SAMPLES: usize = 10_000_000;

/// Widest layer of a new MLP.
pub const MAX_LAYER_WIDTH: usize = 100_000;

/// Most parameters of a new MLP (80 MB of f64, before the optimizer's state).
pub const MAX_MODEL_PARAMS: usize = 10_000_000;

/// Most grid points of a spectral density.
pub const MAX_DENSITY_GRID: usize = 1_000_000;

/// Most variables of a formula whose dense Hessian is formed (`classify`, `escape`): the
/// cost grows faster than `n³` (1000 variables take about 20 s).
pub const MAX_DENSE_VARIABLES: usize = 1000;

/// Most parameters of a network whose dense Hessian is formed (`analyze --method dense`):
/// 20 000 parameters are a 3.2 GB matrix.
pub const MAX_DENSE_PARAMS: usize = 20_000;

/// Refuses to record more than [`MAX_RECORDED_STEPS`] points of a `steps`-step run that keeps
/// one point in `record_every` (0 is taken as 1).
///
/// # Errors
/// [`Error::InvalidParameter`] naming the steps, the limit and the record interval.
pub fn check_recorded_steps(steps: usize, record_every: usize) -> Result<()> {
    let recorded = steps / record_every.max(1);
    if recorded > MAX_RECORDED_STEPS {
        return Err(Error::invalid(
            "steps",
            format!(
                "{steps} steps would record {recorded} points; at most {MAX_RECORDED_STEPS} steps are recorded; record one point in K (a record interval)"
            ),
        ));
    }
    Ok(())
}

/// Refuses trajectories of more than [`MAX_PLOTTED_STEPS`] steps in a figure.
///
/// # Errors
/// [`Error::InvalidParameter`] naming the steps and the limit.
pub fn check_plotted_steps(steps: usize) -> Result<()> {
    if steps > MAX_PLOTTED_STEPS {
        return Err(Error::invalid(
            "steps",
            format!(
                "{steps}; at most {MAX_PLOTTED_STEPS} steps are drawn in a figure; use `critpt optimize` for longer runs"
            ),
        ));
    }
    Ok(())
}

/// Refuses more than [`MAX_EPOCHS`] epochs.
///
/// # Errors
/// [`Error::InvalidParameter`] naming the epochs and the limit.
pub fn check_epochs(epochs: usize) -> Result<()> {
    if epochs > MAX_EPOCHS {
        return Err(Error::invalid(
            "epochs",
            format!(
                "{epochs}; at most {MAX_EPOCHS} epochs are trained (one record is kept per epoch)"
            ),
        ));
    }
    Ok(())
}

/// Refuses more than [`MAX_STARTS`] search starts.
///
/// # Errors
/// [`Error::InvalidParameter`] naming the starts and the limit.
pub fn check_starts(starts: usize) -> Result<()> {
    if starts > MAX_STARTS {
        return Err(Error::invalid(
            "starts",
            format!(
                "{starts}; at most {MAX_STARTS} starts; search smaller boxes one at a time instead"
            ),
        ));
    }
    Ok(())
}

/// Refuses generated data sets of more than [`MAX_GENERATED_SAMPLES`] samples.
///
/// # Errors
/// [`Error::InvalidParameter`] naming the data and the limit.
pub fn check_generated_samples(spec: &str, count: usize) -> Result<()> {
    if count > MAX_GENERATED_SAMPLES {
        return Err(Error::invalid(
            "data",
            format!(
                "'{spec}' asks for {count} samples; a generator draws at most {MAX_GENERATED_SAMPLES}; use a CSV file for more"
            ),
        ));
    }
    Ok(())
}

/// Refuses a new MLP with widths `sizes` whose widest layer exceeds [`MAX_LAYER_WIDTH`] or whose
/// parameter count exceeds [`MAX_MODEL_PARAMS`] (batch norm adds `2·width` per hidden layer);
/// counts with checked arithmetic, so no width overflows.
///
/// # Errors
/// [`Error::InvalidParameter`] naming the layer widths and the limit.
pub fn check_layer_sizes(sizes: &[usize], batchnorm: bool) -> Result<()> {
    if let Some(&w) = sizes.iter().find(|&&w| w > MAX_LAYER_WIDTH) {
        return Err(Error::invalid(
            "layer widths",
            format!("width {w}; a layer is at most {MAX_LAYER_WIDTH} wide"),
        ));
    }
    let mut total: usize = 0;
    for (i, w) in sizes.windows(2).enumerate() {
        let bn = if batchnorm && i + 2 < sizes.len() {
            2 * w[1]
        } else {
            0
        };
        total = w[0]
            .checked_mul(w[1])
            .and_then(|p| p.checked_add(w[1] + bn))
            .and_then(|p| p.checked_add(total))
            .unwrap_or(usize::MAX);
    }
    if total > MAX_MODEL_PARAMS {
        return Err(Error::invalid(
            "layer widths",
            format!(
                "{sizes:?} has {total} parameters; a model has at most {MAX_MODEL_PARAMS}; use narrower layers"
            ),
        ));
    }
    Ok(())
}

/// Refuses a density grid of more than [`MAX_DENSITY_GRID`] points.
///
/// # Errors
/// [`Error::InvalidParameter`] naming the density grid and the limit.
pub fn check_density_grid(points: usize) -> Result<()> {
    if points > MAX_DENSITY_GRID {
        return Err(Error::invalid(
            "density grid",
            format!("{points}; at most {MAX_DENSITY_GRID} grid points"),
        ));
    }
    Ok(())
}

/// Refuses a dense Hessian of a formula of more than [`MAX_DENSE_VARIABLES`] variables.
///
/// # Errors
/// [`Error::Unsupported`] naming the limit.
pub fn check_dense_variables(n: usize) -> Result<()> {
    if n > MAX_DENSE_VARIABLES {
        return Err(Error::Unsupported(format!(
            "the function has {n} variables; a dense Hessian is formed for at most {MAX_DENSE_VARIABLES}; fix some variables to constants to study a slice"
        )));
    }
    Ok(())
}

/// Refuses a dense Hessian of a network of more than [`MAX_DENSE_PARAMS`] parameters.
///
/// # Errors
/// [`Error::InvalidParameter`] naming the limit and the Lanczos method.
pub fn check_dense_params(n: usize) -> Result<()> {
    if n > MAX_DENSE_PARAMS {
        return Err(Error::invalid(
            "dense method",
            format!(
                "the model has {n} parameters: a dense Hessian would need {:.1} GB; at most {MAX_DENSE_PARAMS} parameters; use the matrix-free Lanczos method",
                (n as f64).powi(2) * 8e-9
            ),
        ));
    }
    Ok(())
}

/// Most entries of one block of vectors kept by a matrix-free method (a Lanczos basis, a
/// Hutch++ sketch): 2²⁸ f64 are 2 GiB.
pub const MAX_BLOCK_ENTRIES: usize = 1 << 28;

/// Refuses to keep `vectors` vectors of length `len` (`what` names them, `hint` the way
/// around) beyond [`MAX_BLOCK_ENTRIES`].
///
/// # Errors
/// [`Error::InvalidParameter`] naming `what`, the size and `hint`.
pub fn check_block(what: &str, vectors: usize, len: usize, hint: &str) -> Result<()> {
    if vectors.saturating_mul(len) > MAX_BLOCK_ENTRIES {
        return Err(Error::invalid(
            what,
            format!(
                "{vectors} vectors of {len} entries would need {:.1} GB; at most {MAX_BLOCK_ENTRIES} entries are kept; {hint}",
                vectors as f64 * len as f64 * 8e-9
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_refuse_beyond_and_accept_at_the_limit() {
        assert!(check_recorded_steps(MAX_RECORDED_STEPS, 1).is_ok());
        assert!(check_recorded_steps(MAX_RECORDED_STEPS + 1, 1).is_err());
        assert!(check_recorded_steps(10 * MAX_RECORDED_STEPS, 10).is_ok());
        assert!(check_epochs(MAX_EPOCHS).is_ok() && check_epochs(MAX_EPOCHS + 1).is_err());
        // The 100k-parameter digits MLP of the gallery is well inside.
        assert!(check_layer_sizes(&[64, 1000, 36, 10], true).is_ok());
        assert!(check_layer_sizes(&[4, 1_000_000_000, 3], false).is_err());
        assert!(check_layer_sizes(&[usize::MAX / 2, 3], false).is_err());
        assert!(check_layer_sizes(&[50_000, 50_000, 3], false).is_err());
        // A Lanczos basis of 500 vectors for the 100k-parameter MLP fits; 10⁹ of them do not.
        assert!(check_block("iterations", 500, 100_000, "").is_ok());
        assert!(check_block("iterations", 1_000_000_000, 100_000, "").is_err());
        assert!(check_block("trace products", usize::MAX, 2, "").is_err());
    }
}

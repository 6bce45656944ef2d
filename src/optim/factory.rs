//! Building an optimizer from its name and optional hyper-parameters (`--optimizer NAME`).

use super::{
    Adadelta, Adagrad, AdagradBook, Adam, AdamW, Adamax, Momentum, MomentumBook, NAdam, Nesterov,
    Optimizer, RAdam, RmsProp, RmsPropBook, Rprop, Sgd,
};
use crate::error::{Error, Result};

/// Every optimizer name [`optimizer_by_name`] knows: the twelve `torch.optim` ones, then the
/// chapter's forms.
pub const OPTIMIZER_NAMES: [&str; 15] = [
    "sgd",
    "momentum",
    "nesterov",
    "adagrad",
    "rmsprop",
    "adam",
    "adamw",
    "nadam",
    "radam",
    "adamax",
    "adadelta",
    "rprop",
    "momentum-book",
    "adagrad-book",
    "rmsprop-book",
];

/// Optional hyper-parameters; `None`/`false` means the optimizer's default (torch's, where
/// torch has one). A field that does not apply to an optimizer is ignored by
/// [`optimizer_by_name`]; [`Hyper::unused_for`] lists such fields so a caller can reject them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Hyper {
    /// Momentum $\mu$ (sgd, momentum, nesterov, rmsprop, momentum-book). Default 0 for sgd and
    /// rmsprop, 0.9 for momentum, nesterov and momentum-book.
    pub momentum: Option<f64>,
    /// Dampening of the momentum buffer (sgd, momentum, nesterov), default 0.
    pub dampening: Option<f64>,
    /// Smoothing constant (rmsprop, rmsprop-book), default 0.99.
    pub alpha: Option<f64>,
    /// $\beta_1$ (adam, adamw, nadam, radam, adamax), default 0.9.
    pub beta1: Option<f64>,
    /// $\beta_2$ (adam, adamw, nadam, radam, adamax), default 0.999.
    pub beta2: Option<f64>,
    /// Epsilon (adagrad 1e-10; rmsprop, adam, adamw, nadam, radam, adamax 1e-8; adadelta 1e-6;
    /// adagrad-book 1e-10, rmsprop-book 1e-8).
    pub eps: Option<f64>,
    /// Weight decay, default 0: L2 (added to the gradient) for sgd, momentum, nesterov,
    /// adagrad, rmsprop, adam, adamax, adadelta, and nadam and radam unless
    /// `decoupled_weight_decay`; decoupled for adamw, default 0.01 there.
    pub weight_decay: Option<f64>,
    /// Adadelta's $\rho$, default 0.9.
    pub rho: Option<f64>,
    /// NAdam's `momentum_decay`, default 0.004.
    pub momentum_decay: Option<f64>,
    /// Decoupled (AdamW-style) weight decay for nadam and radam.
    pub decoupled_weight_decay: bool,
    /// Rprop's etas $(\eta^-, \eta^+)$, default (0.5, 1.2).
    pub etas: Option<(f64, f64)>,
    /// Rprop's step-size bounds (min, max), default (1e-6, 50).
    pub step_sizes: Option<(f64, f64)>,
    /// Adagrad's `lr_decay`, default 0.
    pub lr_decay: Option<f64>,
    /// Adagrad's `initial_accumulator_value`, default 0.
    pub initial_accumulator_value: Option<f64>,
    /// Centered RMSProp.
    pub centered: bool,
    /// AMSGrad (adam, adamw).
    pub amsgrad: bool,
    /// Nesterov momentum for `sgd` (the `nesterov` optimizer has it always).
    pub nesterov: bool,
}

/// The fields of [`Hyper`] each optimizer uses.
fn applicable(name: &str) -> Option<&'static [&'static str]> {
    Some(match name {
        "sgd" => &["momentum", "dampening", "weight_decay", "nesterov"],
        "momentum" | "nesterov" => &["momentum", "dampening", "weight_decay"],
        "adagrad" => &[
            "eps",
            "weight_decay",
            "lr_decay",
            "initial_accumulator_value",
        ],
        "rmsprop" => &["alpha", "eps", "weight_decay", "momentum", "centered"],
        "adam" | "adamw" => &["beta1", "beta2", "eps", "weight_decay", "amsgrad"],
        "nadam" => &[
            "beta1",
            "beta2",
            "eps",
            "weight_decay",
            "momentum_decay",
            "decoupled_weight_decay",
        ],
        "radam" => &[
            "beta1",
            "beta2",
            "eps",
            "weight_decay",
            "decoupled_weight_decay",
        ],
        "adamax" => &["beta1", "beta2", "eps", "weight_decay"],
        "adadelta" => &["rho", "eps", "weight_decay"],
        "rprop" => &["etas", "step_sizes"],
        "momentum-book" => &["momentum"],
        "adagrad-book" => &["eps"],
        "rmsprop-book" => &["alpha", "eps"],
        _ => return None,
    })
}

fn unknown(name: &str) -> Error {
    Error::Unknown {
        what: "optimizer".into(),
        name: name.into(),
        known: OPTIMIZER_NAMES.join(", "),
    }
}

impl Hyper {
    /// The names of the fields that are set but that optimizer `name` does not use (in the
    /// order of the struct), e.g. `["beta1"]` for `sgd` with `beta1` set.
    ///
    /// # Errors
    /// [`Error::Unknown`] for an unknown optimizer name.
    pub fn unused_for(&self, name: &str) -> Result<Vec<&'static str>> {
        let uses = applicable(name).ok_or_else(|| unknown(name))?;
        let set = [
            ("momentum", self.momentum.is_some()),
            ("dampening", self.dampening.is_some()),
            ("alpha", self.alpha.is_some()),
            ("beta1", self.beta1.is_some()),
            ("beta2", self.beta2.is_some()),
            ("eps", self.eps.is_some()),
            ("weight_decay", self.weight_decay.is_some()),
            ("lr_decay", self.lr_decay.is_some()),
            (
                "initial_accumulator_value",
                self.initial_accumulator_value.is_some(),
            ),
            ("rho", self.rho.is_some()),
            ("momentum_decay", self.momentum_decay.is_some()),
            ("decoupled_weight_decay", self.decoupled_weight_decay),
            ("etas", self.etas.is_some()),
            ("step_sizes", self.step_sizes.is_some()),
            ("centered", self.centered),
            ("amsgrad", self.amsgrad),
            ("nesterov", self.nesterov),
        ];
        Ok(set
            .iter()
            .filter(|(field, is_set)| *is_set && !uses.contains(field))
            .map(|(field, _)| *field)
            .collect())
    }
}

/// The default learning rate of an optimizer: torch's where torch has one (adagrad 0.01,
/// rmsprop 0.01, adam, adamw and radam 0.001, nadam and adamax 0.002, adadelta 1.0, rprop
/// 0.01), the same for the chapter's adagrad-book (0.01) and
/// rmsprop-book (0.01). `None` for sgd, momentum, nesterov and momentum-book: the rate of plain
/// and momentum gradient descent depends entirely on the curvature, so callers must choose it.
///
/// # Errors
/// [`Error::Unknown`] for an unknown optimizer name.
pub fn default_lr(name: &str) -> Result<Option<f64>> {
    applicable(name).ok_or_else(|| unknown(name))?;
    Ok(match name {
        "adagrad" | "rmsprop" | "rprop" | "adagrad-book" | "rmsprop-book" => Some(0.01),
        "adam" | "adamw" | "radam" => Some(0.001),
        "nadam" | "adamax" => Some(0.002),
        "adadelta" => Some(1.0),
        _ => None,
    })
}

/// Builds the optimizer `name` (one of [`OPTIMIZER_NAMES`]) with the hyper-parameters that
/// are set in `hyper` and defaults for the rest. Fields that do not apply are ignored.
///
/// # Errors
/// [`Error::Unknown`] for an unknown name; [`Error::InvalidParameter`] for an out-of-range
/// hyper-parameter (naming it and its value).
///
/// # Example
/// ```
/// # use critpt::optim::{optimizer_by_name, Hyper};
/// let hyper = Hyper { beta1: Some(0.8), ..Hyper::default() };
/// let opt = optimizer_by_name("adam", &hyper).unwrap();
/// assert_eq!(opt.name(), "adam");
/// let bad = Hyper { beta1: Some(1.0), ..Hyper::default() };
/// assert!(optimizer_by_name("adam", &bad).is_err());
/// ```
pub fn optimizer_by_name(name: &str, hyper: &Hyper) -> Result<Box<dyn Optimizer>> {
    let h = hyper;
    let wd = h.weight_decay.unwrap_or(0.0);
    Ok(match name {
        "sgd" => Box::new(Sgd::try_new(
            h.momentum.unwrap_or(0.0),
            h.dampening.unwrap_or(0.0),
            wd,
            h.nesterov,
        )?),
        "momentum" => Box::new(Momentum::try_new(
            h.momentum.unwrap_or(Momentum::DEFAULT_MOMENTUM),
            h.dampening.unwrap_or(0.0),
            wd,
        )?),
        "nesterov" => {
            let d = h.dampening.unwrap_or(0.0);
            if d != 0.0 {
                return Err(Error::invalid(
                    "dampening",
                    format!("nesterov needs dampening 0 (as torch), got {d}"),
                ));
            }
            Box::new(Nesterov::try_new(
                h.momentum.unwrap_or(Nesterov::DEFAULT_MOMENTUM),
                wd,
            )?)
        }
        "adagrad" => {
            let mut o = Adagrad::new().with_weight_decay(wd)?;
            if let Some(e) = h.eps {
                o = o.with_eps(e)?;
            }
            if let Some(d) = h.lr_decay {
                o = o.with_lr_decay(d)?;
            }
            if let Some(v) = h.initial_accumulator_value {
                o = o.with_initial_accumulator_value(v)?;
            }
            Box::new(o)
        }
        "rmsprop" => {
            let mut o = RmsProp::new()
                .with_weight_decay(wd)?
                .with_momentum(h.momentum.unwrap_or(0.0))?
                .with_centered(h.centered);
            if let Some(a) = h.alpha {
                o = o.with_alpha(a)?;
            }
            if let Some(e) = h.eps {
                o = o.with_eps(e)?;
            }
            Box::new(o)
        }
        "adam" => {
            let mut o = Adam::new()
                .with_betas(h.beta1.unwrap_or(0.9), h.beta2.unwrap_or(0.999))?
                .with_weight_decay(wd)?
                .with_amsgrad(h.amsgrad);
            if let Some(e) = h.eps {
                o = o.with_eps(e)?;
            }
            Box::new(o)
        }
        "adamw" => {
            let mut o = AdamW::new()
                .with_betas(h.beta1.unwrap_or(0.9), h.beta2.unwrap_or(0.999))?
                .with_weight_decay(h.weight_decay.unwrap_or(AdamW::DEFAULT_WEIGHT_DECAY))?
                .with_amsgrad(h.amsgrad);
            if let Some(e) = h.eps {
                o = o.with_eps(e)?;
            }
            Box::new(o)
        }
        "nadam" => {
            let mut o = NAdam::new()
                .with_betas(h.beta1.unwrap_or(0.9), h.beta2.unwrap_or(0.999))?
                .with_weight_decay(wd)?
                .with_momentum_decay(h.momentum_decay.unwrap_or(NAdam::DEFAULT_MOMENTUM_DECAY))?
                .with_decoupled_weight_decay(h.decoupled_weight_decay);
            if let Some(e) = h.eps {
                o = o.with_eps(e)?;
            }
            Box::new(o)
        }
        "radam" => {
            let mut o = RAdam::new()
                .with_betas(h.beta1.unwrap_or(0.9), h.beta2.unwrap_or(0.999))?
                .with_weight_decay(wd)?
                .with_decoupled_weight_decay(h.decoupled_weight_decay);
            if let Some(e) = h.eps {
                o = o.with_eps(e)?;
            }
            Box::new(o)
        }
        "adamax" => {
            let mut o = Adamax::new()
                .with_betas(h.beta1.unwrap_or(0.9), h.beta2.unwrap_or(0.999))?
                .with_weight_decay(wd)?;
            if let Some(e) = h.eps {
                o = o.with_eps(e)?;
            }
            Box::new(o)
        }
        "adadelta" => {
            let mut o = Adadelta::new().with_weight_decay(wd)?;
            if let Some(r) = h.rho {
                o = o.with_rho(r)?;
            }
            if let Some(e) = h.eps {
                o = o.with_eps(e)?;
            }
            Box::new(o)
        }
        "rprop" => {
            let mut o = Rprop::new();
            if let Some((minus, plus)) = h.etas {
                o = o.with_etas(minus, plus)?;
            }
            if let Some((min, max)) = h.step_sizes {
                o = o.with_step_sizes(min, max)?;
            }
            Box::new(o)
        }
        "momentum-book" => Box::new(MomentumBook::try_new(
            h.momentum.unwrap_or(MomentumBook::DEFAULT_MOMENTUM),
        )?),
        "adagrad-book" => {
            let mut o = AdagradBook::new();
            if let Some(e) = h.eps {
                o = o.with_eps(e)?;
            }
            Box::new(o)
        }
        "rmsprop-book" => {
            let mut o = RmsPropBook::new();
            if let Some(a) = h.alpha {
                o = o.with_alpha(a)?;
            }
            if let Some(e) = h.eps {
                o = o.with_eps(e)?;
            }
            Box::new(o)
        }
        _ => return Err(unknown(name)),
    })
}

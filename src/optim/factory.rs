//! Building an optimizer from its name and optional hyper-parameters (`--optimizer NAME`).

use super::{
    Adadelta, Adagrad, AdagradBook, Adam, AdamW, Adamax, Momentum, MomentumBook, NAdam, Nesterov,
    Optimizer, RAdam, RmsProp, RmsPropBook, Rprop, Sgd,
};
use crate::error::{Error, Result};

/// Every optimizer [`optimizer_by_name`] builds: the twelve `torch.optim` ones, then the
/// chapter's forms. The name of each (`--optimizer NAME`) is [`OptimizerKind::name`], the one
/// table of optimizer names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OptimizerKind {
    /// `sgd`: [`Sgd`].
    Sgd,
    /// `momentum`: [`Momentum`].
    Momentum,
    /// `nesterov`: [`Nesterov`].
    Nesterov,
    /// `adagrad`: [`Adagrad`].
    Adagrad,
    /// `rmsprop`: [`RmsProp`].
    RmsProp,
    /// `adam`: [`Adam`].
    Adam,
    /// `adamw`: [`AdamW`].
    AdamW,
    /// `nadam`: [`NAdam`].
    NAdam,
    /// `radam`: [`RAdam`].
    RAdam,
    /// `adamax`: [`Adamax`].
    Adamax,
    /// `adadelta`: [`Adadelta`].
    Adadelta,
    /// `rprop`: [`Rprop`].
    Rprop,
    /// `momentum-book`: [`MomentumBook`].
    MomentumBook,
    /// `adagrad-book`: [`AdagradBook`].
    AdagradBook,
    /// `rmsprop-book`: [`RmsPropBook`].
    RmsPropBook,
}

impl OptimizerKind {
    /// Every kind, in the order of [`OPTIMIZER_NAMES`].
    pub const ALL: [OptimizerKind; 15] = [
        OptimizerKind::Sgd,
        OptimizerKind::Momentum,
        OptimizerKind::Nesterov,
        OptimizerKind::Adagrad,
        OptimizerKind::RmsProp,
        OptimizerKind::Adam,
        OptimizerKind::AdamW,
        OptimizerKind::NAdam,
        OptimizerKind::RAdam,
        OptimizerKind::Adamax,
        OptimizerKind::Adadelta,
        OptimizerKind::Rprop,
        OptimizerKind::MomentumBook,
        OptimizerKind::AdagradBook,
        OptimizerKind::RmsPropBook,
    ];

    /// The optimizer's name, as [`crate::optim::Optimizer::name`] reports it.
    pub const fn name(self) -> &'static str {
        match self {
            OptimizerKind::Sgd => "sgd",
            OptimizerKind::Momentum => "momentum",
            OptimizerKind::Nesterov => "nesterov",
            OptimizerKind::Adagrad => "adagrad",
            OptimizerKind::RmsProp => "rmsprop",
            OptimizerKind::Adam => "adam",
            OptimizerKind::AdamW => "adamw",
            OptimizerKind::NAdam => "nadam",
            OptimizerKind::RAdam => "radam",
            OptimizerKind::Adamax => "adamax",
            OptimizerKind::Adadelta => "adadelta",
            OptimizerKind::Rprop => "rprop",
            OptimizerKind::MomentumBook => "momentum-book",
            OptimizerKind::AdagradBook => "adagrad-book",
            OptimizerKind::RmsPropBook => "rmsprop-book",
        }
    }

    /// The fields of [`Hyper`] this optimizer uses.
    fn applicable(self) -> &'static [&'static str] {
        match self {
            OptimizerKind::Sgd => &["momentum", "dampening", "weight_decay", "nesterov"],
            OptimizerKind::Momentum | OptimizerKind::Nesterov => {
                &["momentum", "dampening", "weight_decay"]
            }
            OptimizerKind::Adagrad => &[
                "eps",
                "weight_decay",
                "lr_decay",
                "initial_accumulator_value",
            ],
            OptimizerKind::RmsProp => &["alpha", "eps", "weight_decay", "momentum", "centered"],
            OptimizerKind::Adam | OptimizerKind::AdamW => {
                &["beta1", "beta2", "eps", "weight_decay", "amsgrad"]
            }
            OptimizerKind::NAdam => &[
                "beta1",
                "beta2",
                "eps",
                "weight_decay",
                "momentum_decay",
                "decoupled_weight_decay",
            ],
            OptimizerKind::RAdam => &[
                "beta1",
                "beta2",
                "eps",
                "weight_decay",
                "decoupled_weight_decay",
            ],
            OptimizerKind::Adamax => &["beta1", "beta2", "eps", "weight_decay"],
            OptimizerKind::Adadelta => &["rho", "eps", "weight_decay"],
            OptimizerKind::Rprop => &["etas", "step_sizes"],
            OptimizerKind::MomentumBook => &["momentum"],
            OptimizerKind::AdagradBook => &["eps"],
            OptimizerKind::RmsPropBook => &["alpha", "eps"],
        }
    }
}

impl std::str::FromStr for OptimizerKind {
    type Err = Error;
    fn from_str(name: &str) -> Result<Self> {
        OptimizerKind::ALL
            .into_iter()
            .find(|k| k.name() == name)
            .ok_or_else(|| Error::Unknown {
                what: "optimizer".into(),
                name: name.into(),
                known: OPTIMIZER_NAMES.join(", "),
            })
    }
}

/// Every optimizer name [`optimizer_by_name`] knows, in the order of [`OptimizerKind::ALL`].
pub const OPTIMIZER_NAMES: [&str; 15] = {
    let mut names = [""; 15];
    let mut i = 0;
    while i < names.len() {
        names[i] = OptimizerKind::ALL[i].name();
        i += 1;
    }
    names
};

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

impl Hyper {
    /// The names of the fields that are set but that optimizer `name` does not use (in the
    /// order of the struct), e.g. `["beta1"]` for `sgd` with `beta1` set.
    ///
    /// # Errors
    /// [`Error::Unknown`] for an unknown optimizer name.
    pub fn unused_for(&self, name: &str) -> Result<Vec<&'static str>> {
        let uses = name.parse::<OptimizerKind>()?.applicable();
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
    use OptimizerKind as K;
    Ok(match name.parse::<OptimizerKind>()? {
        K::Adagrad | K::RmsProp | K::Rprop | K::AdagradBook | K::RmsPropBook => Some(0.01),
        K::Adam | K::AdamW | K::RAdam => Some(0.001),
        K::NAdam | K::Adamax => Some(0.002),
        K::Adadelta => Some(1.0),
        K::Sgd | K::Momentum | K::Nesterov | K::MomentumBook => None,
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
    use OptimizerKind as K;
    Ok(match name.parse::<OptimizerKind>()? {
        K::Sgd => Box::new(Sgd::try_new(
            h.momentum.unwrap_or(0.0),
            h.dampening.unwrap_or(0.0),
            wd,
            h.nesterov,
        )?),
        K::Momentum => Box::new(Momentum::try_new(
            h.momentum.unwrap_or(Momentum::DEFAULT_MOMENTUM),
            h.dampening.unwrap_or(0.0),
            wd,
        )?),
        K::Nesterov => {
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
        K::Adagrad => {
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
        K::RmsProp => {
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
        K::Adam => {
            let mut o = Adam::new()
                .with_betas(h.beta1.unwrap_or(0.9), h.beta2.unwrap_or(0.999))?
                .with_weight_decay(wd)?
                .with_amsgrad(h.amsgrad);
            if let Some(e) = h.eps {
                o = o.with_eps(e)?;
            }
            Box::new(o)
        }
        K::AdamW => {
            let mut o = AdamW::new()
                .with_betas(h.beta1.unwrap_or(0.9), h.beta2.unwrap_or(0.999))?
                .with_weight_decay(h.weight_decay.unwrap_or(AdamW::DEFAULT_WEIGHT_DECAY))?
                .with_amsgrad(h.amsgrad);
            if let Some(e) = h.eps {
                o = o.with_eps(e)?;
            }
            Box::new(o)
        }
        K::NAdam => {
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
        K::RAdam => {
            let mut o = RAdam::new()
                .with_betas(h.beta1.unwrap_or(0.9), h.beta2.unwrap_or(0.999))?
                .with_weight_decay(wd)?
                .with_decoupled_weight_decay(h.decoupled_weight_decay);
            if let Some(e) = h.eps {
                o = o.with_eps(e)?;
            }
            Box::new(o)
        }
        K::Adamax => {
            let mut o = Adamax::new()
                .with_betas(h.beta1.unwrap_or(0.9), h.beta2.unwrap_or(0.999))?
                .with_weight_decay(wd)?;
            if let Some(e) = h.eps {
                o = o.with_eps(e)?;
            }
            Box::new(o)
        }
        K::Adadelta => {
            let mut o = Adadelta::new().with_weight_decay(wd)?;
            if let Some(r) = h.rho {
                o = o.with_rho(r)?;
            }
            if let Some(e) = h.eps {
                o = o.with_eps(e)?;
            }
            Box::new(o)
        }
        K::Rprop => {
            let mut o = Rprop::new();
            if let Some((minus, plus)) = h.etas {
                o = o.with_etas(minus, plus)?;
            }
            if let Some((min, max)) = h.step_sizes {
                o = o.with_step_sizes(min, max)?;
            }
            Box::new(o)
        }
        K::MomentumBook => Box::new(MomentumBook::try_new(
            h.momentum.unwrap_or(MomentumBook::DEFAULT_MOMENTUM),
        )?),
        K::AdagradBook => {
            let mut o = AdagradBook::new();
            if let Some(e) = h.eps {
                o = o.with_eps(e)?;
            }
            Box::new(o)
        }
        K::RmsPropBook => {
            let mut o = RmsPropBook::new();
            if let Some(a) = h.alpha {
                o = o.with_alpha(a)?;
            }
            if let Some(e) = h.eps {
                o = o.with_eps(e)?;
            }
            Box::new(o)
        }
    })
}

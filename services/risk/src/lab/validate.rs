//! Checks a new experiment: a clear InvalidArgument naming the field, before anything is stored.

use spot_proto::risk::v1::{Experiment, ExperimentKind};
use tonic::Status;

use crate::model;

pub const MAX_CLUSTERS: usize = 20;
/// The interruption evidence a risk report is checked against is kept a week.
pub const MAX_DURATION_HOURS: u32 = 168;

/// What is being tried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    RiskModel,
    OptimizerStrategy,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RiskModel => "risk-model",
            Self::OptimizerStrategy => "optimizer-strategy",
        }
    }

    pub fn parse(stored: &str) -> Option<Self> {
        match stored {
            "risk-model" => Some(Self::RiskModel),
            "optimizer-strategy" => Some(Self::OptimizerStrategy),
            _ => None,
        }
    }

    pub fn to_proto(self) -> ExperimentKind {
        match self {
            Self::RiskModel => ExperimentKind::RiskModel,
            Self::OptimizerStrategy => ExperimentKind::OptimizerStrategy,
        }
    }

    /// What runs live today, that the candidate is compared with.
    pub fn live(self) -> &'static str {
        match self {
            Self::RiskModel => model::live().version(),
            Self::OptimizerStrategy => spot_engine::strategy::live().name(),
        }
    }

    fn known(self) -> Vec<&'static str> {
        match self {
            Self::RiskModel => model::versions(),
            Self::OptimizerStrategy => spot_engine::strategy::all()
                .iter()
                .map(|s| s.name())
                .collect(),
        }
    }
}

/// A checked request to start an experiment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewExperiment {
    pub name: String,
    pub kind: Kind,
    pub candidate: String,
    pub cluster_ids: Vec<String>,
    pub duration_hours: u32,
}

fn invalid(field: &str, why: impl std::fmt::Display) -> Status {
    Status::invalid_argument(format!("invalid `experiment.{field}`: {why}"))
}

pub fn check(experiment: &Experiment) -> Result<NewExperiment, Status> {
    let name = experiment.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(invalid("name", "1 to 100 characters"));
    }
    let kind = match experiment.kind() {
        ExperimentKind::RiskModel => Kind::RiskModel,
        ExperimentKind::OptimizerStrategy => Kind::OptimizerStrategy,
        ExperimentKind::Unspecified => {
            return Err(invalid("kind", "a risk model or an optimizer strategy"));
        }
    };
    let known = kind.known();
    if !known.contains(&experiment.candidate.as_str()) {
        return Err(invalid(
            "candidate",
            format!(
                "`{}` is not a known {}: one of {}",
                experiment.candidate,
                kind.as_str(),
                known.join(", ")
            ),
        ));
    }
    if experiment.candidate == kind.live() {
        return Err(invalid(
            "candidate",
            format!("`{}` is what runs live; pick another", experiment.candidate),
        ));
    }
    if experiment.cluster_ids.is_empty() || experiment.cluster_ids.len() > MAX_CLUSTERS {
        return Err(invalid(
            "cluster_ids",
            format!("1 to {MAX_CLUSTERS} clusters"),
        ));
    }
    let mut cluster_ids = Vec::with_capacity(experiment.cluster_ids.len());
    for (index, id) in experiment.cluster_ids.iter().enumerate() {
        if id.is_empty() || id.len() > 64 {
            return Err(invalid(
                &format!("cluster_ids[{index}]"),
                "1 to 64 characters",
            ));
        }
        if cluster_ids.contains(id) {
            return Err(invalid(
                &format!("cluster_ids[{index}]"),
                format!("`{id}` is listed twice"),
            ));
        }
        cluster_ids.push(id.clone());
    }
    if !(1..=MAX_DURATION_HOURS).contains(&experiment.duration_hours) {
        return Err(invalid(
            "duration_hours",
            format!("1 to {MAX_DURATION_HOURS} hours"),
        ));
    }
    Ok(NewExperiment {
        name: name.to_owned(),
        kind,
        candidate: experiment.candidate.clone(),
        cluster_ids,
        duration_hours: experiment.duration_hours,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn experiment() -> Experiment {
        Experiment {
            name: "prior only".into(),
            kind: ExperimentKind::RiskModel.into(),
            candidate: "bucket-prior-v1".into(),
            cluster_ids: vec!["c1".into()],
            duration_hours: 24,
            ..Default::default()
        }
    }

    fn field(e: Experiment) -> String {
        match check(&e) {
            Ok(_) => "accepted".into(),
            Err(status) => status
                .message()
                .split('`')
                .nth(1)
                .unwrap_or_default()
                .to_owned(),
        }
    }

    #[test]
    fn a_good_experiment_passes_and_each_bad_field_is_named() {
        assert_eq!(check(&experiment()).unwrap().kind, Kind::RiskModel);
        assert_eq!(
            field(Experiment {
                name: " ".into(),
                ..experiment()
            }),
            "experiment.name"
        );
        assert_eq!(
            field(Experiment {
                kind: 0,
                ..experiment()
            }),
            "experiment.kind"
        );
        assert_eq!(
            field(Experiment {
                candidate: "magic-v9".into(),
                ..experiment()
            }),
            "experiment.candidate"
        );
        assert_eq!(
            field(Experiment {
                candidate: Kind::RiskModel.live().into(),
                ..experiment()
            }),
            "experiment.candidate"
        );
        assert_eq!(
            field(Experiment {
                cluster_ids: vec![],
                ..experiment()
            }),
            "experiment.cluster_ids"
        );
        assert_eq!(
            field(Experiment {
                cluster_ids: vec!["a".into(), "a".into()],
                ..experiment()
            }),
            "experiment.cluster_ids[1]"
        );
        assert_eq!(
            field(Experiment {
                duration_hours: 0,
                ..experiment()
            }),
            "experiment.duration_hours"
        );
        assert_eq!(
            field(Experiment {
                duration_hours: 169,
                ..experiment()
            }),
            "experiment.duration_hours"
        );
        // A strategy's candidate comes from the engine's list.
        let strategy = Experiment {
            kind: ExperimentKind::OptimizerStrategy.into(),
            candidate: "bucket-prior-v1".into(),
            ..experiment()
        };
        assert_eq!(field(strategy), "experiment.candidate");
    }
}

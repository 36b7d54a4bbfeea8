//! `[probing] scoring`, `prefix_score` and `cv` (the options `--scoring`, `--prefix-score`,
//! `--probe-cv`): the scores each probing callback logs, and the cross-validated probing
//! callbacks (one per probe, beside its probing callback, on the same probing sets).
//!
//! Tags, as nidl 0.0.2 logs them: `<prefix>test_score` (one scoring name), `<prefix>test_<name>`
//! (a list; each probe takes the names of its kind: classification scores for a classifier,
//! regression scores for a regressor), `fold<i>/<prefix><key>` for cross-validation. A
//! multi-task group's scored tags keep the task's name before them (`task0/test_r2`). Unless
//! `prefix_score` is set, a run of one probe uses no prefix (nidl's default) and a run of
//! several prefixes each probe's tags with its name and a slash (`LogisticRegression/test_score`,
//! `fold0/KNeighborsClassifier/test_score`), so that no two probes log the same tag.

use super::schema::{Experiment, ProbeSpec, ScoringSpec};
use crate::cli::train_common::ProbeOptions;
use nidl::metrics::{ProbeKind, ScoreSelection, Scorer, Scoring};
use nidl::probe::TaskProbe;
use nidl::train::{
    Callback, CrossValidatedProbing, MultitaskProbing, ProbeTask, Probing, ProbingSets,
};

/// The key (and option) these settings are read from, for messages.
const SCORING: &str = "probing.scoring (--scoring)";
/// See [`SCORING`].
const PREFIX: &str = "probing.prefix_score (--prefix-score)";

/// Checks `[probing] scoring`, `prefix_score` and `cv` against the probes of `exp`: known,
/// distinct names; a score of each probe's kind; at least 2 folds; with an explicit prefix,
/// no two probes logging the same tags. Errors name the key.
pub fn check(exp: &Experiment) -> Result<(), String> {
    let p = &exp.probing;
    let scored = p.cv.is_some() || p.scoring.is_some() || p.prefix_score.is_some();
    if scored && exp.probes.is_empty() {
        return Err(
            "probing.cv, probing.scoring, probing.prefix_score: no [[probe]] to apply them to"
                .into(),
        );
    }
    if let Some(k) = p.cv {
        if k < 2 {
            return Err(format!(
                "probing.cv (--probe-cv): {k} folds, cross-validation needs at least 2"
            ));
        }
    }
    if p.scoring.is_some() {
        for probe in &exp.probes {
            scoring_for(exp, probe)?;
        }
    }
    if p.prefix_score.is_some() {
        // A prefix alone also replaces the default tags (`<prefix>test_score`).
        let clash = (p.cv.is_some() && exp.probes.len() > 1) || groups_of_one(exp) > 1;
        if clash {
            return Err(format!(
                "{PREFIX}: the {} probes would log the same tags under one prefix; leave it unset \
                 to have each probe's tags prefixed with its name",
                exp.probes.len()
            ));
        }
    }
    for probe in exp.probes.iter().filter(|_| p.cv.is_some()) {
        if probe.tasks.as_ref().is_some_and(|t| t.len() > 1) {
            return Err(format!(
                "probing.cv (--probe-cv): a {} probe on {} label columns; cross-validation \
                 takes one column per probe (give each column its own [[probe]])",
                probe.kind.name(),
                probe.tasks.as_ref().map_or(1, Vec::len)
            ));
        }
    }
    Ok(())
}

/// How many groups of `[[probe]]` hold one probe (each one callback whose scored tags carry no
/// task name).
fn groups_of_one(exp: &Experiment) -> usize {
    let mut groups: Vec<usize> = exp.probes.iter().map(|p| p.group).collect();
    groups.sort_unstable();
    let count = |g: usize| exp.probes.iter().filter(|p| p.group == g).count();
    groups.dedup();
    groups.into_iter().filter(|&g| count(g) == 1).count()
}

/// The kind of `probe`.
fn kind(probe: &ProbeSpec) -> ProbeKind {
    if probe.kind.is_classifier() {
        ProbeKind::Classifier
    } else {
        ProbeKind::Regressor
    }
}

/// The scoring `probe` takes from `[probing] scoring`: one name as it is, or the names of a list
/// that score its kind (nidl's default when none is set).
fn scoring_for(exp: &Experiment, probe: &ProbeSpec) -> Result<Scoring, String> {
    let err = |e: nidl::Error| format!("{SCORING}: {e}");
    let what = format!("the {} probe", probe.kind.name());
    let scoring = match &exp.probing.scoring {
        None => Scoring::Default,
        Some(ScoringSpec::One(name)) => {
            let s = Scoring::parse(&[name.as_str()], true).map_err(err)?;
            s.keyed(&what, kind(probe)).map_err(err)?;
            s
        }
        Some(ScoringSpec::Many(names)) => {
            let names: Vec<&str> = names.iter().map(String::as_str).collect();
            Scoring::parse(&names, false).map_err(err)?;
            let of_kind: Vec<&str> = names
                .iter()
                .copied()
                .filter(|n| Scorer::parse(n).is_ok_and(|s| s.kind() == kind(probe)))
                .collect();
            if of_kind.is_empty() {
                return Err(format!(
                    "{SCORING}: none of {} scores a {}, but {what} is one",
                    names.join(", "),
                    kind(probe).name()
                ));
            }
            Scoring::parse(&of_kind, false).map_err(err)?
        }
    };
    Ok(scoring)
}

/// The score selection of a probe whose tags are prefixed, when the run has several probes and
/// no `prefix_score`, with `name` and a slash.
fn selection(exp: &Experiment, probe: &ProbeSpec, name: &str) -> Result<ScoreSelection, String> {
    let prefix = match &exp.probing.prefix_score {
        Some(p) => p.clone(),
        None if exp.probes.len() > 1 => format!("{name}/"),
        None => String::new(),
    };
    Ok(ScoreSelection::new(scoring_for(exp, probe)?, prefix))
}

/// `probing` (the callback of the probe `probe`, alone in its group, tagged `name`) logging the
/// selected scores when `[probing] scoring` or `prefix_score` is set; unchanged otherwise.
pub fn scored<Q: ProbeTask>(
    exp: &Experiment,
    probing: Probing<Q>,
    probe: &ProbeSpec,
    name: &str,
) -> Result<Probing<Q>, String> {
    let p = &exp.probing;
    if p.scoring.is_none() && p.prefix_score.is_none() {
        return Ok(probing);
    }
    probing
        .scored(&selection(exp, probe, name)?)
        .map_err(|e| format!("{SCORING}: {e}"))
}

/// `probing` (a multi-task group's callback) logging each task's selected scores under its name
/// when `[probing] scoring` or `prefix_score` is set (each task the names of a list that score
/// its kind); unchanged otherwise.
pub fn scored_tasks(
    exp: &Experiment,
    probing: MultitaskProbing,
    group: &[(usize, &ProbeSpec)],
) -> Result<MultitaskProbing, String> {
    let p = &exp.probing;
    if p.scoring.is_none() && p.prefix_score.is_none() {
        return Ok(probing);
    }
    let prefix = p.prefix_score.clone().unwrap_or_default();
    let selections = group
        .iter()
        .map(|(_, probe)| {
            Ok(ScoreSelection::new(
                scoring_for(exp, probe)?,
                prefix.clone(),
            ))
        })
        .collect::<Result<Vec<_>, String>>()?;
    probing
        .scored_tasks(&selections)
        .map_err(|e| format!("{SCORING}: {e}"))
}

/// The names the probes of `group` log under: a probe alone its `name` or its type's
/// (`task_probe` builds it), the probes of a multi-task group their `name` or `task<j>`.
fn tag_names(
    group: &[(usize, &ProbeSpec)],
    task_probe: fn(&ProbeSpec) -> TaskProbe,
) -> Vec<String> {
    group
        .iter()
        .enumerate()
        .map(|(j, (_, p))| match (&p.name, group.len()) {
            (Some(n), _) => n.clone(),
            (None, 1) => task_probe(p).name().to_string(),
            (None, _) => format!("task{j}"),
        })
        .collect()
}

/// With `[probing] cv`, one cross-validated probing callback per probe of `group` (on its label
/// column of `sets`' train set, tagged with its name before the keys when the run has several
/// probes), scheduled by `opts`; none otherwise. `task_probe` builds each probe.
pub fn cv_callbacks(
    exp: &Experiment,
    group: &[(usize, &ProbeSpec)],
    sets: &ProbingSets,
    opts: &ProbeOptions,
    task_probe: fn(&ProbeSpec) -> TaskProbe,
) -> Result<Vec<Box<dyn Callback>>, String> {
    let Some(folds) = exp.probing.cv else {
        return Ok(Vec::new());
    };
    let names = tag_names(group, task_probe);
    let err = |e: nidl::Error| format!("probing.cv (--probe-cv): {e}");
    group
        .iter()
        .zip(&names)
        .enumerate()
        .map(|(column, ((_, probe), name))| {
            let cv = CrossValidatedProbing::cross_validated(
                sets.clone(),
                task_probe(probe),
                column,
                folds,
            )
            .map_err(err)?;
            let cv = cv
                .scored(&selection(exp, probe, name)?)
                .map_err(|e| format!("{SCORING}: {e}"))?;
            Ok(opts.scheduled(cv))
        })
        .collect()
}

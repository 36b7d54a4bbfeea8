//! What kind of metric a tag holds — a bounded score, an error, a loss — which decides whether
//! smaller is better (the run's final table) and the axis a figure draws it on.

/// The kind of a metric tag, from its last path segment (`accuracy` in
/// `LogisticRegression/accuracy`, `R2` in `KNeighborsRegressor/regressor 1/R2`) and, for losses,
/// its first (`loss/val`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MetricKind {
    /// A score bounded above by 1 (accuracy, balanced accuracy, F1, precision, recall, R2, PCC,
    /// explained variance, and the SSL metrics' `contrastive_accuracy`,
    /// `procrustes_similarity`, `procrustes_r2`, `kruskal_similarity`): better larger; drawn on
    /// an axis fitted to the data, never above 1 when they are not.
    Score,
    /// An error (MAE, MedAE, RMSE, MSE, and the SSL metrics' `alignment` and `uniformity`), or
    /// a cost of cross-validated probing (`fit_time`, `score_time`, the spread `cv/std/…`):
    /// better smaller; drawn on its own axis from 0 (fitted to the data when some are
    /// negative, as the uniformity, a log, always is).
    Error,
    /// A loss (`loss/*` tags): better smaller.
    Loss,
    /// Anything else: taken as better larger; its own axis fitted to the data.
    Other,
}

impl MetricKind {
    /// The kind of metric `tag` (`LogisticRegression/accuracy`, `task0/MSE`, `loss/val`, ...).
    ///
    /// ```
    /// use nidl::log::MetricKind;
    /// assert_eq!(MetricKind::of("KNeighborsRegressor/regressor 1/R2"), MetricKind::Score);
    /// assert_eq!(MetricKind::of("Ridge/average/MAE"), MetricKind::Error);
    /// assert_eq!(MetricKind::of("loss/train"), MetricKind::Loss);
    /// assert_eq!(MetricKind::of("ssl/uniformity"), MetricKind::Error);
    /// assert_eq!(MetricKind::of("ssl/kruskal_similarity"), MetricKind::Score);
    /// assert_eq!(MetricKind::of("fold0/lr_fit_time"), MetricKind::Error);
    /// assert_eq!(MetricKind::of("cv/std/test_score"), MetricKind::Error);
    /// ```
    pub fn of(tag: &str) -> MetricKind {
        let first = tag.split('/').next().unwrap_or(tag);
        let name = tag.rsplit('/').next().unwrap_or(tag);
        if first == "loss" {
            return MetricKind::Loss;
        }
        if tag.starts_with("cv/std/") || name.ends_with("fit_time") || name.ends_with("score_time")
        {
            return MetricKind::Error;
        }
        let ssl_score = [
            "contrastive_accuracy",
            "procrustes_similarity",
            "procrustes_r2",
            "kruskal_similarity",
        ];
        let score = ["accuracy", "balanced_accuracy", "R2", "PCC", "EVar"].contains(&name)
            || ssl_score.contains(&name)
            || ["f1", "precision", "recall"]
                .iter()
                .any(|p| name == *p || name.starts_with(&format!("{p}_")));
        if score {
            MetricKind::Score
        } else if ["MAE", "MedAE", "RMSE", "MSE", "alignment", "uniformity"].contains(&name) {
            MetricKind::Error
        } else {
            MetricKind::Other
        }
    }

    /// Whether a smaller value is better: losses and errors.
    pub fn lower_is_better(self) -> bool {
        matches!(self, MetricKind::Loss | MetricKind::Error)
    }

    /// The y-axis label of a panel of this kind.
    pub fn axis_label(self) -> &'static str {
        match self {
            MetricKind::Score => "score",
            MetricKind::Error => "error",
            MetricKind::Loss => "loss",
            MetricKind::Other => "value",
        }
    }
}

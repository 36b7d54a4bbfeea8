//! The defaults of an experiment that depend on its method and data, and its checks: keys that
//! do not apply to the method, format, encoder or probe chosen, values out of range, and label
//! names not in `data.label_names` — each error naming the key.

use super::checks::{at_least, method_name, number, only_allowed};
use super::schema::{
    seed_mnist_views, ConvBlockSpec, Data, EncoderKind, Experiment, Format, Method, MethodOptions,
    ProbeKindSpec, ProbeSpec, TabularView, MLP_PROBE_HIDDEN,
};

impl MethodOptions {
    /// Each key and whether it is set.
    fn set_keys(&self) -> Vec<(&'static str, bool)> {
        let mut keys = vec![
            ("temperature", self.temperature.is_some()),
            ("sigma", self.sigma.is_some()),
            ("kernel", self.kernel.is_some()),
            ("lambda", self.lambda.is_some()),
            ("proj_hidden", self.proj_hidden.is_some()),
            ("proj_output", self.proj_output.is_some()),
            ("warmup_epochs", self.warmup_epochs.is_some()),
            ("beta", self.beta.is_some()),
            ("latent_dim", self.latent_dim.is_some()),
            ("default_dist", self.default_dist.is_some()),
        ];
        keys.extend(super::dino::set_keys(self));
        keys
    }
}

impl Data {
    /// Each format-specific key and whether it is set.
    fn set_keys(&self) -> [(&'static str, bool); 17] {
        [
            ("dir", self.dir.is_some()),
            ("train_x", self.train_x.is_some()),
            ("train_y", self.train_y.is_some()),
            ("val_x", self.val_x.is_some()),
            ("val_y", self.val_y.is_some()),
            ("probe_train_x", self.probe_train_x.is_some()),
            ("probe_train_y", self.probe_train_y.is_some()),
            ("probe_test_x", self.probe_test_x.is_some()),
            ("probe_test_y", self.probe_test_y.is_some()),
            ("file", self.file.is_some()),
            ("train_file", self.train_file.is_some()),
            ("val_file", self.val_file.is_some()),
            ("features", self.features.is_some()),
            ("labels", self.labels.is_some()),
            ("split_column", self.split_column.is_some()),
            ("train_split", self.train_split.is_some()),
            ("val_split", self.val_split.is_some()),
        ]
    }

    /// The format's name as written in the file.
    pub fn format_name(&self) -> &'static str {
        match self.format {
            Format::Mnist => "mnist",
            Format::Openbhb => "openbhb",
            Format::Npy => "npy",
            Format::Csv => "csv",
        }
    }
}

impl ProbeSpec {
    /// Each option key and whether it is set.
    fn set_keys(&self) -> [(&'static str, bool); 5] {
        [
            ("c", self.c.is_some()),
            ("max_iter", self.max_iter.is_some()),
            ("alpha", self.alpha.is_some()),
            ("k", self.k.is_some()),
            ("hidden", self.hidden.is_some()),
        ]
    }
}

impl Experiment {
    /// Fills the defaults that depend on the method or the data (`input`: the `[C, H, W]` of
    /// image samples, `None` for feature vectors; `label_names`: the format's default names),
    /// and refuses keys that do not apply to the method, encoder, data or probe chosen.
    pub fn fill_defaults(
        &mut self,
        input: Option<[usize; 3]>,
        label_names: Vec<String>,
    ) -> Result<(), String> {
        let m = self.run.method;
        let (lr, wd) = m.default_lr_wd();
        let cwd_logs =
            std::path::absolute("lightning_logs").map_err(|e| format!("run.log_dir: {e}"))?;
        self.run.log_dir.get_or_insert(cwd_logs);
        self.run.lr.get_or_insert(lr);
        self.run.weight_decay.get_or_insert(wd);
        let o = &mut self.method;
        let allowed: &[&str] = match m {
            Method::Simclr => &["temperature"],
            Method::Yaware => &["temperature", "sigma", "kernel"],
            Method::Barlow => &["lambda", "proj_hidden", "proj_output", "warmup_epochs"],
            Method::Dcl => &[
                "temperature",
                "sigma",
                "proj_hidden",
                "proj_output",
                "warmup_epochs",
            ],
            Method::Vae => &["beta", "latent_dim", "default_dist"],
            Method::Dino => &super::dino::METHOD_KEYS,
        };
        let owner = format!("run.method = \"{}\"", method_name(m));
        only_allowed(&o.set_keys(), allowed, "method", &owner)?;
        match m {
            Method::Simclr => {
                o.temperature.get_or_insert(0.1);
            }
            Method::Yaware => {
                o.temperature.get_or_insert(0.1);
                o.sigma.get_or_insert(4.0);
                o.kernel.get_or_insert_with(|| "gaussian".into());
            }
            Method::Barlow => {
                o.lambda.get_or_insert(5e-3);
                o.warmup_epochs.get_or_insert(10);
            }
            Method::Dcl => {
                o.temperature.get_or_insert(0.1);
                o.warmup_epochs.get_or_insert(10);
            }
            Method::Vae => {
                o.beta.get_or_insert(1.0);
                o.latent_dim.get_or_insert(32);
                o.default_dist.get_or_insert_with(|| "normal".into());
            }
            Method::Dino => super::dino::fill_method_defaults(o),
        }
        let allowed: &[&str] = match self.data.format {
            Format::Mnist | Format::Openbhb => &["dir"],
            Format::Npy => &[
                "train_x",
                "train_y",
                "val_x",
                "val_y",
                "probe_train_x",
                "probe_train_y",
                "probe_test_x",
                "probe_test_y",
            ],
            Format::Csv => &[
                "file",
                "train_file",
                "val_file",
                "features",
                "labels",
                "split_column",
                "train_split",
                "val_split",
            ],
        };
        let owner = format!("format = \"{}\"", self.data.format_name());
        only_allowed(&self.data.set_keys(), allowed, "data", &owner)?;
        let names = self.data.label_names.get_or_insert(label_names).clone();
        if m == Method::Yaware {
            self.data.ssl_label.get_or_insert_with(|| names[0].clone());
        } else if self.data.ssl_label.is_some() {
            return Err(format!(
                "data.ssl_label: does not apply to {owner} (only to yaware)"
            ));
        }
        let e = &mut self.encoder;
        let default_kind = match input {
            None => EncoderKind::Mlp,
            Some([1, 28, 28]) => EncoderKind::Lenet,
            Some(_) => EncoderKind::Convnet,
        };
        let kind = *e.kind.get_or_insert(default_kind);
        let set = [
            ("hidden", e.hidden.is_some()),
            ("batch_norm", e.batch_norm.is_some()),
            ("latent", e.latent.is_some()),
            ("blocks", e.blocks.is_some()),
        ];
        let (allowed, name): (&[&str], _) = match kind {
            EncoderKind::Mlp => (&["hidden", "batch_norm"], "mlp"),
            EncoderKind::Lenet => (&["latent"], "lenet"),
            EncoderKind::Convnet => (&["latent", "blocks"], "convnet"),
        };
        only_allowed(&set, allowed, "encoder", &format!("kind = \"{name}\""))?;
        match kind {
            EncoderKind::Mlp => {
                e.hidden.get_or_insert_with(|| vec![64, 32]);
                e.batch_norm.get_or_insert(false);
            }
            EncoderKind::Lenet => {
                e.latent.get_or_insert(32);
            }
            EncoderKind::Convnet => {
                e.latent.get_or_insert(32);
                e.blocks.get_or_insert_with(|| {
                    [16, 32]
                        .map(|channels| ConvBlockSpec {
                            channels,
                            kernel: 3,
                            stride: 1,
                            padding: 0,
                            pool: 2,
                        })
                        .to_vec()
                });
            }
        }
        super::dino::fill_view_defaults(self, input)?;
        let v = &mut self.views;
        if m == Method::Vae {
            // One plain view: the VAE reconstructs the sample itself (MNIST pixels in [0, 1],
            // what a bernoulli decoder predicts; no Normalize).
            if input.is_some() {
                v.image.get_or_insert_with(Vec::new);
            } else {
                v.tabular.get_or_insert_with(Vec::new);
            }
        }
        if input.is_some() {
            if v.tabular.is_some() {
                return Err("views.tabular: the samples are images (set views.image)".into());
            }
            if self.data.format == Format::Mnist && m != Method::Vae {
                v.image.get_or_insert_with(seed_mnist_views);
                v.mean.get_or_insert_with(|| vec![0.5]);
                v.std.get_or_insert_with(|| vec![0.5]);
            } else {
                v.image.get_or_insert_with(Vec::new);
            }
        } else {
            let set = [
                ("image", v.image.is_some()),
                ("mean", v.mean.is_some()),
                ("std", v.std.is_some()),
            ];
            only_allowed(&set, &[], "views", "feature vectors (set views.tabular)")?;
            v.tabular.get_or_insert_with(|| {
                vec![
                    TabularView::Mask { prob: 0.8 },
                    TabularView::Noise { std: 0.5 },
                ]
            });
        }
        for (i, p) in self.probes.iter_mut().enumerate() {
            match (&p.task, &p.tasks) {
                (Some(_), Some(_)) => {
                    return Err(format!(
                        "probe[{i}]: set task (one label column) or tasks (several), not both"
                    ))
                }
                (None, Some(_)) if p.kind.is_classifier() => {
                    return Err(format!(
                        "probe[{i}].tasks: kind = \"{}\" predicts one label column (set task); \
                         only ridge, knn_regressor and mlp_regressor take several",
                        p.kind.name()
                    ))
                }
                (None, None) => p.task = Some(names[0].clone()),
                _ => {}
            }
            let allowed: &[&str] = match p.kind {
                ProbeKindSpec::Logreg => &["c", "max_iter"],
                ProbeKindSpec::Ridge => &["alpha"],
                ProbeKindSpec::Knn | ProbeKindSpec::KnnRegressor => &["k"],
                ProbeKindSpec::Mlp | ProbeKindSpec::MlpRegressor => {
                    &["hidden", "alpha", "max_iter"]
                }
            };
            let owner = format!("kind = \"{}\"", p.kind.name());
            only_allowed(&p.set_keys(), allowed, &format!("probe[{i}]"), &owner)?;
            match p.kind {
                ProbeKindSpec::Logreg => {
                    p.c.get_or_insert(1.0);
                    p.max_iter.get_or_insert(200);
                }
                ProbeKindSpec::Ridge => {
                    p.alpha.get_or_insert(1.0);
                }
                ProbeKindSpec::Knn | ProbeKindSpec::KnnRegressor => {
                    p.k.get_or_insert(5);
                }
                ProbeKindSpec::Mlp | ProbeKindSpec::MlpRegressor => {
                    p.hidden.get_or_insert_with(|| MLP_PROBE_HIDDEN.to_vec());
                    p.alpha.get_or_insert(1e-4);
                    p.max_iter.get_or_insert(200);
                }
            }
        }
        Ok(())
    }
}

impl Experiment {
    /// Checks the ranges of the values and that `ssl_label` and each probe's `task` or `tasks` are among
    /// `label_names` (call after [`fill_defaults`](Self::fill_defaults)); errors name the key.
    pub fn check(&self) -> Result<(), String> {
        let r = &self.run;
        at_least("run.epochs", r.epochs, 1)?;
        at_least("run.batch_size", r.batch_size, 2)?;
        number("run.lr", r.lr, true)?;
        number("run.weight_decay", r.weight_decay, false)?;
        if let Some(n) = r.limit_train_batches {
            at_least("run.limit_train_batches", n, 1)?;
        }
        at_least("run.log_every_n_steps", r.log_every_n_steps, 1)?;
        if r.resume_despite_changes && r.resume.is_none() {
            return Err("run.resume_despite_changes: only with run.resume".into());
        }
        super::monitor::check(self)?;
        if self.metrics.ssl && self.metrics.every > 0 && r.limit_val_batches == Some(0) {
            return Err(
                "metrics.ssl (--ssl-metrics): measures the validation views, but \
                        run.limit_val_batches (--limit-val-batches) is 0"
                    .into(),
            );
        }
        let m = &self.method;
        super::dino::check(self)?;
        number("method.temperature", m.temperature, true)?;
        number("method.sigma", m.sigma, true)?;
        number("method.lambda", m.lambda, false)?;
        number("method.beta", m.beta, false)?;
        if let Some(l) = m.latent_dim {
            at_least("method.latent_dim", l, 1)?;
        }
        if let Some(d) = &m.default_dist {
            d.parse::<nidl::loss::ReconstructionDistribution>()
                .map_err(|_| {
                    format!("method.default_dist: must be normal, laplace or bernoulli, got '{d}'")
                })?;
        }
        if self.run.method == Method::Vae && self.metrics.ssl {
            return Err("metrics.ssl (--ssl-metrics): does not apply to run.method = \"vae\" (the SSL metrics compare two views' projections; a VAE trains on one view and has no projection head)".into());
        }
        for (key, v) in [
            ("method.proj_hidden", m.proj_hidden),
            ("method.proj_output", m.proj_output),
        ] {
            if let Some(v) = v {
                at_least(key, v, 1)?;
            }
        }
        for w in self.encoder.hidden.iter().flatten() {
            at_least("encoder.hidden", *w, 1)?;
        }
        if self.encoder.hidden.as_ref().is_some_and(Vec::is_empty) {
            return Err(
                "encoder.hidden: needs at least one width (the last is the latent size)".into(),
            );
        }
        if let Some(l) = self.encoder.latent {
            at_least("encoder.latent", l, 1)?;
        }
        if let Some(n) = self.probing.train_limit {
            at_least("probing.train_limit", n, 10)?;
        }
        if let Some(n) = self.probing.test_limit {
            at_least("probing.test_limit", n, 1)?;
        }
        super::scored::check(self)?;
        let names = self.data.label_names.as_deref().unwrap_or(&[]);
        if names.is_empty() {
            return Err("data.label_names: needs at least one name".into());
        }
        if let Some(i) = (1..names.len()).find(|&i| names[..i].contains(&names[i])) {
            return Err(format!("data.label_names: '{}' given twice", names[i]));
        }
        let mut tasks: Vec<(String, &str)> = Vec::new();
        if let Some(s) = &self.data.ssl_label {
            tasks.push(("data.ssl_label".into(), s));
        }
        for (i, p) in self.probes.iter().enumerate() {
            let key = format!("probe[{i}]");
            number(&format!("{key}.c"), p.c, true)?;
            number(&format!("{key}.alpha"), p.alpha, false)?;
            if let Some(k) = p.k {
                at_least(&format!("{key}.k"), k, 1)?;
            }
            if let Some(n) = p.max_iter {
                at_least(&format!("{key}.max_iter"), n, 1)?;
            }
            for w in p.hidden.iter().flatten() {
                at_least(&format!("{key}.hidden"), *w, 1)?;
            }
            if p.tasks.as_ref().is_some_and(Vec::is_empty) {
                return Err(format!("{key}.tasks: needs at least one label column"));
            }
            let names_of_p = p.task_names();
            if let Some(j) =
                (1..names_of_p.len()).find(|&j| names_of_p[..j].contains(&names_of_p[j]))
            {
                return Err(format!("{key}.tasks: '{}' given twice", names_of_p[j]));
            }
            if p.tasks.is_some() {
                if let Some(o) =
                    (0..self.probes.len()).find(|&o| o != i && self.probes[o].group == p.group)
                {
                    return Err(format!(
                        "{key}.tasks: a probe on several label columns must be alone in its group \
                         (probe[{o}] has group = {} too: a group's probes get one column each)",
                        p.group
                    ));
                }
            }
            for t in names_of_p {
                tasks.push((p.tasks_key(i), t));
            }
        }
        for (key, name) in tasks {
            if !names.iter().any(|n| n == name) {
                return Err(format!(
                    "{key}: '{name}' is not one of data.label_names ({})",
                    names.join(", ")
                ));
            }
        }
        Ok(())
    }
}

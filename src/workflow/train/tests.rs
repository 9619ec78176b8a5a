use super::*;
use crate::crop::Template;
use crate::embed::checkpoint::CheckpointState;
use crate::embed::train::DataSummary;

fn plan(source: TrainSource) -> TrainPlan {
    TrainPlan {
        config: TrainConfig::default(),
        crops: TrainPlan::crops_for(
            BackboneKind::SmallCnn,
            &source,
            PreprocessSettings::default(),
        ),
        source,
        dataset: Some("/data/lfw".into()),
        validation: Some(ValidationPlan::default()),
        cache_root: "/cache".into(),
        checkpoints: Some("/runs/a/checkpoints".into()),
        max_steps: None,
        resume: None,
    }
}

fn mining() -> TrainSource {
    TrainSource::Mining {
        split: TrainSplit::DevTrain,
        max_people: None,
    }
}

#[test]
fn the_backbone_crop_yields_to_each_setting_the_user_changed() {
    let dlib = BackboneKind::DlibResnet;
    assert_eq!(crop_over_backbone(dlib, CropConfig::default()), dlib.crop());
    let user = CropConfig {
        size: 160,
        min_score: 0.95,
        ..CropConfig::default()
    };
    let got = crop_over_backbone(dlib, user);
    assert_eq!((got.size, got.min_score), (160, 0.95));
    assert_eq!(
        (got.align, got.template, got.margin),
        (true, Template::Dlib, 0.0)
    );
    // A backbone without a crop of its own takes the user's as it is.
    assert_eq!(crop_over_backbone(BackboneKind::SmallCnn, user), user);
}

#[test]
fn a_model_keeps_the_crops_it_was_trained_on_when_they_are_known() {
    let aligned = PreprocessSettings {
        crop: CropConfig {
            align: true,
            ..CropConfig::default()
        },
        ..PreprocessSettings::default()
    };
    let known = plan(TrainSource::Triplets {
        file: None,
        crops: Some(aligned),
    });
    assert_eq!(known.crops, aligned);
    assert_eq!(known.model_crop(), Some(aligned.crop));
    let unknown = plan(TrainSource::Triplets {
        file: None,
        crops: None,
    });
    assert_eq!(unknown.model_crop(), None);
    assert_eq!(plan(mining()).model_crop(), Some(CropConfig::default()));
}

fn write_state(dir: &std::path::Path, plan: Option<&TrainPlan>) -> std::path::PathBuf {
    let step = dir.join("checkpoints/step-000007");
    std::fs::create_dir_all(&step).unwrap();
    let state = CheckpointState {
        step: 7,
        config: TrainConfig {
            epochs: 2,
            seed: 9,
            ..TrainConfig::default()
        },
        data: DataSummary {
            source: "test".into(),
            triplets: None,
            images: 10,
            people: Some(2),
            crop_size: 100,
            crop: None,
            identities: vec![],
        },
        initial_weights: "random".into(),
        history: vec![],
        plan: plan.map(|p| serde_json::to_value(p).unwrap()),
        files: Default::default(),
    };
    std::fs::write(step.join("state.json"), serde_json::to_vec(&state).unwrap()).unwrap();
    step
}

#[test]
fn a_resumed_plan_comes_from_the_checkpoint_with_only_the_epochs_changed() {
    let dir = tempfile::tempdir().unwrap();
    let original = plan(mining());
    let step = write_state(dir.path(), Some(&original));
    // The folder of checkpoints names its newest one.
    let (resumed, note) =
        TrainPlan::resumed(&dir.path().join("checkpoints"), Some(5), || None).unwrap();
    assert!(note.is_none());
    assert_eq!(resumed.config.epochs, 5);
    assert_eq!(
        resumed.config.seed, 9,
        "network settings are the checkpoint's"
    );
    assert_eq!(
        (&resumed.source, &resumed.dataset),
        (&original.source, &original.dataset)
    );
    assert_eq!(resumed.resume.as_deref(), Some(step.as_path()));
    assert_eq!(resumed.checkpoints, Some(dir.path().join("checkpoints")));
    let (kept, _) = TrainPlan::resumed(&step, None, || None).unwrap();
    assert_eq!(kept.config.epochs, 2);
}

#[test]
fn an_older_checkpoint_needs_the_settings_given_again() {
    let dir = tempfile::tempdir().unwrap();
    let step = write_state(dir.path(), None);
    let e = TrainPlan::resumed(&step, None, || None).err().unwrap();
    assert!(e.to_string().contains("older version"), "{e}");
    let (resumed, note) = TrainPlan::resumed(&step, None, || Some(plan(mining()))).unwrap();
    assert!(note.unwrap().contains("older version"));
    assert_eq!(resumed.config.seed, 9);
}

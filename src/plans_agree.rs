//! The CLI and the GUI are adapters of the same workflows: for the same settings they must
//! build the same plan. Each test parses a command line as `siamese-face` would, sets the
//! matching panel the way a user would, and compares the two plans.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::Parser;
use siamese_face::Dataset;
use siamese_face::crop::CropConfig;
use siamese_face::embed::BackboneKind;
use siamese_face::embed::train::TrainConfig;
use siamese_face::preprocess::PreprocessSettings;
use siamese_face::triplets::{RecordedCrops, Sidecar};

use crate::app::{FrameStats, evaluate_panel, sample_dataset_dir, training_panel, triplets_panel};
use crate::cli::{Cli, Command};

fn sample() -> Dataset {
    let dir = sample_dataset_dir().expect("assets/sample-faces is part of the repository");
    Dataset::open(dir).expect("the shipped sample opens")
}

fn command(args: &[&str]) -> Command {
    let mut all = vec!["siamese-face"];
    all.extend_from_slice(args);
    match Cli::try_parse_from(all) {
        Ok(cli) => cli.command.expect("a subcommand"),
        Err(e) => panic!("{e}"),
    }
}

fn text(p: &Path) -> &str {
    p.to_str().expect("temporary paths are UTF-8")
}

fn cli_train_plan(args: &[&str]) -> siamese_face::workflow::train::TrainPlan {
    match command(args) {
        Command::Train(t) => t.plan().expect("a valid plan"),
        other => panic!("not train: {other:?}"),
    }
}

/// The Training page's inputs: the open dataset, the Triplets page's file and sidecar.
fn inputs<'a>(
    dataset: &'a Arc<Dataset>,
    file: Option<PathBuf>,
    sidecar: Option<&'a Sidecar>,
    cache: &Path,
    frames: &'a FrameStats,
) -> training_panel::Inputs<'a> {
    training_panel::Inputs {
        triplets: None,
        triplets_file: file,
        sidecar,
        dataset: Some(dataset),
        device: None,
        crops: (PreprocessSettings::default(), cache.to_path_buf()),
        frames,
    }
}

#[test]
fn training_on_a_triplet_file_plans_the_same_run_from_either_side() {
    let dir = tempfile::tempdir().unwrap();
    let dataset = Arc::new(sample());
    let npy = dir.path().join("t.npy");
    // Triplets cut as aligned dlib chips: the run must keep those crops.
    let crops = PreprocessSettings {
        crop: BackboneKind::DlibResnet.crop(),
        ..PreprocessSettings::default()
    };
    let sidecar = Sidecar {
        dataset: dataset.root.clone(),
        seed: 0,
        crops: RecordedCrops::Settings(crops),
        fallback_crops: vec![],
        triplets: vec![],
    };
    sidecar.save(&npy).unwrap();
    let (out, cache) = (dir.path().join("model"), dir.path().join("cache"));
    let cli = cli_train_plan(&[
        "train",
        "--triplets",
        text(&npy),
        "--out",
        text(&out),
        "--cache",
        text(&cache),
    ]);
    let frames = FrameStats::default();
    let panel = training_panel::TrainingPanel::new();
    let gui = panel.plan(
        &inputs(&dataset, Some(npy.clone()), Some(&sidecar), &cache, &frames),
        out.join("checkpoints"),
    );
    assert_eq!(cli, gui);
    assert_eq!(
        cli.crops, crops,
        "validation crops are cut as the triplets were"
    );
    assert_eq!(cli.model_crop(), Some(crops.crop));
}

#[test]
fn mining_with_dlib_plans_the_same_run_from_either_side() {
    let dir = tempfile::tempdir().unwrap();
    let dataset = Arc::new(sample());
    let (out, cache) = (dir.path().join("model"), dir.path().join("cache"));
    let cli = cli_train_plan(&[
        "train",
        "--mine",
        "--data",
        text(&dataset.root),
        "--backbone",
        "dlib-resnet",
        "--epochs",
        "3",
        "--flip-average",
        "--out",
        text(&out),
        "--cache",
        text(&cache),
    ]);
    let mut panel = training_panel::TrainingPanel::new();
    let cfg = TrainConfig {
        backbone: BackboneKind::DlibResnet,
        epochs: 3,
        flip_average: true,
        ..TrainConfig::default()
    };
    panel.set_settings(cfg, true, true);
    let frames = FrameStats::default();
    let gui = panel.plan(
        &inputs(&dataset, None, None, &cache, &frames),
        out.join("checkpoints"),
    );
    assert_eq!(cli, gui);
    // Unchanged crop settings give the backbone's own crop on both sides.
    assert_eq!(cli.crops.crop, BackboneKind::DlibResnet.crop());
}

#[test]
fn triplet_generation_plans_the_same_job_from_either_side() {
    let dir = tempfile::tempdir().unwrap();
    let dataset = sample();
    let cache = dir.path().join("cache");
    let cli = match command(&[
        "triplets",
        "--data",
        text(&dataset.root),
        "--out",
        text(&dir.path().join("t.npy")),
        "--cache",
        text(&cache),
    ]) {
        Command::Triplets(t) => t.plan().unwrap(),
        other => panic!("not triplets: {other:?}"),
    };
    let mut panel = triplets_panel::TripletsPanel::new();
    panel.set_cache_root(cache);
    assert_eq!(cli, panel.plan(&dataset));
    assert_eq!(cli.crops.crop, CropConfig::default());
}

#[test]
fn evaluation_plans_the_same_job_from_either_side() {
    let dir = tempfile::tempdir().unwrap();
    let dataset = sample();
    let (model, cache) = (dir.path().join("model"), dir.path().join("cache"));
    let cli = match command(&[
        "eval",
        "--data",
        text(&dataset.root),
        "--pairs",
        "pairsDevTest",
        "--model",
        text(&model),
        "--cache",
        text(&cache),
    ]) {
        Command::Eval(e) => e.plan(),
        other => panic!("not eval: {other:?}"),
    };
    let mut panel = evaluate_panel::EvaluatePanel::new();
    panel.set_cache_root(cache);
    assert_eq!(cli, panel.plan(&dataset, &model));
}

#[test]
fn preprocessing_plans_the_same_job_from_either_side() {
    let dir = tempfile::tempdir().unwrap();
    let dataset = sample();
    let cache = dir.path().join("cache");
    let cli = match command(&[
        "preprocess",
        "--data",
        text(&dataset.root),
        "--cache",
        text(&cache),
    ]) {
        Command::Preprocess(p) => p.plan().unwrap(),
        other => panic!("not preprocess: {other:?}"),
    };
    let egui = eframe::egui::Context::default();
    let mut panel = crate::app::detection_panel::DetectionPanel::new(&egui);
    panel.set_cache_root(cache);
    assert_eq!(cli, panel.plan(&dataset));
}

fn people_command(args: &[&str]) -> crate::cli::people_cmd::ModelCommand {
    use crate::cli::people_cmd::PeopleCommand;
    match command(args) {
        Command::People(p) => match p.command {
            PeopleCommand::WithModel(c) => c,
            other => panic!("not a model command: {other:?}"),
        },
        other => panic!("not people: {other:?}"),
    }
}

#[test]
fn enrolling_a_dropped_folder_is_people_enrol_of_it() {
    use crate::cli::people_cmd::{ModelCommand, enrol_plan};
    let dir = sample_dataset_dir().expect("assets/sample-faces is part of the repository");
    let ModelCommand::Enrol {
        paths, name, pick, ..
    } = people_command(&["people", "enrol", text(&dir)])
    else {
        panic!("not enrol")
    };
    let cli = enrol_plan(&paths, name.as_deref(), pick.into()).expect("a folder of people");
    let panel = crate::app::people_panel::PeoplePanel::new();
    let (gui, _) = panel.drop_plans(dir.clone(), true);
    assert_eq!(Some(cli), gui);

    // Photos of one person: --name on the command line, the name typed in the panel.
    let photo = dir.join("Colin_Powell/Colin_Powell_0001.jpg");
    let ModelCommand::Enrol {
        paths, name, pick, ..
    } = people_command(&["people", "enrol", "--name", "Colin", text(&photo)])
    else {
        panic!("not enrol")
    };
    let cli = enrol_plan(&paths, name.as_deref(), pick.into()).expect("photos with a name");
    let mut panel = crate::app::people_panel::PeoplePanel::new();
    panel.set_name("Colin");
    assert_eq!(Some(cli), panel.drop_plans(photo, true).0);
}

#[test]
fn indexing_a_dropped_folder_is_people_index_of_it() {
    use crate::cli::people_cmd::{ModelCommand, index_plan};
    let dir = sample_dataset_dir().expect("assets/sample-faces is part of the repository");
    let ModelCommand::Index {
        inputs,
        keep_missing,
        suggest_threshold,
        ..
    } = people_command(&["people", "index", text(&dir)])
    else {
        panic!("not index")
    };
    let cli = index_plan(&inputs, !keep_missing, suggest_threshold);
    let panel = crate::app::people_panel::PeoplePanel::new();
    assert_eq!(Some(cli), panel.drop_plans(dir, false).1);
}

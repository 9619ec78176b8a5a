//! GUI tests: the real app rendered headless with egui_kittest on a wgpu adapter (Mesa's
//! lavapipe on machines without a GPU). They fail if nothing can be rendered.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::test_support::lfw_dir;
use eframe::egui::accesskit::Role;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use siamese_face::Dataset;
use siamese_face::backend::{self, BackendRequest};
use siamese_face::embed::BackboneKind;

use super::{SiameseApp, sample_dataset_dir};

fn sample() -> Dataset {
    let dir = sample_dataset_dir().expect("assets/sample-faces is part of the repository");
    Dataset::open(dir).expect("the shipped sample opens")
}

fn harness(dataset: Dataset) -> Harness<'static, Option<SiameseApp>> {
    let cpu = backend::select_from(BackendRequest::Cpu, vec![]).unwrap();
    let mut dataset = Some(dataset);
    Harness::builder()
        .with_size([1280.0, 800.0])
        .wgpu()
        .build_ui_state(
            move |ui, app: &mut Option<SiameseApp>| {
                // Built on the first frame, so its worker threads wake this harness's context.
                let app = app.get_or_insert_with(|| {
                    SiameseApp::with_dataset(ui.ctx(), dataset.take().unwrap(), cpu.clone())
                });
                app.show(ui, None);
            },
            None,
        )
}

/// Clicks a page in the navigation.
fn goto(harness: &mut Harness<'static, Option<SiameseApp>>, page: &str) {
    harness.get_by_role_and_label(Role::Button, page).click();
    harness.run_steps(2);
}

/// Steps the harness (20 ms apart) until `done` holds for the app, failing after `secs`
/// seconds with "`what` never happened".
fn wait_until(
    harness: &mut Harness<'static, Option<SiameseApp>>,
    secs: u64,
    what: &str,
    done: impl Fn(&SiameseApp) -> bool,
) {
    let start = Instant::now();
    while !done(harness.state().as_ref().unwrap()) {
        assert!(
            start.elapsed() < Duration::from_secs(secs),
            "{what} never happened"
        );
        std::thread::sleep(Duration::from_millis(20));
        harness.step();
    }
}

/// Opens `path` in the Detection panel (CPU backend) and waits for the answer.
fn detect_in_panel(harness: &mut Harness<'static, Option<SiameseApp>>, path: std::path::PathBuf) {
    let cpu = burn::tensor::Device::flex();
    harness
        .state_mut()
        .as_mut()
        .unwrap()
        .detection
        .open(path, &cpu);
    wait_for_detection(harness);
}

/// Steps until the thumbnail workers are done (they run on real threads).
fn wait_for_thumbnails(harness: &mut Harness<'static, Option<SiameseApp>>) {
    let start = Instant::now();
    loop {
        harness.step();
        let thumbs = harness.state().as_ref().unwrap().dataset.thumbnails();
        if thumbs.pending() == 0 && thumbs.ready() > 0 {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "thumbnails never arrived"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    harness.run_steps(2);
}

fn save(image: &image::RgbaImage, name: &str) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/gui-tests");
    std::fs::create_dir_all(&dir).unwrap();
    image.save(dir.join(name)).unwrap();
}

/// Distinct colours in a rendered frame: a blank or failed render has one or two.
fn distinct_colours(image: &image::RgbaImage) -> usize {
    let mut colours: Vec<[u8; 4]> = image.pixels().step_by(7).map(|p| p.0).collect();
    colours.sort_unstable();
    colours.dedup();
    colours.len()
}

#[test]
fn dataset_panel_renders_the_sample() {
    let mut harness = harness(sample());
    harness.run_steps(3);
    harness
        .state_mut()
        .as_mut()
        .unwrap()
        .dataset
        .select_person("Laura_Bush");
    wait_for_thumbnails(&mut harness);

    harness.get_by_label("Images per person");
    harness.get_by_label("plain <person>/<image> folder");
    harness.get_by_label("Serena Williams  (5)");
    harness.get_by_label("Laura Bush");
    let thumbs = harness.state().as_ref().unwrap().dataset.thumbnails();
    // Six list icons plus Laura Bush's five photos (her first is shared with the list).
    assert_eq!(thumbs.ready(), 10);

    let image = harness.render().expect("the GUI renders on a wgpu adapter");
    assert_eq!((image.width(), image.height()), (1280, 800));
    assert!(distinct_colours(&image) > 500, "the frame looks blank");
    save(&image, "dataset_panel.png");
}

#[test]
fn navigation_switches_pages() {
    let mut harness = harness(sample());
    harness.run_steps(2);
    goto(&mut harness, "Evaluate");
    harness.get_by_label_contains("has no pair lists to evaluate on");
    goto(&mut harness, "Detection");
    harness.get_by_label("Face crops");
    goto(&mut harness, "Dataset");
    harness.get_by_label("Pair lists");
}

/// A small CNN trained for a few steps on the sample's centre crops, saved in `dir`.
fn tiny_model(dir: &std::path::Path) {
    use siamese_face::embed::train::{self, Control, TrainConfig, TrainData, TrainJob};
    use siamese_face::model::{self, ModelMeta};
    let ds = sample();
    let people = ds.people.iter().map(|p| p.name.clone()).collect();
    let crop = |rel: &str| {
        let img = siamese_face::imageio::load_rgb(&ds.image_root.join(rel)).unwrap();
        siamese_face::crop::centre_crop(&img, 100, 0.6)
    };
    let crops: Vec<[image::RgbImage; 3]> = siamese_face::triplets::draw(&ds, &people, 8, 1)
        .unwrap()
        .iter()
        .map(|s| [crop(&s.anchor), crop(&s.positive), crop(&s.negative)])
        .collect();
    let data = TrainData::Triplets(Arc::new(siamese_face::triplets::TripletArray::from_crops(
        &crops, 100,
    )));
    let cfg = TrainConfig {
        epochs: 1,
        batch_size: 8,
        checkpoint_every: 0,
        ..TrainConfig::default()
    };
    let job = TrainJob {
        data: &data,
        data_source: "sample".into(),
        config: cfg.clone(),
        validation: None,
        checkpoints: None,
        resume: None,
        initial: None,
        plan: None,
    };
    let (net, summary) = train::train(
        job,
        &burn::tensor::Device::flex(),
        &Control::default(),
        |_| {},
    )
    .unwrap();
    let meta = ModelMeta::new(&cfg, data.summary("sample"), &summary);
    model::save(&net, &meta, dir).unwrap();
}

#[test]
fn compare_panel_shows_both_faces_and_a_verdict() {
    let dir = tempfile::tempdir().unwrap();
    tiny_model(dir.path());
    let mut harness = harness(sample());
    let photo = |n: u32| {
        sample_dataset_dir()
            .unwrap()
            .join(format!("Laura_Bush/Laura_Bush_{n:04}.jpg"))
    };
    harness.run_steps(2);
    {
        let compare = &mut harness.state_mut().as_mut().unwrap().compare;
        compare.set_model_dir(dir.path().to_path_buf());
        compare.open_when_ready(0, photo(1));
        compare.open_when_ready(1, photo(1));
    }
    goto(&mut harness, "Compare");
    wait_until(&mut harness, 120, "a similarity", |app| {
        app.compare.similarity().is_some() && !app.compare.is_busy()
    });
    harness.run_steps(2);
    // The model was trained without validation pairs: it has no threshold, so no verdict.
    assert!(
        harness
            .state()
            .as_ref()
            .unwrap()
            .compare
            .verdict()
            .is_none()
    );
    harness.get_by_label_contains("No verdict: this model has no threshold");
    // With one chosen (as Evaluate's "Use this threshold" does), the model is loaded again.
    siamese_face::model::set_threshold(dir.path(), Some(0.5)).unwrap();
    harness
        .state_mut()
        .as_mut()
        .unwrap()
        .compare
        .set_model_dir(dir.path().to_path_buf());
    wait_until(&mut harness, 120, "a verdict", |app| {
        app.compare.verdict().is_some() && !app.compare.is_busy()
    });
    harness.run_steps(2);
    // The same photo twice: similarity 1, the same person at the model's threshold.
    let v = harness.state().as_ref().unwrap().compare.verdict().unwrap();
    assert!(v.similarity > 0.999 && v.same, "{v:?}");
    harness.get_by_label("SAME person");
    let shown = harness.query_all_by_label_contains("Laura_Bush_0001.jpg  (1 face found)");
    assert_eq!(shown.count(), 2);
    // Photo B picked from the open dataset by name.
    harness
        .state_mut()
        .as_mut()
        .unwrap()
        .compare
        .set_search(1, "laura");
    harness.run_steps(2);
    harness
        .get_by_role_and_label(Role::Button, "Laura_Bush_0003")
        .click();
    harness.run_steps(1);
    wait_until(&mut harness, 60, "the picked photo", |app| {
        !app.compare.is_busy()
            && app.compare.photo_name(1).as_deref() == Some("Laura_Bush_0003.jpg")
    });
    harness.run_steps(2);
    let image = harness.render().expect("the GUI renders on a wgpu adapter");
    assert!(distinct_colours(&image) > 500, "the frame looks blank");
    save(&image, "compare_panel.png");
    a_typed_path_opens(&mut harness);
    a_failed_photo_clears_its_slot(&mut harness, dir.path());
}

/// A photo's path typed into the box opens it (where no file dialog is available).
fn a_typed_path_opens(harness: &mut Harness<'static, Option<SiameseApp>>) {
    let path = sample_dataset_dir()
        .unwrap()
        .join("Colin_Powell/Colin_Powell_0002.jpg");
    harness
        .state_mut()
        .as_mut()
        .unwrap()
        .compare
        .set_search(1, path.to_str().unwrap());
    harness.run_steps(2);
    harness
        .get_by_role_and_label(Role::Button, "Open Colin_Powell_0002.jpg")
        .click();
    harness.run_steps(1);
    wait_until(harness, 60, "the typed photo", |app| {
        !app.compare.is_busy()
            && app.compare.photo_name(1).as_deref() == Some("Colin_Powell_0002.jpg")
    });
}

/// A photo without a face replaces the one shown: no stale photo, no stale verdict.
fn a_failed_photo_clears_its_slot(
    harness: &mut Harness<'static, Option<SiameseApp>>,
    dir: &std::path::Path,
) {
    let blank = dir.join("blank.png");
    image::RgbImage::from_pixel(200, 200, image::Rgb([120, 120, 120]))
        .save(&blank)
        .unwrap();
    harness.state_mut().as_mut().unwrap().compare.open(1, blank);
    harness.run_steps(1);
    wait_until(harness, 60, "the blank photo's answer", |app| {
        !app.compare.is_busy()
    });
    harness.run_steps(2);
    let app = harness.state().as_ref().unwrap();
    assert!(app.compare.verdict().is_none() && app.compare.photo_name(1).is_none());
    harness.get_by_label_contains("no face found");
}

#[test]
fn search_filters_the_people_list() {
    let mut harness = harness(sample());
    harness.run_steps(2);
    harness.get_by_label("Search people").focus();
    harness.run_steps(1);
    harness.get_by_label("Search people").type_text("koiz");
    harness.run_steps(3);
    harness.get_by_label("1 shown");
    harness.get_by_label("Junichiro Koizumi  (5)");
    assert!(harness.query_by_label("Colin Powell  (5)").is_none());
}

#[test]
fn dataset_panel_renders_lfw() {
    let Some(lfw) = lfw_dir() else {
        return;
    };
    let mut harness = harness(Dataset::open(lfw).unwrap());
    harness.run_steps(3);
    harness.get_by_label("LFW (official lists)");
    harness.get_by_label("13233");
    harness.get_by_label("pairsDevTrain");
    harness.get_by_label(
        "Identity split for training: 4038 DevTrain people, 1711 DevTest people, disjoint.",
    );
    wait_for_thumbnails(&mut harness);
    let image = harness.render().expect("the GUI renders on a wgpu adapter");
    assert!(distinct_colours(&image) > 500, "the frame looks blank");
    save(&image, "dataset_panel_lfw.png");
}

/// Steps until the detection worker has answered.
fn wait_for_detection(harness: &mut Harness<'static, Option<SiameseApp>>) {
    let start = Instant::now();
    loop {
        harness.step();
        if !harness.state().as_ref().unwrap().detection.is_busy() {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "detection never finished"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    harness.run_steps(2);
}

#[test]
fn detection_panel_draws_the_faces_of_a_group_photo() {
    let Some(lfw) = lfw_dir() else {
        return;
    };
    let mut harness = harness(sample());
    harness.run_steps(2);
    goto(&mut harness, "Detection");
    // Four people in one LFW photo (the reference finds four faces too).
    let photo = lfw.join("lfw-deepfunneled/Roh_Moo-hyun/Roh_Moo-hyun_0002.jpg");
    detect_in_panel(&mut harness, photo);
    let app = harness.state().as_ref().unwrap();
    assert_eq!(app.detection.faces_found(), Some(4));
    harness.get_by_label_contains("4 face(s)");
    harness.get_by_label_contains("px, kept for the dataset");
    let image = harness.render().expect("the GUI renders on a wgpu adapter");
    assert!(distinct_colours(&image) > 500, "the frame looks blank");
    save(&image, "detection_panel.png");
}

#[test]
fn detection_panel_steps_through_the_dataset_from_its_first_image() {
    let mut harness = harness(sample());
    harness.run_steps(2);
    goto(&mut harness, "Detection");
    harness.get_by_label("the dataset's images");
    harness.get_by_role_and_label(Role::Button, "Next").click();
    harness.run_steps(1);
    wait_for_detection(&mut harness);
    // The first image in sorted order, not the second.
    harness.get_by_label("dataset image 1 of 30");
    harness.get_by_label_contains("Colin_Powell_0001.jpg");
    harness
        .get_by_role_and_label(Role::Button, "Previous")
        .click();
    harness.run_steps(1);
    wait_for_detection(&mut harness);
    harness.get_by_label("dataset image 30 of 30");
    // The right arrow steps on (from the last image to the first).
    harness.key_press(eframe::egui::Key::ArrowRight);
    harness.run_steps(1);
    wait_for_detection(&mut harness);
    harness.get_by_label("dataset image 1 of 30");
    // Ctrl+6 goes to the sixth page, Evaluate.
    harness.key_press_modifiers(eframe::egui::Modifiers::COMMAND, eframe::egui::Key::Num6);
    harness.run_steps(2);
    harness.get_by_role_and_label(Role::Button, "Run evaluation");
    // The sample has no pair lists: the page says so instead of failing on Run.
    harness.get_by_label_contains("has no pair lists to evaluate on");
}

#[test]
fn detection_panel_reports_an_unreadable_file() {
    let mut harness = harness(sample());
    harness.run_steps(2);
    goto(&mut harness, "Detection");
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("not-a-photo.jpg");
    std::fs::write(&bad, "plain text").unwrap();
    detect_in_panel(&mut harness, bad);
    harness.get_by_label_contains("not an image in a supported format");
}

#[test]
fn detection_panel_preprocesses_the_dataset_into_a_cache() {
    let cache = tempfile::tempdir().unwrap();
    let mut harness = harness(sample());
    harness.run_steps(2);
    goto(&mut harness, "Detection");
    harness
        .state_mut()
        .as_mut()
        .unwrap()
        .detection
        .set_cache_root(cache.path().to_path_buf());
    harness
        .get_by_role_and_label(Role::Button, "Preprocess 30 images")
        .click();
    harness.run_steps(1);
    wait_for_detection(&mut harness);
    harness.get_by_label_contains("30 of 30 images: 30 cropped (0 reused from the cache");
    let crops = walk_pngs(cache.path());
    assert_eq!(crops, 30, "one crop per sample image");
    let image = harness.render().expect("the GUI renders on a wgpu adapter");
    save(&image, "detection_preprocessed.png");
}

fn walk_pngs(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .map(|p| {
            if p.is_dir() {
                walk_pngs(&p)
            } else {
                usize::from(p.extension().is_some_and(|e| e == "png"))
            }
        })
        .sum()
}

/// Generates `count` triplets on the Triplets page (crop cache in `cache`) and waits.
fn generate_triplets(
    harness: &mut Harness<'static, Option<SiameseApp>>,
    count: usize,
    cache: &std::path::Path,
) {
    goto(harness, "Triplets");
    {
        let app = harness.state_mut().as_mut().unwrap();
        app.triplets.set_cache_root(cache.to_path_buf());
        app.triplets.set_count(count);
    }
    harness
        .get_by_role_and_label(Role::Button, "Generate")
        .click();
    harness.run_steps(1);
    wait_until(harness, 60, "triplets", |app| !app.triplets.is_busy());
    harness.run_steps(3);
}

#[test]
fn triplets_panel_generates_and_previews_triplets() {
    let cache = tempfile::tempdir().unwrap();
    let mut harness = harness(sample());
    harness.run_steps(2);
    generate_triplets(&mut harness, 12, cache.path());
    assert_eq!(harness.state().as_ref().unwrap().triplets.len(), Some(12));
    harness.get_by_label_contains("12 triplets from");
    harness.get_by_label("anchor");
    let image = harness.render().expect("the GUI renders on a wgpu adapter");
    assert!(distinct_colours(&image) > 500, "the frame looks blank");
    save(&image, "triplets_panel.png");
}

/// Choosing dlib's face backbone proposes the default model's recipe: a frozen backbone
/// for every epoch (features computed once), flip averaging, and its margin.
#[test]
fn choosing_the_dlib_backbone_proposes_its_recipe() {
    let mut harness = harness(sample());
    harness.run_steps(2);
    goto(&mut harness, "Training");
    harness.get_by_value("small-cnn").click();
    harness.run_steps(2);
    harness.get_by_label("dlib-resnet").click();
    harness.run_steps(2);
    let app = harness.state().as_ref().unwrap();
    let cfg = app.training.config();
    assert_eq!(cfg.backbone, BackboneKind::DlibResnet);
    assert!(cfg.freeze_backbone_epochs >= cfg.epochs);
    assert!(cfg.flip_average);
    assert_eq!(cfg.margin, 0.2);
    harness.get_by_label("train its last stage while frozen");
    assert!(harness.query_by_label("ImageNet weights file...").is_none());
}

#[test]
fn training_panel_trains_on_the_generated_triplets() {
    let cache = tempfile::tempdir().unwrap();
    let mut harness = harness(sample());
    harness.run_steps(2);
    harness
        .state_mut()
        .as_mut()
        .unwrap()
        .training
        .set_epochs(2, 4);
    harness
        .state_mut()
        .as_mut()
        .unwrap()
        .training
        .set_runs_root(cache.path().join("runs"));
    generate_triplets(&mut harness, 8, cache.path());
    goto(&mut harness, "Training");
    harness.get_by_label_contains("the 8 triplets of 100x100 crops");
    harness.get_by_role_and_label(Role::Button, "Start").click();
    harness.run_steps(1);
    wait_until(&mut harness, 120, "the end of training", |app| {
        !app.training.is_running()
    });
    harness.run_steps(3);
    assert_eq!(harness.state().as_ref().unwrap().training.steps_seen(), 4);
    harness.get_by_label_contains("finished after 4 steps");
    harness.get_by_label_contains("UI during the run: frame code median");
    harness.get_by_label_contains("no validation: it needs a dataset with pairsDevTrain");
    assert_eq!(
        harness
            .state()
            .as_ref()
            .unwrap()
            .training
            .validations_seen(),
        0
    );
    let image = harness.render().expect("the GUI renders on a wgpu adapter");
    assert!(distinct_colours(&image) > 100, "the frame looks blank");
    save(&image, "training_panel.png");
    use_the_trained_model(&mut harness, cache.path());
}

/// "Use this model" saves the trained model into a new folder of the user's models and the
/// Compare page loads it; a second click makes a second folder, never mixing files.
fn use_the_trained_model(
    harness: &mut Harness<'static, Option<SiameseApp>>,
    dir: &std::path::Path,
) {
    let models = dir.join("models");
    harness
        .state_mut()
        .as_mut()
        .unwrap()
        .training
        .set_models_root(models.clone());
    for _ in 0..2 {
        harness
            .get_by_role_and_label(Role::Button, "Use this model")
            .click();
        harness.run_steps(2);
    }
    let first = models.join("small-cnn-4-steps");
    assert!(first.join("model.bpk").is_file());
    assert!(models.join("small-cnn-4-steps-2/model.json").is_file());
    let second = models.join("small-cnn-4-steps-2");
    wait_until(
        harness,
        60,
        "the Compare page loading the trained model",
        |app| app.compare.model_dir() == Some(second.as_path()),
    );
}

/// The sample with an LFW-format pairs.txt beside its person folders, in a temporary folder.
fn sample_with_pairs(dir: &std::path::Path) -> Dataset {
    let src = sample_dataset_dir().unwrap();
    for person in std::fs::read_dir(&src).unwrap().flatten() {
        if person.path().is_dir() {
            let to = dir.join(person.file_name());
            std::fs::create_dir_all(&to).unwrap();
            for f in std::fs::read_dir(person.path()).unwrap().flatten() {
                std::fs::copy(f.path(), to.join(f.file_name())).unwrap();
            }
        }
    }
    std::fs::write(
        dir.join("pairs.txt"),
        "4\nColin_Powell\t1\t2\nLaura_Bush\t1\t3\nHugo_Chavez\t2\t4\nSerena_Williams\t1\t2\n\
         Colin_Powell\t1\tLaura_Bush\t2\nHugo_Chavez\t1\tSerena_Williams\t3\n\
         Junichiro_Koizumi\t2\tGloria_Macapagal_Arroyo\t4\nLaura_Bush\t5\tHugo_Chavez\t5\n",
    )
    .unwrap();
    Dataset::open(dir).unwrap()
}

#[test]
fn evaluate_panel_scores_a_pair_list_and_follows_the_threshold() {
    let model = tempfile::tempdir().unwrap();
    tiny_model(model.path());
    let data = tempfile::tempdir().unwrap();
    let ds = sample_with_pairs(data.path());
    assert!(ds.pair_list("pairs").is_some(), "{:?}", ds.pair_lists.len());
    let cache = tempfile::tempdir().unwrap();
    let mut harness = harness(ds);
    harness.run_steps(2);
    {
        let app = harness.state_mut().as_mut().unwrap();
        app.compare.set_model_dir(model.path().to_path_buf());
        app.evaluate.set_cache_root(cache.path().to_path_buf());
        app.evaluate.set_list("pairs");
    }
    wait_until(&mut harness, 60, "loading the model", |app| {
        app.compare.model_dir().is_some()
    });
    goto(&mut harness, "Evaluate");
    harness
        .get_by_role_and_label(Role::Button, "Run evaluation")
        .click();
    harness.run_steps(1);
    wait_until(&mut harness, 120, "the end of the evaluation", |app| {
        !app.evaluate.is_busy()
    });
    harness.run_steps(3);
    harness.get_by_label_contains("pairs: 8 pairs scored");
    harness.get_by_label_contains("accuracy ");
    harness.get_by_label_contains("Misclassified at");
    the_best_threshold_types_back_exactly(&mut harness);
    let threshold = || {
        siamese_face::model::read_meta(model.path())
            .unwrap()
            .threshold
    };
    let before = threshold();
    // "Use this threshold" asks first; Save writes it, Undo puts the old one back.
    harness
        .get_by_role_and_label(Role::Button, "Use this threshold")
        .click();
    harness.run_steps(2);
    harness.get_by_label_contains("Save threshold ");
    assert_eq!(threshold(), before, "nothing is written before Save");
    let image = harness.render().expect("the GUI renders on a wgpu adapter");
    assert!(distinct_colours(&image) > 300, "the frame looks blank");
    save(&image, "evaluate_panel.png");
    harness.get_by_role_and_label(Role::Button, "Save").click();
    harness.run_steps(2);
    harness.get_by_label_contains("saved into");
    let saved = threshold();
    assert!(saved.is_some());
    harness.get_by_role_and_label(Role::Button, "Undo").click();
    harness.run_steps(2);
    assert_eq!(threshold(), before);
}

/// The app with a face index in `dir` enrolling the first `photos` LFW photos of each of
/// `people` (copied into `dir/known/<person>/`).
fn enrolling(
    lfw: &std::path::Path,
    dir: &std::path::Path,
    people: &[&str],
    photos: u32,
) -> Harness<'static, Option<SiameseApp>> {
    let known = dir.join("known");
    for name in people {
        std::fs::create_dir_all(known.join(name)).unwrap();
        for n in 1..=photos {
            let photo = format!("{name}_{n:04}.jpg");
            let from = lfw.join("lfw-deepfunneled").join(name).join(&photo);
            std::fs::copy(from, known.join(name).join(photo)).unwrap();
        }
    }
    let mut harness = harness(sample());
    harness.run_steps(2);
    let panel = &mut harness.state_mut().as_mut().unwrap().people;
    panel.use_index(dir.join("faces.sqlite"));
    panel.enrol_folder(known);
    harness
}

#[test]
fn people_panel_enrols_a_folder_and_names_the_known_face_of_a_group_photo() {
    let Some(lfw) = lfw_dir() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let people = ["Roh_Moo-hyun", "Colin_Powell", "Laura_Bush"];
    let mut harness = enrolling(&lfw, dir.path(), &people, 1);
    // Four faces, one of them Roh Moo-hyun's (enrolled from another photo).
    harness
        .state_mut()
        .as_mut()
        .unwrap()
        .people
        .identify_when_ready(lfw.join("lfw-deepfunneled/Roh_Moo-hyun/Roh_Moo-hyun_0002.jpg"));
    goto(&mut harness, "People");
    wait_until(&mut harness, 300, "enrolling and identifying", |app| {
        app.people.is_idle() && !app.people.names_shown().is_empty()
    });
    let app = harness.state().as_ref().unwrap();
    assert_eq!(app.people.people_listed(), 3);
    let names = app.people.names_shown();
    assert_eq!(names.len(), 4, "{names:?}");
    let named: Vec<&str> = names.iter().flatten().map(String::as_str).collect();
    assert_eq!(named, ["Roh_Moo-hyun"], "{names:?}");
    harness.run_steps(3);
    harness.get_by_label_contains("3 people");
    let image = harness.render().expect("the GUI renders on a wgpu adapter");
    assert!(distinct_colours(&image) > 500, "the frame looks blank");
    save(&image, "people_panel.png");
}

#[test]
fn people_panel_trains_on_the_enrolled_people_and_switches_to_the_new_model() {
    let Some(lfw) = lfw_dir() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let people = ["Colin_Powell", "George_W_Bush", "Tony_Blair"];
    let mut harness = enrolling(&lfw, dir.path(), &people, 3);
    goto(&mut harness, "People");
    wait_until(&mut harness, 300, "enrolling", |app| {
        app.people.is_idle() && app.people.people_listed() == 3
    });
    harness.run_steps(2);
    harness
        .get_by_role_and_label(Role::Button, "Train the model on these people")
        .click();
    harness.run_steps(1);
    wait_until(&mut harness, 300, "training", |app| {
        app.people.is_idle()
            && (app.people.trained().is_some()
                || app.people.log().iter().any(|l| l.starts_with("error")))
    });
    let app = harness.state().as_ref().unwrap();
    let log = app.people.log();
    let trained = app
        .people
        .trained()
        .unwrap_or_else(|| panic!("{log:?}"))
        .clone();
    // Three photos each: one held out per person, two trained on.
    assert_eq!((trained.test_faces, trained.training_faces), (3, 6));
    assert!(trained.before.is_some() && trained.after.is_some());
    assert!(trained.model.join("model.bpk").is_file());
    assert!(
        trained
            .model
            .starts_with(dir.path().canonicalize().unwrap())
    );
    harness.run_steps(2);
    harness.get_by_label_contains("Identification of 3 held-out photos of 3 people");
    harness
        .get_by_role_and_label(Role::Button, "Use the trained model")
        .click();
    harness.run_steps(1);
    // The Compare page loads the model, the index reopens with it and is re-embedded.
    wait_until(
        &mut harness,
        300,
        "re-embedding with the trained model",
        |app| {
            app.people.is_idle() && app.people.model_in_use() == Some((trained.model.as_path(), 0))
        },
    );
    let app = harness.state().as_ref().unwrap();
    assert_eq!(app.compare.model_dir(), Some(trained.model.as_path()));
    harness.run_steps(3);
    harness.get_by_label_contains("In use:");
    let image = harness.render().expect("the GUI renders on a wgpu adapter");
    save(&image, "people_train.png");
}

/// Clicking a face's box in a photo with several faces compares that face.
#[test]
fn compare_panel_uses_the_face_clicked() {
    let Some(lfw) = lfw_dir() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    tiny_model(dir.path());
    let group = lfw.join("lfw-deepfunneled/Roh_Moo-hyun/Roh_Moo-hyun_0002.jpg");
    let mut harness = harness(sample());
    harness.run_steps(2);
    {
        let compare = &mut harness.state_mut().as_mut().unwrap().compare;
        compare.set_model_dir(dir.path().to_path_buf());
        compare.open_when_ready(0, group);
    }
    goto(&mut harness, "Compare");
    wait_until(&mut harness, 120, "the group photo", |app| {
        !app.compare.is_busy() && app.compare.face_on_screen(0, 1).is_some()
    });
    harness.run_steps(2);
    assert_eq!(harness.state().as_ref().unwrap().compare.chosen(0), 0);
    let at = harness
        .state()
        .as_ref()
        .unwrap()
        .compare
        .face_on_screen(0, 1)
        .unwrap();
    harness.hover_at(at);
    harness.run_steps(1);
    harness.drag_at(at);
    harness.run_steps(1);
    harness.drop_at(at);
    harness.run_steps(2);
    assert_eq!(harness.state().as_ref().unwrap().compare.chosen(0), 1);
}

/// Pause holds the preparation too (cropping the mining pool), Stop ends it keeping the
/// crops made (recorded in the crop cache's index), and a cancel reads as one.
#[test]
fn training_panel_pauses_and_stops_the_cropping() {
    use siamese_face::embed::train::TrainConfig;
    let cache = tempfile::tempdir().unwrap();
    let mut harness = harness(sample());
    harness.run_steps(2);
    {
        let app = harness.state_mut().as_mut().unwrap();
        app.triplets.set_cache_root(cache.path().to_path_buf());
        app.training.set_runs_root(cache.path().join("runs"));
        let cfg = TrainConfig {
            epochs: 1,
            batch_size: 8,
            ..TrainConfig::default()
        };
        app.training.set_settings(cfg, true, false);
    }
    goto(&mut harness, "Training");
    harness.get_by_role_and_label(Role::Button, "Start").click();
    harness.run_steps(1);
    // Paused at once: the worker stops at its first report of a cropped photo.
    harness.get_by_role_and_label(Role::Button, "Pause").click();
    harness.run_steps(1);
    wait_until(&mut harness, 60, "the first crop", |app| {
        app.training.preparing().is_some_and(|(d, _)| d >= 1)
    });
    harness.get_by_role_and_label(Role::Button, "Resume");
    let step = |h: &mut Harness<'static, Option<SiameseApp>>, secs: f32| {
        let until = Instant::now() + Duration::from_secs_f32(secs);
        while Instant::now() < until {
            std::thread::sleep(Duration::from_millis(50));
            h.step();
        }
    };
    step(&mut harness, 1.0);
    let held = harness.state().as_ref().unwrap().training.preparing();
    step(&mut harness, 2.0);
    assert_eq!(harness.state().as_ref().unwrap().training.preparing(), held);
    assert!(
        harness.query_all_by_label_contains("paused").count() >= 2,
        "the page and the status bar"
    );
    let (done, total) = held.unwrap();
    assert!(done < total, "{done} of {total}");
    // The status bar names the running job.
    harness.get_by_label_contains("Training: preparing");
    harness.get_by_role_and_label(Role::Button, "Stop").click();
    harness.run_steps(1);
    wait_until(&mut harness, 60, "the end of the run", |app| {
        !app.training.is_running()
    });
    harness.run_steps(2);
    harness.get_by_label_contains("cancelled while preparing the data");
    assert!(harness.query_by_label_contains("failed").is_none());
    // The crops made before Stop are in the cache's index, for the next run to reuse.
    let index = find_file(cache.path(), "index.json").expect("the crop cache's index");
    let records = std::fs::read_to_string(&index)
        .unwrap()
        .matches("\"modified\"")
        .count();
    assert!(records >= done, "{records} records, {done} photos cropped");
}

/// The first file named `name` under `dir`.
fn find_file(dir: &std::path::Path, name: &str) -> Option<std::path::PathBuf> {
    for entry in std::fs::read_dir(dir).ok()?.flatten() {
        let path = entry.path();
        if path.is_dir() {
            if let Some(found) = find_file(&path, name) {
                return Some(found);
            }
        } else if path.file_name().is_some_and(|n| n == name) {
            return Some(path);
        }
    }
    None
}

/// "best on these pairs: A at T": T typed into the threshold's box gives accuracy A.
fn the_best_threshold_types_back_exactly(harness: &mut Harness<'static, Option<SiameseApp>>) {
    use egui_kittest::kittest::NodeT;
    let node = harness.get_by_label_contains("best on these pairs: ");
    let text = node
        .accesskit_node()
        .label()
        .filter(|l| !l.is_empty())
        .or_else(|| node.value())
        .unwrap_or_default();
    let rest = &text[text.find("pairs: ").unwrap_or_else(|| panic!("{text}")) + 7..];
    let (accuracy, rest) = rest.split_once(" at ").unwrap_or_else(|| panic!("{text}"));
    let typed = rest.split(';').next().unwrap().to_string();
    // Away from it first, so the typed value is what moves it.
    harness
        .state_mut()
        .as_mut()
        .unwrap()
        .evaluate
        .set_threshold(-0.5);
    harness.run_steps(2);
    harness.get_by_role(Role::SpinButton).click();
    harness.run_steps(2);
    harness.key_press_modifiers(eframe::egui::Modifiers::COMMAND, eframe::egui::Key::A);
    harness.get_by_role(Role::SpinButton).type_text(&typed);
    harness.key_press(eframe::egui::Key::Enter);
    harness.run_steps(3);
    let at = harness.state().as_ref().unwrap().evaluate.threshold();
    assert_eq!(at.to_string(), typed, "the threshold typed");
    harness.get_by_label_contains(&format!("accuracy {accuracy}"));
}

/// The People page groups the unknown faces of an indexed folder into people, and naming a
/// group enrols all its faces at once (they leave the groups).
#[test]
fn people_panel_groups_the_unknown_faces_and_names_a_group() {
    let dir = tempfile::tempdir().unwrap();
    let mut harness = harness(sample());
    harness.run_steps(2);
    {
        let panel = &mut harness.state_mut().as_mut().unwrap().people;
        panel.use_index(dir.path().join("faces.sqlite"));
        panel.index_folder(sample_dataset_dir().unwrap());
    }
    goto(&mut harness, "People");
    wait_until(&mut harness, 120, "indexing the sample", |app| {
        app.people.is_idle() && app.people.log().iter().any(|l| l.starts_with("indexed"))
    });
    harness
        .get_by_role_and_label(Role::Button, "Unknown groups")
        .click();
    harness.run_steps(1);
    wait_until(&mut harness, 60, "the groups", |app| {
        app.people.is_idle() && app.people.group_sizes().is_some()
    });
    harness.run_steps(2);
    let sizes = harness
        .state()
        .as_ref()
        .unwrap()
        .people
        .group_sizes()
        .unwrap();
    assert!(sizes.len() >= 5 && sizes[0] == 5, "{sizes:?}");
    harness.get_by_label_contains("group(s) among 32 unknown face(s)");
    let image = harness.render().expect("the GUI renders on a wgpu adapter");
    save(&image, "people_groups.png");
    harness
        .state_mut()
        .as_mut()
        .unwrap()
        .people
        .set_group_name(0, "Group One");
    harness.run_steps(2);
    harness
        .query_all_by_label("Name them")
        .next()
        .expect("a Name them button")
        .click();
    harness.run_steps(1);
    wait_until(&mut harness, 60, "naming and grouping again", |app| {
        app.people.is_idle()
            && app.people.people_listed() == 1
            && app
                .people
                .group_sizes()
                .is_some_and(|s| s.len() == sizes.len() - 1)
    });
    let log = harness.state().as_ref().unwrap().people.log().to_vec();
    assert!(
        log.iter().any(|l| l == "named 5 face(s) Group One"),
        "{log:?}"
    );
    // Undo puts the faces back among the unknown ones and removes the person it made.
    harness.get_by_role_and_label(Role::Button, "Undo").click();
    harness.run_steps(1);
    wait_until(&mut harness, 60, "the undo and grouping again", |app| {
        app.people.is_idle()
            && app.people.people_listed() == 0
            && app
                .people
                .group_sizes()
                .is_some_and(|s| s.len() == sizes.len())
    });
}

/// Indexes the sample into a new index in `dir` and names its largest unknown groups
/// `names`, one after the other, on the People page.
fn name_sample_groups(
    harness: &mut Harness<'static, Option<SiameseApp>>,
    dir: &std::path::Path,
    names: &[&str],
) {
    {
        let panel = &mut harness.state_mut().as_mut().unwrap().people;
        panel.use_index(dir.join("faces.sqlite"));
        panel.index_folder(sample_dataset_dir().unwrap());
    }
    goto(harness, "People");
    wait_until(harness, 120, "indexing the sample", |app| {
        app.people.is_idle() && app.people.log().iter().any(|l| l.starts_with("indexed"))
    });
    harness
        .get_by_role_and_label(Role::Button, "Unknown groups")
        .click();
    harness.run_steps(1);
    wait_until(harness, 60, "the groups", |app| {
        app.people.is_idle() && app.people.group_sizes().is_some()
    });
    for (n, name) in names.iter().enumerate() {
        let people = &mut harness.state_mut().as_mut().unwrap().people;
        people.set_group_name(0, name);
        harness.run_steps(2);
        harness
            .query_all_by_label("Name them")
            .next()
            .unwrap()
            .click();
        harness.run_steps(1);
        wait_until(harness, 60, "naming", |app| {
            app.people.is_idle() && app.people.people_listed() == n + 1
        });
    }
}

/// Names two groups, shows a person's faces, sends one back to the unknown faces, merges
/// the two people by dragging one card onto the other, and undoes the merge.
#[test]
fn people_panel_shows_a_persons_faces_and_merges_people_by_drag() {
    let dir = tempfile::tempdir().unwrap();
    let mut harness = harness(sample());
    harness.run_steps(2);
    name_sample_groups(&mut harness, dir.path(), &["One", "Two"]);
    harness
        .get_by_role_and_label(Role::Button, "Enrolled")
        .click();
    harness.run_steps(2);
    harness.get_by_role_and_label(Role::Button, "Two").click();
    harness.run_steps(1);
    wait_until(&mut harness, 60, "the faces of Two", |app| {
        app.people.is_idle()
            && app
                .people
                .person_faces_shown()
                .is_some_and(|(name, _)| name == "Two")
    });
    wait_for_thumbnails(&mut harness);
    let image = harness.render().expect("the GUI renders on a wgpu adapter");
    save(&image, "people_faces.png");
    let shown = |h: &Harness<'static, Option<SiameseApp>>| {
        h.state()
            .as_ref()
            .unwrap()
            .people
            .person_faces_shown()
            .unwrap()
            .1
    };
    let faces = shown(&harness);
    harness
        .get_by_role_and_label(Role::CheckBox, &format!("face {}", faces[0]))
        .click();
    harness.run_steps(1);
    harness
        .get_by_role_and_label(Role::Button, "To unknown")
        .click();
    harness.run_steps(1);
    wait_until(&mut harness, 60, "the face moved out", |app| {
        app.people.is_idle()
            && app
                .people
                .person_faces_shown()
                .is_some_and(|(_, f)| f.len() == faces.len() - 1)
    });
    // Two's card dropped on One's: one person.
    let from = harness
        .get_by_role_and_label(Role::Button, "Two")
        .rect()
        .center();
    let to = harness
        .get_by_role_and_label(Role::Button, "One")
        .rect()
        .center();
    harness.drag_at(from);
    harness.run_steps(2);
    harness.hover_at(to);
    harness.run_steps(2);
    harness.drop_at(to);
    harness.run_steps(1);
    wait_until(&mut harness, 60, "the merge", |app| {
        app.people.is_idle() && app.people.people_listed() == 1
    });
    let log = harness.state().as_ref().unwrap().people.log().to_vec();
    assert!(
        log.iter().any(|l| l.starts_with("merged Two into One")),
        "{log:?}"
    );
    harness.get_by_role_and_label(Role::Button, "Undo").click();
    harness.run_steps(1);
    wait_until(&mut harness, 60, "the undo", |app| {
        app.people.is_idle() && app.people.people_listed() == 2
    });
}

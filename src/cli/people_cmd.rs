//! `siamese-face people enrol|index|identify|search|list|remove|reembed|train|cluster`: the
//! face index from the command line, over the library's people workflows (managing people
//! by hand is in `manage_cmd`).

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;

use burn::tensor::Device;
use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use siamese_face::backend::{self, BackendRequest};
use siamese_face::crop::FacePick;
use siamese_face::face_index::{self, Matching};
use siamese_face::workflow::people::{
    EnrolItem, EnrolPlan, HoldOut, IndexLocation, IndexPlan, PeopleTrainPlan, Recogniser,
    enrol_items_from_folder,
};
use siamese_face::workflow::{Outcome, Report, WorkflowError};

use super::crop_cmd::PickArg;
use super::identify_cmd;
use super::verify_cmd::ModelArg;

#[derive(Debug, Args)]
pub struct PeopleArgs {
    /// The face index (SQLite file); default: $SIAMESE_FACE_INDEX, else
    /// ~/.local/share/siamese-face/faces.sqlite.
    #[arg(long, value_name = "FILE", global = true)]
    pub index: Option<PathBuf>,
    #[command(flatten)]
    pub model: ModelArg,
    #[command(subcommand)]
    pub command: PeopleCommand,
}

#[derive(Debug, Subcommand)]
pub enum PeopleCommand {
    #[command(flatten)]
    WithModel(ModelCommand),
    #[command(flatten)]
    Manage(super::manage_cmd::ManageCommand),
}

/// The commands that embed faces or compare them, so they load the model.
#[derive(Debug, Subcommand)]
pub enum ModelCommand {
    /// Enrol people: a folder of `<person>/<photos>` (or photos named after their person),
    /// or photos of one person with --name. One photo each is enough; more help.
    Enrol {
        #[arg(required = true, value_name = "FOLDER | PHOTO")]
        paths: Vec<PathBuf>,
        /// Every photo given shows this person.
        #[arg(long)]
        name: Option<String>,
        /// The face taken from a photo with several: the largest, or the one nearest the
        /// centre (portraits; LFW is centred on the named person).
        #[arg(long, value_enum, default_value = "largest")]
        pick: PickArg,
        #[arg(long)]
        json: bool,
    },
    /// Detect, cut and embed every face of photo folders into the index; re-runs read only
    /// new and changed files (and drop deleted ones).
    Index {
        #[arg(required = true, value_name = "FOLDER | PHOTO")]
        inputs: Vec<PathBuf>,
        /// Keep index entries of photos that are gone from disk.
        #[arg(long)]
        keep_missing: bool,
        /// Similarity to a person's mean at which a new face is suggested as them (default
        /// 0.955).
        #[arg(long, value_name = "T")]
        suggest_threshold: Option<f32>,
        #[arg(long)]
        json: bool,
    },
    /// Who is in these photos: each face's top-k enrolled people, named when similar enough.
    Identify(identify_cmd::IdentifyArgs),
    /// The indexed photos that show a person.
    Search(identify_cmd::SearchArgs),
    /// Enrolled people and what the index holds.
    List {
        /// Also list the photos that could not be read or show no face.
        #[arg(long)]
        errors: bool,
        #[arg(long)]
        json: bool,
    },
    /// Remove a person (their faces stay in the index, unassigned).
    Remove { name: String },
    /// Re-embed faces made by another model with this one (--model).
    Reembed {
        #[arg(long)]
        json: bool,
    },
    /// Train the model (--model) further on the enrolled people, into a new model folder;
    /// reports identification of held-out faces before and after.
    Train(PeopleTrainArgs),
    /// Group the faces no person holds into likely people.
    Cluster(super::cluster_cmd::ClusterArgs),
}

#[derive(Debug, Args)]
pub struct PeopleTrainArgs {
    /// Folder for the trained model (new, or without a model in it).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Training steps (batches of 4 faces of up to 8 people).
    #[arg(long, default_value_t = 200)]
    pub steps: usize,
    #[arg(long, default_value_t = 1e-3)]
    pub lr: f64,
    /// Fraction of each person's faces (the newest) held out to measure the training.
    #[arg(long, default_value_t = 0.2)]
    pub hold_out: f32,
    /// Instead of --hold-out: train on each person's first N faces, test on the rest.
    #[arg(long, value_name = "N")]
    pub train_per_person: Option<usize>,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    #[arg(long)]
    pub json: bool,
}

impl PeopleTrainArgs {
    pub(crate) fn plan(&self) -> PeopleTrainPlan {
        PeopleTrainPlan {
            out: super::plan_path(&self.out),
            hold_out: HoldOut {
                fraction: self.hold_out,
                train_per_person: self.train_per_person,
            },
            steps: self.steps,
            learning_rate: self.lr,
            seed: self.seed,
        }
    }
}

/// The shared `--model` and the index file, opened on `device`.
fn open(index: PathBuf, model: &ModelArg, device: &Device) -> anyhow::Result<Recogniser> {
    Ok(Recogniser::open(
        &IndexLocation::File(index),
        &model.dir(),
        device,
    )?)
}

pub fn run(args: PeopleArgs, request: BackendRequest) -> anyhow::Result<ExitCode> {
    let index_file = args.index.unwrap_or_else(face_index::default_index_path);
    let command = match args.command {
        PeopleCommand::Manage(m) => return super::manage_cmd::run(&index_file, m),
        PeopleCommand::WithModel(command) => command,
    };
    let device = backend::select(request)?.device;
    let mut rec = open(index_file, &args.model, &device)?;
    match command {
        ModelCommand::Enrol {
            paths,
            name,
            pick,
            json,
        } => {
            let plan = enrol_plan(&paths, name.as_deref(), pick.into())?;
            enrol(&mut rec, &plan, json)
        }
        ModelCommand::Index {
            inputs,
            keep_missing,
            suggest_threshold,
            json,
        } => {
            if suggest_threshold.is_some_and(|t| !(-1.0..=1.0).contains(&t)) {
                anyhow::bail!("--suggest-threshold is a cosine similarity (-1..1)");
            }
            let plan = index_plan(&inputs, !keep_missing, suggest_threshold);
            index(&mut rec, plan, json)
        }
        ModelCommand::Identify(a) => identify_cmd::identify(&rec, &a, identify_cmd::Output::Lines),
        ModelCommand::Search(a) => identify_cmd::search(&rec, &a),
        ModelCommand::List { errors, json } => list(&rec, errors, json),
        ModelCommand::Remove { name } => {
            rec.index.remove_person(&name)?;
            eprintln!("removed {name} (their faces stay in the index)");
            Ok(ExitCode::SUCCESS)
        }
        ModelCommand::Reembed { json } => reembed(&mut rec, json),
        ModelCommand::Train(a) => train(&rec, &a, &device),
        ModelCommand::Cluster(a) => super::cluster_cmd::cluster(&mut rec, &a),
    }
}

/// A progress bar on stderr for a terminal (hidden for --json and pipes).
pub(crate) fn bar(hidden: bool, what: &str) -> ProgressBar {
    let bar = if hidden || !std::io::stderr().is_terminal() {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(0)
    };
    bar.set_style(
        ProgressStyle::with_template(&format!("{{bar:40}} {{pos}}/{{len}} {what}  eta {{eta}}"))
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar
}

/// A report sink that moves `bar` and prints notes above it.
pub(crate) fn show(bar: &ProgressBar) -> impl FnMut(Report<'_>) + '_ {
    move |r| match r {
        Report::Progress { done, total, .. } => {
            bar.set_length(total as u64);
            bar.set_position(done as u64);
        }
        Report::Note(line) => bar.suspend(|| eprintln!("note: {line}")),
        Report::Train(_) | Report::Crops(_) => {}
    }
}

/// Runs a people workflow with a progress bar (see [`bar`]) that `run` gets with the sink
/// moving it; the bar is cleared when the workflow returns. The CLI never cancels (a kill
/// is what stops it, and the index keeps every finished batch).
pub(crate) fn with_bar<T>(
    hidden: bool,
    what: &str,
    run: impl FnOnce(
        &AtomicBool,
        &ProgressBar,
        &mut dyn FnMut(Report<'_>),
    ) -> Result<Outcome<T>, WorkflowError>,
) -> anyhow::Result<T> {
    let bar = bar(hidden, what);
    let outcome = run(&AtomicBool::new(false), &bar, &mut show(&bar));
    bar.finish_and_clear();
    match outcome? {
        Outcome::Done(t) => Ok(t),
        Outcome::Cancelled => anyhow::bail!("cancelled"),
    }
}

/// The plan of `people enrol`: one folder, or photos of the person `--name`.
pub(crate) fn enrol_plan(
    paths: &[PathBuf],
    name: Option<&str>,
    pick: FacePick,
) -> anyhow::Result<EnrolPlan> {
    let items = match name {
        Some(name) => paths
            .iter()
            .map(|p| EnrolItem {
                name: name.to_string(),
                photo: p.clone(),
                face: None,
            })
            .collect(),
        None => {
            anyhow::ensure!(
                paths.len() == 1 && paths[0].is_dir(),
                "give one folder of <person>/<photos>, or photos with --name NAME"
            );
            enrol_items_from_folder(&paths[0])?
        }
    };
    Ok(EnrolPlan { items, pick })
}

fn enrol(rec: &mut Recogniser, plan: &EnrolPlan, json: bool) -> anyhow::Result<ExitCode> {
    let s = with_bar(json, "photos", |cancel, _, report| {
        rec.enrol(plan, cancel, report)
    })?;
    for (name, photo, why) in &s.failed {
        eprintln!("not enrolled: {photo} ({name}): {why}");
    }
    if json {
        println!("{}", serde_json::to_string(&s)?);
    } else {
        let people: std::collections::BTreeSet<&str> =
            s.enrolled.iter().map(|e| e.name.as_str()).collect();
        println!(
            "enrolled {} face(s) of {} person(s) into {}; {} photo(s) not enrolled",
            s.enrolled.len(),
            people.len(),
            rec.index.name(),
            s.failed.len()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// The plan of `people index`.
pub(crate) fn index_plan(
    inputs: &[PathBuf],
    remove_missing: bool,
    suggest_threshold: Option<f32>,
) -> IndexPlan {
    IndexPlan {
        inputs: inputs.iter().map(|p| super::plan_path(p)).collect(),
        remove_missing,
        suggest_threshold,
    }
}

fn index(rec: &mut Recogniser, plan: IndexPlan, json: bool) -> anyhow::Result<ExitCode> {
    let s = with_bar(json, "photos", |cancel, _, report| {
        rec.index(&plan, cancel, report)
    })?;
    for (path, why) in &s.errors {
        eprintln!("skipped {path}: {why}");
    }
    if json {
        println!("{}", serde_json::to_string(&s)?);
    } else {
        println!(
            "{} photo(s): {} read ({} face(s), {} without a face, {} unreadable), {} unchanged, \
             {} touched, {} removed; {:.1} s, {:.2} photos/s",
            s.files,
            s.read,
            s.faces_added,
            s.without_faces,
            s.errors.len(),
            s.unchanged,
            s.touched,
            s.removed,
            s.seconds,
            s.photos_per_second
        );
        if s.suggested + s.joined_groups > 0 {
            println!(
                "new faces: {} suggested as a person, {} joined a group of unknown faces",
                s.suggested, s.joined_groups
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn list(rec: &Recogniser, errors: bool, json: bool) -> anyhow::Result<ExitCode> {
    let people = rec.index.people()?;
    let stats = rec.index.stats()?;
    let stale: usize = rec
        .index
        .stale_faces(&rec.model_id)?
        .iter()
        .map(|(_, n)| n)
        .sum();
    let problems: Vec<_> = if errors {
        rec.index
            .photos_under(None)?
            .into_iter()
            .filter(|p| p.status != face_index::PhotoStatus::Faces)
            .collect()
    } else {
        Vec::new()
    };
    if json {
        let out = serde_json::json!({
            "index": rec.index.name(), "people": people, "stats": stats,
            "faces_of_other_models": stale, "problems": problems,
        });
        println!("{out}");
        return Ok(ExitCode::SUCCESS);
    }
    for p in &people {
        println!(
            "{}\t{} enrolled, {} confirmed",
            p.name, p.enrolled, p.confirmed
        );
    }
    for p in &problems {
        println!(
            "{}\t{}",
            p.path,
            p.error.as_deref().unwrap_or("no face found")
        );
    }
    eprintln!(
        "{}: {} people; {} photos ({} without a face, {} unreadable), {} faces{}",
        rec.index.name(),
        stats.people,
        stats.photos,
        stats.photos_without_faces,
        stats.photos_with_errors,
        stats.faces,
        if stale > 0 {
            format!("; {stale} made by another model (run `people reembed`)")
        } else {
            String::new()
        }
    );
    Ok(ExitCode::SUCCESS)
}

fn reembed(rec: &mut Recogniser, json: bool) -> anyhow::Result<ExitCode> {
    let s = with_bar(json, "photos", |cancel, _, report| {
        rec.reembed(cancel, report)
    })?;
    for (path, why) in &s.failed {
        eprintln!("not re-embedded: {path}: {why}");
    }
    if json {
        println!("{}", serde_json::to_string(&s)?);
    } else {
        println!(
            "re-embedded {} face(s) of {} photo(s); {} photo(s) failed",
            s.faces,
            s.photos,
            s.failed.len()
        );
    }
    Ok(if s.failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// The default number of candidates shown per face.
pub(crate) const TOP_K: usize = 3;

/// `--matching` as clap parses it.
pub(crate) fn parse_matching(s: &str) -> Result<Matching, String> {
    s.parse()
}

fn train(rec: &Recogniser, args: &PeopleTrainArgs, device: &Device) -> anyhow::Result<ExitCode> {
    let plan = args.plan();
    let control = siamese_face::embed::train::Control::default();
    // The message is the workflow's current stage (photos, features, steps, embeddings).
    let bar = bar(args.json, "{msg}");
    let mut sink = show(&bar);
    let outcome = rec.train_people(&plan, device, &control, |r| {
        if let Report::Progress { stage, .. } = r {
            bar.set_message(stage.to_string());
        }
        sink(r)
    });
    bar.finish_and_clear();
    let Outcome::Done(s) = outcome? else {
        anyhow::bail!("cancelled");
    };
    for (path, why) in &s.skipped {
        eprintln!("faces not used: {path}: {why}");
    }
    if args.json {
        println!("{}", serde_json::to_string(&s)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "trained {} steps in {:.1} s on {} faces of {} people; saved {}",
        s.steps,
        s.training_seconds,
        s.training_faces,
        s.trained_people,
        s.model.display()
    );
    match (s.before, s.after) {
        (Some(b), Some(a)) => {
            println!(
                "held-out faces: {} of {} people",
                s.test_faces, s.test_people
            );
            println!("          rank-1   threshold  named   false accepts");
            for (label, m, t) in [("before", b, s.threshold_before), ("after", a, s.threshold)] {
                println!(
                    "{label:>8}  {:.4}   {t:.4}     {:.4}  {:.4}",
                    m.rank1, m.named_at_threshold, m.false_accepts_at_threshold
                );
            }
        }
        _ => println!(
            "nothing was held out to measure it (a person needs 3 or more faces; see --hold-out)"
        ),
    }
    println!(
        "the new model's threshold {:.4} keeps the old one's false accepts on the training faces{}",
        s.threshold,
        if s.unknown_faces >= siamese_face::workflow::people::MIN_UNKNOWN {
            format!(
                " and its share of the {} background faces named",
                s.unknown_faces
            )
        } else {
            String::new()
        }
    );
    eprintln!(
        "use it: siamese-face people --model {} reembed (the index keeps the old model's embeddings until then)",
        s.model.display()
    );
    Ok(ExitCode::SUCCESS)
}

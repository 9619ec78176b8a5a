//! `siamese-face people enrol|index|identify|search|list|remove|reembed`: the face index
//! from the command line, over the library's people workflows.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;

use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use siamese_face::backend::{self, BackendRequest};
use siamese_face::face_index::{self, Matching};
use siamese_face::workflow::people::{
    EnrolItem, EnrolPlan, IndexLocation, IndexPlan, Recogniser, enrol_items_from_folder,
};
use siamese_face::workflow::{Outcome, Report, WorkflowError};

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
    /// Enrol people: a folder of `<person>/<photos>` (or photos named after their person),
    /// or photos of one person with --name. One photo each is enough; more help.
    Enrol {
        #[arg(required = true, value_name = "FOLDER | PHOTO")]
        paths: Vec<PathBuf>,
        /// Every photo given shows this person (the largest face of each is used).
        #[arg(long)]
        name: Option<String>,
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
}

/// The shared `--model`, the index file and a compute device, opened.
pub(crate) fn open(
    index: Option<PathBuf>,
    model: &ModelArg,
    request: BackendRequest,
) -> anyhow::Result<Recogniser> {
    let selection = backend::select(request)?;
    let location = match index {
        Some(path) => IndexLocation::File(path),
        None => IndexLocation::File(face_index::default_index_path()),
    };
    Ok(Recogniser::open(
        &location,
        &model.dir(),
        &selection.device,
    )?)
}

pub fn run(args: PeopleArgs, request: BackendRequest) -> anyhow::Result<ExitCode> {
    let mut rec = open(args.index, &args.model, request)?;
    match args.command {
        PeopleCommand::Enrol { paths, name, json } => enrol(&mut rec, paths, name, json),
        PeopleCommand::Index {
            inputs,
            keep_missing,
            json,
        } => index(&mut rec, inputs, !keep_missing, json),
        PeopleCommand::Identify(a) => identify_cmd::identify(&rec, &a, identify_cmd::Output::Lines),
        PeopleCommand::Search(a) => identify_cmd::search(&rec, &a),
        PeopleCommand::List { errors, json } => list(&rec, errors, json),
        PeopleCommand::Remove { name } => {
            rec.index.remove_person(&name)?;
            eprintln!("removed {name} (their faces stay in the index)");
            Ok(ExitCode::SUCCESS)
        }
        PeopleCommand::Reembed { json } => reembed(&mut rec, json),
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
pub(crate) fn enrol_plan(paths: &[PathBuf], name: Option<&str>) -> anyhow::Result<EnrolPlan> {
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
    Ok(EnrolPlan { items })
}

fn enrol(
    rec: &mut Recogniser,
    paths: Vec<PathBuf>,
    name: Option<String>,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let plan = enrol_plan(&paths, name.as_deref())?;
    let s = with_bar(json, "photos", |cancel, _, report| {
        rec.enrol(&plan, cancel, report)
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
pub(crate) fn index_plan(inputs: &[PathBuf], remove_missing: bool) -> IndexPlan {
    IndexPlan {
        inputs: inputs.iter().map(|p| super::plan_path(p)).collect(),
        remove_missing,
    }
}

fn index(
    rec: &mut Recogniser,
    inputs: Vec<PathBuf>,
    remove_missing: bool,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let plan = index_plan(&inputs, remove_missing);
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

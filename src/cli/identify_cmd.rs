//! `siamese-face people identify|search` and the face_recognition-style shortcut
//! `siamese-face identify --known KNOWN_DIR UNKNOWN...` (CSV `path,name,similarity` per
//! face, enrolled into a throw-away in-memory index).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use siamese_face::backend::{self, BackendRequest};
use siamese_face::face_index::Matching;
use siamese_face::workflow::people::{
    IdentifyPlan, IndexLocation, PhotoIdentity, Recogniser, SearchPlan,
};

use super::people_cmd::{self, TOP_K, parse_matching};
use super::verify_cmd::ModelArg;

#[derive(Debug, Args)]
pub struct MatchArgs {
    /// Cosine-similarity threshold for naming a face (default: the model's, as on Compare).
    #[arg(long, value_parser = super::verify_cmd::parse_threshold)]
    pub threshold: Option<f32>,
    /// Match against each person's mean embedding (mean) or their most similar photo (best).
    #[arg(long, default_value = "mean", value_parser = parse_matching)]
    pub matching: Matching,
}

#[derive(Debug, Args)]
pub struct IdentifyArgs {
    #[arg(required = true, value_name = "PHOTO | FOLDER")]
    pub inputs: Vec<PathBuf>,
    #[command(flatten)]
    pub matching: MatchArgs,
    /// Candidates listed per face.
    #[arg(long, default_value_t = TOP_K)]
    pub top_k: usize,
    /// One JSON object per photo.
    #[arg(long)]
    pub json: bool,
}

impl IdentifyArgs {
    pub fn plan(&self) -> IdentifyPlan {
        IdentifyPlan {
            inputs: self.inputs.iter().map(|p| super::plan_path(p)).collect(),
            threshold: self.matching.threshold,
            top_k: self.top_k,
            matching: self.matching.matching,
        }
    }
}

#[derive(Debug, Args)]
pub struct SearchArgs {
    /// The enrolled person.
    pub name: String,
    #[command(flatten)]
    pub matching: MatchArgs,
    /// At most this many photos.
    #[arg(long)]
    pub limit: Option<usize>,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct KnownArgs {
    /// Photos of the people to recognise: `<person>/<photos>` folders, or photos named
    /// after their person (`Ann.jpg`).
    #[arg(long, value_name = "KNOWN_DIR")]
    pub known: PathBuf,
    #[command(flatten)]
    pub identify: IdentifyArgs,
    #[command(flatten)]
    pub model: ModelArg,
}

/// How identified photos are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    /// A readable line per face with its candidates.
    Lines,
    /// face_recognition's `path,name` with the similarity: `unknown_person` below the
    /// threshold, `no_persons_found` for a photo without a face.
    Csv,
}

pub fn identify(rec: &Recogniser, args: &IdentifyArgs, output: Output) -> anyhow::Result<ExitCode> {
    let plan = args.plan();
    let mut stdout = std::io::stdout().lock();
    let mut failed = Ok(());
    let hidden = args.json || output == Output::Csv;
    let id = people_cmd::with_bar(hidden, "photos", |cancel, bar, report| {
        rec.identify(&plan, cancel, report, |p| {
            if failed.is_ok() {
                failed = bar.suspend(|| print_photo(&mut stdout, p, args.json, output));
            }
        })
    })?;
    failed?;
    let faces: usize = id.photos.iter().map(|p| p.faces.len()).sum();
    let named = id
        .photos
        .iter()
        .flat_map(|p| &p.faces)
        .filter(|f| f.name.is_some())
        .count();
    eprintln!(
        "{} photo(s), {faces} face(s), {named} named at threshold {:.3} ({} people, {} enrolled \
         face(s), {:?} matching); search {:.3} ms per face",
        id.photos.len(),
        id.threshold,
        id.people,
        id.enrolled_faces,
        id.matching,
        id.search_ms_per_face
    );
    Ok(ExitCode::SUCCESS)
}

fn print_photo(
    out: &mut impl Write,
    p: &PhotoIdentity,
    json: bool,
    output: Output,
) -> anyhow::Result<()> {
    if json {
        writeln!(out, "{}", serde_json::to_string(p)?)?;
        return Ok(());
    }
    if let Some(e) = &p.error {
        eprintln!("{}: {e}", p.path);
        if output == Output::Csv {
            writeln!(out, "{},no_persons_found,", csv(&p.path))?;
        }
        return Ok(());
    }
    for (i, f) in p.faces.iter().enumerate() {
        let sim = f.similarity().map_or(String::new(), |s| format!("{s:.4}"));
        match output {
            Output::Csv => {
                let name = f.name.as_deref().unwrap_or("unknown_person");
                writeln!(out, "{},{},{sim}", csv(&p.path), csv(name))?;
            }
            Output::Lines => {
                let b = f.face.bbox;
                let candidates: Vec<String> = f
                    .candidates
                    .iter()
                    .map(|c| format!("{} {:.3}", c.name, c.similarity))
                    .collect();
                writeln!(
                    out,
                    "{}\tface {} [{:.0},{:.0},{:.0},{:.0}]\t{}\t{}",
                    p.path,
                    i + 1,
                    b[0],
                    b[1],
                    b[2],
                    b[3],
                    f.name.as_deref().unwrap_or("unknown"),
                    candidates.join(", ")
                )?;
            }
        }
    }
    Ok(())
}

/// A CSV field, quoted when it holds a comma, a quote or a line break.
fn csv(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

pub fn search(rec: &Recogniser, args: &SearchArgs) -> anyhow::Result<ExitCode> {
    let plan = SearchPlan {
        person: args.name.clone(),
        threshold: args.matching.threshold,
        matching: args.matching.matching,
        limit: args.limit,
    };
    let hits = rec.search(&plan)?;
    if args.json {
        println!("{}", serde_json::to_string(&hits)?);
    } else {
        for h in &hits {
            println!(
                "{}\t{:.4}{}",
                h.photo,
                h.similarity,
                if h.theirs { "\tenrolled" } else { "" }
            );
        }
        eprintln!(
            "{} photo(s) of {} at threshold {:.3}",
            hits.len(),
            args.name,
            rec.threshold(args.matching.threshold)
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `identify --known KNOWN_DIR UNKNOWN...`.
pub fn known(args: KnownArgs, request: BackendRequest) -> anyhow::Result<ExitCode> {
    let selection = backend::select(request)?;
    let mut rec = Recogniser::open(&IndexLocation::Memory, &args.model.dir(), &selection.device)?;
    let plan = people_cmd::enrol_plan(
        std::slice::from_ref(&args.known),
        None,
        siamese_face::crop::FacePick::Largest,
    )?;
    let s = people_cmd::with_bar(args.identify.json, "known photos", |cancel, _, report| {
        rec.enrol(&plan, cancel, report)
    })?;
    for (name, photo, why) in &s.failed {
        eprintln!("known photo not used: {photo} ({name}): {why}");
    }
    identify(&rec, &args.identify, Output::Csv)
}

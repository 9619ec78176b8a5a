//! `people name|merge|split|reject|cover|undo|export`: managing people in the face index
//! by hand. These read and write the index only, so no model is loaded.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Subcommand;
use siamese_face::face_index::{FaceIndex, FaceListing};

#[derive(Debug, Subcommand)]
pub enum ManageCommand {
    /// Name faces (say, a group `cluster --json` found) as a person, new or enrolled; faces
    /// said not to be them (`reject`) are left out.
    Name {
        name: String,
        /// Face ids, as `cluster --json` and `export` list them.
        #[arg(required = true, value_name = "FACE_ID")]
        faces: Vec<i64>,
    },
    /// Merge the person FROM into INTO (one person under two names): every face of FROM
    /// becomes INTO's, and FROM is removed.
    Merge { from: String, into: String },
    /// Move faces out of their person: to the person --to (new or existing), else back to
    /// the unknown faces.
    Split {
        #[arg(required = true, value_name = "FACE_ID")]
        faces: Vec<i64>,
        #[arg(long, value_name = "NAME")]
        to: Option<String>,
    },
    /// Say faces are not NAME: those of theirs become unknown, and none is suggested or
    /// group-named as NAME again.
    Reject {
        name: String,
        #[arg(required = true, value_name = "FACE_ID")]
        faces: Vec<i64>,
    },
    /// Show FACE_ID (one of theirs) for NAME.
    Cover { name: String, face: i64 },
    /// Undo the last name, merge, split, reject or cover.
    Undo,
    /// Every face with its photo, box and person.
    Export {
        /// As CSV (the default is JSON lines).
        #[arg(long)]
        csv: bool,
        /// Write to FILE (atomically) instead of stdout.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
}

pub fn run(index: &Path, command: ManageCommand) -> anyhow::Result<ExitCode> {
    let mut index = FaceIndex::open(index)?;
    match command {
        ManageCommand::Name { name, faces } => {
            let named = index.name_faces(&name, &faces)?;
            eprintln!("named {} face(s) {}", named.named, name.trim());
            if named.rejected > 0 {
                eprintln!(
                    "left out {} face(s) said not to be {} (`people split --to` moves one anyway)",
                    named.rejected,
                    name.trim()
                );
            }
        }
        ManageCommand::Merge { from, into } => {
            let moved = index.merge_people(&from, &into)?;
            eprintln!("merged {from} into {into} ({moved} face(s) moved); `people undo` undoes it");
        }
        ManageCommand::Split { faces, to } => {
            let moved = index.move_faces(&faces, to.as_deref())?;
            let whom = to.as_deref().unwrap_or("the unknown faces");
            eprintln!("moved {moved} face(s) to {whom}");
        }
        ManageCommand::Reject { name, faces } => {
            let unheld = index.reject(&faces, &name)?;
            eprintln!(
                "{} face(s) are not {name} ({unheld} of them were theirs and are unknown now)",
                faces.len()
            );
        }
        ManageCommand::Cover { name, face } => {
            index.set_cover(&name, face)?;
            eprintln!("face {face} shows {name}");
        }
        ManageCommand::Undo => match index.undo()? {
            Some(action) => eprintln!("undid {action}"),
            None => anyhow::bail!("nothing to undo in {}", index.name()),
        },
        ManageCommand::Export { csv, out } => export(&index, csv, out.as_deref())?,
    }
    Ok(ExitCode::SUCCESS)
}

fn export(index: &FaceIndex, csv: bool, out: Option<&Path>) -> anyhow::Result<()> {
    let faces = index.face_listing()?;
    let bytes = if csv {
        csv_bytes(&faces)?
    } else {
        let mut text = String::new();
        for f in &faces {
            text.push_str(&serde_json::to_string(f)?);
            text.push('\n');
        }
        text.into_bytes()
    };
    match out {
        Some(path) => {
            siamese_face::imageio::write_atomic(path, &bytes)?;
            eprintln!("wrote {} face(s) to {}", faces.len(), path.display());
        }
        None => {
            use std::io::Write;
            std::io::stdout().write_all(&bytes)?;
        }
    }
    Ok(())
}

fn csv_bytes(faces: &[FaceListing]) -> anyhow::Result<Vec<u8>> {
    let mut w = csv::Writer::from_writer(Vec::new());
    for f in faces {
        w.serialize(f)?;
    }
    Ok(w.into_inner().map_err(|e| e.into_error())?)
}

//! The face index: photos, the faces found in them with their embeddings, people, and
//! which faces are whose, persistent in one SQLite file (WAL, schema version with
//! migrations). Every change is one transaction, so a kill at any moment leaves the
//! database as it was before or after that change; two processes may share a file (SQLite
//! locks it, and a writer waits for the other instead of failing).
//!
//! Embeddings are stored per face with the id of the model that made them
//! ([`crate::model::model_id`]): searches read one model's faces only, and faces of
//! another model are reported as stale until they are re-embedded.

pub mod cluster;
mod groups;
mod journal;
mod listing;
mod manage;
mod people;
mod photos;
pub mod schema;
pub mod search;

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension};
use serde::Serialize;

pub use groups::StoredGroups;
pub use listing::FaceListing;
pub use manage::Named;
pub use people::{AssignmentKind, PersonSummary, check_name};
pub use photos::{FaceEntry, FaceRow, NewFace, PhotoContent, PhotoFile, PhotoRow, PhotoStatus};
pub use search::{Candidate, Matching, Matrix, PersonGallery};

/// How long a writer waits for another process's transaction before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error("face index {path}: {source}")]
    Sqlite {
        path: String,
        #[source]
        source: rusqlite::Error,
    },
    #[error("{path} is not a face index ({reason})")]
    NotAnIndex { path: String, reason: String },
    #[error(
        "face index {path} was written by a newer Siamese Face (schema {found}; this build \
         reads up to {supported}): update the app, or use another index"
    )]
    Newer {
        path: String,
        found: i64,
        supported: i64,
    },
    #[error(
        "face index {path}: {faces} faces were embedded by another model ({other}), not by \
         {model}; re-embed them with `siamese-face people reembed` (reads each photo again), \
         or pass the model that made them"
    )]
    OtherModel {
        path: String,
        faces: usize,
        other: String,
        model: String,
    },
    #[error("no person named {0:?} in the index")]
    NoPerson(String),
    #[error("{0}")]
    Invalid(String),
}

impl IndexError {
    fn sqlite(path: &str, source: rusqlite::Error) -> IndexError {
        IndexError::Sqlite {
            path: path.to_string(),
            source,
        }
    }
}

/// Counts of what an index holds.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct IndexStats {
    pub photos: usize,
    pub photos_without_faces: usize,
    pub photos_with_errors: usize,
    pub faces: usize,
    pub people: usize,
    /// Faces per model id, most first.
    pub models: Vec<(String, usize)>,
}

/// An open face index.
pub struct FaceIndex {
    conn: Connection,
    /// The file, or `:memory:`, as errors name it.
    name: String,
}

impl FaceIndex {
    /// Opens (creating it and its folder if needed) the index at `path`, migrating an older
    /// schema.
    pub fn open(path: &Path) -> Result<FaceIndex, IndexError> {
        let name = path.display().to_string();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| {
                IndexError::Invalid(format!("cannot create the folder of {name}: {e}"))
            })?;
        }
        let conn = Connection::open(path).map_err(|e| IndexError::sqlite(&name, e))?;
        Self::setup(conn, name, true)
    }

    /// A throw-away index in memory (`identify --known` enrols into one).
    pub fn in_memory() -> Result<FaceIndex, IndexError> {
        let name = ":memory:".to_string();
        let conn = Connection::open_in_memory().map_err(|e| IndexError::sqlite(&name, e))?;
        Self::setup(conn, name, false)
    }

    fn setup(mut conn: Connection, name: String, wal: bool) -> Result<FaceIndex, IndexError> {
        conn.busy_timeout(BUSY_TIMEOUT)
            .map_err(|e| IndexError::sqlite(&name, e))?;
        if wal {
            // The first statement to read the file: a non-SQLite file fails here.
            // Switching a new file to WAL takes an exclusive lock without waiting for
            // another process creating the same file, so a busy answer is retried.
            let mode: String = retry_busy(|| {
                conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))
            })
            .map_err(|e| IndexError::NotAnIndex {
                path: name.clone(),
                reason: e.to_string(),
            })?;
            if !mode.eq_ignore_ascii_case("wal") {
                log::warn!("face index {name}: journal mode {mode} (WAL not available)");
            }
            // With WAL, NORMAL loses no committed transaction on a process kill, only
            // possibly the last ones on a power cut, and never corrupts the file.
            conn.pragma_update(None, "synchronous", "NORMAL")
                .map_err(|e| IndexError::sqlite(&name, e))?;
        }
        conn.pragma_update(None, "foreign_keys", true)
            .map_err(|e| IndexError::sqlite(&name, e))?;
        schema::migrate(&mut conn, &name)?;
        Ok(FaceIndex { conn, name })
    }

    /// The index's name in messages (its path).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The rows of `sql`, a query of two integer columns.
    fn id_pairs(&self, sql: &str) -> Result<Vec<(i64, i64)>, IndexError> {
        let mut stmt = self.conn.prepare(sql).map_err(self.err())?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(self.err())?;
        rows.collect::<Result<_, _>>().map_err(self.err())
    }

    /// A write transaction (`BEGIN IMMEDIATE`: it takes the write lock first, so what a
    /// change reads and then writes is one step even beside another process), with the
    /// index's name for errors.
    fn write(&mut self) -> Result<(rusqlite::Transaction<'_>, &str), IndexError> {
        let FaceIndex { conn, name } = self;
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(|e| IndexError::sqlite(name, e))?;
        Ok((tx, name))
    }

    fn err(&self) -> impl Fn(rusqlite::Error) -> IndexError + '_ {
        |e| IndexError::sqlite(&self.name, e)
    }

    /// A value of the `meta` table.
    pub fn meta(&self, key: &str) -> Result<Option<String>, IndexError> {
        self.conn
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()
            .map_err(self.err())
    }

    pub fn set_meta(&self, key: &str, value: &str) -> Result<(), IndexError> {
        self.conn
            .execute(
                "INSERT INTO meta (key, value) VALUES (?1, ?2)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                [key, value],
            )
            .map(drop)
            .map_err(self.err())
    }

    /// Faces embedded by a model other than `model_id`: `(their model, count)`, most first.
    pub fn stale_faces(&self, model_id: &str) -> Result<Vec<(String, usize)>, IndexError> {
        Ok(self
            .face_models()?
            .into_iter()
            .filter(|(m, _)| m != model_id)
            .collect())
    }

    /// An error when some faces were made by another model than `model_id`.
    pub fn check_model(&self, model_id: &str) -> Result<(), IndexError> {
        let stale = self.stale_faces(model_id)?;
        match stale.first() {
            None => Ok(()),
            Some((other, _)) => Err(IndexError::OtherModel {
                path: self.name.clone(),
                faces: stale.iter().map(|(_, n)| n).sum(),
                other: other.clone(),
                model: model_id.to_string(),
            }),
        }
    }

    fn face_models(&self) -> Result<Vec<(String, usize)>, IndexError> {
        let mut stmt = self
            .conn
            .prepare("SELECT model_id, COUNT(*) FROM faces GROUP BY model_id ORDER BY 2 DESC")
            .map_err(self.err())?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get::<_, i64>(1)? as usize)))
            .map_err(self.err())?;
        rows.collect::<Result<_, _>>().map_err(self.err())
    }

    pub fn stats(&self) -> Result<IndexStats, IndexError> {
        let count = |sql: &str| -> Result<usize, IndexError> {
            self.conn
                .query_row(sql, [], |r| r.get::<_, i64>(0))
                .map(|n| n as usize)
                .map_err(self.err())
        };
        Ok(IndexStats {
            photos: count("SELECT COUNT(*) FROM photos")?,
            photos_without_faces: count("SELECT COUNT(*) FROM photos WHERE status = 'no_face'")?,
            photos_with_errors: count("SELECT COUNT(*) FROM photos WHERE status = 'error'")?,
            faces: count("SELECT COUNT(*) FROM faces")?,
            people: count("SELECT COUNT(*) FROM people")?,
            models: self.face_models()?,
        })
    }
}

/// `f` again while SQLite answers busy or locked, for up to [`BUSY_TIMEOUT`].
fn retry_busy<T>(mut f: impl FnMut() -> rusqlite::Result<T>) -> rusqlite::Result<T> {
    let start = std::time::Instant::now();
    loop {
        match f() {
            Err(e)
                if matches!(
                    e.sqlite_error_code(),
                    Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
                ) && start.elapsed() < BUSY_TIMEOUT =>
            {
                std::thread::sleep(Duration::from_millis(10));
            }
            result => return result,
        }
    }
}

/// Where the app keeps its face index unless told otherwise: `$SIAMESE_FACE_INDEX`, else
/// `$XDG_DATA_HOME/siamese-face/faces.sqlite` (`~/.local/share/...`).
pub fn default_index_path() -> PathBuf {
    if let Some(path) = std::env::var_os("SIAMESE_FACE_INDEX") {
        return PathBuf::from(path);
    }
    let base = std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
        .unwrap_or_else(std::env::temp_dir);
    base.join("siamese-face").join("faces.sqlite")
}

/// Seconds since the Unix epoch (the index's timestamps).
fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_manage;

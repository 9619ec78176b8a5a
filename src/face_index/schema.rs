//! The index's SQL schema and its migrations. `PRAGMA user_version` holds the schema
//! version; an upgrade runs every missing migration inside one transaction under the write
//! lock, so a kill during it leaves the old version intact and two processes never apply
//! the same migration twice.

use rusqlite::{Connection, OptionalExtension, TransactionBehavior};

use super::IndexError;

/// `PRAGMA application_id` of a face index ("SFID"), so another program's SQLite file is
/// recognised as not ours before anything is written to it.
pub const APPLICATION_ID: i32 = 0x5346_4944;

/// The version this build writes; it reads every older one by migrating it.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// `MIGRATIONS[v]` moves a database from version `v` to `v + 1`.
const MIGRATIONS: &[&str] = &[
    // 1: photos, their faces (embeddings keyed by the model that made them), people and
    // which faces are whose.
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
     CREATE TABLE photos (
         id INTEGER PRIMARY KEY,
         path TEXT NOT NULL UNIQUE,
         hash TEXT NOT NULL,
         size INTEGER NOT NULL,
         mtime_ns INTEGER NOT NULL,
         status TEXT NOT NULL CHECK (status IN ('faces', 'no_face', 'error')),
         error TEXT,
         indexed_at INTEGER NOT NULL
     );
     CREATE TABLE faces (
         id INTEGER PRIMARY KEY,
         photo_id INTEGER NOT NULL REFERENCES photos(id) ON DELETE CASCADE,
         x1 REAL NOT NULL, y1 REAL NOT NULL, x2 REAL NOT NULL, y2 REAL NOT NULL,
         landmarks TEXT NOT NULL,
         score REAL NOT NULL,
         crop TEXT NOT NULL,
         model_id TEXT NOT NULL,
         embedding BLOB NOT NULL
     );
     CREATE INDEX faces_photo ON faces(photo_id);
     CREATE TABLE people (
         id INTEGER PRIMARY KEY,
         name TEXT NOT NULL UNIQUE,
         notes TEXT NOT NULL DEFAULT '',
         created_at INTEGER NOT NULL
     );
     CREATE TABLE assignments (
         face_id INTEGER PRIMARY KEY REFERENCES faces(id) ON DELETE CASCADE,
         person_id INTEGER NOT NULL REFERENCES people(id) ON DELETE CASCADE,
         kind TEXT NOT NULL CHECK (kind IN ('enrolled', 'confirmed', 'suggested')),
         similarity REAL
     );
     CREATE INDEX assignments_person ON assignments(person_id);",
    // 2: photo dimensions (the app lays out a photo's boxes before its pixels arrive) and
    // an index for the per-model queries (search and re-embedding read one model's faces).
    "ALTER TABLE photos ADD COLUMN width INTEGER NOT NULL DEFAULT 0;
     ALTER TABLE photos ADD COLUMN height INTEGER NOT NULL DEFAULT 0;
     CREATE INDEX faces_model ON faces(model_id);",
    // 3: managing people by hand. A chosen cover face; the faces a user said are not a
    // person (never suggested or group-named as them again); the last action's undo
    // journal (one row); and the unknown faces' groups as the last grouping left them,
    // which new faces join when indexed.
    "ALTER TABLE people ADD COLUMN cover_face_id INTEGER REFERENCES faces(id) ON DELETE SET NULL;
     CREATE TABLE rejections (
         face_id INTEGER NOT NULL REFERENCES faces(id) ON DELETE CASCADE,
         person_id INTEGER NOT NULL REFERENCES people(id) ON DELETE CASCADE,
         PRIMARY KEY (face_id, person_id)
     );
     CREATE TABLE undo (
         id INTEGER PRIMARY KEY CHECK (id = 1),
         action TEXT NOT NULL,
         journal TEXT NOT NULL,
         done_at INTEGER NOT NULL
     );
     CREATE TABLE face_groups (
         face_id INTEGER PRIMARY KEY REFERENCES faces(id) ON DELETE CASCADE,
         group_id INTEGER NOT NULL
     );
     CREATE INDEX face_groups_group ON face_groups(group_id);",
];

/// Brings `conn` to [`SCHEMA_VERSION`], creating the schema in an empty database; refuses
/// a file that is another program's database or a newer version's index.
pub fn migrate(conn: &mut Connection, path: &str) -> Result<(), IndexError> {
    migrate_to(conn, path, SCHEMA_VERSION)
}

/// Like [`migrate`] but stops at `target` (tests build older indexes with it).
pub fn migrate_to(conn: &mut Connection, path: &str, target: i64) -> Result<(), IndexError> {
    let sql = |e| IndexError::sqlite(path, e);
    // Read in one snapshot (another process may be creating the same new file).
    let tx = conn.transaction().map_err(sql)?;
    let version = checked_version(&tx, path)?;
    tx.commit().map_err(sql)?;
    if version >= target {
        return Ok(());
    }
    // Under the write lock, checked again: another process opening the same new file may
    // have created the schema since (two `people index` started at once).
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(sql)?;
    let version = checked_version(&tx, path)?;
    for v in version..target {
        tx.execute_batch(MIGRATIONS[v as usize]).map_err(sql)?;
        tx.pragma_update(None, "application_id", APPLICATION_ID)
            .map_err(sql)?;
        tx.pragma_update(None, "user_version", v + 1).map_err(sql)?;
        if v > 0 {
            log::info!("face index {path}: migrating schema {v} -> {}", v + 1);
        }
    }
    tx.commit().map_err(sql)
}

/// The schema version of the index `conn` opened, or why it is not one this build reads.
fn checked_version(conn: &Connection, path: &str) -> Result<i64, IndexError> {
    let sql = |e| IndexError::sqlite(path, e);
    let app: i32 = conn
        .pragma_query_value(None, "application_id", |r| r.get(0))
        .map_err(|e| not_an_index(path, e))?;
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .map_err(sql)?;
    if app != APPLICATION_ID && (app != 0 || version != 0 || has_tables(conn).map_err(sql)?) {
        return Err(IndexError::NotAnIndex {
            path: path.to_string(),
            reason: "a SQLite database of another program".into(),
        });
    }
    if version > SCHEMA_VERSION {
        return Err(IndexError::Newer {
            path: path.to_string(),
            found: version,
            supported: SCHEMA_VERSION,
        });
    }
    Ok(version)
}

fn has_tables(conn: &Connection) -> rusqlite::Result<bool> {
    conn.query_row("SELECT 1 FROM sqlite_master LIMIT 1", [], |_| Ok(()))
        .optional()
        .map(|r| r.is_some())
}

fn not_an_index(path: &str, e: rusqlite::Error) -> IndexError {
    IndexError::NotAnIndex {
        path: path.to_string(),
        reason: e.to_string(),
    }
}

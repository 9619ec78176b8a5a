//! The undo journal: a managing action ([`super::manage`]) records, in its own
//! transaction, every row it is about to change as it was, and undoing puts those rows
//! back. Only the last action is kept (one row of the `undo` table), so the journal and the
//! change it undoes are always written together: a kill leaves both old or both new.

use std::collections::HashSet;

use rusqlite::{OptionalExtension, Transaction, params};
use serde::{Deserialize, Serialize};

/// A person's row as it was.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct PersonRow {
    name: String,
    notes: String,
    created_at: i64,
    cover_face_id: Option<i64>,
}

/// Who held a face: `(person id, kind, similarity)`.
type Held = (i64, String, Option<f64>);

/// The rows an action changed, as they were before it.
#[derive(Debug, Default, Serialize, Deserialize)]
pub(super) struct Journal {
    /// `(person id, their row)`; `None`: the action created them.
    people: Vec<(i64, Option<PersonRow>)>,
    /// `(face id, its holder)`; `None`: nobody held it.
    assignments: Vec<(i64, Option<Held>)>,
    /// `(face id, person id, whether the rejection existed)`.
    rejections: Vec<(i64, i64, bool)>,
    /// What was recorded already (only the first, oldest image of a row counts).
    #[serde(skip)]
    seen: HashSet<(u8, i64, i64)>,
}

impl Journal {
    /// Records person `id` as it is now (before the action changes or removes it).
    pub fn person(&mut self, tx: &Transaction, id: i64) -> rusqlite::Result<()> {
        if self.seen.insert((0, id, 0)) {
            let row = tx
                .query_row(
                    "SELECT name, notes, created_at, cover_face_id FROM people WHERE id = ?1",
                    [id],
                    |r| {
                        Ok(PersonRow {
                            name: r.get(0)?,
                            notes: r.get(1)?,
                            created_at: r.get(2)?,
                            cover_face_id: r.get(3)?,
                        })
                    },
                )
                .optional()?;
            self.people.push((id, row));
        }
        Ok(())
    }

    /// Records that the action created person `id` (undoing removes them).
    pub fn created(&mut self, id: i64) {
        if self.seen.insert((0, id, 0)) {
            self.people.push((id, None));
        }
    }

    /// Records who holds `face` now.
    pub fn face(&mut self, tx: &Transaction, face: i64) -> rusqlite::Result<()> {
        if self.seen.insert((1, face, 0)) {
            let held = tx
                .query_row(
                    "SELECT person_id, kind, similarity FROM assignments WHERE face_id = ?1",
                    [face],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .optional()?;
            self.assignments.push((face, held));
        }
        Ok(())
    }

    /// Records whether `face` is rejected for `person` now.
    pub fn rejection(&mut self, tx: &Transaction, face: i64, person: i64) -> rusqlite::Result<()> {
        if self.seen.insert((2, face, person)) {
            let exists = tx
                .query_row(
                    "SELECT 1 FROM rejections WHERE face_id = ?1 AND person_id = ?2",
                    [face, person],
                    |_| Ok(()),
                )
                .optional()?
                .is_some();
            self.rejections.push((face, person, exists));
        }
        Ok(())
    }

    /// Makes this the action that [`undo`] undoes, described as `action`.
    pub fn save(&self, tx: &Transaction, action: &str) -> rusqlite::Result<()> {
        let journal = serde_json::to_string(self)
            .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
        tx.execute(
            "INSERT INTO undo (id, action, journal, done_at) VALUES (1, ?1, ?2, ?3)
             ON CONFLICT (id) DO UPDATE SET action = excluded.action,
             journal = excluded.journal, done_at = excluded.done_at",
            params![action, journal, super::now()],
        )?;
        Ok(())
    }
}

/// Forgets the last action (a change the journal does not cover happened since).
pub(super) fn forget(tx: &Transaction) -> rusqlite::Result<()> {
    tx.execute("DELETE FROM undo", []).map(drop)
}

/// The last action's description, if there is one to undo.
pub(super) fn last(conn: &rusqlite::Connection) -> rusqlite::Result<Option<String>> {
    conn.query_row("SELECT action FROM undo WHERE id = 1", [], |r| r.get(0))
        .optional()
}

/// Undoes the last action inside `tx`: returns its description, or `None` when there is
/// none. Faces removed from the index since are skipped (their rows went with them).
pub(super) fn undo(tx: &Transaction) -> rusqlite::Result<Option<String>> {
    let Some((action, text)) = tx
        .query_row("SELECT action, journal FROM undo WHERE id = 1", [], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
        })
        .optional()?
    else {
        return Ok(None);
    };
    let journal: Journal = serde_json::from_str(&text).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(2, rusqlite::types::Type::Text, Box::new(e))
    })?;
    // People first (faces are given back to them), the ones the action created last
    // (nothing points at them once the faces are back).
    for (id, row) in &journal.people {
        if let Some(p) = row {
            put_person(tx, *id, p)?;
        }
    }
    for (face, held) in &journal.assignments {
        tx.execute("DELETE FROM assignments WHERE face_id = ?1", [face])?;
        if let Some((person, kind, similarity)) = held {
            tx.execute(
                "INSERT INTO assignments (face_id, person_id, kind, similarity)
                 SELECT ?1, ?2, ?3, ?4 WHERE EXISTS (SELECT 1 FROM faces WHERE id = ?1)
                 AND EXISTS (SELECT 1 FROM people WHERE id = ?2)",
                params![face, person, kind, similarity],
            )?;
        }
    }
    for (face, person, existed) in &journal.rejections {
        tx.execute(
            "DELETE FROM rejections WHERE face_id = ?1 AND person_id = ?2",
            [face, person],
        )?;
        if *existed {
            tx.execute(
                "INSERT INTO rejections (face_id, person_id)
                 SELECT ?1, ?2 WHERE EXISTS (SELECT 1 FROM faces WHERE id = ?1)
                 AND EXISTS (SELECT 1 FROM people WHERE id = ?2)",
                [face, person],
            )?;
        }
    }
    for (id, row) in &journal.people {
        if row.is_none() {
            tx.execute("DELETE FROM people WHERE id = ?1", [id])?;
        }
    }
    forget(tx)?;
    Ok(Some(action))
}

/// Puts a person's row back as it was: updated in place when they still exist (so their
/// assignments stay), inserted with the same id when the action removed them.
fn put_person(tx: &Transaction, id: i64, p: &PersonRow) -> rusqlite::Result<()> {
    // A cover face removed from the index since is no cover any more.
    let cover = "(SELECT id FROM faces WHERE id = ?5)";
    let updated = tx.execute(
        &format!(
            "UPDATE people SET name = ?2, notes = ?3, created_at = ?4, cover_face_id = {cover}
             WHERE id = ?1"
        ),
        params![id, p.name, p.notes, p.created_at, p.cover_face_id],
    )?;
    if updated == 0 {
        tx.execute(
            &format!(
                "INSERT INTO people (id, name, notes, created_at, cover_face_id)
                 VALUES (?1, ?2, ?3, ?4, {cover})"
            ),
            params![id, p.name, p.notes, p.created_at, p.cover_face_id],
        )?;
    }
    Ok(())
}

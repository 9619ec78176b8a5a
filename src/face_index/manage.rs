//! Managing people by hand: name faces, merge two people, move faces to someone else or
//! back to the unknown faces (a split), say a face is not a person (remembered: that face
//! is never suggested or group-named as them again), pick a cover face, and undo the last
//! of these. Each is one transaction that writes its undo journal too.

use rusqlite::{Transaction, params};

use super::journal::{self, Journal};
use super::{FaceIndex, IndexError, check_name, now};

/// What naming faces did.
#[derive(Debug, Clone, PartialEq)]
pub struct Named {
    pub person_id: i64,
    /// Faces now theirs.
    pub named: usize,
    /// Faces left out because the user said they are not this person.
    pub rejected: usize,
}

impl FaceIndex {
    /// Runs `change` in one write transaction and saves its journal as the last action,
    /// described by the text `change` returns beside its result.
    fn journaled<T>(
        &mut self,
        change: impl FnOnce(&Transaction, &mut Journal) -> Result<(T, String), IndexError>,
    ) -> Result<T, IndexError> {
        let (tx, index) = self.write()?;
        let err = |e| IndexError::sqlite(index, e);
        let mut journal = Journal::default();
        let (out, action) = change(&tx, &mut journal)?;
        journal.save(&tx, &action).map_err(err)?;
        tx.commit().map_err(err)?;
        Ok(out)
    }

    /// Names `face_ids` (say, a group of unknown faces) as `name`, creating the person if
    /// new. A face the user said is not `name` is left as it is; an id that is no face of
    /// the index is an error before anything is written.
    pub fn name_faces(&mut self, name: &str, face_ids: &[i64]) -> Result<Named, IndexError> {
        let name = check_name(name)?.to_string();
        let index = self.name.clone();
        self.journaled(|tx, journal| {
            let err = |e| IndexError::sqlite(&index, e);
            check_faces(tx, face_ids, &index)?;
            let person = person_or_new(tx, journal, &name).map_err(err)?;
            let mut named = Named {
                person_id: person,
                named: 0,
                rejected: 0,
            };
            for &face in face_ids {
                if is_rejected(tx, face, person).map_err(err)? {
                    named.rejected += 1;
                    continue;
                }
                journal.face(tx, face).map_err(err)?;
                hold(tx, face, person).map_err(err)?;
                named.named += 1;
            }
            let action = format!("naming {} {name}", faces_text(named.named));
            Ok((named, action))
        })
    }

    /// Merges the person `from` into `into`: every face of `from` becomes `into`'s, what
    /// was said not to be `from` is not `into` either, and `from` is removed. Returns how
    /// many faces moved.
    pub fn merge_people(&mut self, from: &str, into: &str) -> Result<usize, IndexError> {
        let (from_id, into_id) = (self.existing(from)?, self.existing(into)?);
        if from_id == into_id {
            return Err(IndexError::Invalid(format!(
                "cannot merge {from:?} into themselves"
            )));
        }
        let index = self.name.clone();
        let (from, into) = (from.trim().to_string(), into.trim().to_string());
        self.journaled(|tx, journal| {
            let err = |e| IndexError::sqlite(&index, e);
            let moved = merge(tx, journal, from_id, into_id).map_err(err)?;
            Ok((moved, format!("merging {from} into {into}")))
        })
    }

    /// Moves `face_ids` to the person `to` (created if new), or out to the unknown faces
    /// when `to` is `None`: a split when they are some of one person's faces, a correction
    /// when they are one face. Moving a face to someone clears a "not them" said of it.
    pub fn move_faces(&mut self, face_ids: &[i64], to: Option<&str>) -> Result<usize, IndexError> {
        let to = to.map(check_name).transpose()?.map(str::to_string);
        let index = self.name.clone();
        self.journaled(|tx, journal| {
            let err = |e| IndexError::sqlite(&index, e);
            check_faces(tx, face_ids, &index)?;
            let person = match &to {
                Some(name) => Some(person_or_new(tx, journal, name).map_err(err)?),
                None => None,
            };
            for &face in face_ids {
                journal.face(tx, face).map_err(err)?;
                match person {
                    Some(person) => {
                        journal.rejection(tx, face, person).map_err(err)?;
                        tx.execute(
                            "DELETE FROM rejections WHERE face_id = ?1 AND person_id = ?2",
                            [face, person],
                        )
                        .map_err(err)?;
                        hold(tx, face, person).map_err(err)?;
                    }
                    None => {
                        tx.execute("DELETE FROM assignments WHERE face_id = ?1", [face])
                            .map_err(err)?;
                    }
                }
            }
            let whom = to.as_deref().unwrap_or("the unknown faces");
            let action = format!("moving {} to {whom}", faces_text(face_ids.len()));
            Ok((face_ids.len(), action))
        })
    }

    /// Says `face_ids` are not `person`: the faces of theirs among them become unknown,
    /// and none of them is suggested or group-named as `person` again. Returns how many
    /// were theirs.
    pub fn reject(&mut self, face_ids: &[i64], person: &str) -> Result<usize, IndexError> {
        let person_id = self.existing(person)?;
        let index = self.name.clone();
        let person = person.trim().to_string();
        self.journaled(|tx, journal| {
            let err = |e| IndexError::sqlite(&index, e);
            check_faces(tx, face_ids, &index)?;
            let mut unheld = 0;
            for &face in face_ids {
                journal.rejection(tx, face, person_id).map_err(err)?;
                tx.execute(
                    "INSERT INTO rejections (face_id, person_id) VALUES (?1, ?2)
                     ON CONFLICT DO NOTHING",
                    [face, person_id],
                )
                .map_err(err)?;
                journal.face(tx, face).map_err(err)?;
                unheld += tx
                    .execute(
                        "DELETE FROM assignments WHERE face_id = ?1 AND person_id = ?2",
                        [face, person_id],
                    )
                    .map_err(err)?;
            }
            let action = format!("saying {} not {person}", faces_text(face_ids.len()));
            Ok((unheld, action))
        })
    }

    /// Shows `face` (one of theirs) for `person`.
    pub fn set_cover(&mut self, person: &str, face: i64) -> Result<(), IndexError> {
        let person_id = self.existing(person)?;
        let theirs = self
            .faces_of_person(person_id)?
            .iter()
            .any(|(f, _)| *f == face);
        if !theirs {
            return Err(IndexError::Invalid(format!(
                "face {face} is not one of {}'s faces",
                person.trim()
            )));
        }
        let index = self.name.clone();
        let person = person.trim().to_string();
        self.journaled(|tx, journal| {
            let err = |e| IndexError::sqlite(&index, e);
            journal.person(tx, person_id).map_err(err)?;
            tx.execute(
                "UPDATE people SET cover_face_id = ?2 WHERE id = ?1",
                [person_id, face],
            )
            .map_err(err)?;
            Ok(((), format!("choosing face {face} to show {person}")))
        })
    }

    /// The last naming, merge, move, rejection or cover choice, if it can be undone.
    pub fn last_action(&self) -> Result<Option<String>, IndexError> {
        journal::last(&self.conn).map_err(self.err())
    }

    /// Undoes the last action (one transaction); returns what it was, or `None` when there
    /// is nothing to undo.
    pub fn undo(&mut self) -> Result<Option<String>, IndexError> {
        let (tx, index) = self.write()?;
        let err = |e| IndexError::sqlite(index, e);
        let undone = journal::undo(&tx).map_err(err)?;
        tx.commit().map_err(err)?;
        Ok(undone)
    }

    /// The people each of `face_ids` was said not to be, as `(face id, person id)`.
    pub fn rejections(&self) -> Result<std::collections::HashSet<(i64, i64)>, IndexError> {
        let pairs = self.id_pairs("SELECT face_id, person_id FROM rejections")?;
        Ok(pairs.into_iter().collect())
    }

    fn existing(&self, name: &str) -> Result<i64, IndexError> {
        self.person_id(name)?
            .ok_or_else(|| IndexError::NoPerson(name.trim().to_string()))
    }
}

/// Moves every face and rejection of `from` to `into` and removes `from`.
fn merge(tx: &Transaction, journal: &mut Journal, from: i64, into: i64) -> rusqlite::Result<usize> {
    journal.person(tx, from)?;
    journal.person(tx, into)?;
    let faces = column(
        tx,
        "SELECT face_id FROM assignments WHERE person_id = ?1",
        from,
    )?;
    for &face in &faces {
        journal.face(tx, face)?;
        // They are one person now: a "not `into`" said of these faces no longer holds.
        journal.rejection(tx, face, into)?;
        tx.execute(
            "DELETE FROM rejections WHERE face_id = ?1 AND person_id = ?2",
            [face, into],
        )?;
    }
    tx.execute(
        "UPDATE assignments SET person_id = ?2 WHERE person_id = ?1",
        [from, into],
    )?;
    for face in column(
        tx,
        "SELECT face_id FROM rejections WHERE person_id = ?1",
        from,
    )? {
        journal.rejection(tx, face, from)?;
        journal.rejection(tx, face, into)?;
        // Unless the face is `into`'s own: then the merge says it is them after all.
        tx.execute(
            "INSERT INTO rejections (face_id, person_id) SELECT ?1, ?2
             WHERE NOT EXISTS (SELECT 1 FROM assignments WHERE face_id = ?1 AND person_id = ?2)
             ON CONFLICT DO NOTHING",
            [face, into],
        )?;
        tx.execute(
            "DELETE FROM rejections WHERE face_id = ?1 AND person_id = ?2",
            [face, from],
        )?;
    }
    // `into` keeps its cover and notes; where it has none, it takes `from`'s.
    tx.execute(
        "UPDATE people SET
           cover_face_id = COALESCE(cover_face_id, (SELECT cover_face_id FROM people WHERE id = ?1)),
           notes = CASE WHEN notes = '' THEN (SELECT notes FROM people WHERE id = ?1) ELSE notes END
         WHERE id = ?2",
        [from, into],
    )?;
    tx.execute("DELETE FROM people WHERE id = ?1", [from])?;
    Ok(faces.len())
}

/// The person named `name`, created (and journaled as new) when there is none.
fn person_or_new(tx: &Transaction, journal: &mut Journal, name: &str) -> rusqlite::Result<i64> {
    let found = tx.query_row("SELECT id FROM people WHERE name = ?1", [name], |r| {
        r.get(0)
    });
    match found {
        Ok(id) => Ok(id),
        Err(rusqlite::Error::QueryReturnedNoRows) => {
            tx.execute(
                "INSERT INTO people (name, created_at) VALUES (?1, ?2)",
                params![name, now()],
            )?;
            let id = tx.last_insert_rowid();
            journal.created(id);
            Ok(id)
        }
        Err(e) => Err(e),
    }
}

/// Gives `face` to `person` as the user's word (confirmed), keeping an enrolled face
/// enrolled.
fn hold(tx: &Transaction, face: i64, person: i64) -> rusqlite::Result<()> {
    tx.execute(
        "INSERT INTO assignments (face_id, person_id, kind) VALUES (?1, ?2, 'confirmed')
         ON CONFLICT (face_id) DO UPDATE SET person_id = excluded.person_id,
           kind = CASE WHEN kind = 'enrolled' THEN 'enrolled' ELSE 'confirmed' END,
           similarity = NULL",
        [face, person],
    )
    .map(drop)
}

fn is_rejected(tx: &Transaction, face: i64, person: i64) -> rusqlite::Result<bool> {
    tx.query_row(
        "SELECT COUNT(*) FROM rejections WHERE face_id = ?1 AND person_id = ?2",
        [face, person],
        |r| r.get::<_, i64>(0),
    )
    .map(|n| n > 0)
}

/// An error naming the first of `face_ids` that is no face of the index.
fn check_faces(tx: &Transaction, face_ids: &[i64], index: &str) -> Result<(), IndexError> {
    let mut stmt = tx
        .prepare("SELECT COUNT(*) FROM faces WHERE id = ?1")
        .map_err(|e| IndexError::sqlite(index, e))?;
    for &id in face_ids {
        let n: i64 = stmt
            .query_row([id], |r| r.get(0))
            .map_err(|e| IndexError::sqlite(index, e))?;
        if n == 0 {
            return Err(IndexError::Invalid(format!(
                "there is no face {id} in the index"
            )));
        }
    }
    Ok(())
}

fn column(tx: &Transaction, sql: &str, id: i64) -> rusqlite::Result<Vec<i64>> {
    let mut stmt = tx.prepare(sql)?;
    let rows = stmt.query_map([id], |r| r.get(0))?;
    rows.collect()
}

fn faces_text(n: usize) -> String {
    format!("{n} face{}", if n == 1 { "" } else { "s" })
}

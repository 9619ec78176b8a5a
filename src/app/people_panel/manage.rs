//! Changes to the people made by hand on the People page, each one call of the face
//! index's managing operations (the same as `siamese-face people name|merge|split|reject|
//! cover|undo`), and what a drag on the page carries.

use siamese_face::face_index::{FaceIndex, IndexError};

/// A change the user asked for.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// Faces (a group of unknown faces) named as a person.
    Name(String, Vec<i64>),
    /// The first person merged into the second.
    Merge(String, String),
    /// Faces moved to a person, or back to the unknown faces.
    Move(Vec<i64>, Option<String>),
    /// Faces said not to be a person.
    Reject(Vec<i64>, String),
    /// A person's face to show for them.
    Cover(String, i64),
    Undo,
}

impl Change {
    /// Applies the change; returns a line saying what was done.
    pub fn apply(&self, index: &mut FaceIndex) -> Result<String, IndexError> {
        Ok(match self {
            Change::Name(name, faces) => {
                let n = index.name_faces(name, faces)?;
                let left_out = match n.rejected {
                    0 => String::new(),
                    r => format!("; {r} left out (said not to be {name})"),
                };
                format!("named {} face(s) {name}{left_out}", n.named)
            }
            Change::Merge(from, into) => {
                let moved = index.merge_people(from, into)?;
                format!("merged {from} into {into} ({moved} face(s))")
            }
            Change::Move(faces, to) => {
                let moved = index.move_faces(faces, to.as_deref())?;
                let whom = to.as_deref().unwrap_or("the unknown faces");
                format!("moved {moved} face(s) to {whom}")
            }
            Change::Reject(faces, person) => {
                index.reject(faces, person)?;
                format!("{} face(s) are not {person}", faces.len())
            }
            Change::Cover(person, face) => {
                index.set_cover(person, *face)?;
                format!("face {face} now shows {person}")
            }
            Change::Undo => match index.undo()? {
                Some(action) => format!("undid {action}"),
                None => "nothing to undo".to_string(),
            },
        })
    }
}

/// What is dragged on the People page.
#[derive(Debug, Clone, PartialEq)]
pub enum Dragged {
    /// A person's card (dropped on another person: merge into them).
    Person(String),
    /// Faces of a person (dropped on another person: move to them).
    Faces(Vec<i64>),
}

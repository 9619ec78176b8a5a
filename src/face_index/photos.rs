//! Photos and their faces in the index: what a file held when it was read (hash, size,
//! mtime), the faces found in it with their embeddings, or why it has none.

use rusqlite::{OptionalExtension, Row, Transaction, params};
use serde::Serialize;

use super::{FaceIndex, IndexError, Matrix, now};
use crate::crop::CropConfig;
use crate::detect::Face;
use crate::embed::EMBEDDING_DIM;

/// A photo file as found on disk when it was read.
#[derive(Debug, Clone, PartialEq)]
pub struct PhotoFile {
    /// Absolute path, as the index stores it.
    pub path: String,
    pub size: i64,
    pub mtime_ns: i64,
    /// xxh3-128 of the file's bytes.
    pub hash: String,
}

/// A face found in a photo, cut and embedded.
#[derive(Debug, Clone)]
pub struct NewFace {
    pub face: Face,
    pub crop: CropConfig,
    pub embedding: Vec<f32>,
}

/// What reading a photo gave.
#[derive(Debug, Clone)]
pub enum PhotoContent {
    /// Faces, largest first.
    Faces {
        width: u32,
        height: u32,
        faces: Vec<NewFace>,
    },
    NoFace {
        width: u32,
        height: u32,
    },
    /// Unreadable or not an image: the message.
    Error(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PhotoStatus {
    Faces,
    NoFace,
    Error,
}

impl PhotoStatus {
    fn as_str(self) -> &'static str {
        match self {
            PhotoStatus::Faces => "faces",
            PhotoStatus::NoFace => "no_face",
            PhotoStatus::Error => "error",
        }
    }

    fn parse(s: &str) -> PhotoStatus {
        match s {
            "faces" => PhotoStatus::Faces,
            "no_face" => PhotoStatus::NoFace,
            // The schema's CHECK allows nothing else.
            _ => PhotoStatus::Error,
        }
    }
}

impl PhotoContent {
    fn status(&self) -> PhotoStatus {
        match self {
            PhotoContent::Faces { .. } => PhotoStatus::Faces,
            PhotoContent::NoFace { .. } => PhotoStatus::NoFace,
            PhotoContent::Error(_) => PhotoStatus::Error,
        }
    }

    fn dimensions(&self) -> (u32, u32) {
        match self {
            PhotoContent::Faces { width, height, .. } | PhotoContent::NoFace { width, height } => {
                (*width, *height)
            }
            PhotoContent::Error(_) => (0, 0),
        }
    }
}

/// A stored photo.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PhotoRow {
    pub id: i64,
    pub path: String,
    pub hash: String,
    pub size: i64,
    pub mtime_ns: i64,
    pub status: PhotoStatus,
    pub error: Option<String>,
    pub width: u32,
    pub height: u32,
}

/// A face with its photo and its person, if any (see [`FaceIndex::faces_with_people`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FaceEntry {
    pub face_id: i64,
    /// The photo's path as the index stores it.
    pub photo: String,
    pub bbox: [f32; 4],
    pub person: Option<String>,
    /// The photo's largest face.
    pub largest: bool,
}

/// A stored face.
#[derive(Debug, Clone, PartialEq)]
pub struct FaceRow {
    pub id: i64,
    pub photo_id: i64,
    pub face: Face,
    pub crop: CropConfig,
    pub model_id: String,
    pub embedding: Vec<f32>,
}

/// What writing a photo did.
#[derive(Debug, Clone, PartialEq)]
pub struct Written {
    pub photo_id: i64,
    /// The photo's faces, largest first.
    pub face_ids: Vec<i64>,
    /// The same bytes were already stored (by an earlier run or another process): kept.
    pub kept: bool,
}

const PHOTO_COLUMNS: &str = "id, path, hash, size, mtime_ns, status, error, width, height";
const FACE_COLUMNS: &str =
    "id, photo_id, x1, y1, x2, y2, landmarks, score, crop, model_id, embedding";

fn photo_row(r: &Row<'_>) -> rusqlite::Result<PhotoRow> {
    Ok(PhotoRow {
        id: r.get(0)?,
        path: r.get(1)?,
        hash: r.get(2)?,
        size: r.get(3)?,
        mtime_ns: r.get(4)?,
        status: PhotoStatus::parse(&r.get::<_, String>(5)?),
        error: r.get(6)?,
        width: r.get(7)?,
        height: r.get(8)?,
    })
}

/// A face row, with its JSON and blob columns decoded (a damaged one is an error naming
/// the face, not a panic).
fn face_row(r: &Row<'_>) -> rusqlite::Result<FaceRow> {
    let id: i64 = r.get(0)?;
    let bad = |what: String| {
        rusqlite::Error::FromSqlConversionFailure(
            6,
            rusqlite::types::Type::Text,
            format!("face {id}: {what}").into(),
        )
    };
    let landmarks: [[f32; 2]; 5] = serde_json::from_str(&r.get::<_, String>(6)?)
        .map_err(|e| bad(format!("landmarks: {e}")))?;
    let crop: CropConfig =
        serde_json::from_str(&r.get::<_, String>(8)?).map_err(|e| bad(format!("crop: {e}")))?;
    let blob: Vec<u8> = r.get(10)?;
    let embedding = decode_embedding(&blob).ok_or_else(|| {
        bad(format!(
            "embedding of {} bytes, not {}",
            blob.len(),
            4 * EMBEDDING_DIM
        ))
    })?;
    Ok(FaceRow {
        id,
        photo_id: r.get(1)?,
        face: Face {
            bbox: [r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?],
            score: r.get(7)?,
            landmarks,
        },
        crop,
        model_id: r.get(9)?,
        embedding,
    })
}

pub(super) fn encode_embedding(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

pub(super) fn decode_embedding(blob: &[u8]) -> Option<Vec<f32>> {
    (blob.len() == 4 * EMBEDDING_DIM).then(|| {
        blob.chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect()
    })
}

impl FaceIndex {
    /// The stored photo at `path` (absolute).
    pub fn photo(&self, path: &str) -> Result<Option<PhotoRow>, IndexError> {
        self.conn
            .query_row(
                &format!("SELECT {PHOTO_COLUMNS} FROM photos WHERE path = ?1"),
                [path],
                photo_row,
            )
            .optional()
            .map_err(self.err())
    }

    pub fn photo_by_id(&self, id: i64) -> Result<Option<PhotoRow>, IndexError> {
        self.conn
            .query_row(
                &format!("SELECT {PHOTO_COLUMNS} FROM photos WHERE id = ?1"),
                [id],
                photo_row,
            )
            .optional()
            .map_err(self.err())
    }

    /// Stored photos whose path starts with `prefix` (a folder path ending in `/`), or all.
    pub fn photos_under(&self, prefix: Option<&str>) -> Result<Vec<PhotoRow>, IndexError> {
        let prefix = prefix.unwrap_or("");
        let mut stmt = self
            .conn
            .prepare(&format!(
                "SELECT {PHOTO_COLUMNS} FROM photos
                 WHERE substr(path, 1, length(?1)) = ?1 ORDER BY path"
            ))
            .map_err(self.err())?;
        let rows = stmt.query_map([prefix], photo_row).map_err(self.err())?;
        rows.collect::<Result<_, _>>().map_err(self.err())
    }

    /// Writes a batch of photos in one transaction: each replaces what was stored at its
    /// path, unless the same bytes were already stored without an error (then only size
    /// and mtime are updated and its faces kept, so a photo read twice, by a re-run after a
    /// kill or by another process, never has its faces twice).
    pub fn write_photos(
        &mut self,
        batch: &[(PhotoFile, PhotoContent)],
        model_id: &str,
    ) -> Result<Vec<Written>, IndexError> {
        // The write lock first: the check below and the write are one step even when
        // another process writes the same photos.
        let (tx, name) = self.write()?;
        let err = |e| IndexError::sqlite(name, e);
        let mut written = Vec::with_capacity(batch.len());
        for (file, content) in batch {
            written.push(write_photo(&tx, file, content, model_id).map_err(err)?);
        }
        tx.commit().map_err(err)?;
        Ok(written)
    }

    /// Records that a stored photo's file was touched without changing its bytes.
    pub fn touch_photo(&self, id: i64, size: i64, mtime_ns: i64) -> Result<(), IndexError> {
        self.conn
            .execute(
                "UPDATE photos SET size = ?2, mtime_ns = ?3 WHERE id = ?1",
                params![id, size, mtime_ns],
            )
            .map(drop)
            .map_err(self.err())
    }

    /// Deletes photos (with their faces and those faces' assignments), in one transaction.
    pub fn remove_photos(&mut self, ids: &[i64]) -> Result<usize, IndexError> {
        let name = self.name.clone();
        let err = |e| IndexError::sqlite(&name, e);
        let tx = self.conn.transaction().map_err(err)?;
        let mut removed = 0;
        for id in ids {
            removed += tx
                .execute("DELETE FROM photos WHERE id = ?1", [id])
                .map_err(err)?;
        }
        tx.commit().map_err(err)?;
        Ok(removed)
    }

    /// A photo's faces, largest first (as they were written).
    pub fn faces_of_photo(&self, photo_id: i64) -> Result<Vec<FaceRow>, IndexError> {
        let mut stmt = self
            .conn
            .prepare(&format!(
                "SELECT {FACE_COLUMNS} FROM faces WHERE photo_id = ?1 ORDER BY id"
            ))
            .map_err(self.err())?;
        let rows = stmt.query_map([photo_id], face_row).map_err(self.err())?;
        rows.collect::<Result<_, _>>().map_err(self.err())
    }

    pub fn face(&self, face_id: i64) -> Result<Option<FaceRow>, IndexError> {
        self.conn
            .query_row(
                &format!("SELECT {FACE_COLUMNS} FROM faces WHERE id = ?1"),
                [face_id],
                face_row,
            )
            .optional()
            .map_err(self.err())
    }

    /// The embedding stored as `blob` for face `face_id`, or an error naming the face.
    pub(super) fn embedding_of(&self, face_id: i64, blob: &[u8]) -> Result<Vec<f32>, IndexError> {
        decode_embedding(blob).ok_or_else(|| {
            IndexError::Invalid(format!(
                "{}: face {face_id} has a damaged embedding",
                self.name
            ))
        })
    }

    /// Every face embedded by `model_id` as one contiguous matrix, with the face ids of its
    /// rows (what a search of the whole index runs over).
    pub fn face_matrix(&self, model_id: &str) -> Result<(Vec<i64>, Matrix), IndexError> {
        let mut stmt = self
            .conn
            .prepare("SELECT id, embedding FROM faces WHERE model_id = ?1 ORDER BY id")
            .map_err(self.err())?;
        let mut rows = stmt.query([model_id]).map_err(self.err())?;
        let (mut ids, mut matrix) = (Vec::new(), Matrix::new(EMBEDDING_DIM));
        while let Some(r) = rows.next().map_err(self.err())? {
            let id: i64 = r.get(0).map_err(self.err())?;
            let blob: Vec<u8> = r.get(1).map_err(self.err())?;
            let v = self.embedding_of(id, &blob)?;
            ids.push(id);
            matrix.push(&v);
        }
        Ok((ids, matrix))
    }

    /// The faces embedded by `model_id` that no person holds (what grouping unknown faces
    /// runs over), and their embeddings as a matrix in the same order.
    pub fn unassigned_faces(&self, model_id: &str) -> Result<(Vec<FaceEntry>, Matrix), IndexError> {
        let (faces, all) = self.faces_with_people(model_id)?;
        let mut matrix = Matrix::new(all.dim());
        let mut kept = Vec::new();
        for (i, f) in faces.into_iter().enumerate() {
            if f.person.is_none() {
                matrix.push(all.row(i));
                kept.push(f);
            }
        }
        Ok((kept, matrix))
    }

    /// Every face embedded by `model_id` with its photo and the person holding it (if
    /// any), and the embeddings as a matrix in the same order (the embedding map's data).
    pub fn faces_with_people(
        &self,
        model_id: &str,
    ) -> Result<(Vec<FaceEntry>, Matrix), IndexError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT f.id, p.path, f.x1, f.y1, f.x2, f.y2, f.embedding, pe.name
                 FROM faces f JOIN photos p ON p.id = f.photo_id
                 LEFT JOIN assignments a ON a.face_id = f.id
                 LEFT JOIN people pe ON pe.id = a.person_id
                 WHERE f.model_id = ?1 ORDER BY f.id",
            )
            .map_err(self.err())?;
        let mut rows = stmt.query([model_id]).map_err(self.err())?;
        let (mut faces, mut matrix) = (Vec::new(), Matrix::new(EMBEDDING_DIM));
        // Faces are stored largest first, so a photo's first face (by id) is its largest.
        let mut seen = std::collections::HashSet::new();
        while let Some(r) = rows.next().map_err(self.err())? {
            let get = |i| r.get::<_, f64>(i).map(|v| v as f32);
            let face_id: i64 = r.get(0).map_err(self.err())?;
            let blob: Vec<u8> = r.get(6).map_err(self.err())?;
            let v = self.embedding_of(face_id, &blob)?;
            let bbox = [get(2), get(3), get(4), get(5)];
            let photo: String = r.get(1).map_err(self.err())?;
            faces.push(FaceEntry {
                face_id,
                largest: seen.insert(photo.clone()),
                photo,
                bbox: bbox.map(|c| c.unwrap_or(0.0)),
                person: r.get(7).map_err(self.err())?,
            });
            matrix.push(&v);
        }
        Ok((faces, matrix))
    }

    /// Photos with faces embedded by another model than `model_id` (to re-embed).
    pub fn photos_with_stale_faces(&self, model_id: &str) -> Result<Vec<PhotoRow>, IndexError> {
        let mut stmt = self
            .conn
            .prepare(&format!(
                "SELECT {PHOTO_COLUMNS} FROM photos WHERE id IN
                 (SELECT photo_id FROM faces WHERE model_id != ?1) ORDER BY path"
            ))
            .map_err(self.err())?;
        let rows = stmt.query_map([model_id], photo_row).map_err(self.err())?;
        rows.collect::<Result<_, _>>().map_err(self.err())
    }

    /// Replaces faces' crops and embeddings with `model_id`'s, in one transaction (a photo's
    /// faces move to the new model together).
    pub fn replace_embeddings(
        &mut self,
        faces: &[(i64, CropConfig, Vec<f32>)],
        model_id: &str,
    ) -> Result<(), IndexError> {
        let name = self.name.clone();
        let err = |e| IndexError::sqlite(&name, e);
        let tx = self.conn.transaction().map_err(err)?;
        for (id, crop, embedding) in faces {
            let crop =
                serde_json::to_string(crop).map_err(|e| IndexError::Invalid(e.to_string()))?;
            tx.execute(
                "UPDATE faces SET crop = ?2, model_id = ?3, embedding = ?4 WHERE id = ?1",
                params![id, crop, model_id, encode_embedding(embedding)],
            )
            .map_err(err)?;
        }
        tx.commit().map_err(err)
    }
}

fn write_photo(
    tx: &Transaction<'_>,
    file: &PhotoFile,
    content: &PhotoContent,
    model_id: &str,
) -> rusqlite::Result<Written> {
    let existing: Option<(i64, String, String)> = tx
        .query_row(
            "SELECT id, hash, status FROM photos WHERE path = ?1",
            [&file.path],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?;
    if let Some((id, hash, status)) = &existing {
        if *hash == file.hash && status != "error" {
            tx.execute(
                "UPDATE photos SET size = ?2, mtime_ns = ?3 WHERE id = ?1",
                params![id, file.size, file.mtime_ns],
            )?;
            let mut stmt = tx.prepare("SELECT id FROM faces WHERE photo_id = ?1 ORDER BY id")?;
            let face_ids = stmt
                .query_map([id], |r| r.get(0))?
                .collect::<Result<_, _>>()?;
            return Ok(Written {
                photo_id: *id,
                face_ids,
                kept: true,
            });
        }
        tx.execute("DELETE FROM photos WHERE id = ?1", [id])?;
    }
    let (width, height) = content.dimensions();
    let error = match content {
        PhotoContent::Error(e) => Some(e.as_str()),
        _ => None,
    };
    tx.execute(
        "INSERT INTO photos (path, hash, size, mtime_ns, status, error, indexed_at, width, height)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![
            file.path,
            file.hash,
            file.size,
            file.mtime_ns,
            content.status().as_str(),
            error,
            now(),
            width,
            height
        ],
    )?;
    let photo_id = tx.last_insert_rowid();
    let mut face_ids = Vec::new();
    if let PhotoContent::Faces { faces, .. } = content {
        for f in faces {
            face_ids.push(insert_face(tx, photo_id, f, model_id)?);
        }
    }
    Ok(Written {
        photo_id,
        face_ids,
        kept: false,
    })
}

fn insert_face(
    tx: &Transaction<'_>,
    photo_id: i64,
    f: &NewFace,
    model_id: &str,
) -> rusqlite::Result<i64> {
    let json = |v: serde_json::Result<String>| {
        v.map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))
    };
    let b = f.face.bbox;
    tx.execute(
        "INSERT INTO faces (photo_id, x1, y1, x2, y2, landmarks, score, crop, model_id, embedding)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        params![
            photo_id,
            b[0],
            b[1],
            b[2],
            b[3],
            json(serde_json::to_string(&f.face.landmarks))?,
            f.face.score,
            json(serde_json::to_string(&f.crop))?,
            model_id,
            encode_embedding(&f.embedding)
        ],
    )?;
    Ok(tx.last_insert_rowid())
}

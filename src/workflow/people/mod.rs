//! Recognising people, as use cases over the face index: enrol a few photos per person,
//! index photo folders, identify the faces of photos, search the index for a person,
//! re-embed an index for another model, train the model on the enrolled people, and group
//! the unknown faces into likely people. The
//! CLI's `people ...` and `identify` commands and the People panel call these, with one
//! [`Recogniser`] (an open index and a model).

mod cluster;
mod enrol;
mod identify;
mod index;
mod join;
pub mod read;
mod train;

use std::path::{Path, PathBuf};

use burn::tensor::Device;

use super::WorkflowError;
use crate::face_index::{FaceIndex, IndexError};
use crate::model;
use crate::verify::Verifier;

pub use cluster::{EmbeddingMap, FaceFilter, Grouping};
pub use enrol::{EnrolItem, EnrolPlan, EnrolSummary, Enrolled, enrol_items_from_folder};
pub use identify::{
    FaceIdentity, Identification, IdentifyPlan, PhotoIdentity, SearchHit, SearchPlan,
};
pub use index::{IndexPlan, IndexSummary, ReembedSummary, SUGGEST_THRESHOLD};
pub use train::{HoldOut, MIN_UNKNOWN, Measured, PeopleTrainPlan, PeopleTrainSummary};

/// Where a recogniser keeps its index.
#[derive(Debug, Clone, PartialEq)]
pub enum IndexLocation {
    File(PathBuf),
    /// Gone when the recogniser is dropped (`identify --known`).
    Memory,
}

/// An open face index with the model whose embeddings it searches.
pub struct Recogniser {
    pub index: FaceIndex,
    pub verifier: Verifier,
    /// [`model::model_id`] of the verifier's model.
    pub model_id: String,
}

impl Recogniser {
    /// Opens the index (creating it) and loads the model. Faces of another model are not
    /// an error here (re-embedding needs this); the operations that compare say so.
    pub fn open(
        location: &IndexLocation,
        model_dir: &Path,
        device: &Device,
    ) -> Result<Recogniser, WorkflowError> {
        let verifier = Verifier::load(model_dir, device)?;
        let model_id = model::model_id(model_dir)?;
        let index = match location {
            IndexLocation::File(path) => FaceIndex::open(path)?,
            IndexLocation::Memory => FaceIndex::in_memory()?,
        };
        Ok(Recogniser {
            index,
            verifier,
            model_id,
        })
    }

    /// The similarity at or above which a face is named: the plan's, else the model's
    /// verification threshold (the Compare page's meaning).
    pub fn threshold(&self, chosen: Option<f32>) -> f32 {
        chosen.unwrap_or_else(|| self.verifier.threshold())
    }

    /// An error unless every face in the index was embedded by this model.
    pub fn check_model(&self) -> Result<(), IndexError> {
        self.index.check_model(&self.model_id)
    }
}

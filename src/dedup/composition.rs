//! What the engine knows about how an output was made, shared by the rules that compare
//! outputs and the library that stores them. It lives apart from both so that `library`
//! does not depend on `rules` (which queries the library).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::fingerprint::{Fingerprint, Masks, MediaKind};
use super::DedupError;

/// A module asset the engine used, identified by content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssetRef {
    pub id: String,
    pub sha256: String,
}

/// What a variant was made of, as the engine knows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Composition {
    pub template: String,
    pub preset: String,
    /// The market the output runs in. Platforms keep a library per ad account, and a regional
    /// pack's markets are separate accounts, so outputs of different regions never compete.
    #[serde(default)]
    pub region: Option<String>,
    pub kind: MediaKind,
    /// Seconds (0 for stills).
    pub duration: f64,
    pub background: AssetRef,
    pub product: Option<AssetRef>,
    /// The on-screen text, all lines joined.
    pub copy: String,
    pub audio: Option<AssetRef>,
    pub effects: String,
    /// The template's layer/shot structure ("video type"): e.g. "bg-video+product+caption/1-shot".
    pub structure: String,
    /// Normalised `[x, y, w, h]` of the product layer.
    pub product_box: Option<[f32; 4]>,
    /// Normalised boxes where text or logos were drawn.
    #[serde(default)]
    pub text_boxes: Vec<[f32; 4]>,
    /// Pool → option id (`plan::Choices::ids`, the manifest's `modules`): what results are
    /// attributed to. Not compared by the rules (the dimensions above are what they judge).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub modules: std::collections::BTreeMap<String, String>,
}

impl Composition {
    pub(super) fn masks(&self) -> Masks {
        Masks {
            product_box: self.product_box,
            text_boxes: self.text_boxes.clone(),
        }
    }
}

/// A licence on something an output shows, as the library keeps it for
/// `factory library expiring`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssetLicence {
    /// The licensed file, relative to the template's directory.
    pub asset: String,
    pub holder: String,
    pub id: String,
    /// `YYYY-MM-DD`, the last day covered; `None` for a perpetual licence.
    pub expires: Option<String>,
}

/// One output to score.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub path: PathBuf,
    pub variant_id: Option<String>,
    /// The plan's variant number: among two near-copies in a batch, the lower one is kept
    /// and the higher one is flagged, whatever order the files finished rendering in.
    pub variant_n: Option<u32>,
    pub composition: Option<Composition>,
    /// Unix seconds; recorded in the library for the age exemption.
    pub created_at: i64,
    /// Licences of the assets it shows, recorded with it in the library.
    pub licences: Vec<AssetLicence>,
}

impl Candidate {
    /// A file with nothing known about how it was made (scored on pixels alone).
    pub fn file(path: impl Into<PathBuf>) -> Candidate {
        Candidate {
            path: path.into(),
            variant_id: None,
            variant_n: None,
            composition: None,
            created_at: crate::clock::unix_now(),
            licences: Vec::new(),
        }
    }

    /// Decodes and measures the file, with the masked hashes its composition allows. Pass the
    /// results to `score_fingerprints` and then `Library::add_candidate` to avoid decoding twice.
    pub fn fingerprint(&self) -> Result<Fingerprint, DedupError> {
        let masks = self
            .composition
            .as_ref()
            .map(|c| c.masks())
            .unwrap_or_default();
        Fingerprint::compute(&self.path, &masks)
    }
}

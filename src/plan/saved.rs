//! Saved plans (`plan --out FILE`, `apply FILE`).
//!
//! A saved plan records the plan (secrets redacted), digests of the
//! blueprint and parameter values, and the state lineage and serial it was
//! made against. `apply FILE` re-plans and applies only when nothing moved:
//! same state serial, same blueprint and values, and a re-computed plan
//! identical to the saved one. Otherwise it refuses, saying what changed.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::Plan;
use super::render::redacted;
use crate::blueprint::params::Values;

pub const FORMAT_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SavedPlan {
    pub format_version: u32,
    /// The BLUEPRINT argument the plan was made from.
    pub blueprint_arg: String,
    pub blueprint_digest: String,
    /// Random bytes (hex) the parameter digest is salted with, so the
    /// digest of a weak secret cannot be looked up or guessed offline.
    #[serde(default)]
    pub params_salt: String,
    pub params_digest: String,
    pub region: String,
    pub plan: Plan,
}

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum SavedPlanError {
    #[error("cannot read saved plan {}", .path.display())]
    #[diagnostic(code(archkit::plan::saved_io))]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{} is not an archkit plan file: {message}", .path.display())]
    #[diagnostic(
        code(archkit::plan::saved_invalid),
        help("create one with `archkit plan --out FILE`")
    )]
    Invalid { path: PathBuf, message: String },
    #[error("{} is a plan file of format version {found}; this archkit reads version {FORMAT_VERSION}", .path.display())]
    #[diagnostic(
        code(archkit::plan::saved_version),
        help(
            "plan again with this archkit (`archkit plan --out FILE`), or apply it with the archkit that made it"
        )
    )]
    Version { path: PathBuf, found: u32 },
    #[error("the saved plan is stale: {what}")]
    #[diagnostic(
        code(archkit::plan::stale),
        help(
            "nothing was applied; run `archkit plan --out FILE` again, review it, and apply the new file"
        )
    )]
    Stale { what: String },
}

/// A digest of a blueprint's bytes.
pub fn digest_bytes(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// A digest of the parameter values (secret values included, hashed),
/// salted with this plan's own random `salt`.
pub fn digest_params(values: &Values, salt: &str) -> String {
    let mut h = Sha256::new();
    h.update(salt.as_bytes());
    h.update(b"\0");
    for (k, v) in &values.values {
        h.update(k.as_bytes());
        h.update(b"=");
        h.update(serde_json::to_string(&v.value).unwrap_or_default().as_bytes());
        h.update(b"\n");
    }
    hex::encode(h.finalize())
}

impl SavedPlan {
    pub fn new(
        plan: &Plan,
        blueprint_arg: &str,
        blueprint_bytes: &[u8],
        values: &Values,
        region: &str,
    ) -> Self {
        let salt = uuid::Uuid::new_v4().simple().to_string();
        SavedPlan::salted(plan, blueprint_arg, blueprint_bytes, values, region, salt)
    }

    /// The plan made now in the form of this saved one (same salt), for
    /// [`SavedPlan::check`].
    pub fn again(
        &self,
        plan: &Plan,
        blueprint_bytes: &[u8],
        values: &Values,
        region: &str,
    ) -> Self {
        let salt = self.params_salt.clone();
        SavedPlan::salted(plan, &self.blueprint_arg, blueprint_bytes, values, region, salt)
    }

    fn salted(
        plan: &Plan,
        blueprint_arg: &str,
        blueprint_bytes: &[u8],
        values: &Values,
        region: &str,
        salt: String,
    ) -> Self {
        SavedPlan {
            format_version: FORMAT_VERSION,
            blueprint_arg: blueprint_arg.to_string(),
            blueprint_digest: digest_bytes(blueprint_bytes),
            params_digest: digest_params(values, &salt),
            params_salt: salt,
            region: region.to_string(),
            plan: redacted(plan).into_owned(),
        }
    }

    pub fn write(&self, path: &Path) -> Result<(), SavedPlanError> {
        let text = serde_json::to_string_pretty(self).expect("plans serialise");
        std::fs::write(path, text + "\n")
            .map_err(|source| SavedPlanError::Io { path: path.to_path_buf(), source })
    }

    pub fn read(path: &Path) -> Result<SavedPlan, SavedPlanError> {
        let bytes = std::fs::read(path)
            .map_err(|source| SavedPlanError::Io { path: path.to_path_buf(), source })?;
        let text = String::from_utf8(bytes).map_err(|_| SavedPlanError::Invalid {
            path: path.to_path_buf(),
            message: "it is not UTF-8 text".into(),
        })?;
        let invalid = |e: serde_json::Error| SavedPlanError::Invalid {
            path: path.to_path_buf(),
            message: e.to_string(),
        };
        // The version first: another version's shape is reported as that
        // version, not as a damaged file.
        let value: serde_json::Value = serde_json::from_str(&text).map_err(invalid)?;
        match value.get("format_version").and_then(|v| v.as_u64()) {
            Some(v) if v == u64::from(FORMAT_VERSION) => {}
            Some(v) => {
                return Err(SavedPlanError::Version {
                    path: path.to_path_buf(),
                    found: u32::try_from(v).unwrap_or(u32::MAX),
                });
            }
            None => {
                return Err(SavedPlanError::Invalid {
                    path: path.to_path_buf(),
                    message: "it has no format_version".into(),
                });
            }
        }
        serde_json::from_value(value).map_err(invalid)
    }

    /// Checks that applying now would do exactly what was saved.
    pub fn check(&self, now: &SavedPlan) -> Result<(), SavedPlanError> {
        let stale = |what: String| Err(SavedPlanError::Stale { what });
        if !self.plan.lineage.is_empty() && self.plan.lineage != now.plan.lineage {
            return stale("the stack's state was replaced since the plan was made".into());
        }
        if self.plan.serial != now.plan.serial {
            return stale(format!(
                "the state changed since the plan was made (serial {} then, {} now)",
                self.plan.serial, now.plan.serial
            ));
        }
        if self.blueprint_digest != now.blueprint_digest {
            return stale("the blueprint changed since the plan was made".into());
        }
        if self.params_digest != now.params_digest {
            return stale("the parameter values differ from the plan's".into());
        }
        if self.region != now.region || self.plan.stack != now.plan.stack {
            return stale("the stack or region differs from the plan's".into());
        }
        if self.plan != now.plan {
            return stale("the live resources changed since the plan was made".into());
        }
        Ok(())
    }
}

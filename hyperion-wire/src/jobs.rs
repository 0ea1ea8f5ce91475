//! Jobs as the API shows them: slow mutations answer `202` with a job that
//! `GET /api/v1/jobs/{id}` reads until it ends.

use std::fmt;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::keys::KeyId;
use crate::model::wire_enum;
use crate::random;

/// A job's public id (`job_...`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct JobId(String);

impl JobId {
    /// A fresh random id.
    pub fn generate() -> Self {
        JobId(format!("job_{}", random::base62(20)))
    }

    /// Parses an id from a client; `None` when it cannot be one.
    pub fn parse(s: &str) -> Option<Self> {
        let rest = s.strip_prefix("job_")?;
        (!rest.is_empty() && rest.len() <= 64 && random::is_base62(rest))
            .then(|| JobId(s.to_owned()))
    }

    /// The id text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for JobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where a job is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum JobState {
    /// Accepted, not started.
    Queued,
    /// A runner is working on it.
    Running,
    /// It ended well; its result, if any, is in `result`.
    Succeeded,
    /// Ended with an error.
    Failed,
}
wire_enum!(JobState, "job state", {
    Queued => "queued",
    Running => "running",
    Succeeded => "succeeded",
    Failed => "failed",
});

impl JobState {
    /// Whether the job has ended.
    pub fn is_finished(self) -> bool {
        matches!(self, JobState::Succeeded | JobState::Failed)
    }
}

/// A job record, as `GET /api/v1/jobs/{id}` shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Job {
    /// Its id: `GET /jobs/{id}` reads it.
    pub id: JobId,
    /// What it does (`hosting.delete`, ...).
    pub kind: String,
    /// What it works on (a hosting id, ...).
    pub target: String,
    /// Queued, running, or how it ended.
    pub state: JobState,
    /// How far it is, in percent (0..=100).
    pub progress: u8,
    /// What it is doing now.
    pub step: Option<String>,
    /// Why it failed.
    pub error: Option<String>,
    /// What it produced (e.g. a backup id); `null` until it has something.
    #[serde(default)]
    pub result: Option<serde_json::Value>,
    /// Who started it (`apikey:<label>`).
    pub actor: String,
    /// The key that started it; decides who may read it.
    #[serde(skip)]
    pub started_by: Option<KeyId>,
    /// How to run it again when its runner stops before it ends (see
    /// the server's `JobSpec::plan`); never shown.
    #[serde(skip)]
    pub plan: Option<serde_json::Value>,
    /// Which run of it this record is: 1, and one more each time another
    /// runner takes it over. A write from an earlier run is refused.
    #[serde(skip, default = "first_attempt")]
    pub attempt: u32,
    /// When it was accepted.
    #[serde(with = "crate::model::timestamp")]
    pub created_at: OffsetDateTime,
    /// When its state, progress or step last changed.
    #[serde(with = "crate::model::timestamp")]
    pub updated_at: OffsetDateTime,
    /// When it ended, once it has.
    #[serde(with = "crate::model::timestamp::option")]
    pub finished_at: Option<OffsetDateTime>,
}

/// The attempt a fresh job record starts at (the server's, not the wire's).
#[doc(hidden)]
pub fn first_attempt() -> u32 {
    1
}

//! What a call can fail with: the API's own refusal (its envelope, with the
//! HTTP status), or the way there.

use std::time::Duration;

use hyperion_wire::ErrorCode;

/// A failed call.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The API answered with its error envelope.
    #[error("{status} {code}: {message} (request {request_id})")]
    Api {
        /// The HTTP status.
        status: u16,
        /// What kind of refusal or failure (`not_found`, `forbidden`, ...).
        code: ErrorCode,
        /// What went wrong, for people.
        message: String,
        /// The server's id of the request, to quote to its operator.
        request_id: String,
    },
    /// The server could not be reached, or the connection broke.
    #[error("{}: {}", transport_kind(.0), .0)]
    Transport(#[source] reqwest::Error),
    /// The server answered something that is not what the contract says
    /// (is the URL that of the API?).
    #[error("unexpected answer ({status}; is the URL that of the API?): {detail}")]
    Unexpected {
        /// The HTTP status.
        status: u16,
        /// What did not fit.
        detail: String,
    },
    /// A job did not end within the time the caller gave it; it goes on.
    #[error("job {job_id} still running after {} s", waited.as_secs())]
    JobTimeout {
        /// The job, to wait on again.
        job_id: String,
        /// How long was waited.
        waited: Duration,
    },
    /// The base URL or a name in a path could not make a URL.
    #[error("invalid request: {0}")]
    Invalid(String),
}

impl Error {
    /// The HTTP status, when the server answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Api { status, .. } | Error::Unexpected { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The envelope's code, when the API refused.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            Error::Api { code, .. } => Some(*code),
            _ => None,
        }
    }
}

/// How a transport failure is named: a connection never made says so.
fn transport_kind(err: &reqwest::Error) -> &'static str {
    if err.is_connect() {
        "cannot connect (is the URL right, is the server up?)"
    } else {
        "transport"
    }
}

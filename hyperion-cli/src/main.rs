//! `hyperion`: the Hyperion API from a shell, on `hyperion-client`.

mod args;
mod commands;
mod login;
mod output;

use std::process::ExitCode;

use clap::Parser;

use args::Cli;
use hyperion_client::Error;

/// Exit codes, by class of failure (documented in `--help`).
fn exit_code(err: &Failure) -> u8 {
    match err {
        Failure::Usage(_) => 2,
        Failure::Api(Error::Unexpected { .. }) => 1,
        Failure::Api(Error::Invalid(_)) => 2,
        Failure::Api(err) => match err.status() {
            Some(404) => 3,
            Some(401 | 403) => 4,
            Some(400 | 409 | 413 | 422) => 5,
            Some(408 | 429 | 500..=599) => 6,
            Some(_) => 1,
            None => match err {
                Error::Transport(_) | Error::JobTimeout { .. } => 6,
                Error::Invalid(_) => 2,
                _ => 1,
            },
        },
        Failure::Interrupted(_) => 130,
        Failure::Other(_) => 1,
        Failure::ClosedOutput => 0,
    }
}

/// Why a command did not succeed.
#[derive(Debug)]
pub(crate) enum Failure {
    /// The command line or the settings are wrong.
    Usage(String),
    /// The API refused, or could not be reached.
    Api(Error),
    /// Ctrl-C while waiting: the job goes on.
    Interrupted(String),
    /// Anything else (a file that cannot be written, a job that failed).
    Other(String),
    /// Whoever read stdout stopped (`| head`): nothing more to say.
    ClosedOutput,
}

impl From<Error> for Failure {
    fn from(err: Error) -> Self {
        Failure::Api(err)
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Usage(text) | Failure::Interrupted(text) | Failure::Other(text) => {
                f.write_str(text)
            }
            Failure::Api(err) => write!(f, "{err}"),
            Failure::ClosedOutput => f.write_str("stdout closed"),
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let json = cli.output == args::Output::Json;
    // Ctrl-C before an answer came: say what it means. (While waiting for
    // a job, `run` answers it itself, with how to wait again.)
    let result = tokio::select! {
        biased;
        result = commands::run(cli) => result,
        _ = tokio::signal::ctrl_c() => Err(Failure::Interrupted(
            "interrupted before the answer came: what was sent may still be done \
             (`hyperion audit list` shows it)"
                .into(),
        )),
    };
    match result {
        Ok(()) | Err(Failure::ClosedOutput) => ExitCode::SUCCESS,
        Err(Failure::Api(Error::Api {
            status,
            code,
            message,
            request_id,
        })) if json => {
            // A script asked for JSON: the refusal is the API's envelope
            // (with its status), on stderr, one line.
            let envelope = serde_json::json!({"error": {
                "code": code, "message": message, "request_id": request_id, "status": status,
            }});
            eprintln!("{envelope}");
            ExitCode::from(exit_code(&Failure::Api(Error::Api {
                status,
                code,
                message: String::new(),
                request_id: String::new(),
            })))
        }
        Err(failure) => {
            eprintln!("hyperion: {failure}");
            ExitCode::from(exit_code(&failure))
        }
    }
}

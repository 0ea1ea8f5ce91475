//! Printing answers: exactly the API's JSON, or columns that fit.

use std::io::{IsTerminal, Write};

use serde::Serialize;

use crate::Failure;
use crate::args::Output;

/// Prints `value` as JSON on one line.
pub(crate) fn json_line(value: &impl Serialize) -> Result<(), Failure> {
    let text = serde_json::to_string(value).expect("answers serialize");
    let mut out = std::io::stdout().lock();
    writeln!(out, "{text}").map_err(|err| Failure::Other(format!("stdout: {err}")))
}

/// Prints `value` as the API sent it (`--output json`), or as `rows`.
pub(crate) fn show(
    output: Output,
    value: &impl Serialize,
    headers: &[&str],
    rows: Vec<Vec<String>>,
) -> Result<(), Failure> {
    match output {
        Output::Json => json_line(value),
        Output::Table => table(headers, rows),
    }
}

/// Columns, each as wide as its widest cell, cut to the terminal's width.
pub(crate) fn table(headers: &[&str], rows: Vec<Vec<String>>) -> Result<(), Failure> {
    let width = std::env::var("COLUMNS")
        .ok()
        .and_then(|columns| columns.parse::<usize>().ok())
        .unwrap_or(120);
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (column, cell) in row.iter().enumerate() {
            widths[column] = widths[column].max(cell.chars().count());
        }
    }
    let mut out = std::io::stdout().lock();
    let header: Vec<String> = headers.iter().map(|h| h.to_uppercase()).collect();
    for row in std::iter::once(header).chain(rows) {
        let mut line = String::new();
        for (column, cell) in row.iter().enumerate() {
            if column > 0 {
                line.push_str("  ");
            }
            line.push_str(&format!("{cell:<w$}", w = widths[column]));
        }
        let line = line.trim_end();
        let line: String = if line.chars().count() > width {
            let mut cut: String = line.chars().take(width.saturating_sub(1)).collect();
            cut.push('…');
            cut
        } else {
            line.to_owned()
        };
        writeln!(out, "{line}").map_err(|err| Failure::Other(format!("stdout: {err}")))?;
    }
    Ok(())
}

/// Shows a job's progress on stderr: a bar redrawn in place on a terminal,
/// a plain line per change otherwise.
pub(crate) fn progress(job: &hyperion_core::Job) {
    let step = job.step.as_deref().unwrap_or("");
    let mut err = std::io::stderr().lock();
    if std::io::stderr().is_terminal() {
        let filled = usize::from(job.progress.min(100)) / 5;
        let bar = format!("{}{}", "#".repeat(filled), " ".repeat(20 - filled));
        let _ = write!(err, "\r\x1b[2K[{bar}] {:>3}% {step}", job.progress);
        let _ = err.flush();
    } else {
        let _ = writeln!(err, "{:>3}% {step}", job.progress);
    }
}

/// Ends a progress bar's line on a terminal.
pub(crate) fn progress_done() {
    if std::io::stderr().is_terminal() {
        eprintln!();
    }
}

//! Printing answers: exactly the API's JSON, or columns that fit.

use std::io::{IsTerminal, Write};

use serde::Serialize;

use crate::Failure;
use crate::args::Output;

/// A failed write to stdout: quiet when the reader went away (`| head`).
pub(crate) fn stdout_failed(err: std::io::Error) -> Failure {
    if err.kind() == std::io::ErrorKind::BrokenPipe {
        Failure::ClosedOutput
    } else {
        Failure::Other(format!("stdout: {err}"))
    }
}

/// Writes `bytes` to stdout.
pub(crate) fn print_bytes(bytes: &[u8]) -> Result<(), Failure> {
    let mut out = std::io::stdout().lock();
    out.write_all(bytes)
        .and_then(|()| out.flush())
        .map_err(stdout_failed)
}

/// Prints `value` as JSON on one line.
pub(crate) fn json_line(value: &impl Serialize) -> Result<(), Failure> {
    let mut text = serde_json::to_string(value).expect("answers serialize");
    text.push('\n');
    print_bytes(text.as_bytes())
}

/// A timestamp as RFC 3339 (`2026-01-01T10:00:00Z`).
pub(crate) fn instant(at: time::OffsetDateTime) -> String {
    at.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| at.to_string())
}

/// The width to fit: the terminal's when stdout is one, else `COLUMNS`
/// when set, else none (a file or a pipe gets whole lines).
fn width() -> Option<usize> {
    if std::io::stdout().is_terminal()
        && let Some((terminal_size::Width(columns), _)) = terminal_size::terminal_size()
    {
        return Some(usize::from(columns));
    }
    std::env::var("COLUMNS")
        .ok()
        .and_then(|columns| columns.parse().ok())
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

/// Columns, each as wide as its widest cell; to fit the width, the widest
/// columns give way first (their cells cut with `…`), so that every column
/// keeps a few characters.
pub(crate) fn table(headers: &[&str], rows: Vec<Vec<String>>) -> Result<(), Failure> {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (column, cell) in row.iter().enumerate() {
            widths[column] = widths[column].max(cell.chars().count());
        }
    }
    if let Some(width) = width() {
        let gaps = 2 * widths.len().saturating_sub(1);
        while widths.iter().sum::<usize>() + gaps > width {
            let (widest, &most) = widths
                .iter()
                .enumerate()
                .max_by_key(|(_, w)| **w)
                .expect("a column");
            if most <= 6 {
                break;
            }
            widths[widest] -= 1;
        }
    }
    let fit = |cell: &str, width: usize| -> String {
        if cell.chars().count() <= width {
            format!("{cell:<width$}")
        } else {
            let mut cut: String = cell.chars().take(width.saturating_sub(1)).collect();
            cut.push('…');
            cut
        }
    };
    let mut text = String::new();
    let header: Vec<String> = headers.iter().map(|h| h.to_uppercase()).collect();
    for row in std::iter::once(header).chain(rows) {
        let cells: Vec<String> = row
            .iter()
            .enumerate()
            .map(|(column, cell)| fit(cell, widths[column]))
            .collect();
        text.push_str(cells.join("  ").trim_end());
        text.push('\n');
    }
    print_bytes(text.as_bytes())
}

/// Shows a job's progress on stderr: a bar redrawn in place on a terminal,
/// a plain line per change otherwise.
pub(crate) fn progress(job: &hyperion_client::wire::Job) {
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

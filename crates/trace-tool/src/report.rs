//! How `trace-tool` reports a failure: one line on standard error,
//!
//! ```text
//! trace-tool CMD: FILE: message (generation G, byte offset O)
//! ```
//!
//! with the generation and byte offset when the reader knows them, and plain
//! words for the usual mistakes (a file that is empty, is not a trace, is a
//! directory, does not exist, or ends early). Trace errors keep Go's text, so
//! that they can still be compared with `go tool trace`'s.

use std::borrow::Cow;
use std::error::Error as StdError;
use std::fmt::Write as _;
use std::io;
use std::path::Path;
use std::process::ExitCode;

/// Prints the line for `err` and returns exit status `code`.
pub(crate) fn fail(
    cmd: &str,
    file: Option<&Path>,
    err: &(dyn StdError + 'static),
    code: u8,
) -> ExitCode {
    eprintln!("{}", line(cmd, file, err));
    ExitCode::from(code)
}

/// For a trace that broke off where the command used what came before:
/// the line [`fail`] would print, then `; ` and what was used.
pub(crate) fn stopped_early(cmd: &str, file: &Path, err: &trace_reader::Error, used: &str) {
    eprintln!("{}; {used}", line(cmd, Some(file), err));
}

/// Like [`fail`], for an error that is only words.
pub(crate) fn fail_msg(cmd: &str, file: Option<&Path>, msg: &str, code: u8) -> ExitCode {
    eprintln!("{}", prefix(cmd, file) + msg);
    ExitCode::from(code)
}

/// The words [`fail`] would print for `err`, without the command or file.
pub(crate) fn words(err: &(dyn StdError + 'static)) -> String {
    message(err, None).0
}

/// Whether `err` (or what caused it) is a closed output pipe, which ends
/// the output quietly (`trace-tool dump x | head`).
pub(crate) fn is_broken_pipe(err: &(dyn StdError + 'static)) -> bool {
    chain(err).any(|e| {
        e.downcast_ref::<io::Error>()
            .is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe)
    })
}

/// The line [`fail`] prints.
pub(crate) fn line(cmd: &str, file: Option<&Path>, err: &(dyn StdError + 'static)) -> String {
    let mut s = prefix(cmd, file);
    let (text, note) = message(err, file);
    s.push_str(&text);
    let mut notes: Vec<String> = Vec::new();
    match note {
        Note::Plain => {}
        Note::Located(hint) => {
            notes.extend(hint.map(str::to_string));
            notes.extend(location(err));
        }
    }
    if !notes.is_empty() {
        s.push_str(&format!(" ({})", notes.join("; ")));
    }
    s
}

fn prefix(cmd: &str, file: Option<&Path>) -> String {
    match file {
        Some(f) => format!("trace-tool {cmd}: {}: ", name(f)),
        None => format!("trace-tool {cmd}: "),
    }
}

/// How a file is named in messages (`-` is standard input).
pub(crate) fn name(path: &Path) -> Cow<'_, str> {
    if path == Path::new("-") {
        Cow::Borrowed("<stdin>")
    } else {
        path.to_string_lossy()
    }
}

fn chain<'a>(
    err: &'a (dyn StdError + 'static),
) -> impl Iterator<Item = &'a (dyn StdError + 'static)> {
    std::iter::successors(Some(err), |&e: &&'a (dyn StdError + 'static)| e.source())
}

/// What follows a message.
enum Note {
    /// Nothing: the message is plain words for a usual mistake.
    Plain,
    /// A hint (such as "truncated trace") and where in the trace it
    /// happened, when known.
    Located(Option<&'static str>),
}

/// What went wrong, in words: each message of the chain that does not
/// repeat the next one, down to the first that is a usual mistake, which
/// ends it in plain words; trace errors keep Go's text and get a note.
fn message(err: &(dyn StdError + 'static), file: Option<&Path>) -> (String, Note) {
    let mut parts: Vec<String> = Vec::new();
    let mut errs = chain(err).peekable();
    let mut hint = None;
    while let Some(e) = errs.next() {
        match classify(e, file) {
            Class::Plain(words) => {
                parts.push(words);
                return (parts.join(": "), Note::Plain);
            }
            Class::Truncated => hint = Some("truncated trace"),
            Class::Other => {}
        }
        let mut text = e.to_string();
        if let Some(next) = errs.peek() {
            let inner = next.to_string();
            // `inner (details)` wrappers: the inner one says it, and the
            // details are in the note.
            if !inner.is_empty() && text.starts_with(&inner) {
                continue;
            }
            // `outer: inner` wrappers: the inner one says the rest.
            if let Some(head) = text.strip_suffix(inner.as_str()) {
                text = head.strip_suffix(": ").unwrap_or(head).to_string();
            }
        }
        if !text.is_empty() {
            parts.push(text);
        }
    }
    (parts.join(": "), Note::Located(hint))
}

/// What kind of mistake an error is.
enum Class {
    /// A usual one, said in these plain words instead.
    Plain(String),
    /// The trace ends early.
    Truncated,
    Other,
}

fn classify(e: &(dyn StdError + 'static), file: Option<&Path>) -> Class {
    if let Some(e) = e.downcast_ref::<io::Error>() {
        return Class::Plain(io_words(e.kind()).map_or_else(|| strip_os(e), str::to_string));
    }
    let kind = if let Some(e) = e.downcast_ref::<trace_reader::Error>() {
        match e.kind() {
            trace_reader::ErrorKind::Wire(k) => *k,
            trace_reader::ErrorKind::IncompleteGeneration => return Class::Truncated,
            _ => return Class::Other,
        }
    } else if let Some(e) = e.downcast_ref::<trace_wire::Error>() {
        e.kind()
    } else {
        return Class::Other;
    };
    use trace_wire::{ErrorKind as W, IoCause};
    match kind {
        W::BadHeader | W::Io(IoCause::Eof | IoCause::UnexpectedEof) if is_empty(file) => {
            Class::Plain("empty file, not a Go execution trace".into())
        }
        W::BadHeader => Class::Plain(
            "not a Go execution trace (it does not start with \"go 1.N trace\")".into(),
        ),
        W::Io(IoCause::Io(k)) => {
            Class::Plain(io_words(k).map_or_else(|| k.to_string(), str::to_string))
        }
        W::BatchTruncated { .. }
        | W::StringTruncated { .. }
        | W::Io(IoCause::Eof | IoCause::UnexpectedEof)
        | W::DataTooLarge(_) => Class::Truncated,
        _ => Class::Other,
    }
}

/// Whether `file` is a regular file of no bytes.
fn is_empty(file: Option<&Path>) -> bool {
    file.filter(|f| *f != Path::new("-"))
        .and_then(|f| std::fs::metadata(f).ok())
        .is_some_and(|m| m.is_file() && m.len() == 0)
}

fn io_words(kind: io::ErrorKind) -> Option<&'static str> {
    Some(match kind {
        io::ErrorKind::NotFound => "no such file",
        io::ErrorKind::PermissionDenied => "permission denied",
        io::ErrorKind::IsADirectory => "is a directory, not a trace file",
        _ => return None,
    })
}

/// An I/O error without Rust's ` (os error N)` suffix, lower-cased like
/// every other message.
fn strip_os(e: &io::Error) -> String {
    let text = e.to_string();
    let text = match text.find(" (os error ") {
        Some(i) => &text[..i],
        None => &text,
    };
    let mut chars = text.chars();
    match chars.next() {
        Some(c) => c.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// `generation G, byte offset O`: where the reader stopped, if it says.
fn location(err: &(dyn StdError + 'static)) -> Option<String> {
    for e in chain(err) {
        let (gen, offset) = if let Some(e) = e.downcast_ref::<trace_reader::Error>() {
            (e.generation(), e.offset())
        } else if let Some(e) = e.downcast_ref::<trace_wire::Error>() {
            (None, Some(e.offset()))
        } else {
            continue;
        };
        let mut at = String::new();
        if let Some(g) = gen {
            let _ = write!(at, "generation {g}");
        }
        if let Some(o) = offset {
            if !at.is_empty() {
                at.push_str(", ");
            }
            let _ = write!(at, "byte offset {o}");
        }
        return (!at.is_empty()).then_some(at);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chains_do_not_repeat() {
        let inner = io::Error::other("disk on fire");
        let outer = anyhow::Error::new(inner).context("reading: disk on fire");
        assert_eq!(
            line("x", Some(Path::new("a.trace")), outer.as_ref()),
            "trace-tool x: a.trace: reading: disk on fire"
        );
    }

    #[test]
    fn io_errors_in_plain_words() {
        let e = io::Error::from(io::ErrorKind::NotFound);
        assert_eq!(
            line("dump", Some(Path::new("-")), &e),
            "trace-tool dump: <stdin>: no such file"
        );
        let e = io::Error::from_raw_os_error(5);
        assert_eq!(
            line("dump", None, &e),
            "trace-tool dump: input/output error"
        );
    }
}

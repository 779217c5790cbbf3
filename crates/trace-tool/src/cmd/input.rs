//! The one way subcommands open their input (`-` is standard input) and
//! their output.

use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::path::Path;

/// The whole file at `path`, or standard input for `-`.
pub(crate) fn read_input(path: &Path) -> io::Result<Vec<u8>> {
    let mut buf = Vec::new();
    open(path)?.read_to_end(&mut buf)?;
    Ok(buf)
}

/// The trace at `path`, or standard input for `-`. Unbuffered: the reader
/// buffers its input itself. A directory is refused here, with the same
/// error on every platform.
pub(crate) fn open(path: &Path) -> io::Result<Box<dyn Read>> {
    if path == Path::new("-") {
        return Ok(Box::new(io::stdin().lock()));
    }
    let file = File::open(path)?;
    if file.metadata()?.is_dir() {
        return Err(io::ErrorKind::IsADirectory.into());
    }
    Ok(Box::new(file))
}

/// How the output is named in messages.
pub(crate) fn output_name(path: Option<&Path>) -> String {
    match path {
        None => "<stdout>".into(),
        Some(p) if p == Path::new("-") => "<stdout>".into(),
        Some(p) => p.display().to_string(),
    }
}

/// The file at `path`, or standard output for `-` or no path, buffered.
pub(crate) fn create(path: Option<&Path>) -> io::Result<Box<dyn Write>> {
    match path {
        None => Ok(Box::new(BufWriter::with_capacity(
            1 << 20,
            io::stdout().lock(),
        ))),
        Some(p) if p == Path::new("-") => Ok(Box::new(BufWriter::with_capacity(
            1 << 20,
            io::stdout().lock(),
        ))),
        Some(p) => Ok(Box::new(BufWriter::with_capacity(
            1 << 20,
            File::create(p)?,
        ))),
    }
}

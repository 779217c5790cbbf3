//! The driver: splits a trace into generations, hands each to a
//! [`Transform`], and writes what comes out.

use std::io::Write;

use trace_wire::{Batches, Version};

use crate::generation::{Generation, Slot};
use crate::Error;

/// Edits a trace one generation at a time.
///
/// The rewriter calls [`Transform::generation`] once per generation, in file
/// order, then writes the generation: byte for byte if the transform did not
/// touch it, with its changed batches re-encoded otherwise, or not at all if
/// it was dropped. An implementor is responsible for keeping each
/// generation valid on its own (every string and stack it references
/// declared in it) and for the meaning of the events it edits; the rewriter
/// takes care of the encoding (lengths, batch sizes, table batches).
///
/// A closure `FnMut(&mut Generation) -> Result<(), Error>` is a transform.
pub trait Transform {
    /// Inspects and edits one generation.
    fn generation(&mut self, gen: &mut Generation<'_>) -> Result<(), Error>;
}

impl<F> Transform for F
where
    F: FnMut(&mut Generation<'_>) -> Result<(), Error>,
{
    fn generation(&mut self, gen: &mut Generation<'_>) -> Result<(), Error> {
        self(gen)
    }
}

/// What a rewrite did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Summary {
    /// The trace's format version (the output's too).
    pub version: Version,
    /// Generations in the input.
    pub n_generations: usize,
    /// Generations written to the output.
    pub n_written: usize,
    /// Generations written with some batch encoded again.
    pub n_changed: usize,
    /// Bytes written.
    pub bytes_written: u64,
}

/// Rewrites the trace `input` into `out` with `transform`.
///
/// The output starts with the input's file header. Generations are read,
/// transformed and written one at a time, so the memory used beyond the
/// input is about one generation. The input must be well formed at the
/// wire level (batch framing, tables, event encoding) in the parts the
/// transform looks at; the scheduling rules are not checked here (read the
/// output with `trace-reader` for that).
///
/// ```
/// use trace_rewrite::{rewrite, Generation};
///
/// # let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/current/traces/go126-misc-p1-adv1ms.trace");
/// let input = std::fs::read(path)?;
/// // The identity: every generation copied as it is.
/// let mut out = Vec::new();
/// let summary = rewrite(&input, &mut |_: &mut Generation<'_>| Ok(()), &mut out)?;
/// assert_eq!(out, input);
/// assert_eq!(summary.n_changed, 0);
///
/// // Keep only the first generation.
/// let mut first = Vec::new();
/// rewrite(&input, &mut |g: &mut Generation<'_>| {
///     if g.index() > 0 {
///         g.drop_generation();
///     }
///     Ok(())
/// }, &mut first)?;
/// assert!(first.len() < input.len());
/// let n_syncs = trace_reader::Reader::new(&first[..])?
///     .filter(|e| e.as_ref().is_ok_and(|e| e.sync().is_some()))
///     .count();
/// assert_eq!(n_syncs, 2);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn rewrite<T, W>(input: &[u8], transform: &mut T, mut out: W) -> Result<Summary, Error>
where
    T: Transform + ?Sized,
    W: Write,
{
    let mut batches = Batches::new(input)?;
    let version = batches.version();
    let header_len = batches.offset() as usize;
    out.write_all(&input[..header_len])?;
    let mut summary = Summary {
        version,
        n_generations: 0,
        n_written: 0,
        n_changed: 0,
        bytes_written: header_len as u64,
    };
    let mut slots: Vec<Slot<'_>> = Vec::new();
    let mut buf = Vec::new();
    let mut flush =
        |slots: Vec<Slot<'_>>, summary: &mut Summary, out: &mut W| -> Result<(), Error> {
            let (Some(first), Some(last)) = (slots.first(), slots.last()) else {
                return Ok(());
            };
            let start = first.offset as usize;
            let end = last.payload_offset as usize + last.payload.len() + last.trailing.len();
            let mut gen =
                Generation::new(version, summary.n_generations, &input[start..end], slots);
            transform.generation(&mut gen)?;
            summary.n_generations += 1;
            if !gen.is_dropped() {
                summary.n_written += 1;
            }
            if gen.is_changed() && !gen.is_dropped() {
                summary.n_changed += 1;
            }
            buf.clear();
            gen.write(&mut buf);
            out.write_all(&buf)?;
            summary.bytes_written += buf.len() as u64;
            Ok(())
        };
    loop {
        let next = batches.next_batch()?;
        // What lies between the previous batch and this one (or the end)
        // belongs to the previous batch: Go 1.26's end-of-generation events.
        let until = next.map_or(input.len(), |b| b.offset as usize);
        if let Some(last) = slots.last_mut() {
            let end = last.payload_offset as usize + last.payload.len();
            last.trailing = &input[end..until];
        }
        let Some(batch) = next else {
            flush(std::mem::take(&mut slots), &mut summary, &mut out)?;
            break;
        };
        if summary.n_generations == 0 && slots.is_empty() {
            // End-of-generation events before the first batch, if any.
            let leading = &input[header_len..batch.offset as usize];
            out.write_all(leading)?;
            summary.bytes_written += leading.len() as u64;
        }
        if slots
            .last()
            .is_some_and(|s| s.header.gen != batch.header.gen)
        {
            flush(std::mem::take(&mut slots), &mut summary, &mut out)?;
        }
        let end = batch.payload_offset as usize + batch.payload.len();
        slots.push(Slot {
            header: batch.header,
            kind: batch.kind(version),
            raw: &input[batch.offset as usize..end],
            payload: batch.payload,
            offset: batch.offset,
            payload_offset: batch.payload_offset,
            trailing: &[],
            replacement: None,
        });
    }
    out.flush()?;
    Ok(summary)
}

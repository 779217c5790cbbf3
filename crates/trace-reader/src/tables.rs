//! The per-generation tables events refer to: strings, stacks and their
//! frames, the frequency, experimental data and (1.25+) the clock snapshot.
//!
//! A generation's tables are built while the generation is read and then
//! shared (`Arc`) by all its events, so an event resolves strings and stacks
//! without copying them.

use hashbrown::HashMap;
use trace_wire::{Experiment, Frequency, RawCpuSample, Stacks, Strings};

use crate::error::{Error, ErrorKind};
use crate::idmap::IdMap;
use crate::types::ThreadId;

/// One stack frame, deduplicated by PC within a generation as Go 1.23 does.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FrameRec {
    pub(crate) pc: u64,
    pub(crate) func: u64,
    pub(crate) file: u64,
    pub(crate) line: u64,
}

/// One batch of an experiment's data, passed through unparsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExperimentalBatch {
    /// The thread that wrote the batch.
    pub thread: ThreadId,
    /// The batch's payload.
    pub data: Vec<u8>,
}

/// The experimental batches of one experiment in one generation, in file order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExperimentalData {
    /// The batches.
    pub batches: Vec<ExperimentalBatch>,
}

/// A near-simultaneous reading of several clocks (1.25+ traces), recorded at
/// the start of a generation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClockSnapshot {
    /// The trace clock, in nanoseconds (as event times).
    pub trace: crate::types::Time,
    /// The wall clock: seconds since the Unix epoch.
    pub wall_sec: i64,
    /// The wall clock: nanoseconds within the second.
    pub wall_nsec: i64,
    /// The monotonic clock, in nanoseconds.
    pub mono: u64,
}

impl ClockSnapshot {
    /// The wall clock reading as a `SystemTime`, if it is representable.
    pub fn wall(&self) -> Option<std::time::SystemTime> {
        let base = if self.wall_sec >= 0 {
            std::time::UNIX_EPOCH.checked_add(std::time::Duration::from_secs(self.wall_sec as u64))
        } else {
            std::time::UNIX_EPOCH
                .checked_sub(std::time::Duration::from_secs(self.wall_sec.unsigned_abs()))
        }?;
        if self.wall_nsec >= 0 {
            base.checked_add(std::time::Duration::from_nanos(self.wall_nsec as u64))
        } else {
            base.checked_sub(std::time::Duration::from_nanos(
                self.wall_nsec.unsigned_abs(),
            ))
        }
    }
}

/// The tables of one generation.
///
/// Aligned so that, inside an `Arc`, the tables do not share a cache line
/// (or its prefetch neighbour) with the reference counts: with a background
/// thread, the counts change on the caller's thread for every event while
/// the background thread reads the tables.
#[derive(Debug)]
#[repr(align(128))]
pub(crate) struct GenTables {
    pub(crate) gen: u64,
    pub(crate) freq: Frequency,
    /// String id → (start, len) in `string_data`.
    strings: IdMap<(usize, u32)>,
    string_data: Vec<u8>,
    /// Stack id → (start, len) in `stack_frames`.
    stacks: IdMap<(u32, u32)>,
    /// Indices into `frames`.
    stack_frames: Vec<u32>,
    frames: Vec<FrameRec>,
    pub(crate) experimental: Vec<(Experiment, ExperimentalData)>,
    pub(crate) clock: Option<ClockSnapshot>,
}

impl GenTables {
    /// The string with id `id`; id 0 is always the empty string.
    #[inline]
    pub(crate) fn string(&self, id: u64) -> Option<&[u8]> {
        if id == 0 {
            return Some(b"");
        }
        self.strings
            .get(id)
            .map(|&(start, len)| &self.string_data[start..start + len as usize])
    }

    #[inline]
    pub(crate) fn has_string(&self, id: u64) -> bool {
        id == 0 || self.strings.contains(id)
    }

    /// The frames of stack `id`; id 0 is always the empty stack.
    #[inline]
    pub(crate) fn stack(&self, id: u64) -> Option<&[u32]> {
        if id == 0 {
            return Some(&[]);
        }
        self.stacks
            .get(id)
            .map(|&(start, len)| &self.stack_frames[start as usize..(start + len) as usize])
    }

    #[inline]
    pub(crate) fn has_stack(&self, id: u64) -> bool {
        id == 0 || self.stacks.contains(id)
    }

    #[inline]
    pub(crate) fn frame(&self, index: u32) -> &FrameRec {
        &self.frames[index as usize]
    }

    pub(crate) fn experimental_data(&self, exp: Experiment) -> Option<&ExperimentalData> {
        self.experimental
            .iter()
            .find(|(e, _)| *e == exp)
            .map(|(_, d)| d)
    }
}

/// Builds a generation's tables from its structural batches.
#[derive(Debug)]
pub(crate) struct TablesBuilder {
    strings: IdMap<(usize, u32)>,
    string_data: Vec<u8>,
    stacks: IdMap<(u32, u32)>,
    stack_frames: Vec<u32>,
    frames: Vec<FrameRec>,
    pcs: HashMap<u64, u32>,
    experimental: Vec<(Experiment, ExperimentalData)>,
    pub(crate) cpu_samples: Vec<RawCpuSample>,
}

impl TablesBuilder {
    pub(crate) fn new() -> Self {
        Self {
            strings: IdMap::default(),
            string_data: Vec::new(),
            stacks: IdMap::default(),
            stack_frames: Vec::new(),
            frames: Vec::new(),
            pcs: HashMap::new(),
            experimental: Vec::new(),
            cpu_samples: Vec::new(),
        }
    }

    fn string(&self, id: u64) -> Option<&[u8]> {
        if id == 0 {
            return Some(b"");
        }
        self.strings
            .get(id)
            .map(|&(start, len)| &self.string_data[start..start + len as usize])
    }

    fn stack_pcs(&self, id: u64) -> Option<Vec<u64>> {
        if id == 0 {
            return Some(Vec::new());
        }
        let &(start, len) = self.stacks.get(id)?;
        Some(
            self.stack_frames[start as usize..(start + len) as usize]
                .iter()
                .map(|&f| self.frames[f as usize].pc)
                .collect(),
        )
    }

    /// Adds the entries of a strings batch.
    pub(crate) fn add_strings(&mut self, payload: &[u8], offset: u64) -> Result<(), Error> {
        let mut strings = Strings::new(payload, offset)?;
        loop {
            let at = offset; // Entry offsets are not tracked finer than the batch.
            let Some((id, data)) = strings.next_string()? else {
                return Ok(());
            };
            if let Some(existing) = self.string(id) {
                return Err(Error::new(ErrorKind::DuplicateString {
                    id,
                    new: data.to_vec(),
                    existing: existing.to_vec(),
                })
                .at(at));
            }
            let start = self.string_data.len();
            self.string_data.extend_from_slice(data);
            self.strings.insert(id, (start, data.len() as u32));
        }
    }

    /// Adds the entries of a stacks batch.
    pub(crate) fn add_stacks(&mut self, payload: &[u8], offset: u64) -> Result<(), Error> {
        let mut stacks = Stacks::new(payload, offset)?;
        while let Some(entry) = stacks.next_stack()? {
            let start = self.stack_frames.len();
            for f in entry.frames() {
                let next = self.frames.len() as u32;
                let index = *self.pcs.entry(f.pc).or_insert(next);
                if index == next {
                    self.frames.push(FrameRec {
                        pc: f.pc,
                        func: f.func,
                        file: f.file,
                        line: f.line,
                    });
                }
                self.stack_frames.push(index);
            }
            let len = self.stack_frames.len() - start;
            if let Some(existing) = self.stack_pcs(entry.id) {
                let new = self.stack_frames[start..]
                    .iter()
                    .map(|&f| self.frames[f as usize].pc)
                    .collect();
                return Err(Error::new(ErrorKind::DuplicateStack {
                    id: entry.id,
                    new,
                    existing,
                })
                .at(offset));
            }
            self.stacks.insert(entry.id, (start as u32, len as u32));
        }
        Ok(())
    }

    /// Adds the samples of a CPU samples batch.
    pub(crate) fn add_cpu_samples(&mut self, payload: &[u8], offset: u64) -> Result<(), Error> {
        let mut samples = trace_wire::CpuSamples::new(payload, offset)?;
        while let Some(s) = samples.next_sample()? {
            self.cpu_samples.push(s);
        }
        Ok(())
    }

    /// Adds an experimental batch.
    pub(crate) fn add_experimental(&mut self, exp: Experiment, m: u64, data: &[u8]) {
        let batch = ExperimentalBatch {
            thread: ThreadId(m as i64),
            data: data.to_vec(),
        };
        match self.experimental.iter_mut().find(|(e, _)| *e == exp) {
            Some((_, d)) => d.batches.push(batch),
            None => self.experimental.push((
                exp,
                ExperimentalData {
                    batches: vec![batch],
                },
            )),
        }
    }

    /// Checks that every frame names declared strings, reporting the first bad
    /// frame of the stack with the smallest id (Go's order for dense tables).
    fn validate_stack_strings(&self) -> Result<(), Error> {
        let ok = |id| id == 0 || self.strings.contains(id);
        if self.frames.iter().all(|f| ok(f.func) && ok(f.file)) {
            return Ok(());
        }
        for (id, &(start, len)) in self.stacks.sorted() {
            for &f in &self.stack_frames[start as usize..(start + len) as usize] {
                let f = &self.frames[f as usize];
                if !ok(f.func) {
                    return Err(Error::new(ErrorKind::InvalidFuncString {
                        string: f.func,
                        stack: id,
                    }));
                }
                if !ok(f.file) {
                    return Err(Error::new(ErrorKind::InvalidFileString {
                        string: f.file,
                        stack: id,
                    }));
                }
            }
        }
        Ok(())
    }

    /// Validates the stacks and freezes the tables.
    pub(crate) fn finish(
        self,
        gen: u64,
        freq: Frequency,
        clock: Option<ClockSnapshot>,
    ) -> Result<GenTables, Error> {
        self.validate_stack_strings()?;
        Ok(GenTables {
            gen,
            freq,
            strings: self.strings,
            string_data: self.string_data,
            stacks: self.stacks,
            stack_frames: self.stack_frames,
            frames: self.frames,
            experimental: self.experimental,
            clock,
        })
    }
}

//! Interned strings and stacks shared by the whole timeline.
//!
//! A trace's string and stack tables are per generation; the timeline keeps
//! one table of each for the whole trace, so that a slice refers to a stack
//! by a small number that stays valid after its generation is gone.

use hashbrown::HashMap;
use trace_reader::{Stack, TraceStr};

/// A string table: id 0 is the empty string.
#[derive(Debug)]
pub(crate) struct Strings {
    list: Vec<Box<str>>,
    index: HashMap<Box<str>, u32>,
}

impl Strings {
    pub(crate) fn new() -> Self {
        let mut s = Strings {
            list: Vec::new(),
            index: HashMap::new(),
        };
        s.intern("");
        s
    }

    pub(crate) fn intern(&mut self, s: &str) -> u32 {
        if let Some(&id) = self.index.get(s) {
            return id;
        }
        let id = self.list.len() as u32;
        self.list.push(s.into());
        self.index.insert(s.into(), id);
        id
    }

    pub(crate) fn intern_trace(&mut self, s: TraceStr<'_>) -> u32 {
        if s.is_empty() {
            return 0;
        }
        self.intern(&s.to_string_lossy())
    }

    pub(crate) fn get(&self, id: u32) -> &str {
        self.list.get(id as usize).map_or("", |s| s)
    }

    pub(crate) fn len(&self) -> usize {
        self.list.len()
    }
}

/// One frame of an interned stack.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct FrameRec {
    pub(crate) pc: u64,
    pub(crate) func: u32,
    pub(crate) file: u32,
    pub(crate) line: u64,
}

/// A stack table: id 0 is "no stack" (or the empty stack).
#[derive(Debug)]
pub(crate) struct Stacks {
    frames: Vec<FrameRec>,
    frame_index: HashMap<FrameRec, u32>,
    /// `(first, len)` into `members`.
    stacks: Vec<(u32, u32)>,
    members: Vec<u32>,
    stack_index: HashMap<Box<[u32]>, u32>,
    /// The current generation's stack ids, mapped to ours.
    generation: HashMap<u64, u32>,
    scratch: Vec<u32>,
}

impl Stacks {
    pub(crate) fn new() -> Self {
        Stacks {
            frames: Vec::new(),
            frame_index: HashMap::new(),
            stacks: vec![(0, 0)],
            members: Vec::new(),
            stack_index: HashMap::new(),
            generation: HashMap::new(),
            scratch: Vec::new(),
        }
    }

    /// Forgets the current generation's ids: called at each `Sync` event,
    /// after which stack ids refer to the next generation's table.
    pub(crate) fn next_generation(&mut self) {
        self.generation.clear();
    }

    /// Our id of `stack`, interning it (and its frames' strings) on first use.
    pub(crate) fn intern(&mut self, stack: Option<Stack<'_>>, strings: &mut Strings) -> u32 {
        let Some(stack) = stack else { return 0 };
        if stack.id() == 0 || stack.is_empty() {
            return 0;
        }
        if let Some(&id) = self.generation.get(&stack.id()) {
            return id;
        }
        self.scratch.clear();
        for f in stack.frames() {
            let rec = FrameRec {
                pc: f.pc,
                func: strings.intern_trace(f.func),
                file: strings.intern_trace(f.file),
                line: f.line,
            };
            let next = self.frames.len() as u32;
            let fid = *self.frame_index.entry(rec).or_insert(next);
            if fid == next {
                self.frames.push(rec);
            }
            self.scratch.push(fid);
        }
        let id = match self.stack_index.get(self.scratch.as_slice()) {
            Some(&id) => id,
            None => {
                let id = self.stacks.len() as u32;
                self.stacks
                    .push((self.members.len() as u32, self.scratch.len() as u32));
                self.members.extend_from_slice(&self.scratch);
                self.stack_index.insert(self.scratch.as_slice().into(), id);
                id
            }
        };
        self.generation.insert(stack.id(), id);
        id
    }

    /// The frames of stack `id`, leaf first (empty for 0 or an unknown id).
    pub(crate) fn frames(&self, id: u32) -> impl ExactSizeIterator<Item = FrameRec> + '_ {
        let (first, len) = self.stacks.get(id as usize).copied().unwrap_or((0, 0));
        self.members[first as usize..(first + len) as usize]
            .iter()
            .map(|&f| self.frames[f as usize])
    }

    /// The number of stacks, counting the empty stack 0.
    pub(crate) fn len(&self) -> usize {
        self.stacks.len()
    }
}

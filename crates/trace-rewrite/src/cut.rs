//! Cutting a trace down to whole generations: a time window or a range of
//! generations.
//!
//! Every generation stands alone (its own tables, statuses for what it
//! uses), so the generations kept are copied byte for byte and the output is
//! a valid trace whose first generation is the first one kept. Its events
//! are the input's for those generations, except that the first
//! generation's statuses are read as a trace's first ones (`Undetermined`
//! before them, as when a flight recorder's snapshot starts there).

use crate::{Error, Generation, Transform};

/// Which generations a [`Cut`] keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Selection {
    /// Every generation with an event or CPU sample in `from..=to`
    /// (nanoseconds, the times the reader gives events).
    Window {
        /// The start of the window.
        from: i64,
        /// The end of the window (inclusive).
        to: i64,
    },
    /// The generations at positions `first..=last` in the file, counting
    /// from 1 (as the reader's sync events count them).
    Generations {
        /// The first generation kept.
        first: usize,
        /// The last generation kept.
        last: usize,
    },
}

/// A [`Transform`] that keeps the generations a [`Selection`] names and
/// drops the others.
///
/// ```
/// use trace_rewrite::{rewrite, Cut, Selection};
///
/// # let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/traces/go123-testprog-annotations.trace");
/// let input = std::fs::read(path)?;
/// let mut cut = Cut::new(Selection::Generations { first: 1, last: 1 });
/// let mut out = Vec::new();
/// rewrite(&input, &mut cut, &mut out)?;
/// cut.check()?;
/// assert_eq!(cut.kept(), &[1]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct Cut {
    selection: Selection,
    kept: Vec<usize>,
    n_generations: usize,
}

impl Cut {
    /// A cut keeping `selection`.
    pub fn new(selection: Selection) -> Self {
        Self {
            selection,
            kept: Vec::new(),
            n_generations: 0,
        }
    }

    /// The positions (from 1) of the generations kept so far.
    pub fn kept(&self) -> &[usize] {
        &self.kept
    }

    /// After the rewrite: an error if no generation was kept (the output is
    /// then a trace with no generation).
    pub fn check(&self) -> Result<(), Error> {
        if self.kept.is_empty() {
            return Err(Error::EmptySelection {
                n_generations: self.n_generations,
            });
        }
        Ok(())
    }
}

impl Transform for Cut {
    fn generation(&mut self, gen: &mut Generation<'_>) -> Result<(), Error> {
        self.n_generations += 1;
        let position = gen.index() + 1;
        let keep = match self.selection {
            Selection::Generations { first, last } => (first..=last).contains(&position),
            Selection::Window { from, to } => gen
                .time_range()?
                .is_some_and(|(start, end)| end >= from && start <= to),
        };
        if keep {
            self.kept.push(position);
        } else {
            gen.drop_generation();
        }
        Ok(())
    }
}

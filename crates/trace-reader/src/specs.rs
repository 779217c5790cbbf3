//! Facts about each event type, precomputed from trace-wire's event table
//! for the hot paths: how many arguments to decode, which arguments are
//! stack or string ids, whether an event refers to its generation's tables.

use trace_wire::{ty, Version};

use crate::event::SYNC;

/// The argument count of a type that cannot appear in an event batch.
pub(crate) const NOT_TIMED: u8 = u8::MAX;

/// What the reader needs to know about one event type.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TypeInfo {
    /// Arguments after `dt` of a timed event, or [`NOT_TIMED`].
    pub(crate) n_args: u8,
    /// Bit `i`: argument `i` (after `dt`) is a stack id.
    pub(crate) stacks: u8,
    /// Bit `i`: argument `i` (after `dt`) is a string id.
    pub(crate) strings: u8,
    /// Whether events of this type refer to their generation's tables
    /// (strings, stacks or experimental data).
    pub(crate) tables: bool,
}

/// [`TypeInfo`] for every type byte.
#[derive(Debug)]
pub(crate) struct TypeTable(Box<[TypeInfo; 256]>);

impl TypeTable {
    pub(crate) fn new(version: Version) -> Self {
        let mut t = Box::new(
            [TypeInfo {
                n_args: NOT_TIMED,
                stacks: 0,
                strings: 0,
                tables: false,
            }; 256],
        );
        for (i, spec) in version.specs().iter().enumerate() {
            let info = &mut t[i];
            if spec.is_timed && !spec.args.is_empty() {
                info.n_args = (spec.args.len() - 1) as u8;
            }
            // Argument indices in the table count `dt`.
            for &a in spec.stack_ids {
                info.stacks |= 1 << (a - 1);
            }
            for &a in spec.string_ids {
                info.strings |= 1 << (a - 1);
            }
            info.tables = info.stacks != 0 || info.strings != 0;
        }
        for t_ in [ty::STW_END, ty::CPU_SAMPLE, SYNC] {
            t[usize::from(t_)].tables = true;
        }
        for t_ in ty::SPAN..=ty::GOROUTINE_STACK_FREE {
            t[usize::from(t_)].tables = true;
        }
        TypeTable(t)
    }

    #[inline]
    pub(crate) fn get(&self, t: u8) -> &TypeInfo {
        &self.0[usize::from(t)]
    }
}

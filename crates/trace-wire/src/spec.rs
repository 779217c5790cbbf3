//! Format versions and the event table of each.
//!
//! The names of events and of their arguments are exactly Go's: they are part
//! of the text form (`go tool trace -d=wire`) and let readers cross-reference the
//! spec and Go's sources.

use std::fmt;

/// A version of the v2 ("generational") trace format, named after the Go
/// release that introduced it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Version {
    /// `go 1.22 trace`: events 1–44.
    Go122,
    /// `go 1.23 trace`: adds coroutine switches, blocked creation, statuses with
    /// stacks, experimental batches and the alloc/free experiment.
    Go123,
    /// `go 1.25 trace`: sync batches with clock snapshots replace the lone
    /// frequency batch.
    Go125,
    /// `go 1.26 trace`: as 1.25, with an explicit end-of-generation signal.
    Go126,
}

/// The length of the file header.
pub const HEADER_LEN: usize = 16;

impl Version {
    /// Every version this crate reads and writes, oldest first.
    pub const ALL: [Version; 4] = [
        Version::Go122,
        Version::Go123,
        Version::Go125,
        Version::Go126,
    ];

    /// The minor version number, e.g. 23 for Go 1.23.
    pub fn minor(self) -> u32 {
        match self {
            Version::Go122 => 22,
            Version::Go123 => 23,
            Version::Go125 => 25,
            Version::Go126 => 26,
        }
    }

    /// The version with the given minor number, if this crate knows it.
    pub fn from_minor(minor: u32) -> Option<Version> {
        Version::ALL.into_iter().find(|v| v.minor() == minor)
    }

    /// The 16-byte file header of this version, e.g. `go 1.23 trace\0\0\0`.
    pub fn header(self) -> [u8; HEADER_LEN] {
        let mut res = *b"go 1.00 trace\0\0\0";
        let minor = self.minor();
        res[5] = b'0' + (minor / 10) as u8;
        res[6] = b'0' + (minor % 10) as u8;
        res
    }

    /// The event specification of type byte `ty`, if the version's table has an
    /// entry for it. Entries without a name (ids 0 and 50–127 in 1.22/1.23)
    /// are returned too, as Go's table has them; see [`EventSpec::is_defined`].
    pub fn spec(self, ty: u8) -> Option<&'static EventSpec> {
        self.specs().get(usize::from(ty))
    }

    /// The whole event table of this version, indexed by type byte.
    pub fn specs(self) -> &'static [EventSpec] {
        match self {
            // Go 1.23's reader reads 1.22 traces with the 1.23 table.
            Version::Go122 | Version::Go123 => &GO123_SPECS,
            Version::Go125 | Version::Go126 => &GO125_SPECS,
        }
    }

    /// The type byte of the event named `name`, as in the text form.
    pub fn event_type(self, name: &str) -> Option<u8> {
        if name.is_empty() {
            return None;
        }
        self.specs()
            .iter()
            .position(|s| s.name == name)
            .map(|i| i as u8)
    }

    /// Whether this version carries frequency and clock in a sync batch at the
    /// start of each generation (1.25+) instead of a lone frequency batch.
    pub fn has_sync_batches(self) -> bool {
        self >= Version::Go125
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Go1.{}", self.minor())
    }
}

/// What the format says about one event type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventSpec {
    /// Go's name of the event; empty for unused slots.
    pub name: &'static str,
    /// Argument names in wire order. For timed events the first is `dt`.
    pub args: &'static [&'static str],
    /// Whether the event is timed (may appear in event batches).
    pub is_timed: bool,
    /// Whether the event carries trailing data (a length, then that many bytes).
    pub has_data: bool,
    /// Whether the event is a stack-table entry, followed by `nframes` groups
    /// of four values.
    pub is_stack: bool,
    /// Indices into `args` of the arguments that are string ids.
    pub string_ids: &'static [usize],
    /// Indices into `args` of the arguments that are stack ids. When there
    /// are two, the first is the event's own stack.
    pub stack_ids: &'static [usize],
    /// The experiment the event belongs to, or [`Experiment::None`].
    pub experiment: Experiment,
}

impl EventSpec {
    const EMPTY: EventSpec = EventSpec {
        name: "",
        args: &[],
        is_timed: false,
        has_data: false,
        is_stack: false,
        string_ids: &[],
        stack_ids: &[],
        experiment: Experiment::None,
    };

    /// Whether the slot holds a real event (it has a name).
    pub fn is_defined(&self) -> bool {
        !self.name.is_empty()
    }

    const fn structural(name: &'static str, args: &'static [&'static str]) -> EventSpec {
        EventSpec {
            name,
            args,
            ..EventSpec::EMPTY
        }
    }

    const fn timed(name: &'static str, args: &'static [&'static str]) -> EventSpec {
        EventSpec {
            name,
            args,
            is_timed: true,
            ..EventSpec::EMPTY
        }
    }

    const fn strings(mut self, ids: &'static [usize]) -> EventSpec {
        self.string_ids = ids;
        self
    }

    const fn stacks(mut self, ids: &'static [usize]) -> EventSpec {
        self.stack_ids = ids;
        self
    }

    const fn experimental(mut self) -> EventSpec {
        self.experiment = Experiment::AllocFree;
        self
    }
}

/// An experiment: a group of events and batches that Go's runtime writes only
/// when asked to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Experiment {
    /// Not experimental.
    None,
    /// Heap and stack allocation and free events (`GODEBUG=traceallocfree=1`).
    AllocFree,
    /// An experiment this crate does not know.
    Unknown(u8),
}

impl Experiment {
    /// The experiment with wire id `id`.
    pub fn from_id(id: u8) -> Experiment {
        match id {
            0 => Experiment::None,
            1 => Experiment::AllocFree,
            n => Experiment::Unknown(n),
        }
    }

    /// The wire id.
    pub fn id(self) -> u8 {
        match self {
            Experiment::None => 0,
            Experiment::AllocFree => 1,
            Experiment::Unknown(n) => n,
        }
    }
}

/// Type bytes of every event, with Go's names.
#[allow(
    missing_docs,
    reason = "the names are the spec's; see the table in `spec.rs`"
)]
pub mod ty {
    pub const EVENT_BATCH: u8 = 1;
    pub const STACKS: u8 = 2;
    pub const STACK: u8 = 3;
    pub const STRINGS: u8 = 4;
    pub const STRING: u8 = 5;
    pub const CPU_SAMPLES: u8 = 6;
    pub const CPU_SAMPLE: u8 = 7;
    pub const FREQUENCY: u8 = 8;
    pub const PROCS_CHANGE: u8 = 9;
    pub const PROC_START: u8 = 10;
    pub const PROC_STOP: u8 = 11;
    pub const PROC_STEAL: u8 = 12;
    pub const PROC_STATUS: u8 = 13;
    pub const GO_CREATE: u8 = 14;
    pub const GO_CREATE_SYSCALL: u8 = 15;
    pub const GO_START: u8 = 16;
    pub const GO_DESTROY: u8 = 17;
    pub const GO_DESTROY_SYSCALL: u8 = 18;
    pub const GO_STOP: u8 = 19;
    pub const GO_BLOCK: u8 = 20;
    pub const GO_UNBLOCK: u8 = 21;
    pub const GO_SYSCALL_BEGIN: u8 = 22;
    pub const GO_SYSCALL_END: u8 = 23;
    pub const GO_SYSCALL_END_BLOCKED: u8 = 24;
    pub const GO_STATUS: u8 = 25;
    pub const STW_BEGIN: u8 = 26;
    pub const STW_END: u8 = 27;
    pub const GC_ACTIVE: u8 = 28;
    pub const GC_BEGIN: u8 = 29;
    pub const GC_END: u8 = 30;
    pub const GC_SWEEP_ACTIVE: u8 = 31;
    pub const GC_SWEEP_BEGIN: u8 = 32;
    pub const GC_SWEEP_END: u8 = 33;
    pub const GC_MARK_ASSIST_ACTIVE: u8 = 34;
    pub const GC_MARK_ASSIST_BEGIN: u8 = 35;
    pub const GC_MARK_ASSIST_END: u8 = 36;
    pub const HEAP_ALLOC: u8 = 37;
    pub const HEAP_GOAL: u8 = 38;
    pub const GO_LABEL: u8 = 39;
    pub const USER_TASK_BEGIN: u8 = 40;
    pub const USER_TASK_END: u8 = 41;
    pub const USER_REGION_BEGIN: u8 = 42;
    pub const USER_REGION_END: u8 = 43;
    pub const USER_LOG: u8 = 44;
    pub const GO_SWITCH: u8 = 45;
    pub const GO_SWITCH_DESTROY: u8 = 46;
    pub const GO_CREATE_BLOCKED: u8 = 47;
    pub const GO_STATUS_STACK: u8 = 48;
    pub const EXPERIMENTAL_BATCH: u8 = 49;
    pub const SYNC: u8 = 50;
    pub const CLOCK_SNAPSHOT: u8 = 51;
    pub const END_OF_GENERATION: u8 = 52;
    pub const SPAN: u8 = 128;
    pub const SPAN_ALLOC: u8 = 129;
    pub const SPAN_FREE: u8 = 130;
    pub const HEAP_OBJECT: u8 = 131;
    pub const HEAP_OBJECT_ALLOC: u8 = 132;
    pub const HEAP_OBJECT_FREE: u8 = 133;
    pub const GOROUTINE_STACK: u8 = 134;
    pub const GOROUTINE_STACK_ALLOC: u8 = 135;
    pub const GOROUTINE_STACK_FREE: u8 = 136;
}

const fn go123_specs() -> [EventSpec; 137] {
    use EventSpec as S;
    let mut t = [EventSpec::EMPTY; 137];
    t[ty::EVENT_BATCH as usize] = S::structural("EventBatch", &["gen", "m", "time", "size"]);
    t[ty::STACKS as usize] = S::structural("Stacks", &[]);
    t[ty::STACK as usize] = EventSpec {
        is_stack: true,
        ..S::structural("Stack", &["id", "nframes"])
    };
    t[ty::STRINGS as usize] = S::structural("Strings", &[]);
    t[ty::STRING as usize] = EventSpec {
        has_data: true,
        ..S::structural("String", &["id"])
    };
    t[ty::CPU_SAMPLES as usize] = S::structural("CPUSamples", &[]);
    t[ty::CPU_SAMPLE as usize] = S::structural("CPUSample", &["time", "m", "p", "g", "stack"]);
    t[ty::FREQUENCY as usize] = S::structural("Frequency", &["freq"]);
    t[ty::PROCS_CHANGE as usize] =
        S::timed("ProcsChange", &["dt", "procs_value", "stack"]).stacks(&[2]);
    t[ty::PROC_START as usize] = S::timed("ProcStart", &["dt", "p", "p_seq"]);
    t[ty::PROC_STOP as usize] = S::timed("ProcStop", &["dt"]);
    t[ty::PROC_STEAL as usize] = S::timed("ProcSteal", &["dt", "p", "p_seq", "m"]);
    t[ty::PROC_STATUS as usize] = S::timed("ProcStatus", &["dt", "p", "pstatus"]);
    t[ty::GO_CREATE as usize] =
        S::timed("GoCreate", &["dt", "new_g", "new_stack", "stack"]).stacks(&[3, 2]);
    t[ty::GO_CREATE_SYSCALL as usize] = S::timed("GoCreateSyscall", &["dt", "new_g"]);
    t[ty::GO_START as usize] = S::timed("GoStart", &["dt", "g", "g_seq"]);
    t[ty::GO_DESTROY as usize] = S::timed("GoDestroy", &["dt"]);
    t[ty::GO_DESTROY_SYSCALL as usize] = S::timed("GoDestroySyscall", &["dt"]);
    t[ty::GO_STOP as usize] = S::timed("GoStop", &["dt", "reason_string", "stack"])
        .strings(&[1])
        .stacks(&[2]);
    t[ty::GO_BLOCK as usize] = S::timed("GoBlock", &["dt", "reason_string", "stack"])
        .strings(&[1])
        .stacks(&[2]);
    t[ty::GO_UNBLOCK as usize] = S::timed("GoUnblock", &["dt", "g", "g_seq", "stack"]).stacks(&[3]);
    t[ty::GO_SYSCALL_BEGIN as usize] =
        S::timed("GoSyscallBegin", &["dt", "p_seq", "stack"]).stacks(&[2]);
    t[ty::GO_SYSCALL_END as usize] = S::timed("GoSyscallEnd", &["dt"]);
    t[ty::GO_SYSCALL_END_BLOCKED as usize] = S::timed("GoSyscallEndBlocked", &["dt"]);
    t[ty::GO_STATUS as usize] = S::timed("GoStatus", &["dt", "g", "m", "gstatus"]);
    t[ty::STW_BEGIN as usize] = S::timed("STWBegin", &["dt", "kind_string", "stack"])
        .strings(&[1])
        .stacks(&[2]);
    t[ty::STW_END as usize] = S::timed("STWEnd", &["dt"]);
    t[ty::GC_ACTIVE as usize] = S::timed("GCActive", &["dt", "gc_seq"]);
    t[ty::GC_BEGIN as usize] = S::timed("GCBegin", &["dt", "gc_seq", "stack"]).stacks(&[2]);
    t[ty::GC_END as usize] = S::timed("GCEnd", &["dt", "gc_seq"]);
    t[ty::GC_SWEEP_ACTIVE as usize] = S::timed("GCSweepActive", &["dt", "p"]);
    t[ty::GC_SWEEP_BEGIN as usize] = S::timed("GCSweepBegin", &["dt", "stack"]).stacks(&[1]);
    t[ty::GC_SWEEP_END as usize] =
        S::timed("GCSweepEnd", &["dt", "swept_value", "reclaimed_value"]);
    t[ty::GC_MARK_ASSIST_ACTIVE as usize] = S::timed("GCMarkAssistActive", &["dt", "g"]);
    t[ty::GC_MARK_ASSIST_BEGIN as usize] =
        S::timed("GCMarkAssistBegin", &["dt", "stack"]).stacks(&[1]);
    t[ty::GC_MARK_ASSIST_END as usize] = S::timed("GCMarkAssistEnd", &["dt"]);
    t[ty::HEAP_ALLOC as usize] = S::timed("HeapAlloc", &["dt", "heapalloc_value"]);
    t[ty::HEAP_GOAL as usize] = S::timed("HeapGoal", &["dt", "heapgoal_value"]);
    t[ty::GO_LABEL as usize] = S::timed("GoLabel", &["dt", "label_string"]).strings(&[1]);
    t[ty::USER_TASK_BEGIN as usize] = S::timed(
        "UserTaskBegin",
        &["dt", "task", "parent_task", "name_string", "stack"],
    )
    .strings(&[3])
    .stacks(&[4]);
    t[ty::USER_TASK_END as usize] = S::timed("UserTaskEnd", &["dt", "task", "stack"]).stacks(&[2]);
    t[ty::USER_REGION_BEGIN as usize] =
        S::timed("UserRegionBegin", &["dt", "task", "name_string", "stack"])
            .strings(&[2])
            .stacks(&[3]);
    t[ty::USER_REGION_END as usize] =
        S::timed("UserRegionEnd", &["dt", "task", "name_string", "stack"])
            .strings(&[2])
            .stacks(&[3]);
    t[ty::USER_LOG as usize] = S::timed(
        "UserLog",
        &["dt", "task", "key_string", "value_string", "stack"],
    )
    .strings(&[2, 3])
    .stacks(&[4]);
    t[ty::GO_SWITCH as usize] = S::timed("GoSwitch", &["dt", "g", "g_seq"]);
    t[ty::GO_SWITCH_DESTROY as usize] = S::timed("GoSwitchDestroy", &["dt", "g", "g_seq"]);
    t[ty::GO_CREATE_BLOCKED as usize] =
        S::timed("GoCreateBlocked", &["dt", "new_g", "new_stack", "stack"]).stacks(&[3, 2]);
    t[ty::GO_STATUS_STACK as usize] =
        S::timed("GoStatusStack", &["dt", "g", "m", "gstatus", "stack"]).stacks(&[4]);
    t[ty::EXPERIMENTAL_BATCH as usize] = EventSpec {
        has_data: true,
        ..S::structural("ExperimentalBatch", &["exp", "gen", "m", "time"])
    };
    const SPAN_ARGS: &[&str] = &["dt", "id", "npages_value", "kindclass"];
    t[ty::SPAN as usize] = S::timed("Span", SPAN_ARGS).experimental();
    t[ty::SPAN_ALLOC as usize] = S::timed("SpanAlloc", SPAN_ARGS).experimental();
    t[ty::SPAN_FREE as usize] = S::timed("SpanFree", &["dt", "id"]).experimental();
    t[ty::HEAP_OBJECT as usize] = S::timed("HeapObject", &["dt", "id", "type"]).experimental();
    t[ty::HEAP_OBJECT_ALLOC as usize] =
        S::timed("HeapObjectAlloc", &["dt", "id", "type"]).experimental();
    t[ty::HEAP_OBJECT_FREE as usize] = S::timed("HeapObjectFree", &["dt", "id"]).experimental();
    t[ty::GOROUTINE_STACK as usize] =
        S::timed("GoroutineStack", &["dt", "id", "order"]).experimental();
    t[ty::GOROUTINE_STACK_ALLOC as usize] =
        S::timed("GoroutineStackAlloc", &["dt", "id", "order"]).experimental();
    t[ty::GOROUTINE_STACK_FREE as usize] =
        S::timed("GoroutineStackFree", &["dt", "id"]).experimental();
    t
}

const fn go125_specs() -> [EventSpec; 137] {
    let mut t = go123_specs();
    t[ty::SYNC as usize] = EventSpec::structural("Sync", &[]);
    t[ty::CLOCK_SNAPSHOT as usize] =
        EventSpec::timed("ClockSnapshot", &["dt", "mono", "sec", "nsec"]);
    t[ty::END_OF_GENERATION as usize] = EventSpec::structural("EndOfGeneration", &[]);
    // 1.25 validates the stack of CPU samples.
    t[ty::CPU_SAMPLE as usize] = t[ty::CPU_SAMPLE as usize].stacks(&[4]);
    t
}

static GO123_SPECS: [EventSpec; 137] = go123_specs();
static GO125_SPECS: [EventSpec; 137] = go125_specs();

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers() {
        assert_eq!(&Version::Go123.header(), b"go 1.23 trace\0\0\0");
        assert_eq!(&Version::Go122.header(), b"go 1.22 trace\0\0\0");
    }

    #[test]
    fn timed_events_fit_five_slots() {
        for v in Version::ALL {
            for s in v.specs() {
                if s.is_timed {
                    assert!(s.args.len() <= 5, "{}", s.name);
                    assert_eq!(s.args[0], "dt", "{}", s.name);
                }
                for &i in s.string_ids.iter().chain(s.stack_ids) {
                    assert!(i < s.args.len(), "{}", s.name);
                }
            }
        }
    }

    #[test]
    fn names_round_trip() {
        for v in Version::ALL {
            for (i, s) in v.specs().iter().enumerate() {
                if s.is_defined() {
                    assert_eq!(v.event_type(s.name), Some(i as u8));
                }
            }
        }
        assert_eq!(Version::Go123.event_type("Sync"), None);
        assert_eq!(Version::Go125.event_type("Sync"), Some(ty::SYNC));
    }
}

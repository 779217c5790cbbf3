//! The text of an event exactly as Go's `Event.String()` writes it: today's
//! (Go 1.26 and 1.27, what `go tool trace -d=parsed` prints) and Go 1.23's
//! (what its `go tool trace -d=1` prints).
//!
//! The formatter is written once against [`Out`], a sink taking text and raw
//! bytes: through `Display` (function and file names that are not UTF-8 are
//! shown lossily) and through [`Event::write_go`] (every byte as Go writes
//! it).

use std::fmt;
use std::io;

use crate::event::{Event, EventKind, Stack, StateChange};
use crate::quote::{quote_into, write_quoted};

/// Where formatted text goes.
pub(crate) trait Out {
    type Err;
    /// Writes text.
    fn s(&mut self, s: &str) -> Result<(), Self::Err>;
    /// Writes bytes that Go writes unquoted (they may not be UTF-8).
    fn raw(&mut self, b: &[u8]) -> Result<(), Self::Err>;
    /// Writes ASCII bytes (digits).
    fn ascii(&mut self, b: &[u8]) -> Result<(), Self::Err> {
        self.s(std::str::from_utf8(b).unwrap_or_default())
    }
}

/// Writes to a `fmt::Formatter`; raw bytes are converted lossily.
pub(crate) struct FmtOut<'a, 'b>(pub(crate) &'a mut fmt::Formatter<'b>);

impl Out for FmtOut<'_, '_> {
    type Err = fmt::Error;

    #[inline]
    fn s(&mut self, s: &str) -> fmt::Result {
        self.0.write_str(s)
    }

    fn raw(&mut self, b: &[u8]) -> fmt::Result {
        self.0.write_str(&String::from_utf8_lossy(b))
    }
}

/// Writes bytes to an `io::Write`.
struct IoOut<'a, W: ?Sized>(&'a mut W);

impl<W: io::Write + ?Sized> Out for IoOut<'_, W> {
    type Err = io::Error;

    #[inline]
    fn s(&mut self, s: &str) -> io::Result<()> {
        self.0.write_all(s.as_bytes())
    }

    #[inline]
    fn raw(&mut self, b: &[u8]) -> io::Result<()> {
        self.0.write_all(b)
    }

    #[inline]
    fn ascii(&mut self, b: &[u8]) -> io::Result<()> {
        self.0.write_all(b)
    }
}

/// Writes a signed decimal.
#[inline]
fn int<O: Out>(o: &mut O, v: i64) -> Result<(), O::Err> {
    if v < 0 {
        o.s("-")?;
    }
    uint(o, v.unsigned_abs())
}

/// The decimal digits of 0 to 99, two by two.
const DIGIT_PAIRS: &[u8; 200] = b"\
    0001020304050607080910111213141516171819\
    2021222324252627282930313233343536373839\
    4041424344454647484950515253545556575859\
    6061626364656667686970717273747576777879\
    8081828384858687888990919293949596979899";

/// Writes an unsigned decimal.
#[inline]
fn uint<O: Out>(o: &mut O, mut v: u64) -> Result<(), O::Err> {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    while v >= 100 {
        let pair = usize::from((v % 100) as u8) * 2;
        v /= 100;
        i -= 2;
        buf[i..i + 2].copy_from_slice(&DIGIT_PAIRS[pair..pair + 2]);
    }
    if v >= 10 {
        let pair = usize::from(v as u8) * 2;
        i -= 2;
        buf[i..i + 2].copy_from_slice(&DIGIT_PAIRS[pair..pair + 2]);
    } else {
        i -= 1;
        buf[i] = b'0' + v as u8;
    }
    o.ascii(&buf[i..])
}

/// Writes `0x` and lowercase hex digits without leading zeros.
fn hex<O: Out>(o: &mut O, mut v: u64) -> Result<(), O::Err> {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut buf = [0u8; 18];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = HEX[(v & 0xf) as usize];
        v >>= 4;
        if v == 0 {
            break;
        }
    }
    i -= 2;
    buf[i] = b'0';
    buf[i + 1] = b'x';
    o.ascii(&buf[i..])
}

fn stack_block<O: Out>(o: &mut O, header: &str, stack: &Stack<'_>) -> Result<(), O::Err> {
    o.s(header)?;
    for f in stack.frames() {
        o.s("\t")?;
        o.raw(f.func.as_bytes())?;
        o.s(" @ ")?;
        hex(o, f.pc)?;
        o.s("\n\t\t")?;
        o.raw(f.file.as_bytes())?;
        o.s(":")?;
        uint(o, f.line)?;
        o.s("\n")?;
    }
    Ok(())
}

/// Which Go release's `Event.String()` to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Text {
    /// Go 1.26 and 1.27.
    Current,
    /// Go 1.23.
    Go123,
}

/// Formats `e` as Go's `Event.String()` of `text`.
fn write_event<O: Out>(o: &mut O, e: &Event, text: Text) -> Result<(), O::Err> {
    let go123 = text == Text::Go123;
    o.s("M=")?;
    int(o, e.ctx.m)?;
    o.s(" P=")?;
    int(o, e.ctx.p)?;
    o.s(" G=")?;
    int(o, e.ctx.g)?;
    o.s(" ")?;
    let kind = e.kind();
    o.s(kind.name())?;
    o.s(" Time=")?;
    int(o, e.time)?;
    match kind {
        EventKind::Metric => {
            if let Some(m) = e.metric() {
                o.s(" Name=")?;
                write_quoted(o, m.name.as_bytes())?;
                o.s(" Value=")?;
                value(o, m.value, text)?;
            }
        }
        EventKind::Label => {
            if let Some(l) = e.label() {
                o.s(" Label=")?;
                write_quoted(o, l.label.as_bytes())?;
                o.s(" Resource=")?;
                resource(o, l.resource)?;
            }
        }
        EventKind::RangeBegin | EventKind::RangeActive | EventKind::RangeEnd => {
            if let Some(r) = e.range() {
                let (pre, mid, post) = r.name.parts();
                o.s(" Name=\"")?;
                o.s(pre)?;
                quote_into(o, mid)?;
                o.s(post)?;
                o.s("\" Scope=")?;
                resource(o, r.scope)?;
            }
            if kind == EventKind::RangeEnd {
                o.s(" Attributes=[")?;
                for (i, a) in e.range_attributes().enumerate() {
                    if i != 0 {
                        o.s(" ")?;
                    }
                    write_quoted(o, a.name.as_bytes())?;
                    o.s("=")?;
                    value(o, a.value, text)?;
                }
                o.s("]")?;
            }
        }
        EventKind::TaskBegin | EventKind::TaskEnd => {
            if let Some(t) = e.task() {
                o.s(" ID=")?;
                uint(o, t.id.0)?;
                o.s(" Parent=")?;
                uint(o, t.parent.0)?;
                o.s(" Type=")?;
                write_quoted(o, t.ty.as_bytes())?;
            }
        }
        EventKind::RegionBegin | EventKind::RegionEnd => {
            if let Some(r) = e.region() {
                o.s(" Task=")?;
                uint(o, r.task.0)?;
                o.s(" Type=")?;
                write_quoted(o, r.ty.as_bytes())?;
            }
        }
        EventKind::Log => {
            if let Some(l) = e.log() {
                o.s(" Task=")?;
                uint(o, l.task.0)?;
                o.s(" Category=")?;
                write_quoted(o, l.category.as_bytes())?;
                o.s(" Message=")?;
                write_quoted(o, l.message.as_bytes())?;
            }
        }
        EventKind::StateTransition => {
            if let Some(s) = e.state_transition() {
                if go123 {
                    o.s(" Resource=")?;
                    resource(o, s.resource)?;
                    o.s(" Reason=")?;
                    write_quoted(o, s.reason.as_bytes())?;
                }
                match s.change {
                    StateChange::Goroutine { id, from, to } => {
                        o.s(" GoID=")?;
                        int(o, id.0)?;
                        o.s(" ")?;
                        o.s(go_state(from))?;
                        o.s("->")?;
                        o.s(go_state(to))?;
                    }
                    StateChange::Proc { id, from, to } => {
                        o.s(" ProcID=")?;
                        int(o, id.0)?;
                        o.s(" ")?;
                        o.s(proc_state(from))?;
                        o.s("->")?;
                        o.s(proc_state(to))?;
                    }
                }
                if !go123 {
                    o.s(" Reason=")?;
                    write_quoted(o, s.reason.as_bytes())?;
                }
                // Go 1.23's transitions of goroutine statuses carry no stack
                // (the event's own stack is printed below).
                let status = e.ty == trace_wire::ty::GO_STATUS_STACK;
                if let Some(stack) = s.stack.filter(|_| !(go123 && status)) {
                    stack_block(o, "\nTransitionStack=\n", &stack)?;
                }
            }
        }
        EventKind::Experimental => {
            if let Some(x) = e.experimental() {
                o.s(" Name=")?;
                o.s(x.name)?;
                if go123 {
                    o.s(" ArgNames=[")?;
                    for (i, n) in x.arg_names.iter().enumerate() {
                        if i != 0 {
                            o.s(" ")?;
                        }
                        o.s(n)?;
                    }
                    o.s("] Args=[")?;
                    for (i, &v) in x.args.iter().enumerate() {
                        if i != 0 {
                            o.s(" ")?;
                        }
                        uint(o, v)?;
                    }
                } else {
                    o.s(" Args=[")?;
                    for (i, (n, &v)) in x.arg_names.iter().zip(x.args).enumerate() {
                        if i != 0 {
                            o.s(", ")?;
                        }
                        o.s(n)?;
                        o.s("=")?;
                        if n.ends_with("string") {
                            // A string value prints as itself.
                            o.raw(e.string(v).as_bytes())?;
                        } else {
                            value(o, crate::Value::Uint64(v), text)?;
                        }
                    }
                }
                o.s("]")?;
            }
        }
        EventKind::Sync => {
            if let (false, Some(sync)) = (go123, e.sync()) {
                o.s(" N=")?;
                uint(o, sync.n)?;
                if let Some(c) = sync.clock_snapshot {
                    o.s(" Trace=")?;
                    int(o, c.trace.0)?;
                    o.s(" Mono=")?;
                    uint(o, c.mono)?;
                    o.s(" Wall=")?;
                    rfc3339_nano(o, c.wall_sec, c.wall_nsec)?;
                }
            }
        }
        EventKind::StackSample => {}
    }
    if let Some(stack) = e.stack() {
        stack_block(o, "\nStack=\n", &stack)?;
    }
    Ok(())
}

/// Writes a wall-clock time as Go's `time.Unix(sec, nsec).Format(time.RFC3339Nano)`
/// does in UTC: `2006-01-02T15:04:05.999999999Z`, without trailing zeros in
/// the fraction (and without the fraction when it is zero).
fn rfc3339_nano<O: Out>(o: &mut O, sec: i64, nsec: i64) -> Result<(), O::Err> {
    // `time.Unix` moves whole seconds out of a `nsec` outside [0, 1e9).
    let mut sec = i128::from(sec);
    let mut nsec = i128::from(nsec);
    sec += nsec.div_euclid(1_000_000_000);
    nsec = nsec.rem_euclid(1_000_000_000);
    let days = sec.div_euclid(86_400);
    let secs_of_day = sec.rem_euclid(86_400) as u64;
    let (year, month, day) = civil_from_days(days);
    let pad = |o: &mut O, v: u64, width: usize| -> Result<(), O::Err> {
        let digits = v.to_string();
        for _ in digits.len()..width {
            o.s("0")?;
        }
        o.s(&digits)
    };
    if year < 0 {
        o.s("-")?;
    }
    pad(o, year.unsigned_abs() as u64, 4)?;
    o.s("-")?;
    pad(o, month, 2)?;
    o.s("-")?;
    pad(o, day, 2)?;
    o.s("T")?;
    pad(o, secs_of_day / 3600, 2)?;
    o.s(":")?;
    pad(o, secs_of_day / 60 % 60, 2)?;
    o.s(":")?;
    pad(o, secs_of_day % 60, 2)?;
    if nsec != 0 {
        let mut frac = format!("{nsec:09}");
        while frac.ends_with('0') {
            frac.pop();
        }
        o.s(".")?;
        o.s(&frac)?;
    }
    o.s("Z")
}

/// The proleptic Gregorian date of a day counted from 1970-01-01 (Howard
/// Hinnant's `civil_from_days`).
fn civil_from_days(days: i128) -> (i128, u64, u64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u64;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u64;
    let year = yoe + era * 400 + i128::from(month <= 2);
    (year, month, day)
}

fn value<O: Out>(o: &mut O, v: crate::Value, text: Text) -> Result<(), O::Err> {
    match v {
        crate::Value::Uint64(n) => {
            o.s(if text == Text::Go123 {
                "Uint64("
            } else {
                "Value{Uint64("
            })?;
            uint(o, n)?;
            o.s(if text == Text::Go123 { ")" } else { ")}" })
        }
    }
}
fn resource<O: Out>(o: &mut O, r: crate::ResourceId) -> Result<(), O::Err> {
    use crate::ResourceId as R;
    let (name, id) = match r {
        R::None => return o.s("None"),
        R::Goroutine(g) => ("Goroutine(", g.0),
        R::Proc(p) => ("Proc(", p.0),
        R::Thread(m) => ("Thread(", m.0),
    };
    o.s(name)?;
    int(o, id)?;
    o.s(")")
}

fn go_state(s: crate::GoState) -> &'static str {
    use crate::GoState as G;
    match s {
        G::Undetermined => "Undetermined",
        G::NotExist => "NotExist",
        G::Runnable => "Runnable",
        G::Running => "Running",
        G::Waiting => "Waiting",
        G::Syscall => "Syscall",
    }
}

fn proc_state(s: crate::ProcState) -> &'static str {
    use crate::ProcState as P;
    match s {
        P::Undetermined => "Undetermined",
        P::NotExist => "NotExist",
        P::Running => "Running",
        P::Idle => "Idle",
    }
}

/// `Display` is today's Go `Event.String()` (Go 1.26 and 1.27), the text
/// `go tool trace -d=parsed` prints; [`Event::go123`] is Go 1.23's.
impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_event(&mut FmtOut(f), self, Text::Current)
    }
}

/// An event displayed as Go 1.23's `Event.String()` (see [`Event::go123`]).
#[derive(Debug, Clone, Copy)]
pub struct Go123Text<'a>(&'a Event);

impl fmt::Display for Go123Text<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_event(&mut FmtOut(f), self.0, Text::Go123)
    }
}

impl Event {
    /// Writes the event as today's Go `Event.String()` does (Go 1.26 and
    /// 1.27), byte for byte: the text `go tool trace -d=parsed` prints
    /// (unlike `Display`, function and file names that are not UTF-8 are
    /// written unchanged). No newline is added. Wall-clock times of sync
    /// events are written in UTC, as Go writes them with `TZ=UTC`.
    ///
    /// For many events, pass a buffered writer.
    pub fn write_go<W: io::Write + ?Sized>(&self, w: &mut W) -> io::Result<()> {
        write_event(&mut IoOut(w), self, Text::Current)
    }

    /// Writes the event as Go 1.23's `Event.String()` does, byte for byte:
    /// the text its `go tool trace -d=1` prints. Read the trace with
    /// [`Compat::Go123`](crate::Compat::Go123) for Go 1.23's sync events too.
    pub fn write_go123<W: io::Write + ?Sized>(&self, w: &mut W) -> io::Result<()> {
        write_event(&mut IoOut(w), self, Text::Go123)
    }

    /// The event as Go 1.23's `Event.String()` shows it.
    ///
    /// ```
    /// use trace_reader::Reader;
    ///
    /// # let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/traces/go123-testprog-annotations.trace");
    /// let mut reader = Reader::new(std::fs::File::open(path)?)?;
    /// let sync = reader.read_event()?.expect("an event");
    /// assert!(sync.to_string().starts_with("M=-1 P=-1 G=-1 Sync Time="));
    /// assert!(sync.to_string().contains(" N=1"));
    /// assert!(!sync.go123().to_string().contains(" N=1"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn go123(&self) -> Go123Text<'_> {
        Go123Text(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(f: impl Fn(&mut IoOut<'_, Vec<u8>>) -> io::Result<()>) -> String {
        let mut buf = Vec::new();
        f(&mut IoOut(&mut buf)).unwrap();
        String::from_utf8(buf).unwrap()
    }

    #[test]
    fn numbers_are_written_as_go_writes_them() {
        let mut values = vec![
            0,
            1,
            9,
            10,
            11,
            99,
            100,
            101,
            999,
            1000,
            u64::MAX,
            u64::MAX / 10,
        ];
        let mut v = 1u64;
        for _ in 0..19 {
            v *= 10;
            values.extend([v - 1, v, v + 1, (v / 3).wrapping_mul(7)]);
        }
        for v in values {
            assert_eq!(text(|o| uint(o, v)), v.to_string());
            assert_eq!(text(|o| hex(o, v)), format!("{v:#x}"));
            let i = v as i64;
            assert_eq!(text(|o| int(o, i)), i.to_string());
        }
        assert_eq!(text(|o| int(o, i64::MIN)), i64::MIN.to_string());
    }
}

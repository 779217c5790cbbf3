//! Converting trace clock ticks to nanoseconds, exactly as Go's reader does.

/// A generation's tick frequency, as a conversion factor to nanoseconds.
///
/// Go computes `1.0 / (freq / 1e9)` in double precision and converts every
/// tick value separately, truncating toward zero; a byte-compatible reader
/// must convert a batch's base time and each delta separately and add the
/// results as integers.
///
/// ```
/// use trace_wire::Frequency;
/// let f = Frequency::new(15_625_000); // 64 ns per tick
/// assert_eq!(f.ns(100), 6400);
/// let f = Frequency::new(3_000_000_000);
/// assert_eq!((f.ns(1000), f.ns(1), f.ns(3)), (333, 0, 1));
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Frequency {
    ticks_per_second: u64,
    ns_per_tick: f64,
}

impl Frequency {
    /// The frequency of a clock with `ticks_per_second` ticks per second.
    pub fn new(ticks_per_second: u64) -> Self {
        Self {
            ticks_per_second,
            ns_per_tick: 1.0 / (ticks_per_second as f64 / 1e9),
        }
    }

    /// Ticks per second, as written in the trace.
    pub fn ticks_per_second(&self) -> u64 {
        self.ticks_per_second
    }

    /// Converts `ticks` to nanoseconds like Go's `frequency.mul`.
    ///
    /// Out-of-range results (and the NaN of a zero frequency) become
    /// `i64::MIN`, which is what Go's float-to-int conversion gives on amd64,
    /// the platform the reference outputs come from.
    #[inline]
    pub fn ns(&self, ticks: u64) -> i64 {
        let x = ticks as f64 * self.ns_per_tick;
        // 2^63 as f64; `-2^63 <= x < 2^63` is the range `cvttsd2si` converts.
        const LIMIT: f64 = 9_223_372_036_854_775_808.0;
        if (-LIMIT..LIMIT).contains(&x) {
            x as i64
        } else {
            i64::MIN
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_rounding() {
        // Part 1 §10.2: freq 3e9, base 1000, deltas 1,1,1,3,7.
        let f = Frequency::new(3_000_000_000);
        let mut t = f.ns(1000);
        let mut got = Vec::new();
        for dt in [1, 1, 1, 3, 7] {
            t += f.ns(dt);
            got.push(t);
        }
        assert_eq!(got, [333, 333, 333, 334, 336]);
    }

    #[test]
    fn degenerate() {
        assert_eq!(Frequency::new(0).ns(0), i64::MIN);
        assert_eq!(Frequency::new(0).ns(5), i64::MIN);
        assert_eq!(Frequency::new(1).ns(u64::MAX), i64::MIN);
    }
}

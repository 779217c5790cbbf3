//! A progress line for commands that read a whole large trace before they
//! can answer (`view`): how much of the input has been read and how many
//! events the work has got through, redrawn about once a second on
//! standard error while the work runs. (The reader reads a generation
//! ahead, so the work can still be busy when all is read.)

use std::io::{self, IsTerminal, Read, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::Arc;
use std::time::Duration;

/// Counts the bytes read through it.
pub(crate) struct Counted<R> {
    inner: R,
    read: Arc<AtomicU64>,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// Runs `work` on `input` and a counter of the events it has got through,
/// showing both (and how much of `total` bytes, if known, has been read) on
/// standard error if that is a terminal; the line is cleared when `work`
/// returns.
pub(crate) fn reading<R: Read, T>(
    input: R,
    total: Option<u64>,
    work: impl FnOnce(Counted<R>, &AtomicU64) -> T,
) -> T {
    if !io::stderr().is_terminal() {
        let read = Arc::new(AtomicU64::new(0));
        return work(Counted { inner: input, read }, &AtomicU64::new(0));
    }
    show(
        input,
        total,
        Duration::from_secs(1),
        &mut io::stderr(),
        work,
    )
}

/// [`reading`] with the line drawn on `out` every `every` (after the first
/// `every`: quick work shows nothing).
fn show<R: Read, T>(
    input: R,
    total: Option<u64>,
    every: Duration,
    out: &mut (dyn Write + Send),
    work: impl FnOnce(Counted<R>, &AtomicU64) -> T,
) -> T {
    let read = Arc::new(AtomicU64::new(0));
    let events = AtomicU64::new(0);
    let counted = Counted {
        inner: input,
        read: Arc::clone(&read),
    };
    let (done, wait) = mpsc::channel::<()>();
    std::thread::scope(|scope| {
        let events = &events;
        let ticker = std::thread::Builder::new()
            .name("progress".into())
            .spawn_scoped(scope, move || {
                let mut drawn = false;
                while let Err(RecvTimeoutError::Timeout) = wait.recv_timeout(every) {
                    let line = line(
                        read.load(Ordering::Relaxed),
                        total,
                        events.load(Ordering::Relaxed),
                    );
                    // Progress is a courtesy: a failing stderr is ignored.
                    let _ = write!(out, "\r{line}\x1b[K");
                    let _ = out.flush();
                    drawn = true;
                }
                if drawn {
                    let _ = write!(out, "\r\x1b[K");
                    let _ = out.flush();
                }
            });
        let result = work(counted, events);
        drop(done);
        if let Ok(ticker) = ticker {
            let _ = ticker.join();
        }
        result
    })
}

/// "reading: 212 of 785 MB (27%), 31.4M events laid out", or without a
/// total "reading: 212 MB, …".
fn line(read: u64, total: Option<u64>, events: u64) -> String {
    let mb = |b: u64| b as f64 / 1e6;
    let bytes = match total {
        Some(t) if t > 0 => format!(
            "{:.0} of {:.0} MB ({:.0}%)",
            mb(read),
            mb(t),
            (read as f64 / t as f64 * 100.0).min(100.0)
        ),
        _ => format!("{:.0} MB", mb(read)),
    };
    format!(
        "reading: {bytes}, {:.1}M events laid out",
        events as f64 / 1e6
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// A sink the test can read while the ticker writes to it.
    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn lines_say_how_much_is_read() {
        assert_eq!(
            line(212_400_000, Some(785_000_000), 31_440_000),
            "reading: 212 of 785 MB (27%), 31.4M events laid out"
        );
        assert_eq!(
            line(5_000_000, None, 0),
            "reading: 5 MB, 0.0M events laid out"
        );
        assert_eq!(line(9, Some(0), 1), "reading: 0 MB, 0.0M events laid out");
    }

    /// Slow work is shown as it goes, with growing counts, and the line is
    /// cleared at the end; everything read is counted.
    #[test]
    fn slow_reading_is_shown_then_cleared() {
        let data = vec![7u8; 1_000_000];
        let sink = Shared::default();
        let mut out = sink.clone();
        let got = show(
            &data[..],
            Some(data.len() as u64),
            Duration::from_millis(5),
            &mut out,
            |mut r, events| {
                let mut buf = [0u8; 50_000];
                let mut n = 0;
                loop {
                    let k = r.read(&mut buf).unwrap();
                    if k == 0 {
                        break;
                    }
                    n += k;
                    events.fetch_add(1_000_000, Ordering::Relaxed);
                    std::thread::sleep(Duration::from_millis(20));
                }
                (n, r.read.load(Ordering::Relaxed))
            },
        );
        assert_eq!(got, (1_000_000, 1_000_000));
        let text = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
        let shown: Vec<&str> = text
            .split('\r')
            .filter_map(|l| l.strip_suffix("\x1b[K"))
            .filter(|l| !l.is_empty())
            .collect();
        assert!(shown.len() >= 3, "{text:?}");
        assert!(
            shown.iter().all(|l| l.starts_with("reading: ")),
            "{shown:?}"
        );
        let percents: Vec<u32> = shown
            .iter()
            .map(|l| {
                let p = l.split_once('(').unwrap().1;
                p.split_once('%').unwrap().0.parse().unwrap()
            })
            .collect();
        assert!(percents.windows(2).all(|w| w[0] <= w[1]), "{percents:?}");
        assert!(percents.last() > percents.first(), "{percents:?}");
        assert!(shown
            .iter()
            .any(|l| l.contains("M events laid out") && !l.contains(" 0.0M")));
        assert!(text.ends_with("\r\x1b[K"), "cleared: {text:?}");
    }

    #[test]
    fn quick_work_shows_nothing() {
        let sink = Shared::default();
        let mut out = sink.clone();
        let n = show(
            &b"abc"[..],
            Some(3),
            Duration::from_secs(5),
            &mut out,
            |mut r, _| {
                let mut s = String::new();
                r.read_to_string(&mut s).unwrap();
                s.len()
            },
        );
        assert_eq!(n, 3);
        assert!(sink.0.lock().unwrap().is_empty());
    }
}

//! Dumps without a caller: a snapshot written by a panic hook, or on a Unix
//! signal.
//!
//! Both write from a helper thread. A panic hook runs on the panicking
//! thread, which may hold locks the snapshot needs (or be the runtime's
//! flusher, which a snapshot waits for), so it hands the dump to a helper
//! and waits for it at most [`PANIC_DUMP_TIMEOUT`]. A signal handler may do
//! almost nothing, so the signal only wakes a helper thread (through
//! `signal-hook`'s self-pipe), which writes the dump.
//!
//! Dumps to a path are written to a temporary file next to it and renamed
//! over it, so the path always holds a complete trace.

use std::fmt;
use std::fs;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread;
use std::time::Duration;

use crate::{Error, FlightRecorder};

/// How long a panic hook waits for its snapshot before letting the panic
/// go on.
pub const PANIC_DUMP_TIMEOUT: Duration = Duration::from_secs(10);

/// The name of the runtime's flusher thread, which cannot wait for an
/// advance (it performs them).
const FLUSHER_THREAD: &str = "trace-flusher";

/// Where a dump goes: a file (replaced atomically) or a writer.
///
/// ```
/// use trace_flight::DumpTarget;
///
/// let to_file = DumpTarget::from("/tmp/crash.trace");
/// let to_stderr = DumpTarget::writer(std::io::stderr());
/// # drop((to_file, to_stderr));
/// ```
pub struct DumpTarget(Target);

enum Target {
    Path(PathBuf),
    Writer(Mutex<Box<dyn Write + Send>>),
}

impl fmt::Debug for DumpTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Target::Path(p) => f.debug_tuple("DumpTarget::Path").field(p).finish(),
            Target::Writer(_) => f.write_str("DumpTarget::Writer(..)"),
        }
    }
}

impl DumpTarget {
    /// Dumps replace the file at `path`.
    pub fn path(path: impl Into<PathBuf>) -> Self {
        Self(Target::Path(path.into()))
    }

    /// Dumps are written to `w` (and flushed).
    pub fn writer(w: impl Write + Send + 'static) -> Self {
        Self(Target::Writer(Mutex::new(Box::new(w))))
    }
}

impl From<PathBuf> for DumpTarget {
    fn from(path: PathBuf) -> Self {
        Self::path(path)
    }
}

impl From<&Path> for DumpTarget {
    fn from(path: &Path) -> Self {
        Self::path(path)
    }
}

impl From<&str> for DumpTarget {
    fn from(path: &str) -> Self {
        Self::path(path)
    }
}

impl From<String> for DumpTarget {
    fn from(path: String) -> Self {
        Self::path(path)
    }
}

/// Takes a snapshot of `recorder` and writes it to `target`; returns its
/// size. With `advance` false the current generation is not completed.
fn dump(recorder: &FlightRecorder, target: &DumpTarget, advance: bool) -> Result<u64, Error> {
    let snapshot = recorder.capture_for_dump(advance)?;
    match &target.0 {
        Target::Path(path) => {
            let mut name = path.file_name().unwrap_or_default().to_owned();
            name.push(format!(".{}.tmp", std::process::id()));
            let tmp = path.with_file_name(name);
            let res = (|| {
                let mut file = BufWriter::new(fs::File::create(&tmp)?);
                snapshot.write_to(&mut file)?;
                file.into_inner().map_err(|e| e.into_error())?.sync_all()?;
                fs::rename(&tmp, path)
            })();
            if res.is_err() {
                let _ = fs::remove_file(&tmp);
            }
            res?;
        }
        Target::Writer(w) => {
            let mut w = w.lock().unwrap_or_else(|e| e.into_inner());
            snapshot.write_to(&mut *w)?;
            w.flush()?;
        }
    }
    Ok(snapshot.size())
}

/// Installs a panic hook that writes a snapshot of `recorder` to `target`
/// on the first panic, before the previously installed hook runs (which
/// prints the message, or aborts).
///
/// The snapshot is written by a helper thread; the hook waits for it at
/// most [`PANIC_DUMP_TIMEOUT`]. It completes the current generation first,
/// so it holds events up to the panic, except when the panic happens on
/// the runtime's flusher thread (a subscriber callback), where it holds the
/// complete generations only. If the recorder is stopped, or another
/// snapshot is in progress, nothing is written. Later panics only run the
/// previous hook. A `target` writer must not panic.
///
/// ```no_run
/// use std::sync::Arc;
/// use trace_flight::{install_panic_hook, FlightRecorder};
///
/// let recorder = Arc::new(FlightRecorder::default());
/// recorder.start()?;
/// install_panic_hook(recorder.clone(), "/var/tmp/panic.trace");
/// # Ok::<(), trace_flight::Error>(())
/// ```
pub fn install_panic_hook(recorder: Arc<FlightRecorder>, target: impl Into<DumpTarget>) {
    let target = Arc::new(target.into());
    let fired = AtomicBool::new(false);
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if !fired.swap(true, Ordering::SeqCst) {
            let advance = thread::current().name() != Some(FLUSHER_THREAD);
            let (recorder, target) = (recorder.clone(), target.clone());
            let (tx, rx) = mpsc::channel();
            let helper = thread::Builder::new()
                .name("trace-flight-dump".into())
                .spawn(move || {
                    let _ = tx.send(dump(&recorder, &target, advance));
                });
            if helper.is_ok() {
                let _ = rx.recv_timeout(PANIC_DUMP_TIMEOUT);
            }
        }
        previous(info);
    }));
}

/// A registration of [`dump_on_signal`]; dropping it stops dumping on the
/// signal (which then stays ignored).
#[cfg(unix)]
#[derive(Debug)]
pub struct SignalDump {
    handle: signal_hook::iterator::Handle,
    thread: Option<thread::JoinHandle<()>>,
    dumps: Arc<std::sync::atomic::AtomicU64>,
}

#[cfg(unix)]
impl SignalDump {
    /// How many snapshots were written so far.
    pub fn dumps(&self) -> u64 {
        self.dumps.load(Ordering::SeqCst)
    }
}

#[cfg(unix)]
impl Drop for SignalDump {
    fn drop(&mut self) {
        self.handle.close();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Writes a snapshot of `recorder` to the file at `path` (replacing it
/// atomically) every time the process receives `signal` (for example
/// `SIGUSR2`, from `signal_hook::consts`), until the returned
/// [`SignalDump`] is dropped. The snapshot is written by a helper thread,
/// not in the signal handler. A snapshot that fails (the recorder is
/// stopped, another snapshot is in progress) is skipped.
///
/// This takes over `signal` for good: it no longer has its default effect
/// (for `SIGUSR2`, terminating the process), and after the registration is
/// dropped the signal is ignored (`signal-hook` does not restore the
/// default action).
///
/// # Errors
///
/// If the signal cannot be handled (`SIGKILL`, `SIGSEGV`, ...) or the
/// helper thread cannot start.
///
/// ```
/// use std::sync::Arc;
/// use trace_flight::{dump_on_signal, FlightRecorder};
///
/// let recorder = Arc::new(FlightRecorder::default());
/// let path = std::env::temp_dir().join("trace-flight-doc-sigusr2.trace");
/// let registration = dump_on_signal(recorder, signal_hook::consts::SIGUSR2, path)?;
/// // `kill -USR2 <pid>` now writes a snapshot.
/// drop(registration);
/// # Ok::<(), std::io::Error>(())
/// ```
#[cfg(unix)]
pub fn dump_on_signal(
    recorder: Arc<FlightRecorder>,
    signal: std::ffi::c_int,
    path: impl Into<PathBuf>,
) -> io::Result<SignalDump> {
    let target = DumpTarget::path(path);
    let mut signals = signal_hook::iterator::Signals::new([signal])?;
    let handle = signals.handle();
    let dumps = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let counter = dumps.clone();
    let thread = thread::Builder::new()
        .name("trace-flight-signal".into())
        .spawn(move || {
            for _ in signals.forever() {
                if dump(&recorder, &target, true).is_ok() {
                    counter.fetch_add(1, Ordering::SeqCst);
                }
            }
        })?;
    Ok(SignalDump {
        handle,
        thread: Some(thread),
        dumps,
    })
}

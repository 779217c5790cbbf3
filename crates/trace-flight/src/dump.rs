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
//! Dumps to a path are written to a new temporary file next to it and
//! renamed over it, so the path always holds a complete trace. The
//! temporary file is created exclusively (`O_EXCL`, mode 0600 on Unix) under
//! an unpredictable name, so it never follows a link or reuses a file that
//! someone else put there; and a dump refuses a path that is a symbolic
//! link, a directory, a device, a FIFO or a socket
//! ([`Error::UnsafeDumpPath`]), so it only ever creates or replaces a
//! regular file.

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

/// What is at `path`, if a dump must not replace it.
fn unsafe_target(path: &Path) -> io::Result<Option<&'static str>> {
    let meta = match fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let t = meta.file_type();
    Ok(if t.is_symlink() {
        Some("a symbolic link")
    } else if t.is_dir() {
        Some("a directory")
    } else if t.is_file() {
        None
    } else {
        Some("a device, FIFO or socket")
    })
}

/// An unpredictable 64-bit number (std's per-process random hash keys,
/// mixed with the time and a counter).
fn unpredictable() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    h.write_u32(std::process::id());
    h.finish()
}

/// Creates a new file for writing that nobody else can have prepared:
/// exclusively, owner-only on Unix.
fn create_new(path: &Path) -> io::Result<fs::File> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)
}

/// Writes a file at `path` with `write`, through a new temporary file in
/// the same directory renamed over it; refuses a path that is not a regular
/// file (or nothing). On failure nothing is left behind.
pub(crate) fn write_file(
    path: &Path,
    write: impl FnOnce(&mut BufWriter<fs::File>) -> io::Result<()>,
) -> Result<(), Error> {
    if let Some(what) = unsafe_target(path)? {
        return Err(Error::UnsafeDumpPath {
            path: path.to_path_buf(),
            what,
        });
    }
    let name = path.file_name().ok_or_else(|| Error::UnsafeDumpPath {
        path: path.to_path_buf(),
        what: "not a file name",
    })?;
    let (tmp, file) = {
        let mut attempt = 0;
        loop {
            let mut tmp_name = std::ffi::OsString::from(".");
            tmp_name.push(name);
            tmp_name.push(format!(".{:016x}.tmp", unpredictable()));
            let tmp = path.with_file_name(tmp_name);
            match create_new(&tmp) {
                Ok(f) => break (tmp, f),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists && attempt < 16 => {
                    attempt += 1;
                }
                Err(e) => return Err(e.into()),
            }
        }
    };
    let res = (|| {
        let mut out = BufWriter::new(file);
        write(&mut out)?;
        out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
        // Checked again just before the rename, which replaces the entry
        // at `path` itself (never what a link there points to).
        if let Some(what) = unsafe_target(path)? {
            return Err(Error::UnsafeDumpPath {
                path: path.to_path_buf(),
                what,
            });
        }
        fs::rename(&tmp, path).map_err(Error::from)
    })();
    if res.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    res
}

/// Takes a snapshot of `recorder` and writes it to `target`; returns its
/// size. With `advance` false the current generation is not completed.
fn dump(recorder: &FlightRecorder, target: &DumpTarget, advance: bool) -> Result<u64, Error> {
    let snapshot = recorder.capture_for_dump(advance)?;
    match &target.0 {
        Target::Path(path) => write_file(path, |file| snapshot.write_to(file).map(drop))?,
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
/// so it holds events up to the panic, except when the panic happens in a
/// subscriber callback ([`trace_runtime::in_callback`]: the flusher, or a
/// thread switching generations), where it holds the complete generations
/// only. If the recorder is stopped, or another
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
            let advance = !trace_runtime::in_callback();
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

/// Installs a panic hook that fires a trigger of `recorder` (made with
/// [`FlightRecorder::with_triggers`]) on the first panic, with the reason
/// `panic: MESSAGE`, ends the open windows at once and waits, at most
/// [`PANIC_DUMP_TIMEOUT`], until they are written to the dump directory,
/// before the previously installed hook runs. In a subscriber callback
/// ([`trace_runtime::in_callback`]) it only fires the trigger (waiting
/// there would deadlock).
/// Later panics only run the previous hook.
///
/// ```no_run
/// use std::sync::Arc;
/// use trace_flight::{trigger_on_panic, FlightRecorder, FlightRecorderConfig, TriggerConfig};
///
/// let triggers = TriggerConfig::new("/var/tmp/dumps");
/// let recorder = Arc::new(FlightRecorder::with_triggers(FlightRecorderConfig::default(), triggers));
/// recorder.start()?;
/// trigger_on_panic(recorder.clone());
/// # Ok::<(), trace_flight::Error>(())
/// ```
pub fn trigger_on_panic(recorder: Arc<FlightRecorder>) {
    let fired = AtomicBool::new(false);
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if !fired.swap(true, Ordering::SeqCst) {
            let payload = info.payload();
            let message = payload
                .downcast_ref::<&str>()
                .copied()
                .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
                .unwrap_or("(not a string)");
            let reason = format!("panic: {message}");
            let wait = !trace_runtime::in_callback();
            let recorder = recorder.clone();
            let (tx, rx) = mpsc::channel();
            let helper = thread::Builder::new()
                .name("trace-flight-dump".into())
                .spawn(move || {
                    let fired = recorder.trigger(&reason).unwrap_or(false);
                    if fired && wait {
                        recorder.flush_triggers(PANIC_DUMP_TIMEOUT);
                    }
                    let _ = tx.send(());
                });
            if helper.is_ok() {
                let _ = rx.recv_timeout(PANIC_DUMP_TIMEOUT);
            }
        }
        previous(info);
    }));
}

/// Fires a trigger of `recorder` (made with
/// [`FlightRecorder::with_triggers`]), with the reason `signal N`, every
/// time the process receives `signal`, until the returned [`SignalDump`] is
/// dropped; the window is written to the dump directory like any other
/// (coalesced, throttled). [`SignalDump::dumps`] counts the triggers that
/// opened or joined a window. As with [`dump_on_signal`], this takes over
/// `signal` for good.
///
/// # Errors
///
/// If the signal cannot be handled or the helper thread cannot start.
///
/// ```
/// use std::sync::Arc;
/// use trace_flight::{trigger_on_signal, FlightRecorder, FlightRecorderConfig, TriggerConfig};
///
/// let triggers = TriggerConfig::new(std::env::temp_dir().join("trace-flight-doc-signal"));
/// let recorder = Arc::new(FlightRecorder::with_triggers(FlightRecorderConfig::default(), triggers));
/// let registration = trigger_on_signal(recorder, signal_hook::consts::SIGUSR1)?;
/// drop(registration);
/// # Ok::<(), std::io::Error>(())
/// ```
#[cfg(unix)]
pub fn trigger_on_signal(
    recorder: Arc<FlightRecorder>,
    signal: std::ffi::c_int,
) -> io::Result<SignalDump> {
    on_signal(signal, move |sig| {
        matches!(recorder.trigger(&format!("signal {sig}")), Ok(true))
    })
}

/// A registration of [`dump_on_signal`] or [`trigger_on_signal`]; dropping
/// it stops acting on the signal (which then stays ignored).
#[cfg(unix)]
#[derive(Debug)]
pub struct SignalDump {
    handle: signal_hook::iterator::Handle,
    thread: Option<thread::JoinHandle<()>>,
    dumps: Arc<std::sync::atomic::AtomicU64>,
}

#[cfg(unix)]
impl SignalDump {
    /// How many snapshots were written so far ([`dump_on_signal`]), or how
    /// many signals opened or joined a window ([`trigger_on_signal`]).
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
    on_signal(signal, move |_| dump(&recorder, &target, true).is_ok())
}

/// Runs `act` on a thread of its own each time `signal` arrives, counting
/// the times it says it dumped.
#[cfg(unix)]
fn on_signal(
    signal: std::ffi::c_int,
    mut act: impl FnMut(std::ffi::c_int) -> bool + Send + 'static,
) -> io::Result<SignalDump> {
    let mut signals = signal_hook::iterator::Signals::new([signal])?;
    let handle = signals.handle();
    let dumps = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let counter = dumps.clone();
    let thread = thread::Builder::new()
        .name("trace-flight-signal".into())
        .spawn(move || {
            for sig in signals.forever() {
                if act(sig) {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh directory under the system's temporary directory.
    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "trace-flight-dump-{name}-{}-{:x}",
            std::process::id(),
            unpredictable()
        ));
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn dump_bytes(path: &Path, bytes: &[u8]) -> Result<(), Error> {
        write_file(path, |f| f.write_all(bytes))
    }

    /// The names in `dir`, sorted.
    fn listing(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn a_dump_creates_or_replaces_a_regular_file() {
        let dir = scratch("regular");
        let path = dir.join("crash.trace");
        dump_bytes(&path, b"first").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"first");
        dump_bytes(&path, b"second").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"second");
        assert_eq!(listing(&dir), ["crash.trace"], "no temporary file left");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0, "owner-only: {mode:o}");
        }
        fs::remove_dir_all(&dir).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn a_dump_never_follows_or_replaces_a_link() {
        let dir = scratch("link");
        let victim = dir.join("victim");
        fs::write(&victim, b"precious").unwrap();
        let link = dir.join("crash.trace");
        std::os::unix::fs::symlink(&victim, &link).unwrap();
        let dangling = dir.join("dangling.trace");
        std::os::unix::fs::symlink(dir.join("elsewhere"), &dangling).unwrap();
        for path in [&link, &dangling] {
            let err = dump_bytes(path, b"dump").unwrap_err();
            assert!(
                matches!(
                    err,
                    Error::UnsafeDumpPath {
                        what: "a symbolic link",
                        ..
                    }
                ),
                "{err}"
            );
            assert!(err.to_string().contains("refusing to dump to"), "{err}");
            assert!(fs::symlink_metadata(path).unwrap().file_type().is_symlink());
        }
        assert_eq!(fs::read(&victim).unwrap(), b"precious");
        assert!(!dir.join("elsewhere").exists());
        assert_eq!(listing(&dir), ["crash.trace", "dangling.trace", "victim"]);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn a_dump_refuses_fifos_devices_and_directories() {
        let dir = scratch("special");
        let fifo = dir.join("fifo.trace");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        assert!(made.is_ok_and(|s| s.success()), "mkfifo");
        let sub = dir.join("sub.trace");
        fs::create_dir(&sub).unwrap();
        let mut cases = vec![
            (fifo.clone(), "a device, FIFO or socket"),
            (sub.clone(), "a directory"),
        ];
        // A device node of our own where we may make one (root); the
        // system's null device is only classified, never written.
        let dev = dir.join("null.trace");
        let mknod = std::process::Command::new("mknod")
            .arg(&dev)
            .args(["c", "1", "3"])
            .status();
        if mknod.is_ok_and(|s| s.success()) {
            cases.push((dev.clone(), "a device, FIFO or socket"));
        }
        assert_eq!(
            unsafe_target(Path::new("/dev/null")).unwrap(),
            Some("a device, FIFO or socket")
        );
        for (path, what) in &cases {
            let before = fs::symlink_metadata(path).unwrap().file_type();
            let err = dump_bytes(path, b"dump").unwrap_err();
            assert!(
                matches!(&err, Error::UnsafeDumpPath { what: w, .. } if w == what),
                "{}: {err}",
                path.display()
            );
            assert_eq!(fs::symlink_metadata(path).unwrap().file_type(), before);
        }
        assert!(listing(&dir).iter().all(|n| !n.ends_with(".tmp")));
        fs::remove_dir_all(&dir).unwrap();
    }
}

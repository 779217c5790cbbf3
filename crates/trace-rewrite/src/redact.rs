//! Redaction: user strings and the names of functions outside an allow-list
//! replaced, consistently across generations, with a report of what was
//! replaced.
//!
//! Everything a user writes into a trace is a string of the generation's
//! string table: task and region names, log categories and messages,
//! goroutine labels, and the function and file names of stack frames.
//! Redaction replaces the text of those strings and leaves every event, id
//! and timestamp as it was, so the output has exactly the input's events.
//!
//! Not redacted: the opaque payloads of experimental batches (the type
//! names of the alloc/free experiment's type table, `GODEBUG=traceallocfree=1`,
//! can name user types), CPU sample and event arguments that are numbers
//! (PCs, addresses, ids).
//!
//! A string id can be shared: Go's runtime declares each distinct text once
//! per generation, so a region named `sleep` and the block reason `sleep`
//! are one id. The redactor then keeps the shared id for the use it keeps
//! and declares a new string for the redacted use, pointing the user's
//! events (or frames) at it.

use std::fmt::Write as _;

use hashbrown::{HashMap, HashSet};
use trace_wire::{ty, RawEvent};

use crate::{Error, EventEdit, Generation, Transform};

/// What kind of string was redacted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Category {
    /// The type name of a task (`UserTaskBegin`).
    TaskName,
    /// The type name of a region (`UserRegionBegin`/`End`).
    RegionName,
    /// The category of a log message (`UserLog` key).
    LogCategory,
    /// A log message (`UserLog` value).
    LogMessage,
    /// A goroutine label (`GoLabel`), except the runtime's GC worker labels.
    GoroutineLabel,
    /// The function name of a stack frame outside the allow-list.
    Function,
    /// The file name of a stack frame outside the allow-list.
    File,
}

impl Category {
    /// Every category, in the order reports list them.
    pub const ALL: [Category; 7] = [
        Category::TaskName,
        Category::RegionName,
        Category::LogCategory,
        Category::LogMessage,
        Category::GoroutineLabel,
        Category::Function,
        Category::File,
    ];

    /// The category's name in reports (`snake_case`).
    pub fn name(self) -> &'static str {
        match self {
            Category::TaskName => "task_name",
            Category::RegionName => "region_name",
            Category::LogCategory => "log_category",
            Category::LogMessage => "log_message",
            Category::GoroutineLabel => "goroutine_label",
            Category::Function => "function",
            Category::File => "file",
        }
    }

    fn bit(self) -> u8 {
        1 << self as u8
    }

    /// The category of string argument `arg` (an index into the event's
    /// spec args, `dt` being 0) of an event of type `ty`; `None` for the
    /// runtime's strings (block reasons, stop-the-world kinds).
    fn of_event_arg(ty: u8, arg: usize) -> Option<Category> {
        match (ty, arg) {
            (ty::USER_TASK_BEGIN, 3) => Some(Category::TaskName),
            (ty::USER_REGION_BEGIN | ty::USER_REGION_END, 2) => Some(Category::RegionName),
            (ty::USER_LOG, 2) => Some(Category::LogCategory),
            (ty::USER_LOG, 3) => Some(Category::LogMessage),
            (ty::GO_LABEL, 1) => Some(Category::GoroutineLabel),
            _ => None,
        }
    }
}

/// The labels Go's runtime gives GC worker goroutines; kept.
const RUNTIME_LABELS: [&[u8]; 4] = [
    b"Not worker",
    b"GC (dedicated)",
    b"GC (fractional)",
    b"GC (idle)",
];

/// Which function names a redaction keeps.
///
/// By default the functions of Go's standard library and runtime are kept
/// (a package path whose first element has no dot, as `go` decides it,
/// except `main`), and every other name is replaced with its file name.
///
/// ```
/// use trace_rewrite::RedactOptions;
///
/// let options = RedactOptions::default().keep_func("main.*");
/// assert!(options.keeps_function(b"runtime.gopark"));
/// assert!(options.keeps_function(b"net/http.(*conn).serve"));
/// assert!(options.keeps_function(b"main.main.func1"));
/// assert!(!options.keeps_function(b"github.com/acme/secret.Handler"));
/// assert!(!RedactOptions::default().keeps_function(b"main.main"));
/// ```
#[derive(Clone)]
pub struct RedactOptions {
    keep_funcs: Vec<Vec<u8>>,
    keep_std: bool,
    /// The secret of keyed replacements, if any.
    key: Option<Vec<u8>>,
}

impl std::fmt::Debug for RedactOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedactOptions")
            .field("keep_funcs", &self.keep_funcs)
            .field("keep_std", &self.keep_std)
            .field("key", &self.key.as_ref().map(|_| "(secret)"))
            .finish()
    }
}

impl Default for RedactOptions {
    fn default() -> Self {
        Self {
            keep_funcs: Vec::new(),
            keep_std: true,
            key: None,
        }
    }
}

impl RedactOptions {
    /// Also keeps the functions whose names start with `pattern` (a trailing
    /// `*` is ignored: `main.*` and `main.` are the same prefix).
    pub fn keep_func(mut self, pattern: &str) -> Self {
        let prefix = pattern.strip_suffix('*').unwrap_or(pattern);
        self.keep_funcs.push(prefix.as_bytes().to_vec());
        self
    }

    /// Whether the standard library's and runtime's functions are kept
    /// (the default) or redacted like any other.
    pub fn keep_std(mut self, keep: bool) -> Self {
        self.keep_std = keep;
        self
    }

    /// Replaces each text with a name derived from it and `key` (HMAC-SHA256,
    /// 48 bits in hex: `redacted-3f9a0c12d4e5`, `redacted.f3f9a0c12d4e5`,
    /// `redacted/f3f9a0c12d4e5.go`) instead of a number in order of
    /// appearance: the same text gets the same replacement in every trace
    /// redacted with the same key, so that redacted dumps of a fleet can
    /// still be joined (by task type, say) without revealing the names to
    /// whoever lacks the key. Keep the key secret: with it, a guessed name
    /// can be checked.
    ///
    /// ```
    /// use trace_rewrite::RedactOptions;
    ///
    /// let a = RedactOptions::default().key(b"fleet secret");
    /// assert_eq!(a.keyed_name(b"checkout"), a.keyed_name(b"checkout"));
    /// assert_ne!(a.keyed_name(b"checkout"), a.keyed_name(b"login"));
    /// let b = RedactOptions::default().key(b"another secret");
    /// assert_ne!(a.keyed_name(b"checkout"), b.keyed_name(b"checkout"));
    /// ```
    pub fn key(mut self, key: &[u8]) -> Self {
        self.key = Some(key.to_vec());
        self
    }

    /// The keyed part of the replacement of `text` (12 hex digits), if a
    /// key is set.
    pub fn keyed_name(&self, text: &[u8]) -> Option<String> {
        let key = self.key.as_ref()?;
        let mac = hmac_sha256(key, text);
        Some(mac[..6].iter().map(|b| format!("{b:02x}")).collect())
    }

    /// Whether a frame of function `name` keeps its function and file
    /// names.
    pub fn keeps_function(&self, name: &[u8]) -> bool {
        self.keep_funcs.iter().any(|p| name.starts_with(p)) || (self.keep_std && is_std(name))
    }
}

/// Whether `name` is a function of Go's standard library: its package
/// path's first element has no dot (and is not `main`). Names with no
/// package (C functions of cgo) are not.
fn is_std(name: &[u8]) -> bool {
    // The package path ends before a receiver or type parameters.
    let head = name
        .iter()
        .position(|&b| b == b'(' || b == b'[')
        .map_or(name, |i| &name[..i]);
    let first = match head.iter().position(|&b| b == b'/') {
        Some(slash) => &head[..slash],
        None => match head.iter().position(|&b| b == b'.') {
            Some(dot) => &head[..dot],
            None => return false,
        },
    };
    !first.is_empty()
        && first != b"main"
        && !first.iter().any(|&b| b == b'.' || b == b':' || b == b' ')
}

/// How many strings of a category were replaced.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CategoryCount {
    /// Distinct texts replaced, over the whole trace.
    pub distinct: u64,
    /// References to them: events for user strings, stack frames for
    /// function and file names, summed over generations.
    pub references: u64,
}

/// What a redaction replaced.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    counts: [CategoryCount; 7],
    n_generations: u64,
    n_strings_set: u64,
    n_strings_added: u64,
}

impl Report {
    /// The counts of `category`.
    pub fn count(&self, category: Category) -> CategoryCount {
        self.counts[category as usize]
    }

    /// Every category with its counts.
    pub fn categories(&self) -> impl Iterator<Item = (Category, CategoryCount)> + '_ {
        Category::ALL.into_iter().map(|c| (c, self.count(c)))
    }

    /// Distinct texts replaced, all categories.
    pub fn total_distinct(&self) -> u64 {
        self.counts.iter().map(|c| c.distinct).sum()
    }

    /// The report as a JSON object: `{"generations": N, "string_entries_replaced": N,
    /// "string_entries_added": N, "categories": {"task_name": {"distinct": N,
    /// "references": N}, …}}`. It holds counts only, never a replaced text.
    pub fn to_json(&self) -> String {
        let mut res = format!(
            "{{\"generations\":{},\"string_entries_replaced\":{},\"string_entries_added\":{},\"categories\":{{",
            self.n_generations, self.n_strings_set, self.n_strings_added
        );
        for (i, (c, n)) in self.categories().enumerate() {
            if i > 0 {
                res.push(',');
            }
            let _ = write!(
                res,
                "\"{}\":{{\"distinct\":{},\"references\":{}}}",
                c.name(),
                n.distinct,
                n.references
            );
        }
        res.push_str("}}");
        res
    }
}

/// The class of a replacement: a replaced text gets one replacement per
/// class, whatever the category within it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Class {
    User,
    Function,
    File,
}

/// How one string id of a generation is used.
#[derive(Debug, Clone, Copy, Default)]
struct Usage {
    /// Used where it is kept (runtime strings, allowed frames).
    keep: bool,
    /// [`Category::bit`]s of its user uses.
    user: u8,
    function: bool,
    file: bool,
}

/// A [`Transform`] that redacts a trace; run it with [`rewrite`](crate::rewrite).
///
/// Each distinct text of a class (user strings, function names, file names)
/// gets one replacement for the whole trace, in order of first appearance:
/// `redacted-1`, `redacted-2`, … for user strings, `redacted.func1`, … for
/// functions, `redacted/file1.go`, … for files. The same region name is thus
/// the same replacement in every generation, and regions and tasks still
/// match up.
///
/// ```
/// use trace_rewrite::{rewrite, Category, RedactOptions, Redactor};
///
/// # let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/traces/go123-testprog-annotations.trace");
/// let input = std::fs::read(path)?;
/// let mut redactor = Redactor::new(RedactOptions::default());
/// let mut out = Vec::new();
/// rewrite(&input, &mut redactor, &mut out)?;
/// let report = redactor.report();
/// assert!(report.count(Category::RegionName).distinct > 0);
/// assert!(report.count(Category::Function).distinct > 0);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Redactor {
    options: RedactOptions,
    replacements: HashMap<(Class, Vec<u8>), Vec<u8>>,
    next: [u64; 3],
    seen: HashSet<(Category, Vec<u8>)>,
    report: Report,
}

impl Redactor {
    /// A redactor keeping the functions `options` allows.
    pub fn new(options: RedactOptions) -> Self {
        Self {
            options,
            replacements: HashMap::new(),
            next: [1; 3],
            seen: HashSet::new(),
            report: Report::default(),
        }
    }

    /// What was replaced so far.
    pub fn report(&self) -> &Report {
        &self.report
    }

    /// Every text replaced so far, with its replacement. Meant for checks
    /// (that no replaced text is left in the output); it holds the secrets.
    pub fn replaced(&self) -> impl Iterator<Item = (&[u8], &[u8])> + '_ {
        self.replacements
            .iter()
            .map(|((_, from), to)| (from.as_slice(), to.as_slice()))
    }

    fn replacement(&mut self, class: Class, text: &[u8]) -> Vec<u8> {
        if let Some(r) = self.replacements.get(&(class, text.to_vec())) {
            return r.clone();
        }
        if let Some(h) = self.options.keyed_name(text) {
            let r = match class {
                Class::User => format!("redacted-{h}"),
                Class::Function => format!("redacted.f{h}"),
                Class::File => format!("redacted/f{h}.go"),
            }
            .into_bytes();
            self.replacements.insert((class, text.to_vec()), r.clone());
            return r;
        }
        let n = &mut self.next[class as usize];
        let r = match class {
            Class::User => format!("redacted-{n}"),
            Class::Function => format!("redacted.func{n}"),
            Class::File => format!("redacted/file{n}.go"),
        };
        *n += 1;
        let r = r.into_bytes();
        self.replacements.insert((class, text.to_vec()), r.clone());
        r
    }

    fn note(&mut self, category: Category, text: &[u8], references: u64) {
        let count = &mut self.report.counts[category as usize];
        count.references += references;
        if !self.seen.contains(&(category, text.to_vec())) {
            self.seen.insert((category, text.to_vec()));
            count.distinct += 1;
        }
    }
}

impl Transform for Redactor {
    fn generation(&mut self, gen: &mut Generation<'_>) -> Result<(), Error> {
        self.report.n_generations += 1;
        let version = gen.version();
        let mut usage: HashMap<u64, Usage> = HashMap::new();
        // References per (id, category).
        let mut refs: HashMap<(u64, Category), u64> = HashMap::new();
        gen.for_each_event(|_, ev| {
            let Some(spec) = version.spec(ev.ty) else {
                return;
            };
            for &i in spec.string_ids {
                let id = ev.args[i - 1];
                if id == 0 {
                    continue;
                }
                let u = usage.entry(id).or_default();
                match Category::of_event_arg(ev.ty, i) {
                    Some(c) => {
                        u.user |= c.bit();
                        *refs.entry((id, c)).or_default() += 1;
                    }
                    None => u.keep = true,
                }
            }
        })?;
        let (strings, stacks) = gen.tables()?;
        // The runtime's own goroutine labels stay.
        for (&id, u) in usage.iter_mut() {
            let label = Category::GoroutineLabel.bit();
            if u.user & label != 0 && strings.get(id).is_some_and(|s| RUNTIME_LABELS.contains(&s)) {
                u.user &= !label;
                u.keep = true;
                refs.remove(&(id, Category::GoroutineLabel));
            }
        }
        let mut kept_frames = Vec::with_capacity(stacks.len() * 8);
        for (_, frames) in stacks.iter() {
            for f in frames {
                let name = strings.get(f.func).unwrap_or_default();
                let keep = self.options.keeps_function(name);
                kept_frames.push(keep);
                for (id, category) in [(f.func, Category::Function), (f.file, Category::File)] {
                    if id == 0 {
                        continue;
                    }
                    let u = usage.entry(id).or_default();
                    if keep {
                        u.keep = true;
                    } else {
                        if category == Category::Function {
                            u.function = true;
                        } else {
                            u.file = true;
                        }
                        *refs.entry((id, category)).or_default() += 1;
                    }
                }
            }
        }

        // Replace: the id itself for its first redacted class unless it is
        // also kept, new strings for the other classes.
        let mut remap: HashMap<(u64, Class), u64> = HashMap::new();
        let mut ids: Vec<(u64, Usage)> = usage
            .into_iter()
            .filter(|(_, u)| u.user != 0 || u.function || u.file)
            .collect();
        // Deterministic numbering of replacements and of added ids.
        ids.sort_unstable_by_key(|&(id, _)| id);
        for (id, u) in ids {
            let Some(text) = strings.get(id).map(<[u8]>::to_vec) else {
                // An undeclared string: the reader rejects the trace anyway.
                continue;
            };
            let classes = [
                (u.user != 0, Class::User),
                (u.function, Class::Function),
                (u.file, Class::File),
            ];
            let mut reuse = !u.keep;
            for (_, class) in classes.into_iter().filter(|(used, _)| *used) {
                let r = self.replacement(class, &text);
                if reuse {
                    strings.set(id, r)?;
                    self.report.n_strings_set += 1;
                    reuse = false;
                } else {
                    remap.insert((id, class), strings.add(r)?);
                    self.report.n_strings_added += 1;
                }
            }
            for c in Category::ALL {
                let used = match c {
                    Category::Function => u.function,
                    Category::File => u.file,
                    _ => u.user & c.bit() != 0,
                };
                if used {
                    let n = refs.get(&(id, c)).copied().unwrap_or_default();
                    self.note(c, &text, n);
                }
            }
        }

        if remap.keys().any(|&(_, c)| c != Class::User) {
            for (f, &keep) in stacks.frames_mut().iter_mut().zip(&kept_frames) {
                if keep {
                    continue;
                }
                if let Some(&n) = remap.get(&(f.func, Class::Function)) {
                    f.func = n;
                }
                if let Some(&n) = remap.get(&(f.file, Class::File)) {
                    f.file = n;
                }
            }
        }
        if remap.keys().any(|&(_, c)| c == Class::User) {
            gen.edit_events(|_, ev: &mut RawEvent| {
                let Some(spec) = version.spec(ev.ty) else {
                    return EventEdit::Keep;
                };
                for &i in spec.string_ids {
                    if Category::of_event_arg(ev.ty, i).is_some() {
                        if let Some(&n) = remap.get(&(ev.args[i - 1], Class::User)) {
                            ev.args[i - 1] = n;
                        }
                    }
                }
                EventEdit::Keep
            })?;
        }
        Ok(())
    }
}

/// HMAC-SHA256 (RFC 2104) of `msg` under `key`.
fn hmac_sha256(key: &[u8], msg: &[u8]) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    const BLOCK: usize = 64;
    let mut k = [0u8; BLOCK];
    if key.len() > BLOCK {
        k[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let pad = |byte: u8| k.map(|b| b ^ byte);
    let inner = Sha256::new()
        .chain_update(pad(0x36))
        .chain_update(msg)
        .finalize();
    Sha256::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize()
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 4231, test case 2.
    #[test]
    fn hmac_matches_rfc_4231() {
        let mac = hmac_sha256(b"Jefe", b"what do ya want for nothing?");
        let hex: String = mac.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn standard_library() {
        for (name, std) in [
            ("runtime.gopark", true),
            ("sync.(*Mutex).Lock", true),
            ("net/http.(*Server).Serve.func1", true),
            ("vendor/golang.org/x/net/http2.F", true),
            ("internal/poll.(*FD).Read", true),
            ("main.main", false),
            ("main.(*T).m", false),
            ("main.F[go.shape.int]", false),
            ("github.com/acme/x.F", false),
            ("golang.org/x/sync/errgroup.(*Group).Go", false),
            ("gopkg.in/yaml.v3.Unmarshal", false),
            ("crosscall2", false),
            ("type:.eq.main.T", false),
            ("", false),
        ] {
            assert_eq!(is_std(name.as_bytes()), std, "{name}");
        }
    }

    #[test]
    fn keep_patterns() {
        let o = RedactOptions::default()
            .keep_std(false)
            .keep_func("runtime.*")
            .keep_func("github.com/acme/");
        assert!(o.keeps_function(b"runtime.main"));
        assert!(!o.keeps_function(b"sync.(*Mutex).Lock"));
        assert!(o.keeps_function(b"github.com/acme/x.F"));
    }

    #[test]
    fn json_report() {
        let mut r = Report::default();
        r.counts[Category::LogMessage as usize] = CategoryCount {
            distinct: 2,
            references: 5,
        };
        let json = r.to_json();
        assert!(json.starts_with("{\"generations\":0,"), "{json}");
        assert!(
            json.contains("\"log_message\":{\"distinct\":2,\"references\":5}"),
            "{json}"
        );
        assert!(json.ends_with("}}"), "{json}");
    }
}

//! One module per subcommand. Each exposes `Args` (clap) and `run`.

pub(crate) mod check;
pub(crate) mod convert;
pub(crate) mod cut;
pub(crate) mod dump;
pub(crate) mod filter;
pub(crate) mod footprint;
pub(crate) mod input;
pub(crate) mod pprof;
pub(crate) mod progress;
pub(crate) mod raw;
pub(crate) mod redact;
pub(crate) mod stats;
pub(crate) mod validate;
pub(crate) mod view;

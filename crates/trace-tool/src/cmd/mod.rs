//! One module per subcommand. Each exposes `Args` (clap) and `run`.

pub(crate) mod dump;
pub(crate) mod raw;

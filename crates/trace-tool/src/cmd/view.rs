//! `trace-tool view`: a timeline of the trace in the browser, served on the
//! loopback interface or written as one offline HTML file.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use trace_view::{write_standalone_html, Options, Server, Timeline, DEFAULT_EMBED_BUDGET};

use super::{input, progress};
use crate::report;

/// Show the trace as a timeline in the browser.
///
/// Show the trace as a timeline in the browser: lanes per proc, thread and
/// goroutine, GC, tasks, regions, logs and charts. Serves the page on
/// 127.0.0.1 and prints its URL; with `--html`, writes one self-contained
/// file instead.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The binary trace (`-` for standard input).
    #[arg(value_name = "FILE")]
    file: PathBuf,

    /// Write a self-contained page (works offline) to OUT instead of
    /// serving.
    #[arg(long, value_name = "OUT")]
    html: Option<PathBuf>,

    /// The port to serve on (default: a free one).
    #[arg(long, default_value_t = 0, conflicts_with = "html")]
    port: u16,

    /// With `--html`: the most slices the page embeds; shorter slices are
    /// merged beyond that.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_EMBED_BUDGET, requires = "html")]
    max_slices: usize,
}

pub(crate) fn run(args: &Args) -> ExitCode {
    match view(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => report::fail("view", Some(&args.file), e.as_ref(), 1),
    }
}

fn view(args: &Args) -> anyhow::Result<()> {
    let path = &args.file;
    let input = input::open(path)?;
    let title = match path.file_name() {
        Some(n) if path != Path::new("-") => n.to_string_lossy().into_owned(),
        _ => report::name(path).into_owned(),
    };
    let start = Instant::now();
    let total = std::fs::metadata(path)
        .ok()
        .filter(|m| m.is_file() && path != Path::new("-"))
        .map(|m| m.len());
    let built = progress::reading(input, total, |input, laid_out| {
        let options = Options::default().partial(true).count_into(laid_out);
        Timeline::build(input, &title, options)
    });
    // The reader's errors as they are, so that they are reported like every
    // other command's (with where in the trace).
    let tl = built.map_err(|e| match e {
        trace_view::Error::Trace(e) => anyhow::Error::from(e),
        other => anyhow::Error::from(other),
    })?;
    let stats = tl.stats();
    // A trace that breaks off is shown up to there.
    if let Some(e) = tl.stopped() {
        let shown = format!("showing the {} events before it", stats.events);
        report::stopped_early("view", path, e, &shown);
    }
    eprintln!(
        "read {} events into {} slices in {:.2} s ({:.1} MB of rows {})",
        stats.events,
        stats.slices,
        start.elapsed().as_secs_f64(),
        stats.stored_bytes as f64 / 1e6,
        if stats.on_disk {
            "in an unnamed temporary file"
        } else {
            "in memory: no temporary file could be made"
        }
    );
    if let Some(out) = &args.html {
        let file =
            std::fs::File::create(out).with_context(|| format!("creating {}", out.display()))?;
        let res = write_standalone_html(&tl, args.max_slices, &mut std::io::BufWriter::new(file))
            .with_context(|| format!("writing {}", out.display()))?;
        if res > 0 {
            eprintln!(
                "note: slices shorter than {res} ns are merged to keep the page small (--max-slices)"
            );
        }
        eprintln!("wrote {}", out.display());
        return Ok(());
    }
    let addr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), args.port);
    let server = Server::bind(tl, addr).with_context(|| format!("cannot listen on {addr}"))?;
    println!("Serving {title} at {}", server.url());
    println!("Press Ctrl+C to stop.");
    Ok(server.run()?)
}

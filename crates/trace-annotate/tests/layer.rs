//! The `tracing` layer: spans as tasks and regions, events as logs, read
//! back with `trace-reader`.

mod common;

use common::serial;
use std::thread;

use trace_annotate::TraceLayer;
use tracing::Instrument;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::prelude::*;

/// Records `f` into a validated trace; returns its event lines.
fn record(name: &str, f: impl FnOnce()) -> Vec<String> {
    common::record(&format!("layer_{name}"), f)
}

fn count(lines: &[String], pat: &str) -> usize {
    lines.iter().filter(|l| l.contains(pat)).count()
}

#[test]
fn spans_become_tasks_and_regions_and_events_logs() {
    let _g = serial();
    // A console printing INFO and up, next to the trace recording DEBUG.
    let console = common::Capture::default();
    let writer = console.clone();
    let console_layer = tracing_subscriber::fmt::layer()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .with_filter(LevelFilter::INFO);
    let subscriber = tracing_subscriber::registry()
        .with(TraceLayer::new().with_filter(LevelFilter::DEBUG))
        .with(console_layer);
    let lines = record("basic", || {
        tracing::subscriber::with_default(subscriber, || {
            let outer = tracing::info_span!("request", id = 1);
            let _o = outer.enter();
            tracing::info!(user = "ada", "start");
            {
                let inner = tracing::debug_span!("parse");
                let _i = inner.enter();
                tracing::debug!(bytes = 512, "parsed");
                // Below the trace layer's level: recorded nowhere.
                tracing::trace!("hidden");
            }
        });
    });
    assert_eq!(count(&lines, "TaskBegin"), 2, "{lines:#?}");
    assert_eq!(count(&lines, "TaskEnd"), 2);
    assert_eq!(count(&lines, "Type=\"request\""), 4, "{lines:#?}");
    assert_eq!(count(&lines, "RegionBegin"), 2);
    assert_eq!(count(&lines, "RegionEnd"), 2);
    assert!(lines
        .iter()
        .any(|l| l.contains("Log") && l.contains("Message=\"parsed bytes=512\"")));
    assert!(lines
        .iter()
        .any(|l| l.contains("Log") && l.contains("Category=\"layer\"")));
    assert_eq!(count(&lines, " Log "), 2, "{lines:#?}");
    // The parent's task is the child's parent.
    let request = lines
        .iter()
        .find(|l| l.contains("TaskBegin") && l.contains("\"request\""))
        .unwrap();
    let id = request
        .split("ID=")
        .nth(1)
        .unwrap()
        .split(' ')
        .next()
        .unwrap();
    assert!(lines
        .iter()
        .any(|l| l.contains("Type=\"parse\"") && l.contains(&format!("Parent={id}"))));
    // The console saw INFO only.
    let console = String::from_utf8(console.0.lock().unwrap().clone()).unwrap();
    assert!(console.contains("start"), "{console}");
    assert!(!console.contains("parsed"), "{console}");
}

#[test]
fn spans_entered_on_many_threads_and_closed_elsewhere() {
    let _g = serial();
    let subscriber = tracing_subscriber::registry().with(TraceLayer::new());
    let dispatch = tracing::Dispatch::new(subscriber);
    let lines = record("threads", || {
        let span = tracing::dispatcher::with_default(&dispatch, || tracing::info_span!("shared"));
        let handles: Vec<_> = (0..4)
            .map(|i| {
                let span = span.clone();
                let dispatch = dispatch.clone();
                thread::spawn(move || {
                    tracing::dispatcher::with_default(&dispatch, || {
                        let _e = span.enter();
                        let child = tracing::info_span!("child", i);
                        let c = child.enter();
                        tracing::info!(i, "working");
                        drop(c);
                        child
                    })
                })
            })
            .collect();
        let children: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        // Closed on this thread, entered on others (the registry closes
        // parents through the thread's default dispatcher).
        tracing::dispatcher::with_default(&dispatch, || {
            drop(children);
            drop(span);
        });
    });
    assert_eq!(count(&lines, "TaskBegin"), 5, "{lines:#?}");
    assert_eq!(count(&lines, "TaskEnd"), 5);
    assert_eq!(count(&lines, "RegionBegin"), 8);
    assert_eq!(count(&lines, "RegionEnd"), 8);
}

#[test]
fn instrumented_futures_on_tokio() {
    let _g = serial();
    let subscriber = tracing_subscriber::registry().with(TraceLayer::new());
    let dispatch = tracing::Dispatch::new(subscriber);
    let lines = record("instrument", || {
        let worker_dispatch = dispatch.clone();
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(3)
            .on_thread_start(move || {
                // The workers' events go to this test's subscriber.
                std::mem::forget(tracing::dispatcher::set_default(&worker_dispatch));
            })
            .enable_time()
            .build()
            .unwrap();
        tracing::dispatcher::with_default(&dispatch, || {
            rt.block_on(async {
                let tasks: Vec<_> = (0..20)
                    .map(|i| {
                        tokio::spawn(
                            async move {
                                tokio::time::sleep(std::time::Duration::from_millis(1)).await;
                                tracing::info!(i, "slept");
                                tokio::task::yield_now().await;
                            }
                            .instrument(tracing::info_span!("req", i)),
                        )
                    })
                    .collect();
                for t in tasks {
                    t.await.unwrap();
                }
            });
        });
        drop(rt);
    });
    assert_eq!(count(&lines, "TaskBegin"), 20);
    assert_eq!(count(&lines, "TaskEnd"), 20);
    assert_eq!(count(&lines, "RegionBegin"), count(&lines, "RegionEnd"));
    assert!(count(&lines, "RegionBegin") >= 40);
    assert_eq!(count(&lines, " Log "), 20);
}

/// The task id of the `TaskBegin` of type `name`.
fn task_of(lines: &[String], name: &str) -> String {
    let begin = lines
        .iter()
        .find(|l| l.contains("TaskBegin") && l.contains(&format!("Type=\"{name}\"")))
        .unwrap_or_else(|| panic!("no task {name}: {lines:#?}"));
    begin
        .split("ID=")
        .nth(1)
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .to_owned()
}

/// Two subscribers, each with its own registry, hand out the same span ids:
/// entering a span of one never finds the other's span in the layer's
/// per-thread cache.
#[test]
fn subscribers_with_the_same_span_ids_keep_their_spans_apart() {
    let _g = serial();
    let a = tracing::Dispatch::new(tracing_subscriber::registry().with(TraceLayer::new()));
    let b = tracing::Dispatch::new(tracing_subscriber::registry().with(TraceLayer::new()));
    let lines = record("two_registries", || {
        let span_a = tracing::dispatcher::with_default(&a, || tracing::info_span!("in_a"));
        let span_b = tracing::dispatcher::with_default(&b, || tracing::info_span!("in_b"));
        assert_eq!(span_a.id(), span_b.id(), "the registries number alike");
        for _ in 0..2 {
            tracing::dispatcher::with_default(&a, || drop(span_a.enter()));
            tracing::dispatcher::with_default(&b, || drop(span_b.enter()));
        }
        tracing::dispatcher::with_default(&a, || drop(span_a));
        tracing::dispatcher::with_default(&b, || drop(span_b));
    });
    let (ta, tb) = (task_of(&lines, "in_a"), task_of(&lines, "in_b"));
    assert_ne!(ta, tb);
    let regions: Vec<_> = lines
        .iter()
        .filter(|l| l.contains("RegionBegin"))
        .map(|l| l.split_once("RegionBegin").unwrap().1.to_owned())
        .collect();
    let want_a = format!(" Task={ta} Type=\"in_a\"");
    let want_b = format!(" Task={tb} Type=\"in_b\"");
    assert_eq!(
        regions
            .iter()
            .map(|r| r
                .split_once(" Task=")
                .map(|(_, t)| format!(" Task={t}"))
                .unwrap())
            .collect::<Vec<_>>(),
        [&want_a, &want_b, &want_a, &want_b].map(String::clone),
        "{lines:#?}"
    );
}

/// A span entered on a thread other than the one that created it, then
/// closed there, and a new span created afterwards: each region belongs to
/// its own span's task.
#[test]
fn spans_entered_and_closed_on_other_threads() {
    let _g = serial();
    let dispatch = tracing::Dispatch::new(tracing_subscriber::registry().with(TraceLayer::new()));
    let lines = record("other_threads", || {
        for i in 0..20 {
            let span = tracing::dispatcher::with_default(&dispatch, || {
                tracing::info_span!("made_here", i)
            });
            let d = dispatch.clone();
            thread::spawn(move || {
                tracing::dispatcher::with_default(&d, || {
                    drop(span.enter());
                    drop(span);
                })
            })
            .join()
            .unwrap();
            tracing::dispatcher::with_default(&dispatch, || {
                let again = tracing::info_span!("made_after", i);
                drop(again.enter());
            });
        }
    });
    assert_eq!(count(&lines, "TaskBegin"), 40);
    assert_eq!(count(&lines, "TaskEnd"), 40);
    // Every region's task is the task of a span of the same name.
    let mut tasks = std::collections::BTreeMap::new();
    for l in lines.iter().filter(|l| l.contains("TaskBegin")) {
        let id = l.split("ID=").nth(1).unwrap().split(' ').next().unwrap();
        let ty = l.split("Type=").nth(1).unwrap();
        tasks.insert(id.to_owned(), ty.to_owned());
    }
    let regions: Vec<_> = lines.iter().filter(|l| l.contains("RegionBegin")).collect();
    assert_eq!(regions.len(), 40);
    for r in regions {
        let task = r.split("Task=").nth(1).unwrap().split(' ').next().unwrap();
        let ty = r.split("Type=").nth(1).unwrap();
        assert_eq!(tasks.get(task).map(String::as_str), Some(ty), "{r}");
    }
}

/// A span entered on another thread (which caches it) and closed; the
/// registry later hands its id to a new span, which that thread enters: the
/// region belongs to the new span's task, not the closed one's.
#[test]
fn a_reused_span_id_is_not_mistaken_for_a_closed_span() {
    use std::sync::mpsc;
    let _g = serial();
    let dispatch = tracing::Dispatch::new(tracing_subscriber::registry().with(TraceLayer::new()));
    let (to_b, at_b) = mpsc::channel::<tracing::Span>();
    let (done_tx, done) = mpsc::channel::<()>();
    let d = dispatch.clone();
    let b = thread::spawn(move || {
        tracing::dispatcher::with_default(&d, || {
            for span in at_b {
                drop(span.enter());
                drop(span);
                done_tx.send(()).unwrap();
            }
        })
    });
    let mut tries = 0u64;
    let lines = record("reused_id", || {
        tracing::dispatcher::with_default(&dispatch, || {
            let old = tracing::info_span!("old");
            let old_id = old.id().unwrap();
            to_b.send(old.clone()).unwrap();
            done.recv().unwrap();
            drop(old);
            // Spans made and closed here reuse the same registry slot, with
            // a new generation each time, until the generation wraps.
            let new = loop {
                tries += 1;
                let span = tracing::info_span!("new");
                if span.id() == Some(old_id.clone()) {
                    break span;
                }
                assert!(tries < 1 << 22, "the registry never reused id {old_id:?}");
            };
            to_b.send(new).unwrap();
            done.recv().unwrap();
        });
        drop(to_b);
        b.join().unwrap();
    });
    eprintln!("the id came back after {tries} spans");
    let old_task = task_of(&lines, "old");
    let new_task = lines
        .iter()
        .rfind(|l| l.contains("TaskBegin") && l.contains("Type=\"new\""))
        .and_then(|l| l.split("ID=").nth(1))
        .and_then(|s| s.split(' ').next())
        .unwrap()
        .to_owned();
    let regions: Vec<_> = lines.iter().filter(|l| l.contains("RegionBegin")).collect();
    assert_eq!(regions.len(), 2, "{regions:#?}");
    assert!(
        regions[0].contains(&format!("Task={old_task} ")),
        "{}",
        regions[0]
    );
    assert!(
        regions[1].contains(&format!("Task={new_task} Type=\"new\"")),
        "{}",
        regions[1]
    );
}

/// `Tasks::Roots` + `Regions::NonTasks`: one task per request, regions
/// only for the steps inside it (in the request's task), span fields and
/// recorded values as logs, events in their level's category.
#[test]
fn builder_roots_as_tasks_steps_as_regions_fields_as_logs() {
    use trace_annotate::layer::{Category, Regions, Tasks};
    let _g = serial();
    let layer = TraceLayer::builder()
        .tasks(Tasks::Roots)
        .regions(Regions::NonTasks)
        .span_fields(true)
        .events(Category::Level)
        .build();
    let subscriber = tracing_subscriber::registry().with(layer);
    let lines = record("builder_roots", || {
        tracing::subscriber::with_default(subscriber, || {
            for id in 0..3 {
                let request = tracing::info_span!("request", id, user = tracing::field::Empty);
                // Entered three times, as a future polled three times.
                for _ in 0..3 {
                    let _e = request.enter();
                }
                let _e = request.enter();
                request.record("user", "ada");
                tracing::info_span!("parse", bytes = 512).in_scope(|| {
                    tracing::warn!("slow");
                });
            }
        });
    });
    // One task per request; `parse` is not a task.
    assert_eq!(count(&lines, "TaskBegin"), 3, "{lines:#?}");
    assert_eq!(count(&lines, "TaskEnd"), 3);
    // `parse` shows only as regions (a begin and an end each).
    assert_eq!(count(&lines, "Type=\"parse\""), 6, "{lines:#?}");
    // No region for `request` however often it is entered; one per `parse`.
    assert_eq!(count(&lines, "RegionBegin"), 3, "{lines:#?}");
    assert!(lines
        .iter()
        .filter(|l| l.contains("RegionBegin"))
        .all(|l| l.contains("Type=\"parse\"")));
    // The region is in the request's task.
    let first = task_of(&lines, "request");
    assert!(lines
        .iter()
        .any(|l| l.contains("RegionBegin") && l.contains(&format!("Task={first} "))));
    // Fields at creation and on `record`, in category `span`.
    for msg in ["request: id=0", "request: user=ada", "parse: bytes=512"] {
        assert!(
            lines
                .iter()
                .any(|l| l.contains("Category=\"span\"") && l.contains(msg)),
            "{msg}: {lines:#?}"
        );
    }
    // Events in their level's category.
    assert_eq!(count(&lines, "Category=\"WARN\""), 3, "{lines:#?}");
}

/// `Tasks::Named` picks spans by name; `Regions::None` records no region;
/// `Tasks::None` makes every span a region of the background task.
#[test]
fn builder_named_tasks_and_no_regions() {
    use trace_annotate::layer::{Regions, Tasks};
    let _g = serial();
    let layer = TraceLayer::builder()
        .tasks(Tasks::Named(vec!["job".into()]))
        .regions(Regions::None)
        .build();
    let subscriber = tracing_subscriber::registry().with(layer);
    let lines = record("builder_named", || {
        tracing::subscriber::with_default(subscriber, || {
            let outer = tracing::info_span!("batch");
            let _o = outer.enter();
            for _ in 0..2 {
                tracing::info_span!("job").in_scope(|| tracing::info!("working"));
            }
        });
    });
    assert_eq!(count(&lines, "TaskBegin"), 2, "{lines:#?}");
    assert!(lines
        .iter()
        .filter(|l| l.contains("TaskBegin"))
        .all(|l| l.contains("Type=\"job\"")));
    assert_eq!(count(&lines, "RegionBegin"), 0);
    assert_eq!(count(&lines, " Log "), 2);

    let layer = TraceLayer::builder().tasks(Tasks::None).build();
    let subscriber = tracing_subscriber::registry().with(layer);
    let lines = record("builder_no_tasks", || {
        tracing::subscriber::with_default(subscriber, || {
            tracing::info_span!("step").in_scope(|| {});
        });
    });
    assert_eq!(count(&lines, "TaskBegin"), 0, "{lines:#?}");
    assert_eq!(count(&lines, "RegionBegin"), 1);
    assert!(lines
        .iter()
        .any(|l| l.contains("RegionBegin") && l.contains("Task=0 ")));
}

/// With `tracing-opentelemetry` below the layer, each task logs its span's
/// W3C trace context, as OpenTelemetry itself gives it.
#[test]
fn tasks_log_their_w3c_trace_context() {
    use opentelemetry::trace::{TraceContextExt, TracerProvider as _};
    use tracing_opentelemetry::OpenTelemetrySpanExt;

    let _g = serial();
    let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
    let subscriber = tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")))
        .with(
            TraceLayer::builder()
                .tasks(trace_annotate::layer::Tasks::Roots)
                .build(),
        );
    let mut expected = Vec::new();
    let lines = record("otel", || {
        tracing::subscriber::with_default(subscriber, || {
            for i in 0..3 {
                let span = tracing::info_span!("request", i);
                let cx = span.context();
                let sc = cx.span().span_context().clone();
                assert!(sc.is_valid());
                expected.push(format!(
                    "00-{}-{}-{:02x}",
                    sc.trace_id(),
                    sc.span_id(),
                    sc.trace_flags().to_u8()
                ));
                let _e = span.enter();
                tracing::info_span!("inner").in_scope(|| tracing::info!("work"));
            }
        });
    });
    let logs: Vec<&String> = lines
        .iter()
        .filter(|l| l.contains("Category=\"traceparent\""))
        .collect();
    // One per task (root span); the inner spans are not tasks.
    assert_eq!(logs.len(), 3, "{lines:#?}");
    for e in &expected {
        assert_eq!(e.len(), 55, "{e}");
        assert!(
            logs.iter().any(|l| l.contains(&format!("Message=\"{e}\""))),
            "{e} not in {logs:#?}"
        );
    }
    let mut traces: Vec<&str> = expected.iter().map(|e| &e[3..35]).collect();
    traces.dedup();
    assert_eq!(traces.len(), 3, "a trace per root span: {expected:?}");
}

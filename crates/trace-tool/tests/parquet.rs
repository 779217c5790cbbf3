//! `convert --to parquet`: the tables land in the directory, name their
//! trace, and read back with the parquet crate.

mod common;

use std::fs::File;

use common::{testdata, tool};
use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::record::RowAccessor;

#[test]
fn convert_to_parquet_writes_the_tables() {
    let trace = testdata().join("traces/go123-testprog-annotations.trace");
    let dir = std::env::temp_dir().join(format!("trace-tool-parquet-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let out = tool(&[
        "convert",
        "--to",
        "parquet",
        trace.to_str().unwrap(),
        "-o",
        dir.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for table in [
        "traces",
        "events",
        "goroutine_states",
        "tasks",
        "regions",
        "logs",
        "stacks",
    ] {
        let path = dir.join(format!("{table}.parquet"));
        let reader = SerializedFileReader::new(File::open(&path).unwrap()).unwrap();
        let rows = reader.metadata().file_metadata().num_rows();
        assert!(rows > 0, "{table} is empty");
        // Every row names the trace by its file name.
        let first = reader.get_row_iter(None).unwrap().next().unwrap().unwrap();
        assert_eq!(
            first.get_string(0).unwrap(),
            "go123-testprog-annotations.trace",
            "{table}"
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn parquet_needs_a_directory() {
    let trace = testdata().join("traces/go123-testprog-annotations.trace");
    let out = tool(&["convert", "--to", "parquet", trace.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!(
            "trace-tool convert: {}: --to parquet needs the tables' directory: -o DIR\n",
            trace.display()
        )
    );
}

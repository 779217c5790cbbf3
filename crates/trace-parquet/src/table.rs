//! One Parquet file written row group by row group: columns buffered in
//! memory up to [`ROWS_PER_GROUP`] rows, then encoded and written, so that
//! memory does not grow with the trace.

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use parquet::basic::Compression;
use parquet::data_type::{ByteArray, ByteArrayType, Int32Type, Int64Type};
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::types::ColumnPath;
use parquet::schema::types::Type;

use crate::Error;

/// Rows buffered before a row group is written.
pub(crate) const ROWS_PER_GROUP: usize = 1 << 16;

/// A column's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    I64,
    I32,
    Str,
}

/// A column: name, type, and whether it may be null.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Column {
    pub(crate) name: &'static str,
    pub(crate) kind: Kind,
    pub(crate) nullable: bool,
}

pub(crate) const fn col(name: &'static str, kind: Kind) -> Column {
    Column {
        name,
        kind,
        nullable: false,
    }
}

pub(crate) const fn opt(name: &'static str, kind: Kind) -> Column {
    Column {
        name,
        kind,
        nullable: true,
    }
}

/// A column's buffered values and definition levels (1 present, 0 null).
#[derive(Debug)]
enum Values {
    I64(Vec<i64>),
    I32(Vec<i32>),
    Str(Vec<ByteArray>),
}

#[derive(Debug)]
struct Buffer {
    values: Values,
    defs: Vec<i16>,
}

/// A table being written to its file.
pub(crate) struct Table {
    columns: &'static [Column],
    buffers: Vec<Buffer>,
    rows: usize,
    written: u64,
    writer: SerializedFileWriter<File>,
    /// The column the next value goes to (checked at the end of a row).
    next: usize,
}

impl std::fmt::Debug for Table {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Table")
            .field("columns", &self.columns.len())
            .field("rows", &self.rows)
            .field("written", &self.written)
            .finish()
    }
}

impl Table {
    /// Creates `path` for a table named `name` with `columns`.
    pub(crate) fn create(
        path: &Path,
        name: &str,
        columns: &'static [Column],
    ) -> Result<Self, Error> {
        use parquet::basic::{LogicalType, Repetition, Type as Physical};
        let fields = columns
            .iter()
            .map(|c| {
                let (physical, logical) = match c.kind {
                    Kind::I64 => (Physical::INT64, None),
                    Kind::I32 => (Physical::INT32, None),
                    Kind::Str => (Physical::BYTE_ARRAY, Some(LogicalType::String)),
                };
                let repetition = if c.nullable {
                    Repetition::OPTIONAL
                } else {
                    Repetition::REQUIRED
                };
                Type::primitive_type_builder(c.name, physical)
                    .with_repetition(repetition)
                    .with_logical_type(logical)
                    .build()
                    .map(Arc::new)
            })
            .collect::<Result<Vec<_>, _>>()?;
        let schema = Type::group_type_builder(name).with_fields(fields).build()?;
        let mut props = WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .set_created_by(concat!("trace-parquet ", env!("CARGO_PKG_VERSION")).to_owned());
        // Min/max statistics of strings cost two comparisons per value (a
        // third of the export's time) and help few queries: numbers only.
        for c in columns.iter().filter(|c| c.kind == Kind::Str) {
            props = props
                .set_column_statistics_enabled(ColumnPath::from(c.name), EnabledStatistics::None);
        }
        let props = props.build();
        let file = File::create(path).map_err(|e| Error::Io(path.display().to_string(), e))?;
        let writer = SerializedFileWriter::new(file, Arc::new(schema), Arc::new(props))?;
        let buffers = columns
            .iter()
            .map(|c| Buffer {
                values: match c.kind {
                    Kind::I64 => Values::I64(Vec::new()),
                    Kind::I32 => Values::I32(Vec::new()),
                    Kind::Str => Values::Str(Vec::new()),
                },
                defs: Vec::new(),
            })
            .collect();
        Ok(Table {
            columns,
            buffers,
            rows: 0,
            written: 0,
            writer,
            next: 0,
        })
    }

    fn buffer(&mut self, kind: Kind, present: bool) -> &mut Buffer {
        let i = self.next;
        self.next += 1;
        let c = &self.columns[i];
        debug_assert_eq!(c.kind, kind, "column {}", c.name);
        debug_assert!(present || c.nullable, "column {} is required", c.name);
        let b = &mut self.buffers[i];
        if c.nullable {
            b.defs.push(i16::from(present));
        }
        b
    }

    /// The next column's value.
    pub(crate) fn i64(&mut self, v: i64) -> &mut Self {
        if let Values::I64(vals) = &mut self.buffer(Kind::I64, true).values {
            vals.push(v);
        }
        self
    }

    /// The next column's value, or null.
    pub(crate) fn opt_i64(&mut self, v: Option<i64>) -> &mut Self {
        let b = self.buffer(Kind::I64, v.is_some());
        if let (Values::I64(vals), Some(v)) = (&mut b.values, v) {
            vals.push(v);
        }
        self
    }

    /// The next column's value.
    pub(crate) fn i32(&mut self, v: i32) -> &mut Self {
        if let Values::I32(vals) = &mut self.buffer(Kind::I32, true).values {
            vals.push(v);
        }
        self
    }

    /// The next column's value (bytes, UTF-8 unless the trace's were not).
    pub(crate) fn str(&mut self, v: &[u8]) -> &mut Self {
        if let Values::Str(vals) = &mut self.buffer(Kind::Str, true).values {
            vals.push(ByteArray::from(v.to_vec()));
        }
        self
    }

    /// The next column's value, shared (no copy of the bytes).
    pub(crate) fn bytes(&mut self, v: &ByteArray) -> &mut Self {
        if let Values::Str(vals) = &mut self.buffer(Kind::Str, true).values {
            vals.push(v.clone());
        }
        self
    }

    /// Ends the row; writes a row group when enough are buffered.
    pub(crate) fn end_row(&mut self) -> Result<(), Error> {
        debug_assert_eq!(self.next, self.columns.len(), "a value per column");
        self.next = 0;
        self.rows += 1;
        if self.rows >= ROWS_PER_GROUP {
            self.flush()?;
        }
        Ok(())
    }

    /// Writes the buffered rows as a row group.
    fn flush(&mut self) -> Result<(), Error> {
        if self.rows == 0 {
            return Ok(());
        }
        let mut group = self.writer.next_row_group()?;
        let mut i = 0;
        while let Some(mut column) = group.next_column()? {
            let b = &mut self.buffers[i];
            let defs = self.columns[i].nullable.then_some(&b.defs[..]);
            match &mut b.values {
                Values::I64(v) => {
                    column.typed::<Int64Type>().write_batch(v, defs, None)?;
                    v.clear();
                }
                Values::I32(v) => {
                    column.typed::<Int32Type>().write_batch(v, defs, None)?;
                    v.clear();
                }
                Values::Str(v) => {
                    column.typed::<ByteArrayType>().write_batch(v, defs, None)?;
                    v.clear();
                }
            }
            b.defs.clear();
            column.close()?;
            i += 1;
        }
        group.close()?;
        self.written += self.rows as u64;
        self.rows = 0;
        Ok(())
    }

    /// Writes what is buffered and the file's footer; returns the rows.
    pub(crate) fn finish(mut self) -> Result<u64, Error> {
        self.flush()?;
        self.writer.close()?;
        Ok(self.written)
    }
}

//! Whole-table reads through `COPY (SELECT …) TO STDOUT (FORMAT binary)`.
//!
//! Reading every user of a large homeserver row by row through the driver costs more in
//! per-row bookkeeping than the data itself; PostgreSQL's binary COPY streams the same rows as
//! plain length-prefixed fields, which this module decodes without a per-row allocation (only
//! the strings kept are copied). It is what `psql`'s `\copy` uses, and it is the floor the
//! benchmarks compare `plan` against. Only unfiltered reads use it: COPY takes no parameters,
//! and filtered reads are small anyway.
//!
//! The format (PostgreSQL manual, "COPY", binary format): a signature, flags and a header
//! extension, then per row a 16-bit field count (-1 ends the data) and per field a 32-bit length
//! (-1 for NULL) and that many bytes, in each type's binary send format. Message boundaries
//! need not match rows, so the decoder buffers until a row is complete.

use chrono::{DateTime, Utc};
use uuid::Uuid;

/// The 11-byte signature every binary COPY stream starts with.
const SIGNATURE: &[u8] = b"PGCOPY\n\xff\r\n\0";

/// Microseconds from the Unix epoch to PostgreSQL's (2000-01-01 00:00:00 UTC).
const PG_EPOCH_MICROS: i64 = 946_684_800_000_000;

/// Decodes a binary COPY stream fed in arbitrary chunks into rows of `O`.
pub(super) struct Decoder<O> {
    buffer: Vec<u8>,
    header_read: bool,
    finished: bool,
    columns: usize,
    decode: fn(&mut Fields<'_>) -> Result<O, String>,
}

impl<O> Decoder<O> {
    /// A decoder for rows of `columns` fields, each row built by `decode`.
    pub(super) fn new(columns: usize, decode: fn(&mut Fields<'_>) -> Result<O, String>) -> Self {
        Self {
            buffer: Vec::new(),
            header_read: false,
            finished: false,
            columns,
            decode,
        }
    }

    /// Adds a chunk and hands every row it completes to `sink`; returns how many.
    pub(super) fn feed(&mut self, chunk: &[u8], sink: &mut impl FnMut(O)) -> Result<usize, String> {
        self.buffer.extend_from_slice(chunk);
        let mut at = 0;
        if !self.header_read {
            let Some(end) = header_end(&self.buffer)? else {
                return Ok(0);
            };
            at = end;
            self.header_read = true;
        }
        let mut rows = 0;
        while !self.finished {
            let rest = self.buffer.get(at..).unwrap_or_default();
            let Some(len) = row_len(rest, self.columns)? else {
                break;
            };
            let row = rest.get(..len).unwrap_or_default();
            if row.starts_with(&[0xFF, 0xFF]) {
                self.finished = true;
            } else {
                let mut fields = Fields {
                    bytes: row.get(2..).unwrap_or_default(),
                };
                sink((self.decode)(&mut fields)?);
                rows += 1;
            }
            at += len;
        }
        self.buffer.drain(..at);
        Ok(rows)
    }

    /// Checks that the stream ended where the format says it ends.
    pub(super) fn finish(&self) -> Result<(), String> {
        if self.finished && self.buffer.is_empty() {
            Ok(())
        } else {
            Err("the COPY stream ended in the middle of a row".to_owned())
        }
    }
}

/// Returns where the header ends, `None` while it is incomplete.
fn header_end(buffer: &[u8]) -> Result<Option<usize>, String> {
    let fixed = SIGNATURE.len() + 8;
    if buffer.len() < fixed {
        return Ok(None);
    }
    if !buffer.starts_with(SIGNATURE) {
        return Err("not a binary COPY stream".to_owned());
    }
    let extension = be_i32(buffer, SIGNATURE.len() + 4).unwrap_or(-1);
    let extension = usize::try_from(extension).map_err(|_| "bad COPY header".to_owned())?;
    let end = fixed + extension;
    Ok((buffer.len() >= end).then_some(end))
}

/// Returns the length of the complete row (or trailer) at the start of `bytes`, `None` while
/// it is incomplete.
fn row_len(bytes: &[u8], columns: usize) -> Result<Option<usize>, String> {
    let Some(count) = be_i16(bytes, 0) else {
        return Ok(None);
    };
    if count == -1 {
        return Ok(Some(2));
    }
    if usize::try_from(count).ok() != Some(columns) {
        return Err(format!("expected {columns} columns, the row has {count}"));
    }
    let mut at = 2;
    for _ in 0..columns {
        let Some(len) = be_i32(bytes, at) else {
            return Ok(None);
        };
        at += 4;
        if len >= 0 {
            at += usize::try_from(len).unwrap_or(usize::MAX / 2);
        }
    }
    Ok((bytes.len() >= at).then_some(at))
}

fn be_i16(bytes: &[u8], at: usize) -> Option<i16> {
    Some(i16::from_be_bytes(bytes.get(at..at + 2)?.try_into().ok()?))
}

fn be_i32(bytes: &[u8], at: usize) -> Option<i32> {
    Some(i32::from_be_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
}

/// The fields of one complete row, read in column order.
pub(super) struct Fields<'a> {
    bytes: &'a [u8],
}

impl<'a> Fields<'a> {
    /// The next field's bytes, `None` for NULL.
    fn next(&mut self) -> Result<Option<&'a [u8]>, String> {
        let len = be_i32(self.bytes, 0).ok_or("row shorter than its fields")?;
        let rest = self.bytes.get(4..).unwrap_or_default();
        let Ok(len) = usize::try_from(len) else {
            self.bytes = rest;
            return Ok(None);
        };
        let (value, rest) = rest
            .split_at_checked(len)
            .ok_or("field longer than its row")?;
        self.bytes = rest;
        Ok(Some(value))
    }

    fn required(&mut self, what: &str) -> Result<&'a [u8], String> {
        self.next()?
            .ok_or_else(|| format!("unexpected NULL {what}"))
    }

    pub(super) fn uuid(&mut self) -> Result<Uuid, String> {
        Uuid::from_slice(self.required("uuid")?).map_err(|error| error.to_string())
    }

    pub(super) fn text(&mut self) -> Result<String, String> {
        decode_text(self.required("text")?)
    }

    pub(super) fn optional_text(&mut self) -> Result<Option<String>, String> {
        self.next()?.map(decode_text).transpose()
    }

    pub(super) fn bool(&mut self) -> Result<bool, String> {
        match self.required("boolean")? {
            [byte] => Ok(*byte != 0),
            _ => Err("a boolean is one byte".to_owned()),
        }
    }

    pub(super) fn i32(&mut self) -> Result<i32, String> {
        decode_i32(self.required("integer")?)
    }

    pub(super) fn optional_i32(&mut self) -> Result<Option<i32>, String> {
        self.next()?.map(decode_i32).transpose()
    }

    pub(super) fn time(&mut self) -> Result<DateTime<Utc>, String> {
        decode_time(self.required("timestamp")?)
    }

    pub(super) fn optional_time(&mut self) -> Result<Option<DateTime<Utc>>, String> {
        self.next()?.map(decode_time).transpose()
    }
}

fn decode_text(bytes: &[u8]) -> Result<String, String> {
    std::str::from_utf8(bytes)
        .map(str::to_owned)
        .map_err(|error| format!("text that is not UTF-8: {error}"))
}

fn decode_i32(bytes: &[u8]) -> Result<i32, String> {
    bytes
        .try_into()
        .map(i32::from_be_bytes)
        .map_err(|_| "an integer is four bytes".to_owned())
}

/// A `timestamptz`: microseconds since 2000-01-01 UTC (`infinity` has no `DateTime`).
fn decode_time(bytes: &[u8]) -> Result<DateTime<Utc>, String> {
    let micros: [u8; 8] = bytes
        .try_into()
        .map_err(|_| "a timestamp is eight bytes".to_owned())?;
    i64::from_be_bytes(micros)
        .checked_add(PG_EPOCH_MICROS)
        .and_then(DateTime::from_timestamp_micros)
        .ok_or_else(|| "a timestamp out of range (infinity?)".to_owned())
}

#[cfg(test)]
#[path = "copy_tests.rs"]
mod tests;

//! The binary COPY decoder on hand-built streams, cut into chunks at every possible place.

use chrono::{TimeZone, Utc};
use uuid::Uuid;

use super::{Decoder, Fields, SIGNATURE};

type Row = (
    Uuid,
    String,
    Option<i32>,
    Option<chrono::DateTime<Utc>>,
    bool,
);

fn decode_row(fields: &mut Fields<'_>) -> Result<Row, String> {
    Ok((
        fields.uuid()?,
        fields.text()?,
        fields.optional_i32()?,
        fields.optional_time()?,
        fields.bool()?,
    ))
}

fn field(out: &mut Vec<u8>, value: Option<&[u8]>) {
    match value {
        None => out.extend_from_slice(&(-1_i32).to_be_bytes()),
        Some(bytes) => {
            out.extend_from_slice(&i32::try_from(bytes.len()).unwrap().to_be_bytes());
            out.extend_from_slice(bytes);
        }
    }
}

/// Encodes rows the way PostgreSQL does, with a 3-byte header extension to skip.
fn stream(rows: &[Row]) -> Vec<u8> {
    let mut out = SIGNATURE.to_vec();
    out.extend_from_slice(&0_i32.to_be_bytes());
    out.extend_from_slice(&3_i32.to_be_bytes());
    out.extend_from_slice(b"xyz");
    for (id, text, number, time, flag) in rows {
        out.extend_from_slice(&5_i16.to_be_bytes());
        field(&mut out, Some(id.as_bytes()));
        field(&mut out, Some(text.as_bytes()));
        field(
            &mut out,
            number.map(i32::to_be_bytes).as_ref().map(|b| &b[..]),
        );
        let micros = time.map(|t| (t.timestamp_micros() - 946_684_800_000_000).to_be_bytes());
        field(&mut out, micros.as_ref().map(|b| &b[..]));
        field(&mut out, Some(&[u8::from(*flag)]));
    }
    out.extend_from_slice(&(-1_i16).to_be_bytes());
    out
}

fn rows() -> Vec<Row> {
    let time = Utc.with_ymd_and_hms(2026, 11, 26, 12, 30, 1).unwrap()
        + chrono::Duration::microseconds(123_456);
    let old = Utc.with_ymd_and_hms(1999, 12, 31, 23, 59, 59).unwrap();
    vec![
        (
            Uuid::from_u128(1),
            "alice".into(),
            Some(5),
            Some(time),
            true,
        ),
        (Uuid::from_u128(2), "bücher\t\\n".into(), None, None, false),
        (Uuid::from_u128(3), String::new(), Some(-7), Some(old), true),
    ]
}

fn decode_all(chunks: &[&[u8]]) -> Result<Vec<Row>, String> {
    let mut decoder = Decoder::new(5, decode_row);
    let mut out = Vec::new();
    for chunk in chunks {
        decoder.feed(chunk, &mut |row| out.push(row))?;
    }
    decoder.finish()?;
    Ok(out)
}

#[test]
fn decodes_rows_whole_and_cut_anywhere() {
    let expected = rows();
    let bytes = stream(&expected);
    assert_eq!(decode_all(&[&bytes]).unwrap(), expected);
    for cut in 0..=bytes.len() {
        let (first, second) = bytes.split_at(cut);
        assert_eq!(
            decode_all(&[first, second]).unwrap(),
            expected,
            "cut at {cut}"
        );
    }
    let bytewise: Vec<&[u8]> = bytes.chunks(1).collect();
    assert_eq!(decode_all(&bytewise).unwrap(), expected);
}

#[test]
fn refuses_broken_streams() {
    let bytes = stream(&rows());
    // Truncated anywhere before the trailer: never a silent partial read.
    for cut in 0..bytes.len() {
        assert!(decode_all(&[&bytes[..cut]]).is_err(), "cut at {cut}");
    }
    // Not COPY at all.
    assert!(decode_all(&[b"PGCOPX\n\xff\r\n\0\0\0\0\0\0\0\0\0"]).is_err());
    // Rows of another shape than the query's.
    let mut wrong = Decoder::new(4, |fields: &mut Fields<'_>| fields.uuid());
    assert!(wrong.feed(&bytes, &mut |_| {}).is_err());
    // A NULL where the column may not be NULL.
    let mut null = SIGNATURE.to_vec();
    null.extend_from_slice(&[0; 8]);
    null.extend_from_slice(&1_i16.to_be_bytes());
    null.extend_from_slice(&(-1_i32).to_be_bytes());
    let mut decoder = Decoder::new(1, |fields: &mut Fields<'_>| fields.text());
    assert!(decoder.feed(&null, &mut |_| {}).is_err());
}

//! TensorBoard event-file writer: TFRecord framing around hand-encoded `Event` protobufs.
//!
//! A TFRecord is `u64 LE length | u32 LE masked CRC-32C(length bytes) | payload |
//! u32 LE masked CRC-32C(payload)`, with `mask(c) = ((c >> 15) | (c << 17)) + 0xa282ead8`
//! (wrapping). Each payload is one `tensorflow.Event`, of which we need only
//!
//! ```text
//! message Event   { double wall_time = 1; int64 step = 2; string file_version = 3; Summary summary = 5; }
//! message Summary { repeated Value value = 1; }
//! message Value   { string tag = 1; float simple_value = 2; }
//! ```
//!
//! The first record of every file is the file-version event `brain.Event:2`; TensorBoard's
//! `EventAccumulator` then reads every `simple_value` as a scalar series under its tag.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::error::{Error, Result};

/// The file-version string TensorBoard expects in the first record.
pub const FILE_VERSION: &str = "brain.Event:2";

/// Constant added after rotating a CRC in the TFRecord mask.
const MASK_DELTA: u32 = 0xa282_ead8;

/// Reflected CRC-32C (Castagnoli) polynomial.
const CASTAGNOLI_REFLECTED: u32 = 0x82f6_3b78;

/// Byte-at-a-time lookup table for CRC-32C, built at compile time.
const CRC32C_TABLE: [u32; 256] = super::crc32_table(CASTAGNOLI_REFLECTED);

/// CRC-32C (Castagnoli) of `data`, table-driven: `crc32c(b"123456789") == 0xE306_9283`.
pub fn crc32c(data: &[u8]) -> u32 {
    super::crc32_with(&CRC32C_TABLE, data)
}

/// The TFRecord-masked CRC-32C of `data`: `((c >> 15) | (c << 17)) + 0xa282ead8`, wrapping.
pub fn masked_crc32c(data: &[u8]) -> u32 {
    let c = crc32c(data);
    c.rotate_right(15).wrapping_add(MASK_DELTA)
}

/// One TFRecord around `payload`: length, masked CRC of the length, payload, masked CRC of it.
pub fn frame_record(payload: &[u8]) -> Vec<u8> {
    let len = (payload.len() as u64).to_le_bytes();
    let mut out = Vec::with_capacity(payload.len() + 16);
    out.extend_from_slice(&len);
    out.extend_from_slice(&masked_crc32c(&len).to_le_bytes());
    out.extend_from_slice(payload);
    out.extend_from_slice(&masked_crc32c(payload).to_le_bytes());
    out
}

/// Appends `v` as a protobuf base-128 varint.
fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Appends a field key (field number and wire type).
fn put_key(out: &mut Vec<u8>, field: u32, wire_type: u8) {
    put_varint(out, ((field as u64) << 3) | wire_type as u64);
}

/// Appends a length-delimited field (wire type 2).
fn put_bytes(out: &mut Vec<u8>, field: u32, bytes: &[u8]) {
    put_key(out, field, 2);
    put_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

/// Appends `Event.wall_time` (field 1, double, wire type 1).
fn put_wall_time(out: &mut Vec<u8>, wall_time: f64) {
    put_key(out, 1, 1);
    out.extend_from_slice(&wall_time.to_le_bytes());
}

/// Protobuf bytes of the file-version `Event { wall_time, file_version: "brain.Event:2" }`.
pub fn encode_file_version_event(wall_time: f64) -> Vec<u8> {
    let mut out = Vec::with_capacity(32);
    put_wall_time(&mut out, wall_time);
    put_bytes(&mut out, 3, FILE_VERSION.as_bytes());
    out
}

/// Protobuf bytes of `Event { wall_time, step, summary { value { tag, simple_value } } }`.
///
/// `simple_value` is a protobuf `float`, so `value` is rounded to f32 (as TensorBoard stores it).
pub fn encode_scalar_event(wall_time: f64, step: u64, tag: &str, value: f64) -> Vec<u8> {
    // Value { string tag = 1; float simple_value = 2; }
    let mut val = Vec::with_capacity(tag.len() + 8);
    put_bytes(&mut val, 1, tag.as_bytes());
    put_key(&mut val, 2, 5);
    val.extend_from_slice(&(value as f32).to_le_bytes());
    // Summary { repeated Value value = 1; }
    let mut summary = Vec::with_capacity(val.len() + 4);
    put_bytes(&mut summary, 1, &val);
    // Event { double wall_time = 1; int64 step = 2; Summary summary = 5; }
    let mut out = Vec::with_capacity(summary.len() + 24);
    put_wall_time(&mut out, wall_time);
    put_key(&mut out, 2, 0);
    put_varint(&mut out, step); // int64 varint: a u64 step is its two's-complement encoding
    put_bytes(&mut out, 5, &summary);
    out
}

/// Seconds since the Unix epoch, as TensorBoard's `wall_time`.
pub fn wall_time_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// This machine's host name, reduced to characters safe in a file name (`localhost` if unknown).
pub fn host_name() -> String {
    let raw = ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .find_map(|p| std::fs::read_to_string(p).ok())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .or_else(|| std::env::var("COMPUTERNAME").ok())
        .unwrap_or_default();
    let clean: String = raw
        .trim()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if clean.is_empty() {
        "localhost".to_string()
    } else {
        clean
    }
}

/// Appends TensorBoard events to one `events.out.tfevents.*` file (buffered).
#[derive(Debug)]
pub struct EventWriter {
    path: PathBuf,
    out: BufWriter<File>,
}

impl EventWriter {
    /// Creates `events.out.tfevents.<secs>.<host>.<pid>.<k>` in `dir` (k = 0, or the next free
    /// counter if that name exists) and writes the file-version record `brain.Event:2`.
    pub fn create(dir: &Path) -> Result<Self> {
        let wall = wall_time_now();
        let secs = wall as u64;
        let host = host_name();
        let pid = std::process::id();
        let mut k = 0u32;
        let (path, file) = loop {
            let path = dir.join(format!("events.out.tfevents.{secs:010}.{host}.{pid}.{k}"));
            match OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(f) => break (path, f),
                Err(e) if e.kind() == ErrorKind::AlreadyExists && k < 1000 => k += 1,
                Err(e) => return Err(Error::io(path, e)),
            }
        };
        let mut w = EventWriter {
            path,
            out: BufWriter::new(file),
        };
        w.write_event(&encode_file_version_event(wall))?;
        Ok(w)
    }

    /// Appends one framed event whose protobuf bytes are `payload`.
    pub fn write_event(&mut self, payload: &[u8]) -> Result<()> {
        self.out
            .write_all(&frame_record(payload))
            .map_err(|e| Error::io(&self.path, e))
    }

    /// Appends one scalar event stamped with the current wall time.
    pub fn add_scalar(&mut self, tag: &str, value: f64, step: u64) -> Result<()> {
        self.write_event(&encode_scalar_event(wall_time_now(), step, tag, value))
    }

    /// Writes buffered records to the file and asks the OS to put them on disk.
    pub fn flush(&mut self) -> Result<()> {
        super::flush_and_sync(&mut self.out, &self.path)
    }

    /// The event file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32c_known_vectors() {
        assert_eq!(crc32c(b""), 0);
        assert_eq!(crc32c(b"123456789"), 0xE306_9283);
        assert_eq!(crc32c(&[0u8; 32]), 0x8A91_36AA);
        assert_eq!(crc32c(&[0xffu8; 32]), 0x62A8_AB43);
    }

    #[test]
    #[allow(clippy::manual_rotate)] // the TFRecord formula, spelled out
    fn mask_matches_formula() {
        let c = crc32c(b"abc");
        assert_eq!(
            masked_crc32c(b"abc"),
            ((c >> 15) | (c << 17)).wrapping_add(0xa282_ead8)
        );
    }

    #[test]
    fn varints() {
        let mut v = Vec::new();
        put_varint(&mut v, 300);
        assert_eq!(v, [0xac, 0x02]);
        v.clear();
        put_varint(&mut v, 0);
        assert_eq!(v, [0]);
    }
}

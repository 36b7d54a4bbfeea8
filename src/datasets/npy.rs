//! Reading and writing NumPy `.npy` files.
//!
//! The format (NumPy's `numpy.lib.format`): the magic `\x93NUMPY`, a major and a minor version
//! byte, the header length (`u16` little-endian in 1.0, `u32` in 2.0 and 3.0), the header — a
//! Python dict literal such as `{'descr': '<f8', 'fortran_order': False, 'shape': (8, 5), }`,
//! latin-1 in 1.0 and 2.0, UTF-8 in 3.0, padded with spaces and a final `\n` — and then the raw
//! elements.
//!
//! Supported: the little-endian dtypes `<f4`, `<f8`, `<i8`, `<i4` and `|u1`, C order, any rank
//! including 0-d `()`. Every malformed input is an [`Error::Format`] naming the file and what was
//! expected versus found; the parser ([`read_npy_bytes`]) never panics and never returns a partial
//! array. Files are written the way NumPy writes them (same header bytes), atomically.

use crate::atomic_file::write_atomic;
use crate::error::{escape_text, Error, Result};
use crate::input_file::read_regular;
use crate::tensor::{Element, Tensor};
use byteorder::{ByteOrder, LittleEndian};
use std::path::Path;

/// The six bytes every `.npy` file starts with.
const MAGIC: &[u8; 6] = b"\x93NUMPY";
/// NumPy pads the header so the data starts at a multiple of this many bytes.
const ARRAY_ALIGN: usize = 64;
/// NumPy leaves room after the dict for the first axis to grow to this many digits in place.
const GROWTH_AXIS_MAX_DIGITS: usize = 21;
/// Deepest tuple/list nesting the header parser follows (real headers nest at most 2 deep);
/// bounds the recursion on hostile input.
const MAX_NESTING: usize = 32;
/// The dtypes this module reads and writes, for error messages.
const SUPPORTED: &str = "<f4, <f8, <i8, <i4, |u1";

/// Element data of an .npy array.
#[derive(Clone, Debug, PartialEq)]
pub enum NpyData {
    /// `<f4`: little-endian 32-bit floats.
    F32(Vec<f32>),
    /// `<f8`: little-endian 64-bit floats.
    F64(Vec<f64>),
    /// `<i8`: little-endian 64-bit signed integers.
    I64(Vec<i64>),
    /// `<i4`: little-endian 32-bit signed integers.
    I32(Vec<i32>),
    /// `|u1`: unsigned bytes.
    U8(Vec<u8>),
}

/// An `.npy` array: its shape (C order, last axis fastest) and its elements.
///
/// `data` holds `shape.iter().product()` elements (one for the 0-d shape `[]`); [`write_npy`]
/// and [`NpyArray::to_tensor`] reject an array where it does not.
#[derive(Clone, Debug, PartialEq)]
pub struct NpyArray {
    /// The array's shape; empty for a 0-d (scalar) array.
    pub shape: Vec<usize>,
    /// The elements in row-major order.
    pub data: NpyData,
}

/// A supported dtype, parsed from the header's `descr`.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Dtype {
    F32,
    F64,
    I64,
    I32,
    U8,
}

impl Dtype {
    fn parse(descr: &str) -> Option<Dtype> {
        match descr {
            "<f4" => Some(Dtype::F32),
            "<f8" => Some(Dtype::F64),
            "<i8" => Some(Dtype::I64),
            "<i4" => Some(Dtype::I32),
            "|u1" => Some(Dtype::U8),
            _ => None,
        }
    }

    fn item_size(self) -> usize {
        match self {
            Dtype::F32 | Dtype::I32 => 4,
            Dtype::F64 | Dtype::I64 => 8,
            Dtype::U8 => 1,
        }
    }

    /// Decodes `bytes`, whose length the caller has checked to be `count * item_size`.
    fn decode(self, bytes: &[u8], count: usize) -> NpyData {
        match self {
            Dtype::F32 => {
                let mut v = vec![0f32; count];
                LittleEndian::read_f32_into(bytes, &mut v);
                NpyData::F32(v)
            }
            Dtype::F64 => {
                let mut v = vec![0f64; count];
                LittleEndian::read_f64_into(bytes, &mut v);
                NpyData::F64(v)
            }
            Dtype::I64 => {
                let mut v = vec![0i64; count];
                LittleEndian::read_i64_into(bytes, &mut v);
                NpyData::I64(v)
            }
            Dtype::I32 => {
                let mut v = vec![0i32; count];
                LittleEndian::read_i32_into(bytes, &mut v);
                NpyData::I32(v)
            }
            Dtype::U8 => NpyData::U8(bytes.to_vec()),
        }
    }
}

impl NpyData {
    fn len(&self) -> usize {
        match self {
            NpyData::F32(v) => v.len(),
            NpyData::F64(v) => v.len(),
            NpyData::I64(v) => v.len(),
            NpyData::I32(v) => v.len(),
            NpyData::U8(v) => v.len(),
        }
    }

    fn dtype(&self) -> Dtype {
        match self {
            NpyData::F32(_) => Dtype::F32,
            NpyData::F64(_) => Dtype::F64,
            NpyData::I64(_) => Dtype::I64,
            NpyData::I32(_) => Dtype::I32,
            NpyData::U8(_) => Dtype::U8,
        }
    }
}

impl NpyArray {
    /// The NumPy dtype string of the elements: `"<f4"`, `"<f8"`, `"<i8"`, `"<i4"` or `"|u1"`.
    pub fn dtype(&self) -> &'static str {
        match self.data {
            NpyData::F32(_) => "<f4",
            NpyData::F64(_) => "<f8",
            NpyData::I64(_) => "<i8",
            NpyData::I32(_) => "<i4",
            NpyData::U8(_) => "|u1",
        }
    }

    /// The array as a tensor of `T`.
    ///
    /// Float dtypes convert as `as` casts do (`<f8` → `f32` rounds). Integer dtypes convert to
    /// the float type exactly: an element with no exact `T` representation (beyond 2^24 for
    /// `f32`, 2^53 for `f64`) is an [`Error::InvalidArgument`] naming it. A `data` length that
    /// does not match `shape` is an [`Error::Shape`].
    pub fn to_tensor<T: Element>(&self) -> Result<Tensor<T>> {
        let data: Vec<T> = match &self.data {
            NpyData::F32(v) => v.iter().map(|&x| T::from_f64(f64::from(x))).collect(),
            NpyData::F64(v) => v.iter().map(|&x| T::from_f64(x)).collect(),
            NpyData::I64(v) => ints_to_float(v.iter().copied(), self.dtype())?,
            NpyData::I32(v) => ints_to_float(v.iter().map(|&x| i64::from(x)), self.dtype())?,
            NpyData::U8(v) => v.iter().map(|&x| T::from_f64(f64::from(x))).collect(),
        };
        Tensor::from_vec(data, &self.shape)
    }

    /// An array holding a copy of `t`: `F32` for `Tensor<f32>`, `F64` for `Tensor<f64>`; a
    /// tensor on a device is read back.
    pub fn from_tensor<T: Element>(t: &Tensor<T>) -> Result<NpyArray> {
        let values = t.to_vec()?;
        let data = match T::as_f32(&values) {
            Some(v) => NpyData::F32(v.to_vec()),
            None => NpyData::F64(values.iter().map(|v| v.to_f64()).collect()),
        };
        Ok(NpyArray {
            shape: t.shape().to_vec(),
            data,
        })
    }

    /// The elements as `i64` (labels, indices).
    ///
    /// Integer dtypes widen exactly. Float dtypes convert only if every element is finite,
    /// integral and within `i64`'s range; otherwise an [`Error::InvalidArgument`] names the first
    /// element that is not.
    pub fn to_i64(&self) -> Result<Vec<i64>> {
        match &self.data {
            NpyData::I64(v) => Ok(v.clone()),
            NpyData::I32(v) => Ok(v.iter().map(|&x| i64::from(x)).collect()),
            NpyData::U8(v) => Ok(v.iter().map(|&x| i64::from(x)).collect()),
            NpyData::F32(v) => floats_to_i64(v.iter().map(|&x| f64::from(x)), self.dtype()),
            NpyData::F64(v) => floats_to_i64(v.iter().copied(), self.dtype()),
        }
    }
}

/// Integer elements to `T`, refusing any that `T` cannot hold exactly.
fn ints_to_float<T: Element>(values: impl Iterator<Item = i64>, dtype: &str) -> Result<Vec<T>> {
    values
        .enumerate()
        .map(|(i, v)| {
            let t = T::from_f64(v as f64);
            // The rounded value is integral, so comparing as i128 (no saturation below 2^127)
            // tells whether the conversion was exact.
            if t.to_f64() as i128 == i128::from(v) {
                Ok(t)
            } else {
                Err(Error::invalid(
                    "NpyArray::to_tensor",
                    format!(
                        "element {i} of the {dtype} array is {v}, which {} cannot represent exactly",
                        T::NAME
                    ),
                ))
            }
        })
        .collect()
}

/// Float elements to `i64`, refusing non-integral, non-finite or out-of-range ones.
fn floats_to_i64(values: impl Iterator<Item = f64>, dtype: &str) -> Result<Vec<i64>> {
    // 2^63: the first float beyond i64::MAX; -2^63 is i64::MIN exactly.
    const LIMIT: f64 = 9_223_372_036_854_775_808.0;
    values
        .enumerate()
        .map(|(i, x)| {
            if x.is_finite() && x.fract() == 0.0 && (-LIMIT..LIMIT).contains(&x) {
                Ok(x as i64)
            } else {
                Err(Error::invalid(
                    "NpyArray::to_i64",
                    format!(
                        "element {i} of the {dtype} array is {x}, expected a finite integral value \
                         within the i64 range"
                    ),
                ))
            }
        })
        .collect()
}

/// Reads the `.npy` file at `path`. A path that is not a regular file (a directory, a device, a
/// FIFO) is an [`Error::NotRegularFile`], checked before opening it; a file that cannot be read,
/// an [`Error::Io`]; one that does not follow the format, an [`Error::Format`] (see
/// [`read_npy_bytes`]).
pub fn read_npy(path: impl AsRef<Path>) -> Result<NpyArray> {
    let path = path.as_ref();
    let bytes = read_regular(path)?;
    read_npy_bytes(&bytes, path)
}

/// Parses the bytes of an `.npy` file; `path_for_errors` names it in errors.
///
/// Accepts format versions 1.0, 2.0 and 3.0 and the dtypes `<f4`, `<f8`, `<i8`, `<i4`, `|u1` in
/// C order. Anything else — bad magic, another version, a header that is not a dict with exactly
/// the keys `descr`, `fortran_order` and `shape`, another or a big-endian dtype, Fortran order,
/// a shape whose byte size overflows, data bytes not matching the shape — is an
/// [`Error::Format`] saying what was expected and what was found. Never panics, whatever the
/// bytes.
pub fn read_npy_bytes(bytes: &[u8], path_for_errors: &Path) -> Result<NpyArray> {
    let fail = |message: String| Error::format(path_for_errors, message);

    if !bytes.starts_with(MAGIC) {
        let found = &bytes[..bytes.len().min(MAGIC.len())];
        return Err(if bytes.len() < MAGIC.len() && MAGIC.starts_with(bytes) {
            fail(format!(
                "truncated: the file is {} bytes, shorter than the 6-byte .npy magic",
                bytes.len()
            ))
        } else {
            fail(format!(
                "not an .npy file: expected the magic \"\\x93NUMPY\", found \"{}\"",
                found.escape_ascii()
            ))
        });
    }
    let (major, minor) = match (bytes.get(6), bytes.get(7)) {
        (Some(&a), Some(&b)) => (a, b),
        _ => {
            return Err(fail(format!(
                "truncated: the file is {} bytes, ending inside the version bytes",
                bytes.len()
            )))
        }
    };
    let len_bytes = match (major, minor) {
        (1, 0) => 2,
        (2, 0) | (3, 0) => 4,
        _ => {
            return Err(fail(format!(
                "unsupported .npy format version {major}.{minor} (expected 1.0, 2.0 or 3.0)"
            )))
        }
    };
    let header_start = 8 + len_bytes;
    let Some(len_field) = bytes.get(8..header_start) else {
        return Err(fail(format!(
            "truncated: the file is {} bytes, ending inside the {len_bytes}-byte header length \
             of format {major}.{minor}",
            bytes.len()
        )));
    };
    let header_len = if len_bytes == 2 {
        usize::from(LittleEndian::read_u16(len_field))
    } else {
        // u32 → usize cannot fail on the 32- and 64-bit targets we build for; saturating keeps
        // the bounds check below honest elsewhere.
        usize::try_from(LittleEndian::read_u32(len_field)).unwrap_or(usize::MAX)
    };
    let remaining = bytes.len() - header_start;
    if header_len > remaining {
        return Err(fail(format!(
            "truncated: the header length field says {header_len} bytes but only {remaining} \
             bytes follow it"
        )));
    }
    let header_end = header_start + header_len;
    let raw_header = &bytes[header_start..header_end];
    let text: Vec<char> = if major == 3 {
        match std::str::from_utf8(raw_header) {
            Ok(s) => s.chars().collect(),
            Err(e) => {
                return Err(fail(format!(
                    "the format 3.0 header is not valid UTF-8: {e}"
                )))
            }
        }
    } else {
        // Latin-1: every byte is the code point of the same value.
        raw_header.iter().map(|&b| char::from(b)).collect()
    };
    let header = parse_header(&text).map_err(|m| fail(format!("header: {m}")))?;

    let dtype = Dtype::parse(&header.descr).ok_or_else(|| {
        if header.descr.starts_with('>') || header.descr.starts_with('!') {
            fail(format!(
                "big-endian dtype '{}' is not supported (expected little-endian: {SUPPORTED})",
                escape_text(&header.descr)
            ))
        } else {
            fail(format!(
                "unsupported dtype '{}' (expected one of {SUPPORTED})",
                escape_text(&header.descr)
            ))
        }
    })?;
    // Fortran and C order coincide when at most one axis is longer than 1.
    if header.fortran_order && header.shape.iter().filter(|&&d| d > 1).count() > 1 {
        return Err(fail(format!(
            "fortran_order is True for shape {:?}: only C-order arrays are supported \
             (save with np.ascontiguousarray)",
            header.shape
        )));
    }
    let count = header
        .shape
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d));
    let Some(n_bytes) = count.and_then(|c| c.checked_mul(dtype.item_size())) else {
        return Err(fail(format!(
            "shape {:?} of {} overflows the addressable size",
            header.shape, header.descr
        )));
    };
    let data = &bytes[header_end..];
    if data.len() != n_bytes {
        return Err(fail(format!(
            "data is {} bytes after the header, but shape {:?} of {} needs {n_bytes} bytes",
            data.len(),
            header.shape,
            header.descr
        )));
    }
    let count = n_bytes / dtype.item_size();
    Ok(NpyArray {
        shape: header.shape,
        data: dtype.decode(data, count),
    })
}

/// Writes `array` to `path` in NumPy's own layout: format 1.0 (2.0 when the header exceeds 65535
/// bytes), the header padded with spaces to a multiple of 64 bytes and ending in `\n`.
///
/// Atomic ([`write_atomic`]): a reader never sees a partial file. A `data` length that does not
/// match `shape` is an [`Error::Shape`]; a failed write, an [`Error::Io`].
pub fn write_npy(path: impl AsRef<Path>, array: &NpyArray) -> Result<()> {
    write_atomic(path.as_ref(), &encode_npy(array)?)
}

/// Reads an `.npy` file as a tensor of `T` ([`read_npy`] then [`NpyArray::to_tensor`]).
pub fn read_tensor<T: Element>(path: impl AsRef<Path>) -> Result<Tensor<T>> {
    read_npy(path)?.to_tensor()
}

/// Writes a tensor as `.npy` (`<f4` for `f32`, `<f8` for `f64`), atomically (see [`write_npy`]).
pub fn write_tensor<T: Element>(path: impl AsRef<Path>, t: &Tensor<T>) -> Result<()> {
    write_npy(path, &NpyArray::from_tensor(t)?)
}

/// The full file bytes for `array`.
fn encode_npy(array: &NpyArray) -> Result<Vec<u8>> {
    let len = array.data.len();
    let count = array
        .shape
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d));
    if count != Some(len) {
        return Err(Error::shape(
            "write_npy",
            "data length equal to the shape's element count",
            &[&array.shape, &[len]],
        ));
    }
    let header = encode_header(array.dtype(), &array.shape)?;
    let start = header.len();
    let mut out = header;
    out.resize(start + len * array.data.dtype().item_size(), 0);
    let body = &mut out[start..];
    match &array.data {
        NpyData::F32(v) => LittleEndian::write_f32_into(v, body),
        NpyData::F64(v) => LittleEndian::write_f64_into(v, body),
        NpyData::I64(v) => LittleEndian::write_i64_into(v, body),
        NpyData::I32(v) => LittleEndian::write_i32_into(v, body),
        NpyData::U8(v) => body.copy_from_slice(v),
    }
    Ok(out)
}

/// Magic, version, length and padded header, byte for byte as NumPy's `_write_array_header`.
fn encode_header(descr: &str, shape: &[usize]) -> Result<Vec<u8>> {
    let shape_repr = match shape {
        [] => "()".to_string(),
        [n] => format!("({n},)"),
        _ => {
            let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
            format!("({})", dims.join(", "))
        }
    };
    let mut dict =
        format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape_repr}, }}");
    if let Some(first) = shape.first() {
        let digits = first.to_string().len();
        dict.extend(std::iter::repeat_n(
            ' ',
            GROWTH_AXIS_MAX_DIGITS.saturating_sub(digits),
        ));
    }
    // Version 1.0 when the padded header length fits its u16 field, else 2.0 (u32).
    for (major, len_bytes) in [(1u8, 2usize), (2, 4)] {
        let hlen = dict.len() + 1; // + the final '\n'
        let padlen = ARRAY_ALIGN - (MAGIC.len() + 2 + len_bytes + hlen) % ARRAY_ALIGN;
        let total = hlen + padlen;
        let mut out = Vec::with_capacity(MAGIC.len() + 2 + len_bytes + total);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&[major, 0]);
        if major == 1 {
            let Ok(total) = u16::try_from(total) else {
                continue;
            };
            out.extend_from_slice(&total.to_le_bytes());
        } else {
            let Ok(total) = u32::try_from(total) else {
                break;
            };
            out.extend_from_slice(&total.to_le_bytes());
        }
        out.extend_from_slice(dict.as_bytes());
        out.resize(out.len() + padlen, b' ');
        out.push(b'\n');
        return Ok(out);
    }
    Err(Error::invalid(
        "write_npy",
        format!(
            "the header for a rank-{} shape is {} bytes, beyond the 4 GiB .npy limit",
            shape.len(),
            dict.len()
        ),
    ))
}

/// The three fields of an `.npy` header.
#[derive(Debug)]
struct Header {
    descr: String,
    fortran_order: bool,
    shape: Vec<usize>,
}

/// A Python literal as it may appear in a header.
#[derive(Debug)]
enum Value {
    Str(String),
    Bool(bool),
    None,
    Int(i128),
    Tuple(Vec<Value>),
    List(Vec<Value>),
}

impl Value {
    fn describe(&self) -> String {
        match self {
            Value::Str(s) => format!("the string '{}'", escape_text(s)),
            Value::Bool(b) => if *b { "True" } else { "False" }.to_string(),
            Value::None => "None".to_string(),
            Value::Int(i) => format!("the integer {i}"),
            Value::Tuple(v) => format!("a tuple of {} items", v.len()),
            Value::List(v) => format!("a list of {} items", v.len()),
        }
    }
}

/// Parses the header dict; errors are messages (the caller adds the file).
fn parse_header(text: &[char]) -> std::result::Result<Header, String> {
    let mut p = Parser { s: text, pos: 0 };
    let entries = p.dict()?;
    p.skip_ws();
    if p.pos < p.s.len() {
        return Err(format!(
            "unexpected {} at character {} after the closing '}}'",
            p.show_here(),
            p.pos
        ));
    }
    let (mut descr, mut fortran_order, mut shape) = (None, None, None);
    for (key, value) in entries {
        let slot = match key.as_str() {
            "descr" => &mut descr,
            "fortran_order" => &mut fortran_order,
            "shape" => &mut shape,
            _ => {
                return Err(format!(
                    "unexpected key '{}' (expected exactly 'descr', 'fortran_order', 'shape')",
                    escape_text(&key)
                ))
            }
        };
        if slot.is_some() {
            return Err(format!("duplicate key '{key}'"));
        }
        *slot = Some(value);
    }
    let missing =
        |k: &str| format!("missing key '{k}' (expected 'descr', 'fortran_order', 'shape')");
    let descr = match descr.ok_or_else(|| missing("descr"))? {
        Value::Str(s) => s,
        other @ Value::List(_) => {
            return Err(format!(
                "'descr' is {}: structured dtypes are not supported (expected one of {SUPPORTED})",
                other.describe()
            ))
        }
        other => {
            return Err(format!(
                "'descr' is {}, expected a dtype string",
                other.describe()
            ))
        }
    };
    let fortran_order = match fortran_order.ok_or_else(|| missing("fortran_order"))? {
        Value::Bool(b) => b,
        other => {
            return Err(format!(
                "'fortran_order' is {}, expected True or False",
                other.describe()
            ))
        }
    };
    let shape = match shape.ok_or_else(|| missing("shape"))? {
        Value::Tuple(items) => items
            .iter()
            .enumerate()
            .map(|(i, v)| match v {
                Value::Int(n) => usize::try_from(*n)
                    .map_err(|_| format!("'shape' axis {i} is {n}, expected a non-negative size")),
                other => Err(format!(
                    "'shape' axis {i} is {}, expected an integer",
                    other.describe()
                )),
            })
            .collect::<std::result::Result<Vec<usize>, String>>()?,
        other => {
            return Err(format!(
                "'shape' is {}, expected a tuple of integers such as (2, 3), (3,) or ()",
                other.describe()
            ))
        }
    };
    Ok(Header {
        descr,
        fortran_order,
        shape,
    })
}

/// A recursive-descent parser for the Python literals NumPy writes in headers: a dict with
/// string keys; values that are strings (single or double quotes), `True`/`False`/`None`,
/// integers (optionally signed, optional Python 2 `L` suffix), tuples and lists. Whitespace and
/// trailing commas are allowed wherever Python allows them.
struct Parser<'a> {
    s: &'a [char],
    pos: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<char> {
        self.s.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(' ' | '\t' | '\n' | '\r' | '\x0c')) {
            self.pos += 1;
        }
    }

    fn show_here(&self) -> String {
        match self.peek() {
            Some(c) => format!("{:?}", c),
            None => "the end of the header".to_string(),
        }
    }

    fn expected(&self, what: &str) -> String {
        format!(
            "expected {what} at character {}, found {}",
            self.pos,
            self.show_here()
        )
    }

    fn dict(&mut self) -> std::result::Result<Vec<(String, Value)>, String> {
        self.skip_ws();
        if self.peek() != Some('{') {
            return Err(format!("not a dict literal: {}", self.expected("'{'")));
        }
        self.pos += 1;
        let mut entries = Vec::new();
        loop {
            self.skip_ws();
            if self.peek() == Some('}') {
                self.pos += 1;
                return Ok(entries);
            }
            let key = match self.peek() {
                Some('\'' | '"') => self.string()?,
                _ => return Err(self.expected("a string key or '}'")),
            };
            self.skip_ws();
            if self.peek() != Some(':') {
                return Err(self.expected(&format!("':' after key '{}'", escape_text(&key))));
            }
            self.pos += 1;
            let value = self.value(0)?;
            entries.push((key, value));
            self.skip_ws();
            match self.peek() {
                Some(',') => self.pos += 1,
                Some('}') => {}
                _ => return Err(self.expected("',' or '}'")),
            }
        }
    }

    fn value(&mut self, depth: usize) -> std::result::Result<Value, String> {
        self.skip_ws();
        match self.peek() {
            Some('\'' | '"') => self.string().map(Value::Str),
            Some('(') => self.sequence(depth, ')'),
            Some('[') => self.sequence(depth, ']'),
            Some(c) if c == '-' || c == '+' || c.is_ascii_digit() => self.int(),
            Some(c) if c.is_ascii_alphabetic() => {
                let start = self.pos;
                while self
                    .peek()
                    .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
                {
                    self.pos += 1;
                }
                let word: String = self.s[start..self.pos].iter().collect();
                match word.as_str() {
                    "True" => Ok(Value::Bool(true)),
                    "False" => Ok(Value::Bool(false)),
                    "None" => Ok(Value::None),
                    _ => Err(format!(
                        "expected a value at character {start}, found the name '{word}'"
                    )),
                }
            }
            _ => Err(self.expected("a value")),
        }
    }

    /// A tuple (`close == ')'`) or list (`']'`). `(x)` without a comma is just `x`, as in Python.
    fn sequence(&mut self, depth: usize, close: char) -> std::result::Result<Value, String> {
        if depth >= MAX_NESTING {
            return Err(format!(
                "nesting deeper than {MAX_NESTING} levels at character {}",
                self.pos
            ));
        }
        self.pos += 1; // the opening bracket
        let mut items = Vec::new();
        let mut saw_comma = false;
        loop {
            self.skip_ws();
            if self.peek() == Some(close) {
                self.pos += 1;
                break;
            }
            items.push(self.value(depth + 1)?);
            self.skip_ws();
            match self.peek() {
                Some(',') => {
                    self.pos += 1;
                    saw_comma = true;
                }
                Some(c) if c == close => {}
                _ => return Err(self.expected(&format!("',' or '{close}'"))),
            }
        }
        if close == ']' {
            Ok(Value::List(items))
        } else if items.len() == 1 && !saw_comma {
            Ok(items.pop().unwrap_or(Value::None))
        } else {
            Ok(Value::Tuple(items))
        }
    }

    fn int(&mut self) -> std::result::Result<Value, String> {
        let start = self.pos;
        let negative = match self.peek() {
            Some('-') => {
                self.pos += 1;
                true
            }
            Some('+') => {
                self.pos += 1;
                false
            }
            _ => false,
        };
        let mut n: i128 = 0;
        let mut digits = 0;
        while let Some(d) = self.peek().and_then(|c| c.to_digit(10)) {
            n = n
                .checked_mul(10)
                .and_then(|n| n.checked_add(i128::from(d)))
                .ok_or_else(|| format!("integer at character {start} is too large"))?;
            digits += 1;
            self.pos += 1;
        }
        if digits == 0 {
            return Err(self.expected("a digit"));
        }
        if matches!(self.peek(), Some('L' | 'l')) {
            self.pos += 1; // Python 2 long suffix, as NumPy under Python 2 wrote shapes
        }
        Ok(Value::Int(if negative { -n } else { n }))
    }

    fn string(&mut self) -> std::result::Result<String, String> {
        let start = self.pos;
        let Some(quote) = self.peek() else {
            return Err(self.expected("a string"));
        };
        self.pos += 1;
        let mut out = String::new();
        loop {
            match self.peek() {
                None | Some('\n') => {
                    return Err(format!("unterminated string starting at character {start}"))
                }
                Some('\\') => {
                    self.pos += 1;
                    match self.peek() {
                        Some(c) => out.push(c),
                        None => {
                            return Err(format!(
                                "unterminated string starting at character {start}"
                            ))
                        }
                    }
                    self.pos += 1;
                }
                Some(c) if c == quote => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(c) => {
                    out.push(c);
                    self.pos += 1;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn here() -> &'static Path {
        Path::new("test.npy")
    }

    /// A file with the given version and header text (not padded) followed by `data`.
    fn npy_with_header(major: u8, header: &str, data: &[u8]) -> Vec<u8> {
        let mut out = MAGIC.to_vec();
        out.extend_from_slice(&[major, 0]);
        if major == 1 {
            out.extend_from_slice(&(header.len() as u16).to_le_bytes());
        } else {
            out.extend_from_slice(&(header.len() as u32).to_le_bytes());
        }
        out.extend_from_slice(header.as_bytes());
        out.extend_from_slice(data);
        out
    }

    fn format_message(r: Result<NpyArray>) -> String {
        match r {
            Err(Error::Format { path, message }) => {
                assert_eq!(path, here());
                message
            }
            other => panic!("expected a format error, got {other:?}"),
        }
    }

    fn bad(bytes: &[u8]) -> String {
        format_message(read_npy_bytes(bytes, here()))
    }

    fn bad_header(header: &str, data: &[u8]) -> String {
        bad(&npy_with_header(1, header, data))
    }

    /// A unique scratch path under the system temp dir.
    fn scratch(name: &str) -> PathBuf {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "nidl-npy-test-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        dir.join(name)
    }

    fn sample_arrays() -> Vec<NpyArray> {
        let mut out = Vec::new();
        for shape in [vec![], vec![5], vec![2, 3, 4], vec![0, 3]] {
            let n: usize = shape.iter().product();
            let datas = [
                NpyData::F32((0..n).map(|i| i as f32 * 0.25 - 1.5).collect()),
                NpyData::F64((0..n).map(|i| (i as f64).sin() * 1e-300).collect()),
                NpyData::I64((0..n).map(|i| i as i64 * -1_000_000_000_007).collect()),
                NpyData::I32((0..n).map(|i| i as i32 * -7 + i32::MAX / 2).collect()),
                NpyData::U8((0..n).map(|i| (i * 37 % 256) as u8).collect()),
            ];
            for data in datas {
                out.push(NpyArray {
                    shape: shape.clone(),
                    data,
                });
            }
        }
        out
    }

    #[test]
    fn round_trip_every_dtype_and_rank_in_memory() {
        for a in sample_arrays() {
            let bytes = encode_npy(&a).unwrap();
            assert_eq!(bytes[6..8], [1, 0]);
            let header_len = usize::from(u16::from_le_bytes([bytes[8], bytes[9]]));
            assert_eq!((10 + header_len) % ARRAY_ALIGN, 0, "aligned data start");
            assert_eq!(bytes[9 + header_len], b'\n');
            let b = read_npy_bytes(&bytes, here()).unwrap();
            assert_eq!(a, b, "dtype {} shape {:?}", a.dtype(), a.shape);
        }
    }

    #[test]
    fn round_trip_through_files_is_atomic() {
        for a in sample_arrays() {
            let path = scratch("a.npy");
            write_npy(&path, &a).unwrap();
            assert!(!path.with_extension("npy.tmp").exists());
            let files = std::fs::read_dir(path.parent().unwrap()).unwrap().count();
            assert_eq!(files, 1, "no temporary file left beside {}", path.display());
            assert_eq!(read_npy(&path).unwrap(), a);
            // Overwriting replaces the file wholesale.
            let small = NpyArray {
                shape: vec![],
                data: NpyData::U8(vec![7]),
            };
            write_npy(&path, &small).unwrap();
            assert_eq!(read_npy(&path).unwrap(), small);
            std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
        }
    }

    #[test]
    fn header_matches_numpy_byte_for_byte() {
        // NumPy 1.x/2.x: np.save of a (8, 5) float64 array.
        let mut expect = b"\x93NUMPY\x01\x00\x76\x00".to_vec();
        let dict = "{'descr': '<f8', 'fortran_order': False, 'shape': (8, 5), }";
        expect.extend_from_slice(dict.as_bytes());
        // 20 growth spaces (21 digits minus one for "8"), then padding to 128 bytes.
        expect.resize(127, b' ');
        expect.push(b'\n');
        assert_eq!(encode_header("<f8", &[8, 5]).unwrap(), expect);
        // 0-d and 1-d forms of the shape tuple.
        let h0 = encode_header("|u1", &[]).unwrap();
        assert!(String::from_utf8_lossy(&h0).contains("'shape': (), }"));
        let h1 = encode_header("<i4", &[3]).unwrap();
        assert!(String::from_utf8_lossy(&h1).contains("'shape': (3,), }"));
    }

    #[test]
    fn golden_file_reads_and_rewrites_identically() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/info_nce/z1.npy");
        let a = read_npy(&path).unwrap();
        assert_eq!(a.shape, vec![8, 5]);
        assert_eq!(a.dtype(), "<f8");
        let t: Tensor<f64> = a.to_tensor().unwrap();
        assert_eq!(t.shape(), &[8, 5]);
        assert!(t.data().unwrap().iter().all(|v| v.is_finite()));
        assert_eq!(encode_npy(&a).unwrap(), std::fs::read(&path).unwrap());
    }

    #[test]
    fn version_2_and_3_headers_read() {
        let data: Vec<u8> = [1.5f64, -2.0]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let header = "{'shape': (2,), 'fortran_order': False, 'descr': '<f8'}\n";
        let a = read_npy_bytes(&npy_with_header(2, header, &data), here()).unwrap();
        assert_eq!(a.shape, vec![2]);
        assert_eq!(a.data, NpyData::F64(vec![1.5, -2.0]));
        let b = read_npy_bytes(&npy_with_header(3, header, &data), here()).unwrap();
        assert_eq!(a, b);
        // 3.0 headers are UTF-8; invalid UTF-8 is a format error.
        let mut bytes = npy_with_header(3, header, &data);
        bytes[12] = 0xff;
        assert!(bad(&bytes).contains("UTF-8"));
    }

    #[test]
    fn huge_header_is_written_as_version_2() {
        // A rank-30000 shape of ones: the header alone is over 65535 bytes.
        let a = NpyArray {
            shape: vec![1; 30_000],
            data: NpyData::I32(vec![42]),
        };
        let bytes = encode_npy(&a).unwrap();
        assert_eq!(bytes[6..8], [2, 0]);
        let header_len = u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize;
        assert!(header_len > 65535);
        assert_eq!((12 + header_len) % ARRAY_ALIGN, 0);
        assert_eq!(read_npy_bytes(&bytes, here()).unwrap(), a);
    }

    #[test]
    fn header_syntax_variants_parse() {
        let d4 = [0u8; 4];
        for header in [
            "{'descr': '<i4', 'fortran_order': False, 'shape': (1,), }",
            "{\"descr\":\"<i4\",\"fortran_order\":False,\"shape\":(1,)}",
            "  {  'fortran_order' : False ,\n 'shape' : ( 1 , ) , 'descr' : '<i4' , }  \n",
            "{'descr': '<i4', 'fortran_order': False, 'shape': (1L,), }",
            "{'descr': '<i4', 'fortran_order': True, 'shape': (1,), }",
        ] {
            let a = read_npy_bytes(&npy_with_header(1, header, &d4), here())
                .unwrap_or_else(|e| panic!("{header}: {e}"));
            assert_eq!(a.shape, vec![1]);
            assert_eq!(a.data, NpyData::I32(vec![0]));
        }
        let a = read_npy_bytes(
            &npy_with_header(
                1,
                "{'descr': '|u1', 'fortran_order': False, 'shape': ()}",
                &[9],
            ),
            here(),
        )
        .unwrap();
        assert_eq!(
            (a.shape.as_slice(), &a.data),
            (&[][..], &NpyData::U8(vec![9]))
        );
    }

    #[test]
    fn bad_magic_and_truncation() {
        assert!(bad(b"").contains("truncated"));
        assert!(bad(b"\x93NUM").contains("truncated"));
        let m = bad(b"PK\x03\x04 this is a zip");
        assert!(m.contains("magic") && m.contains("PK"), "{m}");
        assert!(bad(b"\x93NUMPY").contains("version"));
        assert!(bad(b"\x93NUMPY\x01\x00\x10").contains("header length"));
        let m = bad(b"\x93NUMPY\x01\x00\x10\x00{'descr'");
        assert!(
            m.contains("says 16 bytes") && m.contains("only 8 bytes"),
            "{m}"
        );
    }

    #[test]
    fn unsupported_version() {
        for (maj, min) in [(0u8, 0u8), (1, 1), (4, 0), (2, 5)] {
            let mut b = npy_with_header(1, "{}", &[]);
            b[6] = maj;
            b[7] = min;
            let m = bad(&b);
            assert!(m.contains(&format!("version {maj}.{min}")), "{m}");
        }
    }

    #[test]
    fn header_not_a_dict() {
        for header in [
            "['descr', '<f8']",
            "'descr'",
            "",
            "   ",
            "{'descr': '<f8'",
            "{'descr' '<f8'}",
        ] {
            let m = bad_header(header, &[]);
            assert!(m.starts_with("header:"), "{header}: {m}");
        }
        assert!(bad_header("[1]", &[]).contains("not a dict"));
        let m = bad_header(
            "{'descr': '<f8', 'fortran_order': False, 'shape': (), } x",
            &[0; 8],
        );
        assert!(m.contains("after the closing"), "{m}");
        let m = bad_header("{1: 2}", &[]);
        assert!(m.contains("string key"), "{m}");
    }

    #[test]
    fn missing_and_extra_keys() {
        for (header, key) in [
            ("{'fortran_order': False, 'shape': ()}", "descr"),
            ("{'descr': '<f8', 'shape': ()}", "fortran_order"),
            ("{'descr': '<f8', 'fortran_order': False}", "shape"),
        ] {
            let m = bad_header(header, &[0; 8]);
            assert!(m.contains(&format!("missing key '{key}'")), "{m}");
        }
        let m = bad_header(
            "{'descr': '<f8', 'fortran_order': False, 'shape': (), 'extra': 1}",
            &[0; 8],
        );
        assert!(m.contains("unexpected key 'extra'"), "{m}");
        let m = bad_header(
            "{'descr': '<f8', 'descr': '<f8', 'fortran_order': False, 'shape': ()}",
            &[0; 8],
        );
        assert!(m.contains("duplicate key 'descr'"), "{m}");
    }

    #[test]
    fn unsupported_and_big_endian_dtypes() {
        for descr in ["<c16", "<u1", "|i1", "|b1", "<f2", "<U5", "=f8"] {
            let h = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': (), }}");
            let m = bad_header(&h, &[0; 8]);
            assert!(m.contains(&format!("unsupported dtype '{descr}'")), "{m}");
            assert!(m.contains("<f4, <f8"), "{m}");
        }
        for descr in [">f8", ">i4", "!f4"] {
            let h = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': (), }}");
            let m = bad_header(&h, &[0; 8]);
            assert!(m.contains("big-endian") && m.contains(descr), "{m}");
        }
        let m = bad_header(
            "{'descr': [('a', '<f8')], 'fortran_order': False, 'shape': (), }",
            &[0; 8],
        );
        assert!(m.contains("structured"), "{m}");
        let m = bad_header(
            "{'descr': 8, 'fortran_order': False, 'shape': (), }",
            &[0; 8],
        );
        assert!(m.contains("'descr' is the integer 8"), "{m}");
    }

    #[test]
    fn fortran_order_is_rejected() {
        let m = bad_header(
            "{'descr': '<f8', 'fortran_order': True, 'shape': (2, 3), }",
            &[0; 48],
        );
        assert!(
            m.contains("fortran_order is True") && m.contains("C-order"),
            "{m}"
        );
        let m = bad_header(
            "{'descr': '<f8', 'fortran_order': 0, 'shape': (2, 3), }",
            &[0; 48],
        );
        assert!(m.contains("True or False"), "{m}");
    }

    #[test]
    fn bad_shapes() {
        for (shape, needle) in [
            ("3", "expected a tuple"),
            ("(3)", "expected a tuple"),
            ("[3]", "expected a tuple"),
            ("(-1,)", "non-negative"),
            ("(2, 'a')", "axis 1"),
            ("(2, None)", "axis 1 is None"),
            ("(1e3,)", "',' or ')'"),
            ("(99999999999999999999999999999999999999999,)", "too large"),
        ] {
            let h = format!("{{'descr': '<f8', 'fortran_order': False, 'shape': {shape}, }}");
            let m = bad_header(&h, &[]);
            assert!(m.contains(needle), "{shape}: {m}");
        }
        let h = "{'descr': '<f8', 'fortran_order': False, 'shape': (4294967296, 4294967296, 8), }";
        let m = bad_header(h, &[]);
        assert!(m.contains("overflows"), "{m}");
        // The byte count (not just the element count) overflows.
        let h = format!(
            "{{'descr': '<f8', 'fortran_order': False, 'shape': ({},), }}",
            usize::MAX / 4
        );
        assert!(bad_header(&h, &[]).contains("overflows"));
        let deep = format!(
            "{{'descr': '<f8', 'fortran_order': False, 'shape': {}1{}, }}",
            "(".repeat(1000),
            ")".repeat(1000)
        );
        assert!(bad_header(&deep, &[]).contains("nesting"));
    }

    #[test]
    fn data_length_mismatch_names_both_byte_counts() {
        let h = "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }";
        let m = bad_header(h, &[0; 40]);
        assert!(m.contains("40 bytes") && m.contains("48 bytes"), "{m}");
        let m = bad_header(h, &[0; 49]);
        assert!(m.contains("49 bytes") && m.contains("48 bytes"), "{m}");
        let h0 = "{'descr': '<i4', 'fortran_order': False, 'shape': (), }";
        let m = bad_header(h0, &[]);
        assert!(m.contains("0 bytes") && m.contains("4 bytes"), "{m}");
    }

    #[test]
    fn missing_file_is_io_error() {
        let path = scratch("does-not-exist.npy");
        match read_npy(&path) {
            Err(Error::Io { path: p, .. }) => assert_eq!(p, path),
            other => panic!("expected an I/O error, got {other:?}"),
        }
        let into_missing_dir = path.join("sub/x.npy");
        let a = NpyArray {
            shape: vec![],
            data: NpyData::U8(vec![1]),
        };
        assert!(matches!(
            write_npy(&into_missing_dir, &a),
            Err(Error::Io { .. })
        ));
        std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
    }

    #[test]
    fn inconsistent_array_is_not_written() {
        let a = NpyArray {
            shape: vec![2, 2],
            data: NpyData::F64(vec![1.0; 3]),
        };
        let path = scratch("bad.npy");
        assert!(matches!(write_npy(&path, &a), Err(Error::Shape { .. })));
        assert!(!path.exists());
        std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
        assert!(matches!(a.to_tensor::<f64>(), Err(Error::Shape { .. })));
    }

    #[test]
    fn tensor_conversions() {
        let t = Tensor::<f32>::from_vec(vec![1.0, -2.5, 3.25, 0.1], &[2, 2]).unwrap();
        let a = NpyArray::from_tensor(&t).unwrap();
        assert_eq!(a.dtype(), "<f4");
        assert_eq!(a.to_tensor::<f32>().unwrap(), t);
        let t64 = Tensor::<f64>::from_vec(vec![0.1, 0.2], &[2]).unwrap();
        let a64 = NpyArray::from_tensor(&t64).unwrap();
        assert_eq!(a64.dtype(), "<f8");
        assert_eq!(
            a64.to_tensor::<f32>().unwrap().data().unwrap(),
            &[0.1f32, 0.2f32]
        );

        let path = scratch("t.npy");
        write_tensor(&path, &t64).unwrap();
        assert_eq!(read_tensor::<f64>(&path).unwrap(), t64);
        std::fs::remove_dir_all(path.parent().unwrap()).unwrap();

        // Integers convert exactly, or not at all.
        let ints = NpyArray {
            shape: vec![3],
            data: NpyData::I64(vec![-3, 0, 1 << 53]),
        };
        assert_eq!(
            ints.to_tensor::<f64>().unwrap().data().unwrap(),
            &[-3.0, 0.0, 9007199254740992.0]
        );
        let inexact = NpyArray {
            shape: vec![1],
            data: NpyData::I64(vec![(1 << 53) + 1]),
        };
        assert!(matches!(
            inexact.to_tensor::<f64>(),
            Err(Error::InvalidArgument { .. })
        ));
        let i32s = NpyArray {
            shape: vec![2],
            data: NpyData::I32(vec![16_777_216, 16_777_217]),
        };
        assert!(i32s.to_tensor::<f64>().is_ok());
        let m = i32s.to_tensor::<f32>().unwrap_err().to_string();
        assert!(m.contains("element 1") && m.contains("16777217"), "{m}");
        let bytes = NpyArray {
            shape: vec![2],
            data: NpyData::U8(vec![0, 255]),
        };
        assert_eq!(
            bytes.to_tensor::<f32>().unwrap().data().unwrap(),
            &[0.0, 255.0]
        );
    }

    #[test]
    fn to_i64_conversions() {
        let cases = [
            (NpyData::I64(vec![i64::MIN, 5]), Some(vec![i64::MIN, 5])),
            (NpyData::I32(vec![-1, 7]), Some(vec![-1, 7])),
            (NpyData::U8(vec![0, 255]), Some(vec![0, 255])),
            (NpyData::F64(vec![-2.0, 3.0, -0.0]), Some(vec![-2, 3, 0])),
            (NpyData::F32(vec![9.0, 1e9]), Some(vec![9, 1_000_000_000])),
            (NpyData::F64(vec![1.0, 1.5]), None),
            (NpyData::F64(vec![f64::NAN]), None),
            (NpyData::F32(vec![f32::INFINITY]), None),
            (NpyData::F64(vec![9.3e18]), None),
            (
                NpyData::F64(vec![-9_223_372_036_854_775_808.0]),
                Some(vec![i64::MIN]),
            ),
        ];
        for (data, expect) in cases {
            let a = NpyArray {
                shape: vec![data.len()],
                data,
            };
            match (a.to_i64(), expect) {
                (Ok(v), Some(e)) => assert_eq!(v, e),
                (Err(Error::InvalidArgument { message, .. }), None) => {
                    assert!(message.contains("element"), "{message}")
                }
                (got, e) => panic!("{a:?}: got {got:?}, expected {e:?}"),
            }
        }
    }

    /// A 64-bit linear congruential generator (Knuth's MMIX constants); high bits are used.
    struct Lcg(u64);
    impl Lcg {
        fn next(&mut self) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            self.0 >> 33
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    /// Parses without panicking; an array returned is consistent: its shape's product is its
    /// element count, its elements are the input's data bytes exactly, and writing it then reading
    /// that back gives the same array. Returns whether `bytes` were accepted.
    fn check_no_panic(bytes: &[u8]) -> bool {
        match read_npy_bytes(bytes, here()) {
            Ok(a) => {
                assert_eq!(a.shape.iter().product::<usize>(), a.data.len());
                let written = encode_npy(&a).unwrap();
                let data_len = a.data.len() * a.data.dtype().item_size();
                assert!(bytes.ends_with(&written[written.len() - data_len..]));
                let again = read_npy_bytes(&written, here()).unwrap();
                assert_eq!((&again.shape, again.dtype()), (&a.shape, a.dtype()));
                assert_eq!(encode_npy(&again).unwrap(), written);
                true
            }
            Err(Error::Format { .. }) => false,
            Err(e) => panic!("unexpected error kind: {e:?}"),
        }
    }

    /// One random edit of a valid file: a bit flip, a byte replaced (by noise or a header
    /// character), bytes inserted or removed, a truncation, or a changed header-length field or
    /// shape digit.
    fn mutate(rng: &mut Lcg, bytes: &mut Vec<u8>, alphabet: &[u8]) {
        let at = rng.below(bytes.len());
        match rng.below(7) {
            0 => bytes[at] ^= 1 << rng.below(8),
            1 => {
                bytes[at] = if rng.below(2) == 0 {
                    alphabet[rng.below(alphabet.len())]
                } else {
                    rng.next() as u8
                }
            }
            2 => {
                let n = 1 + rng.below(8);
                let fill: Vec<u8> = (0..n)
                    .map(|_| alphabet[rng.below(alphabet.len())])
                    .collect();
                bytes.splice(at..at, fill);
            }
            3 => {
                let end = (at + 1 + rng.below(8)).min(bytes.len());
                bytes.drain(at..end);
            }
            4 => bytes.truncate(at),
            5 => {
                // The header-length field: a small shift or any value (u16 in 1.0, u32 above).
                let wide = bytes.get(6).is_some_and(|&v| v > 1);
                let field = if wide { 8..12 } else { 8..10 };
                if bytes.len() >= field.end {
                    let old = bytes[field.clone()]
                        .iter()
                        .rev()
                        .fold(0u64, |a, &b| a << 8 | u64::from(b));
                    let new = if rng.below(2) == 0 {
                        old.wrapping_add(rng.below(33) as u64).wrapping_sub(16)
                    } else {
                        rng.next() << 8 ^ rng.next()
                    };
                    for (i, k) in field.enumerate() {
                        bytes[k] = (new >> (8 * i)) as u8;
                    }
                }
            }
            _ => {
                // A digit of the shape (or any digit) replaced, or more digits added.
                let digits: Vec<usize> = (0..bytes.len())
                    .filter(|&i| bytes[i].is_ascii_digit())
                    .collect();
                if !digits.is_empty() {
                    let i = digits[rng.below(digits.len())];
                    let d = b'0' + rng.below(10) as u8;
                    if rng.below(2) == 0 {
                        bytes[i] = d;
                    } else {
                        bytes.insert(i, d);
                    }
                }
            }
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        let mut rng = Lcg(0x5eed);
        let valid = encode_npy(&NpyArray {
            shape: vec![2, 3],
            data: NpyData::I32(vec![1, 2, 3, 4, 5, 6]),
        })
        .unwrap();
        // Every truncation of a valid file is an error; the whole file parses.
        for cut in 0..valid.len() {
            assert!(!check_no_panic(&valid[..cut]), "truncated at {cut}");
        }
        assert!(check_no_panic(&valid));
        // Pure noise, noise after a valid magic and version, and noise from header characters.
        let alphabet = b"{}()[],:'\" \n0123456789-LTrueFalsNonedscrphaptiox_<>|f4i8u1";
        for round in 0..3000 {
            let len = rng.below(160);
            let mut bytes: Vec<u8> = match round % 3 {
                0 => Vec::new(),
                1 => {
                    let mut v = MAGIC.to_vec();
                    v.extend_from_slice(&[1 + rng.below(3) as u8, 0]);
                    v
                }
                _ => {
                    let mut v = MAGIC.to_vec();
                    v.extend_from_slice(&[1, 0, len as u8, 0]);
                    v
                }
            };
            for _ in 0..len {
                let b = if round % 3 == 2 {
                    alphabet[rng.below(alphabet.len())]
                } else {
                    rng.next() as u8
                };
                bytes.push(b);
            }
            check_no_panic(&bytes);
        }
        // One to three edits of valid files of every dtype, ranks 0 to 3, versions 1.0 to 3.0.
        let bases = [
            valid,
            encode_npy(&NpyArray {
                shape: vec![4],
                data: NpyData::F64(vec![0.5, -1.0, f64::NAN, 1e300]),
            })
            .unwrap(),
            encode_npy(&NpyArray {
                shape: vec![],
                data: NpyData::U8(vec![7]),
            })
            .unwrap(),
            encode_npy(&NpyArray {
                shape: vec![1, 2, 2],
                data: NpyData::F32(vec![1.0, 2.0, f32::INFINITY, -0.0]),
            })
            .unwrap(),
            npy_with_header(
                2,
                "{'descr': '<i8', 'fortran_order': False, 'shape': (0, 3), }\n",
                &[],
            ),
            npy_with_header(
                3,
                "{'descr': '<i4', 'fortran_order': True, 'shape': (2,), }\n",
                &[1, 0, 0, 0, 2, 0, 0, 0],
            ),
        ];
        let mut accepted = 0;
        for round in 0..6000 {
            let mut bytes = bases[round % bases.len()].clone();
            for _ in 0..1 + rng.below(3) {
                if bytes.is_empty() {
                    break;
                }
                mutate(&mut rng, &mut bytes, alphabet);
            }
            accepted += usize::from(check_no_panic(&bytes));
        }
        // Edits of the data bytes (and of header spaces) are accepted: the checks above ran.
        assert!(accepted > 50, "only {accepted} mutated files accepted");
    }
}

//! Checkpoints in the safetensors format, so PyTorch (`safetensors.torch.load_file`) can read the
//! encoder weights directly.
//!
//! Layout (<https://github.com/huggingface/safetensors>):
//!
//! ```text
//! u64 (little-endian)  N = length of the JSON header in bytes
//! N bytes              JSON: {"__metadata__": {"key": "value", ...},
//!                             "name": {"dtype": "F32" | "F64" | "I64", "shape": [..],
//!                                      "data_offsets": [begin, end]}, ...}
//!                      (padded with spaces to a multiple of 8)
//! rest                 the tensors' little-endian bytes; offsets are relative to the start of
//!                      this buffer
//! ```
//!
//! The trainer stores the model as `encoder.<name>` / `head.<name>` (PyTorch `state_dict`
//! names), the optimizer state as `optimizer.<name>`, and epoch, global step, seed and the
//! estimator's own settings in `__metadata__` (see [`crate::train::Trainer`]). Files are written
//! atomically (temporary file, then rename), so a crash never leaves a half-written checkpoint
//! under the final name. Reading checks every header field and offset and names the file and the
//! field at fault; as Python's `safetensors` does, the tensors' `data_offsets` must cover the data
//! section exactly (no gap, no overlap, no byte left over), so a file with bytes inserted or
//! appended is refused. Checkpoints hold finite values only: writing one with a NaN or infinite
//! float is an error naming the tensor (nothing is written), and so is reading one.

use crate::atomic_file::write_atomic;
use crate::error::{escape_text, Error, Result};
use crate::input_file::read_regular;
use crate::tensor::{Element, Tensor};
use std::collections::BTreeMap;
use std::path::Path;

/// The largest JSON header accepted when reading (safetensors' own limit is 100 MB).
pub const MAX_HEADER_BYTES: u64 = 100 * 1024 * 1024;

/// One stored tensor.
#[derive(Clone, Debug, PartialEq)]
pub enum StoredTensor {
    /// `F32` data.
    F32(Tensor<f32>),
    /// `F64` data.
    F64(Tensor<f64>),
    /// `I64` data with its shape.
    I64 {
        /// The shape.
        shape: Vec<usize>,
        /// The elements, row-major.
        data: Vec<i64>,
    },
}

impl StoredTensor {
    fn dtype(&self) -> &'static str {
        match self {
            StoredTensor::F32(_) => "F32",
            StoredTensor::F64(_) => "F64",
            StoredTensor::I64 { .. } => "I64",
        }
    }

    fn shape(&self) -> &[usize] {
        match self {
            StoredTensor::F32(t) => t.shape(),
            StoredTensor::F64(t) => t.shape(),
            StoredTensor::I64 { shape, .. } => shape,
        }
    }

    /// Appends the little-endian bytes (a tensor on a device is read back); errors naming
    /// tensor `name` if a float value is NaN or infinite.
    fn write_bytes(&self, name: &str, out: &mut Vec<u8>) -> Result<()> {
        match self {
            StoredTensor::F32(t) => put_finite(&t.host_values()?, name, out, f32::to_le_bytes),
            StoredTensor::F64(t) => put_finite(&t.host_values()?, name, out, f64::to_le_bytes),
            StoredTensor::I64 { data, .. } => {
                data.iter()
                    .for_each(|v| out.extend_from_slice(&v.to_le_bytes()));
                Ok(())
            }
        }
    }

    fn byte_len(&self) -> usize {
        let n: usize = self.shape().iter().product();
        n * 8
            / if matches!(self, StoredTensor::F32(_)) {
                2
            } else {
                1
            }
    }
}

/// Appends `values` as little-endian bytes (`le` converts one), unless one is NaN or infinite:
/// then an error naming tensor `name` and the first such value.
fn put_finite<T: Element, const N: usize>(
    values: &[T],
    name: &str,
    out: &mut Vec<u8>,
    le: fn(T) -> [u8; N],
) -> Result<()> {
    if let Some(what) = first_non_finite(values) {
        return Err(Error::NonFinite {
            what: format!("tensor '{name}' ({what}): a checkpoint is never written with one"),
        });
    }
    values.iter().for_each(|&v| out.extend_from_slice(&le(v)));
    Ok(())
}

/// `None` when every value is finite, else the first NaN or infinity, its index and how many
/// there are, in words.
fn first_non_finite<T: Element>(values: &[T]) -> Option<String> {
    let i = values.iter().position(|v| !v.is_finite())?;
    let count = values.iter().filter(|v| !v.is_finite()).count();
    Some(format!(
        "{} at element {i} of {}, {count} non-finite in all",
        values[i],
        values.len()
    ))
}

/// A set of named tensors plus string metadata: what one safetensors file holds.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Checkpoint {
    /// The tensors, in file order (names unique).
    pub tensors: Vec<(String, StoredTensor)>,
    /// The `__metadata__` map.
    pub metadata: BTreeMap<String, String>,
}

impl Checkpoint {
    /// An empty checkpoint.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) a tensor.
    pub fn insert(&mut self, name: impl Into<String>, tensor: StoredTensor) {
        let name = name.into();
        match self.tensors.iter_mut().find(|(n, _)| *n == name) {
            Some(slot) => slot.1 = tensor,
            None => self.tensors.push((name, tensor)),
        }
    }

    /// Adds every `(name, tensor)` of `state` as `F32`, each name prefixed by `prefix`.
    pub fn insert_f32_state(&mut self, prefix: &str, state: Vec<(String, Tensor<f32>)>) {
        for (n, t) in state {
            self.insert(format!("{prefix}{n}"), StoredTensor::F32(t));
        }
    }

    /// The tensor called `name`, if any.
    pub fn get(&self, name: &str) -> Option<&StoredTensor> {
        self.tensors.iter().find(|(n, _)| n == name).map(|(_, t)| t)
    }

    /// Every `F32` tensor whose name starts with `prefix`, with the prefix removed; errors if one
    /// of them is stored with another dtype.
    pub fn f32_state(&self, prefix: &str) -> Result<Vec<(String, Tensor<f32>)>> {
        let mut out = Vec::new();
        for (n, t) in &self.tensors {
            if let Some(rest) = n.strip_prefix(prefix) {
                match t {
                    StoredTensor::F32(t) => out.push((rest.to_string(), t.clone())),
                    other => {
                        return Err(Error::invalid(
                            "Checkpoint::f32_state",
                            format!(
                                "tensor '{}' is {}, expected F32",
                                escape_text(n),
                                other.dtype()
                            ),
                        ))
                    }
                }
            }
        }
        Ok(out)
    }

    /// A metadata value, or an error naming the missing key and `path`.
    pub fn meta(&self, key: &str, path: &Path) -> Result<&str> {
        self.metadata
            .get(key)
            .map(String::as_str)
            .ok_or_else(|| Error::format(path, format!("checkpoint metadata has no '{key}' entry")))
    }

    /// A metadata value parsed as `T`, or an error naming the key and `path`.
    pub fn meta_parse<T: std::str::FromStr>(&self, key: &str, path: &Path) -> Result<T> {
        let v = self.meta(key, path)?;
        v.parse().map_err(|_| {
            Error::format(
                path,
                format!(
                    "checkpoint metadata '{key}' = '{}' is not valid",
                    escape_text(v)
                ),
            )
        })
    }

    /// The file's bytes.
    ///
    /// Errors: [`Error::NonFinite`] naming the first tensor with a NaN or infinite value; a
    /// reserved (`__metadata__`) or repeated tensor name.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let mut header = String::from("{");
        let mut first = true;
        if !self.metadata.is_empty() {
            header.push_str("\"__metadata__\":{");
            for (i, (k, v)) in self.metadata.iter().enumerate() {
                if i > 0 {
                    header.push(',');
                }
                header.push_str(&json_string(k));
                header.push(':');
                header.push_str(&json_string(v));
            }
            header.push('}');
            first = false;
        }
        let mut offset = 0usize;
        for (i, (name, t)) in self.tensors.iter().enumerate() {
            if name == "__metadata__" || self.tensors[..i].iter().any(|(n, _)| n == name) {
                return Err(Error::invalid(
                    "Checkpoint::to_bytes",
                    format!("tensor name '{name}' is reserved or repeated"),
                ));
            }
            if !first {
                header.push(',');
            }
            first = false;
            let len = t.byte_len();
            let shape: Vec<String> = t.shape().iter().map(|d| d.to_string()).collect();
            header.push_str(&format!(
                "{}:{{\"dtype\":\"{}\",\"shape\":[{}],\"data_offsets\":[{},{}]}}",
                json_string(name),
                t.dtype(),
                shape.join(","),
                offset,
                offset + len
            ));
            offset += len;
        }
        header.push('}');
        while header.len() % 8 != 0 {
            header.push(' ');
        }
        let mut out = Vec::with_capacity(8 + header.len() + offset);
        out.extend_from_slice(&(header.len() as u64).to_le_bytes());
        out.extend_from_slice(header.as_bytes());
        for (name, t) in &self.tensors {
            t.write_bytes(name, &mut out)?;
        }
        Ok(out)
    }

    /// Writes the checkpoint to `path` atomically (temporary file in the same folder, then
    /// rename): an existing file at `path` is replaced only by a complete new one. Nothing is
    /// written when [`to_bytes`](Self::to_bytes) fails (a non-finite value, say).
    pub fn save(&self, path: &Path) -> Result<()> {
        write_atomic(path, &self.to_bytes()?)
    }

    /// Reads a checkpoint written by [`save`](Self::save) (or any safetensors file holding only
    /// `F32`, `F64` and `I64` tensors). Errors name `path` and the field at fault; a path that is
    /// not a regular file is an [`Error::NotRegularFile`] (see [`crate::input_file`]).
    pub fn load(path: &Path) -> Result<Self> {
        let bytes = read_regular(path)?;
        Self::from_bytes(&bytes, path)
    }

    /// Parses a safetensors file's bytes (`path` only names the file in errors): header fields,
    /// offsets within the data, byte counts matching shapes and dtypes, the data section covered
    /// exactly by the tensors, and every float finite.
    pub fn from_bytes(bytes: &[u8], path: &Path) -> Result<Self> {
        let bad =
            |m: String| Error::format(path, format!("not a valid safetensors checkpoint: {m}"));
        if bytes.len() < 8 {
            return Err(bad(format!(
                "{} bytes, shorter than the 8-byte header length",
                bytes.len()
            )));
        }
        let mut len8 = [0u8; 8];
        len8.copy_from_slice(&bytes[..8]);
        let n = u64::from_le_bytes(len8);
        if n > MAX_HEADER_BYTES || n > (bytes.len() - 8) as u64 {
            return Err(bad(format!(
                "header length {n} exceeds the file ({} bytes) or the 100 MB limit",
                bytes.len()
            )));
        }
        let n = n as usize;
        let text = std::str::from_utf8(&bytes[8..8 + n])
            .map_err(|e| bad(format!("header is not UTF-8 ({e})")))?;
        let data = &bytes[8 + n..];
        let json = Json::parse(text).map_err(|m| bad(format!("header JSON: {m}")))?;
        let Json::Object(entries_json) = json else {
            return Err(bad("header is not a JSON object".into()));
        };
        let mut ck = Checkpoint::new();
        let mut entries: Vec<Entry> = Vec::new();
        for (name, value) in entries_json {
            if name == "__metadata__" {
                let Json::Object(m) = value else {
                    return Err(bad("__metadata__ is not an object".into()));
                };
                for (k, v) in m {
                    match v {
                        Json::String(s) => {
                            ck.metadata.insert(k, s);
                        }
                        _ => {
                            return Err(bad(format!(
                                "__metadata__ entry '{}' is not a string",
                                escape_text(&k)
                            )))
                        }
                    }
                }
                continue;
            }
            let shown = escape_text(&name);
            if entries.iter().any(|e| e.name == name) {
                return Err(bad(format!("tensor '{shown}' appears twice")));
            }
            let Json::Object(fields) = value else {
                return Err(bad(format!("entry '{shown}' is not an object")));
            };
            let field = |f: &str| fields.iter().find(|(k, _)| k == f).map(|(_, v)| v);
            let dtype = match field("dtype") {
                Some(Json::String(s)) => s.clone(),
                _ => {
                    return Err(bad(format!(
                        "tensor '{shown}': missing string field 'dtype'"
                    )))
                }
            };
            let ints = |f: &str| -> Result<Vec<usize>> {
                match field(f) {
                    Some(Json::Array(items)) => items
                        .iter()
                        .map(|v| match v {
                            Json::Number(s) => s.parse::<usize>().map_err(|_| {
                                bad(format!(
                                    "tensor '{shown}': {f} entry {s} is not a non-negative integer"
                                ))
                            }),
                            _ => Err(bad(format!("tensor '{shown}': {f} holds a non-number"))),
                        })
                        .collect(),
                    _ => Err(bad(format!("tensor '{shown}': missing array field '{f}'"))),
                }
            };
            let shape = ints("shape")?;
            let offs = ints("data_offsets")?;
            if offs.len() != 2 || offs[0] > offs[1] || offs[1] > data.len() {
                return Err(bad(format!(
                    "tensor '{shown}': data_offsets {offs:?} outside the {} data bytes",
                    data.len()
                )));
            }
            let count = shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
            let elem = match dtype.as_str() {
                "F32" => 4,
                "F64" | "I64" => 8,
                other => {
                    return Err(bad(format!(
                        "tensor '{shown}': unsupported dtype '{}' (expected F32, F64 or I64)",
                        escape_text(other)
                    )))
                }
            };
            let (begin, end) = (offs[0], offs[1]);
            if count.and_then(|c| c.checked_mul(elem)) != Some(end - begin) {
                return Err(bad(format!("tensor '{shown}': shape {shape:?} of {dtype} needs a different byte count than data_offsets [{begin}, {end}]")));
            }
            entries.push(Entry {
                name,
                dtype,
                shape,
                begin,
                end,
            });
        }
        check_coverage(&entries, data.len()).map_err(bad)?;
        for Entry {
            name,
            dtype,
            shape,
            begin,
            end,
        } in entries
        {
            let raw = &data[begin..end];
            let t = match dtype.as_str() {
                "F32" => StoredTensor::F32(Tensor::from_vec(
                    raw.chunks_exact(4)
                        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                        .collect(),
                    &shape,
                )?),
                "F64" => StoredTensor::F64(Tensor::from_vec(
                    raw.chunks_exact(8)
                        .map(|c| f64::from_le_bytes(arr8(c)))
                        .collect(),
                    &shape,
                )?),
                _ => StoredTensor::I64 {
                    shape,
                    data: raw
                        .chunks_exact(8)
                        .map(|c| i64::from_le_bytes(arr8(c)))
                        .collect(),
                },
            };
            let non_finite = match &t {
                StoredTensor::F32(x) => first_non_finite(x.data()?),
                StoredTensor::F64(x) => first_non_finite(x.data()?),
                StoredTensor::I64 { .. } => None,
            };
            if let Some(what) = non_finite {
                return Err(Error::format(
                    path,
                    format!(
                        "tensor '{}' holds a non-finite value ({what}); a checkpoint with NaN \
                         or infinite values is refused",
                        escape_text(&name)
                    ),
                ));
            }
            ck.tensors.push((name, t));
        }
        Ok(ck)
    }
}

/// A tensor's header entry, checked but not yet read.
struct Entry {
    name: String,
    dtype: String,
    shape: Vec<usize>,
    begin: usize,
    end: usize,
}

/// Checks that the tensors' `data_offsets` cover the `len` data bytes exactly, as safetensors
/// requires ("file not fully covered"): sorted by offset, the first starts at 0, each starts
/// where the previous one ends (no gap, no overlap), the last ends at `len`. The error names the
/// offending tensor and its offsets.
fn check_coverage(entries: &[Entry], len: usize) -> std::result::Result<(), String> {
    let mut spans: Vec<(usize, usize, String)> = entries
        .iter()
        .map(|e| (e.begin, e.end, escape_text(&e.name).to_string()))
        .collect();
    spans.sort_unstable();
    let mut covered = 0;
    let mut previous: Option<&str> = None;
    for (begin, end, name) in &spans {
        let (begin, end) = (*begin, *end);
        match previous {
            _ if begin == covered => {}
            Some(p) if begin < covered => {
                return Err(format!(
                    "tensor '{name}' data_offsets [{begin}, {end}] overlap tensor '{p}', which \
                     ends at byte {covered}"
                ))
            }
            _ => {
                let after = previous.map_or("the start of the data section".to_string(), |p| {
                    format!("tensor '{p}'")
                });
                return Err(format!(
                    "tensor '{name}' data_offsets [{begin}, {end}] leave bytes {covered}..{begin} \
                     after {after} to no tensor (file not fully covered)"
                ));
            }
        }
        covered = end;
        previous = Some(name);
    }
    if covered != len {
        let last = previous.map_or("no tensor".to_string(), |p| {
            format!("the last tensor, '{p}', ends at byte {covered},")
        });
        return Err(format!(
            "{last} but the data section holds {len} bytes: {} bytes belong to no tensor (file \
             not fully covered)",
            len - covered
        ));
    }
    Ok(())
}

fn arr8(c: &[u8]) -> [u8; 8] {
    let mut a = [0u8; 8];
    a.copy_from_slice(c);
    a
}

/// `s` as a JSON string literal.
pub(crate) fn json_string(s: &str) -> String {
    crate::log::quote_escaped(s, |out, c| {
        if (c as u32) < 0x20 {
            out.push_str(&format!("\\u{:04x}", c as u32));
        } else {
            out.push(c);
        }
    })
}

/// The JSON values a safetensors header uses (numbers kept as their text).
#[derive(Debug)]
enum Json {
    Object(Vec<(String, Json)>),
    Array(Vec<Json>),
    String(String),
    Number(String),
    Other,
}

/// Nesting deeper than this is refused (a header needs 3 levels).
const MAX_DEPTH: usize = 16;

impl Json {
    fn parse(text: &str) -> std::result::Result<Json, String> {
        let mut p = Parser {
            b: text.as_bytes(),
            i: 0,
        };
        let v = p.value(0)?;
        p.ws();
        if p.i != p.b.len() {
            return Err(format!("unexpected text at byte {}", p.i));
        }
        Ok(v)
    }
}

struct Parser<'a> {
    b: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn ws(&mut self) {
        while self.i < self.b.len() && matches!(self.b[self.i], b' ' | b'\t' | b'\n' | b'\r') {
            self.i += 1;
        }
    }

    fn expect(&mut self, c: u8) -> std::result::Result<(), String> {
        self.ws();
        if self.b.get(self.i) == Some(&c) {
            self.i += 1;
            Ok(())
        } else {
            Err(format!("expected '{}' at byte {}", c as char, self.i))
        }
    }

    fn value(&mut self, depth: usize) -> std::result::Result<Json, String> {
        if depth > MAX_DEPTH {
            return Err("nesting too deep".into());
        }
        self.ws();
        match self.b.get(self.i) {
            Some(b'{') => {
                self.i += 1;
                let mut items = Vec::new();
                self.ws();
                if self.b.get(self.i) == Some(&b'}') {
                    self.i += 1;
                    return Ok(Json::Object(items));
                }
                loop {
                    self.ws();
                    let k = self.string()?;
                    self.expect(b':')?;
                    let v = self.value(depth + 1)?;
                    items.push((k, v));
                    self.ws();
                    match self.b.get(self.i) {
                        Some(b',') => self.i += 1,
                        Some(b'}') => {
                            self.i += 1;
                            return Ok(Json::Object(items));
                        }
                        _ => return Err(format!("expected ',' or '}}' at byte {}", self.i)),
                    }
                }
            }
            Some(b'[') => {
                self.i += 1;
                let mut items = Vec::new();
                self.ws();
                if self.b.get(self.i) == Some(&b']') {
                    self.i += 1;
                    return Ok(Json::Array(items));
                }
                loop {
                    items.push(self.value(depth + 1)?);
                    self.ws();
                    match self.b.get(self.i) {
                        Some(b',') => self.i += 1,
                        Some(b']') => {
                            self.i += 1;
                            return Ok(Json::Array(items));
                        }
                        _ => return Err(format!("expected ',' or ']' at byte {}", self.i)),
                    }
                }
            }
            Some(b'"') => Ok(Json::String(self.string()?)),
            Some(c) if c.is_ascii_digit() || *c == b'-' => {
                let start = self.i;
                while self.i < self.b.len()
                    && matches!(
                        self.b[self.i],
                        b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E'
                    )
                {
                    self.i += 1;
                }
                Ok(Json::Number(
                    String::from_utf8_lossy(&self.b[start..self.i]).into_owned(),
                ))
            }
            Some(_) => {
                for word in ["true", "false", "null"] {
                    if self.b[self.i..].starts_with(word.as_bytes()) {
                        self.i += word.len();
                        return Ok(Json::Other);
                    }
                }
                Err(format!("unexpected character at byte {}", self.i))
            }
            None => Err("unexpected end of header".into()),
        }
    }

    fn string(&mut self) -> std::result::Result<String, String> {
        if self.b.get(self.i) != Some(&b'"') {
            return Err(format!("expected a string at byte {}", self.i));
        }
        self.i += 1;
        let mut out = Vec::new();
        loop {
            match self.b.get(self.i) {
                None => return Err("unterminated string".into()),
                Some(b'"') => {
                    self.i += 1;
                    return String::from_utf8(out).map_err(|_| "string is not UTF-8".into());
                }
                Some(b'\\') => {
                    let esc = *self.b.get(self.i + 1).ok_or("unterminated escape")?;
                    self.i += 2;
                    let c = match esc {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'u' => {
                            let hex = self.b.get(self.i..self.i + 4).ok_or("short \\u escape")?;
                            let code = u32::from_str_radix(
                                std::str::from_utf8(hex).map_err(|_| "bad \\u escape")?,
                                16,
                            )
                            .map_err(|_| "bad \\u escape")?;
                            self.i += 4;
                            char::from_u32(code).unwrap_or('\u{fffd}')
                        }
                        _ => return Err(format!("bad escape at byte {}", self.i - 1)),
                    };
                    let mut buf = [0u8; 4];
                    out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                }
                Some(&c) => {
                    out.push(c);
                    self.i += 1;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_corruption() {
        let mut ck = Checkpoint::new();
        ck.insert(
            "encoder.w",
            StoredTensor::F32(Tensor::from_vec(vec![1.0, -2.5, 3.0], &[3]).unwrap()),
        );
        ck.insert("s", StoredTensor::F64(Tensor::scalar(0.25)));
        ck.insert(
            "i",
            StoredTensor::I64 {
                shape: vec![2],
                data: vec![-1, 7],
            },
        );
        ck.metadata.insert("epoch".into(), "3".into());
        ck.metadata.insert("quote\"d".into(), "a\\b\n".into());
        let bytes = ck.to_bytes().unwrap();
        let hlen = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
        assert_eq!(hlen % 8, 0);
        let p = Path::new("x.safetensors");
        let back = Checkpoint::from_bytes(&bytes, p).unwrap();
        assert_eq!(back, ck);
        assert_eq!(back.f32_state("encoder.").unwrap()[0].0, "w");
        // Every truncation fails cleanly.
        for cut in [0, 5, 8, 20, bytes.len() - 1] {
            let e = Checkpoint::from_bytes(&bytes[..cut], p)
                .unwrap_err()
                .to_string();
            assert!(e.contains("x.safetensors"), "{e}");
        }
        let mut bad = bytes.clone();
        bad[0] = 0xff;
        assert!(Checkpoint::from_bytes(&bad, p).is_err());
    }

    /// A safetensors file of `header` (padded) and `data`.
    fn file(header: &str, data: &[u8]) -> Vec<u8> {
        let mut h = header.to_string();
        while !h.len().is_multiple_of(8) {
            h.push(' ');
        }
        let mut out = (h.len() as u64).to_le_bytes().to_vec();
        out.extend_from_slice(h.as_bytes());
        out.extend_from_slice(data);
        out
    }

    /// The error of parsing `bytes`, which must fail.
    fn refused(bytes: &[u8]) -> String {
        Checkpoint::from_bytes(bytes, Path::new("c.safetensors"))
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn data_offsets_must_cover_the_data_exactly() {
        let t = |name: &str, b: usize, e: usize| {
            format!(
                "\"{name}\":{{\"dtype\":\"F32\",\"shape\":[{}],\"data_offsets\":[{b},{e}]}}",
                (e - b) / 4
            )
        };
        let data = [0u8; 16];
        let two = |a: String, b: String| format!("{{{a},{b}}}");
        // Exact cover, in any header order, a zero-size tensor included.
        let ok = two(t("b", 8, 16), t("a", 0, 8));
        assert_eq!(
            Checkpoint::from_bytes(&file(&ok, &data), Path::new("c"))
                .unwrap()
                .tensors
                .len(),
            2
        );
        let z = format!("{{{},{},{}}}", t("a", 0, 8), t("z", 8, 8), t("b", 8, 16));
        assert!(Checkpoint::from_bytes(&file(&z, &data), Path::new("c")).is_ok());
        // A gap between two tensors, a first tensor not at 0, an overlap, bytes left over.
        let e = refused(&file(&two(t("a", 0, 4), t("b", 8, 16)), &data));
        assert!(
            e.contains("c.safetensors")
                && e.contains("tensor 'b' data_offsets [8, 16] leave bytes 4..8 after tensor 'a'")
                && e.contains("not fully covered"),
            "{e}"
        );
        let e = refused(&file(&format!("{{{}}}", t("a", 4, 16)), &data));
        assert!(
            e.contains("tensor 'a' data_offsets [4, 16] leave bytes 0..4 after the start"),
            "{e}"
        );
        let e = refused(&file(&two(t("a", 0, 12), t("b", 8, 16)), &data));
        assert!(
            e.contains("tensor 'b' data_offsets [8, 16] overlap tensor 'a', which ends at byte 12"),
            "{e}"
        );
        let e = refused(&file(&two(t("a", 0, 4), t("b", 4, 12)), &data));
        assert!(
            e.contains(
                "the last tensor, 'b', ends at byte 12, but the data section holds 16 bytes: 4 \
                 bytes belong to no tensor"
            ) && e.contains("not fully covered"),
            "{e}"
        );
        // No tensor at all: the data section must be empty.
        assert!(Checkpoint::from_bytes(&file("{}", &[]), Path::new("c")).is_ok());
        assert!(refused(&file("{}", &[1])).contains("no tensor but the data section holds 1 bytes"));
    }

    #[test]
    fn four_bytes_inserted_or_appended_in_the_data_are_refused() {
        let mut ck = Checkpoint::new();
        ck.insert(
            "encoder.w",
            StoredTensor::F32(Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[4]).unwrap()),
        );
        ck.insert(
            "b",
            StoredTensor::F64(Tensor::from_vec(vec![0.5; 2], &[2]).unwrap()),
        );
        let bytes = ck.to_bytes().unwrap();
        let data_start = bytes.len() - 32;
        for at in [data_start, data_start + 4, data_start + 16, bytes.len()] {
            let mut b = bytes.clone();
            b.splice(at..at, [0x3f, 0x80, 0, 0]);
            let e = refused(&b);
            assert!(
                e.contains("'b', ends at byte 32, but the data section holds 36 bytes")
                    && e.contains("not fully covered"),
                "insert at {at}: {e}"
            );
        }
    }

    #[test]
    fn non_finite_values_are_neither_written_nor_read() {
        for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
            let mut ck = Checkpoint::new();
            ck.insert(
                "encoder.fc.weight",
                StoredTensor::F32(Tensor::from_vec(vec![1.0, bad, 3.0], &[3]).unwrap()),
            );
            let e = ck.to_bytes().unwrap_err();
            assert!(matches!(e, Error::NonFinite { .. }), "{e}");
            let e = e.to_string();
            assert!(
                e.contains("tensor 'encoder.fc.weight'")
                    && e.contains(&format!("{bad} at element 1 of 3")),
                "{e}"
            );
            // The same file written by hand (another writer) is refused on reading.
            let mut data = Vec::new();
            for v in [1.0f32, bad, 3.0] {
                data.extend_from_slice(&v.to_le_bytes());
            }
            let header =
                "{\"encoder.fc.weight\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,12]}}";
            let e = refused(&file(header, &data));
            assert!(
                e.contains("c.safetensors")
                    && e.contains("tensor 'encoder.fc.weight' holds a non-finite value")
                    && e.contains("at element 1 of 3"),
                "{e}"
            );
        }
        let mut ck = Checkpoint::new();
        ck.insert("s", StoredTensor::F64(Tensor::scalar(f64::NAN)));
        assert!(ck
            .to_bytes()
            .unwrap_err()
            .to_string()
            .contains("tensor 's' (NaN"));
        // Integers are not floats: any value is fine.
        ck.insert(
            "s",
            StoredTensor::I64 {
                shape: vec![1],
                data: vec![i64::MIN],
            },
        );
        assert!(ck.to_bytes().is_ok());
    }
}

//! MNIST: the idx files, raw or gzip-compressed, fully validated.
//!
//! The idx format (Yann LeCun's): a 4-byte big-endian magic `0x0000TTDD` (`TT` the element type,
//! `0x08` = unsigned byte; `DD` the number of dimensions), `DD` big-endian `u32` sizes, then the
//! elements, row-major. MNIST images are `0x00000803` (`[n, 28, 28]`), labels `0x00000801`
//! (`[n]`, values 0..=9).
//!
//! A file is gunzipped when it starts with the gzip magic `1f 8b` — whatever its name — and never
//! further than its idx header declares: a small file inflating to gigabytes (a gzip bomb) is
//! refused after the declared size. Every malformed input (empty, truncated, wrong magic, sizes
//! that disagree with the bytes, image and label counts that differ, labels ≥ 10, a corrupt gzip
//! stream, data after the gzip stream) is an [`Error`] naming the file and what was expected versus
//! found; so is a path that is not a regular file or a symbolic link that cannot be followed (see
//! [`crate::input_file`]). The reader never panics and never returns part of a data set.
//!
//! MNIST is by Yann LeCun and Corinna Cortes, licensed CC BY-SA 3.0; a copy ships in `data/mnist/`.

use super::loader::Dataset;
use super::transforms::Image;
use crate::error::{Error, Result};
use crate::input_file::read_regular;
use flate2::bufread::GzDecoder;
use std::io::{self, ErrorKind, Read};
use std::path::{Path, PathBuf};

/// Magic number of an idx file of unsigned bytes with 3 dimensions (images).
pub const IMAGES_MAGIC: u32 = 0x0000_0803;
/// Magic number of an idx file of unsigned bytes with 1 dimension (labels).
pub const LABELS_MAGIC: u32 = 0x0000_0801;
/// Number of digit classes; every label is below this.
pub const N_CLASSES: u8 = 10;
/// The two bytes every gzip stream starts with.
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
/// Deflate expands at most ~1032:1; caps the output capacity reserved from an untrusted header.
const MAX_DEFLATE_RATIO: usize = 1032;

/// Which half of MNIST.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MnistSplit {
    /// The 60 000 training images (`train-*`).
    Train,
    /// The 10 000 test images (`t10k-*`).
    Test,
}

impl MnistSplit {
    /// The file-name prefix: `train` or `t10k`.
    pub fn prefix(self) -> &'static str {
        match self {
            MnistSplit::Train => "train",
            MnistSplit::Test => "t10k",
        }
    }
}

/// An idx array of unsigned bytes: its dimensions and its elements in row-major order.
#[derive(Clone, Debug, PartialEq)]
pub struct IdxArray {
    /// Sizes of the dimensions, outermost first.
    pub dims: Vec<usize>,
    /// The elements (`dims.iter().product()` of them).
    pub data: Vec<u8>,
}

/// Validates an idx header in `bytes` and returns `(dims, offset of the data)`; the data is
/// exactly the rest of `bytes`. `expected_magic` (if any) must match; otherwise any unsigned-byte
/// magic `0x000008DD` with `DD ≥ 1` is accepted.
fn parse_header(
    bytes: &[u8],
    path: &Path,
    expected_magic: Option<u32>,
) -> Result<(Vec<usize>, usize)> {
    let what = match expected_magic {
        Some(IMAGES_MAGIC) => "idx images, magic 0x00000803",
        Some(LABELS_MAGIC) => "idx labels, magic 0x00000801",
        _ => "an idx file of unsigned bytes, magic 0x000008DD",
    };
    if bytes.is_empty() {
        return Err(Error::format(path, format!("empty file: expected {what}")));
    }
    let Some(magic) = bytes.get(..4) else {
        return Err(Error::format(
            path,
            format!(
                "truncated header: expected a 4-byte magic number ({what}), found {} bytes",
                bytes.len()
            ),
        ));
    };
    let magic = u32::from_be_bytes([magic[0], magic[1], magic[2], magic[3]]);
    let ndim = (magic & 0xff) as usize;
    let magic_ok = match expected_magic {
        Some(m) => magic == m,
        None => magic >> 8 == 0x08 && ndim >= 1,
    };
    if !magic_ok {
        let hint = match magic {
            IMAGES_MAGIC => " (an idx image file)",
            LABELS_MAGIC => " (an idx label file)",
            _ => "",
        };
        return Err(Error::format(
            path,
            format!("wrong magic number: expected {what}, found 0x{magic:08x}{hint}"),
        ));
    }
    let offset = header_len(ndim);
    let Some(header) = bytes.get(4..offset) else {
        return Err(Error::format(
            path,
            format!(
                "truncated header: expected {offset} bytes (magic + {ndim} dimension sizes), \
                 found {}",
                bytes.len()
            ),
        ));
    };
    let dims = dims_of(header);
    let expected = data_len(&dims);
    let found = bytes.len() - offset;
    if expected != Some(found) {
        let sizes = sizes_of(&dims);
        let message = match expected {
            Some(e) if found > e => {
                format!(
                    "trailing bytes: the header says {sizes} = {e} bytes of data, found {found}"
                )
            }
            Some(e) => {
                format!(
                    "truncated data: the header says {sizes} = {e} bytes of data, found {found}"
                )
            }
            None => format!(
                "truncated data: the header says {sizes} bytes of data, more than fit in memory"
            ),
        };
        return Err(Error::format(path, message));
    }
    Ok((dims, offset))
}

/// Parses the bytes of an (uncompressed) idx file of unsigned bytes; `path` names it in errors.
/// Never panics, whatever the bytes.
pub fn parse_idx(bytes: &[u8], path: &Path) -> Result<IdxArray> {
    let (dims, offset) = parse_header(bytes, path, None)?;
    Ok(IdxArray {
        dims,
        data: bytes[offset..].to_vec(),
    })
}

/// Length of an idx header with `ndim` dimensions: the magic and one `u32` size per dimension.
fn header_len(ndim: usize) -> usize {
    4 + 4 * ndim
}

/// The big-endian `u32` dimension sizes of a header (after the magic).
fn dims_of(header: &[u8]) -> Vec<usize> {
    header
        .chunks_exact(4)
        .map(|d| u32::from_be_bytes([d[0], d[1], d[2], d[3]]) as usize)
        .collect()
}

/// Bytes of data `dims` declare, `None` when that overflows.
fn data_len(dims: &[usize]) -> Option<usize> {
    dims.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d))
}

/// `dims` written as `a × b × c` for messages.
fn sizes_of(dims: &[usize]) -> String {
    let sizes: Vec<String> = dims.iter().map(|d| d.to_string()).collect();
    sizes.join(" × ")
}

/// The file's content, gunzipped when it starts with the gzip magic (each of several concatenated
/// gzip members in turn, as `gunzip` does).
///
/// Inflates no further than the idx header declares: once the header and its declared data have
/// come out, one more byte is an [`Error::Format`] saying the stream holds more than the header
/// declares, so a small file inflating to gigabytes costs at most the declared size. (A stream
/// whose first four bytes are not an unsigned-byte idx magic, or whose sizes overflow, stops
/// there, and [`parse_idx`] or [`Mnist::from_idx`] report it.) Bytes after the last gzip member
/// that do not start another one are an error counting them, as are a corrupt or truncated
/// stream. Raw (not gzip) bytes come back unchanged.
pub fn decode(raw: Vec<u8>, path: &Path) -> Result<Vec<u8>> {
    if !raw.starts_with(&GZIP_MAGIC) {
        return Ok(raw);
    }
    let gzip_error = |e: io::Error| {
        let what = if e.kind() == ErrorKind::UnexpectedEof {
            "truncated gzip stream".to_string()
        } else {
            format!("corrupt gzip stream: {e}")
        };
        Error::format(path, what)
    };
    let mut stream = Members::new(&raw);
    let mut out = Vec::new();
    fill(&mut stream, &mut out, 4).map_err(gzip_error)?;
    // Only an unsigned-byte idx magic (`00 00 08 DD`) makes the sizes after it worth trusting.
    if let Some(&[0, 0, 0x08, ndim]) = out.get(..4) {
        let offset = header_len(usize::from(ndim));
        fill(&mut stream, &mut out, offset).map_err(gzip_error)?;
        let dims = out.get(4..offset).map(dims_of);
        let declared = dims.as_deref().and_then(data_len);
        if let Some((dims, total)) = dims.zip(declared.and_then(|n| n.checked_add(offset))) {
            out.reserve((total - out.len()).min(raw.len().saturating_mul(MAX_DEFLATE_RATIO)));
            fill(&mut stream, &mut out, total.saturating_add(1)).map_err(gzip_error)?;
            if out.len() > total {
                return Err(Error::format(
                    path,
                    format!(
                        "the gzip stream holds more data than its header declares ({total} \
                         bytes: {offset} of header, {} = {} of data); stopped reading there",
                        sizes_of(&dims),
                        total - offset
                    ),
                ));
            }
        }
    }
    if stream.trailing > 0 {
        return Err(Error::format(
            path,
            format!(
                "{} bytes of trailing data after the gzip stream",
                stream.trailing
            ),
        ));
    }
    Ok(out)
}

/// Reads from `src` until `out` holds `len` bytes or `src` ends.
fn fill(src: &mut impl Read, out: &mut Vec<u8>, len: usize) -> io::Result<()> {
    let missing = len.saturating_sub(out.len()) as u64;
    src.take(missing).read_to_end(out).map(drop)
}

/// The gzip members of a file, inflated one after another as one stream. Bytes after a member
/// that do not start another one end the stream; `trailing` counts them.
struct Members<'a> {
    decoder: GzDecoder<&'a [u8]>,
    trailing: usize,
}

impl<'a> Members<'a> {
    fn new(raw: &'a [u8]) -> Self {
        Members {
            decoder: GzDecoder::new(raw),
            trailing: 0,
        }
    }
}

impl Read for Members<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            let n = self.decoder.read(buf)?;
            if n > 0 || buf.is_empty() {
                return Ok(n);
            }
            // The member ended (its CRC checked): what follows is another member or the end.
            let rest = *self.decoder.get_ref();
            if !rest.starts_with(&GZIP_MAGIC) {
                self.trailing = rest.len();
                return Ok(0);
            }
            self.decoder = GzDecoder::new(rest);
        }
    }
}

/// Reads an idx file of unsigned bytes, raw or gzip.
pub fn read_idx(path: impl AsRef<Path>) -> Result<IdxArray> {
    let path = path.as_ref();
    parse_idx(&decode(read_regular(path)?, path)?, path)
}

/// MNIST images and labels, validated and held in memory.
#[derive(Clone, Debug)]
pub struct Mnist {
    /// The decoded image file; pixels start at `offset`.
    images: Vec<u8>,
    offset: usize,
    labels: Vec<u8>,
    rows: usize,
    cols: usize,
}

impl Mnist {
    /// Loads `split` from `dir`, which holds `{train,t10k}-images-idx3-ubyte[.gz]` and
    /// `{train,t10k}-labels-idx1-ubyte[.gz]` (or the `images.idx3-ubyte` spelling).
    pub fn load(dir: impl AsRef<Path>, split: MnistSplit) -> Result<Self> {
        let dir = dir.as_ref();
        let images = find_file(dir, split.prefix(), "images", "idx3")?;
        let labels = find_file(dir, split.prefix(), "labels", "idx1")?;
        Self::from_files(&images, &labels)
    }

    /// Loads an image file and a label file (each raw or gzip).
    pub fn from_files(images: impl AsRef<Path>, labels: impl AsRef<Path>) -> Result<Self> {
        let (ip, lp) = (images.as_ref(), labels.as_ref());
        let images = decode(read_regular(ip)?, ip)?;
        let labels = decode(read_regular(lp)?, lp)?;
        Self::from_idx(images, ip, labels, lp)
    }

    /// Validates decoded idx bytes: `images` (from `images_path`) and `labels` (from
    /// `labels_path`; the paths only name the files in errors). Never panics.
    pub fn from_idx(
        images: Vec<u8>,
        images_path: &Path,
        labels: Vec<u8>,
        labels_path: &Path,
    ) -> Result<Self> {
        let (idims, offset) = parse_header(&images, images_path, Some(IMAGES_MAGIC))?;
        let (ldims, loffset) = parse_header(&labels, labels_path, Some(LABELS_MAGIC))?;
        let (n, rows, cols) = (idims[0], idims[1], idims[2]);
        if n == 0 || rows == 0 || cols == 0 {
            return Err(Error::format(
                images_path,
                format!("expected at least one image of at least 1×1 pixels, found {n} × {rows} × {cols}"),
            ));
        }
        if ldims[0] != n {
            return Err(Error::format(
                labels_path,
                format!(
                    "label count mismatch: expected {n} labels (one per image in {}), found {}",
                    images_path.display(),
                    ldims[0]
                ),
            ));
        }
        let mut labels = labels;
        labels.drain(..loffset);
        if let Some((i, &l)) = labels.iter().enumerate().find(|(_, &l)| l >= N_CLASSES) {
            return Err(Error::format(
                labels_path,
                format!("label {i} is {l}: expected a digit class 0..=9"),
            ));
        }
        Ok(Mnist {
            images,
            offset,
            labels,
            rows,
            cols,
        })
    }

    /// Number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Always false: a loaded MNIST has at least one image.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Image height (28).
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Image width (28).
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// All pixels, `[n, rows, cols]` row-major.
    pub fn pixels(&self) -> &[u8] {
        &self.images[self.offset..]
    }

    /// All labels.
    pub fn labels(&self) -> &[u8] {
        &self.labels
    }

    /// The pixels of image `index`, or `None` past the end.
    pub fn image(&self, index: usize) -> Option<&[u8]> {
        let px = self.rows * self.cols;
        let start = index.checked_mul(px)?;
        self.pixels().get(start..start.checked_add(px)?)
    }

    /// The label of image `index`, or `None` past the end.
    pub fn label(&self, index: usize) -> Option<u8> {
        self.labels.get(index).copied()
    }
}

impl Dataset for Mnist {
    type Sample = Image<u8>;
    type Label = u8;

    fn len(&self) -> usize {
        self.labels.len()
    }

    fn get(&self, index: usize) -> Result<(Image<u8>, u8)> {
        match (self.image(index), self.label(index)) {
            (Some(px), Some(label)) => Ok((Image::gray(self.rows, self.cols, px.to_vec())?, label)),
            _ => Err(Error::invalid(
                "Mnist::get",
                format!("index {index} out of range for {} images", self.len()),
            )),
        }
    }
}

/// The first existing spelling of an MNIST file in `dir`: `{prefix}-{kind}-{idx}-ubyte` or
/// `{prefix}-{kind}.{idx}-ubyte`, each with or without `.gz`.
///
/// A name exists when `dir` holds an entry of that name, whatever it is: a dangling symbolic link
/// or a directory is found here, and reading it reports what is wrong with it (rather than "no
/// MNIST file"). An error other than "not found" while looking is returned as it is.
fn find_file(dir: &Path, prefix: &str, kind: &str, idx: &str) -> Result<PathBuf> {
    let names = [
        format!("{prefix}-{kind}-{idx}-ubyte.gz"),
        format!("{prefix}-{kind}-{idx}-ubyte"),
        format!("{prefix}-{kind}.{idx}-ubyte"),
        format!("{prefix}-{kind}.{idx}-ubyte.gz"),
    ];
    for name in &names {
        let p = dir.join(name);
        match std::fs::symlink_metadata(&p) {
            Ok(_) => return Ok(p),
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io(p, e)),
        }
    }
    Err(Error::io(
        dir.join(&names[0]),
        std::io::Error::new(
            ErrorKind::NotFound,
            format!(
                "no MNIST {kind} file in {} (looked for {})",
                dir.display(),
                names.join(", ")
            ),
        ),
    ))
}

/// Where the MNIST files are when no directory is given: `data/mnist` under the current
/// directory if it holds them, else the copy shipped in this crate's source tree.
pub fn default_dir() -> PathBuf {
    let local = PathBuf::from("data").join("mnist");
    if find_file(&local, "train", "images", "idx3").is_ok() {
        return local;
    }
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("data")
        .join("mnist")
}

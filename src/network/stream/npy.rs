//! NumPy's `.npy` format (version 1.0) as the streams write and read it:
//! files that grow by rows, their header rewritten in place with the row
//! count (room for any shape), and a reader of what they hold.

use std::fs::{File, OpenOptions};
use std::io::{BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::error::{read_err, write_err, Error, Result};

/// The header of every `.npy` file written here takes this many bytes
/// (magic, version, length, the dictionary padded with spaces): enough for
/// any shape of two 20-digit numbers, and a multiple of 64 as NumPy asks.
pub(super) const HEADER_BYTES: usize = 128;

/// Element types written and read here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dtype {
    F32,
    F64,
    I64,
}

impl Dtype {
    fn descr(self) -> &'static str {
        match self {
            Dtype::F32 => "<f4",
            Dtype::F64 => "<f8",
            Dtype::I64 => "<i8",
        }
    }
    fn size(self) -> u64 {
        match self {
            Dtype::F32 => 4,
            Dtype::F64 | Dtype::I64 => 8,
        }
    }
    fn from_descr(d: &str) -> Option<Dtype> {
        match d {
            "<f4" => Some(Dtype::F32),
            "<f8" => Some(Dtype::F64),
            "<i8" => Some(Dtype::I64),
            _ => None,
        }
    }
}

/// The header for `rows` rows of `width` columns (`None`: a 1-D array).
fn header(dtype: Dtype, rows: u64, width: Option<usize>) -> Vec<u8> {
    let shape = match width {
        Some(w) => format!("({rows}, {w})"),
        None => format!("({rows},)"),
    };
    let dict = format!(
        "{{'descr': '{}', 'fortran_order': False, 'shape': {shape}, }}",
        dtype.descr()
    );
    let mut out = Vec::with_capacity(HEADER_BYTES);
    out.extend_from_slice(b"\x93NUMPY\x01\x00");
    out.extend_from_slice(&((HEADER_BYTES - 10) as u16).to_le_bytes());
    out.extend_from_slice(dict.as_bytes());
    out.resize(HEADER_BYTES - 1, b' ');
    out.push(b'\n');
    out
}

/// One `.npy` file that grows by rows.
#[derive(Debug)]
pub(crate) struct NpyWriter {
    pub(super) path: PathBuf,
    out: BufWriter<File>,
    dtype: Dtype,
    pub(super) width: Option<usize>,
    rows: u64,
}

impl NpyWriter {
    /// A new, empty file (an existing one is replaced).
    pub(crate) fn create(path: &Path, dtype: Dtype, width: Option<usize>) -> Result<NpyWriter> {
        let file = File::create(path).map_err(|e| write_err(path, e))?;
        let mut w = NpyWriter {
            path: path.to_path_buf(),
            out: BufWriter::with_capacity(1 << 16, file),
            dtype,
            width,
            rows: 0,
        };
        w.out
            .write_all(&header(dtype, 0, width))
            .map_err(|e| write_err(path, e))?;
        Ok(w)
    }

    /// An existing file written here, cut back to its first `rows` rows
    /// (a checkpointed run resuming), to be appended to.
    pub(crate) fn reopen(
        path: &Path,
        dtype: Dtype,
        width: Option<usize>,
        rows: u64,
    ) -> Result<NpyWriter> {
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .map_err(|e| read_err(path, e))?;
        let row_bytes = dtype.size() * width.unwrap_or(1) as u64;
        let len = HEADER_BYTES as u64 + rows * row_bytes;
        let have = file.metadata().map_err(|e| read_err(path, e))?.len();
        if have < len {
            return Err(Error::Checkpoint {
                path: path.display().to_string(),
                problem: format!(
                    "holds {have} bytes, fewer than the {len} of its {rows} checkpointed rows"
                ),
            });
        }
        file.set_len(len).map_err(|e| write_err(path, e))?;
        file.seek(SeekFrom::End(0))
            .map_err(|e| write_err(path, e))?;
        let mut w = NpyWriter {
            path: path.to_path_buf(),
            out: BufWriter::with_capacity(1 << 16, file),
            dtype,
            width,
            rows,
        };
        w.flush()?;
        Ok(w)
    }

    /// Rows written so far.
    pub(crate) fn rows(&self) -> u64 {
        self.rows
    }

    fn check(&self, dtype: Dtype, len: usize) -> Result<()> {
        let w = self.width.unwrap_or(1);
        if dtype != self.dtype || (w > 0 && !len.is_multiple_of(w)) || (w == 0 && len != 0) {
            return Err(Error::Internal {
                context: format!("streaming {}", self.path.display()),
                message: format!("{len} values of {dtype:?} for rows of {w} {:?}", self.dtype),
            });
        }
        Ok(())
    }

    fn push_rows(&mut self, len: usize) {
        self.rows += match self.width {
            Some(0) => 1,
            Some(w) => (len / w) as u64,
            None => len as u64,
        };
    }

    pub(crate) fn append_f32(&mut self, values: &[f32]) -> Result<()> {
        self.append(Dtype::F32, values, |x| x.to_le_bytes())
    }

    pub(crate) fn append_f64(&mut self, values: &[f64]) -> Result<()> {
        self.append(Dtype::F64, values, |x| x.to_le_bytes())
    }

    /// Rows of `values` of type `dtype`, each written as its little-endian
    /// bytes.
    fn append<T: Copy, const B: usize>(
        &mut self,
        dtype: Dtype,
        values: &[T],
        bytes: fn(T) -> [u8; B],
    ) -> Result<()> {
        self.check(dtype, values.len())?;
        for &x in values {
            self.out
                .write_all(&bytes(x))
                .map_err(|e| write_err(&self.path, e))?;
        }
        self.push_rows(values.len());
        Ok(())
    }

    pub(crate) fn append_i64(&mut self, values: impl IntoIterator<Item = i64>) -> Result<()> {
        self.check(Dtype::I64, 0)?;
        let mut count = 0;
        for x in values {
            self.out
                .write_all(&x.to_le_bytes())
                .map_err(|e| write_err(&self.path, e))?;
            count += 1;
        }
        self.check(Dtype::I64, count)?;
        self.push_rows(count);
        Ok(())
    }

    /// Write out what is buffered and bring the header's row count up to
    /// date.
    pub(crate) fn flush(&mut self) -> Result<()> {
        let path = &self.path;
        self.out.flush().map_err(|e| write_err(path, e))?;
        let f = self.out.get_mut();
        f.seek(SeekFrom::Start(0)).map_err(|e| write_err(path, e))?;
        f.write_all(&header(self.dtype, self.rows, self.width))
            .map_err(|e| write_err(path, e))?;
        f.seek(SeekFrom::End(0)).map_err(|e| write_err(path, e))?;
        Ok(())
    }
}

/// An array read from a `.npy` file: its shape and values.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum NpyData {
    F32(Vec<f32>),
    F64(Vec<f64>),
    I64(Vec<i64>),
}

/// Read a version-1 `.npy` file of one of the element types above, C order;
/// `(shape, values)`. Values past the header's shape (a run that stopped
/// between two header updates) are ignored.
pub(crate) fn read_npy(path: &Path) -> Result<(Vec<u64>, NpyData)> {
    let bad = |problem: String| malformed(path, problem);
    let file = File::open(path).map_err(|e| read_err(path, e))?;
    let mut r = BufReader::new(file);
    let mut pre = [0u8; 10];
    r.read_exact(&mut pre).map_err(|e| read_err(path, e))?;
    if &pre[..6] != b"\x93NUMPY" || pre[6] != 1 {
        return Err(bad("not a version-1 .npy file".into()));
    }
    let hlen = u16::from_le_bytes([pre[8], pre[9]]) as usize;
    let mut head = vec![0u8; hlen];
    r.read_exact(&mut head).map_err(|e| read_err(path, e))?;
    let head = String::from_utf8_lossy(&head);
    let field = |key: &str| -> Option<String> {
        let at = head.find(&format!("'{key}':"))? + key.len() + 3;
        Some(head[at..].trim_start().to_string())
    };
    let descr = field("descr")
        .and_then(|d| {
            d.strip_prefix('\'')
                .and_then(|d| d.split('\'').next())
                .map(str::to_string)
        })
        .ok_or_else(|| bad(format!("no descr in header {head:?}")))?;
    let dtype = Dtype::from_descr(&descr).ok_or_else(|| {
        bad(format!(
            "element type {descr:?}: only <f4, <f8 and <i8 are read"
        ))
    })?;
    if field("fortran_order").is_none_or(|f| !f.starts_with("False")) {
        return Err(bad("not in C order".into()));
    }
    let shape_text = field("shape")
        .and_then(|s| {
            s.strip_prefix('(')
                .and_then(|s| s.split(')').next())
                .map(str::to_string)
        })
        .ok_or_else(|| bad(format!("no shape in header {head:?}")))?;
    let shape: Vec<u64> = shape_text
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().map_err(|_| bad(format!("shape {shape_text:?}"))))
        .collect::<Result<_>>()?;
    let bytes = shape
        .iter()
        .try_fold(dtype.size(), |b, &d| b.checked_mul(d))
        .ok_or_else(|| bad(format!("shape {shape:?} too large")))?;
    let mut raw = Vec::new();
    r.take(bytes)
        .read_to_end(&mut raw)
        .map_err(|e| read_err(path, e))?;
    if raw.len() as u64 != bytes {
        return Err(bad(format!(
            "holds {} bytes of data, its shape {shape:?} needs {bytes}",
            raw.len()
        )));
    }
    let data = match dtype {
        Dtype::F32 => NpyData::F32(
            raw.chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect(),
        ),
        Dtype::F64 => NpyData::F64(
            raw.chunks_exact(8)
                .map(|c| f64::from_le_bytes(c.try_into().unwrap_or([0; 8])))
                .collect(),
        ),
        Dtype::I64 => NpyData::I64(
            raw.chunks_exact(8)
                .map(|c| i64::from_le_bytes(c.try_into().unwrap_or([0; 8])))
                .collect(),
        ),
    };
    Ok((shape, data))
}

/// Reading `path` found something that is not what was written there.
pub(crate) fn malformed(path: &Path, problem: impl Into<String>) -> Error {
    read_err(
        path,
        std::io::Error::new(std::io::ErrorKind::InvalidData, problem.into()),
    )
}

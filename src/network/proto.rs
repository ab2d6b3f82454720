//! The few protocol-buffer encodings snn writes by hand (TensorFlow's
//! `ConfigProto`, `RunOptions` and `ServerDef` need a handful of fields
//! each): varints and length-delimited fields.

/// A base-128 varint.
fn varint(out: &mut Vec<u8>, mut x: u64) {
    while x >= 0x80 {
        out.push((x as u8) | 0x80);
        x >>= 7;
    }
    out.push(x as u8);
}

/// Field `field` as a varint (wire type 0).
pub(crate) fn varint_field(out: &mut Vec<u8>, field: u32, x: u64) {
    varint(out, (field as u64) << 3);
    varint(out, x);
}

/// Field `field` as bytes (wire type 2: a length, then the bytes).
pub(crate) fn bytes_field(out: &mut Vec<u8>, field: u32, bytes: &[u8]) {
    varint(out, ((field as u64) << 3) | 2);
    varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

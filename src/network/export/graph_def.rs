//! A GraphDef's nodes dropped and renamed, on the serialized bytes: what
//! [`Simulator::export`](crate::network::Simulator::export) needs to put
//! TensorFlow's ops in the place of snn's kernels. TensorFlow-free: a
//! GraphDef is a protocol buffer whose field 1 holds the nodes (`NodeDef`,
//! field 1 its name, field 2 its op); every other field and byte is copied
//! as it is.

use std::collections::{HashMap, HashSet};

use crate::network::proto::bytes_field;

/// One field of a message: its number, and its whole encoding (key and
/// value) as it stands in the message.
struct Field<'a> {
    number: u64,
    /// The value of a length-delimited field (wire type 2).
    payload: Option<&'a [u8]>,
    raw: &'a [u8],
}

fn varint(buf: &[u8], at: &mut usize) -> Result<u64, String> {
    let mut x = 0u64;
    for shift in (0..64).step_by(7) {
        let b = *buf.get(*at).ok_or("a varint runs past the end")?;
        *at += 1;
        x |= u64::from(b & 0x7f) << shift;
        if b < 0x80 {
            return Ok(x);
        }
    }
    Err("a varint longer than 10 bytes".into())
}

/// The fields of the message `buf`, in order.
fn fields(buf: &[u8]) -> Result<Vec<Field<'_>>, String> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < buf.len() {
        let start = at;
        let key = varint(buf, &mut at)?;
        let (number, wire) = (key >> 3, key & 7);
        let mut payload = None;
        let len = match wire {
            0 => {
                varint(buf, &mut at)?;
                0
            }
            1 => 8,
            5 => 4,
            2 => {
                let n = varint(buf, &mut at)?;
                let n = usize::try_from(n).map_err(|_| "a field too long")?;
                let end = at.checked_add(n).filter(|&e| e <= buf.len());
                payload = Some(&buf[at..end.ok_or("a field runs past the end")?]);
                n
            }
            w => return Err(format!("field {number}: wire type {w}")),
        };
        at = at
            .checked_add(len)
            .filter(|&e| e <= buf.len())
            .ok_or("a field runs past the end")?;
        out.push(Field {
            number,
            payload,
            raw: &buf[start..at],
        });
    }
    Ok(out)
}

/// A string field's value.
fn text(f: &Field<'_>) -> Result<String, String> {
    let bytes = f
        .payload
        .ok_or(format!("field {} is not a string", f.number))?;
    String::from_utf8(bytes.to_vec()).map_err(|e| e.to_string())
}

/// `(name, op)` of every node of the serialized GraphDef `graph_def`.
pub(crate) fn nodes(graph_def: &[u8]) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    for node in fields(graph_def)?.iter().filter(|f| f.number == 1) {
        let (mut name, mut op) = (String::new(), String::new());
        for f in fields(node.payload.ok_or("a node that is not a message")?)? {
            match f.number {
                1 => name = text(&f)?,
                2 => op = text(&f)?,
                _ => {}
            }
        }
        out.push((name, op));
    }
    Ok(out)
}

/// `graph_def` without the nodes named in `drop`, and the nodes named as
/// keys of `rename` named as their values (inputs naming them are left as
/// they are: they then name the renamed node). Everything else is copied
/// byte for byte.
pub(crate) fn rewrite(
    graph_def: &[u8],
    drop: &HashSet<String>,
    rename: &HashMap<String, String>,
) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(graph_def.len());
    for field in fields(graph_def)? {
        if field.number != 1 {
            out.extend_from_slice(field.raw);
            continue;
        }
        let node = fields(field.payload.ok_or("a node that is not a message")?)?;
        let name = match node.iter().find(|f| f.number == 1) {
            Some(f) => text(f)?,
            None => String::new(),
        };
        if drop.contains(&name) {
            continue;
        }
        match rename.get(&name) {
            None => out.extend_from_slice(field.raw),
            Some(new) => {
                let mut body = Vec::new();
                bytes_field(&mut body, 1, new.as_bytes());
                for f in node.iter().filter(|f| f.number != 1) {
                    body.extend_from_slice(f.raw);
                }
                bytes_field(&mut out, 1, &body);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::network::proto::varint_field;

    /// A NodeDef: name, op, inputs, and a device.
    fn node(name: &str, op: &str, inputs: &[&str]) -> Vec<u8> {
        let mut n = Vec::new();
        bytes_field(&mut n, 1, name.as_bytes());
        bytes_field(&mut n, 2, op.as_bytes());
        for i in inputs {
            bytes_field(&mut n, 3, i.as_bytes());
        }
        bytes_field(&mut n, 4, b"/device:CPU:0");
        n
    }

    fn graph(nodes: &[Vec<u8>]) -> Vec<u8> {
        let mut g = Vec::new();
        for n in nodes {
            bytes_field(&mut g, 1, n);
        }
        // versions { producer: 1808 }, after the nodes as TensorFlow writes it.
        let mut v = Vec::new();
        varint_field(&mut v, 1, 1808);
        bytes_field(&mut g, 4, &v);
        g
    }

    /// Dropping the kernel and its reshape and renaming the twin gives the
    /// graph built with the twin in their place, byte for byte.
    #[test]
    fn a_twin_takes_the_place_of_the_dropped_nodes() -> Result<(), String> {
        let read = node("w/read", "ReadVariableOp", &["w"]);
        let consumer = node("add", "AddV2", &["sums", "x"]);
        let before = graph(&[
            read.clone(),
            node("sums/rows_summed", "SnnRowSums", &["rows", "w/read"]),
            node("sums", "Reshape", &["sums/rows_summed", "sums/sums_shape"]),
            node("sums/portable", "UnsortedSegmentSum", &["v", "t", "n"]),
            consumer.clone(),
        ]);
        let drop: HashSet<String> = ["sums/rows_summed", "sums"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let rename = HashMap::from([("sums/portable".to_string(), "sums".to_string())]);
        let after = rewrite(&before, &drop, &rename)?;
        let expected = graph(&[
            read,
            node("sums", "UnsortedSegmentSum", &["v", "t", "n"]),
            consumer,
        ]);
        assert_eq!(after, expected);
        assert_eq!(
            nodes(&after)?,
            [
                ("w/read", "ReadVariableOp"),
                ("sums", "UnsortedSegmentSum"),
                ("add", "AddV2")
            ]
            .map(|(a, b)| (a.to_string(), b.to_string()))
        );
        Ok(())
    }

    /// Cut or garbled bytes are an error, not a panic.
    #[test]
    fn damaged_bytes_are_an_error() {
        let g = graph(&[node("a", "Const", &[]), node("b", "Identity", &["a"])]);
        let none = (HashSet::new(), HashMap::new());
        for cut in 1..g.len() {
            let _ = rewrite(&g[..cut], &none.0, &none.1);
            let _ = nodes(&g[..cut]);
        }
        assert!(nodes(&g[..g.len() - 1]).is_err());
        assert!(rewrite(&[0x0b], &none.0, &none.1).is_err()); // wire type 3
        assert!(nodes(&[0x0a, 0x80]).is_err()); // a length cut short
    }
}

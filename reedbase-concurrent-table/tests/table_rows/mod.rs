// SPDX-License-Identifier: Apache-2.0
//! The rows the multi-process tests write, and the check of a table after
//! a run: no lost, duplicated, torn or reordered row (per writer).
//!
//! A write of writer `w`, incarnation `i` (a writer process restarted after
//! a SIGKILL is a new incarnation) and sequence number `s` is two rows,
//! `w.i.s.a` and `w.i.s.b`, each with its numbers and a padding that depends
//! on them, so that a torn or mixed-up line does not parse.
// Not every test binary uses every piece.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use reedbase_concurrent_core::{CsvRow, PendingWrite, WriteOperation};

/// One write of one writer incarnation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct WriteId {
    pub writer: u32,
    pub incarnation: u32,
    pub seq: u32,
}

impl fmt::Display for WriteId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.writer, self.incarnation, self.seq)
    }
}

impl WriteId {
    /// Parses `w.i.s`.
    pub fn parse(text: &str) -> Option<WriteId> {
        let mut parts = text.split('.').map(str::parse::<u32>);
        let id = WriteId {
            writer: parts.next()?.ok()?,
            incarnation: parts.next()?.ok()?,
            seq: parts.next()?.ok()?,
        };
        parts.next().is_none().then_some(id)
    }

    fn padding(&self, part: &str) -> String {
        let len = 20 + (self.seq * 7 + self.writer * 3 + self.incarnation) % 60;
        part.repeat(len as usize)
    }

    fn row(&self, part: &str, pad: usize) -> CsvRow {
        let mut padding = self.padding(part);
        padding.push_str(&"p".repeat(pad));
        CsvRow::new(
            format!("{self}.{part}"),
            [
                self.writer.to_string(),
                self.incarnation.to_string(),
                self.seq.to_string(),
                padding,
            ],
        )
    }

    /// The write: rows `a` and `b`, each padded by `pad` more bytes.
    pub fn write(&self, pad: usize) -> PendingWrite {
        PendingWrite::new(
            WriteOperation::Insert,
            vec![self.row("a", pad), self.row("b", pad)],
        )
    }

    /// Reads a line back, checking every field against the key.
    fn from_line(line: &str) -> Result<(WriteId, char), String> {
        let fields: Vec<&str> = line.split('|').collect();
        let bad = || format!("torn or garbled line {line:?}");
        let [key, writer, incarnation, seq, padding] = fields[..] else {
            return Err(bad());
        };
        let (id_text, part) = key.rsplit_once('.').ok_or_else(bad)?;
        let id = WriteId::parse(id_text).ok_or_else(bad)?;
        let numbers = [id.writer, id.incarnation, id.seq].map(|n| n.to_string());
        let expected = id.padding(part);
        let padding_ok =
            padding.starts_with(&expected) && padding[expected.len()..].bytes().all(|b| b == b'p');
        if [writer, incarnation, seq] != numbers.each_ref().map(String::as_str)
            || !padding_ok
            || !matches!(part, "a" | "b")
        {
            return Err(bad());
        }
        Ok((id, if part == "a" { 'a' } else { 'b' }))
    }
}

/// What the children said: the writes they tried and those `submit`
/// acknowledged (applied or queued).
#[derive(Debug, Default)]
pub struct Claims {
    pub tried: BTreeSet<WriteId>,
    pub acked: BTreeSet<WriteId>,
}

impl Claims {
    /// Takes in a child's `TRY w.i.s` and `ACK w.i.s ...` lines.
    pub fn add_lines(&mut self, lines: &[String]) {
        for line in lines {
            let mut words = line.split(' ');
            let (kind, id) = (words.next(), words.next().and_then(WriteId::parse));
            match (kind.unwrap_or(""), id) {
                ("TRY", Some(id)) => {
                    self.tried.insert(id);
                }
                ("ACK", Some(id)) => {
                    self.acked.insert(id);
                }
                _ => {}
            }
        }
    }
}

/// Checks the committed lines of a table; returns how many writes it holds.
///
/// - every line parses (no torn line), and the two rows of a write are
///   adjacent, `a` then `b` (a write is all or nothing);
/// - per writer, writes appear in strictly increasing (incarnation,
///   sequence) order: none twice, none out of order;
/// - every acknowledged write is there (none lost), and nothing is there
///   that was not tried.
pub fn check_table(lines: &[String], claims: &Claims) -> Result<usize, String> {
    if claims.acked.is_empty() {
        return Err("no write was acknowledged: the check would prove nothing".to_string());
    }
    if !lines.len().is_multiple_of(2) {
        return Err(format!("{} lines: a write is torn in two", lines.len()));
    }
    let mut last: BTreeMap<u32, WriteId> = BTreeMap::new();
    let mut present = BTreeSet::new();
    for (number, pair) in lines.chunks(2).enumerate() {
        let (first, second) = (WriteId::from_line(&pair[0])?, WriteId::from_line(&pair[1])?);
        if first.1 != 'a' || second != (first.0, 'b') {
            return Err(format!(
                "lines {} and {}: {:?} and {:?} are not the two rows of one write",
                2 * number + 1,
                2 * number + 2,
                pair[0],
                pair[1]
            ));
        }
        let id = first.0;
        if let Some(previous) = last.insert(id.writer, id)
            && previous >= id
        {
            return Err(format!(
                "writer {}: write {id} after {previous} (duplicated or out of order)",
                id.writer
            ));
        }
        if !claims.tried.contains(&id) {
            return Err(format!("write {id} is in the table but was never tried"));
        }
        present.insert(id);
    }
    let lost: Vec<String> = claims
        .acked
        .difference(&present)
        .map(ToString::to_string)
        .collect();
    if !lost.is_empty() {
        return Err(format!("acknowledged writes lost: {}", lost.join(", ")));
    }
    Ok(present.len())
}

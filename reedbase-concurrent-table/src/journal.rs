// SPDX-License-Identifier: Apache-2.0
//! The journal beside a table file: its text format, how it is read back
//! after a crash, and how it is compacted.
//!
//! One line per apply step, each ending in a checksum of the rest of the
//! line, after a header line:
//!
//! ```text
//! reedbase-table-journal 1 <committed> <token> <checksum>
//! r <start> <end> <token> [<queue id> ...] <checksum>
//! ```
//!
//! - the header's `committed` is the table length when the journal was
//!   (re)written, and its `token` the highest fencing token of the records
//!   dropped by compaction (`-` for none);
//! - a record says that the table's bytes `start..end` were appended, fsynced
//!   and are committed, that they are the rows of the listed queued writes
//!   (a direct write has no id), and under which fencing token (`-` when the
//!   backend hands none out). Records are contiguous: each starts where the
//!   one before it (or the header) ends;
//! - the checksum is FNV-1a 64 of the line's bytes before the space that
//!   precedes it, in 16 lower-case hex digits.
//!
//! A record is appended only after the rows it describes are durable, and
//! each record is made durable before the next apply begins, so a crash can
//! damage only the last line: a last line without its line break, or with a
//! wrong checksum, is a *torn tail* (an apply that did not commit). A bad
//! line anywhere else is corruption, which no crash of this writer causes.

use std::collections::HashSet;

/// The first word of the header line.
const MAGIC: &str = "reedbase-table-journal";
/// The format version in the header line.
const VERSION: &str = "1";

/// The journal's first line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Header {
    /// Committed table length when the journal was written.
    pub(crate) committed: u64,
    /// Highest fencing token of the records compaction dropped.
    pub(crate) token: Option<u64>,
}

/// One apply step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Record {
    /// First table byte of the step's rows.
    pub(crate) start: u64,
    /// One past the last.
    pub(crate) end: u64,
    /// The fencing token the step ran under.
    pub(crate) token: Option<u64>,
    /// The queue ids of the queued writes whose rows these are.
    pub(crate) ids: Vec<String>,
}

/// A journal as read back: its valid lines, and how many bytes after them
/// are a torn tail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Journal {
    pub(crate) header: Header,
    pub(crate) records: Vec<Record>,
    /// Bytes of the header and the valid records.
    pub(crate) valid_len: u64,
    /// Bytes after them that belong to an apply that did not commit.
    pub(crate) torn_len: u64,
}

/// FNV-1a, 64 bits: enough to tell a torn or garbled line from a whole one
/// (it guards against accidents, not against an adversary).
fn checksum(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

fn render_token(token: Option<u64>) -> String {
    token.map_or_else(|| "-".to_string(), |token| token.to_string())
}

/// A line: the body, a space, its checksum, a line break.
fn sealed(body: String) -> String {
    let sum = checksum(body.as_bytes());
    format!("{body} {sum:016x}\n")
}

impl Header {
    /// The header line.
    pub(crate) fn render(&self) -> String {
        sealed(format!(
            "{MAGIC} {VERSION} {} {}",
            self.committed,
            render_token(self.token)
        ))
    }
}

impl Record {
    /// The record's line. Queue ids are validated before they get here, so
    /// they hold no space or line break.
    pub(crate) fn render(&self) -> String {
        let mut body = format!("r {} {} {}", self.start, self.end, render_token(self.token));
        for id in &self.ids {
            body.push(' ');
            body.push_str(id);
        }
        sealed(body)
    }
}

/// The fields of a line whose checksum holds, or `None`.
fn unseal(line: &[u8]) -> Option<Vec<&str>> {
    let text = std::str::from_utf8(line).ok()?;
    let (body, sum) = text.rsplit_once(' ')?;
    let sum = u64::from_str_radix(sum, 16)
        .ok()
        .filter(|_| sum.len() == 16)?;
    (checksum(body.as_bytes()) == sum).then(|| body.split(' ').collect())
}

fn parse_token(field: &str) -> Option<Option<u64>> {
    match field {
        "-" => Some(None),
        digits => digits.parse().ok().map(Some),
    }
}

fn parse_header(line: &[u8]) -> Result<Header, String> {
    let fields = unseal(line).ok_or("its header line is damaged")?;
    match fields[..] {
        [MAGIC, VERSION, committed, token] => Ok(Header {
            committed: committed
                .parse()
                .map_err(|_| format!("header length {committed:?} is not a number"))?,
            token: parse_token(token).ok_or(format!("header token {token:?} is not a number"))?,
        }),
        [MAGIC, version, ..] => Err(format!("unknown journal version {version:?}")),
        _ => Err("it does not start with a journal header".to_string()),
    }
}

fn parse_record(fields: &[&str]) -> Option<Record> {
    let ["r", start, end, token, ids @ ..] = fields else {
        return None;
    };
    Some(Record {
        start: start.parse().ok()?,
        end: end.parse().ok()?,
        token: parse_token(token)?,
        ids: ids.iter().map(|id| id.to_string()).collect(),
    })
}

impl Journal {
    /// A fresh journal: a header and no records.
    pub(crate) fn new(header: Header) -> Journal {
        Journal {
            header,
            records: Vec::new(),
            valid_len: header.render().len() as u64,
            torn_len: 0,
        }
    }

    /// Reads a journal file's bytes.
    ///
    /// # Errors
    ///
    /// A reason when the journal is corrupt: no valid header, a bad line
    /// before the last one, records that are not contiguous.
    pub(crate) fn parse(bytes: &[u8]) -> Result<Journal, String> {
        let mut lines = bytes.split_inclusive(|&byte| byte == b'\n');
        let header_line = lines.next().ok_or("it is empty")?;
        let header = parse_header(
            header_line
                .strip_suffix(b"\n")
                .ok_or("its header is torn")?,
        )?;
        let mut journal = Journal::new(header);
        journal.valid_len = header_line.len() as u64;
        let mut lines = lines.peekable();
        let mut number = 1;
        while let Some(line) = lines.next() {
            number += 1;
            let last = lines.peek().is_none();
            let record = line
                .strip_suffix(b"\n")
                .and_then(unseal)
                .and_then(|fields| parse_record(&fields));
            match record {
                Some(record)
                    if record.start == journal.committed() && record.end >= record.start =>
                {
                    journal.valid_len += line.len() as u64;
                    journal.records.push(record);
                }
                Some(record) => {
                    return Err(format!(
                        "line {number} records bytes {}..{} where byte {} was due",
                        record.start,
                        record.end,
                        journal.committed()
                    ));
                }
                None if last => journal.torn_len = line.len() as u64,
                None => return Err(format!("line {number} is damaged")),
            }
        }
        Ok(journal)
    }

    /// The committed table length: where the last record ends.
    pub(crate) fn committed(&self) -> u64 {
        self.records
            .last()
            .map_or(self.header.committed, |record| record.end)
    }

    /// The highest fencing token recorded.
    pub(crate) fn highest_token(&self) -> Option<u64> {
        self.records
            .iter()
            .filter_map(|record| record.token)
            .chain(self.header.token)
            .max()
    }

    /// The queue ids the journal remembers as applied.
    pub(crate) fn remembered_ids(&self) -> HashSet<&str> {
        self.records
            .iter()
            .flat_map(|record| record.ids.iter().map(String::as_str))
            .collect()
    }

    fn id_count(&self) -> usize {
        self.records.iter().map(|record| record.ids.len()).sum()
    }

    /// Appends a record (already written to the file).
    pub(crate) fn push(&mut self, record: Record) {
        self.valid_len += record.render().len() as u64;
        self.records.push(record);
    }

    /// True when the journal holds more than twice what it must keep, so
    /// that compaction rewrites it once per `remember` records or ids.
    pub(crate) fn needs_compaction(&self, remember: usize) -> bool {
        let limit = remember.saturating_mul(2);
        self.records.len() > limit || self.id_count() > limit
    }

    /// The journal with only its newest records: whole records, newest
    /// first, until `remember` ids or `remember` records are kept (always at
    /// least the last one). The header carries the dropped records' end and
    /// highest token.
    pub(crate) fn compacted(&self, remember: usize) -> Journal {
        let (mut kept_records, mut kept_ids) = (0, 0);
        for record in self.records.iter().rev() {
            if kept_records > 0 && (kept_records >= remember || kept_ids >= remember) {
                break;
            }
            kept_records += 1;
            kept_ids += record.ids.len();
        }
        let split = self.records.len() - kept_records;
        let (dropped, kept) = self.records.split_at(split);
        let header = Header {
            committed: dropped.last().map_or(self.header.committed, |r| r.end),
            token: dropped
                .iter()
                .filter_map(|record| record.token)
                .chain(self.header.token)
                .max(),
        };
        let mut journal = Journal::new(header);
        kept.iter().cloned().for_each(|record| journal.push(record));
        journal
    }

    /// The whole file.
    pub(crate) fn render(&self) -> String {
        let mut text = self.header.render();
        self.records
            .iter()
            .for_each(|record| text.push_str(&record.render()));
        text
    }
}

#[cfg(test)]
#[path = "journal_test.rs"]
mod tests;

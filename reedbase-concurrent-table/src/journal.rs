// SPDX-License-Identifier: Apache-2.0
//! The journal beside a table file: its text format, how it is read back
//! after a crash, and how it is compacted.
//!
//! One line per apply step, each ending in a checksum of the rest of the
//! line, after a header line:
//!
//! ```text
//! reedbase-table-journal 1 <committed> <token> <generation> <checksum>
//! r <start> <end> <token> [<queue id> ...] <checksum>
//! ```
//!
//! - the header's `committed` is the table length when the journal was
//!   (re)written, its `token` the highest fencing token of the records
//!   dropped by compaction (`-` for none), and its `generation` a number
//!   that grows with every rewrite (it starts from the clock when a journal
//!   is created), so that a writer that keeps a journal in memory between
//!   steps can tell an appended journal from a rewritten one;
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
    /// Grows with every rewrite of the journal.
    pub(crate) generation: u64,
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
    /// Every queue id of `records`, kept up to date as records are added
    /// so that a step looks ids up without going through all records.
    ids: HashSet<String>,
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
            "{MAGIC} {VERSION} {} {} {}",
            self.committed,
            render_token(self.token),
            self.generation
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
        [MAGIC, VERSION, committed, token, generation] => Ok(Header {
            committed: committed
                .parse()
                .map_err(|_| format!("header length {committed:?} is not a number"))?,
            token: parse_token(token).ok_or(format!("header token {token:?} is not a number"))?,
            generation: generation
                .parse()
                .map_err(|_| format!("header generation {generation:?} is not a number"))?,
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
            ids: HashSet::new(),
        }
    }

    /// Reads a journal file's bytes.
    ///
    /// # Errors
    ///
    /// A reason when the journal is corrupt: no valid header, a bad line
    /// before the last one, records that are not contiguous.
    pub(crate) fn parse(bytes: &[u8]) -> Result<Journal, String> {
        let header_end =
            bytes
                .iter()
                .position(|&byte| byte == b'\n')
                .ok_or(if bytes.is_empty() {
                    "it is empty"
                } else {
                    "its header is torn"
                })?;
        let header = parse_header(&bytes[..header_end])?;
        let mut journal = Journal::new(header);
        journal.valid_len = header_end as u64 + 1;
        journal.parse_records(&bytes[header_end + 1..], 2)?;
        Ok(journal)
    }

    /// Reads the bytes appended to the journal file since `valid_len`, as
    /// records that continue this journal (which must have no torn tail).
    ///
    /// # Errors
    ///
    /// As [`parse`](Self::parse).
    pub(crate) fn parse_appended(&mut self, bytes: &[u8]) -> Result<(), String> {
        debug_assert_eq!(self.torn_len, 0);
        let first_line = 2 + self.records.len();
        self.parse_records(bytes, first_line)
    }

    /// Adds the records in `bytes` (line `number` onwards, for messages);
    /// a bad last line is a torn tail.
    fn parse_records(&mut self, bytes: &[u8], mut number: usize) -> Result<(), String> {
        let mut lines = bytes.split_inclusive(|&byte| byte == b'\n').peekable();
        while let Some(line) = lines.next() {
            let last = lines.peek().is_none();
            let record = line
                .strip_suffix(b"\n")
                .and_then(unseal)
                .and_then(|fields| parse_record(&fields));
            match record {
                Some(record) if record.start == self.committed() && record.end >= record.start => {
                    self.valid_len += line.len() as u64;
                    self.store(record);
                }
                Some(record) => {
                    return Err(format!(
                        "line {number} records bytes {}..{} where byte {} was due",
                        record.start,
                        record.end,
                        self.committed()
                    ));
                }
                None if last => self.torn_len = line.len() as u64,
                None => return Err(format!("line {number} is damaged")),
            }
            number += 1;
        }
        Ok(())
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

    /// True when the journal records `queue_id` as applied.
    pub(crate) fn remembers(&self, queue_id: &str) -> bool {
        self.ids.contains(queue_id)
    }

    /// The queue ids the journal remembers, newest first.
    pub(crate) fn remembered_ids(&self) -> impl Iterator<Item = &str> {
        self.records
            .iter()
            .rev()
            .flat_map(|record| record.ids.iter().rev().map(String::as_str))
    }

    /// How many queue ids the journal remembers.
    pub(crate) fn remembered_count(&self) -> usize {
        self.ids.len()
    }

    fn id_count(&self) -> usize {
        self.records.iter().map(|record| record.ids.len()).sum()
    }

    /// Appends a record (already written to the file).
    pub(crate) fn push(&mut self, record: Record) {
        self.valid_len += record.render().len() as u64;
        self.store(record);
    }

    fn store(&mut self, record: Record) {
        self.ids.extend(record.ids.iter().cloned());
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
            generation: self.header.generation.wrapping_add(1),
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

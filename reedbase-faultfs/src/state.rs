// SPDX-License-Identifier: Apache-2.0
//! The file system's contents as two layers, what a process sees and what
//! would survive a power cut, and the faults armed against it. Knows
//! nothing of FUSE: [`crate::fuse`] translates requests into these calls.

use std::collections::{BTreeMap, HashMap};
use std::ffi::{OsStr, OsString};
use std::time::SystemTime;

use crate::{Fault, FaultErrno, Op, OpCounts};

/// The root directory's inode number, as FUSE expects.
pub(crate) const ROOT: u64 = 1;

/// A file or a directory.
#[derive(Debug, Clone)]
pub(crate) struct Node {
    pub(crate) is_dir: bool,
    pub(crate) mode: u32,
    pub(crate) mtime: SystemTime,
    /// The last name it was given, for faults aimed at a name.
    pub(crate) name: OsString,
    /// A file's bytes as processes see them.
    pub(crate) data: Vec<u8>,
    /// A file's bytes as of its last successful fsync.
    durable_data: Vec<u8>,
    /// Byte ranges whose write-back a failed fsync dropped: a later fsync
    /// does not make them durable unless they are written again.
    dropped: Vec<(usize, usize)>,
    /// A directory's names as processes see them.
    pub(crate) entries: BTreeMap<OsString, u64>,
    /// A directory's names as of its last successful fsync.
    durable_entries: BTreeMap<OsString, u64>,
}

impl Node {
    fn new(is_dir: bool, mode: u32, name: &OsStr) -> Node {
        Node {
            is_dir,
            mode,
            mtime: SystemTime::now(),
            name: name.to_os_string(),
            data: Vec::new(),
            durable_data: Vec::new(),
            dropped: Vec::new(),
            entries: BTreeMap::new(),
            durable_entries: BTreeMap::new(),
        }
    }

    /// Makes the data durable, except what a failed fsync dropped.
    fn sync_data(&mut self) {
        let mut durable = self.data.clone();
        for &(from, to) in &self.dropped {
            for at in from..to.min(durable.len()) {
                durable[at] = self.durable_data.get(at).copied().unwrap_or(0);
            }
        }
        self.durable_data = durable;
        self.dropped.clear();
    }

    /// A failed fsync: what differs from the durable bytes is marked as
    /// dropped (the kernel marks such pages clean after reporting the error).
    fn drop_dirty(&mut self) {
        let common = self.data.len().min(self.durable_data.len());
        let mut at = 0;
        while at < common {
            if self.data[at] != self.durable_data[at] {
                let from = at;
                while at < common && self.data[at] != self.durable_data[at] {
                    at += 1;
                }
                self.dropped.push((from, at));
            }
            at += 1;
        }
        if self.data.len() > common {
            self.dropped.push((common, self.data.len()));
        }
    }

    /// A write of `from..to` dirties those bytes again.
    fn redirty(&mut self, from: usize, to: usize) {
        let mut kept = Vec::new();
        for &(a, b) in &self.dropped {
            if b <= from || a >= to {
                kept.push((a, b));
            } else {
                if a < from {
                    kept.push((a, from));
                }
                if b > to {
                    kept.push((to, b));
                }
            }
        }
        self.dropped = kept;
    }
}

/// Everything the file system holds.
#[derive(Debug)]
pub(crate) struct State {
    pub(crate) nodes: HashMap<u64, Node>,
    next_ino: u64,
    counts: OpCounts,
    faults: Vec<Armed>,
    /// The durable layer captured at a cut; set while the power is off.
    cut_image: Option<HashMap<u64, Node>>,
    /// Take a cut image when the durability-boundary count reaches this.
    cut_at_boundary: Option<u64>,
    /// The call an armed cut came before, as `Fsync table.journal`.
    pub(crate) cut_label: Option<String>,
}

/// A fault with the count of matching calls still to let through.
#[derive(Debug)]
struct Armed {
    fault: Fault,
    left: u64,
}

impl State {
    pub(crate) fn new() -> State {
        let mut nodes = HashMap::new();
        nodes.insert(ROOT, Node::new(true, 0o755, OsStr::new("/")));
        State {
            nodes,
            next_ino: ROOT + 1,
            counts: OpCounts::default(),
            faults: Vec::new(),
            cut_image: None,
            cut_at_boundary: None,
            cut_label: None,
        }
    }

    /// Empties the file system, disarms every fault and zeroes the counts.
    /// Inode numbers are never reused, so what the kernel still caches of
    /// an old file is simply not found.
    pub(crate) fn reset(&mut self) {
        let next_ino = self.next_ino;
        *self = State::new();
        self.next_ino = next_ino;
    }

    pub(crate) fn counts(&self) -> OpCounts {
        self.counts
    }

    pub(crate) fn arm(&mut self, fault: Fault) {
        let left = fault.nth.saturating_sub(1);
        self.faults.push(Armed { fault, left });
    }

    pub(crate) fn disarm(&mut self) {
        self.faults.clear();
        self.cut_at_boundary = None;
    }

    pub(crate) fn arm_cut_at_boundary(&mut self, boundary: u64) {
        self.cut_at_boundary = Some(boundary);
    }

    pub(crate) fn is_off(&self) -> bool {
        self.cut_image.is_some()
    }

    /// Cuts the power now: the durable layer is captured, and every later
    /// change fails with `EIO` until [`restore`](Self::restore).
    pub(crate) fn cut_now(&mut self) {
        if self.cut_image.is_none() {
            self.cut_image = Some(self.durable_image());
        }
    }

    /// Brings the power back: the file system becomes its durable layer as
    /// of the cut (or as of now, if the power was not cut before).
    pub(crate) fn restore(&mut self) {
        self.cut_now();
        self.nodes = self.cut_image.take().unwrap_or_default();
        self.cut_at_boundary = None;
    }

    /// Every node reachable from the root through durable names, each as
    /// its durable layer.
    fn durable_image(&self) -> HashMap<u64, Node> {
        let mut image = HashMap::new();
        let mut todo = vec![ROOT];
        while let Some(ino) = todo.pop() {
            let Some(node) = self.nodes.get(&ino) else {
                continue;
            };
            if image.contains_key(&ino) {
                continue;
            }
            let mut kept = node.clone();
            kept.data = node.durable_data.clone();
            kept.dropped.clear();
            kept.entries = node.durable_entries.clone();
            todo.extend(kept.entries.values().copied());
            image.insert(ino, kept);
        }
        image
    }

    /// Counts a call of `op` on a node named `name`, and answers whether it
    /// must fail (the power is off, or an armed fault fires). Durability
    /// boundaries (fsync and rename) are counted before they run, so that a
    /// cut armed at boundary `k` captures what was durable before the
    /// `k`-th one.
    pub(crate) fn enter(&mut self, op: Op, name: &OsStr) -> Result<(), FaultErrno> {
        if matches!(op, Op::Fsync | Op::Rename) {
            self.counts.boundaries += 1;
            if self.cut_at_boundary == Some(self.counts.boundaries) {
                self.cut_label = Some(format!("{op:?} {}", name.to_string_lossy()));
                self.cut_now();
            }
        }
        if self.is_off() {
            return Err(FaultErrno::Eio);
        }
        self.counts.add(op);
        let mut fired = None;
        for armed in &mut self.faults {
            let fault = &armed.fault;
            let named = fault.name.as_deref().is_none_or(|wanted| wanted == name);
            if fault.op != op || !named {
                continue;
            }
            if armed.left == 0 {
                fired = Some(fault.errno);
                armed.left = u64::MAX;
                break;
            }
            armed.left = armed.left.saturating_sub(1);
        }
        self.faults.retain(|armed| armed.left != u64::MAX);
        match fired {
            Some(errno) => {
                self.counts.failed += 1;
                Err(errno)
            }
            None => Ok(()),
        }
    }

    pub(crate) fn node(&self, ino: u64) -> Option<&Node> {
        self.nodes.get(&ino)
    }

    pub(crate) fn node_mut(&mut self, ino: u64) -> Option<&mut Node> {
        self.nodes.get_mut(&ino)
    }

    pub(crate) fn lookup(&self, parent: u64, name: &OsStr) -> Option<u64> {
        self.nodes.get(&parent)?.entries.get(name).copied()
    }

    /// Adds a new file or directory under `parent`.
    pub(crate) fn add(&mut self, parent: u64, name: &OsStr, is_dir: bool, mode: u32) -> u64 {
        let ino = self.next_ino;
        self.next_ino += 1;
        self.nodes.insert(ino, Node::new(is_dir, mode, name));
        if let Some(dir) = self.nodes.get_mut(&parent) {
            dir.entries.insert(name.to_os_string(), ino);
            dir.mtime = SystemTime::now();
        }
        ino
    }

    /// Writes `bytes` at `offset` (at the end when `append`); returns the
    /// count written.
    pub(crate) fn write(&mut self, ino: u64, offset: u64, bytes: &[u8], append: bool) -> usize {
        let Some(node) = self.nodes.get_mut(&ino) else {
            return 0;
        };
        let from = if append {
            node.data.len()
        } else {
            usize::try_from(offset).unwrap_or(usize::MAX)
        };
        let to = from.saturating_add(bytes.len());
        if node.data.len() < to {
            node.data.resize(to, 0);
        }
        node.data[from..to].copy_from_slice(bytes);
        node.redirty(from, to);
        node.mtime = SystemTime::now();
        bytes.len()
    }

    pub(crate) fn truncate(&mut self, ino: u64, len: u64) {
        if let Some(node) = self.nodes.get_mut(&ino) {
            let len = usize::try_from(len).unwrap_or(usize::MAX);
            node.data.resize(len, 0);
            node.redirty(len, usize::MAX);
            node.mtime = SystemTime::now();
        }
    }

    /// A successful fsync of a file or a directory.
    pub(crate) fn sync(&mut self, ino: u64) {
        if let Some(node) = self.nodes.get_mut(&ino) {
            if node.is_dir {
                node.durable_entries = node.entries.clone();
            } else {
                node.sync_data();
            }
        }
    }

    /// A failed fsync of a file: its dirty bytes are dropped.
    pub(crate) fn fail_sync(&mut self, ino: u64) {
        if let Some(node) = self.nodes.get_mut(&ino)
            && !node.is_dir
        {
            node.drop_dirty();
        }
    }

    /// Removes the name `name` from `parent`.
    pub(crate) fn unlink(&mut self, parent: u64, name: &OsStr) -> Option<u64> {
        let dir = self.nodes.get_mut(&parent)?;
        let ino = dir.entries.remove(name)?;
        dir.mtime = SystemTime::now();
        Some(ino)
    }

    /// Moves `name` in `parent` to `new_name` in `new_parent`, replacing
    /// what was there.
    pub(crate) fn rename(
        &mut self,
        parent: u64,
        name: &OsStr,
        new_parent: u64,
        new_name: &OsStr,
    ) -> Option<()> {
        let ino = self.unlink(parent, name)?;
        let dir = self.nodes.get_mut(&new_parent)?;
        dir.entries.insert(new_name.to_os_string(), ino);
        dir.mtime = SystemTime::now();
        if let Some(node) = self.nodes.get_mut(&ino) {
            node.name = new_name.to_os_string();
        }
        Some(())
    }
}

#[cfg(test)]
#[path = "state_test.rs"]
mod tests;

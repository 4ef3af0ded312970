// SPDX-License-Identifier: Apache-2.0
//! The model's file system: the queue directory and `queue/corrupt/`, each
//! name with the inode it points to, now and as last made durable, and each
//! inode's data, now and as last made durable.
//!
//! Persistence model (the weakest POSIX allows for these calls): a create,
//! rename or unlink changes a name at once for every process, but is durable
//! only once its directory is fsynced, which makes every name of that
//! directory durable as it is then. A file's data is durable only once the
//! file is fsynced. A power cut keeps or forgets each change that was not
//! durable, every name and every inode's data on its own, in any
//! combination (so a rename may come back as both names, or neither).

use std::fmt;

/// One of the two directories of a queue.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Dir {
    Queue,
    Corrupt,
}

/// An inode, named by what made it (so equal histories give equal states).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub(crate) enum Ino {
    /// The temporary a producer made for one attempt at one write.
    Temporary { write: u8, attempt: u8 },
    /// A reason file of `move_aside`, made after `cut` power cuts (a
    /// name taken back and made again is another file).
    Reason { write: u8, copy: u8, cut: u8 },
    /// An entry that was never a producer's write (placed, damaged).
    Garbage,
}

/// A name in one of the queue's directories.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub(crate) enum Name {
    /// `queue/.incoming-<uuid>.tmp`
    Temporary { write: u8, attempt: u8 },
    /// `queue/<seq>-<uuid>.pending`
    Pending { seq: u8, write: u8 },
    /// `queue/corrupt/<seq>-<uuid>[.copy-N].pending`
    Aside { seq: u8, write: u8, copy: u8 },
    /// `queue/corrupt/<seq>-<uuid>[.copy-N].reason`
    Reason { seq: u8, write: u8, copy: u8 },
}

impl Name {
    pub(crate) fn dir(self) -> Dir {
        match self {
            Name::Temporary { .. } | Name::Pending { .. } => Dir::Queue,
            Name::Aside { .. } | Name::Reason { .. } => Dir::Corrupt,
        }
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let copy = |copy: &u8| match copy {
            1 => String::new(),
            n => format!(".copy-{n}"),
        };
        match self {
            Name::Temporary { write, attempt } => write!(f, ".incoming-w{write}a{attempt}.tmp"),
            Name::Pending { seq, write } => write!(f, "{seq:02}-w{write}.pending"),
            Name::Aside {
                seq,
                write,
                copy: n,
            } => {
                write!(f, "corrupt/{seq:02}-w{write}{}.pending", copy(n))
            }
            Name::Reason {
                seq,
                write,
                copy: n,
            } => {
                write!(f, "corrupt/{seq:02}-w{write}{}.reason", copy(n))
            }
        }
    }
}

/// What a file holds: nothing readable (empty, torn, never written) or
/// what was written into it whole.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub(crate) enum Content {
    Blank,
    Written,
}

#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub(crate) struct Inode {
    pub(crate) ino: Ino,
    pub(crate) now: Content,
    pub(crate) durable: Content,
    /// The producer holding the file's exclusive `flock`.
    pub(crate) locked_by: Option<u8>,
}

/// Names sorted by name, so that equal directories compare equal.
type Names = Vec<(Name, Ino)>;

#[derive(Clone, PartialEq, Eq, Hash, Debug, Default)]
pub(crate) struct Fs {
    names: Names,
    durable: Names,
    inodes: Vec<Inode>,
}

fn find(names: &Names, name: Name) -> Option<Ino> {
    names
        .binary_search_by_key(&name, |(n, _)| *n)
        .ok()
        .map(|at| names[at].1)
}

fn set(names: &mut Names, name: Name, ino: Option<Ino>) {
    match (names.binary_search_by_key(&name, |(n, _)| *n), ino) {
        (Ok(at), Some(ino)) => names[at].1 = ino,
        (Ok(at), None) => {
            names.remove(at);
        }
        (Err(at), Some(ino)) => names.insert(at, (name, ino)),
        (Err(_), None) => {}
    }
}

impl Fs {
    /// A file that was durable before the model starts.
    pub(crate) fn with_durable_file(mut self, name: Name, ino: Ino, content: Content) -> Fs {
        self.create(name, ino);
        if let Some(inode) = self.inode_mut(ino) {
            inode.now = content;
            inode.durable = content;
        }
        self.fsync_dir(name.dir());
        self
    }

    pub(crate) fn lookup(&self, name: Name) -> Option<Ino> {
        find(&self.names, name)
    }

    pub(crate) fn exists(&self, name: Name) -> bool {
        self.lookup(name).is_some()
    }

    /// Every name, as a process sees it now.
    pub(crate) fn names(&self) -> impl Iterator<Item = (Name, Ino)> + '_ {
        self.names.iter().copied()
    }

    /// The queue's entries, `(sequence, write, inode)`.
    pub(crate) fn pending(&self) -> impl Iterator<Item = (u8, u8, Ino)> + '_ {
        self.names.iter().filter_map(|(name, ino)| match name {
            Name::Pending { seq, write } => Some((*seq, *write, *ino)),
            _ => None,
        })
    }

    pub(crate) fn inode(&self, ino: Ino) -> Option<&Inode> {
        self.inodes.iter().find(|inode| inode.ino == ino)
    }

    pub(crate) fn inode_mut(&mut self, ino: Ino) -> Option<&mut Inode> {
        self.inodes.iter_mut().find(|inode| inode.ino == ino)
    }

    /// What the file `name` holds now, if it exists.
    pub(crate) fn content(&self, name: Name) -> Option<Content> {
        self.lookup(name)
            .and_then(|ino| self.inode(ino))
            .map(|inode| inode.now)
    }

    /// `openat(O_CREAT | O_EXCL)`: a new empty file.
    pub(crate) fn create(&mut self, name: Name, ino: Ino) {
        set(&mut self.names, name, Some(ino));
        if self.inode(ino).is_none() {
            let at = self.inodes.partition_point(|inode| inode.ino < ino);
            self.inodes.insert(
                at,
                Inode {
                    ino,
                    now: Content::Blank,
                    durable: Content::Blank,
                    locked_by: None,
                },
            );
        }
    }

    /// `unlinkat`; false if there was no such name.
    pub(crate) fn unlink(&mut self, name: Name) -> bool {
        let found = self.exists(name);
        set(&mut self.names, name, None);
        found
    }

    /// `renameat`; false (`ENOENT`) if `from` does not exist.
    pub(crate) fn rename(&mut self, from: Name, to: Name) -> bool {
        let Some(ino) = self.lookup(from) else {
            return false;
        };
        set(&mut self.names, from, None);
        set(&mut self.names, to, Some(ino));
        true
    }

    /// `write_all` of a whole entry or reason.
    pub(crate) fn write(&mut self, ino: Ino) {
        if let Some(inode) = self.inode_mut(ino) {
            inode.now = Content::Written;
        }
    }

    /// `fsync` (or `fdatasync`) of a file.
    pub(crate) fn fsync_file(&mut self, ino: Ino) {
        if let Some(inode) = self.inode_mut(ino) {
            inode.durable = inode.now;
        }
    }

    /// `fsync` of a directory: every name in it durable as it is now.
    pub(crate) fn fsync_dir(&mut self, dir: Dir) {
        self.durable.retain(|(name, _)| name.dir() != dir);
        self.durable
            .extend(self.names.iter().filter(|(name, _)| name.dir() == dir));
        self.durable.sort_unstable();
    }

    /// Drops the inodes that no name (now or durable) points to and that
    /// no process holds open.
    pub(crate) fn collect_garbage(&mut self, open: &[Ino]) {
        let names = &self.names;
        let durable = &self.durable;
        self.inodes.retain(|inode| {
            open.contains(&inode.ino)
                || names.iter().any(|(_, ino)| *ino == inode.ino)
                || durable.iter().any(|(_, ino)| *ino == inode.ino)
        });
    }

    /// Releases every `flock` that `producer` holds (it died).
    pub(crate) fn release_flocks_of(&mut self, producer: u8) {
        for inode in &mut self.inodes {
            if inode.locked_by == Some(producer) {
                inode.locked_by = None;
            }
        }
    }

    /// Every file system a power cut can leave: each name and each inode's
    /// data that is not durable is kept or forgotten, in every combination;
    /// what is left is then durable, and no `flock` survives.
    pub(crate) fn after_power_cut(&self) -> Vec<Fs> {
        let mut keys: Vec<Name> = self.names.iter().map(|(name, _)| *name).collect();
        keys.extend(self.durable.iter().map(|(name, _)| *name));
        keys.sort_unstable();
        keys.dedup();
        let dirty_names: Vec<Name> = keys
            .iter()
            .copied()
            .filter(|name| find(&self.names, *name) != find(&self.durable, *name))
            .collect();
        let dirty_inodes: Vec<Ino> = self
            .inodes
            .iter()
            .filter(|inode| inode.now != inode.durable)
            .map(|inode| inode.ino)
            .collect();
        let choices = dirty_names.len() + dirty_inodes.len();
        let mut outcomes: Vec<Fs> = Vec::with_capacity(1 << choices);
        for kept in 0u32..(1 << choices) {
            let keeps = |at: usize| kept & (1 << at) != 0;
            let mut names = self.durable.clone();
            for (at, name) in dirty_names.iter().enumerate() {
                if keeps(at) {
                    set(&mut names, *name, find(&self.names, *name));
                }
            }
            let inodes = self
                .inodes
                .iter()
                .map(|inode| {
                    let dirty = dirty_inodes.iter().position(|ino| *ino == inode.ino);
                    let content = match dirty {
                        Some(at) if keeps(dirty_names.len() + at) => inode.now,
                        _ => inode.durable,
                    };
                    Inode {
                        ino: inode.ino,
                        now: content,
                        durable: content,
                        locked_by: None,
                    }
                })
                .collect();
            let mut fs = Fs {
                durable: names.clone(),
                names,
                inodes,
            };
            fs.collect_garbage(&[]);
            if !outcomes.contains(&fs) {
                outcomes.push(fs);
            }
        }
        outcomes
    }
}

// SPDX-License-Identifier: Apache-2.0
use std::ffi::OsStr;
use std::fs;
use std::os::fd::AsFd;
use std::time::Duration;

use super::{Counts, Watched, with_dir};
use crate::no_follow::facts_of;
use crate::queue::entry_id::temporary_file_name;

const LEGACY: &str = "0b5c1e8f-9d0a-4c6e-8e7f-1a2b3c4d5e6f.pending";

fn sequenced(sequence: u128) -> String {
    format!("{sequence:020}-0123456789abcdef0123456789abcdef.pending")
}

fn counted() -> Watched {
    let mut watched = Watched::new((1, 2));
    watched.counts = Some(Counts {
        pending: 0,
        temporaries: 0,
    });
    watched
}

#[test]
fn arrivals_and_departures_keep_the_counts() {
    let mut w = counted();
    let temporary = temporary_file_name("00000000000000000000-0123456789abcdef0123456789abcdef");
    w.arrive(OsStr::new(&temporary));
    w.arrive(OsStr::new(&sequenced(0)));
    w.depart(OsStr::new(&temporary));
    w.arrive(OsStr::new(LEGACY));
    w.arrive(OsStr::new("notes.txt"));
    assert_eq!(
        w.counts,
        Some(Counts {
            pending: 2,
            temporaries: 0,
        })
    );
    w.depart(OsStr::new(&sequenced(0)));
    assert_eq!(w.counts.map(|c| c.pending), Some(1));
    assert_eq!(w.top, Some(0));
    assert_eq!(
        w.arrivals_seen, 2,
        "entries arrive; a temporary or an unrelated name does not"
    );
}

#[test]
fn temporaries_are_counted_loosely_and_timed() {
    let mut w = counted();
    let temporary = temporary_file_name("0123456789abcdef0123456789abcdef");
    w.depart(OsStr::new(&temporary));
    assert!(w.counts.is_some(), "a temporary below zero forgets nothing");
    assert!(!w.temporaries_counted_for(Duration::ZERO));
    w.arrive(OsStr::new(&temporary));
    assert!(w.temporaries_counted_for(Duration::ZERO));
    assert!(!w.temporaries_counted_for(Duration::from_secs(3600)));
    w.temporaries_checked();
    assert!(!w.temporaries_counted_for(Duration::from_secs(3600)));
    w.depart(OsStr::new(&temporary));
    assert!(
        !w.temporaries_counted_for(Duration::ZERO),
        "none counted, none stale"
    );
    assert_eq!(w.arrivals_seen, 0);
}

#[test]
fn a_departure_below_zero_forgets_the_counts_and_moves_the_order() {
    let mut w = counted();
    w.depart(OsStr::new(&sequenced(3)));
    assert_eq!(w.counts, None);
    assert_eq!(w.order, 1);
}

#[test]
fn only_arrivals_that_may_sort_before_a_listing_move_the_order() {
    let mut w = counted();
    w.raise_top(Some(10));
    w.arrive(OsStr::new(&sequenced(11)));
    w.arrive(OsStr::new(&sequenced(12)));
    assert_eq!(w.order, 0, "producers' entries sort last");
    w.arrive(OsStr::new(&sequenced(5)));
    assert_eq!(w.order, 1, "an entry put back below the top");
    w.arrive(OsStr::new(LEGACY));
    assert_eq!(w.order, 2, "an old-module entry sorts first");
    w.arrive(OsStr::new(
        "10000000000000000000-0123456789abcdef0123456789abcdef.pending",
    ));
    assert_eq!(w.order, 3, "a crafted entry beyond producers");
    assert_eq!(w.top, Some(12));
}

#[test]
fn arrivals_are_remembered_in_a_bounded_log() {
    let mut w = counted();
    for n in 0..super::LOG_LEN as u128 + 10 {
        w.arrive(OsStr::new(&sequenced(n)));
    }
    assert!(w.arrivals_since(0).is_none(), "the first ten are forgotten");
    let since: Vec<_> = w.arrivals_since(w.arrivals_seen - 2).unwrap().collect();
    assert_eq!(since.len(), 2);
    assert_eq!(
        since[1].name.to_str(),
        Some(sequenced(super::LOG_LEN as u128 + 9).as_str())
    );
}

#[test]
fn changes_made_by_another_hand_are_seen() {
    let dir = tempfile::tempdir().unwrap();
    let queue = fs::File::open(dir.path()).unwrap();
    let facts = facts_of(&queue).unwrap();
    let key = (facts.dev, facts.ino);
    let Some(first) = with_dir(queue.as_fd(), key, |w| (w.incarnation, w.arrivals_seen)) else {
        // A file system that is not watched: nothing to see here.
        return;
    };
    fs::write(dir.path().join(LEGACY), b"{}").unwrap();
    fs::write(dir.path().join("other.txt"), b"").unwrap();
    let (incarnation, arrivals, order) = with_dir(queue.as_fd(), key, |w| {
        (w.incarnation, w.arrivals_seen, w.order)
    })
    .unwrap();
    assert_eq!(incarnation, first.0);
    assert_eq!(arrivals, first.1 + 1);
    assert_eq!(order, 1);
}

#[test]
fn a_directory_made_anew_is_another_incarnation() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("q");
    fs::create_dir(&path).unwrap();
    let queue = fs::File::open(&path).unwrap();
    let facts = facts_of(&queue).unwrap();
    let key = (facts.dev, facts.ino);
    let Some(first) = with_dir(queue.as_fd(), key, |w| w.incarnation) else {
        return;
    };
    drop(queue);
    fs::remove_dir(&path).unwrap();
    fs::create_dir(&path).unwrap();
    let queue = fs::File::open(&path).unwrap();
    let facts = facts_of(&queue).unwrap();
    let again = with_dir(queue.as_fd(), (facts.dev, facts.ino), |w| w.incarnation).unwrap();
    assert_ne!(first, again);
}

fn counts(pending: usize) -> Counts {
    Counts {
        pending,
        temporaries: 0,
    }
}

#[test]
fn a_listing_during_which_entries_only_left_becomes_the_baseline() {
    let mut w = Watched::new((1, 2));
    let mark = w.listing_mark();
    // A consumer removes two entries while the producer lists (the events
    // are read before the listing is taken).
    w.depart(OsStr::new(&sequenced(0)));
    w.depart(OsStr::new(&sequenced(1)));
    w.take_listing(mark, counts(5), Some(7));
    assert_eq!(w.counts, Some(counts(5)));
    assert_eq!(w.top, Some(7));
}

#[test]
fn a_listing_during_which_an_entry_arrived_or_events_were_lost_is_not_taken() {
    let mut w = Watched::new((1, 2));
    let mark = w.listing_mark();
    w.arrive(OsStr::new(&sequenced(9)));
    w.take_listing(mark, counts(5), Some(7));
    assert_eq!(w.counts, None);
    assert_eq!(w.top, Some(9), "only raised");

    let mut w = counted();
    let mark = w.listing_mark();
    w.forget_counts();
    w.take_listing(mark, counts(5), Some(7));
    assert_eq!(w.counts, None, "a lost event");
}

#[test]
fn a_removal_of_this_process_takes_its_entry_off_the_count_once() {
    let mut w = counted();
    w.arrive(OsStr::new(&sequenced(0)));
    w.arrive(OsStr::new(&sequenced(1)));
    w.removal_begins();
    w.removal_ended(Some(OsStr::new(&sequenced(0))));
    assert_eq!(w.counts, Some(counts(1)));
    w.removal_begins();
    w.removal_ended(None);
    assert_eq!(
        w.counts,
        Some(counts(1)),
        "nothing unlinked, nothing taken off"
    );
    w.removal_begins();
    w.removal_ended(Some(OsStr::new(&sequenced(1))));
    w.removal_begins();
    w.removal_ended(Some(OsStr::new(&sequenced(7))));
    assert_eq!(w.counts, None, "below zero: forgotten");
}

#[test]
fn a_listing_during_a_removal_of_this_process_is_not_taken() {
    // Begun before the mark, ended after the listing: the listing may have
    // missed the unlinked entry, and the removal takes it off again.
    let mut w = counted();
    w.removal_begins();
    let mark = w.listing_mark();
    w.take_listing(mark, counts(4), Some(7));
    assert_eq!(w.counts, Some(counts(0)), "still the old counts");
    w.removal_ended(None);
    // Begun during the listing.
    let mark = w.listing_mark();
    w.removal_begins();
    w.removal_ended(None);
    w.take_listing(mark, counts(4), Some(7));
    assert_eq!(w.counts, Some(counts(0)));
    // Begun before the mark and ended before the listing is taken: what
    // the removal took off was taken off the old counts, and the listing
    // is at least the truth.
    let mut w = counted();
    w.arrive(OsStr::new(&sequenced(3)));
    w.removal_begins();
    let mark = w.listing_mark();
    w.removal_ended(Some(OsStr::new(&sequenced(3))));
    w.take_listing(mark, counts(2), Some(7));
    assert_eq!(w.counts, Some(counts(2)));
}

#[test]
fn a_deletion_by_another_hand_is_not_counted_and_a_removal_here_is() {
    let dir = tempfile::tempdir().unwrap();
    let queue = fs::File::open(dir.path()).unwrap();
    let facts = facts_of(&queue).unwrap();
    let key = (facts.dev, facts.ino);
    if with_dir(queue.as_fd(), key, |w| w.counts = Some(counts(0))).is_none() {
        return; // a file system that is not watched
    }
    let (first, second) = (sequenced(0), sequenced(1));
    fs::write(dir.path().join(&first), b"{}").unwrap();
    fs::write(dir.path().join(&second), b"{}").unwrap();
    let pending = |queue: &fs::File| with_dir(queue.as_fd(), key, |w| w.counts.unwrap().pending);
    assert_eq!(pending(&queue), Some(2));
    // Deleted by hand: no event, the count stays above the truth.
    fs::remove_file(dir.path().join(&first)).unwrap();
    assert_eq!(pending(&queue), Some(2));
    // Removed through a noted removal: taken off.
    let removal = super::removal(key).expect("a watched directory");
    fs::remove_file(dir.path().join(&second)).unwrap();
    removal.ended(Some(OsStr::new(&second)));
    assert_eq!(pending(&queue), Some(1));
    // A removal dropped without an end ends as one that removed nothing,
    // and does not keep listings from being taken.
    drop(super::removal(key));
    let mark = with_dir(queue.as_fd(), key, |w| w.listing_mark()).unwrap();
    with_dir(queue.as_fd(), key, |w| {
        w.take_listing(mark, counts(0), None)
    })
    .unwrap();
    assert_eq!(pending(&queue), Some(0));
}

// SPDX-License-Identifier: Apache-2.0
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;

const ROOT: &str = "/.reedbase-calls";

/// `strace -f -o` output of two counted calls of operation 0 and one of
/// operation 3: another thread's call that starts inside a window and is
/// resumed, a signal and an exit line, calls outside any window.
const STRACE: &str = r#"24553 openat(AT_FDCWD, "/tmp/x", O_RDONLY|O_CLOEXEC) = 3
24553 statx(AT_FDCWD, "/.reedbase-calls/b0", AT_STATX_SYNC_AS_STAT|AT_SYMLINK_NOFOLLOW, STATX_ALL, 0x7fff4d6c8170) = -1 ENOENT (No such file or directory)
24553 flock(4, LOCK_EX|LOCK_NB)         = 0
24553 newfstatat(5, "write.lock", {st_mode=S_IFREG|0644, st_size=256, ...}, AT_SYMLINK_NOFOLLOW) = 0
24560 futex(0x7f0c2c000b70, FUTEX_WAIT_BITSET_PRIVATE, 0, NULL, FUTEX_BITSET_MATCH_ANY <unfinished ...>
24553 flock(4, LOCK_UN)                 = 0
24553 statx(AT_FDCWD, "/.reedbase-calls/e0", AT_STATX_SYNC_AS_STAT|AT_SYMLINK_NOFOLLOW, STATX_ALL, 0x7fff4d6c8170) = -1 ENOENT (No such file or directory)
24553 close(3)                          = 0
24560 <... futex resumed>)              = 0
24553 --- SIGCHLD {si_signo=SIGCHLD, si_code=CLD_EXITED, si_pid=24561, si_uid=0, si_status=0, si_utime=0, si_stime=0} ---
24553 statx(AT_FDCWD, "/.reedbase-calls/b0", AT_STATX_SYNC_AS_STAT|AT_SYMLINK_NOFOLLOW, STATX_ALL, 0x7fff4d6c8170) = -1 ENOENT (No such file or directory)
24553 flock(4, LOCK_EX|LOCK_NB)         = 0
24553 flock(4, LOCK_UN)                 = 0
24553 statx(AT_FDCWD, "/.reedbase-calls/e0", AT_STATX_SYNC_AS_STAT|AT_SYMLINK_NOFOLLOW, STATX_ALL, 0x7fff4d6c8170) = -1 ENOENT (No such file or directory)
[pid 24553] newfstatat(AT_FDCWD, "/.reedbase-calls/b3", 0x7ffd1c0, AT_SYMLINK_NOFOLLOW) = -1 ENOENT (No such file or directory)
24553 openat2(3, "tables/never_locked", {flags=O_RDONLY|O_NOFOLLOW|O_CLOEXEC|O_DIRECTORY, resolve=RESOLVE_NO_SYMLINKS|RESOLVE_BENEATH}, 24) = -1 ENOENT (No such file or directory)
[pid 24553] newfstatat(AT_FDCWD, "/.reedbase-calls/e3", 0x7ffd1c0, AT_SYMLINK_NOFOLLOW) = -1 ENOENT (No such file or directory)
24553 exit_group(0)                     = ?
24553 +++ exited with 0 +++
"#;

#[test]
fn strace_windows_count_the_calls_between_the_markers_by_name() {
    let windows = strace_windows(STRACE, ROOT).unwrap();
    assert_eq!(windows.keys().copied().collect::<Vec<_>>(), vec![0, 3]);
    let first = &windows[&0];
    assert_eq!(first.windows, 2);
    // Four flocks, one newfstatat, and the other thread's futex, which
    // started inside the first window; not its resumption, not the marker
    // calls, not the close or the signal outside.
    let expected: BTreeMap<String, u64> = [("flock", 4), ("futex", 1), ("newfstatat", 1)]
        .into_iter()
        .map(|(name, n)| (name.to_string(), n))
        .collect();
    assert_eq!(first.calls, expected);
    assert_eq!(first.total(), 6);
    let third = &windows[&3];
    assert_eq!(third.windows, 1);
    assert_eq!(third.calls.get("openat2"), Some(&1));
    assert_eq!(third.total(), 1);
}

#[test]
fn strace_windows_refuse_markers_out_of_order() {
    let unclosed = "1 statx(AT_FDCWD, \"/.reedbase-calls/b1\", 0) = -1 ENOENT\n1 close(3) = 0\n";
    assert!(
        strace_windows(unclosed, ROOT)
            .unwrap_err()
            .contains("never closed")
    );
    let crossed = "1 statx(AT_FDCWD, \"/.reedbase-calls/b1\", 0) = -1 ENOENT\n\
                   1 statx(AT_FDCWD, \"/.reedbase-calls/e2\", 0) = -1 ENOENT\n";
    assert!(
        strace_windows(crossed, ROOT)
            .unwrap_err()
            .contains("line 2")
    );
    let garbled = "1 statx(AT_FDCWD, \"/.reedbase-calls/x1\", 0) = -1 ENOENT\n";
    assert!(
        strace_windows(garbled, ROOT)
            .unwrap_err()
            .contains("does not parse")
    );
}

#[test]
fn strace_line_kinds() {
    assert_eq!(
        classify("24553 flock(4, LOCK_UN) = 0"),
        Line::Call {
            name: "flock",
            text: "flock(4, LOCK_UN) = 0"
        }
    );
    assert_eq!(
        classify("[pid 7] read(3, \"\", 8) = 0"),
        Line::Call {
            name: "read",
            text: "read(3, \"\", 8) = 0"
        }
    );
    assert_eq!(
        classify("getpid() = 5"),
        Line::Call {
            name: "getpid",
            text: "getpid() = 5"
        }
    );
    assert_eq!(classify("24560 <... futex resumed>) = 0"), Line::Other);
    assert_eq!(
        classify("24553 --- SIGCHLD {si_signo=SIGCHLD} ---"),
        Line::Other
    );
    assert_eq!(classify("24553 +++ exited with 0 +++"), Line::Other);
}

/// A callgrind profile written with `--combine-dumps=yes`, cut down: two
/// dumps before `calls_done`, then the one at the exit.
const CALLGRIND: &str = "# callgrind format
version: 1
creator: callgrind-3.19.0
pid: 24835
cmd:  /work/target/release/xtask __child calls fs /tmp/files 50

part: 1

desc: I1 cache: 
desc: Timerange: Basic block 0 - 112921
desc: Trigger: --dump-before=xtask::bench::calls_child::calls_done

positions: line
events: Ir
summary: 227801

ob=(1) /work/target/release/xtask
fl=(1) ???
fn=(1) xtask::bench::calls_child::calls_counted
0 120

totals: 227801

part: 2

desc: Trigger: --dump-before=xtask::bench::calls_child::calls_done

positions: line
events: Ir
summary: 591089

totals: 591089

part: 3

desc: Trigger: Program termination

positions: line
events: Ir
summary: 0

totals: 0
";

#[test]
fn callgrind_parts_in_order_with_their_trigger_and_total() {
    let parts = callgrind_parts(CALLGRIND).unwrap();
    let seen: Vec<(&str, u64)> = parts
        .iter()
        .map(|p| (p.trigger.as_str(), p.instructions))
        .collect();
    assert_eq!(
        seen,
        vec![
            (
                "--dump-before=xtask::bench::calls_child::calls_done",
                227_801
            ),
            (
                "--dump-before=xtask::bench::calls_child::calls_done",
                591_089
            ),
            ("Program termination", 0),
        ]
    );
}

#[test]
fn callgrind_parts_refuse_other_events_and_missing_totals() {
    let other = CALLGRIND.replace("events: Ir", "events: Dr Ir");
    assert!(callgrind_parts(&other).unwrap_err().contains("not Ir"));
    let missing = "part: 1\nevents: Ir\n";
    assert!(callgrind_parts(missing).unwrap_err().contains("no total"));
    // Only `summary:`: that is the total.
    let summary_only = "part: 1\nevents: Ir\nsummary: 42\n";
    assert_eq!(callgrind_parts(summary_only).unwrap()[0].instructions, 42);
}

#[test]
fn valgrind_warnings_name_the_unhandled_system_calls() {
    let stderr = "--24835-- WARNING: unhandled amd64-linux syscall: 437
--24835-- You may be able to write your own handler.
--24835-- WARNING: unhandled amd64-linux syscall: 437
--24835-- WARNING: unhandled amd64-linux syscall: 435
==24835== Events    : Ir
";
    assert_eq!(unhandled_system_calls(stderr), vec![435, 437]);
    assert!(unhandled_system_calls("==1== Collected : 33\n").is_empty());
}

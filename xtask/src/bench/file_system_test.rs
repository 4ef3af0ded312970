// SPDX-License-Identifier: Apache-2.0
use super::{describe, parse_line};

#[test]
fn a_mountinfo_line_gives_its_mount_point_type_and_source() {
    let line = "29 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw,discard";
    assert_eq!(
        parse_line(line),
        Some(("/".into(), "ext4".into(), "/dev/vda".into()))
    );
    let tmpfs = "40 29 0:35 / /run/x rw,nosuid - tmpfs tmpfs rw,size=1024k";
    assert_eq!(
        parse_line(tmpfs),
        Some(("/run/x".into(), "tmpfs".into(), "tmpfs".into()))
    );
    assert_eq!(parse_line("not a mountinfo line"), None);
}

#[test]
fn the_mount_of_a_directory_is_the_longest_mount_point_above_it() {
    let dir = tempfile::tempdir().unwrap();
    let found = describe(dir.path());
    let mount_point = found["mount_point"].as_str().expect("a mount point");
    assert!(dir.path().canonicalize().unwrap().starts_with(mount_point));
    assert!(found["type"].as_str().is_some_and(|t| !t.is_empty()));
    // /proc itself is a mount of its own, longer than `/`.
    assert_eq!(describe(std::path::Path::new("/proc/self"))["type"], "proc");
}

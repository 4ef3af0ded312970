// SPDX-License-Identifier: Apache-2.0
use super::{POSTCARD_MAGIC, decode, encode};
use crate::options::Codec;
use crate::queue::test_support::{LegacyPendingWrite, legacy_write, sample_write};

#[test]
fn json_round_trips_and_is_the_old_modules_json() {
    let write = sample_write("k", 3);
    let bytes = encode(&write, Codec::Json).unwrap();
    assert_eq!(bytes[0], b'{');
    assert_eq!(decode(&bytes).unwrap(), write);
    let legacy: LegacyPendingWrite = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(legacy.to_core(), write);
}

#[test]
fn old_module_json_decodes() {
    let legacy = legacy_write("old");
    let bytes = serde_json::to_vec(&legacy).unwrap();
    assert_eq!(decode(&bytes).unwrap(), legacy.to_core());
    let pretty = serde_json::to_vec_pretty(&legacy).unwrap();
    assert_eq!(decode(&pretty).unwrap(), legacy.to_core());
}

#[test]
fn postcard_round_trips_behind_its_magic() {
    let write = sample_write("k", 100);
    let bytes = encode(&write, Codec::Postcard).unwrap();
    assert!(bytes.starts_with(POSTCARD_MAGIC));
    assert!(bytes.len() < encode(&write, Codec::Json).unwrap().len());
    assert_eq!(decode(&bytes).unwrap(), write);
    assert!(serde_json::from_slice::<LegacyPendingWrite>(&bytes).is_err());
}

#[test]
fn torn_and_foreign_bytes_are_refused_with_a_reason() {
    let write = sample_write("k", 2);
    let json = encode(&write, Codec::Json).unwrap();
    let postcard = encode(&write, Codec::Postcard).unwrap();
    assert!(decode(b"").unwrap_err().contains("empty"));
    assert!(
        decode(&json[..json.len() - 1])
            .unwrap_err()
            .contains("JSON")
    );
    assert!(
        decode(&postcard[..postcard.len() - 1])
            .unwrap_err()
            .contains("postcard")
    );
    assert!(decode(&postcard[..3]).unwrap_err().contains("unknown"));
    let mut trailing = postcard.clone();
    trailing.push(0);
    assert!(decode(&trailing).unwrap_err().contains("trailing"));
    assert!(decode(b"\xFFRBQP\x02rest").unwrap_err().contains("unknown"));
    assert!(decode(b"not json").is_err());
}

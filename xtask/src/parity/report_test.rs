// SPDX-License-Identifier: Apache-2.0
//! Verdicts of findings against a listing, and what the counts make of
//! them.

use std::collections::BTreeMap;

use super::{Verdict, counts, details, verdict};
use crate::parity::findings::{Backend, BackendSet, Divergence, Finding, Group, Reruns};
use crate::parity::listing::{Listed, Listing};

fn finding(scenario: &str, differs_on: &[Backend], intermittent: Option<Reruns>) -> Finding {
    Finding {
        group: Group::Conformance,
        scenario: scenario.to_string(),
        cells: Default::default(),
        divergence: (!differs_on.is_empty()).then(|| Divergence {
            differs_on: BackendSet::of(differs_on),
            detail: format!("conformance case {scenario} failed\n"),
            intermittent,
        }),
    }
}

fn listing(entries: &[(&str, &[Backend], bool)]) -> Listing {
    let entries: BTreeMap<String, Listed> = entries
        .iter()
        .enumerate()
        .map(|(line, (name, on, sometimes))| {
            let listed = Listed {
                differs_on: BackendSet::of(on),
                sometimes: *sometimes,
                reason: "because".to_string(),
                line: line + 1,
            };
            ((*name).to_string(), listed)
        })
        .collect();
    Listing { entries }
}

const SOME_PASSED: Option<Reruns> = Some(Reruns { failed: 1, runs: 5 });

#[test]
fn an_unlisted_failure_of_the_old_module_that_came_and_went_only_warns() {
    let findings = [finding("flaky", &[Backend::Last], SOME_PASSED)];
    let empty = listing(&[]);
    assert_eq!(verdict(&findings[0], &empty), Verdict::IntermittentUnlisted);
    assert_eq!(counts(&findings, &empty, 0), [0, 0, 0, 0, 1]);
    let text = details(&findings, &empty, &[]);
    assert!(text.contains("INTERMITTENT, UNLISTED flaky"), "{text}");
    assert!(text.contains("1 of 5 runs again"), "{text}");
}

#[test]
fn a_steady_unlisted_failure_fails_the_run() {
    let findings = [finding("steady", &[Backend::Last], None)];
    let empty = listing(&[]);
    assert_eq!(verdict(&findings[0], &empty), Verdict::Unlisted);
    assert_eq!(counts(&findings, &empty, 0), [0, 0, 1, 0, 0]);
    assert!(details(&findings, &empty, &[]).contains("UNLISTED steady"));
}

#[test]
fn a_listing_decides_before_the_reruns() {
    let findings = [finding("flaky", &[Backend::Last], SOME_PASSED)];
    let listed = listing(&[("flaky", &[Backend::Last], true)]);
    assert_eq!(verdict(&findings[0], &listed), Verdict::Listed);
    let wrong_backends = listing(&[("flaky", &[Backend::Fs], false)]);
    assert_eq!(
        verdict(&findings[0], &wrong_backends),
        Verdict::IntermittentUnlisted
    );
}

#[test]
fn agreement_is_same_or_stale_as_listed() {
    let findings = [finding("agreed", &[], None)];
    assert_eq!(verdict(&findings[0], &listing(&[])), Verdict::Same);
    let sometimes = listing(&[("agreed", &[Backend::Last], true)]);
    assert_eq!(verdict(&findings[0], &sometimes), Verdict::SameSometimes);
    let always = listing(&[("agreed", &[Backend::Last], false)]);
    assert_eq!(verdict(&findings[0], &always), Verdict::Stale);
}

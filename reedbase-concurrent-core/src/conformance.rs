// SPDX-License-Identifier: Apache-2.0
//! Backend conformance suite (being written).
#![allow(missing_docs)]

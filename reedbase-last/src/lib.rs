// SPDX-License-Identifier: Apache-2.0
//! Behavioural reference of the old concurrent module (being written).

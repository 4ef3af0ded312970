// SPDX-License-Identifier: Apache-2.0
//! File-system backend (being written).

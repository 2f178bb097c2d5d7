// SPDX-License-Identifier: MIT OR Apache-2.0

mod concurrency;
mod group_operations;

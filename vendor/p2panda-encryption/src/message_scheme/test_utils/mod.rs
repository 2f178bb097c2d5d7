// SPDX-License-Identifier: MIT OR Apache-2.0

pub mod dcgka;
pub mod dgm;
pub mod network;
pub mod ordering;

//! Contract 0.2.0, frozen: its own bindings from `wit/v0.2.0`, converted to Baton's types at
//! the edge. Adds to 0.1.0 `needs-for-config`, vendor feedback with host-checked signatures,
//! and the computed-trait world.

#![allow(missing_docs, clippy::all)]

/// The contract version this module runs (`baton:plugin@0.2.0`).
pub(in crate::runtime) const VERSION: &str = "0.2.0";

super::since_0_2::since_0_2!("../wit/v0.2.0", v0_2_0);

/// 0.2.0 rules say nothing of when their verdict may change.
fn membership_out(m: segment_rule::exports::baton::plugin::segmentation::Membership) -> c::Membership {
    c::Membership { member: m.member, score: m.score, recheck_at: None }
}

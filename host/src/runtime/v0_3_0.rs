//! Contract 0.3.0, the newest: its own bindings from `wit/v0.3.0`, converted to Baton's types at
//! the edge. Adds to 0.2.0 the segment rule's `recheck-at`: when its verdict may change with no
//! new data, which keeps saved segments current by the clock.

#![allow(missing_docs, clippy::all)]

/// The contract version this module runs (`baton:plugin@0.3.0`).
pub(in crate::runtime) const VERSION: &str = "0.3.0";

super::since_0_2::since_0_2!("../wit/v0.3.0", v0_3_0);

fn membership_out(m: segment_rule::exports::baton::plugin::segmentation::Membership) -> c::Membership {
    c::Membership { member: m.member, score: m.score, recheck_at: m.recheck_at }
}

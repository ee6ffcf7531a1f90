//! The first-party plugins, built from `plugins/` by the build script and embedded in the binary.

include!(concat!(env!("OUT_DIR"), "/first_party.rs"));

/// The component bytes of a first-party plugin, by crate name (for example `segment-conditions`).
pub fn first_party(name: &str) -> Option<&'static [u8]> {
    FIRST_PARTY.iter().find(|(n, _)| *n == name).map(|(_, bytes)| *bytes)
}

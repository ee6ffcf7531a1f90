//! The `baton` command line. Subcommands arrive with the engine and API layers; for now it reports
//! its version and the contract versions it runs.

fn main() {
    println!(
        "baton {} (plugin contracts: {})",
        env!("CARGO_PKG_VERSION"),
        baton::SUPPORTED_CONTRACTS.join(", ")
    );
}

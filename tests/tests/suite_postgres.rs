//! The suite again, on PostgreSQL: the same modules as `suite`, where each test's data directory
//! stands for a schema of its own in a throwaway cluster (`baton_tests::on_postgres` tells the
//! two binaries apart by name).

#[path = "suite/main.rs"]
mod suite;

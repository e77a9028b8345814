//! The `metaquorum` binary.
fn main() {}

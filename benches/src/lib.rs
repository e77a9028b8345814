//! metaquorum-benches: criterion benchmarks live in `benches/benches/`.

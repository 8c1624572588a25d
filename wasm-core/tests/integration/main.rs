//! gatehouse-core's integration tests, one binary: shared fixtures, properties, the real corpus.

mod corpus;
mod differential;
mod fixtures;
mod properties;
mod schema;
mod spellings;

//! Password handling compatible with MAS: the configured hashing schemes (and, alongside,
//! hashing and verification).

pub mod scheme;

//! Log input (placeholder; parsers land here).

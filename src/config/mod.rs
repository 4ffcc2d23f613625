//! Loading stack files.

//! `infra`: infrastructure as code for AWS.
//!
//! Data flows one way: a stack (file or program) is loaded and validated into a
//! [`model::Stack`]; state is loaded by [`state`]; AWS is read by [`provider`];
//! [`plan::plan`] diffs the three without I/O; [`apply`] executes the plan,
//! writing state after every step. See ARCHITECTURE.md.

pub mod apply;
pub mod bundle;
pub mod check;
pub mod cli;
pub mod compose;
pub mod config;
pub mod cost;
pub mod engine;
pub mod model;
pub mod plan;
pub mod program;
pub mod provider;
pub mod refresh;
pub mod render;
pub mod secret;
pub mod state;

/// Typed resources for stack programs, one module per AWS service (see [`program`]).
pub use program::generated as aws;

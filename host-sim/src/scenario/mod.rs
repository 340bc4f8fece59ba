//! Scenario files for the `host-sim` command line: a plugin, its
//! configuration, a list of streams with callout answers and clock steps,
//! and expectations; running one gives a [`Report`] to print as a readable
//! trace or as JSON.
//!
//! The format is documented in host-sim's README.

mod check;
pub mod clock;
mod drive;
mod fields;
pub mod format;
mod mesh;
mod model;
mod raw;
mod report;
mod routes;
mod run;
pub mod schema;
mod shapes;
mod source;
pub mod trace;

pub use format::{Scenario, ScenarioError, load, parse};
pub use report::{
    CalloutReport, FinishedCalloutReport, GrpcReport, Headers, LinkReport, LogLine, Report, RouteReport, RunError,
    StepReport, TcpReport,
};
pub use run::run;
pub use schema::schema;

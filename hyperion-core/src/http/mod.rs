//! Framework-neutral HTTP: what an adapter hands to the core
//! ([`RequestHead`] plus a body stream) and what it gets back
//! ([`ApiResponse`]), the route table and the query-string parser.
//!
//! Everything here is parsed once, in the core, so two adapters can never
//! read the same request differently.

pub(crate) mod body;
mod json_body;
pub(crate) mod query;
mod request;
mod response;
pub mod routes;

pub use body::{read_limited, read_within};
pub use json_body::parse_json_body;
pub use query::Query;
pub use request::RequestHead;
pub use response::{ApiResponse, ErrorBody, ErrorEnvelope};
pub use routes::{Endpoint, ROUTES, RouteMatch, RouteSpec};

/// The path prefix every route lives under.
pub const BASE_PATH: &str = "/api/v1";

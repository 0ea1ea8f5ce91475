//! Framework-neutral HTTP: what an adapter hands to the core
//! ([`RequestHead`] plus a body stream) and what it gets back
//! ([`ApiResponse`]), the route table and the query-string parser.
//!
//! Everything here is parsed once, in the core, so two adapters can never
//! read the same request differently.

pub(crate) mod body;
pub(crate) mod client_ip;
mod json_body;
pub(crate) mod query;
mod request;
pub(crate) mod request_id;
mod response;
pub(crate) mod routes;

pub(crate) use body::read_within;
pub(crate) use json_body::parse_json_body;
pub(crate) use query::Query;
pub use request::RequestHead;
pub use response::ApiResponse;
pub(crate) use routes::RouteMatch;

/// The path prefix every route lives under.
pub(crate) const BASE_PATH: &str = "/api/v1";

//! The conformance suite against the warp adapter.

mod conformance;

conformance::conformance_suite!(conformance::servers::warp);

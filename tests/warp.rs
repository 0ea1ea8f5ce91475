//! The conformance suite against the warp adapter, through the testkit alone.

mod support;

hyperion_testkit::conformance_suite!(support::warp);

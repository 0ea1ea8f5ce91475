//! The route table: every `/api/v1` route, as data. Adapters mount one
//! catch-all under [`BASE_PATH`](super::BASE_PATH) and the core matches here,
//! so 404 and 405 (with `Allow`) are the same on every framework.

// Some of its `pub` items are reachable only through the benchmarks'
// internals (feature `bench-internals`), where the lint checks them.
#![cfg_attr(not(feature = "bench-internals"), allow(unreachable_pub))]

use std::sync::LazyLock;

use http::Method;
use percent_encoding::percent_decode_str;

use crate::error::ApiError;

pub(crate) use hyperion_wire::endpoints::{Endpoint, ROUTES, RouteSpec};

/// A matched route and its decoded path parameters.
#[derive(Debug, Clone)]
pub struct RouteMatch {
    /// The route that matched.
    pub spec: &'static RouteSpec,
    params: Vec<(&'static str, String)>,
}

impl RouteMatch {
    /// The decoded value of path parameter `name`.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }
}

fn no_route() -> ApiError {
    ApiError::NotFound("no such route".to_owned())
}

/// One part of a route pattern: a literal segment or a named parameter.
enum Part {
    Literal(&'static str),
    Param(&'static str),
}

/// [`ROUTES`] with each pattern split into parts once, not per request.
/// Segments of the longest route after `/api/v1` (a test keeps it true).
const MAX_SEGMENTS: usize = 4;

static COMPILED: LazyLock<Vec<(Vec<Part>, &'static RouteSpec)>> = LazyLock::new(|| {
    ROUTES
        .iter()
        .map(|spec| {
            let parts = spec
                .pattern
                .split('/')
                .skip(1)
                .map(
                    |part| match part.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
                        Some(name) => Part::Param(name),
                        None => Part::Literal(part),
                    },
                )
                .collect();
            (parts, spec)
        })
        .collect()
});

/// Finds the route for `method` and the raw (percent-encoded) `path`.
///
/// Unknown paths are [`ApiError::NotFound`]; a known path with another
/// method is [`ApiError::MethodNotAllowed`] listing the methods it takes.
pub fn match_route(method: &Method, path: &str) -> Result<RouteMatch, ApiError> {
    let rest = path.strip_prefix(super::BASE_PATH).ok_or_else(no_route)?;
    if !(rest.is_empty() || rest.starts_with('/')) {
        return Err(no_route());
    }
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    // No route has more segments than this: a longer path is no route,
    // and the segments of a shorter one are split without an allocation.
    let mut split = [""; MAX_SEGMENTS];
    let mut count = 0;
    for segment in rest.split('/').skip(1) {
        if count == MAX_SEGMENTS {
            return Err(no_route());
        }
        split[count] = segment;
        count += 1;
    }
    let segments = &split[..count];

    // HEAD is GET without the body (the HTTP server drops it and keeps the
    // headers, `Content-Length` included).
    let wanted = if *method == Method::HEAD {
        &Method::GET
    } else {
        method
    };
    let mut allow = Vec::new();
    for (parts, spec) in COMPILED.iter() {
        if !fits(parts, segments) {
            continue;
        }
        if spec.method != *wanted {
            allow.push(spec.method.clone());
            if spec.method == Method::GET {
                allow.push(Method::HEAD);
            }
            continue;
        }
        let mut params = Vec::new();
        for (part, raw) in parts.iter().zip(segments) {
            if let Part::Param(name) = part {
                let value = percent_decode_str(raw).decode_utf8().map_err(|_| {
                    ApiError::Validation(format!("path parameter `{name}` is not valid UTF-8"))
                })?;
                params.push((*name, value.into_owned()));
            }
        }
        return Ok(RouteMatch { spec, params });
    }
    if allow.is_empty() {
        Err(no_route())
    } else {
        Err(ApiError::MethodNotAllowed {
            method: method.clone(),
            allow,
        })
    }
}

/// Whether `segments` fit the pattern `parts` (a parameter takes any
/// non-empty segment).
fn fits(parts: &[Part], segments: &[&str]) -> bool {
    parts.len() == segments.len()
        && parts
            .iter()
            .zip(segments)
            .all(|(part, segment)| match part {
                Part::Literal(literal) => literal == segment,
                Part::Param(_) => !segment.is_empty(),
            })
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_route_fits_the_segments_split_on_the_stack() {
        for (parts, spec) in super::COMPILED.iter() {
            assert!(parts.len() <= super::MAX_SEGMENTS, "{}", spec.pattern);
        }
    }

    use super::*;

    #[test]
    fn matches_literal_and_parameter_routes() {
        let m = match_route(&Method::GET, "/api/v1/me").unwrap();
        assert_eq!(m.spec.endpoint, Endpoint::Me);
        let m = match_route(&Method::POST, "/api/v1/hostings/site.example.test/suspend").unwrap();
        assert_eq!(m.spec.endpoint, Endpoint::SuspendHosting);
        assert_eq!(m.param("id"), Some("site.example.test"));
        let m = match_route(&Method::GET, "/api/v1/hostings/").unwrap();
        assert_eq!(m.spec.endpoint, Endpoint::ListHostings);
    }

    #[test]
    fn decodes_parameters_once() {
        let m = match_route(&Method::GET, "/api/v1/hostings/a%2Fb").unwrap();
        assert_eq!(m.param("id"), Some("a/b"));
        let err = match_route(&Method::GET, "/api/v1/hostings/%FF").unwrap_err();
        assert_eq!(err.code().as_str(), "validation");
    }

    #[test]
    fn unknown_paths_are_not_found() {
        for path in [
            "/api/v1",
            "/api/v1x/me",
            "/api/v2/me",
            "/api/v1/hostings//suspend",
            "/api/v1/me/extra",
            "/other",
        ] {
            let err = match_route(&Method::GET, path).unwrap_err();
            assert_eq!(err.code().as_str(), "not_found", "{path}");
        }
    }

    #[test]
    fn wrong_method_lists_what_is_allowed() {
        let err = match_route(&Method::PUT, "/api/v1/hostings/h1").unwrap_err();
        assert_eq!(
            err,
            ApiError::MethodNotAllowed {
                method: Method::PUT,
                allow: vec![Method::GET, Method::HEAD, Method::DELETE]
            }
        );
        // HEAD matches the GET route.
        let head = match_route(&Method::HEAD, "/api/v1/hostings/h1").unwrap();
        assert_eq!(head.spec.method, Method::GET);
    }

    #[test]
    fn every_pattern_is_reachable() {
        for spec in ROUTES {
            let path = format!("/api/v1{}", spec.pattern.replace("{id}", "x1"));
            let m = match_route(&spec.method, &path).unwrap();
            assert_eq!(m.spec.endpoint, spec.endpoint, "{path}");
        }
    }
}

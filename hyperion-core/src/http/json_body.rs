use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// Parses a JSON request body into `T`. Every failure (empty body, malformed
/// JSON, a wrong type, an unknown field) is a validation error whose message
/// names the field at fault.
pub(crate) fn parse_json_body<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    // A struct would also deserialize from a JSON array (by position):
    // only an object is a body this API takes.
    if body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(ApiError::Validation(
            "the request body must be a JSON object".to_owned(),
        ));
    }
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        if path == "." || path.is_empty() {
            ApiError::Validation(format!("invalid JSON body: {inner}"))
        } else {
            ApiError::Validation(format!("invalid JSON body: `{path}`: {inner}"))
        }
    })?;
    deserializer
        .end()
        .map_err(|err| ApiError::Validation(format!("invalid JSON body: {err}")))?;
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        count: u32,
        inner: Option<Inner>,
    }

    #[derive(serde::Deserialize, Debug)]
    #[allow(dead_code)]
    struct Inner {
        flag: bool,
    }

    fn message(body: &str) -> String {
        parse_json_body::<Body>(body.as_bytes())
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn errors_name_the_field() {
        assert!(message(r#"{"count":-1}"#).contains("`count`"));
        assert!(message(r#"{"count":1,"inner":{"flag":3}}"#).contains("`inner.flag`"));
        assert!(message(r#"{"count":1,"other":2}"#).contains("other"));
        assert!(message("").contains("JSON object"));
        assert!(message("[1, null]").contains("JSON object"));
        assert!(message("null").contains("JSON object"));
        assert!(message("{").contains("invalid JSON"));
        assert!(message(r#"{"count":1} trailing"#).contains("invalid JSON"));
        assert!(parse_json_body::<Body>(br#"{"count":1}"#).is_ok());
    }
}

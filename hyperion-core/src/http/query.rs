use std::str::FromStr;

use crate::error::ApiError;

/// Page size when the client does not ask for one.
pub(crate) const DEFAULT_PAGE_SIZE: usize = 50;
/// Largest page a client may ask for.
pub(crate) const MAX_PAGE_SIZE: usize = 200;

/// A parsed query string. Parameters the endpoint does not know are ignored;
/// a known parameter given twice is a validation error, never a silent pick.
#[derive(Debug, Clone, Default)]
pub(crate) struct Query {
    pairs: Vec<(String, String)>,
}

/// `text`, the value of parameter `name`, as a `T`; a validation error
/// naming the parameter otherwise.
fn parsed<T>(name: &str, text: &str) -> Result<T, ApiError>
where
    T: FromStr,
    T::Err: std::fmt::Display,
{
    text.parse::<T>()
        .map_err(|err| ApiError::Validation(format!("query parameter `{name}`: {err}")))
}

impl Query {
    /// Parses a raw query string (`a=1&b=x%20y`).
    pub(crate) fn parse(raw: Option<&str>) -> Self {
        let pairs = raw
            .map(|raw| {
                form_urlencoded::parse(raw.as_bytes())
                    .map(|(k, v)| (k.into_owned(), v.into_owned()))
                    .collect()
            })
            .unwrap_or_default();
        Query { pairs }
    }

    /// The value of `name`, if present once.
    pub(crate) fn get(&self, name: &str) -> Result<Option<&str>, ApiError> {
        let mut values = self
            .pairs
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str());
        let first = values.next();
        if values.next().is_some() {
            return Err(ApiError::Validation(format!(
                "query parameter `{name}` is given more than once"
            )));
        }
        Ok(first)
    }

    /// The value of `name` parsed as `T`; an unparsable value is a validation error.
    pub(crate) fn parse_value<T>(&self, name: &str) -> Result<Option<T>, ApiError>
    where
        T: FromStr,
        T::Err: std::fmt::Display,
    {
        self.get(name)?.map(|text| parsed(name, text)).transpose()
    }

    /// Every value of `name`, a parameter that may be repeated (ANDed
    /// filters such as `label`), each parsed as `T`; at most `max` of them.
    pub(crate) fn parse_all<T>(&self, name: &str, max: usize) -> Result<Vec<T>, ApiError>
    where
        T: FromStr,
        T::Err: std::fmt::Display,
    {
        let values: Vec<&str> = self
            .pairs
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect();
        if values.len() > max {
            return Err(ApiError::Validation(format!(
                "query parameter `{name}` is given more than {max} times"
            )));
        }
        values.into_iter().map(|text| parsed(name, text)).collect()
    }

    /// The `limit` of a list: 1..=[`MAX_PAGE_SIZE`], [`DEFAULT_PAGE_SIZE`] when absent.
    pub(crate) fn page_size(&self) -> Result<usize, ApiError> {
        let limit = self
            .parse_value::<usize>("limit")?
            .unwrap_or(DEFAULT_PAGE_SIZE);
        if (1..=MAX_PAGE_SIZE).contains(&limit) {
            Ok(limit)
        } else {
            Err(ApiError::Validation(format!(
                "query parameter `limit` must be between 1 and {MAX_PAGE_SIZE}"
            )))
        }
    }

    /// The `cursor` of a list, as the id type `T` it is keyed on. An empty
    /// cursor is the first page.
    pub(crate) fn cursor<T: FromStr>(&self) -> Result<Option<T>, ApiError> {
        self.get("cursor")?
            .filter(|cursor| !cursor.is_empty())
            .map(|cursor| {
                cursor.parse::<T>().map_err(|_| {
                    ApiError::Validation(
                        "query parameter `cursor` is not a cursor this API issued".to_owned(),
                    )
                })
            })
            .transpose()
    }

    /// A boolean flag: absent is false; present bare, `true` or `1` is true;
    /// `false` or `0` is false; anything else is a validation error.
    pub(crate) fn flag(&self, name: &str) -> Result<bool, ApiError> {
        match self.get(name)? {
            None => Ok(false),
            Some("" | "true" | "1") => Ok(true),
            Some("false" | "0") => Ok(false),
            Some(other) => Err(ApiError::Validation(format!(
                "query parameter `{name}` must be true or false, not `{other}`"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_and_finds_values() {
        let q = Query::parse(Some("q=Site%201&limit=5&flag"));
        assert_eq!(q.get("q").unwrap(), Some("Site 1"));
        assert_eq!(q.parse_value::<u32>("limit").unwrap(), Some(5));
        assert!(q.flag("flag").unwrap());
        assert!(!q.flag("other").unwrap());
    }

    #[test]
    fn repeated_and_malformed_values_are_validation_errors() {
        let q = Query::parse(Some("limit=1&limit=2&n=abc&f=maybe"));
        assert!(matches!(q.get("limit"), Err(ApiError::Validation(_))));
        assert!(matches!(
            q.parse_value::<u32>("n"),
            Err(ApiError::Validation(_))
        ));
        assert!(matches!(q.flag("f"), Err(ApiError::Validation(_))));
    }

    #[test]
    fn invalid_utf8_is_replaced_not_panicked_on() {
        let q = Query::parse(Some("cursor=%FF%FE"));
        assert_eq!(q.get("cursor").unwrap(), Some("\u{FFFD}\u{FFFD}"));
    }
}

#[cfg(test)]
mod hostile_input {
    use super::Query;
    use crate::model::HostingId;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

        #[test]
        fn cursors_parse_or_refuse(text in any::<String>()) {
            let query = Query::parse(Some(&format!("cursor={text}")));
            let _ = query.cursor::<HostingId>();
            let _ = query.cursor::<u64>();
        }

        #[test]
        fn query_strings_never_panic(raw in any::<String>(), name in "[a-z_]{1,12}") {
            let query = Query::parse(Some(&raw));
            let _ = query.get(&name);
            let _ = query.flag(&name);
            let _ = query.page_size();
            let _ = query.parse_value::<u64>(&name);
        }
    }
}

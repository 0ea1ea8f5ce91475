//! Whose a hosting is in the panel, on which plan, and the labels the panel
//! tags it with: what "the hostings of customer X" and "every hosting on
//! plan Y" are asked with.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{InvalidValue, OwnerId, validated_string};

/// Most labels one hosting may carry.
pub const MAX_LABELS: usize = 32;

/// Longest label name, plan name or label value, in characters.
const MAX_NAME: usize = 63;

/// Longest prefix of a label key (a DNS subdomain), in characters.
const MAX_PREFIX: usize = 253;

/// Whether `s` is a name as Kubernetes has them: 1 to 63 characters of
/// `[A-Za-z0-9._-]`, beginning and ending with a letter or digit.
fn is_name(s: &str) -> bool {
    let bytes = s.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= MAX_NAME
        && bytes[0].is_ascii_alphanumeric()
        && bytes[bytes.len() - 1].is_ascii_alphanumeric()
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

fn plan_name(s: &str) -> Result<Cow<'_, str>, String> {
    if is_name(s) {
        Ok(Cow::Borrowed(s))
    } else {
        Err("expected 1 to 63 characters of A-Z, a-z, 0-9, '-', '_' or '.', beginning and ending with a letter or digit".to_owned())
    }
}

fn label_key(s: &str) -> Result<Cow<'_, str>, String> {
    let (prefix, name) = match s.split_once('/') {
        Some((prefix, name)) => (Some(prefix), name),
        None => (None, s),
    };
    if !is_name(name) {
        return Err("the name (after an optional `prefix/`) is 1 to 63 characters of A-Z, a-z, 0-9, '-', '_' or '.', beginning and ending with a letter or digit".to_owned());
    }
    if let Some(prefix) = prefix {
        let labels_ok = prefix.split('.').all(|label| {
            let bytes = label.as_bytes();
            !bytes.is_empty()
                && bytes.len() <= 63
                && bytes[0].is_ascii_alphanumeric()
                && bytes[bytes.len() - 1].is_ascii_alphanumeric()
                && bytes
                    .iter()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
        });
        if prefix.len() > MAX_PREFIX || !labels_ok {
            return Err(
                "the prefix (before `/`) is a lowercase DNS subdomain of at most 253 characters"
                    .to_owned(),
            );
        }
    }
    Ok(Cow::Borrowed(s))
}

fn label_value(s: &str) -> Result<Cow<'_, str>, String> {
    if s.is_empty() || is_name(s) {
        Ok(Cow::Borrowed(s))
    } else {
        Err("expected at most 63 characters of A-Z, a-z, 0-9, '-', '_' or '.', beginning and ending with a letter or digit".to_owned())
    }
}

/// The plan (package, service plan) a hosting is sold on, as the panel
/// names it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PlanName(Arc<str>);
validated_string!(PlanName, plan_name, "plan");

/// The key of a label: a name, with an optional DNS-subdomain prefix and
/// `/` (`tier`, `billing.example.com/invoice`), as Kubernetes validates them.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LabelKey(Arc<str>);
validated_string!(LabelKey, label_key, "label key");

/// The value of a label: empty, or a name of at most 63 characters.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LabelValue(Arc<str>);
validated_string!(LabelValue, label_value, "label value");

/// The labels of a hosting: at most [`MAX_LABELS`], each key once. On the
/// wire, a JSON object of strings.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Labels(BTreeMap<LabelKey, LabelValue>);

impl Labels {
    /// No label.
    pub fn new() -> Self {
        Labels::default()
    }

    /// The labels of `pairs`; refused past [`MAX_LABELS`].
    pub fn from_pairs(
        pairs: impl IntoIterator<Item = (LabelKey, LabelValue)>,
    ) -> Result<Self, InvalidValue> {
        let labels: BTreeMap<_, _> = pairs.into_iter().collect();
        if labels.len() > MAX_LABELS {
            return Err(InvalidValue(format!(
                "a hosting carries at most {MAX_LABELS} labels"
            )));
        }
        Ok(Labels(labels))
    }

    /// The value of `key`, if it is set.
    pub fn get(&self, key: &LabelKey) -> Option<&LabelValue> {
        self.0.get(key)
    }

    /// Every label, in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&LabelKey, &LabelValue)> {
        self.0.iter()
    }

    /// How many labels there are.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether every one of `selectors` is set here to its value.
    pub fn match_all(&self, selectors: &[LabelSelector]) -> bool {
        selectors
            .iter()
            .all(|selector| self.get(&selector.key) == Some(&selector.value))
    }
}

impl Serialize for Labels {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.0.iter())
    }
}

impl<'de> Deserialize<'de> for Labels {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let labels = BTreeMap::<LabelKey, LabelValue>::deserialize(deserializer)?;
        Labels::from_pairs(labels).map_err(serde::de::Error::custom)
    }
}

/// One `key=value` of a `?label=` filter: only hostings whose label `key`
/// is set to `value`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct LabelSelector {
    /// The label's key.
    pub key: LabelKey,
    /// The value it must have.
    pub value: LabelValue,
}

impl FromStr for LabelSelector {
    type Err = InvalidValue;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (key, value) = s.split_once('=').ok_or_else(|| {
            InvalidValue(format!("invalid label filter `{s}`: expected key=value"))
        })?;
        Ok(LabelSelector {
            key: key.parse()?,
            value: value.parse()?,
        })
    }
}

impl fmt::Display for LabelSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={}", self.key, self.value)
    }
}

/// Reads a field that must be present but may be `null`: `None` when it
/// was missing, `Some(None)` for `null`.
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    deserializer: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(deserializer).map(Some)
}

/// `PATCH /hostings/{id}/owner`: `{"owner": "cust-42"}` moves the hosting
/// to that customer, `{"owner": null}` leaves it with none.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct OwnerPatch {
    /// The new owner; `Some(None)` clears it, `None` means the field was missing.
    #[serde(default, deserialize_with = "present")]
    pub owner: Option<Option<OwnerId>>,
}

impl OwnerPatch {
    /// The owner after this patch; the field must be given.
    pub fn apply(&self) -> Result<Option<OwnerId>, InvalidValue> {
        self.owner.clone().ok_or_else(|| {
            InvalidValue("owner is required (an owner id, or null for none)".to_owned())
        })
    }
}

/// `PATCH /hostings/{id}/plan`: `{"plan": "basic"}`, or `{"plan": null}`
/// for none.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PlanPatch {
    /// The new plan; `Some(None)` clears it, `None` means the field was missing.
    #[serde(default, deserialize_with = "present")]
    pub plan: Option<Option<PlanName>>,
}

impl PlanPatch {
    /// The plan after this patch; the field must be given.
    pub fn apply(&self) -> Result<Option<PlanName>, InvalidValue> {
        self.plan.clone().ok_or_else(|| {
            InvalidValue("plan is required (a plan name, or null for none)".to_owned())
        })
    }
}

/// `PATCH /hostings/{id}/labels`, a merge: `{"labels": {"tier": "gold",
/// "trial": null}}` sets `tier` and removes `trial`; labels not named stay.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LabelsPatch {
    /// Each label to set (a value) or remove (`null`).
    pub labels: BTreeMap<LabelKey, Option<LabelValue>>,
}

impl LabelsPatch {
    /// `current` with this patch merged in, at most [`MAX_LABELS`].
    pub fn apply(&self, current: &Labels) -> Result<Labels, InvalidValue> {
        let mut merged = current.0.clone();
        for (key, value) in &self.labels {
            match value {
                Some(value) => merged.insert(key.clone(), value.clone()),
                None => merged.remove(key),
            };
        }
        Labels::from_pairs(merged)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_follow_the_kubernetes_rules() {
        for good in ["tier", "a", "billing.example.com/invoice", "x_y.z-1", "A9"] {
            assert!(good.parse::<LabelKey>().is_ok(), "{good}");
        }
        for bad in [
            "",
            "-tier",
            "tier-",
            "/tier",
            "Example.com/tier",
            "a/b/c",
            "tier value",
            "ti\u{0}er",
            &"x".repeat(64),
        ] {
            assert!(bad.parse::<LabelKey>().is_err(), "{bad:?}");
        }
        assert!("".parse::<LabelValue>().is_ok());
        assert!("gold".parse::<LabelValue>().is_ok());
        assert!("gold!".parse::<LabelValue>().is_err());
        assert!("basic-2024".parse::<PlanName>().is_ok());
        assert!("".parse::<PlanName>().is_err());
    }

    #[test]
    fn labels_are_bounded_and_filters_are_anded() {
        let pair = |n: usize| (format!("k{n}").parse().unwrap(), "v".parse().unwrap());
        assert!(Labels::from_pairs((0..MAX_LABELS).map(pair)).is_ok());
        assert!(Labels::from_pairs((0..=MAX_LABELS).map(pair)).is_err());
        let too_many: serde_json::Value = (0..=MAX_LABELS)
            .map(|n| (format!("k{n}"), serde_json::json!("v")))
            .collect::<serde_json::Map<_, _>>()
            .into();
        assert!(serde_json::from_value::<Labels>(too_many).is_err());
        let labels: Labels =
            serde_json::from_value(serde_json::json!({"tier": "gold", "region": "eu"})).unwrap();
        let select = |s: &str| s.parse::<LabelSelector>().unwrap();
        assert!(labels.match_all(&[select("tier=gold")]));
        assert!(labels.match_all(&[select("tier=gold"), select("region=eu")]));
        assert!(!labels.match_all(&[select("tier=gold"), select("region=us")]));
        assert!(!labels.match_all(&[select("other=")]));
        assert!("tier".parse::<LabelSelector>().is_err());
    }

    #[test]
    fn patches_name_what_they_change() {
        let owner: OwnerPatch = serde_json::from_str(r#"{"owner": null}"#).unwrap();
        assert_eq!(owner.apply(), Ok(None));
        let missing: OwnerPatch = serde_json::from_str("{}").unwrap();
        assert!(missing.apply().is_err());
        assert!(serde_json::from_str::<OwnerPatch>(r#"{"owner": "a b"}"#).is_err());
        let plan: PlanPatch = serde_json::from_str(r#"{"plan": "gold"}"#).unwrap();
        assert_eq!(plan.apply().unwrap().unwrap().as_str(), "gold");
        let current: Labels =
            serde_json::from_value(serde_json::json!({"tier": "basic", "trial": "yes"})).unwrap();
        let patch: LabelsPatch = serde_json::from_value(
            serde_json::json!({"labels": {"tier": "gold", "trial": null, "region": "eu"}}),
        )
        .unwrap();
        assert_eq!(
            serde_json::to_value(patch.apply(&current).unwrap()).unwrap(),
            serde_json::json!({"region": "eu", "tier": "gold"})
        );
    }
}

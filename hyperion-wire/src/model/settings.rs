//! Configuration of a hosting: the values nodes hold, and the partial
//! updates (`PATCH` bodies) clients send. A patch is validated and merged onto
//! the current value in the core; the node receives the complete new value.

use serde::{Deserialize, Deserializer, Serialize};
use time::OffsetDateTime;

use super::bounds::{
    CACHE_TTL_SECONDS, CPU_PERCENT, MAX_BASIC_AUTH_USER, MAX_PROCESSES, MEMORY_MB, PASSWORD_CHARS,
    QUOTA, REDIRECT_STATUSES,
};
use super::values::{SecretString, validate_http_url};
use super::{InvalidValue, PhpVersion, wire_enum};

/// Reads a field that may be absent (`None`), `null` (`Some(None)`) or set.
fn double_option<'de, T: Deserialize<'de>, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(deserializer).map(Some)
}

/// Resource limits of a hosting.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    /// CPU share in percent of one core (1..=3200).
    pub cpu_percent: u32,
    /// Memory in MiB (64..=262144).
    pub memory_mb: u32,
    /// Maximum number of processes (1..=10000).
    pub max_processes: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            cpu_percent: 100,
            memory_mb: 512,
            max_processes: 32,
        }
    }
}

/// `PATCH /hostings/{id}/limits`: any subset of [`Limits`].
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsPatch {
    /// New CPU share.
    #[serde(
        default,
        deserialize_with = "crate::model::non_null",
        skip_serializing_if = "Option::is_none"
    )]
    pub cpu_percent: Option<u32>,
    /// New memory limit.
    #[serde(
        default,
        deserialize_with = "crate::model::non_null",
        skip_serializing_if = "Option::is_none"
    )]
    pub memory_mb: Option<u32>,
    /// New process limit.
    #[serde(
        default,
        deserialize_with = "crate::model::non_null",
        skip_serializing_if = "Option::is_none"
    )]
    pub max_processes: Option<u32>,
}

impl LimitsPatch {
    /// The limits after this patch, every value checked.
    pub fn apply(&self, current: &Limits) -> Result<Limits, InvalidValue> {
        let next = Limits {
            cpu_percent: self.cpu_percent.unwrap_or(current.cpu_percent),
            memory_mb: self.memory_mb.unwrap_or(current.memory_mb),
            max_processes: self.max_processes.unwrap_or(current.max_processes),
        };
        CPU_PERCENT.check("cpu_percent", next.cpu_percent.into())?;
        MEMORY_MB.check("memory_mb", next.memory_mb.into())?;
        MAX_PROCESSES.check("max_processes", next.max_processes.into())?;
        Ok(next)
    }
}

/// `PATCH /hostings/{id}/php`.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PhpPatch {
    /// The version to switch to.
    pub version: PhpVersion,
}

/// HTTP basic auth in front of a site, as shown: the password never is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BasicAuthView {
    /// The user name.
    pub user: String,
    /// Whether a password is set.
    pub password_set: bool,
}

/// A redirect of the whole site.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Redirect {
    /// Target URL (`http` or `https`).
    pub to: String,
    /// 301, 302, 307 or 308 (default 301).
    #[serde(default = "default_redirect_status")]
    pub status: u16,
}

fn default_redirect_status() -> u16 {
    301
}

/// Response caching.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CacheSettings {
    /// Whether responses are cached.
    pub enabled: bool,
    /// How long, in seconds (0..=31536000).
    pub ttl_seconds: u32,
}

impl Default for CacheSettings {
    fn default() -> Self {
        CacheSettings {
            enabled: false,
            ttl_seconds: 3600,
        }
    }
}

/// Web-server options of a hosting.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VhostOptions {
    /// Redirect plain HTTP to HTTPS.
    pub force_https: bool,
    /// Serve a maintenance page instead of the site.
    pub maintenance: bool,
    /// HTTP basic auth, if enabled.
    pub basic_auth: Option<BasicAuthView>,
    /// Redirect of the whole site, if any.
    pub redirect: Option<Redirect>,
    /// Response caching.
    pub cache: CacheSettings,
}

/// Basic auth as a client sets it: the password is write-only.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct BasicAuthPatch {
    /// User name (1..=64 of `[A-Za-z0-9._-]`).
    pub user: String,
    /// New password (8..=128 characters); omitted keeps the current one.
    #[serde(
        default,
        deserialize_with = "crate::model::non_null",
        serialize_with = "crate::model::values::expose_optional_secret",
        skip_serializing_if = "Option::is_none"
    )]
    pub password: Option<SecretString>,
}

/// `PATCH /hostings/{id}/vhost`: any subset; `null` turns basic auth or the
/// redirect off.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct VhostPatch {
    /// Force HTTPS.
    #[serde(
        default,
        deserialize_with = "crate::model::non_null",
        skip_serializing_if = "Option::is_none"
    )]
    pub force_https: Option<bool>,
    /// Maintenance mode.
    #[serde(
        default,
        deserialize_with = "crate::model::non_null",
        skip_serializing_if = "Option::is_none"
    )]
    pub maintenance: Option<bool>,
    /// Basic auth (`null` = off).
    #[serde(
        default,
        deserialize_with = "double_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub basic_auth: Option<Option<BasicAuthPatch>>,
    /// Redirect (`null` = off).
    #[serde(
        default,
        deserialize_with = "double_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub redirect: Option<Option<Redirect>>,
    /// Response caching in front of the site.
    #[serde(
        default,
        deserialize_with = "crate::model::non_null",
        skip_serializing_if = "Option::is_none"
    )]
    pub cache: Option<CacheSettings>,
}

/// What a node receives to change the vhost: the complete new options, and a
/// new basic-auth password when one was given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VhostChange {
    /// The options after the change.
    pub options: VhostOptions,
    /// A new basic-auth password, write-only.
    pub basic_auth_password: Option<SecretString>,
}

impl VhostPatch {
    /// The change after this patch, every value checked.
    pub fn apply(self, current: &VhostOptions) -> Result<VhostChange, InvalidValue> {
        let mut options = current.clone();
        let mut basic_auth_password = None;
        if let Some(force_https) = self.force_https {
            options.force_https = force_https;
        }
        if let Some(maintenance) = self.maintenance {
            options.maintenance = maintenance;
        }
        match self.basic_auth {
            None => {}
            Some(None) => options.basic_auth = None,
            Some(Some(auth)) => {
                let user_ok = !auth.user.is_empty()
                    && auth.user.len() <= MAX_BASIC_AUTH_USER
                    && auth
                        .user
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
                if !user_ok {
                    return Err(InvalidValue(format!(
                        "basic_auth.user must be 1 to {MAX_BASIC_AUTH_USER} of A-Z, a-z, 0-9, '.', '_' or '-'"
                    )));
                }
                let had_password = current.basic_auth.as_ref().is_some_and(|a| a.password_set);
                match &auth.password {
                    Some(password) if !PASSWORD_CHARS.contains_chars(password.expose()) => {
                        return Err(InvalidValue(format!(
                            "basic_auth.password must be {} to {} characters",
                            PASSWORD_CHARS.min, PASSWORD_CHARS.max
                        )));
                    }
                    Some(_) => {}
                    None if !had_password => {
                        return Err(InvalidValue(
                            "basic_auth.password is required to turn basic auth on".to_owned(),
                        ));
                    }
                    None => {}
                }
                options.basic_auth = Some(BasicAuthView {
                    user: auth.user,
                    password_set: true,
                });
                basic_auth_password = auth.password;
            }
        }
        match self.redirect {
            None => {}
            Some(None) => options.redirect = None,
            Some(Some(redirect)) => {
                validate_http_url("redirect.to", &redirect.to)?;
                if !REDIRECT_STATUSES.contains(&redirect.status) {
                    return Err(InvalidValue(
                        "redirect.status must be 301, 302, 307 or 308".to_owned(),
                    ));
                }
                options.redirect = Some(redirect);
            }
        }
        if let Some(cache) = self.cache {
            CACHE_TTL_SECONDS.check("cache.ttl_seconds", cache.ttl_seconds.into())?;
            options.cache = cache;
        }
        Ok(VhostChange {
            options,
            basic_auth_password,
        })
    }
}

/// `PATCH /hostings/{id}/expiry`: `{"expires_at": "<RFC 3339>"}` sets it,
/// `{"expires_at": null}` clears it.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ExpiryPatch {
    /// The new expiry; `Some(None)` clears it, `None` means the field was missing.
    #[serde(
        default,
        deserialize_with = "double_option_rfc3339",
        serialize_with = "double_option_rfc3339_out",
        skip_serializing_if = "Option::is_none"
    )]
    pub expires_at: Option<Option<OffsetDateTime>>,
}

fn double_option_rfc3339_out<S: serde::Serializer>(
    value: &Option<Option<OffsetDateTime>>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    time::serde::rfc3339::option::serialize(&value.flatten(), serializer)
}

fn double_option_rfc3339<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Option<OffsetDateTime>>, D::Error> {
    time::serde::rfc3339::option::deserialize(deserializer).map(Some)
}

impl ExpiryPatch {
    /// The expiry after this patch; it must be given and, when set, in the future.
    pub fn apply(&self) -> Result<Option<OffsetDateTime>, InvalidValue> {
        match self.expires_at {
            None => Err(InvalidValue(
                "expires_at is required (a time, or null to clear it)".to_owned(),
            )),
            Some(Some(at)) if at <= super::now() => {
                Err(InvalidValue("expires_at must be in the future".to_owned()))
            }
            Some(expiry) => Ok(expiry),
        }
    }
}

/// What happens when a hosting goes over a hard quota.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum BreachAction {
    /// Tell the owner.
    #[default]
    Notify,
    /// Suspend the hosting.
    Suspend,
}
wire_enum!(BreachAction, "action on breach", {
    Notify => "notify",
    Suspend => "suspend",
});

/// Disk, memory and bandwidth quotas; `null` means unlimited.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quota {
    /// Disk soft limit, MiB.
    pub disk_soft_mb: Option<u64>,
    /// Disk hard limit, MiB.
    pub disk_hard_mb: Option<u64>,
    /// Memory, MiB.
    pub memory_mb: Option<u64>,
    /// Monthly bandwidth soft limit, GiB.
    pub bandwidth_soft_gb: Option<u64>,
    /// Monthly bandwidth hard limit, GiB.
    pub bandwidth_hard_gb: Option<u64>,
    /// What to do over a hard limit.
    pub action_on_breach: BreachAction,
}

/// `PATCH /hostings/{id}/quota`: any subset; `null` makes a limit unlimited.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct QuotaPatch {
    /// Disk soft limit.
    #[serde(
        default,
        deserialize_with = "double_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub disk_soft_mb: Option<Option<u64>>,
    /// Disk hard limit.
    #[serde(
        default,
        deserialize_with = "double_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub disk_hard_mb: Option<Option<u64>>,
    /// Memory, in MiB.
    #[serde(
        default,
        deserialize_with = "double_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub memory_mb: Option<Option<u64>>,
    /// Bandwidth soft limit.
    #[serde(
        default,
        deserialize_with = "double_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub bandwidth_soft_gb: Option<Option<u64>>,
    /// Bandwidth hard limit.
    #[serde(
        default,
        deserialize_with = "double_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub bandwidth_hard_gb: Option<Option<u64>>,
    /// Action on breach.
    #[serde(
        default,
        deserialize_with = "crate::model::non_null",
        skip_serializing_if = "Option::is_none"
    )]
    pub action_on_breach: Option<BreachAction>,
}

impl QuotaPatch {
    /// The quota after this patch: values in 1..=2^30, soft no higher than hard.
    pub fn apply(&self, current: &Quota) -> Result<Quota, InvalidValue> {
        let pick = |patch: Option<Option<u64>>, now: Option<u64>| patch.unwrap_or(now);
        let next = Quota {
            disk_soft_mb: pick(self.disk_soft_mb, current.disk_soft_mb),
            disk_hard_mb: pick(self.disk_hard_mb, current.disk_hard_mb),
            memory_mb: pick(self.memory_mb, current.memory_mb),
            bandwidth_soft_gb: pick(self.bandwidth_soft_gb, current.bandwidth_soft_gb),
            bandwidth_hard_gb: pick(self.bandwidth_hard_gb, current.bandwidth_hard_gb),
            action_on_breach: self.action_on_breach.unwrap_or(current.action_on_breach),
        };
        for (field, value) in [
            ("disk_soft_mb", next.disk_soft_mb),
            ("disk_hard_mb", next.disk_hard_mb),
            ("memory_mb", next.memory_mb),
            ("bandwidth_soft_gb", next.bandwidth_soft_gb),
            ("bandwidth_hard_gb", next.bandwidth_hard_gb),
        ] {
            if let Some(value) = value {
                QUOTA.check(field, value)?;
            }
        }
        for (soft_name, soft, hard_name, hard) in [
            (
                "disk_soft_mb",
                next.disk_soft_mb,
                "disk_hard_mb",
                next.disk_hard_mb,
            ),
            (
                "bandwidth_soft_gb",
                next.bandwidth_soft_gb,
                "bandwidth_hard_gb",
                next.bandwidth_hard_gb,
            ),
        ] {
            if let (Some(soft), Some(hard)) = (soft, hard)
                && soft > hard
            {
                return Err(InvalidValue(format!(
                    "{soft_name} must not exceed {hard_name}"
                )));
            }
        }
        Ok(next)
    }
}

/// One configuration change, as a node receives it: always the complete new value.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigChange {
    /// New limits.
    Limits(Limits),
    /// New PHP version.
    Php(PhpVersion),
    /// New vhost options (and maybe a new basic-auth password).
    Vhost(VhostChange),
    /// New expiry (`None` clears it).
    Expiry(Option<OffsetDateTime>),
    /// New quota.
    Quota(Quota),
    /// A new owner (`None`: none).
    Owner(Option<super::OwnerId>),
    /// A new plan (`None`: none).
    Plan(Option<super::PlanName>),
    /// The new labels, whole.
    Labels(super::Labels),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn patch<T: serde::de::DeserializeOwned>(json: &str) -> T {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn limits_merge_and_check_ranges() {
        let current = Limits::default();
        let next = patch::<LimitsPatch>(r#"{"memory_mb": 1024}"#)
            .apply(&current)
            .unwrap();
        assert_eq!(next.memory_mb, 1024);
        assert_eq!(next.cpu_percent, current.cpu_percent);
        let err = patch::<LimitsPatch>(r#"{"cpu_percent": 0}"#)
            .apply(&current)
            .unwrap_err();
        assert!(err.0.contains("cpu_percent"), "{err}");
    }

    #[test]
    fn vhost_password_is_write_only_and_required_once() {
        let current = VhostOptions::default();
        let err = patch::<VhostPatch>(r#"{"basic_auth": {"user": "bob"}}"#)
            .apply(&current)
            .unwrap_err();
        assert!(err.0.contains("password"), "{err}");
        let change =
            patch::<VhostPatch>(r#"{"basic_auth": {"user": "bob", "password": "s3cret-pass"}}"#)
                .apply(&current)
                .unwrap();
        assert!(change.options.basic_auth.as_ref().unwrap().password_set);
        assert_eq!(
            change.basic_auth_password.as_ref().unwrap().expose(),
            "s3cret-pass"
        );
        let shown = serde_json::to_string(&change.options).unwrap();
        assert!(!shown.contains("s3cret-pass"));
        assert!(!format!("{change:?}").contains("s3cret-pass"));
        // Changing the user later keeps the password.
        let again = patch::<VhostPatch>(r#"{"basic_auth": {"user": "alice"}}"#)
            .apply(&change.options)
            .unwrap();
        assert!(again.basic_auth_password.is_none());
        let off = patch::<VhostPatch>(r#"{"basic_auth": null}"#)
            .apply(&again.options)
            .unwrap();
        assert_eq!(off.options.basic_auth, None);
    }

    #[test]
    fn vhost_redirect_and_cache_are_checked() {
        let current = VhostOptions::default();
        for bad in [
            r#"{"redirect": {"to": "ftp://x.example"}}"#,
            r#"{"redirect": {"to": "/relative"}}"#,
            r#"{"redirect": {"to": "https://x.example", "status": 303}}"#,
            r#"{"cache": {"enabled": true, "ttl_seconds": 999999999}}"#,
        ] {
            assert!(patch::<VhostPatch>(bad).apply(&current).is_err(), "{bad}");
        }
        let ok = patch::<VhostPatch>(r#"{"redirect": {"to": "https://new.example/"}}"#)
            .apply(&current)
            .unwrap();
        assert_eq!(ok.options.redirect.unwrap().status, 301);
    }

    #[test]
    fn expiry_requires_the_field_and_a_future_time() {
        assert!(patch::<ExpiryPatch>("{}").apply().is_err());
        assert_eq!(
            patch::<ExpiryPatch>(r#"{"expires_at": null}"#).apply(),
            Ok(None)
        );
        assert!(
            patch::<ExpiryPatch>(r#"{"expires_at": "2001-01-01T00:00:00Z"}"#)
                .apply()
                .is_err()
        );
        assert!(
            patch::<ExpiryPatch>(r#"{"expires_at": "2999-01-01T00:00:00Z"}"#)
                .apply()
                .unwrap()
                .is_some()
        );
    }

    #[test]
    fn quota_soft_never_exceeds_hard() {
        let current = Quota::default();
        let next = patch::<QuotaPatch>(
            r#"{"disk_soft_mb": 500, "disk_hard_mb": 1000, "action_on_breach": "suspend"}"#,
        )
        .apply(&current)
        .unwrap();
        assert_eq!(next.action_on_breach, BreachAction::Suspend);
        let err = patch::<QuotaPatch>(r#"{"disk_soft_mb": 2000}"#)
            .apply(&next)
            .unwrap_err();
        assert!(err.0.contains("disk_soft_mb"), "{err}");
        let cleared = patch::<QuotaPatch>(r#"{"disk_hard_mb": null}"#)
            .apply(&next)
            .unwrap();
        assert_eq!(cleared.disk_hard_mb, None);
        assert!(
            patch::<QuotaPatch>(r#"{"memory_mb": 0}"#)
                .apply(&current)
                .is_err()
        );
    }
}

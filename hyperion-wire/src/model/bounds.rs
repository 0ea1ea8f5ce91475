//! Bounds that both validation and the OpenAPI schemas state, one
//! definition each, so that what the contract promises and what the server
//! accepts cannot drift apart.

use super::InvalidValue;

/// An inclusive range a number (or a length, in characters) must fall in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bounds {
    /// The smallest accepted value.
    pub min: u64,
    /// The largest accepted value.
    pub max: u64,
}

impl Bounds {
    const fn new(min: u64, max: u64) -> Self {
        Bounds { min, max }
    }

    /// Whether `value` is inside.
    pub fn contains(self, value: u64) -> bool {
        (self.min..=self.max).contains(&value)
    }

    /// `value`, checked; the error names `field` and the range.
    pub fn check(self, field: &str, value: u64) -> Result<(), InvalidValue> {
        if self.contains(value) {
            Ok(())
        } else {
            Err(InvalidValue(format!(
                "{field} must be between {} and {}",
                self.min, self.max
            )))
        }
    }

    /// The length of `text` in characters, checked as [`Bounds::check`].
    pub fn contains_chars(self, text: &str) -> bool {
        self.contains(text.chars().count() as u64)
    }
}

/// A job's progress, in percent.
pub const PROGRESS_PERCENT: Bounds = Bounds::new(0, 100);
/// `Limits::cpu_percent`.
pub const CPU_PERCENT: Bounds = Bounds::new(1, 3200);
/// `Limits::memory_mb`.
pub const MEMORY_MB: Bounds = Bounds::new(64, 262_144);
/// `Limits::max_processes`.
pub const MAX_PROCESSES: Bounds = Bounds::new(1, 10_000);
/// `CacheSettings::ttl_seconds` (up to a year).
pub const CACHE_TTL_SECONDS: Bounds = Bounds::new(0, 31_536_000);
/// Every quota value (up to one PiB in MiB: far beyond any real limit).
pub const QUOTA: Bounds = Bounds::new(1, 1 << 30);
/// A password a client sets (basic auth, a WordPress admin), in characters.
pub const PASSWORD_CHARS: Bounds = Bounds::new(8, 128);
/// A WordPress site title, in characters.
pub const WP_TITLE_CHARS: Bounds = Bounds::new(1, 200);
/// The longest WordPress admin e-mail address, in bytes.
pub const MAX_EMAIL_LEN: usize = 254;
/// The longest basic-auth user name.
pub const MAX_BASIC_AUTH_USER: usize = 64;
/// The longest WordPress admin user name.
pub const MAX_WP_ADMIN_USER: usize = 60;
/// The longest system user name (as Linux accounts go).
pub const MAX_SYSTEM_USER: usize = 32;
/// The HTTP statuses a redirect may answer.
pub const REDIRECT_STATUSES: [u16; 4] = [301, 302, 307, 308];

//! Where the URL and the key come from: flags, then `HYPERION_URL` and
//! `HYPERION_KEY`, then the file `hyperion login` writes (mode 0600).

use std::io::{BufRead, Write};
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::Failure;

/// What `hyperion login` keeps.
#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct Saved {
    pub(crate) url: Option<String>,
    pub(crate) key: Option<String>,
}

/// `$XDG_CONFIG_HOME/hyperion/login.json`, else `~/.config/hyperion/login.json`.
fn path() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".config")))?;
    Some(base.join("hyperion").join("login.json"))
}

/// What was saved, if anything.
pub(crate) fn load() -> Saved {
    path()
        .and_then(|path| std::fs::read(path).ok())
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or_default()
}

/// Reads one line (a key, a password) from stdin, without its line end.
pub(crate) fn read_secret_line(what: &str) -> Result<String, Failure> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|err| Failure::Usage(format!("cannot read the {what} from stdin: {err}")))?;
    let line = line.trim_end_matches(['\r', '\n']).to_owned();
    if line.is_empty() {
        return Err(Failure::Usage(format!("no {what} on stdin")));
    }
    Ok(line)
}

/// Saves `url` and `key`, readable by the user alone.
pub(crate) fn save(url: &str, key: &str) -> Result<PathBuf, Failure> {
    let path = path().ok_or_else(|| Failure::Other("no home directory to save into".into()))?;
    let dir = path.parent().expect("the file is in a directory");
    std::fs::create_dir_all(dir)
        .map_err(|err| Failure::Other(format!("cannot create {}: {err}", dir.display())))?;
    let saved = Saved {
        url: Some(url.to_owned()),
        key: Some(key.to_owned()),
    };
    let text = serde_json::to_vec_pretty(&saved).expect("strings serialize");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        options.mode(0o600);
        // An older file keeps its mode on open: set it.
        if path.exists() {
            let _ = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600));
        }
    }
    let mut file = options
        .open(&path)
        .map_err(|err| Failure::Other(format!("cannot write {}: {err}", path.display())))?;
    file.write_all(&text)
        .map_err(|err| Failure::Other(format!("cannot write {}: {err}", path.display())))?;
    Ok(path)
}

/// `hyperion login`: reads the key from stdin, checks it works at `url`,
/// and saves both.
pub(crate) async fn run(url: Option<String>) -> Result<(), Failure> {
    let url = url
        .filter(|url| !url.is_empty())
        .ok_or_else(|| Failure::Usage("login needs --url (or HYPERION_URL)".into()))?;
    let key = read_secret_line("API key")?;
    // Only a key that works is saved.
    let client = hyperion_client::Client::builder(&url).key(&key).build()?;
    let me = client.me().await?;
    let path = save(&url, &key)?;
    eprintln!(
        "logged in to {url} as key {} ({}); saved in {}",
        me.key.label,
        me.key.prefix,
        path.display()
    );
    Ok(())
}

//! Registry credentials: given, or from the Docker config file.

use std::path::PathBuf;

use base64::Engine as _;

use super::OciError;

/// A user name and password (or token) for a registry.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The user name.
    pub username: String,
    /// The password or token.
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials").field("username", &self.username).field("password", &"<redacted>").finish()
    }
}

/// The Docker config file: `$DOCKER_CONFIG/config.json`, else
/// `$HOME/.docker/config.json`.
fn docker_config_path() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("DOCKER_CONFIG") {
        return Some(PathBuf::from(dir).join("config.json"));
    }
    std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".docker").join("config.json"))
}

/// The credentials the Docker config file holds for `registry`
/// (`auths.<registry>.auth`, base64 `user:password`, or `username` and
/// `password`); `None` when there is no file or no entry. A file that
/// exists but is not valid is an error, not silently anonymous.
pub fn docker_config_credentials(registry: &str) -> Result<Option<Credentials>, OciError> {
    let Some(path) = docker_config_path() else { return Ok(None) };
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(OciError::Io { path, source }),
    };
    credentials_in(&text, registry)
        .map_err(|message| OciError::Io { path, source: std::io::Error::new(std::io::ErrorKind::InvalidData, message) })
}

/// The `auths` entry for `registry` in a Docker config file's text. Keys
/// may be a bare `host[:port]` or a URL (`https://host/v1/`), as
/// `docker login` writes them.
pub(crate) fn credentials_in(text: &str, registry: &str) -> Result<Option<Credentials>, String> {
    let config: serde_json::Value = serde_json::from_str(text).map_err(|e| format!("not valid JSON: {e}"))?;
    let Some(auths) = config.get("auths").and_then(|a| a.as_object()) else { return Ok(None) };
    let entry = auths.iter().find(|(key, _)| {
        let key = key.strip_prefix("https://").or_else(|| key.strip_prefix("http://")).unwrap_or(key);
        key.split('/').next() == Some(registry)
    });
    let Some((key, entry)) = entry else { return Ok(None) };
    let field = |name: &str| entry.get(name).and_then(|v| v.as_str()).filter(|s| !s.is_empty());
    if let Some(auth) = field("auth") {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(auth.trim())
            .map_err(|e| format!("auths.{key:?}.auth is not base64: {e}"))?;
        let decoded = String::from_utf8(decoded).map_err(|_| format!("auths.{key:?}.auth is not UTF-8"))?;
        let (username, password) =
            decoded.split_once(':').ok_or_else(|| format!("auths.{key:?}.auth is not base64 of user:password"))?;
        return Ok(Some(Credentials { username: username.to_owned(), password: password.to_owned() }));
    }
    match (field("username"), field("password")) {
        (Some(username), Some(password)) => {
            Ok(Some(Credentials { username: username.to_owned(), password: password.to_owned() }))
        }
        _ => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_config_entries_are_read() {
        // base64("alice:s3cr:et")
        let text = r#"{"auths":{"https://127.0.0.1:5000/v1/":{"auth":"YWxpY2U6czNjcjpldA=="},
                       "other:1":{"username":"bob","password":"pw"},"empty:2":{}}}"#;
        let alice = credentials_in(text, "127.0.0.1:5000").unwrap().unwrap();
        assert_eq!((alice.username.as_str(), alice.password.as_str()), ("alice", "s3cr:et"));
        assert_eq!(credentials_in(text, "other:1").unwrap().unwrap().username, "bob");
        assert_eq!(credentials_in(text, "empty:2").unwrap(), None);
        assert_eq!(credentials_in(text, "127.0.0.1:5001").unwrap(), None);
        assert_eq!(credentials_in("{}", "x").unwrap(), None);
        assert!(credentials_in("{", "x").unwrap_err().contains("not valid JSON"));
        let bad = r#"{"auths":{"x":{"auth":"!!"}}}"#;
        assert!(credentials_in(bad, "x").unwrap_err().contains("not base64"));
        assert!(!format!("{alice:?}").contains("s3cr"), "the password is not printed");
    }
}

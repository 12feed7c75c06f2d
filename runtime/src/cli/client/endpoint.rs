//! Which server and token a command uses: `--server`/`--token`, then `WEIR_SERVER`/
//! `WEIR_TOKEN`, then the client config file (`$WEIR_CLIENT_CONFIG`, else
//! `$XDG_CONFIG_HOME/weir/config.toml`, else `~/.config/weir/config.toml`, with
//! `server = "..."` and `token = "..."`), then `http://localhost:8080` and no token; and where
//! each came from, so that messages say which knob to turn. It makes no request.

use anyhow::{Context, Result, bail};
use serde::Deserialize;
use std::fmt;
use std::path::{Path, PathBuf};

/// The server a client talks to when nothing says otherwise.
pub const DEFAULT_SERVER: &str = "http://localhost:8080";

/// How to reach the server: flags shared by every `weir module` and `weir job` command.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ClientArgs {
    /// URL of a `weir serve` runtime's API [default: http://localhost:8080].
    /// Also WEIR_SERVER, or `server = "URL"` in the client config file.
    #[arg(long, global = true, value_name = "URL")]
    pub server: Option<String>,
    /// Bearer token for changes (uploads, creates, updates, deletes). Also WEIR_TOKEN, or
    /// `token = "..."` in the client config file (both better than the flag, which `ps` shows).
    #[arg(long, global = true, value_name = "TOKEN")]
    pub token: Option<String>,
}

/// The client config file: `server` and `token`, both optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientConfig {
    /// The server's URL.
    pub server: Option<String>,
    /// The API token.
    pub token: Option<String>,
}

/// Where a setting came from, so that messages say which knob to turn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A command-line flag.
    Flag,
    /// An environment variable.
    Env(&'static str),
    /// The client config file.
    File(PathBuf),
    /// Nothing set it.
    Default,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Flag => f.write_str("from the command line"),
            Source::Env(var) => write!(f, "from {var}"),
            Source::File(path) => write!(f, "from {}", path.display()),
            Source::Default => f.write_str("the default"),
        }
    }
}

/// The server and token a command uses, and where each came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// Base URL without a trailing slash, e.g. `http://localhost:8080`.
    pub server: String,
    /// Where `server` came from.
    pub server_source: Source,
    /// The bearer token, if any.
    pub token: Option<String>,
    /// Where the config file is (or would be), for messages.
    pub config_path: Option<PathBuf>,
}

/// The client config file's path, and whether the user named it (then it must exist).
pub fn config_path(env: &dyn Fn(&str) -> Option<String>) -> Option<(PathBuf, bool)> {
    if let Some(path) = env("WEIR_CLIENT_CONFIG") {
        return Some((PathBuf::from(path), true));
    }
    let base = env("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| env("HOME").map(|home| Path::new(&home).join(".config")))?;
    Some((base.join("weir").join("config.toml"), false))
}

/// Reads the client config file: `None` when the default file does not exist, an error when a
/// named one does not, or when either does not parse.
pub fn load_config(path: &Path, named: bool) -> Result<Option<ClientConfig>> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound && !named => return Ok(None),
        Err(err) => {
            return Err(err).with_context(|| {
                format!(
                    "cannot read the client config file {} (named by WEIR_CLIENT_CONFIG)",
                    path.display()
                )
            });
        }
    };
    let config = toml::from_str(&text).with_context(|| {
        format!(
            "{} is not a valid client config (expected `server = \"URL\"` and `token = \"...\"`)",
            path.display()
        )
    })?;
    Ok(Some(config))
}

/// Resolves the server and token: flags, then environment, then the config file, then the
/// default. `env` reads an environment variable (empty counts as unset).
pub fn resolve(args: &ClientArgs, env: &dyn Fn(&str) -> Option<String>) -> Result<Endpoint> {
    let env = |name: &str| env(name).filter(|v| !v.trim().is_empty());
    let located = config_path(&env);
    let file = match &located {
        Some((path, named)) => load_config(path, *named)?,
        None => None,
    };
    let file_path = || located.as_ref().map(|(p, _)| p.clone()).unwrap_or_default();
    let (server, server_source) = if let Some(s) = &args.server {
        (s.clone(), Source::Flag)
    } else if let Some(s) = env("WEIR_SERVER") {
        (s, Source::Env("WEIR_SERVER"))
    } else if let Some(s) = file.as_ref().and_then(|f| f.server.clone()) {
        (s, Source::File(file_path()))
    } else {
        (DEFAULT_SERVER.to_string(), Source::Default)
    };
    let token = args
        .token
        .clone()
        .or_else(|| env("WEIR_TOKEN"))
        .or_else(|| file.as_ref().and_then(|f| f.token.clone()))
        .filter(|t| !t.is_empty());
    if token
        .as_deref()
        .is_some_and(|t| !t.bytes().all(|b| b.is_ascii_graphic()))
    {
        bail!(
            "the API token has spaces or characters an HTTP header cannot carry; check --token, WEIR_TOKEN or the client config file"
        );
    }
    Ok(Endpoint {
        server: normalize_server(&server).with_context(|| format!("server `{server}` ({server_source})"))?,
        server_source,
        token,
        config_path: located.map(|(p, _)| p),
    })
}

/// `host:port` → `http://host:port`; a trailing slash goes; other schemes are refused.
pub fn normalize_server(server: &str) -> Result<String> {
    let server = server.trim();
    let (scheme, rest) = match server.split_once("://") {
        Some((scheme @ ("http" | "https"), rest)) => (scheme, rest),
        Some((scheme, _)) => bail!("use an http:// or https:// URL, not `{scheme}://`"),
        None => ("http", server),
    };
    let rest = rest.trim_end_matches('/');
    if rest.is_empty() {
        bail!("the server URL `{server}` names no host");
    }
    Ok(format!("{scheme}://{rest}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| map.get(name).cloned()
    }

    fn write_config(dir: &Path, text: &str) -> PathBuf {
        let path = dir.join("weir").join("config.toml");
        std::fs::create_dir_all(path.parent().expect("has a parent")).expect("create dir");
        std::fs::write(&path, text).expect("write config");
        path
    }

    #[test]
    fn flags_beat_env_beat_file_beat_default() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = write_config(dir.path(), "server = \"http://file:1\"\ntoken = \"file-token\"\n");
        let xdg = dir.path().to_str().expect("utf-8 path");
        let flags = ClientArgs {
            server: Some("http://flag:1".into()),
            token: Some("flag-token".into()),
        };
        let full_env = [
            ("XDG_CONFIG_HOME", xdg),
            ("WEIR_SERVER", "http://env:1"),
            ("WEIR_TOKEN", "env-token"),
        ];

        let e = resolve(&flags, &env_of(&full_env)).expect("resolves");
        assert_eq!(
            (e.server.as_str(), e.token.as_deref()),
            ("http://flag:1", Some("flag-token"))
        );
        assert_eq!(e.server_source, Source::Flag);

        let e = resolve(&ClientArgs::default(), &env_of(&full_env)).expect("resolves");
        assert_eq!(
            (e.server.as_str(), e.token.as_deref()),
            ("http://env:1", Some("env-token"))
        );
        assert_eq!(e.server_source, Source::Env("WEIR_SERVER"));

        let e = resolve(&ClientArgs::default(), &env_of(&[("XDG_CONFIG_HOME", xdg)])).expect("resolves");
        assert_eq!(
            (e.server.as_str(), e.token.as_deref()),
            ("http://file:1", Some("file-token"))
        );
        assert_eq!(e.server_source, Source::File(path.clone()));
        assert_eq!(e.config_path, Some(path));

        let empty = tempfile::tempdir().expect("temp dir");
        let e = resolve(
            &ClientArgs::default(),
            &env_of(&[("HOME", empty.path().to_str().expect("utf-8 path"))]),
        )
        .expect("a missing default config file is fine");
        assert_eq!((e.server.as_str(), e.token), (DEFAULT_SERVER, None));
        assert_eq!(e.server_source, Source::Default);
        assert_eq!(e.config_path, Some(empty.path().join(".config/weir/config.toml")));
    }

    #[test]
    fn each_setting_falls_back_on_its_own() {
        let dir = tempfile::tempdir().expect("temp dir");
        write_config(dir.path(), "token = \"file-token\"\n");
        let env = env_of(&[
            ("XDG_CONFIG_HOME", dir.path().to_str().expect("utf-8 path")),
            ("WEIR_SERVER", "env:9"),
            ("WEIR_TOKEN", ""),
        ]);
        let e = resolve(&ClientArgs::default(), &env).expect("resolves");
        assert_eq!(e.server, "http://env:9", "a bare host:port gets http://");
        assert_eq!(
            e.token.as_deref(),
            Some("file-token"),
            "an empty WEIR_TOKEN counts as unset"
        );
    }

    #[test]
    fn a_named_config_file_must_exist_and_parse() {
        let dir = tempfile::tempdir().expect("temp dir");
        let missing = dir.path().join("nope.toml");
        let err = resolve(
            &ClientArgs::default(),
            &env_of(&[("WEIR_CLIENT_CONFIG", missing.to_str().expect("utf-8 path"))]),
        )
        .expect_err("a named file that is missing is an error");
        assert!(format!("{err:#}").contains("nope.toml"), "{err:#}");

        let typo = dir.path().join("typo.toml");
        std::fs::write(&typo, "sever = \"http://x\"\n").expect("write");
        let err = resolve(
            &ClientArgs::default(),
            &env_of(&[("WEIR_CLIENT_CONFIG", typo.to_str().expect("utf-8 path"))]),
        )
        .expect_err("an unknown key is an error");
        assert!(format!("{err:#}").contains("sever"), "{err:#}");

        let named = dir.path().join("named.toml");
        std::fs::write(&named, "server = \"https://weir.example:8443/\"\n").expect("write");
        let e = resolve(
            &ClientArgs::default(),
            &env_of(&[
                ("WEIR_CLIENT_CONFIG", named.to_str().expect("utf-8 path")),
                ("XDG_CONFIG_HOME", "/nonexistent"),
            ]),
        )
        .expect("resolves");
        assert_eq!(e.server, "https://weir.example:8443");
    }

    #[test]
    fn a_token_a_header_cannot_carry_is_refused() {
        let args = ClientArgs {
            server: None,
            token: Some("two words\n".into()),
        };
        let err = resolve(&args, &env_of(&[])).expect_err("refused");
        assert!(err.to_string().contains("token"), "{err}");
    }

    #[test]
    fn server_urls_are_normalized_or_refused() {
        assert_eq!(normalize_server("http://h:8080/").expect("ok"), "http://h:8080");
        assert_eq!(normalize_server("h:8080").expect("ok"), "http://h:8080");
        assert_eq!(normalize_server("https://h").expect("ok"), "https://h");
        assert!(normalize_server("ftp://h").is_err());
        assert!(normalize_server("  ").is_err());
        assert!(normalize_server("http://").is_err());
    }
}

//! The on-disk compile cache: compiled modules kept between processes, so a restarted runtime
//! (or a second one on the same machine, or `weir run` again) loads a module it has compiled
//! before without compiling it again. That matters for Python and JavaScript components, which
//! take tens of seconds to compile: a restart or rebalance would otherwise wait for it.
//!
//! This is wasmtime's own cache: an entry is keyed by the component's bytes, the engine's
//! settings and wasmtime's version, so a changed module, setting or upgrade never loads stale
//! code; wasmtime compresses entries and trims the directory when it grows past its limits.
//! The directory must be private to the runtime's user: loading an entry runs its code.

use std::path::{Path, PathBuf};

/// Where a runtime keeps compiled modules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CompileCache {
    /// No disk cache: every process compiles each module once.
    Off,
    /// This directory (created if missing).
    Dir(PathBuf),
}

impl CompileCache {
    /// Parses a setting: `off` (or an empty string) disables the cache; anything else is a
    /// directory, made absolute against the working directory.
    pub fn parse(setting: &str) -> Self {
        let setting = setting.trim();
        if setting.is_empty() || setting.eq_ignore_ascii_case("off") {
            return CompileCache::Off;
        }
        let path = Path::new(setting);
        if path.is_absolute() {
            return CompileCache::Dir(path.to_path_buf());
        }
        match std::env::current_dir() {
            Ok(cwd) => CompileCache::Dir(cwd.join(path)),
            Err(_) => CompileCache::Off,
        }
    }

    /// The setting when none is given: `$XDG_CACHE_HOME/weir/compiled`, else
    /// `$HOME/.cache/weir/compiled`, else off (a container without a home directory; the
    /// Kubernetes manifests set `WEIR_COMPILE_CACHE` to a volume).
    pub fn default_for_user() -> Self {
        let base = std::env::var_os("XDG_CACHE_HOME")
            .map(PathBuf::from)
            .filter(|dir| dir.is_absolute())
            .or_else(|| {
                std::env::var_os("HOME")
                    .map(PathBuf::from)
                    .filter(|dir| dir.is_absolute() && dir != Path::new("/"))
                    .map(|home| home.join(".cache"))
            });
        match base {
            Some(base) => CompileCache::Dir(base.join("weir").join("compiled")),
            None => CompileCache::Off,
        }
    }

    /// The setting if one is given, else [`CompileCache::default_for_user`].
    pub fn from_setting(setting: Option<&str>) -> Self {
        setting.map_or_else(Self::default_for_user, Self::parse)
    }

    /// The directory, unless the cache is off.
    pub fn dir(&self) -> Option<&Path> {
        match self {
            CompileCache::Off => None,
            CompileCache::Dir(dir) => Some(dir),
        }
    }
}

impl std::fmt::Display for CompileCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CompileCache::Off => f.write_str("off"),
            CompileCache::Dir(dir) => write!(f, "{}", dir.display()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn off_and_empty_disable_the_cache() {
        assert_eq!(CompileCache::parse("off"), CompileCache::Off);
        assert_eq!(CompileCache::parse("OFF"), CompileCache::Off);
        assert_eq!(CompileCache::parse(" "), CompileCache::Off);
        assert_eq!(CompileCache::from_setting(Some("off")).dir(), None);
    }

    #[test]
    fn a_relative_directory_is_made_absolute() {
        let parsed = CompileCache::parse("cache/compiled");
        let dir = parsed.dir().expect("a directory");
        assert!(dir.is_absolute(), "{}", dir.display());
        assert!(dir.ends_with("cache/compiled"), "{}", dir.display());
        assert_eq!(
            CompileCache::parse("/var/cache/weir"),
            CompileCache::Dir(PathBuf::from("/var/cache/weir"))
        );
    }
}

//! What `weir build` builds: a module project, its language and its name, read from the
//! language's own manifest (`Cargo.toml`, `pyproject.toml`, `package.json`; C has none).

use anyhow::{Context, Result, bail};
use figment::Figment;
use figment::providers::{Format, Toml};
use std::fmt;
use std::path::{Path, PathBuf};

/// A module's source language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Lang {
    /// Rust with weir-sdk, built by cargo for wasm32-wasip2.
    Rust,
    /// Python with the `weir` package, built by componentize-py.
    #[value(alias = "py")]
    Python,
    /// JavaScript (an ES module), built by componentize-js.
    #[value(alias = "javascript")]
    Js,
    /// C with weir.h, built by clang for wasm32-wasi and made a component by `weir build`.
    C,
}

impl Lang {
    /// The name users type (`--lang`).
    pub fn name(self) -> &'static str {
        match self {
            Lang::Rust => "rust",
            Lang::Python => "python",
            Lang::Js => "js",
            Lang::C => "c",
        }
    }
}

impl fmt::Display for Lang {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A module project on disk.
#[derive(Debug, Clone)]
pub struct Project {
    /// The project directory (absolute).
    pub dir: PathBuf,
    /// Its language.
    pub lang: Lang,
    /// Its name, from the manifest (the directory's name for C); names the component file.
    pub name: String,
}

impl Project {
    /// Reads the project in `dir`, in `lang` or in the language its files tell.
    pub fn open(dir: &Path, lang: Option<Lang>) -> Result<Project> {
        let dir = dir
            .canonicalize()
            .with_context(|| format!("cannot open the project directory {}", dir.display()))?;
        let lang = match lang.or_else(|| detect(&dir)) {
            Some(lang) => lang,
            None => bail!(
                "{} is not a module project: found no Cargo.toml (Rust), pyproject.toml (Python), \
                 package.json (JavaScript) or *.c file (C). Create one with `weir init --lang \
                 rust|python|js|c NAME`",
                dir.display()
            ),
        };
        let name = match lang {
            Lang::Rust => toml_string(&dir.join("Cargo.toml"), "package.name")?,
            Lang::Python => toml_string(&dir.join("pyproject.toml"), "project.name")?,
            Lang::Js => json_string(&dir.join("package.json"), "name")?,
            Lang::C => dir.file_name().map(|n| n.to_string_lossy().into_owned()),
        };
        let name = name.map(|n| file_name_safe(&n)).filter(|n| !n.is_empty());
        let Some(name) = name else {
            bail!(
                "the {lang} project in {} has no name: {}",
                dir.display(),
                match lang {
                    Lang::Rust => "set [package] name in Cargo.toml",
                    Lang::Python => "set [project] name in pyproject.toml",
                    Lang::Js => "set \"name\" in package.json",
                    Lang::C => "its directory has no usable name",
                }
            );
        };
        Ok(Project { dir, lang, name })
    }
}

/// The language a directory's files tell.
fn detect(dir: &Path) -> Option<Lang> {
    if dir.join("Cargo.toml").is_file() {
        Some(Lang::Rust)
    } else if dir.join("pyproject.toml").is_file() {
        Some(Lang::Python)
    } else if dir.join("package.json").is_file() {
        Some(Lang::Js)
    } else if has_c_sources(dir) {
        Some(Lang::C)
    } else {
        None
    }
}

fn has_c_sources(dir: &Path) -> bool {
    [dir.to_path_buf(), dir.join("src")].iter().any(|d| {
        std::fs::read_dir(d).is_ok_and(|entries| {
            entries
                .flatten()
                .any(|e| e.path().extension().is_some_and(|x| x == "c"))
        })
    })
}

/// A name made safe for a file name: letters, digits, `-`, `_` and `.`.
fn file_name_safe(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '-'
            }
        })
        .collect::<String>()
        .trim_matches('.')
        .to_string()
}

/// The string at `key` (dotted) of a TOML file, if there is one.
pub(super) fn toml_string(path: &Path, key: &str) -> Result<Option<String>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let figment = Figment::from(Toml::string(&text));
    match figment.find_value(key) {
        Ok(value) => match value.into_string() {
            Some(s) => Ok(Some(s)),
            None => bail!("{}: `{key}` must be a string", path.display()),
        },
        Err(e) if e.missing() => Ok(None),
        Err(e) => Err(anyhow::anyhow!("{}: {e}", path.display())),
    }
}

/// The string at `key` (top level) of a JSON file, if there is one.
pub(super) fn json_string(path: &Path, key: &str) -> Result<Option<String>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let value: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("{} is not valid JSON", path.display()))?;
    match value.get(key) {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => bail!("{}: \"{key}\" must be a string", path.display()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_become_file_names() {
        assert_eq!(file_name_safe("word-count_2.py"), "word-count_2.py");
        assert_eq!(file_name_safe("@scope/pkg"), "-scope-pkg");
        assert_eq!(file_name_safe("../x"), "-x");
    }

    #[test]
    fn the_manifest_tells_the_language_and_name() {
        let dir = tempfile::tempdir().expect("a temp dir");
        assert!(
            Project::open(dir.path(), None).is_err(),
            "an empty directory is no project"
        );
        std::fs::write(
            dir.path().join("pyproject.toml"),
            "[project]\nname = \"demo\"\n[tool.weir]\nmodule = \"app\"\n",
        )
        .expect("write");
        let project = Project::open(dir.path(), None).expect("a Python project");
        assert_eq!((project.lang, project.name.as_str()), (Lang::Python, "demo"));
        assert_eq!(
            toml_string(&dir.path().join("pyproject.toml"), "tool.weir.module").expect("read"),
            Some("app".to_string())
        );
        assert_eq!(
            toml_string(&dir.path().join("pyproject.toml"), "tool.weir.missing").expect("read"),
            None
        );
    }
}

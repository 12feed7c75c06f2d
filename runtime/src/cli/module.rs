//! `weir module`: the modules of a server's registry. `upload FILE [--name N]`, `list`,
//! `inspect REF`, `rm REF`, where REF is a full sha256 id, a unique prefix of one (8 hex
//! digits or more), or a name (the latest upload under it; the same bytes uploaded under
//! several names answer to each). The server resolves refs and validates components; this file
//! sends the request and prints the answer.

use super::client::{Client, ClientArgs, segment};
use super::output::{self, Format, OutputArgs, Table, fields};
use anyhow::Result;
use serde::Deserialize;
use std::path::PathBuf;
use std::time::SystemTime;

/// Arguments of `weir module`.
#[derive(Debug, clap::Args)]
pub struct ModuleArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: ModuleCommand,
    /// Where the server is.
    #[command(flatten)]
    pub client: ClientArgs,
    /// How to print.
    #[command(flatten)]
    pub output: OutputArgs,
}

/// The `weir module` commands.
#[derive(Debug, clap::Subcommand)]
pub enum ModuleCommand {
    /// Upload a component (.wasm). The same bytes again store nothing new; under another
    /// --name they gain that name and keep their earlier ones, which still refer to them.
    Upload {
        /// The component file, e.g. target/wasm32-wasip2/release/word_count.wasm.
        file: PathBuf,
        /// A name to refer to it by (a later upload of other bytes under the same name becomes
        /// what it means).
        #[arg(long)]
        name: Option<String>,
    },
    /// List the uploaded modules.
    #[command(visible_alias = "ls")]
    List,
    /// Show one module: id, names, kind, language, SDK, tools, world, size, the jobs using it.
    #[command(visible_alias = "describe")]
    Inspect {
        /// A sha256 id, a unique prefix of one (8+ hex digits), or a name.
        module: String,
    },
    /// Delete a module no job uses, with every name it has.
    #[command(visible_alias = "delete")]
    Rm {
        /// A sha256 id, a unique prefix of one (8+ hex digits), or a name.
        module: String,
    },
}

/// A module as the server describes it (v1).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct ApiModule {
    /// sha256 of the component, in hex.
    pub id: String,
    /// The name most recently given, if any.
    pub name: Option<String>,
    /// Every name it answers to, the most recent first.
    pub names: Vec<String>,
    /// Size in bytes.
    pub size: u64,
    /// The WIT world it implements, e.g. `weir:processor@0.1.0`.
    pub world: String,
    /// `map_reduce` or `transform`.
    pub kind: String,
    /// The SDK that built it, as the module says.
    pub sdk: String,
    /// Its source language, from its producers sections (absent when unknown).
    pub language: Option<String>,
    /// The tools that built it, with versions.
    pub processed_by: Vec<String>,
    /// When it was uploaded (RFC 3339).
    pub uploaded_at: String,
    /// The jobs whose current revision runs it.
    pub used_by: Vec<String>,
}

/// The `GET /v1/modules` body.
#[derive(Debug, Deserialize)]
struct ApiModuleList {
    modules: Vec<ApiModule>,
}

/// Runs `weir module`.
pub fn module(args: &ModuleArgs) -> Result<()> {
    let client = Client::from_args(&args.client)?;
    let format = args.output.format;
    let now = SystemTime::now();
    let text = match &args.command {
        ModuleCommand::Upload { file, name } => {
            let reply = client.upload(file, name.as_deref())?;
            let module: ApiModule = reply.parse("the upload")?;
            output::render(format, &reply.body, |_| {
                uploaded(&module, reply.status, name.as_deref())
            })?
        }
        ModuleCommand::List => {
            let reply = client.get("/modules")?;
            let list: ApiModuleList = reply.parse("the module list")?;
            output::render(format, &reply.body, |wide| list_table(&list.modules, now, wide))?
        }
        ModuleCommand::Inspect { module } => {
            let reply = client.get(&format!("/modules/{}", segment(module)))?;
            let parsed: ApiModule = reply.parse("the module")?;
            output::render(format, &reply.body, |_| describe(&parsed, now))?
        }
        ModuleCommand::Rm { module } => {
            // Resolved first, so that what is printed is the id deleted, not the ref given.
            let found: ApiModule = client
                .get(&format!("/modules/{}", segment(module)))?
                .parse("the module")?;
            client.delete(&format!("/modules/{}", segment(&found.id)))?;
            deleted(format, module, &found)?
        }
    };
    output::print(&text)
}

/// The line printed after `rm`: a sentence for people; for scripts, the id deleted and the
/// names it had: `{"deleted": ID, "names": [...]}`.
fn deleted(format: Format, reference: &str, module: &ApiModule) -> Result<String> {
    let value = serde_json::json!({ "deleted": module.id, "names": names(module) });
    output::render(format, &value, |_| format!("module {reference} deleted\n"))
}

/// Every name of `module`, from `names` or (older servers) `name`.
fn names(module: &ApiModule) -> Vec<String> {
    if module.names.is_empty() {
        module.name.iter().cloned().collect()
    } else {
        module.names.clone()
    }
}

/// What `upload` prints: whether the bytes were new, gained a name (201), or were already
/// there under that name (200), labelled by the name given (else the module's latest name).
fn uploaded(module: &ApiModule, status: u16, given: Option<&str>) -> String {
    let name = given.or(module.name.as_deref()).unwrap_or("");
    let label = if name.is_empty() {
        output::short_id(&module.id)
    } else {
        name.to_string()
    };
    let others: Vec<&str> = module
        .names
        .iter()
        .map(String::as_str)
        .filter(|n| *n != name)
        .collect();
    let what = match status {
        201 if others.is_empty() => "uploaded".to_string(),
        201 => format!(
            "uploaded: the same bytes as {}, which still refer to them",
            others.join(", ")
        ),
        _ => "unchanged (identical bytes were already uploaded)".to_string(),
    };
    format!(
        "module {label} {what}\n{}",
        fields(&[
            ("ID", module.id.clone()),
            ("Kind", module.kind.clone()),
            ("Size", output::human_bytes(module.size)),
        ])
    )
}

/// The module's names as one cell: every name, the most recent first, or `<none>`.
fn names_cell(m: &ApiModule) -> String {
    output::list_or_none(&names(m))
}

/// The language as a cell: `Rust`, or `<none>` when the module's sections name none.
fn language_cell(m: &ApiModule) -> String {
    m.language
        .clone()
        .filter(|l| !l.is_empty())
        .unwrap_or_else(|| output::NONE.to_string())
}

/// `NAME ID KIND SIZE USED-BY AGE`, one row per module; `wide` shows the whole id and adds
/// `LANGUAGE SDK WORLD UPLOADED`.
fn list_table(modules: &[ApiModule], now: SystemTime, wide: bool) -> String {
    let mut headers = vec!["NAME", "ID", "KIND", "SIZE", "USED-BY", "AGE"];
    if wide {
        headers.extend(["LANGUAGE", "SDK", "WORLD", "UPLOADED"]);
    }
    let mut table = Table::new(&headers);
    for m in modules {
        let mut row = vec![
            names_cell(m),
            if wide {
                m.id.clone()
            } else {
                output::short_id(&m.id)
            },
            m.kind.clone(),
            output::human_bytes(m.size),
            output::list_or_none(&m.used_by),
            output::age(&m.uploaded_at, now),
        ];
        if wide {
            row.extend([
                language_cell(m),
                m.sdk.clone(),
                m.world.clone(),
                m.uploaded_at.clone(),
            ]);
        }
        table.row(row);
    }
    table.render()
}

/// `inspect`'s description of one module.
fn describe(m: &ApiModule, now: SystemTime) -> String {
    fields(&[
        ("ID", m.id.clone()),
        ("Names", names_cell(m)),
        ("Kind", m.kind.clone()),
        ("Language", language_cell(m)),
        ("SDK", m.sdk.clone()),
        ("Built by", output::list_or_none(&m.processed_by)),
        ("World", m.world.clone()),
        (
            "Size",
            format!("{} bytes ({})", m.size, output::human_bytes(m.size)),
        ),
        (
            "Uploaded",
            format!("{} ({} ago)", m.uploaded_at, output::age(&m.uploaded_at, now)),
        ),
        ("Used by", output::list_or_none(&m.used_by)),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sample() -> serde_json::Value {
        json!({
            "id": "3f2a1b9c0d12e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9",
            "name": "word-count",
            "size": 135840,
            "world": "weir:processor@0.1.0",
            "kind": "map_reduce",
            "sdk": "weir-sdk 0.1",
            "language": "Rust",
            "processed_by": ["rustc 1.91.1", "wit-component 0.239.0"],
            "uploaded_at": "2026-11-25T10:00:00Z",
            "used_by": ["wc", "wc2"]
        })
    }

    fn now() -> SystemTime {
        humantime::parse_rfc3339("2026-11-25T10:05:00Z").expect("valid time")
    }

    #[test]
    fn the_contract_module_parses_and_lists() {
        let named: ApiModule = serde_json::from_value(sample()).expect("parses");
        let mut unnamed = named.clone();
        unnamed.name = None;
        unnamed.used_by.clear();
        unnamed.kind = "transform".into();
        let mut unknown = named.clone();
        unknown.language = None;
        let wide = list_table(&[named.clone(), unknown], now(), true);
        let lines: Vec<&str> = wide.lines().collect();
        assert!(
            lines[0].ends_with("AGE   LANGUAGE   SDK            WORLD                  UPLOADED"),
            "{wide}"
        );
        assert!(
            lines[1].ends_with("5m    Rust       weir-sdk 0.1   weir:processor@0.1.0   2026-11-25T10:00:00Z")
                && lines[1].contains(&named.id),
            "{wide}"
        );
        assert!(lines[2].contains("   <none>     weir-sdk 0.1"), "{wide}");
        assert_eq!(
            list_table(&[named, unnamed], now(), false),
            "NAME         ID             KIND         SIZE       USED-BY   AGE\n\
             word-count   3f2a1b9c0d12   map_reduce   132.7KiB   wc,wc2    5m\n\
             <none>       3f2a1b9c0d12   transform    132.7KiB   <none>    5m\n"
        );
    }

    #[test]
    fn a_null_name_and_missing_fields_are_tolerated() {
        let module: ApiModule = serde_json::from_value(json!({"id": "ab", "name": null})).expect("parses");
        assert_eq!(module.name, None);
        assert!(module.used_by.is_empty());
    }

    #[test]
    fn inspect_describes_every_field() {
        let module: ApiModule = serde_json::from_value(sample()).expect("parses");
        let text = describe(&module, now());
        assert!(text.contains("World:     weir:processor@0.1.0\n"), "{text}");
        assert!(text.contains("Language:  Rust\n"), "{text}");
        assert!(text.contains("SDK:       weir-sdk 0.1\n"), "{text}");
        assert!(
            text.contains("Built by:  rustc 1.91.1,wit-component 0.239.0\n"),
            "{text}"
        );
        assert!(text.contains("Size:      135840 bytes (132.7KiB)\n"), "{text}");
        assert!(
            text.contains("Uploaded:  2026-11-25T10:00:00Z (5m ago)\n"),
            "{text}"
        );
        assert!(text.contains("Used by:   wc,wc2\n"), "{text}");
    }

    #[test]
    fn upload_says_whether_the_bytes_were_new() {
        let module: ApiModule = serde_json::from_value(sample()).expect("parses");
        assert!(uploaded(&module, 201, None).starts_with("module word-count uploaded\n"));
        assert!(uploaded(&module, 200, None).starts_with("module word-count unchanged"));
        assert!(uploaded(&module, 200, Some("wc")).starts_with("module wc unchanged"));
        let aliased = ApiModule {
            name: Some("counter".into()),
            names: vec!["counter".into(), "word-count".into()],
            ..module.clone()
        };
        assert!(
            uploaded(&aliased, 201, Some("counter")).starts_with(
                "module counter uploaded: the same bytes as word-count, which still refer to them\n"
            ),
            "{}",
            uploaded(&aliased, 201, Some("counter"))
        );
        let unnamed = ApiModule { name: None, ..module };
        assert!(uploaded(&unnamed, 201, None).starts_with("module 3f2a1b9c0d12 uploaded\n"));
    }

    #[test]
    fn rm_prints_a_sentence_or_the_id_deleted() {
        let module: ApiModule = serde_json::from_value(sample()).expect("parses");
        assert_eq!(
            deleted(Format::Table, "wc", &module).expect("renders"),
            "module wc deleted\n"
        );
        let json = deleted(Format::Json, "3f2a1b9c", &module).expect("renders");
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&json).expect("JSON"),
            json!({"deleted": module.id, "names": ["word-count"]}),
            "the whole id, not the prefix given"
        );
    }
}

//! What the registry topic holds, and [`RegistryState`]: the registry as a runtime sees it after
//! applying the topic's records in order.
//!
//! | key | value |
//! |---|---|
//! | `module/{id}` | [`ModuleMeta`] (JSON), written after every chunk of the module, and again when the module gets another name |
//! | `chunk/{id}/{n}` | bytes `n × CHUNK_SIZE ..` of the component |
//! | `job/{name}` | [`JobRecord`] (JSON) |
//!
//! A null value (a tombstone) deletes the key; compaction then forgets it. Modules are chunked
//! so that no record exceeds a broker's default 1 MB limit, whatever its `max.message.bytes`.

use crate::config::JobConfig;
use crate::engine::producers::{Producers, producers};
use anyhow::Context as _;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};
use utoipa::ToSchema;

/// Bytes per chunk of a module: well under the 1 MB default record limit of Kafka brokers.
pub const CHUNK_SIZE: usize = 512 << 10;

/// An uploaded module.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ModuleMeta {
    /// The sha256 of the component, in hex.
    pub id: String,
    /// The name most recently given at upload (versions of a module share it).
    pub name: Option<String>,
    /// Every name this module was uploaded under, with when it was given (RFC 3339): the same
    /// bytes uploaded under another name keep their old names (aliases) and gain the new one.
    /// Records from before aliases hold only `name`, given at `uploaded_at`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub names: BTreeMap<String, String>,
    /// Size in bytes.
    pub size: u64,
    /// The WIT world it implements.
    pub world: String,
    /// `map_reduce` or `transform`.
    pub kind: String,
    /// The SDK that built it, as the module says.
    pub sdk: String,
    /// Its language and the tools that built it, from its producers sections. Absent from
    /// records written before Weir read them: the registry then reads them from the module's
    /// chunks when it applies the record ([`RegistryState::apply`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub producers: Option<Producers>,
    /// How many chunks hold it.
    pub chunks: u32,
    /// When it was uploaded (RFC 3339).
    pub uploaded_at: String,
}

/// A job managed through the API, with the revisions it can roll back to.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JobRecord {
    /// The current spec; its `module` is a module id.
    pub spec: JobConfig,
    /// Increases with every change of the spec (create = 1).
    pub revision: u64,
    /// Paused jobs run nowhere.
    pub paused: bool,
    /// How many times the job was resumed. Runtimes put it in their statuses, so that a status
    /// from before a pause is not taken for the resumed job's (which reads as starting until a
    /// runtime reports it again).
    #[serde(default)]
    pub resumes: u64,
    /// Creation time (RFC 3339).
    pub created_at: String,
    /// Last change (RFC 3339).
    pub updated_at: String,
    /// Earlier revisions, oldest first; `rollback` returns to the last one (and drops it).
    pub history: Vec<Revision>,
    /// Every revision the job has had, the current one last: what it ran, and since when.
    #[serde(default)]
    pub lineage: Vec<Lineage>,
    /// The dead letters already replayed into the input (`weir dead-letters replay`), so that
    /// none is replayed twice.
    #[serde(default, skip_serializing_if = "crate::job::replay::Replayed::is_empty")]
    pub replayed_dead_letters: crate::job::replay::Replayed,
}

/// One revision of a job's lineage.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Lineage {
    /// Its number.
    pub revision: u64,
    /// Its module id.
    pub module: String,
    /// When it became current (RFC 3339).
    pub at: String,
    /// What it changed in the spec of the revision before (none for the first, and in records
    /// written before changes were kept).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<super::spec_diff::SpecChange>,
}

/// An earlier revision of a job.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Revision {
    /// Its number.
    pub revision: u64,
    /// Its spec.
    pub spec: JobConfig,
    /// When it was replaced (RFC 3339).
    pub at: String,
}

impl ModuleMeta {
    /// Every name of the module with when it was given, the most recent first.
    pub fn names(&self) -> Vec<(&str, &str)> {
        let mut names: Vec<(&str, &str)> = self
            .names
            .iter()
            .map(|(name, at)| (name.as_str(), at.as_str()))
            .collect();
        if let Some(name) = self.name.as_deref()
            && !self.names.contains_key(name)
        {
            names.push((name, self.uploaded_at.as_str()));
        }
        names.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        names
    }

    /// When `name` was given to this module, if it was.
    pub fn named_at(&self, name: &str) -> Option<&str> {
        self.names()
            .into_iter()
            .find(|(n, _)| *n == name)
            .map(|(_, at)| at)
    }

    /// The module with `name` given (again) at `at`: it becomes what `name` means, and its
    /// other names stay.
    pub fn with_name(&self, name: &str, at: &str) -> ModuleMeta {
        let mut meta = self.clone();
        for (old, when) in self.names() {
            meta.names.insert(old.to_string(), when.to_string());
        }
        meta.names.insert(name.to_string(), at.to_string());
        meta.name = Some(name.to_string());
        meta
    }
}

impl JobRecord {
    /// The module id of the current revision.
    pub fn module(&self) -> String {
        self.spec.module.display().to_string()
    }

    /// Every module id the job may still run: the current one and those it can roll back to.
    pub fn modules(&self) -> impl Iterator<Item = String> + '_ {
        std::iter::once(self.module()).chain(self.history.iter().map(|r| r.spec.module.display().to_string()))
    }
}

/// A registry record, decoded from its key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Key<'a> {
    /// `module/{id}`.
    Module(&'a str),
    /// `chunk/{id}/{n}`.
    Chunk(&'a str, u32),
    /// `job/{name}`.
    Job(&'a str),
}

impl<'a> Key<'a> {
    /// Parses a record key; `None` for keys of a later version of Weir (ignored).
    pub fn parse(key: &'a str) -> Option<Self> {
        let (kind, rest) = key.split_once('/')?;
        match kind {
            "module" => Some(Key::Module(rest)),
            "job" => Some(Key::Job(rest)),
            "chunk" => {
                let (id, n) = rest.rsplit_once('/')?;
                Some(Key::Chunk(id, n.parse().ok()?))
            }
            _ => None,
        }
    }

    /// The record key.
    pub fn encode(&self) -> String {
        match self {
            Key::Module(id) => format!("module/{id}"),
            Key::Chunk(id, n) => format!("chunk/{id}/{n}"),
            Key::Job(name) => format!("job/{name}"),
        }
    }
}

/// The records that store `bytes` as module `meta` (chunks first, then the metadata).
pub fn module_records(meta: &ModuleMeta, bytes: &[u8]) -> anyhow::Result<Vec<(String, Option<Vec<u8>>)>> {
    let mut records: Vec<(String, Option<Vec<u8>>)> = bytes
        .chunks(CHUNK_SIZE)
        .zip(0u32..)
        .map(|(chunk, n)| (Key::Chunk(&meta.id, n).encode(), Some(chunk.to_vec())))
        .collect();
    records.push((Key::Module(&meta.id).encode(), Some(serde_json::to_vec(meta)?)));
    Ok(records)
}

/// The tombstones that delete module `meta` (the metadata first, so no reader ever sees a
/// module whose chunks are gone).
pub fn module_tombstones(meta: &ModuleMeta) -> Vec<(String, Option<Vec<u8>>)> {
    std::iter::once(Key::Module(&meta.id).encode())
        .chain((0..meta.chunks).map(|n| Key::Chunk(&meta.id, n).encode()))
        .map(|key| (key, None))
        .collect()
}

/// The registry after applying the topic's records in order.
#[derive(Default)]
pub struct RegistryState {
    modules: BTreeMap<String, ModuleMeta>,
    chunks: HashMap<(String, u32), Vec<u8>>,
    jobs: BTreeMap<String, JobRecord>,
}

impl RegistryState {
    /// Applies one record; returns an error for a value that does not decode (it is skipped).
    pub fn apply(&mut self, key: &str, value: Option<&[u8]>) -> anyhow::Result<()> {
        let Some(parsed) = Key::parse(key) else {
            return Ok(());
        };
        match (parsed, value) {
            (Key::Chunk(id, n), Some(bytes)) => {
                self.chunks.insert((id.to_string(), n), bytes.to_vec());
            }
            (Key::Chunk(id, n), None) => {
                self.chunks.remove(&(id.to_string(), n));
            }
            (Key::Module(id), Some(json)) => {
                let mut meta: ModuleMeta =
                    serde_json::from_slice(json).with_context(|| format!("registry record {key}"))?;
                if meta.producers.is_none() {
                    meta.producers = self.read_producers(&meta);
                }
                self.modules.insert(id.to_string(), meta);
            }
            (Key::Module(id), None) => {
                self.modules.remove(id);
            }
            (Key::Job(name), Some(json)) => {
                let job: JobRecord =
                    serde_json::from_slice(json).with_context(|| format!("registry record {key}"))?;
                self.jobs.insert(name.to_string(), job);
            }
            (Key::Job(name), None) => {
                self.jobs.remove(name);
            }
        }
        Ok(())
    }

    /// The producers (language, tools) of a module whose record predates them, from its chunks; `None` while a
    /// chunk is missing.
    fn read_producers(&self, meta: &ModuleMeta) -> Option<Producers> {
        let mut bytes = Vec::with_capacity(usize::try_from(meta.size).unwrap_or(0));
        for n in 0..meta.chunks {
            bytes.extend_from_slice(self.chunks.get(&(meta.id.clone(), n))?);
        }
        Some(producers(&bytes))
    }

    /// Every module, by id.
    pub fn modules(&self) -> impl Iterator<Item = &ModuleMeta> {
        self.modules.values()
    }

    /// Every API-managed job, by name.
    pub fn jobs(&self) -> impl Iterator<Item = &JobRecord> {
        self.jobs.values()
    }

    /// One job.
    pub fn job(&self, name: &str) -> Option<&JobRecord> {
        self.jobs.get(name)
    }

    /// A module by reference: its full id, a unique id prefix of at least 8 hex digits, or a
    /// name (the module most recently uploaded under it; a module keeps every name it was
    /// uploaded under). `sha256:` before an id is accepted.
    pub fn resolve(&self, reference: &str) -> Result<&ModuleMeta, Resolve> {
        let reference = reference.strip_prefix("sha256:").unwrap_or(reference);
        if let Some(meta) = self.modules.get(reference) {
            return Ok(meta);
        }
        let named = self
            .modules
            .values()
            .filter_map(|m| m.named_at(reference).map(|at| (at, &m.id, m)))
            .max_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
        if let Some((_, _, meta)) = named {
            return Ok(meta);
        }
        if reference.len() >= 8 && reference.bytes().all(|b| b.is_ascii_hexdigit()) {
            let mut found = self
                .modules
                .range(reference.to_string()..)
                .take_while(|(id, _)| id.starts_with(reference));
            match (found.next(), found.next()) {
                (Some((_, meta)), None) => return Ok(meta),
                (Some(_), Some(_)) => return Err(Resolve::Ambiguous),
                _ => {}
            }
        }
        Err(Resolve::NotFound)
    }

    /// The component bytes of module `id`, checked against its sha256.
    pub fn module_bytes(&self, id: &str) -> anyhow::Result<Vec<u8>> {
        let meta = self
            .modules
            .get(id)
            .with_context(|| format!("module {id} is not in the registry"))?;
        let mut bytes = Vec::with_capacity(usize::try_from(meta.size).unwrap_or(0));
        for n in 0..meta.chunks {
            let chunk = self
                .chunks
                .get(&(id.to_string(), n))
                .with_context(|| format!("chunk {n} of module {id} is missing from the registry"))?;
            bytes.extend_from_slice(chunk);
        }
        let digest = hex::encode(Sha256::digest(&bytes));
        anyhow::ensure!(
            digest == id,
            "module {id} in the registry is corrupt: its chunks hash to {digest}"
        );
        Ok(bytes)
    }

    /// The jobs that use module `id`, now or as a rollback target.
    pub fn users_of(&self, id: &str) -> Vec<String> {
        self.jobs
            .values()
            .filter(|job| job.modules().any(|m| m == id))
            .map(|job| job.spec.name.clone())
            .collect()
    }
}

/// Why a module reference resolved to nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolve {
    /// No module has that id, prefix or name.
    NotFound,
    /// The id prefix matches more than one module.
    Ambiguous,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(bytes: &[u8], name: &str, at: &str) -> ModuleMeta {
        ModuleMeta {
            id: hex::encode(Sha256::digest(bytes)),
            name: Some(name.into()),
            names: BTreeMap::new(),
            size: bytes.len() as u64,
            world: "weir:processor@0.1.0".into(),
            kind: "map_reduce".into(),
            sdk: "test".into(),
            producers: None,
            chunks: u32::try_from(bytes.len().div_ceil(CHUNK_SIZE)).unwrap_or(u32::MAX),
            uploaded_at: at.into(),
        }
    }

    fn apply_all(state: &mut RegistryState, records: &[(String, Option<Vec<u8>>)]) -> anyhow::Result<()> {
        for (key, value) in records {
            state.apply(key, value.as_deref())?;
        }
        Ok(())
    }

    #[test]
    fn a_module_larger_than_a_chunk_round_trips_and_is_deleted_whole() -> anyhow::Result<()> {
        let bytes: Vec<u8> = (0..CHUNK_SIZE * 2 + 10).map(|i| (i % 251) as u8).collect();
        let m = meta(&bytes, "wc", "2026-01-01T00:00:00Z");
        let records = module_records(&m, &bytes)?;
        assert_eq!(records.len(), 4, "three chunks, then the metadata");
        let mut state = RegistryState::default();
        apply_all(&mut state, &records)?;
        assert_eq!(state.module_bytes(&m.id)?, bytes);
        apply_all(&mut state, &module_tombstones(&m))?;
        assert!(state.modules().next().is_none());
        assert!(state.chunks.is_empty());
        Ok(())
    }

    #[test]
    fn a_corrupt_chunk_is_caught_by_the_hash() -> anyhow::Result<()> {
        let bytes = b"component".to_vec();
        let m = meta(&bytes, "wc", "2026-01-01T00:00:00Z");
        let mut state = RegistryState::default();
        apply_all(&mut state, &module_records(&m, &bytes)?)?;
        state.apply(&Key::Chunk(&m.id, 0).encode(), Some(b"tampered"))?;
        let err = state
            .module_bytes(&m.id)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("corrupt"), "{err}");
        Ok(())
    }

    #[test]
    fn references_resolve_by_id_prefix_and_latest_name() -> anyhow::Result<()> {
        let mut state = RegistryState::default();
        let old = meta(b"one", "wc", "2026-01-01T00:00:00Z");
        let new = meta(b"two", "wc", "2026-01-02T00:00:00Z");
        for m in [&old, &new] {
            apply_all(&mut state, &module_records(m, b"x")?)?;
        }
        assert_eq!(state.resolve("wc").map(|m| &m.id), Ok(&new.id));
        assert_eq!(state.resolve(&old.id).map(|m| &m.id), Ok(&old.id));
        assert_eq!(
            state.resolve(&format!("sha256:{}", &old.id[..10])).map(|m| &m.id),
            Ok(&old.id)
        );
        assert_eq!(
            state.resolve(&old.id[..4]).err(),
            Some(Resolve::NotFound),
            "too short a prefix"
        );
        assert_eq!(state.resolve("nothing").err(), Some(Resolve::NotFound));
        Ok(())
    }

    #[test]
    fn the_same_bytes_under_another_name_keep_the_old_name() -> anyhow::Result<()> {
        let mut state = RegistryState::default();
        let one = meta(b"one", "wc", "2026-01-01T00:00:00Z");
        apply_all(&mut state, &module_records(&one, b"one")?)?;
        // Uploaded again as `counter`: one module, both names.
        let renamed = one.with_name("counter", "2026-01-02T00:00:00Z");
        apply_all(
            &mut state,
            &[(Key::Module(&one.id).encode(), Some(serde_json::to_vec(&renamed)?))],
        )?;
        assert_eq!(
            state.resolve("wc").map(|m| &m.id),
            Ok(&one.id),
            "the old name still works"
        );
        assert_eq!(state.resolve("counter").map(|m| &m.id), Ok(&one.id));
        let names: Vec<&str> = state
            .resolve("wc")
            .map(|m| m.names().into_iter().map(|(n, _)| n).collect())
            .unwrap_or_default();
        assert_eq!(names, ["counter", "wc"], "the most recent name first");
        // A later module under `wc` takes the name; an upload of `one` as `wc` again takes it back.
        let two = meta(b"two", "wc", "2026-01-03T00:00:00Z");
        apply_all(&mut state, &module_records(&two, b"two")?)?;
        assert_eq!(state.resolve("wc").map(|m| &m.id), Ok(&two.id));
        assert_eq!(state.resolve("counter").map(|m| &m.id), Ok(&one.id));
        let back = renamed.with_name("wc", "2026-01-04T00:00:00Z");
        apply_all(
            &mut state,
            &[(Key::Module(&one.id).encode(), Some(serde_json::to_vec(&back)?))],
        )?;
        assert_eq!(state.resolve("wc").map(|m| &m.id), Ok(&one.id));
        Ok(())
    }

    #[test]
    fn a_record_from_before_aliases_reads_as_one_name() -> anyhow::Result<()> {
        let old = r#"{"id":"ab","name":"wc","size":1,"world":"w","kind":"map_reduce","sdk":"s","chunks":1,"uploaded_at":"2026-01-01T00:00:00Z"}"#;
        let meta: ModuleMeta = serde_json::from_str(old)?;
        assert_eq!(meta.names(), [("wc", "2026-01-01T00:00:00Z")]);
        assert!(
            !serde_json::to_string(&meta)?.contains("names"),
            "written as it was read"
        );
        Ok(())
    }

    #[test]
    fn a_record_from_before_producers_gets_one_from_its_chunks() -> anyhow::Result<()> {
        // A core module with a producers section naming its language: `\0asm`, version 1, then
        // a custom section `producers` with one field `language` = [("Rust", "")].
        let mut bytes = b"\0asm\x01\0\0\0".to_vec();
        let content = b"\x09producers\x01\x08language\x01\x04Rust\x00";
        bytes.push(0);
        bytes.push(u8::try_from(content.len())?);
        bytes.extend_from_slice(content);
        let m = meta(&bytes, "wc", "2026-01-01T00:00:00Z");
        let mut state = RegistryState::default();
        apply_all(&mut state, &module_records(&m, &bytes)?)?;
        let read = state.resolve("wc").ok().and_then(|m| m.producers.clone());
        assert_eq!(read.and_then(|t| t.language).as_deref(), Some("Rust"));
        // A record that already has one keeps it, even empty (nothing to read in the bytes).
        let known = ModuleMeta {
            producers: Some(Producers::default()),
            ..m.clone()
        };
        apply_all(
            &mut state,
            &[(Key::Module(&m.id).encode(), Some(serde_json::to_vec(&known)?))],
        )?;
        assert_eq!(
            state.resolve("wc").ok().and_then(|m| m.producers.clone()),
            Some(Producers::default())
        );
        Ok(())
    }

    #[test]
    fn unknown_keys_are_ignored_and_bad_values_reported() {
        let mut state = RegistryState::default();
        assert!(state.apply("future/thing", Some(b"x")).is_ok());
        assert!(state.apply("job/wc", Some(b"not json")).is_err());
        assert_eq!(Key::parse("chunk/abc/7"), Some(Key::Chunk("abc", 7)));
        assert_eq!(Key::parse("chunk/abc/x"), None);
    }
}

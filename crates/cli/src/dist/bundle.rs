//! The files a scenario uses (included flows, scripts, feeders, a CA certificate), shipped with a
//! distributed run so agents need nothing but the binary.
//!
//! **Packing** ([`pack`], on the submitting side): every file the scenario loader read is taken
//! with its path relative to the scenario's directory. Paths may climb out of it
//! (`include: [../shared/flows.yaml]`): the bundle's root is then the ancestor directory that
//! holds them all, and the scenario's own path inside the bundle keeps its place
//! (`tests/shop.yaml` next to `shared/flows.yaml`), so every reference resolves unchanged.
//! Absolute paths cannot be relocated and are refused with a hint.
//!
//! **Loading** ([`load`], on the controller and on each agent): the files are checked (SHA-256,
//! no path leaving the bundle) and written to a fresh private directory that lives as long as the
//! run ([`Unpacked`]); the scenario is then loaded as if it sat there.

use stampede_proto::{
    MAX_SHIPPED_BYTES, included_file, pb, verify_included_file, verify_relative_path,
};
use stampede_scenario::{Loaded, Overrides, load_str, load_str_in};
use std::ffi::OsString;
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// A scenario's files, ready for the wire.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Bundle {
    /// The scenario's path inside the bundle, '/'-separated (empty when there are no files).
    pub scenario_path: String,
    pub files: Vec<pb::IncludedFile>,
}

/// Packs the files `used` (as listed by [`Loaded::files`]) of the scenario at `scenario`.
pub fn pack(scenario: &Path, used: &[PathBuf]) -> Result<Bundle, String> {
    if used.is_empty() {
        return Ok(Bundle::default());
    }
    let dir = scenario.parent().unwrap_or(Path::new(""));
    let mut relative = Vec::with_capacity(used.len());
    for file in used {
        let rel = file.strip_prefix(dir).unwrap_or(file);
        if rel.has_root() {
            return Err(format!(
                "{}: the scenario uses {} by an absolute path; a distributed run ships the files \
                 a scenario uses to its agents, so give the path relative to the scenario file",
                scenario.display(),
                file.display()
            ));
        }
        let normal = normalize(rel).ok_or_else(|| {
            format!(
                "{}: cannot ship {}: not a file path",
                scenario.display(),
                file.display()
            )
        })?;
        relative.push((file, normal));
    }
    // How far above the scenario's directory the bundle's root is, and the names of the
    // directories on the way down back to it.
    let climb = relative.iter().map(|(_, n)| n.ups).max().unwrap_or(0);
    let down = if climb == 0 {
        Vec::new()
    } else {
        let real = std::fs::canonicalize(if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        })
        .map_err(|e| format!("{}: {e}", dir.display()))?;
        let names: Vec<OsString> = (real.components())
            .filter_map(|c| match c {
                Component::Normal(n) => Some(n.to_owned()),
                _ => None,
            })
            .collect();
        if names.len() < climb {
            return Err(format!(
                "{}: a path climbs above the file system's root",
                scenario.display()
            ));
        }
        names[names.len() - climb..].to_vec()
    };
    let mut files: Vec<pb::IncludedFile> = Vec::new();
    let mut total = 0usize;
    for (file, normal) in relative {
        let mut parts: Vec<OsString> = down[..climb - normal.ups].to_vec();
        parts.extend(normal.parts);
        let path = slash_path(&parts)
            .ok_or_else(|| format!("{}: the path is not valid UTF-8", file.display()))?;
        if files.iter().any(|f| f.path == path) {
            continue;
        }
        let content = std::fs::read(file).map_err(|e| {
            format!(
                "cannot read {} to ship it to the agents: {e}",
                file.display()
            )
        })?;
        total += content.len();
        if total > MAX_SHIPPED_BYTES {
            return Err(format!(
                "the files this scenario uses add up to more than {} MiB (at {}): too much to \
                 ship to every agent; use a smaller feeder file",
                MAX_SHIPPED_BYTES >> 20,
                file.display()
            ));
        }
        files.push(included_file(&path, content));
    }
    let mut scenario_parts = down;
    let name = scenario.file_name().unwrap_or(scenario.as_os_str());
    scenario_parts.push(name.to_owned());
    let scenario_path =
        slash_path(&scenario_parts).ok_or("the scenario's path is not valid UTF-8")?;
    Ok(Bundle {
        scenario_path,
        files,
    })
}

/// A relative path without `.` and inner `..`: `ups` leading `..`, then `parts`.
struct Normal {
    ups: usize,
    parts: Vec<OsString>,
}

fn normalize(path: &Path) -> Option<Normal> {
    let mut n = Normal {
        ups: 0,
        parts: Vec::new(),
    };
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                if n.parts.pop().is_none() {
                    n.ups += 1;
                }
            }
            Component::Normal(p) => n.parts.push(p.to_owned()),
            Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    (!n.parts.is_empty()).then_some(n)
}

fn slash_path(parts: &[OsString]) -> Option<String> {
    let parts: Option<Vec<&str>> = parts.iter().map(|p| p.to_str()).collect();
    Some(parts?.join("/"))
}

/// A private directory holding a run's files; removed when dropped.
#[derive(Debug)]
pub struct Unpacked {
    dir: PathBuf,
}

impl Drop for Unpacked {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Loads a shipped scenario: from `source` alone when no files came with it, else from a
/// private directory holding `files`, with the scenario at `scenario_path`. The directory must
/// be kept (the engine reads `http.ca_file` when the run starts) for as long as the run.
pub fn load(
    source: &str,
    file_name: &str,
    scenario_path: &str,
    files: &[pb::IncludedFile],
    overrides: &Overrides,
) -> Result<(Loaded, Option<Unpacked>), String> {
    if files.is_empty() {
        let loaded = load_str(source, file_name, overrides).map_err(|d| d.render(false))?;
        return Ok((loaded, None));
    }
    for file in files {
        verify_included_file(file).map_err(|e| e.to_string())?;
    }
    // Only the path matters for the scenario itself: its text travels apart.
    verify_relative_path(scenario_path).map_err(|e| e.to_string())?;
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let dir = std::env::temp_dir().join(format!(
        "stampede-run-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    let unpacked = Unpacked { dir };
    for file in files {
        let path = unpacked.dir.join(&file.path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
        }
        std::fs::write(&path, &file.content)
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    let at = unpacked.dir.join(scenario_path);
    let dir = at.parent().unwrap_or(&unpacked.dir);
    let loaded = load_str_in(source, file_name, dir, overrides).map_err(|d| d.render(false))?;
    Ok((loaded, Some(unpacked)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(name: &str) -> PathBuf {
        let root =
            std::env::temp_dir().join(format!("stampede-bundle-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join("project/tests/scripts")).unwrap();
        std::fs::create_dir_all(root.join("project/shared")).unwrap();
        std::fs::write(
            root.join("project/shared/flows.yaml"),
            "flows:\n  hello:\n    - get: /hello\n",
        )
        .unwrap();
        std::fs::write(root.join("project/tests/scripts/x.lua"), "vars.n = 1\n").unwrap();
        std::fs::write(root.join("project/tests/users.csv"), "name\nann\nbob\n").unwrap();
        root
    }

    const SCENARIO: &str = "target: http://127.0.0.1:1\ninclude: [../shared/flows.yaml]\n\
        data: { users: { file: users.csv } }\nload: { users: 1, duration: 1s }\n\
        scenarios:\n  - name: a\n    steps:\n      - flow: hello\n\
        \x20     - script: { file: scripts/./x.lua }\n        sets: [n]\n\
        \x20     - get: /u/{{ users.name }}/{{ n }}\n";

    #[test]
    fn files_above_the_scenario_keep_their_place_and_load_again_elsewhere() {
        let root = tree("climb");
        let path = root.join("project/tests/s.yaml");
        std::fs::write(&path, SCENARIO).unwrap();
        let loaded = stampede_scenario::load_file(&path, &Overrides::default()).unwrap();
        let bundle = pack(&path, &loaded.files).unwrap();
        assert_eq!(bundle.scenario_path, "tests/s.yaml");
        let mut paths: Vec<&str> = bundle.files.iter().map(|f| f.path.as_str()).collect();
        paths.sort_unstable();
        assert_eq!(
            paths,
            [
                "shared/flows.yaml",
                "tests/scripts/x.lua",
                "tests/users.csv"
            ]
        );

        // Elsewhere (an agent): the same plan, from the shipped copies only.
        std::fs::remove_dir_all(&root).unwrap();
        let (again, unpacked) = load(
            SCENARIO,
            "s.yaml",
            &bundle.scenario_path,
            &bundle.files,
            &Overrides::default(),
        )
        .unwrap();
        assert_eq!(again.plan.data[0].table.rows.len(), 2);
        assert_eq!(again.plan.scenarios, loaded.plan.scenarios);
        let dir = unpacked.as_ref().unwrap().dir.clone();
        assert!(dir.join("tests/users.csv").is_file());
        drop(unpacked);
        assert!(!dir.exists(), "the run's directory is removed with it");
    }

    #[test]
    fn absolute_paths_unsafe_paths_and_altered_files_are_refused() {
        let root = tree("refuse");
        let path = root.join("project/tests/s.yaml");
        let abs = root.join("project/tests/users.csv");
        let err = pack(&path, &[PathBuf::from("/etc/hostname"), abs]).unwrap_err();
        assert!(
            err.contains("absolute path") && err.contains("/etc/hostname"),
            "{err}"
        );

        let mut file = included_file("users.csv", b"name\nann\n".to_vec());
        let o = Overrides::default();
        let err = load(
            SCENARIO,
            "s.yaml",
            "../s.yaml",
            std::slice::from_ref(&file),
            &o,
        )
        .unwrap_err();
        assert!(err.contains("relative paths inside"), "{err}");
        file.content.push(b'x');
        let err = load(SCENARIO, "s.yaml", "s.yaml", &[file], &o).unwrap_err();
        assert!(err.contains("checksum"), "{err}");
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn a_scenario_without_files_ships_nothing() {
        assert_eq!(pack(Path::new("s.yaml"), &[]).unwrap(), Bundle::default());
    }
}

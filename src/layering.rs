//! The library's layers, lowest first, and a test that no module imports a higher one.
//!
//! A module may use `crate::m` only when `m` sits on a strictly lower rank, so modules of
//! one rank never import each other and the graph has no cycles. A new top-level module
//! must be given a rank here before the test passes.

/// `(rank, modules)`, lowest first.
const LAYERS: &[(u8, &[&str])] = &[
    // Base: exit codes, secrets, and what a reader and its writer share.
    (0, &["exit", "secret", "csv_syntax", "ldif_syntax"]),
    (1, &["interrupt", "model"]),
    // The servers' HTTP clients and their pacer.
    (2, &["client"]),
    (3, &["source"]),
    (4, &["output"]),
    (5, &["mapping", "validate", "report"]),
    // Reader, mapper and duplicate stages at once.
    (6, &["pipeline"]),
    // The engine's per-row decision (diff), the worker pool, the journal.
    (7, &["exec"]),
    // Sync planning against a snapshot, the state ledger, the plan in words.
    (8, &["plan"]),
    (9, &["config"]),
    (10, &["settings"]),
    // One function per command; the binary's `cli/` and `commands/` sit above.
    (11, &["ops"]),
];

/// Imports that break the order, each with the work that removes it: `(file prefix,
/// imported module)`. None today; keep it that way.
const KNOWN: &[(&str, &str)] = &[];

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::{Path, PathBuf};

    fn rank(module: &str) -> Option<u8> {
        LAYERS
            .iter()
            .find(|(_, ms)| ms.contains(&module))
            .map(|(r, _)| *r)
    }

    fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                rust_files(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }

    /// The top-level module a file of `src/` belongs to (`None`: the crate roots and
    /// the binary's own modules).
    fn owner(rel: &str) -> Option<&str> {
        let first = rel.strip_prefix("src/")?.split('/').next()?;
        let m = first.strip_suffix(".rs").unwrap_or(first);
        match m {
            "lib" | "main" | "cli" | "commands" | "layering" => None,
            _ => Some(m),
        }
    }

    /// Every `crate::name` outside comments.
    fn imports(text: &str) -> Vec<(usize, String)> {
        let mut out = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            let mut rest = code;
            while let Some(at) = rest.find("crate::") {
                rest = &rest[at + "crate::".len()..];
                let name: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_lowercase() || *c == '_' || c.is_ascii_digit())
                    .collect();
                if !name.is_empty() {
                    out.push((i + 1, name));
                }
            }
        }
        out
    }

    /// The violations in the library's sources under `root`.
    fn violations(root: &Path) -> Vec<String> {
        let mut files = Vec::new();
        rust_files(&root.join("src"), &mut files);
        files.sort();
        let mut bad = Vec::new();
        for f in files {
            let rel = f
                .strip_prefix(root)
                .unwrap_or(&f)
                .to_string_lossy()
                .replace('\\', "/");
            let Some(from) = owner(&rel) else { continue };
            let Some(from_rank) = rank(from) else {
                bad.push(format!(
                    "{rel}: module `{from}` has no rank in src/layering.rs"
                ));
                continue;
            };
            let text = std::fs::read_to_string(&f).unwrap_or_default();
            for (line, to) in imports(&text) {
                if to == from {
                    continue;
                }
                let known = KNOWN
                    .iter()
                    .any(|(prefix, m)| rel.starts_with(prefix) && *m == to);
                match rank(&to) {
                    Some(r) if r < from_rank || known => {}
                    Some(r) => bad.push(format!(
                        "{rel}:{line}: `{from}` (rank {from_rank}) imports `{to}` (rank {r})"
                    )),
                    // Not a module of ours (`crate::USER_AGENT` is upper case, never here).
                    None if !root.join("src").join(&to).exists()
                        && !root.join("src").join(format!("{to}.rs")).exists() => {}
                    None => bad.push(format!("{rel}:{line}: module `{to}` has no rank")),
                }
            }
        }
        bad
    }

    #[test]
    fn no_module_imports_a_higher_layer() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let bad = violations(root);
        assert!(bad.is_empty(), "upward imports:\n  {}", bad.join("\n  "));
    }

    /// The check itself: an upward import in a scratch tree is found.
    #[test]
    fn an_upward_import_is_caught() {
        let dir = tempfile::tempdir().expect("temp dir");
        let src = dir.path().join("src");
        std::fs::create_dir_all(src.join("client")).expect("mkdir");
        std::fs::write(src.join("model.rs"), "use crate::secret::Secret;\n").expect("write");
        std::fs::write(
            src.join("client/mod.rs"),
            "// crate::ops in a comment is no import\nuse crate::plan::planner::Plan;\n",
        )
        .expect("write");
        let bad = violations(dir.path());
        assert_eq!(bad.len(), 1, "{bad:?}");
        assert!(bad[0].contains("src/client/mod.rs:2"), "{bad:?}");
    }
}

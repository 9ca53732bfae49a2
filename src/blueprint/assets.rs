//! Function code shipped beside a blueprint (`code: ./worker`), packaged
//! into deterministic zips: entries sorted by path, every timestamp
//! 1980-01-01 00:00, every file mode 0644, one compression level. The same
//! files always give the same bytes, so unchanged code never shows a diff
//! and changed code shows exactly one: a code property's value becomes the
//! zip's base64 SHA-256, which is what Lambda reports as `CodeSha256`.
//!
//! Packages are kept in the blueprint's `assets` by that digest; each
//! provider call gets them in its context, where the kinds that upload
//! code find the bytes.

use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use base64::Engine;
use sha2::{Digest, Sha256};

use super::diagnostic::{Code, Diagnostic, Diagnostics};
use super::expr::Expr;
use super::model::Blueprint;
use super::source::{self, Located};
use crate::schema::Type;

/// The base64 SHA-256 of bytes, as Lambda writes `CodeSha256`.
pub fn digest(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(Sha256::digest(bytes))
}

/// Files not packaged: editor and VCS leftovers, Python caches, tests.
fn skipped(rel: &Path) -> bool {
    rel.components().any(|c| {
        let s = c.as_os_str().to_string_lossy();
        s.starts_with('.') || s == "__pycache__" || s == "node_modules" || s == "tests"
    }) || rel.extension().is_some_and(|e| e == "pyc")
}

/// A deterministic zip of `(path, contents)` pairs.
pub fn zip(mut files: Vec<(String, Vec<u8>)>) -> Vec<u8> {
    use zip::write::SimpleFileOptions;
    files.sort_by(|a, b| a.0.cmp(&b.0));
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .compression_level(Some(6))
        .last_modified_time(zip::DateTime::default())
        .unix_permissions(0o644);
    for (name, bytes) in files {
        w.start_file(name, opts).expect("writing to memory");
        w.write_all(&bytes).expect("writing to memory");
    }
    w.finish().expect("writing to memory").into_inner()
}

/// The files of `rel` (a directory beside the blueprint), as zip entry
/// names relative to it.
fn files_of(located: &Located, rel: &str) -> Result<Vec<(String, Vec<u8>)>, String> {
    let rel = rel.trim_start_matches("./").trim_end_matches('/');
    if rel.is_empty() || Path::new(rel).is_absolute() || rel.split('/').any(|p| p == "..") {
        return Err(format!("`{rel}` must be a directory inside the blueprint's directory"));
    }
    let mut out = Vec::new();
    if let Some(dir) = &located.dir {
        let root = dir.join(rel);
        if !root.is_dir() {
            return Err(format!("`{}` is not a directory", root.display()));
        }
        let inside = dir.canonicalize().map_err(|e| format!("cannot read `{rel}`: {e}"))?;
        let mut walk = Walk { inside, seen: HashSet::new(), out: &mut out };
        let real = walk.resolve(&root, Path::new(rel))?;
        walk.dir(real, Path::new(""))?;
    } else if let Some(name) = &located.builtin {
        let prefix = PathBuf::from(rel);
        for (path, bytes) in source::builtin_files(name).unwrap_or_default() {
            if let Ok(inner) = path.strip_prefix(&prefix)
                && !skipped(inner)
            {
                out.push((entry_name(inner), bytes.to_vec()));
            }
        }
    }
    if out.is_empty() {
        return Err(format!("`{rel}` holds no files"));
    }
    Ok(out)
}

fn entry_name(p: &Path) -> String {
    p.components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
}

/// A walk of a code directory that follows links only while they stay
/// inside the blueprint's directory, and never twice into one directory
/// (a link loop would be walked forever).
struct Walk<'a> {
    /// The blueprint's directory, resolved.
    inside: PathBuf,
    /// Directories entered, resolved.
    seen: HashSet<PathBuf>,
    out: &'a mut Vec<(String, Vec<u8>)>,
}

impl Walk<'_> {
    /// Packs the files of the directory `real` (already resolved), shown
    /// as `rel` (the path inside the code directory) in errors and zip
    /// entries.
    fn dir(&mut self, real: PathBuf, rel: &Path) -> Result<(), String> {
        if !self.seen.insert(real.clone()) {
            return Err(format!(
                "`{}` is a link loop: it leads back to a directory already packed",
                rel.display()
            ));
        }
        let io = |e: std::io::Error| format!("cannot read `{}`: {e}", rel.display());
        let mut entries: Vec<PathBuf> = std::fs::read_dir(&real)
            .map_err(io)?
            .map(|e| e.map(|e| e.path()))
            .collect::<Result<_, _>>()
            .map_err(io)?;
        entries.sort();
        for path in entries {
            let name = rel.join(path.file_name().expect("a directory entry has a name"));
            if skipped(&name) {
                continue;
            }
            let real = self.resolve(&path, &name)?;
            if real.is_dir() {
                self.dir(real, &name)?;
            } else {
                let bytes = std::fs::read(&real)
                    .map_err(|e| format!("cannot read `{}`: {e}", name.display()))?;
                self.out.push((entry_name(&name), bytes));
            }
        }
        Ok(())
    }

    /// Where `path` really is; an error when a link takes it outside the
    /// blueprint's directory (a file such as `/etc/shadow` must never be
    /// uploaded with the function) or cannot be resolved.
    fn resolve(&self, path: &Path, rel: &Path) -> Result<PathBuf, String> {
        let real = path.canonicalize().map_err(|e| {
            format!("`{}` cannot be resolved (a broken link or a link loop?): {e}", rel.display())
        })?;
        if !real.starts_with(&self.inside) {
            return Err(format!(
                "`{}` links to `{}`, outside the blueprint's directory",
                rel.display(),
                real.display()
            ));
        }
        Ok(real)
    }
}

/// The bytes of the file `rel` beside the blueprint; like a code
/// directory, it must stay inside the blueprint's directory.
fn file_of(located: &Located, rel: &str) -> Result<Vec<u8>, String> {
    let rel = rel.trim_start_matches("./");
    if rel.is_empty() || Path::new(rel).is_absolute() || rel.split('/').any(|p| p == "..") {
        return Err(format!("`{rel}` must be a file inside the blueprint's directory"));
    }
    if let Some(dir) = &located.dir {
        let path = dir.join(rel);
        if !path.is_file() {
            return Err(format!("`{}` is not a file", path.display()));
        }
        let inside = dir.canonicalize().map_err(|e| format!("cannot read `{rel}`: {e}"))?;
        let walk = Walk { inside, seen: HashSet::new(), out: &mut Vec::new() };
        let real = walk.resolve(&path, Path::new(rel))?;
        return std::fs::read(&real).map_err(|e| format!("cannot read `{rel}`: {e}"));
    }
    if let Some(name) = &located.builtin {
        let want = PathBuf::from(rel);
        if let Some((_, bytes)) =
            source::builtin_files(name).unwrap_or_default().into_iter().find(|(p, _)| *p == want)
        {
            return Ok(bytes.to_vec());
        }
    }
    Err(format!("`{rel}` is not a file of the blueprint"))
}

/// Packages every code property of the blueprint (a zip of a directory)
/// and reads every file property (the file as it is), replacing the path
/// by the bytes' digest. Errors point at the resource.
pub fn package(bp: &mut Blueprint, located: &Located) -> Result<(), Diagnostics> {
    let mut diags = Vec::new();
    for r in bp.resources.values_mut() {
        for prop in r.schema.properties.iter().filter(|p| matches!(p.ty, Type::Code | Type::File)) {
            let Some(e) = r.properties.get_mut(prop.name) else {
                continue;
            };
            let is_code = matches!(prop.ty, Type::Code);
            let what = if is_code { "directory of function code" } else { "file" };
            let Expr::Str(rel) = e else {
                diags.push(
                    Diagnostic::new(
                        Code::CodeNotFound,
                        format!("`{}.{}` must be a literal path", r.id, prop.name),
                    )
                    .label(r.span, "this resource")
                    .help(format!("write the {what} beside the blueprint, e.g. `./data/x.json`"))
                    .in_file(&bp.file),
                );
                continue;
            };
            let bytes =
                if is_code { files_of(located, rel).map(zip) } else { file_of(located, rel) };
            match bytes {
                Ok(bytes) => {
                    let sha = digest(&bytes);
                    bp.assets.insert(sha.clone(), Arc::new(bytes));
                    *e = Expr::Str(sha);
                }
                Err(msg) => diags.push(
                    Diagnostic::new(
                        Code::CodeNotFound,
                        format!("the {} of `{}` cannot be read: {msg}", prop.name, r.id),
                    )
                    .label(r.span, "this resource")
                    .help(format!("`{}` names a {what} next to blueprint.yaml", prop.name))
                    .in_file(&bp.file),
                ),
            }
        }
    }
    if diags.is_empty() {
        Ok(())
    } else {
        Err(Diagnostics { file: bp.file.name.clone(), diagnostics: diags })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zips_are_deterministic_whatever_the_order() {
        let a =
            zip(vec![("b.py".into(), b"print(2)".to_vec()), ("a.py".into(), b"print(1)".to_vec())]);
        let b =
            zip(vec![("a.py".into(), b"print(1)".to_vec()), ("b.py".into(), b"print(2)".to_vec())]);
        assert_eq!(a, b);
        let c =
            zip(vec![("a.py".into(), b"print(1)".to_vec()), ("b.py".into(), b"print(3)".to_vec())]);
        assert_ne!(digest(&a), digest(&c));
        // Fixed timestamps and modes: the archive reads back with them.
        let mut r = zip::ZipArchive::new(std::io::Cursor::new(a)).unwrap();
        let f = r.by_index(0).unwrap();
        assert_eq!(f.name().unwrap(), "a.py");
        assert_eq!(f.unix_mode().map(|m| m & 0o777), Some(0o644));
        assert_eq!(f.last_modified(), Some(zip::DateTime::default()));
    }

    #[test]
    fn caches_and_tests_are_not_packaged() {
        assert!(skipped(Path::new("__pycache__/x.pyc")));
        assert!(skipped(Path::new("tests/test_x.py")));
        assert!(skipped(Path::new(".DS_Store")));
        assert!(!skipped(Path::new("handler.py")));
    }
}

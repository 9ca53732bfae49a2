//! Finding a blueprint: a directory, a `blueprint.yaml` path, or the name
//! of a built-in blueprint embedded in the binary (so `cargo install` users
//! have them without the repository).

use std::path::{Path, PathBuf};

use include_dir::{Dir, include_dir};

static BUILTIN: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/blueprints");

/// The file name of a blueprint inside its directory.
pub const FILE_NAME: &str = "blueprint.yaml";

/// A blueprint's bytes and where they came from.
#[derive(Debug, Clone)]
pub struct Located {
    /// How the file is named in messages.
    pub display_name: String,
    pub bytes: Vec<u8>,
    /// The directory on disk, for a blueprint read from disk.
    pub dir: Option<PathBuf>,
    /// The built-in name, for an embedded blueprint.
    pub builtin: Option<String>,
}

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum LocateError {
    #[error("no blueprint found at `{arg}`")]
    #[diagnostic(code(archkit::blueprint::not_found), help("{help}"))]
    NotFound { arg: String, help: String },
    #[error("`{}` has no {FILE_NAME}", .dir.display())]
    #[diagnostic(
        code(archkit::blueprint::not_found),
        help(
            "a blueprint directory holds a `{FILE_NAME}`; `archkit init <name> <dir>` creates one"
        )
    )]
    NoFile { dir: PathBuf },
    #[error("cannot read `{}`", .path.display())]
    #[diagnostic(code(archkit::blueprint::io))]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Resolves the BLUEPRINT argument. An existing path wins over a built-in
/// of the same name.
pub fn locate(arg: &str) -> Result<Located, LocateError> {
    let path = Path::new(arg);
    if path.is_dir() {
        let file = path.join(FILE_NAME);
        if !file.is_file() {
            return Err(LocateError::NoFile { dir: path.to_path_buf() });
        }
        return read(&file, path);
    }
    if path.is_file() {
        let dir = path.parent().unwrap_or(Path::new("."));
        return read(path, dir);
    }
    if let Some(b) = builtin(arg) {
        return Ok(b);
    }
    let names: Vec<&str> = builtin_names();
    let help = match crate::schema::did_you_mean(arg, names.iter().copied()) {
        Some(s) => format!("did you mean the built-in blueprint `{s}`?"),
        None => format!(
            "pass a directory, a {FILE_NAME} file, or a built-in name ({}); \
             `archkit blueprints` lists them",
            names.join(", ")
        ),
    };
    Err(LocateError::NotFound { arg: arg.to_string(), help })
}

/// The stand-in blueprint of `destroy --stack NAME --discover` run without
/// one: no resources, so everything found of the stack is deleted.
pub fn discovered(stack: &str) -> Located {
    Located {
        display_name: format!("(stack {stack}, discovered)"),
        bytes: format!("name: {stack}\nresources: {{}}\n").into_bytes(),
        dir: None,
        builtin: None,
    }
}

fn read(file: &Path, dir: &Path) -> Result<Located, LocateError> {
    let bytes = std::fs::read(file)
        .map_err(|source| LocateError::Io { path: file.to_path_buf(), source })?;
    Ok(Located {
        display_name: file.display().to_string(),
        bytes,
        dir: Some(dir.to_path_buf()),
        builtin: None,
    })
}

/// A built-in blueprint by name.
pub fn builtin(name: &str) -> Option<Located> {
    let dir = BUILTIN.get_dir(name)?;
    let file = dir.get_file(dir.path().join(FILE_NAME))?;
    Some(Located {
        display_name: format!("builtin:{name}/{FILE_NAME}"),
        bytes: file.contents().to_vec(),
        dir: None,
        builtin: Some(name.to_string()),
    })
}

/// Names of the built-in blueprints, sorted.
pub fn builtin_names() -> Vec<&'static str> {
    let mut names: Vec<&'static str> = BUILTIN
        .dirs()
        .filter(|d| d.get_file(d.path().join(FILE_NAME)).is_some())
        .filter_map(|d| d.path().file_name()?.to_str())
        .collect();
    names.sort_unstable();
    names
}

/// The embedded files of a built-in blueprint, as (path relative to the
/// blueprint directory, contents).
pub fn builtin_files(name: &str) -> Option<Vec<(PathBuf, &'static [u8])>> {
    let dir = BUILTIN.get_dir(name)?;
    let mut out = Vec::new();
    collect(dir, dir.path(), &mut out);
    out.sort();
    Some(out)
}

fn collect(dir: &'static Dir<'static>, root: &Path, out: &mut Vec<(PathBuf, &'static [u8])>) {
    for f in dir.files() {
        if let Ok(rel) = f.path().strip_prefix(root) {
            out.push((rel.to_path_buf(), f.contents()));
        }
    }
    for d in dir.dirs() {
        collect(d, root, out);
    }
}

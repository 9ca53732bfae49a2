//! `archkit.toml`: settings a team shares beside its blueprint, so every
//! person and CI runner uses one state store without repeating flags.
//!
//! ```toml
//! [state]
//! location = "s3://my-team-state/stacks/"   # or a local path
//! lock_timeout = "5m"
//! ```
//!
//! The file is looked for beside the blueprint, then in the working
//! directory; the first found is used. Flags and the environment
//! (`--state`, `ARCHKIT_STATE`, `--lock-timeout`) override it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use miette::{NamedSource, SourceSpan};
use serde::Deserialize;

pub const FILE_NAME: &str = "archkit.toml";

/// The settings of one `archkit.toml`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub state: StateConfig,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StateConfig {
    /// A path (relative to the file's directory) or `s3://bucket/key`.
    pub location: Option<String>,
    /// How long to wait for another run's lock, e.g. `30s`, `5m`.
    #[serde(default, deserialize_with = "duration")]
    pub lock_timeout: Option<Duration>,
}

fn duration<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    let text = String::deserialize(d)?;
    humantime::parse_duration(&text).map(Some).map_err(|e| {
        serde::de::Error::custom(format!("`{text}` is not a duration ({e}); e.g. 30s, 5m"))
    })
}

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum ConfigError {
    #[error("cannot read {}", .path.display())]
    #[diagnostic(code(archkit::config::io))]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{} is not a valid archkit.toml: {message}", .path.display())]
    #[diagnostic(
        code(archkit::config::invalid),
        help("archkit.toml holds a [state] table with `location` and `lock_timeout`")
    )]
    Invalid {
        path: PathBuf,
        message: String,
        #[source_code]
        src: NamedSource<String>,
        #[label("here")]
        span: Option<SourceSpan>,
    },
}

/// The settings found beside the blueprint (`blueprint_dir`) or in the
/// working directory, with the file they came from.
/// (Boxed: the error carries the file's text.)
pub fn find(blueprint_dir: Option<&Path>) -> Result<Option<(PathBuf, Config)>, Box<ConfigError>> {
    let candidates = blueprint_dir.into_iter().map(Path::to_path_buf).chain([PathBuf::from(".")]);
    for dir in candidates {
        let path = dir.join(FILE_NAME);
        match std::fs::read_to_string(&path) {
            Ok(text) => return parse(&path, &text).map(|c| Some((path, c))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(source) => return Err(Box::new(ConfigError::Io { path, source })),
        }
    }
    Ok(None)
}

pub fn parse(path: &Path, text: &str) -> Result<Config, Box<ConfigError>> {
    toml::from_str(text).map_err(|e| {
        Box::new(ConfigError::Invalid {
            path: path.to_path_buf(),
            message: e.message().to_string(),
            src: NamedSource::new(path.display().to_string(), text.to_string()),
            span: e.span().map(SourceSpan::from),
        })
    })
}

impl Config {
    /// The state location, a relative path taken from `file`'s directory.
    pub fn state_location(&self, file: &Path) -> Option<PathBuf> {
        let loc = self.state.location.as_deref()?;
        if loc.starts_with("s3://") || Path::new(loc).is_absolute() {
            return Some(PathBuf::from(loc));
        }
        Some(file.parent().unwrap_or(Path::new(".")).join(loc))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_state_table_and_points_at_mistakes() {
        let c = parse(
            Path::new("a/archkit.toml"),
            "[state]\nlocation = \"s3://b/k/\"\nlock_timeout = \"5m\"\n",
        )
        .unwrap();
        assert_eq!(c.state.lock_timeout, Some(Duration::from_secs(300)));
        assert_eq!(c.state_location(Path::new("a/archkit.toml")), Some(PathBuf::from("s3://b/k/")));
        let local =
            parse(Path::new("a/archkit.toml"), "[state]\nlocation = \"st/x.json\"\n").unwrap();
        assert_eq!(
            local.state_location(Path::new("a/archkit.toml")),
            Some(PathBuf::from("a/st/x.json"))
        );

        let text = "[state]\nlocaton = \"s3://b/k\"\n";
        let ConfigError::Invalid { message, span, .. } =
            *parse(Path::new("archkit.toml"), text).unwrap_err()
        else {
            panic!()
        };
        assert!(message.contains("unknown field `locaton`"), "{message}");
        let span = span.unwrap();
        assert_eq!(&text[span.offset()..span.offset() + span.len()], "locaton");
        let bad =
            parse(Path::new("archkit.toml"), "[state]\nlock_timeout = \"soon\"\n").unwrap_err();
        assert!(bad.to_string().contains("is not a duration"), "{bad}");
    }
}

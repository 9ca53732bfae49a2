//! Blueprint diagnostics: stable codes, spans into the user's YAML, a help
//! line, and every problem of a file reported in one run.

use std::fmt;
use std::sync::Arc;

use miette::{LabeledSpan, NamedSource, SourceSpan};

/// The text of a blueprint file and the name it is shown under.
#[derive(Debug, Clone)]
pub struct SourceFile {
    pub name: String,
    pub text: Arc<str>,
}

impl SourceFile {
    pub fn new(name: impl Into<String>, text: impl Into<Arc<str>>) -> Self {
        SourceFile { name: name.into(), text: text.into() }
    }

    fn named(&self) -> NamedSource<Arc<str>> {
        NamedSource::new(self.name.clone(), self.text.clone())
    }

    /// 1-based line and column (in characters) of a byte offset.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let before = &self.text[..floor_char_boundary(&self.text, offset)];
        let line = before.matches('\n').count() + 1;
        let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        (line, col)
    }
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// Stable diagnostic codes. Their text (`archkit::blueprint::...`) is part
/// of the user-facing contract: scripts may match on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Code {
    Io,
    NotUtf8,
    Empty,
    Syntax,
    WrongType,
    UnknownKey,
    MissingKey,
    InvalidId,
    UnknownType,
    UnknownProperty,
    MissingProperty,
    InvalidValue,
    InvalidCidr,
    ExactlyOneOf,
    BadReference,
    UnknownResource,
    UnknownAttribute,
    UnknownParameter,
    Cycle,
    SelfReference,
    MissingParameter,
    SecretDefault,
    BadPattern,
    DisabledResource,
    CodeNotFound,
    ForEach,
}

impl Code {
    pub fn as_str(self) -> &'static str {
        match self {
            Code::Io => "archkit::blueprint::io",
            Code::NotUtf8 => "archkit::blueprint::not_utf8",
            Code::Empty => "archkit::blueprint::empty",
            Code::Syntax => "archkit::blueprint::syntax",
            Code::WrongType => "archkit::blueprint::wrong_type",
            Code::UnknownKey => "archkit::blueprint::unknown_key",
            Code::MissingKey => "archkit::blueprint::missing_key",
            Code::InvalidId => "archkit::blueprint::invalid_id",
            Code::UnknownType => "archkit::blueprint::unknown_type",
            Code::UnknownProperty => "archkit::blueprint::unknown_property",
            Code::MissingProperty => "archkit::blueprint::missing_property",
            Code::InvalidValue => "archkit::blueprint::invalid_value",
            Code::InvalidCidr => "archkit::blueprint::invalid_cidr",
            Code::ExactlyOneOf => "archkit::blueprint::exactly_one_of",
            Code::BadReference => "archkit::blueprint::bad_reference",
            Code::UnknownResource => "archkit::blueprint::unknown_resource",
            Code::UnknownAttribute => "archkit::blueprint::unknown_attribute",
            Code::UnknownParameter => "archkit::blueprint::unknown_parameter",
            Code::Cycle => "archkit::blueprint::cycle",
            Code::SelfReference => "archkit::blueprint::self_reference",
            Code::MissingParameter => "archkit::blueprint::missing_parameter",
            Code::SecretDefault => "archkit::blueprint::secret_default",
            Code::BadPattern => "archkit::blueprint::bad_pattern",
            Code::DisabledResource => "archkit::blueprint::disabled_resource",
            Code::CodeNotFound => "archkit::blueprint::code_not_found",
            Code::ForEach => "archkit::blueprint::for_each",
        }
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One problem in a blueprint.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct Diagnostic {
    pub code: Code,
    pub message: String,
    pub help: Option<String>,
    pub labels: Vec<LabeledSpan>,
    named: Option<NamedSource<Arc<str>>>,
    file: Option<SourceFile>,
}

impl Diagnostic {
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        Diagnostic {
            code,
            message: message.into(),
            help: None,
            labels: Vec::new(),
            named: None,
            file: None,
        }
    }

    /// Attaches the file the spans point into.
    pub fn in_file(mut self, file: &SourceFile) -> Self {
        self.named = Some(file.named());
        self.file = Some(file.clone());
        self
    }

    pub fn label(mut self, span: SourceSpan, text: impl Into<String>) -> Self {
        let primary = self.labels.is_empty();
        let label = if primary {
            LabeledSpan::new_primary_with_span(Some(text.into()), span)
        } else {
            LabeledSpan::new_with_span(Some(text.into()), span)
        };
        self.labels.push(label);
        self
    }

    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    pub fn help_opt(mut self, help: Option<String>) -> Self {
        self.help = help;
        self
    }

    /// The byte offset of the first label, used to sort diagnostics.
    pub fn offset(&self) -> usize {
        self.labels.first().map_or(0, |l| l.offset())
    }

    pub fn file_name(&self) -> Option<&str> {
        self.file.as_ref().map(|f| f.name.as_str())
    }

    /// 1-based line and column of a byte offset in this diagnostic's file.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        self.file.as_ref().map_or((0, 0), |f| f.line_col(offset))
    }
}

impl miette::Diagnostic for Diagnostic {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new(self.code))
    }
    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help.as_ref().map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }
    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        self.named.as_ref().map(|s| s as &dyn miette::SourceCode)
    }
    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        if self.labels.is_empty() || self.named.is_none() {
            return None;
        }
        Some(Box::new(self.labels.iter().cloned()))
    }
}

/// Every problem found in one blueprint.
#[derive(Debug, thiserror::Error)]
#[error("{} in {file}", count(.diagnostics.len()))]
pub struct Diagnostics {
    pub file: String,
    pub diagnostics: Vec<Diagnostic>,
}

fn count(n: usize) -> String {
    if n == 1 { "1 error".into() } else { format!("{n} errors") }
}

impl Diagnostics {
    pub fn codes(&self) -> Vec<&'static str> {
        self.diagnostics.iter().map(|d| d.code.as_str()).collect()
    }
}

/// Shorthand for a span from a byte range.
pub fn span(start: usize, len: usize) -> SourceSpan {
    SourceSpan::new(start.into(), len)
}

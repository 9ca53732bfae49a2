//! The validated, span-free blueprint model that the graph and the planner
//! consume. Spans kept here (`span`, `Dep::span`) serve diagnostics only and
//! never take part in comparisons of desired values.

use std::collections::BTreeMap;
use std::path::PathBuf;

use indexmap::IndexMap;
use miette::SourceSpan;

use super::diagnostic::SourceFile;
use super::expr::Expr;
use crate::schema::Schema;

/// A blueprint that passed validation.
#[derive(Debug, Clone)]
pub struct Blueprint {
    pub name: String,
    pub description: String,
    /// The URL of the post the blueprint reproduces.
    pub source_url: Option<String>,
    pub parameters: IndexMap<String, Parameter>,
    /// Resources in file order.
    pub resources: IndexMap<String, Resource>,
    pub outputs: IndexMap<String, Output>,
    pub file: SourceFile,
    /// The blueprint's directory (function code lives beside the YAML);
    /// `None` for a blueprint read from a string.
    pub dir: Option<PathBuf>,
}

/// The type of a parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamType {
    String,
    Number,
    Bool,
    List,
}

impl ParamType {
    pub fn parse(s: &str) -> Option<ParamType> {
        Some(match s {
            "string" => ParamType::String,
            "number" => ParamType::Number,
            "bool" => ParamType::Bool,
            "list" => ParamType::List,
            _ => return None,
        })
    }

    pub const NAMES: &'static [&'static str] = &["string", "number", "bool", "list"];

    pub fn name(self) -> &'static str {
        match self {
            ParamType::String => "string",
            ParamType::Number => "number",
            ParamType::Bool => "bool",
            ParamType::List => "list",
        }
    }
}

/// A blueprint parameter (`parameters:` entry).
#[derive(Debug, Clone)]
pub struct Parameter {
    pub name: String,
    pub ty: ParamType,
    pub default: Option<Expr>,
    pub description: String,
    /// When non-empty, the value must be one of these.
    pub allowed: Vec<Expr>,
    pub pattern: Option<regex::Regex>,
    pub min_length: Option<usize>,
    pub max_length: Option<usize>,
    /// Never printed, logged or stored in plain text.
    pub secret: bool,
    /// The parameter's name in the file.
    pub span: SourceSpan,
}

/// Why a resource depends on another.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DepVia {
    /// A `${other.attr}` reference in a property.
    Reference { attr: String },
    /// An entry of `depends_on`.
    DependsOn,
}

/// One dependency edge, with the place in the file that creates it.
#[derive(Debug, Clone)]
pub struct Dep {
    pub target: String,
    pub via: DepVia,
    pub span: SourceSpan,
}

/// A resource of the blueprint.
#[derive(Debug, Clone)]
pub struct Resource {
    pub id: String,
    pub schema: &'static Schema,
    /// Desired properties, schema defaults filled in.
    pub properties: BTreeMap<String, Expr>,
    pub deps: Vec<Dep>,
    /// The resource id in the file.
    pub span: SourceSpan,
}

impl Resource {
    pub fn kind(&self) -> &'static str {
        self.schema.kind
    }
}

/// A value the blueprint reports after apply.
#[derive(Debug, Clone)]
pub struct Output {
    pub name: String,
    pub value: Expr,
    pub description: String,
    pub sensitive: bool,
    pub span: SourceSpan,
}

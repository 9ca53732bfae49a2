//! Blueprints: YAML files describing an architecture, read into a validated
//! [`Blueprint`] with every problem reported at once, each pointing at the
//! file, line and column it comes from.
//!
//! The stages are: bytes → UTF-8 → spanned YAML tree ([`yaml`]) → schema
//! validation ([`validate`]) → dependency graph ([`crate::graph`]; its
//! cycles become diagnostics here). A loaded blueprint carries its graph;
//! once parameter values are known, [`check`] checks what they make.

pub mod assets;
pub mod check;
pub mod diagnostic;
pub mod expr;
pub mod func;
mod known;
pub mod model;
pub mod params;
pub mod source;
mod validate;
mod yaml;

pub use diagnostic::{Code, Diagnostic, Diagnostics, SourceFile};
pub use model::{Blueprint, Dep, DepVia, Output, ParamType, Parameter, Resource};

use crate::graph::GraphError;
use crate::provider::Registry;
use diagnostic::span;

/// Reads and validates a blueprint from its bytes. `name` is how the file
/// is shown in diagnostics.
pub fn load_bytes(name: &str, bytes: &[u8], registry: &Registry) -> Result<Blueprint, Diagnostics> {
    let fail = |file: &SourceFile, d: Diagnostic| Diagnostics {
        file: file.name.clone(),
        diagnostics: vec![d.in_file(file)],
    };
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => {
            let file = SourceFile::new(name, String::from_utf8_lossy(bytes).into_owned());
            // Lossy decoding keeps the valid prefix byte-for-byte.
            let at = e.valid_up_to();
            return Err(fail(
                &file,
                Diagnostic::new(Code::NotUtf8, "the blueprint is not valid UTF-8")
                    .label(span(at, 1), "invalid byte here")
                    .help("save the file as UTF-8"),
            ));
        }
    };
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let file = SourceFile::new(name, text);
    let root = match yaml::parse(text) {
        Ok(root) => root,
        Err(e) => {
            let help = syntax_help(&e.message, text, e.offset);
            return Err(fail(
                &file,
                Diagnostic::new(Code::Syntax, format!("invalid YAML: {}", e.message))
                    .label(span(e.offset, 0), e.message.clone())
                    .help(help),
            ));
        }
    };
    let mut v = validate::Validator::new(&file, registry);
    let mut bp = v.blueprint(&root);
    let mut diags = v.diags;
    match bp.build_graph() {
        Ok(g) => bp.graph = g,
        Err(errors) => diags.extend(errors.into_iter().map(|e| graph_error(e).in_file(&file))),
    }
    if diags.is_empty() {
        Ok(bp)
    } else {
        diags.sort_by_key(|d| d.offset());
        Err(Diagnostics { file: file.name.clone(), diagnostics: diags })
    }
}

/// A graph error as a diagnostic pointing at the references involved.
fn graph_error(e: GraphError) -> Diagnostic {
    match e {
        GraphError::SelfReference { id, dep } => {
            Diagnostic::new(Code::SelfReference, format!("`{id}` depends on itself"))
                .label(dep.span, "refers to its own resource")
                .help(match &dep.via {
                    DepVia::Reference { attr } => format!(
                        "a resource cannot use its own `{attr}` before it exists; \
                         move the value into a separate resource \
                         (e.g. an `aws.ec2.security_group_rule` for a self-referencing group)"
                    ),
                    DepVia::DependsOn => "remove it from `depends_on`".into(),
                })
        }
        GraphError::Cycle { path, labels } => {
            let loop_text = format!("{} → {}", path.join(" → "), path[0]);
            let mut d = Diagnostic::new(
                Code::Cycle,
                format!("dependency cycle between {} resources: {loop_text}", path.len()),
            )
            .help(
                "break the loop: remove a reference or a `depends_on` entry; rules that \
                 reference each other's security groups belong in separate \
                 `aws.ec2.security_group_rule` resources",
            );
            for (span, text) in labels {
                d = d.label(span, text);
            }
            d
        }
    }
}

/// Reads and validates a located blueprint (a directory, a file or a
/// built-in name), and packages its function code.
pub fn load(located: &source::Located, registry: &Registry) -> Result<Blueprint, Diagnostics> {
    let mut bp = load_bytes(&located.display_name, &located.bytes, registry)?;
    bp.dir = located.dir.clone();
    assets::package(&mut bp, located)?;
    Ok(bp)
}

/// A hint for the commonest YAML mistakes.
fn syntax_help(message: &str, text: &str, offset: usize) -> String {
    let line_start = text[..offset.min(text.len())].rfind('\n').map_or(0, |i| i + 1);
    let line = text[line_start..].lines().next().unwrap_or("");
    if line.contains("${") && line.contains(" ? ") {
        "a conditional contains `: `, which YAML reads as a mapping: quote the whole value \
         (`key: \"${params.flag ? a.id : b.id}\"`)"
            .into()
    } else if line.contains("[${") || line.contains(", ${") {
        "inside `[...]` a `{` starts a mapping: quote each reference \
         (`[\"${a.id}\", \"${b.id}\"]`) or write a block list with `- ${a.id}` lines"
            .into()
    } else if message.contains("tab") || line.starts_with('\t') {
        "YAML indents with spaces only; replace the tabs with spaces".into()
    } else if message.contains("more than one YAML document") {
        "a blueprint is one document: remove the `---` line and what follows, or put each \
         blueprint in its own directory"
            .into()
    } else if message.contains("tag") {
        "blueprints use no YAML tags such as `!Ref`: write references as \
         `${params.name}` or `${vpc.id}`"
            .into()
    } else if message.contains("duplicate") {
        "each key may appear once per mapping; remove or rename one of them".into()
    } else if message.contains("alias") {
        "the document expands too many aliases (`*name`) to be a blueprint: write the values \
         out, or refer to fewer anchors"
            .into()
    } else if message.contains("budget")
        || message.contains("depth")
        || message.contains("recursion")
    {
        "the document is nested too deeply or is too large to be a blueprint".into()
    } else {
        "check the indentation and that every `[`, `{` and quote is closed".into()
    }
}

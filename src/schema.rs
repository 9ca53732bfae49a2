//! Resource schemas: what properties a resource kind accepts, their types,
//! defaults, and which of them force a replacement when they change.
//!
//! Schemas are plain `'static` data declared next to each kind's
//! implementation (in `src/aws/`), so the blueprint validator, the planner
//! and the docs all read one source of truth. Nothing here knows which cloud
//! a kind belongs to.

use std::fmt;

/// A table of properties or attributes, one per line:
/// `properties: rows! { Prop::new("name", Type::String, "doc").replace(), ... }`.
/// Braces keep rustfmt from spreading each row over several lines, so a
/// schema reads as the table it is.
macro_rules! rows {
    ($($row:expr),* $(,)?) => {
        &[$($row),*]
    };
}
pub(crate) use rows;

/// The type of a property value.
#[derive(Debug, Clone, Copy)]
pub enum Type {
    String,
    Int,
    Bool,
    /// An IPv4 CIDR block such as `10.0.0.0/16`, checked and normalised.
    Cidr,
    /// One of a fixed set of strings.
    Enum(&'static [&'static str]),
    List(&'static Type),
    /// A map of string keys to string values (tags, environment variables).
    StringMap,
    /// A nested object with its own properties.
    Object(&'static [Prop]),
    /// Any JSON-compatible value (policy documents, container definitions).
    Json,
    /// A directory of function code beside the blueprint, written as a
    /// relative path. It is packaged into a deterministic zip when the
    /// blueprint is loaded, and the property's value becomes the zip's
    /// base64 SHA-256 (what Lambda reports as `CodeSha256`).
    Code,
    /// One file beside the blueprint, written as a relative path and
    /// uploaded as it is (an S3 object's body); the property's value
    /// becomes the file's base64 SHA-256.
    File,
}

impl Type {
    /// A short name for messages: "a string", "a list of strings", ...
    pub fn describe(&self) -> String {
        match self {
            Type::String => "a string".into(),
            Type::Int => "an integer".into(),
            Type::Bool => "a boolean (true or false)".into(),
            Type::Cidr => "an IPv4 CIDR block (e.g. 10.0.0.0/16)".into(),
            Type::Enum(vals) => format!("one of {}", quote_list(vals)),
            Type::List(inner) => format!("a list of {}", inner.plural()),
            Type::StringMap => "a map of strings".into(),
            Type::Object(_) => "a mapping".into(),
            Type::Json => "any value".into(),
            Type::Code => "a directory of code, relative to the blueprint".into(),
            Type::File => "a file, relative to the blueprint".into(),
        }
    }

    fn plural(&self) -> String {
        match self {
            Type::String => "strings".into(),
            Type::Int => "integers".into(),
            Type::Bool => "booleans".into(),
            Type::Cidr => "CIDR blocks".into(),
            Type::Enum(vals) => format!("values from {}", quote_list(vals)),
            Type::List(inner) => format!("lists of {}", inner.plural()),
            Type::StringMap => "maps of strings".into(),
            Type::Object(_) => "mappings".into(),
            Type::Json => "values".into(),
            Type::Code => "code directories".into(),
            Type::File => "files".into(),
        }
    }
}

/// Formats `["a", "b"]` as "`a`, `b`".
pub fn quote_list(vals: &[&str]) -> String {
    vals.iter().map(|v| format!("`{v}`")).collect::<Vec<_>>().join(", ")
}

/// A default value for a property, applied when the blueprint omits it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Default {
    Bool(bool),
    Int(i64),
    Str(&'static str),
}

/// One property of a resource kind (or of a nested object).
#[derive(Debug, Clone, Copy)]
pub struct Prop {
    pub name: &'static str,
    pub ty: Type,
    pub required: bool,
    pub default: Option<Default>,
    /// A change to this property cannot be made in place: the resource is
    /// replaced.
    pub replace: bool,
    /// The value is a secret: never shown in plans, logs or state.
    pub sensitive: bool,
    /// AWS's own limit on the value, enforced at validate and plan on
    /// every value known then, whatever the blueprint declares.
    pub limit: Limit,
    pub doc: &'static str,
}

/// A limit AWS puts on a property's value (from the API reference), so a
/// value out of range is refused before anything is created rather than
/// by AWS halfway through an apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    None,
    /// An integer from `.0` to `.1`, both included.
    Range(i64, i64),
    /// A CIDR block whose prefix length is from `/.0` to `/.1`.
    Prefix(u8, u8),
    /// A string that is not empty.
    NonEmpty,
}

/// A value, or a combination of values, refused at plan time before
/// anything changes: what is wrong and how to put it right.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub message: String,
    pub help: String,
}

impl Refusal {
    pub fn new(message: String, help: String) -> Refusal {
        Refusal { message, help }
    }
}

impl Limit {
    /// Checks a known value; `Err(Refusal::new(message, help))` says what is wrong
    /// and what is allowed. Types are checked too, since a parameter's
    /// value reaches a property unchecked by the blueprint's own types.
    pub fn check(&self, ty: &Type, v: &serde_json::Value) -> Result<(), Refusal> {
        use serde_json::Value as J;
        let shown = match v {
            J::String(s) => format!("`{s}`"),
            other => format!("`{other}`"),
        };
        match (ty, v) {
            (Type::Int, J::Number(n)) => {
                let whole = n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64);
                let Some(i) = n.as_i64().or(whole) else {
                    return Err(Refusal::new(
                        format!("is {shown}, not a whole number"),
                        self.hint().unwrap_or_else(|| "give an integer".into()),
                    ));
                };
                if let Limit::Range(lo, hi) = *self
                    && !(lo..=hi).contains(&i)
                {
                    return Err(Refusal::new(
                        format!("is {i}, out of range"),
                        self.hint().unwrap_or_default(),
                    ));
                }
            }
            (Type::Int, J::String(s)) => match s.trim().parse::<i64>() {
                Ok(i) => return self.check(ty, &J::from(i)),
                Err(_) => {
                    return Err(Refusal::new(
                        format!("is {shown}, not an integer"),
                        self.hint().unwrap_or_else(|| "give an integer".into()),
                    ));
                }
            },
            (Type::Cidr, J::String(s)) => {
                let net = s.parse::<ipnet::Ipv4Net>().map_err(|_| {
                    Refusal::new(
                        format!("is {shown}, not an IPv4 CIDR block"),
                        format!(
                            "write an address and prefix length, e.g. `10.0.0.0/16`{}",
                            self.hint().map(|h| format!("; {h}")).unwrap_or_default()
                        ),
                    )
                })?;
                if net.trunc() != net {
                    return Err(Refusal::new(
                        format!("is {shown}, which has host bits set"),
                        format!("did you mean `{}`?", net.trunc()),
                    ));
                }
                if let Limit::Prefix(lo, hi) = *self
                    && !(lo..=hi).contains(&net.prefix_len())
                {
                    return Err(Refusal::new(
                        format!("is {shown}, a /{} block", net.prefix_len()),
                        self.hint().unwrap_or_default(),
                    ));
                }
            }
            (Type::Enum(vals), J::String(s)) if !vals.contains(&s.as_str()) => {
                let help = match did_you_mean(s, vals.iter().copied()) {
                    Some(m) => format!("did you mean `{m}`? use one of {}", quote_list(vals)),
                    None => format!("use one of {}", quote_list(vals)),
                };
                return Err(Refusal::new(format!("is {shown}, which is not allowed"), help));
            }
            (Type::String, J::String(s)) if *self == Limit::NonEmpty && s.trim().is_empty() => {
                return Err(Refusal::new("is empty".into(), "give a value".into()));
            }
            _ => {}
        }
        Ok(())
    }

    /// The allowed values in words, for a hint.
    pub fn hint(&self) -> Option<String> {
        match *self {
            Limit::None => None,
            Limit::Range(lo, hi) if hi == i64::MAX => Some(format!("AWS allows {lo} or more")),
            Limit::Range(lo, hi) => Some(format!("AWS allows {lo} to {hi}")),
            Limit::Prefix(lo, hi) => {
                Some(format!("AWS allows a block from /{lo} (largest) to /{hi} (smallest)"))
            }
            Limit::NonEmpty => Some("AWS needs a value that is not empty".into()),
        }
    }
}

impl Prop {
    pub const fn new(name: &'static str, ty: Type, doc: &'static str) -> Prop {
        Prop {
            name,
            ty,
            required: false,
            default: None,
            replace: false,
            sensitive: false,
            limit: Limit::None,
            doc,
        }
    }
    /// An integer from `min` to `max` (see [`Limit::Range`]).
    pub const fn range(mut self, min: i64, max: i64) -> Prop {
        self.limit = Limit::Range(min, max);
        self
    }
    /// An integer of at least `min`.
    pub const fn at_least(mut self, min: i64) -> Prop {
        self.limit = Limit::Range(min, i64::MAX);
        self
    }
    /// A CIDR block from `/min` to `/max` (see [`Limit::Prefix`]).
    pub const fn prefix(mut self, min: u8, max: u8) -> Prop {
        self.limit = Limit::Prefix(min, max);
        self
    }
    /// A string that is not empty.
    pub const fn non_empty(mut self) -> Prop {
        self.limit = Limit::NonEmpty;
        self
    }
    pub const fn required(mut self) -> Prop {
        self.required = true;
        self
    }
    pub const fn replace(mut self) -> Prop {
        self.replace = true;
        self
    }
    pub const fn sensitive(mut self) -> Prop {
        self.sensitive = true;
        self
    }
    pub const fn default(mut self, d: Default) -> Prop {
        self.default = Some(d);
        self
    }
}

/// An attribute a resource exposes after it exists (`${vpc.id}`).
#[derive(Debug, Clone, Copy)]
pub struct Attr {
    pub name: &'static str,
    pub ty: Type,
    pub doc: &'static str,
    /// An in-place update gives it a new value (a launch template's
    /// default version): what refers to it is planned with the value
    /// known only after apply.
    pub updated: bool,
}

impl Attr {
    pub const fn new(name: &'static str, ty: Type, doc: &'static str) -> Attr {
        Attr { name, ty, doc, updated: false }
    }

    /// See [`Attr::updated`].
    pub const fn updated(mut self) -> Attr {
        self.updated = true;
        self
    }
}

/// The schema of a resource kind such as `aws.ec2.vpc`.
#[derive(Debug)]
pub struct Schema {
    pub kind: &'static str,
    pub doc: &'static str,
    pub properties: &'static [Prop],
    /// Attributes known only once the resource exists. Every kind also has
    /// `id`, and every property can be referenced too.
    pub attributes: &'static [Attr],
    /// Groups of properties of which exactly one must be set (a route's
    /// target, a rule's source).
    pub exactly_one_of: &'static [&'static [&'static str]],
    /// Whether the resource carries tags (`archkit:stack`, `archkit:id`,
    /// `Name` and the user's `tags`). Untaggable kinds are found again
    /// through their parent and content.
    pub taggable: bool,
    /// Hand-written notes for the generated reference (behaviour a
    /// property table cannot show: waits, delete rules, checks).
    pub notes: &'static str,
    /// What a referenced resource must be for a setting of this one to
    /// work, checked by `validate` (an endpoint's private DNS needs a VPC
    /// with DNS support and hostnames).
    pub requires: &'static [Requires],
    /// How its running cost is worked out from the region's prices; none
    /// means unknown (shown as such, never as zero).
    pub cost: Option<crate::price::CostFn>,
    /// Whether a replacement makes the new object before it deletes the
    /// old one, or the other way round.
    pub replacement: Replacement,
}

/// The order of a replacement's two halves, which the kind declares and
/// the planner decides per change (shown as `+/-` or `-/+`, as Terraform
/// shows `create_before_destroy`). Creating first keeps the resource
/// available throughout, so it is the default; where AWS allows one object
/// at a time (a name, an association, an address on one gateway) the new
/// one can only be made once the old one is gone.
#[derive(Debug, Clone, Copy)]
pub enum Replacement {
    /// Make the new object, move what uses the old one onto it, then
    /// delete the old one.
    CreateFirst,
    /// Always delete the old object first, for the reason given.
    DeleteFirst(&'static str),
    /// Delete first when every one of these properties keeps its value (a
    /// name, an address that must move from the old object to the new);
    /// one the blueprint leaves out is derived from the stack and id, and
    /// so kept too.
    DeleteFirstIfKept(&'static [&'static str], &'static str),
    /// Delete first when the rule holds for the change (two ranges of one
    /// network that would overlap), described by the text.
    DeleteFirstWhen(fn(&Sides) -> bool, &'static str),
}

/// The two sides of a replacement, for [`Replacement`]'s rules.
pub struct Sides<'a> {
    /// The existing object's values (live, or last applied).
    pub before: &'a serde_json::Map<String, serde_json::Value>,
    /// The desired values; `None` inside is known only after apply.
    pub after: &'a std::collections::BTreeMap<String, Option<serde_json::Value>>,
}

impl Sides<'_> {
    /// Whether `name` keeps its value. Left out of the blueprint, it is
    /// derived from the stack and id as before; known only after apply, it
    /// is taken as changed.
    pub fn kept(&self, name: &str) -> bool {
        match self.after.get(name) {
            None => true,
            Some(None) => false,
            Some(Some(v)) => same_value(self.before.get(name), Some(v)),
        }
    }

    /// The desired value of `name`, when known.
    pub fn after(&self, name: &str) -> Option<&serde_json::Value> {
        self.after.get(name).and_then(Option::as_ref)
    }
}

impl Replacement {
    /// Whether this replacement deletes the old object first.
    pub fn delete_first(&self, sides: &Sides) -> bool {
        match self {
            Replacement::CreateFirst => false,
            Replacement::DeleteFirst(_) => true,
            Replacement::DeleteFirstIfKept(props, _) => props.iter().all(|p| sides.kept(p)),
            Replacement::DeleteFirstWhen(rule, _) => rule(sides),
        }
    }

    /// The rule in words, for the generated reference.
    pub fn describe(&self) -> String {
        match self {
            Replacement::CreateFirst => {
                "Replaced by creating the new one first, then deleting the old one (`+/-`).".into()
            }
            Replacement::DeleteFirst(why) => {
                format!("Replaced by deleting the old one first (`-/+`): {why}.")
            }
            Replacement::DeleteFirstIfKept(props, why) => format!(
                "Replaced by deleting the old one first (`-/+`) when {} {}: {why}; \
                 otherwise created first (`+/-`).",
                quote_list(props),
                if props.len() == 1 { "keeps its value" } else { "keep their values" }
            ),
            Replacement::DeleteFirstWhen(_, why) => format!(
                "Replaced by deleting the old one first (`-/+`) when {why}; otherwise created first \
                 (`+/-`)."
            ),
        }
    }
}

/// When `when` is set to `value` and `via` refers to a resource of kind
/// `kind`, that resource's boolean properties `props` must all be true
/// (their schema default when omitted).
#[derive(Debug)]
pub struct Requires {
    pub when: &'static str,
    pub value: bool,
    pub via: &'static str,
    pub kind: &'static str,
    pub props: &'static [&'static str],
    pub help: &'static str,
}

impl Schema {
    /// A taggable kind with no properties yet; the methods below add
    /// them, in `static` declarations (they are `const`).
    pub const fn new(kind: &'static str, doc: &'static str) -> Schema {
        Schema {
            kind,
            doc,
            properties: &[],
            attributes: &[],
            exactly_one_of: &[],
            taggable: true,
            notes: "",
            requires: &[],
            cost: None,
            replacement: Replacement::CreateFirst,
        }
    }

    pub const fn properties(mut self, properties: &'static [Prop]) -> Schema {
        self.properties = properties;
        self
    }

    pub const fn attributes(mut self, attributes: &'static [Attr]) -> Schema {
        self.attributes = attributes;
        self
    }

    pub const fn exactly_one_of(mut self, groups: &'static [&'static [&'static str]]) -> Schema {
        self.exactly_one_of = groups;
        self
    }

    pub const fn notes(mut self, notes: &'static str) -> Schema {
        self.notes = notes;
        self
    }

    pub const fn requires(mut self, requires: &'static [Requires]) -> Schema {
        self.requires = requires;
        self
    }

    pub const fn cost(mut self, cost: crate::price::CostFn) -> Schema {
        self.cost = Some(cost);
        self
    }

    /// How a replacement orders its create and its delete.
    pub const fn replacement(mut self, r: Replacement) -> Schema {
        self.replacement = r;
        self
    }

    /// A kind with no running charge of its own.
    pub const fn free(self) -> Schema {
        self.cost(|_| Ok(crate::price::Estimate::free()))
    }

    /// A kind whose resources carry no tags: found again through their
    /// parent and content.
    pub const fn untagged(mut self) -> Schema {
        self.taggable = false;
        self
    }
}

/// The implicit `tags` property of every taggable kind.
pub const TAGS: Prop = Prop::new(
    "tags",
    Type::StringMap,
    "Extra tags. archkit adds `archkit:stack`, `archkit:id`, `archkit:lineage` and `Name`.",
);

/// Equal values, an absent one and `null` being the same.
pub fn same_value(a: Option<&serde_json::Value>, b: Option<&serde_json::Value>) -> bool {
    use serde_json::Value;
    match (a, b) {
        (None | Some(Value::Null), None | Some(Value::Null)) => true,
        (Some(x), Some(y)) => x == y,
        _ => false,
    }
}

/// The implicit `id` attribute of every kind.
pub const ID: Attr = Attr::new("id", Type::String, "The provider's identifier.");

impl Schema {
    /// The property called `name`, including the implicit `tags`.
    pub fn property(&self, name: &str) -> Option<&Prop> {
        self.properties
            .iter()
            .find(|p| p.name == name)
            .or_else(|| (self.taggable && name == "tags").then_some(&TAGS))
    }

    /// Every property name, for "did you mean" suggestions.
    pub fn property_names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.properties.iter().map(|p| p.name).chain(self.taggable.then_some("tags"))
    }

    /// An attribute (or property) that `${id.NAME}` may reference.
    pub fn attribute(&self, name: &str) -> Option<Attr> {
        if name == "id" {
            return Some(ID);
        }
        if let Some(a) = self.attributes.iter().find(|a| a.name == name) {
            return Some(*a);
        }
        self.property(name).map(|p| Attr::new(p.name, p.ty, p.doc))
    }

    /// Every referenceable name, for suggestions.
    pub fn attribute_names(&self) -> Vec<&'static str> {
        let mut names = vec!["id"];
        names.extend(self.attributes.iter().map(|a| a.name));
        names.extend(self.property_names());
        names
    }
}

impl fmt::Display for Schema {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.kind)
    }
}

/// Finds the candidate closest to `input`, if any is close enough to be a
/// plausible typo.
pub fn did_you_mean<'a>(
    input: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let mut best: Option<(f64, &str)> = None;
    for c in candidates {
        let score = strsim::jaro_winkler(&input.to_ascii_lowercase(), &c.to_ascii_lowercase());
        if score > 0.8 && best.is_none_or(|(s, _)| score > s) {
            best = Some((score, c));
        }
    }
    best.map(|(_, c)| c)
}

/// The reference of resource types in `docs/blueprints.md`, generated
/// from the schemas so it cannot fall out of date (a test compares it).
pub fn reference<'a>(schemas: impl IntoIterator<Item = &'a Schema>) -> String {
    let mut out = String::new();
    for s in schemas {
        out.push_str(&format!("### `{}`\n\n{}", s.kind, s.doc));
        if !s.notes.is_empty() {
            out.push_str(&format!(" {}", s.notes));
        }
        if !s.taggable {
            out.push_str(" Not taggable: found again through its parent and content.");
        }
        out.push_str(
            "\n\n| property | type | default | on change | description |\n|---|---|---|---|---|\n",
        );
        let mut rows = Vec::new();
        property_rows("", s.properties, &mut rows);
        if s.taggable {
            property_rows("", std::slice::from_ref(&TAGS), &mut rows);
        }
        for r in rows {
            out.push_str(&r);
        }
        for group in s.exactly_one_of {
            out.push_str(&format!("\nExactly one of {}.\n", quote_list(group)));
        }
        out.push_str("\nAttributes: `id`");
        for a in s.attributes {
            out.push_str(&format!(", `{}` ({})", a.name, a.doc.trim_end_matches('.')));
        }
        out.push_str(".\n\n");
        out.push_str(&s.replacement.describe());
        out.push_str("\n\n");
    }
    out
}

fn property_rows(prefix: &str, props: &[Prop], rows: &mut Vec<String>) {
    for p in props {
        let default = match (p.default, p.required) {
            (Some(Default::Bool(b)), _) => format!("`{b}`"),
            (Some(Default::Int(i)), _) => format!("`{i}`"),
            (Some(Default::Str(s)), _) => format!("`{s}`"),
            (None, true) => "required".into(),
            (None, false) => "".into(),
        };
        let ty = match p.ty {
            Type::Enum(vals) => format!("one of {}", quote_list(vals)),
            ty => ty.describe(),
        };
        let ty = match p.limit {
            Limit::None => ty,
            Limit::Range(lo, hi) if hi == i64::MAX => format!("{ty}, {lo} or more"),
            Limit::Range(lo, hi) => format!("{ty}, {lo} to {hi}"),
            Limit::Prefix(lo, hi) => format!("{ty}, /{lo} to /{hi}"),
            Limit::NonEmpty => format!("{ty}, not empty"),
        };
        let change = if p.replace { "replace" } else { "update" };
        let doc = if p.sensitive {
            format!("{} Secret: never shown, stored as a digest.", p.doc)
        } else {
            p.doc.to_string()
        };
        rows.push(format!(
            "| `{prefix}{}` | {ty} | {default} | {change} | {} |\n",
            p.name,
            doc.replace('|', "\\|")
        ));
        let nested = match p.ty {
            Type::Object(inner) => Some((format!("{prefix}{}.", p.name), inner)),
            Type::List(Type::Object(inner)) => Some((format!("{prefix}{}[].", p.name), *inner)),
            _ => None,
        };
        if let Some((prefix, inner)) = nested {
            property_rows(&prefix, inner, rows);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions_pick_the_closest_name() {
        let names = ["cidr_block", "enable_dns_support", "enable_dns_hostnames"];
        assert_eq!(did_you_mean("cidr", names), Some("cidr_block"));
        assert_eq!(did_you_mean("enable_dns_hostname", names), Some("enable_dns_hostnames"));
        assert_eq!(did_you_mean("zzz", names), None);
    }
}

//! A YAML tree that remembers where every value came from.
//!
//! serde-saphyr deserialises straight into Rust types; blueprints are
//! schema-driven (each resource kind decides what its properties mean), so
//! we deserialise into this small generic tree with a [`Spanned`] location
//! on every key and value, and validate it against the schemas afterwards.
//! Spans are byte ranges into the source, ready for miette.

use std::fmt;

use miette::SourceSpan;
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::{Location, Spanned};

/// A YAML value with the span of its first character (scalars: the whole
/// scalar, quotes included).
#[derive(Debug, Clone)]
pub struct Node {
    pub value: Value,
    pub span: SourceSpan,
}

#[derive(Debug, Clone)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<(Key, Node)>),
}

/// A mapping key with its span.
#[derive(Debug, Clone)]
pub struct Key {
    pub name: String,
    pub span: SourceSpan,
}

impl Node {
    /// "a string", "a mapping", ... for type errors.
    pub fn type_name(&self) -> &'static str {
        match self.value {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Int(_) => "an integer",
            Value::Float(_) => "a number",
            Value::Str(_) => "a string",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
        }
    }

    pub fn as_map(&self) -> Option<&[(Key, Node)]> {
        match &self.value {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }
}

/// A YAML syntax error, with a byte offset into the source.
#[derive(Debug)]
pub struct SyntaxError {
    pub message: String,
    pub offset: usize,
}

/// Parses `src` into a spanned tree.
///
/// Parsing runs on its own thread with a generous stack: the parser and
/// serde recurse once per nesting level, and the caller's stack (a 2 MiB
/// test thread, say) must not decide whether hostile input crashes us.
pub fn parse(src: &str) -> Result<Node, SyntaxError> {
    std::thread::scope(|s| {
        std::thread::Builder::new()
            .name("yaml-parse".into())
            .stack_size(256 << 20)
            .spawn_scoped(s, || parse_here(src))
            .ok()
            .and_then(|h| h.join().ok())
            .unwrap_or_else(|| {
                Err(SyntaxError { message: "the parser failed on this input".into(), offset: 0 })
            })
    })
}

fn parse_here(src: &str) -> Result<Node, SyntaxError> {
    let mut budget = serde_saphyr::budget::Budget::default();
    // Generated 10,000-resource blueprints exceed the defaults, which are
    // sized for small config files; depth stays capped to protect the stack.
    budget.max_nodes = 10_000_000;
    budget.max_events = 40_000_000;
    budget.max_depth = 64;
    // Each level of flow nesting costs a few serde frames; 64 keeps even a
    // 2 MiB test thread's stack safe.
    budget.flow_nesting_limit = 64;
    let mut options = serde_saphyr::options::Options::default();
    options.budget = Some(budget);
    // Aliases are replayed into the tree: a "billion laughs" document of a
    // few hundred bytes would grow to gigabytes. Real blueprints replay a
    // few hundred events at most; past this the document is refused
    // (scripts/bench-yaml-bomb measures the bound: time and peak memory).
    options.alias_limits.max_total_replayed_events = 20_000;
    // Only `true`/`false` are booleans: `yes`, `on`, `no` stay strings, as
    // in YAML 1.2 (the Norway problem).
    options.strict_booleans = true;
    // `012` is the string "012", not octal or a float.
    options.leading_zero_numbers_as_strings = true;
    // `!Ref x` or `!!python/object` would otherwise be dropped silently
    // and the bare value used: refuse tags instead.
    options.reject_unsupported_tags = true;
    INDEX.set(Some(LineIndex::new(src)));
    let parsed = serde_saphyr::from_str_with_options::<Spanned<Tree>>(src, options).map(node);
    let index = INDEX.take().expect("set above");
    parsed.map_err(|e| {
        let offset = e.location().map(|l| index.offset_of(&l)).unwrap_or(0);
        SyntaxError { message: clean_message(&e.without_snippet().to_string()), offset }
    })
}

/// serde-saphyr appends " at line N, column M"; our diagnostics show the
/// location themselves.
fn clean_message(msg: &str) -> String {
    let msg = msg.lines().next().unwrap_or(msg);
    let msg = match msg.rfind(" at line ") {
        Some(i) => &msg[..i],
        None => msg,
    };
    let msg = msg.trim_start_matches("error: ");
    if msg.starts_with("multiple YAML documents detected") {
        return "more than one YAML document (a `---` line starts another)".into();
    }
    msg.replace(", set DuplicateKeyPolicy in Options if acceptable", "")
}

/// Maps serde-saphyr locations (1-based line and character column) to byte
/// offsets. Byte offsets from the parser are used when present; they are
/// missing for some error locations.
struct LineIndex {
    /// A copy of the document: the index lives in [`INDEX`] while serde
    /// runs, which cannot borrow the caller's text.
    src: Box<str>,
    line_starts: Vec<usize>,
}

thread_local! {
    /// The index of the document being parsed on this thread: serde-saphyr
    /// gives each value its location, and [`node`] makes it a span as the
    /// value is read, so no intermediate tree is built (at 10,000
    /// resources that tree was most of `validate`'s memory).
    static INDEX: std::cell::RefCell<Option<LineIndex>> = const { std::cell::RefCell::new(None) };
}

impl LineIndex {
    fn new(src: &str) -> Self {
        let mut line_starts = vec![0];
        line_starts.extend(src.match_indices('\n').map(|(i, _)| i + 1));
        LineIndex { src: src.into(), line_starts }
    }

    fn offset_of(&self, loc: &Location) -> usize {
        let span = loc.span();
        if let Some(b) = span.byte_offset() {
            let b = b as usize;
            if b <= self.src.len() && self.src.is_char_boundary(b) {
                return b;
            }
        }
        let line = (loc.line() as usize).saturating_sub(1);
        let Some(&start) = self.line_starts.get(line) else {
            return self.src.len();
        };
        let col = (loc.column() as usize).saturating_sub(1);
        let rest = &self.src[start..];
        rest.char_indices().nth(col).map(|(i, _)| start + i).unwrap_or(self.src.len())
    }

    fn span_of(&self, loc: &Location) -> SourceSpan {
        let start = self.offset_of(loc);
        let len = loc
            .span()
            .byte_len()
            .map(|l| l as usize)
            .filter(|l| start + l <= self.src.len())
            .unwrap_or(0);
        SourceSpan::new(start.into(), len)
    }
}

/// A value read with its location, made a [`Node`].
fn node(v: Spanned<Tree>) -> Node {
    Node { span: span(&v.referenced), value: v.value.0 }
}

/// A location in the document being parsed on this thread, as a span.
fn span(loc: &Location) -> SourceSpan {
    INDEX
        .with_borrow(|i| i.as_ref().map(|i| i.span_of(loc)))
        .unwrap_or_else(|| SourceSpan::new(0.into(), 0))
}

/// The deserialisation target: a [`Value`] whose items and entries are
/// made nodes as they are read.
struct Tree(Value);

impl<'de> Deserialize<'de> for Tree {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(TreeVisitor).map(Tree)
    }
}

struct TreeVisitor;

impl<'de> Visitor<'de> for TreeVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        Tree::deserialize(d).map(|t| t.0)
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Int(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        i64::try_from(v).map(Value::Int).map_err(|_| E::custom("integer is too large"))
    }
    fn visit_i128<E: de::Error>(self, v: i128) -> Result<Value, E> {
        i64::try_from(v).map(Value::Int).map_err(|_| E::custom("integer is too large"))
    }
    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Value, E> {
        i64::try_from(v).map(Value::Int).map_err(|_| E::custom("integer is too large"))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::Float(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::Str(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::Str(v))
    }
    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Value, E> {
        String::from_utf8(v.to_vec())
            .map(Value::Str)
            .map_err(|_| E::custom("binary values are not supported"))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = a.next_element::<Spanned<Tree>>()? {
            items.push(node(item));
        }
        Ok(Value::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<Value, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = a.next_key::<Spanned<KeyString>>()? {
            let key = Key { span: span(&key.referenced), name: key.value.0 };
            entries.push((key, node(a.next_value::<Spanned<Tree>>()?)));
        }
        Ok(Value::Map(entries))
    }
}

/// Mapping keys: any scalar, turned into its text (`80: x` has key "80").
struct KeyString(String);

impl<'de> Deserialize<'de> for KeyString {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = KeyString;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a scalar mapping key")
            }
            fn visit_str<E>(self, v: &str) -> Result<KeyString, E> {
                Ok(KeyString(v.to_owned()))
            }
            fn visit_string<E>(self, v: String) -> Result<KeyString, E> {
                Ok(KeyString(v))
            }
            fn visit_bool<E>(self, v: bool) -> Result<KeyString, E> {
                Ok(KeyString(v.to_string()))
            }
            fn visit_i64<E>(self, v: i64) -> Result<KeyString, E> {
                Ok(KeyString(v.to_string()))
            }
            fn visit_u64<E>(self, v: u64) -> Result<KeyString, E> {
                Ok(KeyString(v.to_string()))
            }
            fn visit_f64<E>(self, v: f64) -> Result<KeyString, E> {
                Ok(KeyString(v.to_string()))
            }
            fn visit_unit<E>(self) -> Result<KeyString, E> {
                Ok(KeyString("null".into()))
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(src: &str, n: &Node) -> String {
        let s = n.span.offset();
        src[s..s + n.span.len()].to_string()
    }

    #[test]
    fn spans_point_at_values() {
        let src = "a: 1\nb:\n  c: [x, \"y\"]\n";
        let root = parse(src).unwrap();
        let map = root.as_map().unwrap();
        assert_eq!(map[0].0.name, "a");
        assert_eq!(at(src, &map[0].1), "1");
        let inner = map[1].1.as_map().unwrap();
        let Value::Seq(items) = &inner[0].1.value else { panic!("expected a list") };
        assert_eq!(at(src, &items[0]), "x");
        assert_eq!(at(src, &items[1]), "\"y\"");
    }

    #[test]
    fn yaml_1_1_booleans_and_octals_stay_strings() {
        let root = parse("a: yes\nb: 012\nc: true\n").unwrap();
        let map = root.as_map().unwrap();
        assert_eq!(map[0].1.as_str(), Some("yes"));
        assert_eq!(map[1].1.as_str(), Some("012"));
        assert!(matches!(map[2].1.value, Value::Bool(true)));
    }

    #[test]
    fn duplicate_keys_are_errors_with_a_location() {
        let err = parse("a: 1\na: 2\n").unwrap_err();
        assert!(err.message.contains("duplicate"), "{}", err.message);
        assert_eq!(err.offset, 5);
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_stack_overflow() {
        let src = "[".repeat(10_000);
        assert!(parse(&src).is_err());
        let mut block = String::new();
        for i in 0..200 {
            block.push_str(&" ".repeat(i));
            block.push_str("k:\n");
        }
        assert!(parse(&block).is_err());
    }
}

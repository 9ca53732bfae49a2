//! `aws.ssm.document`: a Systems Manager document of the account's own (a
//! Command document a user runs with `aws ssm send-command`, or that an
//! association applies to instances).
//!
//! The physical id is the document's name, `<stack>-<id>` by default:
//! deterministic, so a create whose answer was lost is found again by
//! name (and told apart from someone else's by its tags). A new `content`
//! is a new document version made the default one, as the console does; a
//! run already started keeps the version it started with.

use crate::aws::prelude::*;

use aws_sdk_ssm::types::{
    DocumentFormat, DocumentKeyValuesFilter, DocumentType, ResourceTypeForTagging, Tag,
};

use super::ssm::tag;

/// Document names are `[a-zA-Z0-9_.-]{3,128}`.
const NAME_MAX: usize = 128;
const TYPES: &[&str] = &["Command", "Automation", "Session"];

pub static DOCUMENT: Schema = Schema::new(
    "aws.ssm.document",
    "A Systems Manager document of your own: steps Run Command or an association carries out on instances.",
)
.properties(rows! {
    Prop::new("name", Type::String, "The document's name; `<stack>-<id>` when omitted (it may not start with `aws`, `amazon` or `amzn`).").replace(),
    Prop::new("document_type", Type::Enum(TYPES), "What it is for.").default(crate::schema::Default::Str("Command")).replace(),
    Prop::new("content", Type::Json, "The document itself (schemaVersion 2.2 for Command documents: `parameters`, `mainSteps`), sent as JSON.").required(),
})
.attributes(rows! {
    Attr::new("name", Type::String, "Its name, what `send-command --document-name` takes."),
    Attr::new("arn", Type::String, "Its ARN."),
    Attr::new("version", Type::String, "Its default version."),
})
.notes("A change of `content` makes a new version, the default one. Free: Run Command on your own instances has no charge.")
.free()
.replacement(Replacement::DeleteFirstIfKept(&["name"], "document names are unique in a region"));

kind! { Document, DOCUMENT }

/// The given name, or `<stack>-<id>`; `archkit-<stack>-<id>` when that
/// would start with a prefix AWS reserves (a stack named `aws-demo`).
fn doc_name(ctx: &Context, logical: &str, p: &Props) -> String {
    s(p, "name").unwrap_or_else(|| {
        let name = unique_name(&ctx.stack, logical, NAME_MAX - 8);
        if reserved(&name) { format!("archkit-{name}") } else { name }
    })
}

fn content(p: &Props) -> String {
    p.get("content").map(Value::to_string).unwrap_or_default()
}

impl Document {
    async fn arn(&self, name: &str) -> Result<String> {
        let c = &self.0;
        Ok(format!("arn:aws:ssm:{}:{}:document/{name}", c.region, c.account_id().await?))
    }

    async fn attrs(&self, name: &str, version: Option<&str>) -> Result<Attrs> {
        Ok(attrs([
            ("name", json!(name)),
            ("arn", json!(self.arn(name).await?)),
            ("version", json!(version.unwrap_or("1"))),
        ]))
    }

    /// The live document `name` (its default version), or None.
    async fn observe(&self, ctx: &Context, name: &str) -> Result<Option<Observed>> {
        let ssm = &self.0.ssm;
        let d = match send!(ssm.describe_document().name(name)) {
            Ok(d) => d,
            Err(e) if e.is_not_found() || e.code.as_deref() == Some("InvalidDocument") => {
                return Ok(None);
            }
            Err(e) => return Err(e),
        };
        let Some(d) = d.document() else { return Ok(None) };
        let got = send!(ssm.get_document().name(name).document_format(DocumentFormat::Json))?;
        let content: Value =
            got.content().and_then(|c| serde_json::from_str(c).ok()).unwrap_or_default();
        let (user, logical) = split_tags(ctx, d.tags().iter().map(|t| (t.key(), t.value())));
        let p = props([
            ("name", json!(name)),
            ("document_type", json!(d.document_type().map(|t| t.as_str()))),
            ("content", content),
            ("tags", user),
        ]);
        let attrs = self.attrs(name, d.default_version()).await?;
        Ok(Some(Observed::new(name, logical, p).with(attrs)))
    }
}

#[async_trait]
impl ResourceKind for Document {
    async fn read(&self, ctx: &Context, q: &ReadQuery) -> Result<Vec<Observed>> {
        let mut names: Vec<String> = q.known.iter().map(|(id, _)| id.clone()).collect();
        if q.discover {
            // AWS filters by tag; moto ignores the tag filter, so the
            // stack is checked again on what is returned.
            let filters = [
                DocumentKeyValuesFilter::builder().key("Owner").values("Self").build(),
                DocumentKeyValuesFilter::builder()
                    .key(format!("tag:{TAG_STACK}"))
                    .values(&ctx.stack)
                    .build(),
            ];
            let found: Vec<_> =
                paginate!(self.0.ssm.list_documents().set_filters(Some(filters.to_vec())))?;
            for d in found {
                let ours = d.tags().iter().any(|t| t.key() == TAG_STACK && t.value() == ctx.stack);
                if let Some(name) = d.name().filter(|n| ours && !names.iter().any(|k| k == n)) {
                    names.push(name.to_string());
                }
            }
        }
        let mut out = Vec::new();
        for name in names {
            if let Some(o) = self.observe(ctx, &name).await? {
                out.push(o);
            }
        }
        Ok(out)
    }

    async fn create(&self, ctx: &Context, req: &CreateRequest) -> Result<Created> {
        let p = &req.properties;
        let name = doc_name(ctx, &req.logical_id, p);
        let tags: Vec<Tag> =
            create_tags(ctx, &req.logical_id, p).into_iter().map(|(k, v)| tag(k, v)).collect();
        let kind = s(p, "document_type").unwrap_or_else(|| "Command".into());
        let call = self
            .0
            .ssm
            .create_document()
            .name(&name)
            .content(content(p))
            .document_format(DocumentFormat::Json)
            .document_type(DocumentType::from(kind.as_str()))
            .set_tags(Some(tags));
        match send!(call) {
            Ok(r) => {
                let version = r.document_description().and_then(|d| d.default_version());
                Ok(Created::new(name.clone()).with(self.attrs(&name, version).await?))
            }
            // A lost answer: ours if its tags say so; never someone else's.
            Err(e) if e.code.as_deref() == Some("DocumentAlreadyExists") => {
                let live = self.observe(ctx, &name).await?;
                let clash = Clash {
                    what: format!("an SSM document `{name}`"),
                    field: "name",
                    code: "DocumentAlreadyExists",
                };
                let Some(live) = live.filter(|o| o.logical_id.as_deref() == Some(&req.logical_id))
                else {
                    return Err(clash.error(&req.logical_id));
                };
                let attrs = self.update(ctx, &name, &live.properties, p).await.partial(&name)?;
                let mut created = Created::new(name.clone()).with(live.attributes);
                created.attributes.extend(attrs);
                Ok(created)
            }
            Err(e) => Err(e),
        }
    }

    async fn update(&self, _ctx: &Context, name: &str, old: &Props, new: &Props) -> Result<Attrs> {
        let ssm = &self.0.ssm;
        let mut out = Attrs::new();
        if old.get("content") != new.get("content") {
            let r = send!(
                ssm.update_document()
                    .name(name)
                    .content(content(new))
                    .document_format(DocumentFormat::Json)
                    .document_version("$LATEST")
            )?;
            let version = r
                .document_description()
                .and_then(|d| d.document_version())
                .map(str::to_string)
                .ok_or_else(|| ProviderError::no_id(self.schema().kind))?;
            send!(ssm.update_document_default_version().name(name).document_version(&version))?;
            out = self.attrs(name, Some(&version)).await?;
        }
        tag_calls! { old, new, ssm.remove_tags_from_resource().resource_type(ResourceTypeForTagging::Document).resource_id(name), ssm.add_tags_to_resource().resource_type(ResourceTypeForTagging::Document).resource_id(name), |set| set.into_iter().map(|(k, v)| tag(k, v)).collect() }
        Ok(out)
    }

    async fn delete(&self, _ctx: &Context, name: &str, _p: &Props) -> Result<()> {
        // Deleting a document deletes its associations' link to it; the
        // stack's associations are deleted first (they reference it).
        send!(self.0.ssm.delete_document().name(name))?;
        Ok(())
    }
}

/// Whether AWS reserves `name`'s prefix for its own documents.
fn reserved(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    ["aws", "amazon", "amzn"].iter().any(|p| lower.starts_with(p))
}

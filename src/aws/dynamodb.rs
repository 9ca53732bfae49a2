//! `aws.dynamodb.table`: an on-demand DynamoDB table with a partition key
//! (and optionally a sort key).
//!
//! The physical id is the table name (derived from the stack when
//! omitted). The key schema cannot change, so changing a key replaces the
//! table, and the plan says so: the data is lost. A read lists the table
//! names (paginated), describes the stack's and reads their tags.

use crate::aws::prelude::*;
use crate::schema::Default;
use std::collections::BTreeSet;
use std::time::Duration;

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType, TableStatus,
    Tag,
};

const NAME_MAX: usize = 255;
const KEY_TYPES: &[&str] = &["S", "N", "B"];

pub static TABLE: Schema = Schema::new("aws.dynamodb.table", "An on-demand DynamoDB table.")
    .properties(rows! {
        Prop::new("name", Type::String, "The table name; derived from the stack and id when omitted.").replace(),
        Prop::new("hash_key", Type::String, "The partition key attribute.").required().replace(),
        Prop::new("hash_key_type", Type::Enum(KEY_TYPES), "Its type: S (string), N (number) or B (binary).").default(Default::Str("S")).replace(),
        Prop::new("range_key", Type::String, "The sort key attribute, if any.").replace(),
        Prop::new("range_key_type", Type::Enum(KEY_TYPES), "Its type.").default(Default::Str("S")).replace(),
    })
    .attributes(rows! {
        Attr::new("arn", Type::String, "The table's ARN."),
        Attr::new("name", Type::String, "Its name."),
    })
    .notes("On-demand capacity.")
    .cost(table_cost)
    .replacement(Replacement::DeleteFirstIfKept(&["name"], "table names are unique in a region"));

kind! { Table, TABLE }

impl Table {
    async fn describe(
        &self,
        name: &str,
    ) -> Result<Option<aws_sdk_dynamodb::types::TableDescription>> {
        Ok(send!(self.0.dynamodb.describe_table().table_name(name))
            .found()?
            .and_then(|r| r.table().cloned()))
    }
}

fn attrs(t: &aws_sdk_dynamodb::types::TableDescription) -> Attrs {
    [("arn".to_string(), json!(t.table_arn())), ("name".to_string(), json!(t.table_name()))].into()
}

#[async_trait]
impl ResourceKind for Table {
    async fn read(&self, ctx: &Context, q: &ReadQuery) -> Result<Vec<Observed>> {
        let prefix = unique_name(&ctx.stack, "", NAME_MAX);
        let mut names: BTreeSet<String> = q.known.iter().map(|(id, _)| id.clone()).collect();
        let listed: Vec<String> = paginate!(self.0.dynamodb.list_tables())?;
        names.extend(listed.into_iter().filter(|n| n.starts_with(&prefix)));
        let mut out = Vec::new();
        for name in names {
            let Some(t) = self.describe(&name).await? else {
                continue;
            };
            if t.table_status() == Some(&TableStatus::Deleting) {
                continue;
            }
            let tags = send!(
                self.0
                    .dynamodb
                    .list_tags_of_resource()
                    .resource_arn(t.table_arn().unwrap_or_default())
            )?;
            let (user, logical) = split_tags(ctx, tags.tags().iter().map(|t| (t.key(), t.value())));
            if logical.unclaimed() && !q.known.iter().any(|(k, _)| *k == name) {
                continue;
            }
            let key = |kt: KeyType| {
                t.key_schema()
                    .iter()
                    .find(|k| k.key_type() == &kt)
                    .map(|k| k.attribute_name().to_string())
            };
            let ty = |attr: &Option<String>| {
                attr.as_ref().and_then(|a| {
                    t.attribute_definitions()
                        .iter()
                        .find(|d| d.attribute_name() == a)
                        .map(|d| d.attribute_type().as_str().to_string())
                })
            };
            let (hash, range) = (key(KeyType::Hash), key(KeyType::Range));
            let mut p = props([
                ("name", json!(name)),
                ("hash_key_type", json!(ty(&hash))),
                ("hash_key", json!(hash)),
            ]);
            if range.is_some() {
                p.insert("range_key_type".into(), json!(ty(&range)));
            }
            p.extend(props([("range_key", json!(range)), ("tags", user)]));
            out.push(Observed::new(name, logical, p).with(attrs(&t)));
        }
        Ok(out)
    }

    async fn create(&self, ctx: &Context, req: &CreateRequest) -> Result<Created> {
        let p = &req.properties;
        let name =
            s(p, "name").unwrap_or_else(|| unique_name(&ctx.stack, &req.logical_id, NAME_MAX));
        let mut call = self
            .0
            .dynamodb
            .create_table()
            .table_name(&name)
            .billing_mode(BillingMode::PayPerRequest);
        let mut keys = vec![("hash", KeyType::Hash)];
        if s(p, "range_key").is_some() {
            keys.push(("range", KeyType::Range));
        }
        for (k, kt) in keys {
            let attr = s(p, &format!("{k}_key")).unwrap_or_default();
            let ty = s(p, &format!("{k}_key_type")).unwrap_or_else(|| "S".into());
            call = call
                .attribute_definitions(
                    AttributeDefinition::builder()
                        .attribute_name(&attr)
                        .attribute_type(ScalarAttributeType::from(ty.as_str()))
                        .build()
                        .expect("name and type set"),
                )
                .key_schema(
                    KeySchemaElement::builder()
                        .attribute_name(&attr)
                        .key_type(kt)
                        .build()
                        .expect("name and type set"),
                );
        }
        let tags: Vec<Tag> = create_tags(ctx, &req.logical_id, p)
            .into_iter()
            .map(|(k, v)| Tag::builder().key(k).value(v).build().expect("set"))
            .collect();
        let r = send!(call.set_tags(Some(tags)))?;
        Ok(Created::new(name).with(r.table_description().map(attrs).unwrap_or_default()))
    }

    async fn update(&self, _ctx: &Context, name: &str, old: &Props, new: &Props) -> Result<Attrs> {
        arn_tag_calls!(
            old,
            new,
            name,
            arn = self.describe(name).await?.and_then(|t| t.table_arn().map(str::to_string)),
            self.0.dynamodb.untag_resource().resource_arn(arn),
            self.0.dynamodb.tag_resource().resource_arn(arn),
            |set| set
                .iter()
                .map(|(k, v)| Tag::builder().key(k).value(v).build().expect("set"))
                .collect()
        );
        Ok(Attrs::new())
    }

    async fn poll_ready(&self, _ctx: &Context, name: &str) -> Result<Option<Attrs>> {
        Ok(self
            .describe(name)
            .await?
            .filter(|t| t.table_status() == Some(&TableStatus::Active))
            .map(|t| attrs(&t)))
    }

    async fn delete(&self, _ctx: &Context, name: &str, _p: &Props) -> Result<()> {
        send!(self.0.dynamodb.delete_table().table_name(name))?;
        Ok(())
    }

    async fn poll_deleted(&self, _ctx: &Context, name: &str) -> Result<bool> {
        Ok(self.describe(name).await?.is_none())
    }

    fn expected_duration(&self, _op: Op) -> Duration {
        Duration::from_secs(10)
    }

    fn normalize(&self, p: &mut Props) {
        if p.get("range_key").is_none_or(|v| v.is_null()) {
            p.remove("range_key_type");
        }
    }
}

/// Tables are created on demand (pay per request): they bill requests
/// and storage only.
fn table_cost(c: &CostInput) -> Cost {
    Ok(Estimate::free()
        .usage("DynamoDB writes", c.price("dynamodb_million_writes")?, "million write units")
        .usage("DynamoDB reads", c.price("dynamodb_million_reads")?, "million read units")
        .usage("DynamoDB storage", c.price("dynamodb_gb_month")?, "GB-month"))
}

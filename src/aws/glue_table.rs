//! `aws.glue.table`: a Data Catalog table over files in S3, so Athena and
//! Redshift Spectrum query them with no crawler run and no DDL by hand.
//!
//! Glue tables take no tags. The table's own `Parameters` carry
//! `archkit:stack` and `archkit:id` instead, which is how a create whose
//! answer was lost is told apart from someone else's table of the same
//! name (the name is deterministic, so the rerun's create finds it). The
//! physical id is `database|table`; a discovery without state needs no
//! table of its own, since deleting the stack's database drops its tables.
//!
//! `format` picks the SerDe and the input and output formats Athena
//! documents for each: `csv` is Hive's LazySimpleSerDe (the post's `ROW
//! FORMAT DELIMITED FIELDS TERMINATED BY ','`) with `escape_char` for
//! values that hold the delimiter; `orc`, `parquet` and `json` as Athena
//! names them. Text files compressed with GZIP (`.gz`) are read as they are.

use crate::aws::prelude::*;
use crate::schema::Default;

use aws_sdk_glue::types::{Column, SerDeInfo, StorageDescriptor, TableInput};

const FORMATS: &[&str] = &["csv", "orc", "parquet", "json"];

static COLUMN: &[Prop] = rows! {
    Prop::new("name", Type::String, "The column name (lower case in Athena).").required(),
    Prop::new("type", Type::String, "Its Hive type: `int`, `double`, `string`, `timestamp`, `varchar(255)`...").required(),
    Prop::new("comment", Type::String, "What it holds."),
};

pub static TABLE: Schema = Schema::new(
    "aws.glue.table",
    "A Glue Data Catalog table over files in S3 (external table). Not taggable: its parameters carry the stack.",
)
.properties(rows! {
    Prop::new("database_name", Type::String, "The database it belongs to.").required().replace(),
    Prop::new("name", Type::String, "The table name (lower case); derived from the stack and id when omitted.").replace(),
    Prop::new("description", Type::String, "What it holds."),
    Prop::new("location", Type::String, "Where its files are, `s3://bucket/prefix/`.").required(),
    Prop::new("columns", Type::List(&Type::Object(COLUMN)), "The columns, in the files' order.").required(),
    Prop::new("format", Type::Enum(FORMATS), "The files' format.").default(Default::Str("csv")),
    Prop::new("field_delimiter", Type::String, "With `csv`: the field separator.").default(Default::Str(",")),
    Prop::new("escape_char", Type::String, "With `csv`: the character that escapes a delimiter inside a value (`\\\\`)."),
    Prop::new("parameters", Type::StringMap, "Table parameters, e.g. `skip.header.line.count`."),
})
.attributes(rows! {
    Attr::new("name", Type::String, "Its name."),
    Attr::new("arn", Type::String, "Its ARN."),
})
.notes("Deleting the table leaves its files in S3.")
.untagged()
.free()
.replacement(Replacement::DeleteFirstIfKept(&["name"], "table names are unique in a database"));

kind! { Table, TABLE }

/// The SerDe and formats of `format`, as Athena's DDL reference names them.
fn storage(format: &str) -> (&'static str, &'static str, &'static str) {
    const TEXT_IN: &str = "org.apache.hadoop.mapred.TextInputFormat";
    const TEXT_OUT: &str = "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat";
    match format {
        "orc" => (
            "org.apache.hadoop.hive.ql.io.orc.OrcSerde",
            "org.apache.hadoop.hive.ql.io.orc.OrcInputFormat",
            "org.apache.hadoop.hive.ql.io.orc.OrcOutputFormat",
        ),
        "parquet" => (
            "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe",
            "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
            "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
        ),
        "json" => ("org.openx.data.jsonserde.JsonSerDe", TEXT_IN, TEXT_OUT),
        _ => ("org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe", TEXT_IN, TEXT_OUT),
    }
}

fn format_of(serde_lib: Option<&str>) -> &'static str {
    FORMATS.iter().copied().find(|f| Some(storage(f).0) == serde_lib).unwrap_or("csv")
}

/// `database|table`.
fn split(id: &str) -> Option<(&str, &str)> {
    id.split_once('|')
}

fn table_name(ctx: &Context, logical: &str, p: &Props) -> String {
    s(p, "name").unwrap_or_else(|| super::glue::glue_name(&ctx.stack, logical))
}

/// The whole table definition archkit sends on create and update.
fn input(ctx: &Context, logical: &str, name: &str, p: &Props) -> TableInput {
    let format = s(p, "format").unwrap_or_else(|| "csv".into());
    let (lib, input_format, output_format) = storage(&format);
    let mut serde = SerDeInfo::builder().serialization_library(lib);
    if format == "csv" {
        let delim = s(p, "field_delimiter").unwrap_or_else(|| ",".into());
        serde = serde.parameters("field.delim", &delim).parameters("serialization.format", &delim);
        if let Some(e) = s(p, "escape_char") {
            serde = serde.parameters("escape.delim", e);
        }
    }
    let columns: Vec<Column> = p
        .get("columns")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|c| {
            Column::builder()
                .name(c["name"].as_str().unwrap_or_default())
                .r#type(c["type"].as_str().unwrap_or_default())
                .set_comment(c.get("comment").and_then(Value::as_str).map(str::to_string))
                .build()
                .expect("name set")
        })
        .collect();
    let sd = StorageDescriptor::builder()
        .set_columns(Some(columns))
        .set_location(s(p, "location"))
        .input_format(input_format)
        .output_format(output_format)
        .serde_info(serde.build())
        .build();
    let mut params: std::collections::HashMap<String, String> = string_map(p, "parameters");
    params.insert("classification".into(), format.clone());
    params.extend(ctx.system_tags(logical));
    TableInput::builder()
        .name(name)
        .set_description(s(p, "description"))
        .table_type("EXTERNAL_TABLE")
        .set_parameters(Some(params))
        .storage_descriptor(sd)
        .build()
        .expect("name set")
}

/// The properties of a live table and whose it is (from its parameters).
fn observed(ctx: &Context, db: &str, t: &aws_sdk_glue::types::Table) -> (Props, Logical) {
    let sd = t.storage_descriptor();
    let serde = sd.and_then(|s| s.serde_info());
    let format = format_of(serde.and_then(|s| s.serialization_library()));
    let sp = serde.and_then(|s| s.parameters());
    let columns: Vec<Value> = sd
        .map(|s| s.columns())
        .unwrap_or_default()
        .iter()
        .map(|c| {
            let mut o = json!({"name": c.name(), "type": c.r#type()});
            if let Some(comment) = c.comment() {
                o["comment"] = json!(comment);
            }
            o
        })
        .collect();
    let all = t.parameters().cloned().unwrap_or_default();
    let (_, logical) = split_tags(ctx, all.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    // What the user set: everything but archkit's own and the
    // classification archkit derives from `format`.
    let user: serde_json::Map<String, Value> = all
        .iter()
        .filter(|(k, _)| !k.starts_with("archkit:") && k.as_str() != "classification")
        .map(|(k, v)| (k.clone(), json!(v)))
        .collect();
    let mut p = props([
        ("database_name", json!(db)),
        ("name", json!(t.name())),
        ("description", json!(t.description())),
        ("location", json!(sd.and_then(|s| s.location()))),
        ("columns", json!(columns)),
        ("format", json!(format)),
    ]);
    if format == "csv" {
        let delim = sp.and_then(|m| m.get("field.delim")).map(String::as_str).unwrap_or(",");
        p.insert("field_delimiter".into(), json!(delim));
        p.insert("escape_char".into(), json!(sp.and_then(|m| m.get("escape.delim"))));
    }
    if !user.is_empty() {
        p.insert("parameters".into(), Value::Object(user));
    }
    (p, logical)
}

impl Table {
    async fn arn(&self, db: &str, name: &str) -> Result<String> {
        let c = &self.0;
        Ok(format!("arn:aws:glue:{}:{}:table/{db}/{name}", c.region, c.account_id().await?))
    }

    async fn attrs(&self, db: &str, name: &str) -> Result<Attrs> {
        Ok(attrs([("name", json!(name)), ("arn", json!(self.arn(db, name).await?))]))
    }

    async fn get(&self, db: &str, name: &str) -> Result<Option<aws_sdk_glue::types::Table>> {
        Ok(send!(self.0.glue.get_table().database_name(db).name(name))
            .found()?
            .and_then(|t| t.table().cloned()))
    }
}

#[async_trait]
impl ResourceKind for Table {
    async fn read(&self, ctx: &Context, q: &ReadQuery) -> Result<Vec<Observed>> {
        let mut out = Vec::new();
        for (id, _) in &q.known {
            let Some((db, name)) = split(id) else { continue };
            let Some(t) = self.get(db, name).await? else { continue };
            let (p, logical) = observed(ctx, db, &t);
            out.push(Observed::new(id.clone(), logical, p).with(self.attrs(db, name).await?));
        }
        Ok(out)
    }

    async fn create(&self, ctx: &Context, req: &CreateRequest) -> Result<Created> {
        let p = &req.properties;
        let db = s(p, "database_name").unwrap_or_default();
        let name = table_name(ctx, &req.logical_id, p);
        let table = input(ctx, &req.logical_id, &name, p);
        match send!(self.0.glue.create_table().database_name(&db).table_input(table)) {
            Ok(_) => {}
            // A lost answer: ours if its parameters say so, else someone
            // else's table, never overwritten.
            Err(e) if e.code.as_deref() == Some("AlreadyExistsException") => {
                let live = self.get(&db, &name).await?;
                let (_, logical) = live.map(|t| observed(ctx, &db, &t)).unwrap_or_default();
                let clash = Clash {
                    what: format!("a Glue table {db}.{name}"),
                    field: "name",
                    code: "AlreadyExistsException",
                };
                clash.unless_ours(logical.id.as_deref(), &req.logical_id)?;
                let table = input(ctx, &req.logical_id, &name, p);
                send!(self.0.glue.update_table().database_name(&db).table_input(table))?;
            }
            Err(e) => return Err(e),
        }
        Ok(Created::new(format!("{db}|{name}")).with(self.attrs(&db, &name).await?))
    }

    async fn update(&self, ctx: &Context, id: &str, _old: &Props, new: &Props) -> Result<Attrs> {
        let Some((db, name)) = split(id) else {
            return Err(ProviderError::new(format!("`{id}` is not database|table")));
        };
        // UpdateTable replaces the parameters too: keep the logical id the
        // live table carries.
        let live = self.get(db, name).await?;
        let logical = live.and_then(|t| observed(ctx, db, &t).1.id).unwrap_or_default();
        let table = input(ctx, &logical, name, new);
        send!(self.0.glue.update_table().database_name(db).table_input(table))?;
        Ok(Attrs::new())
    }

    async fn delete(&self, _ctx: &Context, id: &str, _p: &Props) -> Result<()> {
        let Some((db, name)) = split(id) else { return Ok(()) };
        match send!(self.0.glue.delete_table().database_name(db).name(name)) {
            Err(e) if e.is_not_found() => Ok(()),
            r => r.map(|_| ()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_format_reads_back_as_itself() {
        for f in FORMATS {
            assert_eq!(format_of(Some(storage(f).0)), *f);
        }
        // The post's `ROW FORMAT DELIMITED` is LazySimpleSerDe.
        assert_eq!(storage("csv").0, "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe");
    }

    #[test]
    fn physical_ids_are_database_and_table() {
        assert_eq!(split("db|sales"), Some(("db", "sales")));
        assert_eq!(split("sales"), None);
    }
}

//! What every kind file uses: the provider's types, the schema's building
//! blocks, the shared value and tag helpers. `use crate::aws::prelude::*;`
//! keeps a kind file to what is particular to its API.

pub use async_trait::async_trait;
pub use serde_json::{Value, json};

pub use crate::aws::client::Clients;
pub use crate::aws::error::err;
pub use crate::aws::status::ready_when;
pub use crate::aws::values::{
    Clash, TagChanges, arn_attrs, attrs, b, create_tags, desired_tags, i, known_arn, list, props,
    s, set_changed, sort_sets, split_tags, str_value, string_map, sync_tags_with, unique_name,
};
pub use crate::price::{Cost, CostInput, Estimate};
pub use crate::provider::{
    Attrs, Context, CreateRequest, Created, Declared, Found, Logical, Observed, Op, Partial, Props,
    ProviderError, ReadQuery, ResourceKind, Result, TAG_ID, TAG_STACK, created_id,
};
pub(crate) use crate::schema::rows;
pub use crate::schema::{Attr, Prop, Refusal, Replacement, Schema, Sides, Type};

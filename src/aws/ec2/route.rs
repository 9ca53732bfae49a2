//! `aws.ec2.route_table`, `aws.ec2.route` and
//! `aws.ec2.route_table_association`.

use super::common::{filter, read_tagged, stack_items, stack_or_known, tag_spec};
use crate::aws::prelude::*;
use aws_sdk_ec2::types::ResourceType;

pub static ROUTE_TABLE: Schema = Schema::new("aws.ec2.route_table", "A route table of a VPC.")
    .properties(rows! {
        Prop::new("vpc_id", Type::String, "The VPC.").required().replace(),
    })
    .notes("Deleting a table takes its routes along, and first removes subnet associations that state does not record (a table found by `destroy --discover`).")
    .free();

pub static ROUTE: Schema = Schema::new(
    "aws.ec2.route",
    "One route of a route table. Not taggable: found by table and destination.",
)
.properties(rows! {
    Prop::new("route_table_id", Type::String, "The table.").required().replace(),
    Prop::new("destination_cidr_block", Type::Cidr, "Where the route leads.").required().replace(),
    Prop::new("gateway_id", Type::String, "An internet gateway target."),
    Prop::new("nat_gateway_id", Type::String, "A NAT gateway target."),
    Prop::new("vpc_endpoint_id", Type::String, "A gateway-load-balancer endpoint target."),
})
.exactly_one_of(&[&["gateway_id", "nat_gateway_id", "vpc_endpoint_id"]])
.notes("Found again by its table and destination.")
.untagged()
.free()
.replacement(Replacement::DeleteFirstIfKept(
    &["route_table_id", "destination_cidr_block"],
    "a table holds one route per destination",
));

pub static ROUTE_TABLE_ASSOCIATION: Schema = Schema::new(
    "aws.ec2.route_table_association",
    "Associates a subnet with a route table. Not taggable: found by subnet.",
)
.properties(rows! {
    Prop::new("subnet_id", Type::String, "The subnet.").required().replace(),
    Prop::new("route_table_id", Type::String, "The table.").required().replace(),
})
.notes("Found again by its subnet.")
.untagged()
.free()
.replacement(Replacement::DeleteFirstIfKept(
    &["subnet_id"],
    "a subnet is associated with one route table at a time",
));

kind! { RouteTable, ROUTE_TABLE, ec2_tags }

#[async_trait]
impl ResourceKind for RouteTable {
    async fn read(&self, ctx: &Context, q: &ReadQuery) -> Result<Vec<Observed>> {
        read_tagged(&self.0, ctx, q, |t: &aws_sdk_ec2::types::RouteTable| {
            Some((props([("vpc_id", str_value(t.vpc_id()))]), Attrs::new()))
        })
        .await
    }

    async fn create(&self, ctx: &Context, req: &CreateRequest) -> Result<Created> {
        let p = &req.properties;
        let out =
            send!(
                self.0.ec2.create_route_table().set_vpc_id(s(p, "vpc_id")).tag_specifications(
                    tag_spec(ResourceType::RouteTable, ctx, &req.logical_id, p)
                )
            )?;
        let id =
            created_id(out.route_table().and_then(|t| t.route_table_id()), self.schema().kind)?;
        Ok(Created::new(id))
    }

    /// Routes go with their table. Subnet associations do not (AWS and moto
    /// refuse with DependencyViolation): a table found by tags alone
    /// (`destroy --discover`) has associations no state recorded, so they
    /// are removed here first. Asked only after a refusal, so a destroy
    /// that already removed them costs no extra call.
    async fn delete(&self, _ctx: &Context, id: &str, _props: &Props) -> Result<()> {
        let ec2 = &self.0.ec2;
        match send!(ec2.delete_route_table().route_table_id(id)) {
            Err(e) if e.code.as_deref() == Some("DependencyViolation") => {
                let out = send!(ec2.describe_route_tables().route_table_ids(id))?;
                let held = out
                    .route_tables()
                    .iter()
                    .flat_map(|t| t.associations())
                    .filter(|a| a.main() != Some(true))
                    .filter_map(|a| a.route_table_association_id());
                for a in held {
                    match send!(ec2.disassociate_route_table().association_id(a)) {
                        Err(e) if !e.is_not_found() => return Err(e),
                        _ => {}
                    }
                }
                send!(ec2.delete_route_table().route_table_id(id))?;
            }
            other => {
                other?;
            }
        }
        Ok(())
    }
}

kind! {
    /// One route. Not taggable: its id is `<table>|<destination>` and it is
    /// read through its table.
    Route, ROUTE
}

fn route_id(table: &str, dest: &str) -> String {
    format!("{table}|{dest}")
}

#[async_trait]
impl ResourceKind for Route {
    /// One DescribeRouteTables for the tables of every recorded route.
    async fn read(&self, ctx: &Context, q: &ReadQuery) -> Result<Vec<Observed>> {
        if q.known.is_empty() {
            return Ok(Vec::new());
        }
        let mut tables: Vec<String> = q
            .known
            .iter()
            .filter_map(|(id, _)| id.split_once('|').map(|(t, _)| t.to_string()))
            .collect();
        tables.sort();
        tables.dedup();
        let found: Vec<aws_sdk_ec2::types::RouteTable> =
            stack_or_known(&self.0, ctx, tables).await?;
        let mut out = Vec::new();
        for t in &found {
            let Some(tid) = t.route_table_id() else {
                continue;
            };
            for r in t.routes() {
                let Some(dest) = r.destination_cidr_block() else {
                    continue;
                };
                let id = route_id(tid, dest);
                if !q.known.iter().any(|(k, _)| *k == id) {
                    continue;
                }
                let gw = r.gateway_id().filter(|g| !g.starts_with("vpce-") && *g != "local");
                let endpoint = r.gateway_id().filter(|g| g.starts_with("vpce-"));
                let mut p = props([
                    ("route_table_id", str_value(Some(tid))),
                    ("destination_cidr_block", str_value(Some(dest))),
                ]);
                if let Some(g) = gw {
                    p.insert("gateway_id".into(), str_value(Some(g)));
                }
                if let Some(n) = r.nat_gateway_id() {
                    p.insert("nat_gateway_id".into(), str_value(Some(n)));
                }
                if let Some(e) = endpoint {
                    p.insert("vpc_endpoint_id".into(), str_value(Some(e)));
                }
                out.push(Observed::new(id, None, p));
            }
        }
        Ok(out)
    }

    async fn create(&self, _ctx: &Context, req: &CreateRequest) -> Result<Created> {
        let p = &req.properties;
        let table = s(p, "route_table_id").unwrap_or_default();
        let dest = s(p, "destination_cidr_block").unwrap_or_default();
        let created = send!(
            self.0
                .ec2
                .create_route()
                .route_table_id(&table)
                .destination_cidr_block(&dest)
                .set_gateway_id(s(p, "gateway_id"))
                .set_nat_gateway_id(s(p, "nat_gateway_id"))
                .set_vpc_endpoint_id(s(p, "vpc_endpoint_id"))
        );
        match created {
            Ok(_) => {}
            // Routes carry no tags: one left by a run whose response was
            // lost is recognised by its table and destination, and pointed
            // at the wanted target.
            Err(e) if e.code.as_deref() == Some("RouteAlreadyExists") => {
                // The route exists: a failed replace (its answer lost too)
                // is finished as an update of it, not a create again.
                self.update(_ctx, "", p, p)
                    .await
                    .map_err(|e| e.partial(&route_id(&table, &dest)))?;
            }
            Err(e) => return Err(e),
        }
        Ok(Created::new(route_id(&table, &dest)))
    }

    /// A new target replaces the route in place.
    async fn update(&self, _ctx: &Context, _id: &str, _old: &Props, new: &Props) -> Result<Attrs> {
        send!(
            self.0
                .ec2
                .replace_route()
                .set_route_table_id(s(new, "route_table_id"))
                .set_destination_cidr_block(s(new, "destination_cidr_block"))
                .set_gateway_id(s(new, "gateway_id"))
                .set_nat_gateway_id(s(new, "nat_gateway_id"))
                .set_vpc_endpoint_id(s(new, "vpc_endpoint_id"))
        )?;
        Ok(Attrs::new())
    }

    async fn delete(&self, _ctx: &Context, id: &str, _props: &Props) -> Result<()> {
        let (table, dest) = id.split_once('|').unwrap_or((id, ""));
        let r = send!(self.0.ec2.delete_route().route_table_id(table).destination_cidr_block(dest));
        match r {
            Err(e) if e.code.as_deref() == Some("InvalidRoute.NotFound") => Ok(()),
            other => other.map(|_| ()),
        }
    }
}

kind! {
    /// A subnet's association with a route table; its id is the association
    /// id, read through the association filter.
    RouteTableAssociation, ROUTE_TABLE_ASSOCIATION
}

#[async_trait]
impl ResourceKind for RouteTableAssociation {
    async fn read(&self, ctx: &Context, q: &ReadQuery) -> Result<Vec<Observed>> {
        if q.known.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<String> = q.known.iter().map(|(id, _)| id.clone()).collect();
        // The stack's tables (shared with the table and route kinds); by
        // association id only for associations of other tables.
        let mut found: Vec<aws_sdk_ec2::types::RouteTable> = stack_items(&self.0, ctx).await?;
        let has = |t: &[aws_sdk_ec2::types::RouteTable], id: &str| {
            t.iter()
                .flat_map(|t| t.associations())
                .any(|a| a.route_table_association_id() == Some(id))
        };
        let missing: Vec<String> = ids.iter().filter(|i| !has(&found, i)).cloned().collect();
        if !missing.is_empty() {
            found.extend(
                send!(
                    self.0
                        .ec2
                        .describe_route_tables()
                        .filters(filter("association.route-table-association-id", missing))
                )?
                .route_tables
                .unwrap_or_default(),
            );
        }
        let mut out = Vec::new();
        for t in &found {
            for a in t.associations() {
                let Some(aid) = a.route_table_association_id() else {
                    continue;
                };
                if !ids.iter().any(|i| i == aid) {
                    continue;
                }
                out.push(Observed::new(
                    aid.to_string(),
                    None,
                    props([
                        ("subnet_id", str_value(a.subnet_id())),
                        ("route_table_id", str_value(t.route_table_id())),
                    ]),
                ));
            }
        }
        Ok(out)
    }

    async fn create(&self, _ctx: &Context, req: &CreateRequest) -> Result<Created> {
        let p = &req.properties;
        let (subnet, table) = (s(p, "subnet_id"), s(p, "route_table_id"));
        let asked = send!(
            self.0
                .ec2
                .associate_route_table()
                .set_subnet_id(subnet.clone())
                .set_route_table_id(table.clone())
        );
        let out = match asked {
            // The subnet is associated already: a create whose record a
            // crash lost (associations have no tags). With this table, it
            // is the association wanted. (moto answers a second association
            // with the existing id instead, so this path is AWS's alone.)
            Err(e) if e.code.as_deref() == Some("Resource.AlreadyAssociated") => {
                let subnets = filter("association.subnet-id", subnet.clone());
                let found = send!(self.0.ec2.describe_route_tables().filters(subnets))?;
                let existing = found
                    .route_tables()
                    .iter()
                    .filter(|t| t.route_table_id() == table.as_deref())
                    .flat_map(|t| t.associations())
                    .find(|a| a.subnet_id() == subnet.as_deref())
                    .and_then(|a| a.route_table_association_id().map(str::to_string));
                return existing.map(Created::new).ok_or(e);
            }
            other => other?,
        };
        Ok(Created::new(created_id(out.association_id(), self.schema().kind)?))
    }

    async fn delete(&self, _ctx: &Context, id: &str, _props: &Props) -> Result<()> {
        send!(self.0.ec2.disassociate_route_table().association_id(id))?;
        Ok(())
    }
}

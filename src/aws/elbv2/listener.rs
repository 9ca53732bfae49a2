//! `aws.elbv2.listener`: a port and protocol a load balancer answers on.

use crate::aws::prelude::*;
use crate::schema::Default;
use std::collections::BTreeSet;

use super::common::*;

pub static LISTENER: Schema = Schema::new("aws.elbv2.listener", "A listener: a port on a load balancer and its default action.")
    .properties(rows! {
        Prop::new("load_balancer_arn", Type::String, "The load balancer.").required().replace(),
        Prop::new("port", Type::Int, "The port to listen on.").range(1, 65535).required(),
        Prop::new("protocol", Type::Enum(PROTOCOLS), "The protocol.").default(Default::Str("HTTP")),
        Prop::new("certificate_arn", Type::String, "The server certificate, for HTTPS and TLS."),
        Prop::new("target_group_arn", Type::String, "Default action: forward to this target group."),
        Prop::new("fixed_response_status", Type::String, "Default action: answer with this status code (e.g. \"404\")."),
    })
    .attributes(rows! {
        Attr::new("arn", Type::String, "The listener's ARN."),
    })
    .exactly_one_of(&[&["target_group_arn", "fixed_response_status"]])
    .free()
    .replacement(Replacement::DeleteFirstIfKept(&["load_balancer_arn"], "a load balancer takes one listener per port"));

kind! { Listener, LISTENER }

#[async_trait]
impl ResourceKind for Listener {
    /// The stack's load balancers, their listeners, then the listeners' tags.
    fn read_rounds(&self) -> usize {
        3
    }

    async fn read(&self, ctx: &Context, q: &ReadQuery) -> Result<Vec<Observed>> {
        // Listeners are listed per load balancer: those state records,
        // plus, to find lost ones, the stack's load balancers.
        let mut lbs: BTreeSet<String> =
            q.known.iter().filter_map(|(_, p)| s(p, "load_balancer_arn")).collect();
        if q.discover {
            lbs.extend(stack_lbs(&self.0, ctx).await?);
        }
        let found = listeners_of(&self.0, lbs).await?;
        let tags = tags_of(
            &self.0,
            ctx,
            found.iter().filter_map(|l| l.listener_arn().map(str::to_string)),
        )
        .await?;
        let mut out = Vec::new();
        for l in found {
            let arn = l.listener_arn().unwrap_or_default().to_string();
            let Some((user, logical)) = owned(ctx, q, &arn, &tags) else {
                continue;
            };
            let p = props([
                ("load_balancer_arn", json!(l.load_balancer_arn())),
                ("port", json!(l.port())),
                ("protocol", json!(l.protocol().map(|v| v.as_str()))),
                (
                    "certificate_arn",
                    json!(l.certificates().first().and_then(|c| c.certificate_arn())),
                ),
                ("target_group_arn", json!(forward_target(l.default_actions()))),
                (
                    "fixed_response_status",
                    json!(
                        l.default_actions()
                            .iter()
                            .find_map(|a| a.fixed_response_config()?.status_code())
                    ),
                ),
                ("tags", user),
            ]);
            out.push(Observed::new(arn.clone(), logical, p).with(arn_attrs(&arn)));
        }
        Ok(out)
    }

    async fn create(&self, ctx: &Context, req: &CreateRequest) -> Result<Created> {
        let p = &req.properties;
        let certs = s(p, "certificate_arn").map(|c| {
            vec![
                aws_sdk_elasticloadbalancingv2::types::Certificate::builder()
                    .certificate_arn(c)
                    .build(),
            ]
        });
        let r = send!(
            self.0
                .elb
                .create_listener()
                .load_balancer_arn(s(p, "load_balancer_arn").unwrap_or_default())
                .port(i(p, "port").unwrap_or(80))
                .set_protocol(protocol(p, "protocol"))
                .set_certificates(certs)
                .default_actions(default_action(p))
                .set_tags(Some(tags(ctx, &req.logical_id, p)))
        )?;
        let arn =
            created_id(r.listeners().first().and_then(|l| l.listener_arn()), self.schema().kind)?;
        Ok(Created::new(arn.clone()).with(arn_attrs(&arn)))
    }

    async fn update(&self, _ctx: &Context, arn: &str, old: &Props, new: &Props) -> Result<Attrs> {
        let keys =
            ["port", "protocol", "certificate_arn", "target_group_arn", "fixed_response_status"];
        if keys.iter().any(|k| old.get(*k) != new.get(*k)) {
            let certs = s(new, "certificate_arn").map(|c| {
                vec![
                    aws_sdk_elasticloadbalancingv2::types::Certificate::builder()
                        .certificate_arn(c)
                        .build(),
                ]
            });
            send!(
                self.0
                    .elb
                    .modify_listener()
                    .listener_arn(arn)
                    .set_port(i(new, "port"))
                    .set_protocol(protocol(new, "protocol"))
                    .set_certificates(certs)
                    .default_actions(default_action(new))
            )?;
        }
        sync_tags(&self.0, arn, old, new).await?;
        Ok(Attrs::new())
    }

    async fn delete(&self, _ctx: &Context, arn: &str, _p: &Props) -> Result<()> {
        send!(self.0.elb.delete_listener().listener_arn(arn))?;
        Ok(())
    }
}

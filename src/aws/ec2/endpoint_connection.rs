//! `aws.ec2.vpc_endpoint_connection`: the provider's answer to a consumer's
//! interface endpoint on an endpoint service that requires acceptance
//! (`AcceptVpcEndpointConnections` / `RejectVpcEndpointConnections`), as a
//! step of the graph after the endpoint. CloudFormation has no such
//! resource; Terraform's is `aws_vpc_endpoint_connection_accepter`.
//!
//! The connection's state is read from the consumer's endpoint
//! (`DescribeVpcEndpoints`), not from `DescribeVpcEndpointConnections`:
//! the endpoint is in this stack, and moto implements only that call.
//! moto answers accept and reject with HTTP 500 and makes endpoints
//! `available` at once, so against moto an endpoint is always found
//! accepted already; the request and response handling of accept and
//! reject is unit-tested below instead.

use aws_sdk_ec2::types::UnsuccessfulItem;

use crate::aws::prelude::*;
use crate::schema::Default;

pub static VPC_ENDPOINT_CONNECTION: Schema = Schema::new(
    "aws.ec2.vpc_endpoint_connection",
    "The endpoint service's acceptance (or rejection) of a consumer's interface endpoint.",
)
.properties(rows! {
    Prop::new("service_id", Type::String, "The endpoint service (`vpce-svc-...`).").required().replace(),
    Prop::new("vpc_endpoint_id", Type::String, "The consumer's interface endpoint (`vpce-...`).").required().replace(),
    Prop::new("accept", Type::Bool, "Accept the connection (`false` rejects it).").default(Default::Bool(true)),
})
.attributes(rows! {
    Attr::new("state", Type::String, "The endpoint's state: `available`, `pending`, `pendingAcceptance` or `rejected`."),
})
.notes(
    "Removing it does not reject a connection already accepted: destroy deletes the consumer's \
     endpoint, which ends it. An endpoint already `available` (a service without acceptance, or \
     one accepted outside archkit) needs no call.",
)
.untagged()
    .free()
    .replacement(Replacement::DeleteFirstIfKept(&["service_id", "vpc_endpoint_id"], "the connection is the pair of service and endpoint"));

kind! { VpcEndpointConnection, VPC_ENDPOINT_CONNECTION }

/// `service_id|vpc_endpoint_id`.
fn split(id: &str) -> (&str, &str) {
    id.split_once('|').unwrap_or((id, ""))
}

/// What an endpoint's state says about its connection: accepted (on its
/// way or there), rejected, or waiting for the provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    Accepted,
    Rejected,
    Pending,
    Gone,
}

pub fn answer(state: Option<&str>) -> Answer {
    match state.map(str::to_ascii_lowercase).as_deref() {
        Some("available" | "pending") => Answer::Accepted,
        Some("rejected") => Answer::Rejected,
        Some("pendingacceptance") => Answer::Pending,
        _ => Answer::Gone,
    }
}

/// Accept and reject answer 200 with the endpoints they could not act on:
/// any such item is this endpoint's error.
pub fn unsuccessful(verb: &str, endpoint: &str, items: &[UnsuccessfulItem]) -> Result<()> {
    match items.iter().find(|i| i.resource_id().is_none_or(|r| r == endpoint)) {
        None => Ok(()),
        Some(i) => {
            let (code, message) = i
                .error()
                .map(|e| (e.code().unwrap_or("Unknown"), e.message().unwrap_or("")))
                .unwrap_or(("Unknown", ""));
            let mut e = ProviderError::new(format!(
                "{verb} of endpoint {endpoint} failed: {code}: {message}"
            ));
            e.code = Some(code.to_string());
            Err(e)
        }
    }
}

impl VpcEndpointConnection {
    async fn state(&self, endpoint: &str) -> Result<Option<String>> {
        let call = self.0.ec2.describe_vpc_endpoints().vpc_endpoint_ids(endpoint);
        let Some(out) = send!(call).found()? else { return Ok(None) };
        Ok(out.vpc_endpoints().first().and_then(|e| e.state()).map(|s| s.as_str().to_string()))
    }

    /// Accepts or rejects, as `accept` says, when the endpoint waits.
    async fn answer(&self, service: &str, endpoint: &str, accept: bool) -> Result<()> {
        let state = self.state(endpoint).await?;
        let now = answer(state.as_deref());
        if now == Answer::Gone {
            return Err(ProviderError::new(format!(
                "endpoint {endpoint} of service {service} does not exist"
            )));
        }
        if accept && now != Answer::Accepted {
            let out = send!(
                self.0
                    .ec2
                    .accept_vpc_endpoint_connections()
                    .service_id(service)
                    .vpc_endpoint_ids(endpoint)
            )?;
            unsuccessful("acceptance", endpoint, out.unsuccessful())?;
        } else if !accept && now != Answer::Rejected {
            let out = send!(
                self.0
                    .ec2
                    .reject_vpc_endpoint_connections()
                    .service_id(service)
                    .vpc_endpoint_ids(endpoint)
            )?;
            unsuccessful("rejection", endpoint, out.unsuccessful())?;
        }
        Ok(())
    }
}

#[async_trait]
impl ResourceKind for VpcEndpointConnection {
    async fn read(&self, _ctx: &Context, q: &ReadQuery) -> Result<Vec<Observed>> {
        let mut out = Vec::new();
        for (id, _) in &q.known {
            let (service, endpoint) = split(id);
            let state = self.state(endpoint).await?;
            let accept = match answer(state.as_deref()) {
                Answer::Accepted => true,
                Answer::Rejected => false,
                // Waiting: neither answer was given; the plan repeats it.
                Answer::Pending => continue,
                Answer::Gone => continue,
            };
            let p = props([
                ("service_id", json!(service)),
                ("vpc_endpoint_id", json!(endpoint)),
                ("accept", json!(accept)),
            ]);
            out.push(Observed::new(id.clone(), None, p).with(attrs([("state", json!(state))])));
        }
        Ok(out)
    }

    async fn create(&self, _ctx: &Context, req: &CreateRequest) -> Result<Created> {
        let p = &req.properties;
        let (service, endpoint) =
            (s(p, "service_id").unwrap_or_default(), s(p, "vpc_endpoint_id").unwrap_or_default());
        self.answer(&service, &endpoint, b(p, "accept").unwrap_or(true)).await?;
        Ok(Created::new(format!("{service}|{endpoint}")))
    }

    async fn update(&self, _ctx: &Context, id: &str, _old: &Props, new: &Props) -> Result<Attrs> {
        let (service, endpoint) = split(id);
        self.answer(service, endpoint, b(new, "accept").unwrap_or(true)).await?;
        Ok(Attrs::new())
    }

    /// See the notes: the endpoint's own deletion ends the connection.
    async fn delete(&self, _ctx: &Context, _id: &str, _props: &Props) -> Result<()> {
        Ok(())
    }

    /// Accepted endpoints become `available` within a minute or so.
    async fn poll_ready(&self, _ctx: &Context, id: &str) -> Result<Option<Attrs>> {
        let (_, endpoint) = split(id);
        let state = self.state(endpoint).await?;
        match state.as_deref().map(str::to_ascii_lowercase).as_deref() {
            Some("available" | "rejected") => Ok(Some(attrs([("state", json!(state))]))),
            Some("failed") => Err(ProviderError::new(format!("endpoint {endpoint} failed"))),
            _ => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    //! moto answers accept and reject with HTTP 500: their answers'
    //! handling is tested here, on the SDK's own types.
    use super::*;
    use aws_sdk_ec2::types::UnsuccessfulItemError;

    fn item(resource: &str, code: &str, message: &str) -> UnsuccessfulItem {
        UnsuccessfulItem::builder()
            .resource_id(resource)
            .error(UnsuccessfulItemError::builder().code(code).message(message).build())
            .build()
    }

    #[test]
    fn an_answer_with_no_unsuccessful_item_is_success() {
        assert!(unsuccessful("acceptance", "vpce-1", &[]).is_ok());
    }

    #[test]
    fn an_unsuccessful_item_for_the_endpoint_is_its_error_with_code_and_message() {
        let items = [item("vpce-1", "InvalidVpcEndpoint.NotPending", "not pending acceptance")];
        let e = unsuccessful("acceptance", "vpce-1", &items).unwrap_err();
        assert_eq!(e.code.as_deref(), Some("InvalidVpcEndpoint.NotPending"));
        assert!(e.message.contains("acceptance of endpoint vpce-1 failed"), "{}", e.message);
        assert!(e.message.contains("not pending acceptance"), "{}", e.message);
        // Another endpoint's failure is not this one's.
        assert!(unsuccessful("rejection", "vpce-2", &items).is_ok());
    }

    #[test]
    fn endpoint_states_map_to_the_connection_answer() {
        assert_eq!(answer(Some("pendingAcceptance")), Answer::Pending);
        assert_eq!(answer(Some("pending")), Answer::Accepted);
        assert_eq!(answer(Some("Available")), Answer::Accepted);
        assert_eq!(answer(Some("rejected")), Answer::Rejected);
        assert_eq!(answer(Some("deleted")), Answer::Gone);
        assert_eq!(answer(None), Answer::Gone);
    }

    #[test]
    fn ids_hold_the_service_and_the_endpoint() {
        assert_eq!(split("vpce-svc-1|vpce-2"), ("vpce-svc-1", "vpce-2"));
    }
}

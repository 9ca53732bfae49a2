//! Prices and the running cost of one resource: the types a kind's cost
//! rule (`Schema::cost`) works with, kept apart from any cloud so the plan
//! can add costs up without knowing which prices exist.
//!
//! A rule sees the resource's known properties and those of what it
//! depends on (a Fargate service's task definition holds its size), looks
//! its unit prices up by name in the region's [`PriceTable`], and answers
//! with fixed hourly charges plus the usage-based prices it cannot guess.
//! A price the table lacks makes the resource's cost unknown, never zero.

use serde::Serialize;

/// Property values by name (the provider's `Props`, named here so this
/// module depends on nothing else of archkit).
pub type Props = serde_json::Map<String, serde_json::Value>;

/// Hours in a month, as AWS's own calculator counts them.
pub const HOURS_PER_MONTH: f64 = 730.0;

/// One region's list prices, with where they come from.
#[derive(Debug)]
pub struct PriceTable {
    pub region: &'static str,
    /// When the prices were last checked (`YYYY-MM`).
    pub date: &'static str,
    pub source: &'static str,
    /// Unit prices in USD by name (`nat_gateway_hour`).
    pub prices: &'static [(&'static str, f64)],
}

impl PriceTable {
    pub fn get(&self, name: &str) -> Option<f64> {
        self.prices.iter().find(|(n, _)| *n == name).map(|(_, p)| *p)
    }
}

/// What a cost rule sees of one resource.
pub struct CostInput<'a> {
    pub prices: &'static PriceTable,
    /// Its known property values (values known only after apply absent).
    pub props: &'a Props,
    /// Its direct dependencies: kind and known properties.
    pub deps: &'a [(&'a str, &'a Props)],
}

impl CostInput<'_> {
    /// A unit price, or the reason the cost is unknown.
    pub fn price(&self, name: &str) -> Result<f64, String> {
        self.prices
            .get(name)
            .ok_or_else(|| format!("no price for {name} in {}", self.prices.region))
    }

    /// The known properties of the first dependency of `kind`.
    /// The properties of the dependency of kind `kind` (named by its
    /// schema's field, `LAUNCH_TEMPLATE.kind`, so a renamed kind does not
    /// compile).
    pub fn dep(&self, kind: &str) -> Option<&Props> {
        self.deps.iter().find(|(k, _)| *k == kind).map(|(_, p)| *p)
    }

    pub fn str(&self, key: &str) -> Option<&str> {
        self.props.get(key).and_then(|v| v.as_str())
    }

    pub fn int(&self, key: &str) -> Option<i64> {
        self.props.get(key).and_then(|v| v.as_i64())
    }

    pub fn len(&self, key: &str) -> Option<usize> {
        self.props.get(key).and_then(|v| v.as_array()).map(Vec::len)
    }
}

/// A fixed running charge.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Charge {
    pub what: String,
    /// USD per hour.
    pub hourly: f64,
}

/// A price that depends on use, listed as it is, never guessed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Usage {
    pub what: &'static str,
    /// USD per `unit`.
    pub price: f64,
    pub unit: &'static str,
}

/// The running cost of one resource.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Estimate {
    pub charges: Vec<Charge>,
    pub usage: Vec<Usage>,
}

impl Estimate {
    /// No running charge (a VPC, a role).
    pub fn free() -> Estimate {
        Estimate::default()
    }

    pub fn charge(mut self, what: impl Into<String>, hourly: f64) -> Estimate {
        self.charges.push(Charge { what: what.into(), hourly });
        self
    }

    /// A fixed charge AWS bills by the month (a secret, provisioned
    /// storage), as its hourly share.
    pub fn monthly(self, what: impl Into<String>, per_month: f64) -> Estimate {
        self.charge(what, per_month / HOURS_PER_MONTH)
    }

    pub fn usage(mut self, what: &'static str, price: f64, unit: &'static str) -> Estimate {
        self.usage.push(Usage { what, price, unit });
        self
    }

    pub fn hourly(&self) -> f64 {
        // From +0.0: an empty float sum is -0.0.
        self.charges.iter().fold(0.0, |sum, c| sum + c.hourly)
    }
}

/// A cost rule's answer: an estimate, or why there is none.
pub type Cost = Result<Estimate, String>;

/// A kind's cost rule.
pub type CostFn = fn(&CostInput) -> Cost;

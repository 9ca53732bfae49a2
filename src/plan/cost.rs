//! The running cost of a plan: each resource's estimate from its kind's
//! cost rule and the region's list prices, the stack's total after the
//! plan, and what the plan adds (or, for a destroy, stops).
//!
//! Totals add only what is known; resources whose price is unknown are
//! named in `unknown`, never counted as zero, and usage-based prices (per
//! GB, per request) are listed beside the totals, never guessed.

use std::collections::HashMap;

use serde::Serialize;

use serde_json::Value;

use super::{Action, Change, Plan};
use crate::blueprint::Blueprint;
use crate::blueprint::expr::Expr;
use crate::price::{Charge, CostInput, Estimate, HOURS_PER_MONTH, Usage};
use crate::provider::{Props, Registry};

/// The `cost` object of `plan --json` (its fields are never renamed).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CostReport {
    pub currency: &'static str,
    /// The stack's known running cost once the plan is applied, USD per
    /// hour (null when archkit has no prices for the region).
    pub hourly: Option<f64>,
    /// The same per month of 730 hours.
    pub monthly: Option<f64>,
    /// Resources whose cost is unknown: not in the totals.
    pub unknown: Vec<String>,
    /// Every resource of the stack after the plan, and those it deletes.
    pub resources: Vec<ResourceCost>,
    /// What the plan changes in the known running cost (negative: what
    /// it stops); like the totals, it leaves out the `unknown` resources.
    pub change: Delta,
    pub region: String,
    /// Where the prices come from; null when there are none for `region`.
    pub prices: Option<PriceSource>,
    /// Usage-based prices of the stack's resources, once each.
    pub usage: Vec<Usage>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Delta {
    pub hourly: Option<f64>,
    pub monthly: Option<f64>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PriceSource {
    pub date: &'static str,
    pub source: &'static str,
}

/// One resource's running cost.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ResourceCost {
    pub id: String,
    pub kind: String,
    pub action: Action,
    /// The change's symbol (a replacement's shows its order).
    #[serde(skip)]
    pub symbol: &'static str,
    /// Its own cost, USD per hour (after the change; before it, for a
    /// delete); null when unknown.
    pub hourly: Option<f64>,
    pub monthly: Option<f64>,
    pub charges: Vec<Charge>,
    pub usage: Vec<Usage>,
    /// Why its cost is unknown.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unknown_because: Option<String>,
}

impl CostReport {
    /// The stack's known hourly cost before the plan.
    pub fn before_hourly(&self) -> Option<f64> {
        Some(self.hourly? - self.change.hourly?)
    }

    pub fn has_prices(&self) -> bool {
        self.prices.is_some()
    }
}

fn round_hourly(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

/// An hourly cost over a month of 730 hours, in cents.
pub fn monthly(hourly: f64) -> f64 {
    (hourly * HOURS_PER_MONTH * 100.0).round() / 100.0
}

/// The known values of a change's side: `after` (what the plan wants) or
/// `before` (what exists). A list the blueprint writes item by item keeps
/// its length when its items are known only after apply (a load
/// balancer's two subnets cost two addresses before their ids exist).
fn side(c: &Change, after: bool, bp: Option<&Blueprint>) -> Props {
    if !after {
        return c.before.clone();
    }
    let written = bp.and_then(|bp| bp.resources.get(&c.id));
    c.after
        .iter()
        .filter_map(|(k, v)| match (v, written.and_then(|r| r.properties.get(k))) {
            (Some(v), _) => Some((k.clone(), v.clone())),
            (None, Some(Expr::List(items))) => {
                Some((k.clone(), Value::Array(vec![Value::Null; items.len()])))
            }
            (None, _) => None,
        })
        .collect()
}

/// Works out the cost of `plan` in `region`; `bp` is the blueprint it was
/// planned from, when there is one.
pub fn estimate(
    plan: &Plan,
    registry: &Registry,
    region: &str,
    bp: Option<&Blueprint>,
) -> CostReport {
    let table = registry.prices(region);
    let exists_after = |c: &Change| c.action != Action::Delete;
    let exists_before = |c: &Change| c.action != Action::Create;
    // Each id's resource in the stack (an orphan deleted under the same id
    // is not what its dependents use).
    let mut by_id: HashMap<&str, &Change> = HashMap::new();
    for c in &plan.changes {
        let e = by_id.entry(c.id.as_str()).or_insert(c);
        if e.action == Action::Delete && c.action != Action::Delete {
            *e = c;
        }
    }
    // One side of one resource: its estimate, or why there is none.
    let cost_of = |c: &Change, after: bool| -> Result<Estimate, String> {
        let table = table.ok_or_else(|| format!("no prices for {region}"))?;
        let rule = registry
            .schema(&c.kind)
            .and_then(|s| s.cost)
            .ok_or_else(|| format!("no price for {}", c.kind))?;
        let props = side(c, after, bp);
        let dep_props: Vec<(&str, Props)> = c
            .depends_on
            .iter()
            .filter_map(|d| by_id.get(d.as_str()))
            .map(|d| (d.kind.as_str(), side(d, after && exists_after(d), bp)))
            .collect();
        let deps: Vec<(&str, &Props)> = dep_props.iter().map(|(k, p)| (*k, p)).collect();
        rule(&CostInput { prices: table, props: &props, deps: &deps })
    };
    let (mut after_total, mut before_total) = (0.0, 0.0);
    let mut unknown = Vec::new();
    let mut resources = Vec::new();
    let mut usage: Vec<Usage> = Vec::new();
    for c in &plan.changes {
        let after = exists_after(c).then(|| cost_of(c, true));
        let before = exists_before(c).then(|| {
            // An unchanged resource costs the same on both sides.
            if c.action == Action::NoOp { after.clone().unwrap() } else { cost_of(c, false) }
        });
        match &after {
            Some(Ok(e)) => after_total += e.hourly(),
            Some(Err(_)) => unknown.push(c.id.clone()),
            None => {}
        }
        if let Some(Ok(e)) = &before {
            before_total += e.hourly();
        }
        let shown = after.or(before).expect("a change exists before or after");
        let (hourly, charges, use_, why) = match shown {
            Ok(e) => (Some(round_hourly(e.hourly())), e.charges, e.usage, None),
            Err(why) => (None, Vec::new(), Vec::new(), Some(why)),
        };
        for u in &use_ {
            if !usage.contains(u) {
                usage.push(u.clone());
            }
        }
        resources.push(ResourceCost {
            id: c.id.clone(),
            kind: c.kind.clone(),
            action: c.action,
            symbol: c.symbol(),
            hourly,
            monthly: hourly.map(monthly),
            charges: charges
                .into_iter()
                .map(|ch| Charge { hourly: round_hourly(ch.hourly), ..ch })
                .collect(),
            usage: use_,
            unknown_because: why,
        });
    }
    let known = table.is_some();
    let delta = round_hourly(after_total - before_total);
    CostReport {
        currency: "USD",
        hourly: known.then(|| round_hourly(after_total)),
        monthly: known.then(|| monthly(after_total)),
        unknown,
        resources,
        change: Delta {
            hourly: known.then_some(delta),
            monthly: known.then(|| monthly(after_total - before_total)),
        },
        region: region.to_string(),
        prices: table.map(|t| PriceSource { date: t.date, source: t.source }),
        usage,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::price::PriceTable;
    use crate::schema::Schema;

    static PRICES: PriceTable = PriceTable {
        region: "r-1",
        date: "2026-10",
        source: "test",
        prices: &[("gw_hour", 0.045)],
    };
    static GATEWAY: Schema = Schema::new("t.gateway", "Priced.")
        .cost(|c| Ok(Estimate::free().charge("gateway", c.price("gw_hour")?)));
    static PRICELESS: Schema = Schema::new("t.priceless", "No cost rule.");
    static MISSING: Schema = Schema::new("t.missing", "A price the table lacks.")
        .cost(|c| Ok(Estimate::free().charge("x", c.price("x_hour")?)));

    fn registry() -> Registry {
        Registry::new([&GATEWAY, &PRICELESS, &MISSING])
            .with_prices(|r| (r == "r-1").then_some(&PRICES))
    }

    fn plan(changes: Vec<Change>) -> Plan {
        Plan {
            stack: "s".into(),
            blueprint: "b".into(),
            lineage: String::new(),
            serial: 0,
            destroy: false,
            expires_at: None,
            changes,
            forget: Vec::new(),
            lookups: std::collections::BTreeMap::new(),
        }
    }

    fn create(id: &str, kind: &str) -> Change {
        Change { action: Action::Create, ..Change::empty(id, kind) }
    }

    #[test]
    fn unknown_prices_are_named_and_never_counted_as_zero() {
        let p = plan(vec![
            create("gw", "t.gateway"),
            create("a", "t.priceless"),
            create("b", "t.missing"),
        ]);
        let r = estimate(&p, &registry(), "r-1", None);
        assert_eq!(r.hourly, Some(0.045));
        assert_eq!(r.monthly, Some(32.85));
        assert_eq!(r.unknown, ["a", "b"]);
        let b = r.resources.iter().find(|x| x.id == "b").unwrap();
        assert_eq!(b.hourly, None);
        assert_eq!(b.unknown_because.as_deref(), Some("no price for x_hour in r-1"));
        assert_eq!(r.change.hourly, Some(0.045));
    }

    #[test]
    fn a_delete_stops_its_cost_and_an_unchanged_resource_keeps_it() {
        let kept = Change { action: Action::NoOp, ..Change::empty("kept", "t.gateway") };
        let gone = Change::delete("gone", "t.gateway", "gw-1", Props::new());
        let r = estimate(&plan(vec![kept, gone]), &registry(), "r-1", None);
        assert_eq!(r.hourly, Some(0.045));
        assert_eq!(r.change.hourly, Some(-0.045));
        assert_eq!(r.before_hourly(), Some(0.09));
    }

    #[test]
    fn a_region_without_prices_says_so_and_totals_nothing() {
        let r = estimate(&plan(vec![create("gw", "t.gateway")]), &registry(), "elsewhere", None);
        assert_eq!((r.hourly, r.monthly, r.change.hourly), (None, None, None));
        assert!(r.prices.is_none());
        assert_eq!(r.unknown, ["gw"]);
    }
}

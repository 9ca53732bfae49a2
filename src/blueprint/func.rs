//! The functions a `${...}` may call: address arithmetic with Terraform's
//! semantics, so a blueprint derives its subnets from its VPC parameter
//! instead of hard-coding ranges that a `--var vpc_cidr=...` then breaks.
//!
//! `cidrsubnet(prefix, newbits, netnum)` is the `netnum`-th network of
//! `prefix` extended by `newbits` bits; `cidrhost(prefix, hostnum)` the
//! `hostnum`-th address of `prefix` (negative counts back from the end).
//! `element(list, index)` picks one item of a list, such as the first DNS
//! name of an interface endpoint (`${element(endpoint.dns_entries, 0)}`),
//! wrapping past the end as Terraform's does. All three give text and are
//! pure: they run at plan time once their arguments are known
//! and again at apply time for arguments known only then.

use std::net::Ipv4Addr;

use ipnet::Ipv4Net;
use serde_json::Value as J;

/// A function a blueprint can call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Func {
    CidrSubnet,
    CidrHost,
    Element,
}

/// Every function, for lookups and the help text of an unknown name.
pub const FUNCS: &[Func] = &[Func::CidrSubnet, Func::CidrHost, Func::Element];

impl Func {
    pub fn name(self) -> &'static str {
        match self {
            Func::CidrSubnet => "cidrsubnet",
            Func::CidrHost => "cidrhost",
            Func::Element => "element",
        }
    }

    pub fn by_name(name: &str) -> Option<Func> {
        FUNCS.iter().copied().find(|f| f.name() == name)
    }

    /// The argument names, in order (their count is the arity).
    pub fn params(self) -> &'static [&'static str] {
        match self {
            Func::CidrSubnet => &["prefix", "newbits", "netnum"],
            Func::CidrHost => &["prefix", "hostnum"],
            Func::Element => &["list", "index"],
        }
    }

    /// `cidrsubnet(prefix, newbits, netnum)`.
    pub fn signature(self) -> String {
        format!("{}({})", self.name(), self.params().join(", "))
    }

    /// Applies the function to known argument values. The caller checked
    /// the count of arguments.
    pub fn eval(self, args: &[J]) -> Result<J, CallError> {
        if self == Func::Element {
            let index = number(args.get(1), 1, "index")?;
            return element(args.first(), index);
        }
        let prefix = prefix(args.first())?;
        match self {
            Func::CidrSubnet => {
                let newbits = number(args.get(1), 1, "newbits")?;
                let netnum = number(args.get(2), 2, "netnum")?;
                cidrsubnet(prefix, newbits, netnum).map(|n| J::from(n.to_string()))
            }
            Func::CidrHost => {
                let hostnum = number(args.get(1), 1, "hostnum")?;
                cidrhost(prefix, hostnum).map(|a| J::from(a.to_string()))
            }
            Func::Element => unreachable!("handled above"),
        }
    }
}

/// Why a call failed, and which argument (0-based) is at fault.
#[derive(Debug, Clone, PartialEq)]
pub struct CallError {
    pub arg: usize,
    pub message: String,
    pub help: String,
}

fn fail(arg: usize, message: String, help: impl Into<String>) -> CallError {
    CallError { arg, message, help: help.into() }
}

/// An IPv4 prefix; host bits are ignored, as Terraform does.
fn prefix(v: Option<&J>) -> Result<Ipv4Net, CallError> {
    let text = match v {
        Some(J::String(s)) => s.as_str(),
        Some(other) => {
            return Err(fail(0, format!("prefix {other} is not text"), PREFIX_HELP));
        }
        None => return Err(fail(0, "no prefix given".into(), PREFIX_HELP)),
    };
    text.trim()
        .parse::<Ipv4Net>()
        .map(|n| n.trunc())
        .map_err(|_| fail(0, format!("prefix `{text}` is not an IPv4 CIDR block"), PREFIX_HELP))
}

const PREFIX_HELP: &str = "the prefix is an IPv4 CIDR block such as `10.0.0.0/16`";

/// A whole number, written as one or as text of one (a `for_each` item).
fn number(v: Option<&J>, arg: usize, name: &str) -> Result<i64, CallError> {
    let n = match v {
        Some(J::Number(n)) => n.as_i64(),
        Some(J::String(s)) => s.trim().parse::<i64>().ok(),
        _ => None,
    };
    n.ok_or_else(|| {
        let shown = v.map_or_else(|| "nothing".to_string(), |v| v.to_string());
        fail(
            arg,
            format!("{name} must be a whole number, found {shown}"),
            format!("write {name} as an integer, e.g. 1"),
        )
    })
}

/// The `netnum`-th subnet of `base` with `newbits` more prefix bits.
pub fn cidrsubnet(base: Ipv4Net, newbits: i64, netnum: i64) -> Result<Ipv4Net, CallError> {
    let len = i64::from(base.prefix_len());
    let room = 32 - len;
    if !(0..=room).contains(&newbits) {
        return Err(fail(
            1,
            format!(
                "extending /{len} by {newbits} bits gives /{}, which is not an IPv4 prefix",
                len + newbits
            ),
            format!("newbits is 0 to {room} for a /{len} prefix"),
        ));
    }
    let count = 1u64 << newbits;
    if netnum < 0 || netnum as u64 >= count {
        return Err(fail(
            2,
            format!(
                "a /{len} extended by {newbits} bits has {count} subnets (0 to {}), so there is no subnet {netnum}",
                count - 1
            ),
            format!("netnum is 0 to {} here, or give newbits more bits", count - 1),
        ));
    }
    let newlen = len + newbits;
    let start = u64::from(u32::from(base.network())) + ((netnum as u64) << (32 - newlen));
    let addr = Ipv4Addr::from(start as u32);
    Ok(Ipv4Net::new(addr, newlen as u8).expect("prefix length checked"))
}

/// The `hostnum`-th address of `base`, counting back from its last
/// address when negative.
pub fn cidrhost(base: Ipv4Net, hostnum: i64) -> Result<Ipv4Addr, CallError> {
    let len = base.prefix_len();
    let size = 1u64 << (32 - u32::from(len));
    let offset =
        if hostnum >= 0 { hostnum as u64 } else { size.wrapping_sub(hostnum.unsigned_abs()) };
    if hostnum.unsigned_abs() > size || (hostnum >= 0 && offset >= size) {
        return Err(fail(
            1,
            format!("a /{len} has {size} addresses, so there is no host {hostnum}"),
            format!("hostnum is 0 to {}, or -1 to -{size} from the end", size - 1),
        ));
    }
    Ok(Ipv4Addr::from((u64::from(u32::from(base.network())) + offset) as u32))
}

/// Where `element` picks in a list of `len` items (not empty): `index`
/// (not negative) wrapping past the end, as Terraform's does.
pub fn wrap(index: i64, len: usize) -> usize {
    (index as u64 % len as u64) as usize
}

/// The `index`-th item of a list of text, wrapping past the end
/// (Terraform's `element`).
fn element(list: Option<&J>, index: i64) -> Result<J, CallError> {
    let Some(J::Array(items)) = list else {
        let shown = list.map_or_else(|| "nothing".to_string(), |v| v.to_string());
        return Err(fail(
            0,
            format!("{shown} is not a list"),
            "give a list, e.g. an endpoint's `dns_entries`",
        ));
    };
    if items.is_empty() {
        return Err(fail(
            0,
            "the list is empty, so it has no element".into(),
            "check that the list has items",
        ));
    }
    if index < 0 {
        return Err(fail(
            1,
            format!("index {index} is negative"),
            "index is 0 or more (it wraps past the end)",
        ));
    }
    match &items[wrap(index, items.len())] {
        J::String(s) => Ok(J::from(s.clone())),
        other => Err(fail(
            0,
            format!("item {index} is {other}, not text"),
            "element picks from a list of text",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn net(s: &str) -> Ipv4Net {
        s.parse().unwrap()
    }

    fn subnet(p: &str, newbits: i64, netnum: i64) -> Result<String, usize> {
        cidrsubnet(net(p), newbits, netnum).map(|n| n.to_string()).map_err(|e| e.arg)
    }

    fn host(p: &str, hostnum: i64) -> Result<String, usize> {
        cidrhost(net(p), hostnum).map(|n| n.to_string()).map_err(|e| e.arg)
    }

    #[test]
    fn cidrsubnet_matches_terraform() {
        // The examples of Terraform's cidrsubnet documentation.
        assert_eq!(subnet("172.16.0.0/12", 4, 2), Ok("172.18.0.0/16".into()));
        assert_eq!(subnet("10.1.2.0/24", 4, 15), Ok("10.1.2.240/28".into()));
        assert_eq!(subnet("10.50.0.0/16", 8, 0), Ok("10.50.0.0/24".into()));
        assert_eq!(subnet("10.50.0.0/16", 8, 255), Ok("10.50.255.0/24".into()));
        assert_eq!(subnet("10.0.0.0/8", 0, 0), Ok("10.0.0.0/8".into()));
        assert_eq!(subnet("0.0.0.0/0", 32, 7), Ok("0.0.0.7/32".into()));
        // Host bits of the prefix are ignored.
        assert_eq!(subnet("10.0.0.1/16", 8, 1), Ok("10.0.1.0/24".into()));
    }

    #[test]
    fn cidrsubnet_refuses_what_does_not_fit() {
        // Bits past /32: the newbits argument is at fault.
        assert_eq!(subnet("10.0.0.0/16", 17, 0), Err(1));
        assert_eq!(subnet("10.0.0.0/16", -1, 0), Err(1));
        // A subnet number past the extension.
        assert_eq!(subnet("10.0.0.0/16", 8, 256), Err(2));
        assert_eq!(subnet("10.0.0.0/16", 8, -1), Err(2));
        assert_eq!(subnet("10.0.0.0/16", 0, 1), Err(2));
    }

    #[test]
    fn cidrhost_matches_terraform() {
        assert_eq!(host("10.12.112.0/20", 16), Ok("10.12.112.16".into()));
        assert_eq!(host("10.12.112.0/20", 268), Ok("10.12.113.12".into()));
        assert_eq!(host("10.0.0.0/24", -1), Ok("10.0.0.255".into()));
        assert_eq!(host("10.0.0.0/24", -256), Ok("10.0.0.0".into()));
        assert_eq!(host("10.0.0.0/24", 256), Err(1));
        assert_eq!(host("10.0.0.0/24", -257), Err(1));
        assert_eq!(host("1.2.3.4/32", 0), Ok("1.2.3.4".into()));
        assert_eq!(host("0.0.0.0/0", -1), Ok("255.255.255.255".into()));
    }

    #[test]
    fn arguments_are_checked_by_type() {
        let call = |f: Func, args: &[J]| f.eval(args).map_err(|e| e.arg);
        assert_eq!(
            call(Func::CidrSubnet, &[J::from("10.0.0.0/16"), J::from(8), J::from("3")]),
            Ok(J::from("10.0.3.0/24"))
        );
        assert_eq!(call(Func::CidrSubnet, &[J::from("10.0.0/16"), J::from(8), J::from(3)]), Err(0));
        assert_eq!(
            call(Func::CidrSubnet, &[J::from("10.0.0.0/16"), J::from(8.5), J::from(3)]),
            Err(1)
        );
        assert_eq!(call(Func::CidrHost, &[J::from(5), J::from(1)]), Err(0));
        assert_eq!(call(Func::CidrHost, &[J::from("10.0.0.0/16"), J::from("x")]), Err(1));
    }

    #[test]
    fn element_picks_and_wraps_as_terraform_does() {
        let call = |args: &[J]| Func::Element.eval(args).map_err(|e| e.arg);
        let list = serde_json::json!(["a.example", "b.example"]);
        assert_eq!(call(&[list.clone(), J::from(0)]), Ok(J::from("a.example")));
        assert_eq!(call(&[list.clone(), J::from("1")]), Ok(J::from("b.example")));
        assert_eq!(call(&[list.clone(), J::from(3)]), Ok(J::from("b.example")));
        assert_eq!(call(&[list.clone(), J::from(-1)]), Err(1));
        assert_eq!(call(&[serde_json::json!([]), J::from(0)]), Err(0));
        assert_eq!(call(&[J::from("a"), J::from(0)]), Err(0));
        assert_eq!(call(&[serde_json::json!([1]), J::from(0)]), Err(0));
    }

    proptest! {
        /// Every subnet lies inside its prefix, has the extended length,
        /// and distinct numbers give disjoint subnets.
        #[test]
        fn subnets_are_inside_and_apart(
            addr in any::<u32>(), len in 0u8..=32, newbits in 0i64..=8, a in 0i64..256, b in 0i64..256,
        ) {
            let base = Ipv4Net::new(Ipv4Addr::from(addr), len).unwrap().trunc();
            let room = 32 - i64::from(len);
            prop_assume!(newbits <= room);
            let count = 1i64 << newbits;
            let (a, b) = (a % count, b % count);
            let sa = cidrsubnet(base, newbits, a).unwrap();
            let sb = cidrsubnet(base, newbits, b).unwrap();
            prop_assert!(base.contains(&sa));
            prop_assert_eq!(i64::from(sa.prefix_len()), i64::from(len) + newbits);
            prop_assert_eq!(a == b, sa.contains(&sb.network()));
            prop_assert_eq!(cidrhost(sa, 0).unwrap(), sa.network());
            prop_assert_eq!(cidrhost(sa, -1).unwrap(), sa.broadcast());
        }
    }
}

//! What an organiser token lets its holder do, and on which tickets.

use std::fmt;

/// One thing an organiser token may be allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    /// Create tickets (which then belong to the token's organiser).
    CreateTickets,
    /// Read purchases and holds of the organiser's tickets.
    ReadOrders,
    /// Cancel any purchase and release any hold of the organiser's tickets.
    ChangeOrders,
    /// Buy, hold and confirm for a buyer named in the request (the box
    /// office).
    SellForBuyer,
    /// Read `/metrics` (every organiser's counts: for operators).
    ReadMetrics,
}

impl Permission {
    pub const ALL: [Self; 5] = [
        Self::CreateTickets,
        Self::ReadOrders,
        Self::ChangeOrders,
        Self::SellForBuyer,
        Self::ReadMetrics,
    ];

    /// The name the CLI and the docs use.
    pub fn name(self) -> &'static str {
        match self {
            Self::CreateTickets => "create_tickets",
            Self::ReadOrders => "read_orders",
            Self::ChangeOrders => "change_orders",
            Self::SellForBuyer => "sell_for_buyer",
            Self::ReadMetrics => "read_metrics",
        }
    }
}

/// The set of permissions a token has; never empty. One flag per
/// permission, as the table keeps them (one column each).
#[allow(clippy::struct_excessive_bools)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Permissions {
    pub create_tickets: bool,
    pub read_orders: bool,
    pub change_orders: bool,
    pub sell_for_buyer: bool,
    pub read_metrics: bool,
}

impl Permissions {
    /// Parses a comma-separated list such as `create_tickets,read_orders`.
    pub fn parse(list: &str) -> Result<Self, String> {
        let mut permissions = Self::default();
        for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            let permission = Permission::ALL
                .into_iter()
                .find(|p| p.name() == name)
                .ok_or_else(|| format!("unknown permission {name:?}; {}", Self::choices()))?;
            permissions.set(permission);
        }
        if permissions == Self::default() {
            return Err(format!("no permission given; {}", Self::choices()));
        }
        Ok(permissions)
    }

    fn choices() -> String {
        let names: Vec<&str> = Permission::ALL.iter().map(|p| p.name()).collect();
        format!("choose from {}", names.join(", "))
    }

    fn set(&mut self, permission: Permission) {
        *self.flag(permission) = true;
    }

    fn flag(&mut self, permission: Permission) -> &mut bool {
        match permission {
            Permission::CreateTickets => &mut self.create_tickets,
            Permission::ReadOrders => &mut self.read_orders,
            Permission::ChangeOrders => &mut self.change_orders,
            Permission::SellForBuyer => &mut self.sell_for_buyer,
            Permission::ReadMetrics => &mut self.read_metrics,
        }
    }

    pub fn allows(self, permission: Permission) -> bool {
        match permission {
            Permission::CreateTickets => self.create_tickets,
            Permission::ReadOrders => self.read_orders,
            Permission::ChangeOrders => self.change_orders,
            Permission::SellForBuyer => self.sell_for_buyer,
            Permission::ReadMetrics => self.read_metrics,
        }
    }
}

impl fmt::Display for Permissions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = Permission::ALL
            .into_iter()
            .filter(|p| self.allows(*p))
            .map(Permission::name)
            .collect();
        f.write_str(&names.join(","))
    }
}

/// Which of its organiser's tickets a token acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TicketScope {
    /// Every ticket of the organiser's, those created later included.
    AllOfTheOrganisers,
    /// Only these (sorted, without repeats, never empty).
    Listed(Vec<i64>),
}

impl TicketScope {
    /// Parses `1,2,3`: positive ticket ids.
    pub fn parse_list(list: &str) -> Result<Self, String> {
        let mut ids = list
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| match s.parse::<i64>() {
                Ok(id) if id > 0 => Ok(id),
                _ => Err(format!("{s:?} is not a ticket id (a positive integer)")),
            })
            .collect::<Result<Vec<_>, _>>()?;
        if ids.is_empty() {
            return Err("no ticket id given".to_owned());
        }
        ids.sort_unstable();
        ids.dedup();
        Ok(Self::Listed(ids))
    }

    /// The stored form: NULL for all tickets.
    pub fn to_column(&self) -> Option<Vec<i64>> {
        match self {
            Self::AllOfTheOrganisers => None,
            Self::Listed(ids) => Some(ids.clone()),
        }
    }

    pub fn from_column(ids: Option<Vec<i64>>) -> Self {
        ids.map_or(Self::AllOfTheOrganisers, Self::Listed)
    }

    /// Whether the token may act on `ticket`, given that the ticket is its
    /// organiser's (ownership is checked apart).
    pub fn covers(&self, ticket: i64) -> bool {
        match self {
            Self::AllOfTheOrganisers => true,
            Self::Listed(ids) => ids.binary_search(&ticket).is_ok(),
        }
    }
}

impl fmt::Display for TicketScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::AllOfTheOrganisers => f.write_str("all"),
            Self::Listed(ids) => {
                let ids: Vec<String> = ids.iter().map(ToString::to_string).collect();
                f.write_str(&ids.join(","))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permissions_parse_from_their_names_and_print_back() {
        let p = Permissions::parse("read_orders, create_tickets").expect("valid");
        assert!(p.create_tickets && p.read_orders && !p.change_orders && !p.sell_for_buyer);
        assert_eq!(p.to_string(), "create_tickets,read_orders");
        let all = Permissions::parse(
            "create_tickets,read_orders,change_orders,sell_for_buyer,read_metrics",
        )
        .expect("valid");
        assert!(Permission::ALL.into_iter().all(|p| all.allows(p)));
    }

    #[test]
    fn unknown_or_no_permissions_are_refused_with_the_choices() {
        for bad in [
            "",
            ",",
            "admin",
            "read_orders,write_everything",
            "READ_ORDERS",
        ] {
            let error = Permissions::parse(bad).expect_err(bad);
            assert!(error.contains("sell_for_buyer"), "{error}");
        }
    }

    #[test]
    fn a_listed_scope_is_sorted_without_repeats_and_covers_only_its_tickets() {
        let scope = TicketScope::parse_list("3, 1,3").expect("valid");
        assert_eq!(scope, TicketScope::Listed(vec![1, 3]));
        assert!(scope.covers(1) && scope.covers(3) && !scope.covers(2));
        assert_eq!(scope.to_string(), "1,3");
        assert!(TicketScope::AllOfTheOrganisers.covers(42));
        for bad in ["", "0", "-1", "x", "1,,y", "99999999999999999999"] {
            assert!(TicketScope::parse_list(bad).is_err(), "{bad:?}");
        }
    }
}

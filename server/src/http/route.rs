use hyper::Method;

/// The routes, as far as the edge needs to know them: to check bodies, to
/// explain the generated server's refusals and to label metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route<'a> {
    /// `/tickets`
    Tickets,
    /// `/ticketsuser`, the deprecated alias of `/tickets`.
    TicketsLegacy,
    /// `/tickets/{id}`
    Ticket { id: &'a str },
    /// `/tickets/{id}/purchases`
    Purchases { id: &'a str },
    /// `/tickets/{id}/purchases/{purchase_id}`
    Purchase { id: &'a str, purchase_id: &'a str },
    /// `/tickets/{id}/purchases/{purchase_id}/cancel`
    CancelPurchase { id: &'a str, purchase_id: &'a str },
    /// `/tickets/{id}/holds`
    Holds { id: &'a str },
    /// `/tickets/{id}/holds/{hold_id}`
    Hold { id: &'a str, hold_id: &'a str },
    /// `/tickets/{id}/holds/{hold_id}/confirm`
    ConfirmHold { id: &'a str, hold_id: &'a str },
    /// A route without parameters that only answers GET, by its path.
    Fixed(&'static str),
    /// Anything else.
    Other,
}

/// The routes without parameters that only answer GET.
const FIXED_GET_ROUTES: &[&str] = &[
    "/healthz",
    "/livez",
    "/metrics",
    "/openapi.yaml",
    "/openapi.json",
    "/docs",
];

impl<'a> Route<'a> {
    pub fn of(path: &'a str) -> Self {
        if let Some(fixed) = FIXED_GET_ROUTES.iter().find(|fixed| **fixed == path) {
            return Self::Fixed(fixed);
        }
        let segments: Vec<&str> = path.strip_prefix('/').unwrap_or(path).split('/').collect();
        match segments.as_slice() {
            ["tickets"] => Self::Tickets,
            ["ticketsuser"] => Self::TicketsLegacy,
            ["tickets", id] => Self::Ticket { id },
            ["tickets", id, "purchases"] => Self::Purchases { id },
            ["tickets", id, "purchases", purchase_id] => Self::Purchase { id, purchase_id },
            ["tickets", id, "purchases", purchase_id, "cancel"] => {
                Self::CancelPurchase { id, purchase_id }
            }
            ["tickets", id, "holds"] => Self::Holds { id },
            ["tickets", id, "holds", hold_id] => Self::Hold { id, hold_id },
            ["tickets", id, "holds", hold_id, "confirm"] => Self::ConfirmHold { id, hold_id },
            ["docs", "assets", _] => Self::Fixed("/docs/assets/{file}"),
            _ => Self::Other,
        }
    }

    /// The route as the spec writes it, a label with few values.
    pub fn template(self) -> &'static str {
        match self {
            Self::Tickets => "/tickets",
            Self::TicketsLegacy => "/ticketsuser",
            Self::Ticket { .. } => "/tickets/{id}",
            Self::Purchases { .. } => "/tickets/{id}/purchases",
            Self::Purchase { .. } => "/tickets/{id}/purchases/{purchase_id}",
            Self::CancelPurchase { .. } => "/tickets/{id}/purchases/{purchase_id}/cancel",
            Self::Holds { .. } => "/tickets/{id}/holds",
            Self::Hold { .. } => "/tickets/{id}/holds/{hold_id}",
            Self::ConfirmHold { .. } => "/tickets/{id}/holds/{hold_id}/confirm",
            Self::Fixed(path) => path,
            Self::Other => "unmatched",
        }
    }

    /// Whether a POST to this route carries a JSON body.
    pub fn takes_json_body(self) -> bool {
        matches!(
            self,
            Self::Tickets | Self::TicketsLegacy | Self::Purchases { .. } | Self::Holds { .. }
        )
    }

    /// The methods the route answers, for a 405's `Allow`. HEAD is
    /// answered wherever GET is, as HTTP requires.
    pub fn allowed_methods(self) -> Option<&'static str> {
        match self {
            Self::Tickets
            | Self::TicketsLegacy
            | Self::Holds { .. }
            | Self::ConfirmHold { .. }
            | Self::CancelPurchase { .. } => Some("POST"),
            Self::Purchases { .. } => Some("GET, HEAD, POST"),
            Self::Hold { .. } => Some("GET, HEAD, DELETE"),
            Self::Ticket { .. } | Self::Purchase { .. } | Self::Fixed(_) => Some("GET, HEAD"),
            Self::Other => None,
        }
    }

    /// Whether `method` on this route is an operation that needs
    /// credentials (the spec's `security` is not empty): every operation on
    /// orders, creating tickets and `/metrics`. Other methods go on to the
    /// generated server's 405.
    pub fn needs_credentials(self, method: &Method) -> bool {
        match self {
            Self::Tickets
            | Self::TicketsLegacy
            | Self::Holds { .. }
            | Self::ConfirmHold { .. }
            | Self::CancelPurchase { .. } => method == Method::POST,
            Self::Purchases { .. } => method == Method::POST || method == Method::GET,
            Self::Hold { .. } => method == Method::GET || method == Method::DELETE,
            Self::Purchase { .. } => method == Method::GET,
            Self::Fixed(path) => path == "/metrics" && method == Method::GET,
            Self::Ticket { .. } | Self::Other => false,
        }
    }

    /// Whether `method` on this route buys or holds for a buyer: what the
    /// per-buyer rate limit counts.
    pub fn is_buyers_order(self, method: &Method) -> bool {
        matches!(
            self,
            Self::Purchases { .. } | Self::Holds { .. } | Self::ConfirmHold { .. }
        ) && method == Method::POST
    }

    /// Whether the route answers GET (and so HEAD).
    pub fn answers_get(self) -> bool {
        self.allowed_methods()
            .is_some_and(|methods| methods.starts_with("GET"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case("/tickets", Route::Tickets, "/tickets")]
    #[case("/ticketsuser", Route::TicketsLegacy, "/ticketsuser")]
    #[case("/tickets/7", Route::Ticket { id: "7" }, "/tickets/{id}")]
    #[case("/tickets/x/purchases", Route::Purchases { id: "x" }, "/tickets/{id}/purchases")]
    #[case("/tickets/7/purchases/u", Route::Purchase { id: "7", purchase_id: "u" }, "/tickets/{id}/purchases/{purchase_id}")]
    #[case("/healthz", Route::Fixed("/healthz"), "/healthz")]
    #[case(
        "/docs/assets/x.css",
        Route::Fixed("/docs/assets/{file}"),
        "/docs/assets/{file}"
    )]
    #[case("/tickets/7/purchases/u/cancel", Route::CancelPurchase { id: "7", purchase_id: "u" }, "/tickets/{id}/purchases/{purchase_id}/cancel")]
    #[case("/tickets/7/holds", Route::Holds { id: "7" }, "/tickets/{id}/holds")]
    #[case("/tickets/7/holds/h", Route::Hold { id: "7", hold_id: "h" }, "/tickets/{id}/holds/{hold_id}")]
    #[case("/tickets/7/holds/h/confirm", Route::ConfirmHold { id: "7", hold_id: "h" }, "/tickets/{id}/holds/{hold_id}/confirm")]
    #[case("/tickets/7/purchases/u/v", Route::Other, "unmatched")]
    // A dot in a route is a dot: the generated server's patterns leave it
    // unescaped, so the edge decides what exists.
    #[case("/openapiXjson", Route::Other, "unmatched")]
    #[case("/openapi_yaml", Route::Other, "unmatched")]
    #[case("/healthz/", Route::Other, "unmatched")]
    fn routes_are_recognised_and_labelled(
        #[case] path: &str,
        #[case] route: Route<'static>,
        #[case] template: &str,
    ) {
        assert_eq!(Route::of(path), route);
        assert_eq!(route.template(), template);
    }

    /// The operations the spec declares with `security`, by route and method.
    #[rstest]
    #[case("/tickets", Method::POST, true)]
    #[case("/ticketsuser", Method::POST, true)]
    #[case("/tickets/7", Method::GET, false)]
    #[case("/tickets/7/purchases", Method::POST, true)]
    #[case("/tickets/7/purchases", Method::GET, true)]
    #[case("/tickets/7/purchases", Method::DELETE, false)]
    #[case("/tickets/7/purchases/u", Method::GET, true)]
    #[case("/tickets/7/purchases/u/cancel", Method::POST, true)]
    #[case("/tickets/7/holds", Method::POST, true)]
    #[case("/tickets/7/holds/h", Method::GET, true)]
    #[case("/tickets/7/holds/h", Method::DELETE, true)]
    #[case("/tickets/7/holds/h/confirm", Method::POST, true)]
    #[case("/metrics", Method::GET, true)]
    #[case("/healthz", Method::GET, false)]
    #[case("/livez", Method::GET, false)]
    #[case("/openapi.json", Method::GET, false)]
    #[case("/docs", Method::GET, false)]
    fn operations_that_need_credentials_are_known(
        #[case] path: &str,
        #[case] method: Method,
        #[case] needs: bool,
    ) {
        assert_eq!(Route::of(path).needs_credentials(&method), needs);
    }
}

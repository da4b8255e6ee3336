use swagger::auth::{Authorization, Scopes};
use swagger::{Has, XSpanIdString};

use crate::auth::Caller;

/// What the generated server carries with each request: its id and who is
/// calling.
#[derive(Debug, Clone, Default)]
pub struct RequestContext {
    request_id: XSpanIdString,
    /// What the generated server checks before an operation that needs
    /// credentials: `Some` only when the edge authenticated the caller (or
    /// the server runs open). Swagger's `AllowAllAuthenticator`, which
    /// would give any token a subject, is never used.
    authorization: Option<Authorization>,
    caller: Caller,
}

impl RequestContext {
    pub fn new(request_id: String, caller: Caller) -> Self {
        let authorization = match &caller {
            Caller::Anonymous => None,
            caller => Some(Authorization {
                subject: caller.audit_name(),
                // Permissions are checked by the operations, not by the
                // generated server's scope check, which `All` passes.
                scopes: Scopes::All,
                issuer: None,
            }),
        };
        Self {
            request_id: XSpanIdString(request_id),
            authorization,
            caller,
        }
    }
}

impl Has<XSpanIdString> for RequestContext {
    fn get(&self) -> &XSpanIdString {
        &self.request_id
    }

    fn get_mut(&mut self) -> &mut XSpanIdString {
        &mut self.request_id
    }

    fn set(&mut self, value: XSpanIdString) {
        self.request_id = value;
    }
}

impl Has<Option<Authorization>> for RequestContext {
    fn get(&self) -> &Option<Authorization> {
        &self.authorization
    }

    fn get_mut(&mut self) -> &mut Option<Authorization> {
        &mut self.authorization
    }

    fn set(&mut self, value: Option<Authorization>) {
        self.authorization = value;
    }
}

impl Has<Caller> for RequestContext {
    fn get(&self) -> &Caller {
        &self.caller
    }

    fn get_mut(&mut self) -> &mut Caller {
        &mut self.caller
    }

    fn set(&mut self, value: Caller) {
        self.caller = value;
    }
}

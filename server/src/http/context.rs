use swagger::{Has, XSpanIdString};

/// What the generated server carries with each request: its id.
#[derive(Debug, Clone, Default)]
pub struct RequestContext {
    request_id: XSpanIdString,
}

impl RequestContext {
    pub fn new(request_id: String) -> Self {
        Self {
            request_id: XSpanIdString(request_id),
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

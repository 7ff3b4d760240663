//! Outgoing plain-HTTP requests (fleet queries, notification webhooks, `meterd report --url`).

use crate::config::fleet::Target;

impl Target {
    /// The `Host` header value.
    pub fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

//! Switchyard's JSON access-log line, byte for byte as `switchyard-proxy` writes it: the fields
//! of its `AccessRecord` in declaration order, compact `serde_json` output.

use super::sink::{Put, Sink};

/// The keys of an access-log line, in the order the proxy writes them.
pub const ACCESS_FIELDS: [&str; 17] = [
    "ts",
    "request_id",
    "client",
    "listener",
    "method",
    "path",
    "host",
    "protocol",
    "status",
    "pool",
    "server",
    "server_address",
    "upstream_status",
    "duration_ms",
    "bytes_sent",
    "attempts",
    "error",
];

/// One request through Switchyard.
pub(crate) struct AccessLine<'a> {
    pub(crate) ts_us: u64,
    pub(crate) request_id: &'a [u8],
    pub(crate) client_ip: &'a str,
    pub(crate) client_port: u64,
    pub(crate) listener: &'a str,
    pub(crate) method: &'a str,
    pub(crate) path: &'a [u8],
    pub(crate) host: &'a str,
    pub(crate) protocol: &'a str,
    pub(crate) status: u16,
    pub(crate) pool: &'a str,
    pub(crate) server: &'a str,
    pub(crate) server_address: &'a str,
    pub(crate) upstream_status: Option<u16>,
    pub(crate) duration_us: u64,
    pub(crate) bytes_sent: u64,
    pub(crate) attempts: u32,
    pub(crate) error: Option<&'a str>,
}

impl AccessLine<'_> {
    /// Appends the line to `sink`. Every string here is plain ASCII without quotes or
    /// backslashes, so nothing needs escaping.
    pub(crate) fn write(&self, sink: &mut Sink) {
        let b = sink.record(self.ts_us);
        b.s("{\"ts\":\"")
            .iso_ts(self.ts_us)
            .s("\",\"request_id\":\"");
        b.extend_from_slice(self.request_id);
        b.s("\",\"client\":\"")
            .s(self.client_ip)
            .s(":")
            .u(self.client_port)
            .s("\",\"listener\":\"")
            .s(self.listener)
            .s("\",\"method\":\"")
            .s(self.method)
            .s("\",\"path\":\"");
        b.extend_from_slice(self.path);
        b.s("\",\"host\":\"")
            .s(self.host)
            .s("\",\"protocol\":\"")
            .s(self.protocol)
            .s("\",\"status\":")
            .u(u64::from(self.status))
            .s(",\"pool\":\"")
            .s(self.pool)
            .s("\",\"server\":\"")
            .s(self.server)
            .s("\",\"server_address\":\"")
            .s(self.server_address)
            .s("\",\"upstream_status\":");
        match self.upstream_status {
            Some(s) => b.u(u64::from(s)),
            None => b.s("null"),
        };
        b.s(",\"duration_ms\":")
            .ms3(self.duration_us)
            .s(",\"bytes_sent\":")
            .u(self.bytes_sent)
            .s(",\"attempts\":")
            .u(u64::from(self.attempts))
            .s(",\"error\":");
        match self.error {
            Some(e) => b.s("\"").s(e).s("\"}\n"),
            None => b.s("null}\n"),
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_has_exactly_the_proxy_fields_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("access.log");
        let mut sink = Sink::create(&path).unwrap();
        AccessLine {
            ts_us: 1_763_029_395_123_456,
            request_id: b"0123456789abcdef0123456789abcdef",
            client_ip: "10.0.1.11",
            client_port: 41234,
            listener: "internal",
            method: "GET",
            path: b"/inventory/items/4821",
            host: "inventory.shop.internal",
            protocol: "HTTP/1.1",
            status: 404,
            pool: "inventory",
            server: "inventory-4",
            server_address: "10.0.3.14:8080",
            upstream_status: Some(404),
            duration_us: 1_200,
            bytes_sent: 162,
            attempts: 1,
            error: None,
        }
        .write(&mut sink);
        sink.finish().unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys, ACCESS_FIELDS);
        assert_eq!(v["ts"], "2025-11-13T10:23:15.123Z");
        assert_eq!(v["duration_ms"], 1.2);
        // Re-serializing gives the same bytes: the line is what serde_json would write.
        assert_eq!(serde_json::to_string(&v).unwrap() + "\n", text);
    }
}

//! The front ends' error records: the detailed multi-line form the DESIGN.md convention asks
//! for (service, request, expected, received, server, reason), the vague seed form, and the
//! leaking front end's database timeouts.

use super::shop::Shop;
use super::sink::Put;
use super::traffic::{Answer, Call, CallPath, Page, DB_WAIT_US};
use super::world::Service;

impl Shop {
    /// `ERROR: database connection timeout` with its details, stamped `end`.
    pub(crate) fn db_timeout_record(
        &mut self,
        fe: usize,
        page: Page,
        id: &[u8],
        path: &[u8],
        end: u64,
        in_use: u64,
    ) {
        let name = &self.hosts[fe].name;
        let b = self.logs[fe].plain(end, "ERROR");
        b.s("database connection timeout\n  Server: ")
            .s(name)
            .s("\n  Query: ");
        match page {
            Page::Product(item) => {
                b.s("SELECT id, name, price, description FROM products WHERE id = ")
                    .u(item);
            }
            Page::Cart => {
                b.s("SELECT product_id, quantity FROM cart_items WHERE session_id = '");
                b.extend_from_slice(&id[..16]);
                b.s("'");
            }
            Page::Checkout => {
                b.s("INSERT INTO orders (user_id, total_cents, status) VALUES (")
                    .u(u64::from(id[0]) * 211 + u64::from(id[1]))
                    .s(", ")
                    .u(u64::from(id[2]) * 97 + 990)
                    .s(", 'pending')");
            }
            _ => {
                b.s("SELECT id, name, price FROM products WHERE featured = true LIMIT 12");
            }
        }
        b.s("\n  Connection pool: ")
            .u(in_use)
            .s("/100 connections in use\n  Waited: ")
            .u(DB_WAIT_US / 1000)
            .s(" ms for a free connection (pool wait timeout ")
            .u(DB_WAIT_US / 1000)
            .s(" ms)\n  Request: ");
        b.s(page.method()).s(" ");
        b.extend_from_slice(path);
        b.s(" request_id=");
        b.extend_from_slice(id);
        b.push(b'\n');
    }

    /// The front end's error record for a call that failed.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn call_failed(
        &mut self,
        fe: usize,
        service: Service,
        method: &str,
        cp: CallPath,
        id: &[u8],
        call: &Call,
        page: Page,
        path: &[u8],
        t: u64,
    ) {
        if call.answer == Answer::WrongService && self.vague_errors {
            self.logs[fe]
                .plain(t, "ERROR")
                .s("invalid response from server\n");
            return;
        }
        let mut cpath = std::mem::take(&mut self.scratch_call_path);
        cpath.clear();
        cp.write(&mut cpath, id);
        let server = &self.hosts[call.server];
        let b = self.logs[fe].plain(t, "ERROR");
        let svc = service.name();
        match call.answer {
            Answer::WrongService => b.s(svc).s(" returned an invalid response for "),
            Answer::Timeout => b.s(svc).s(" call timed out for "),
            _ => b.s(svc).s(" call failed for "),
        };
        b.s(page.method()).s(" ");
        b.extend_from_slice(path);
        b.s("\n  Service: ")
            .s(svc)
            .s(" (pool ")
            .s(svc)
            .s(", via switchyard)\n  Request: ");
        b.s(method).s(" ");
        b.extend_from_slice(&cpath);
        b.s(" request_id=");
        b.extend_from_slice(id);
        b.s("\n  Expected: ");
        match call.answer {
            Answer::Timeout => b.s("an answer within 2000 ms"),
            _ if method == "POST" => b.s("201 application/json"),
            _ => b.s("200 application/json"),
        };
        b.s("\n  Received: ");
        match call.answer {
            Answer::WrongService => {
                b.s("404 text/html, 162 bytes: <html><head><title>404 Not Found</title></head>...")
            }
            Answer::Timeout => b.s("504 from switchyard after 2000 ms (upstream timeout)"),
            Answer::Reset => b.s("502 from switchyard (connection reset by upstream)"),
            _ => b.s("502 application/json: {\"error\":\"payment provider unavailable\"}"),
        };
        b.s("\n  Server: ")
            .s(&server.name)
            .s(" (")
            .s(&server.address)
            .s(")\n  Reason: ");
        match call.answer {
            Answer::WrongService => b
                .s("the answer is an HTML error page, not the ")
                .s(svc)
                .s(" API; the server may not run the ")
                .s(svc)
                .s(" service"),
            Answer::Timeout => b.s("the server did not answer in time"),
            Answer::Reset => b.s("the server closed the connection before answering"),
            _ => b.s("the payment provider is unavailable"),
        };
        b.push(b'\n');
        self.scratch_call_path = cpath;
    }

    pub(crate) fn panic_record(&mut self, fe: usize, id: &[u8], page: Page, path: &[u8], t: u64) {
        let b = self.logs[fe].plain(t, "ERROR");
        b.s("unhandled error in handler ").s(page.method()).s(" ");
        b.extend_from_slice(path);
        b.s(" request_id=");
        b.extend_from_slice(id);
        b.s("\n  panic: runtime error: index out of range [3] with length 3\n")
            .s("  at shop/render.(*Template).Execute (render/template.go:88)\n")
            .s("  at shop/http.(*Router).ServeHTTP (http/router.go:213)\n");
    }
}

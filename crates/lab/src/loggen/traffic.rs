//! Client requests and the calls they make: a request enters Switchyard's `web` listener, goes
//! to a front end, which calls `auth`, `inventory` and `billing` back through Switchyard's
//! `internal` listener, passing the request id on. Every hop writes its line: the access log
//! for each pass through Switchyard, the backend's `app.log`, the front end's `app.log`.

use super::access::AccessLine;
use super::rng::Rng;
use super::shop::{Shop, SEARCH_TERMS};
use super::sink::Put;
use super::world::Service;

/// What the client asked for.
#[derive(Clone, Copy)]
pub(crate) enum Page {
    Product(u64),
    Search(usize),
    Cart,
    Checkout,
    Home,
    Static,
}

impl Page {
    fn random(rng: &mut Rng) -> Page {
        match rng.below(1000) {
            0..=549 => Page::Product(rng.range(1000, 99_999)),
            550..=699 => Page::Search(rng.below(SEARCH_TERMS.len() as u64) as usize),
            700..=779 => Page::Cart,
            780..=829 => Page::Checkout,
            830..=929 => Page::Home,
            _ => Page::Static,
        }
    }

    pub(crate) fn method(self) -> &'static str {
        match self {
            Page::Checkout => "POST",
            _ => "GET",
        }
    }

    fn write_path(self, b: &mut Vec<u8>) {
        match self {
            Page::Product(id) => b.s("/products/").u(id),
            Page::Search(q) => b.s("/search?q=").s(SEARCH_TERMS[q]),
            Page::Cart => b.s("/cart"),
            Page::Checkout => b.s("/checkout"),
            Page::Home => b.s("/"),
            Page::Static => b.s("/static/app.3f9c2e71.js"),
        };
    }

    fn needs_auth(self, rng: &mut Rng) -> bool {
        match self {
            Page::Cart | Page::Checkout => true,
            Page::Product(_) => rng.below(2) == 0,
            _ => false,
        }
    }

    fn queries_db(self) -> bool {
        !matches!(self, Page::Search(_) | Page::Static)
    }

    fn calls_inventory(self) -> bool {
        !matches!(self, Page::Home | Page::Static)
    }
}

/// The client request a call is made for.
#[derive(Clone, Copy)]
struct Caller<'a> {
    /// The front end making the call.
    fe: usize,
    id: &'a [u8],
    page: Page,
    path: &'a [u8],
    fault: Option<Fault>,
}

/// An unrelated failure, part of the baseline error rate.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Fault {
    InventoryTimeout,
    AuthReset,
    PaymentProvider,
    Panic,
}

/// How a call through Switchyard ended.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Answer {
    Ok,
    /// The item does not exist (a legitimate 404 from a real inventory server).
    NotFound,
    /// The bad pool member's HTML 404 page.
    WrongService,
    Timeout,
    Reset,
    Upstream502,
}

pub(crate) struct Call {
    pub(crate) end_us: u64,
    pub(crate) server: usize,
    pub(crate) answer: Answer,
}

/// Milliseconds Switchyard waits for an upstream before answering 504.
const UPSTREAM_TIMEOUT_US: u64 = 2_000_000;
/// Milliseconds a front end waits for a database connection.
pub(crate) const DB_WAIT_US: u64 = 5_000_000;

impl Shop {
    /// One client request starting at `t0`, with every line it causes.
    pub(crate) fn client_request(&mut self, t0: u64) {
        let mut id = [0u8; 32];
        self.rng.request_id(&mut id);
        let page = Page::random(&mut self.rng);
        let fe = self.next_server(Service::Frontend, t0);
        let mut path = std::mem::take(&mut self.scratch_path);
        path.clear();
        page.write_path(&mut path);

        let fault =
            self.rng
                .chance(self.baseline_error_rate)
                .then(|| match (self.rng.below(10), page) {
                    (0..=3, p) if p.calls_inventory() => Fault::InventoryTimeout,
                    (4..=5, p) if p.needs_auth(&mut self.rng) => Fault::AuthReset,
                    (6..=8, Page::Checkout) => Fault::PaymentProvider,
                    _ => Fault::Panic,
                });

        let mut t = t0 + self.rng.range(150, 450);
        let mut status = 200u16;
        let mut failed = false;

        let by = Caller {
            fe,
            id: &id,
            page,
            path: &path,
            fault,
        };

        if page.needs_auth(&mut self.rng) || fault == Some(Fault::AuthReset) {
            (t, failed) = self.needed_call(by, Service::Auth, "GET", CallPath::Auth, t, (100, 600));
            if failed {
                status = 502;
            }
        }
        if !failed && page.queries_db() {
            match self.db_query(fe, page, &id, &path, t) {
                Ok(end) => t = end,
                Err(end) => {
                    t = end;
                    status = 500;
                    failed = true;
                }
            }
        }
        if !failed && page.calls_inventory() {
            let (method, cp) = match page {
                Page::Product(item) => ("GET", CallPath::Item(item)),
                Page::Search(q) => ("GET", CallPath::Search(q)),
                Page::Cart => ("GET", CallPath::CartItems),
                _ => ("POST", CallPath::Reserve),
            };
            let call = self.call(fe, Service::Inventory, method, cp, &id, t, fault);
            t = call.end_us + self.rng.range(200, 1500);
            match call.answer {
                Answer::Ok => {}
                Answer::NotFound => status = 404,
                _ => {
                    self.call_failed(
                        fe,
                        Service::Inventory,
                        method,
                        cp,
                        &id,
                        &call,
                        page,
                        &path,
                        t,
                    );
                    status = if call.answer == Answer::Timeout {
                        504
                    } else {
                        500
                    };
                    failed = true;
                }
            }
        }
        if !failed && matches!(page, Page::Checkout) {
            let cp = CallPath::Charge;
            (t, failed) = self.needed_call(by, Service::Billing, "POST", cp, t, (300, 900));
            if failed {
                status = 502;
            }
        }
        if !failed && fault == Some(Fault::Panic) {
            t += self.rng.range(500, 3000);
            self.panic_record(fe, &id, page, &path, t);
            status = 500;
        }
        if self.noise > 1 && matches!(page, Page::Product(_)) && self.rng.below(2) == 0 {
            let ttl = self.rng.range(1, 300);
            let Page::Product(item) = page else {
                unreachable!()
            };
            self.logs[fe]
                .plain(t - 200, "DEBUG")
                .s("cache hit product:")
                .u(item)
                .s(" (ttl ")
                .u(ttl)
                .s(" s)\n");
        }

        // The front end's own line, then Switchyard's line for the client request.
        let bytes = match (status, page) {
            (500.., _) => 1432,
            (404, _) => 2210,
            (_, Page::Product(_)) => self.rng.range(4000, 9000),
            (_, Page::Search(_)) => self.rng.range(3000, 12_000),
            (_, Page::Cart) => self.rng.range(2000, 5000),
            (_, Page::Checkout) => self.rng.range(1400, 1700),
            (_, Page::Home) => self.rng.range(12_000, 20_000),
            (_, Page::Static) => 48_213,
        };
        let fe_ms = (t - t0) / 1000;
        let b = self.logs[fe].plain(t, "INFO");
        b.s(page.method()).s(" ");
        b.extend_from_slice(&path);
        b.s(" -> ")
            .u(u64::from(status))
            .s(" (")
            .u(fe_ms)
            .s(" ms, ")
            .u(bytes)
            .s(" bytes) request_id=");
        b.extend_from_slice(&id);
        b.push(b'\n');

        let end = t + self.rng.range(100, 400) + bytes * 2;
        let client_ip = &self.client_ips[self.rng.below(self.client_ips.len() as u64) as usize];
        let host = &self.hosts[fe];
        AccessLine {
            ts_us: t,
            request_id: &id,
            client_ip,
            client_port: self.rng.range(1024, 65535),
            listener: "web",
            method: page.method(),
            path: &path,
            host: "shop.example.com",
            protocol: if self.rng.below(10) < 7 {
                "HTTP/2"
            } else {
                "HTTP/1.1"
            },
            status,
            pool: "frontend",
            server: &host.name,
            server_address: &host.address,
            upstream_status: Some(status),
            duration_us: end - t0,
            bytes_sent: bytes,
            attempts: 1,
            error: None,
        }
        .write(&mut self.access);
        self.scratch_path = path;
    }

    /// A database query by front end `fe`: `Ok(end)`, or `Err(end)` after a pool timeout
    /// (only on the leaking front end, during the incident).
    fn db_query(
        &mut self,
        fe: usize,
        page: Page,
        id: &[u8],
        path: &[u8],
        t: u64,
    ) -> Result<u64, u64> {
        if !self.hosts[fe].leaking {
            return Ok(t + self.rng.latency_us(1, 6));
        }
        let in_use = self.timeline.leaked_pool_in_use(t, 14);
        let share = self.timeline.leak_failure_share(t);
        let first = share > 0.0 && !self.leak_started;
        if !(first || (share > 0.0 && self.rng.chance(share))) {
            // Still served, but waiting longer for a connection as the pool fills.
            let wait = if in_use >= 80 {
                self.rng.range(5, 40 * (in_use - 79)) * 1000
            } else {
                0
            };
            return Ok(t + wait + self.rng.latency_us(1, 6));
        }
        self.leak_started = true;
        let end = t + DB_WAIT_US + self.rng.range(0, 3000);
        self.db_timeout_record(fe, page, id, path, end, in_use);
        Err(end)
    }

    /// A call the request cannot do without (auth, billing), the front end going on `wait`
    /// microseconds after the answer: when it goes on, and whether the call failed (its error
    /// record is then written).
    fn needed_call(
        &mut self,
        by: Caller<'_>,
        service: Service,
        method: &'static str,
        cp: CallPath,
        t: u64,
        wait: (u64, u64),
    ) -> (u64, bool) {
        let call = self.call(by.fe, service, method, cp, by.id, t, by.fault);
        let t = call.end_us + self.rng.range(wait.0, wait.1);
        let failed = call.answer != Answer::Ok;
        if failed {
            let (fe, id, page, path) = (by.fe, by.id, by.page, by.path);
            self.call_failed(fe, service, method, cp, id, &call, page, path, t);
        }
        (t, failed)
    }

    /// A call from front end `fe` through Switchyard to `service`, with its access-log line and
    /// the backend's own line.
    #[allow(clippy::too_many_arguments)]
    fn call(
        &mut self,
        fe: usize,
        service: Service,
        method: &'static str,
        cp: CallPath,
        id: &[u8],
        t: u64,
        fault: Option<Fault>,
    ) -> Call {
        let server = self.next_server(service, t);
        let mut cpath = std::mem::take(&mut self.scratch_call_path);
        cpath.clear();
        cp.write(&mut cpath, id);
        let lb_in = self.rng.range(80, 300);
        let (answer, status, upstream_us, bytes) = if self.hosts[server].bad {
            (Answer::WrongService, 404, self.rng.range(300, 1200), 162)
        } else {
            match (service, fault) {
                (Service::Inventory, Some(Fault::InventoryTimeout)) => {
                    (Answer::Timeout, 504, UPSTREAM_TIMEOUT_US, 0)
                }
                (Service::Auth, Some(Fault::AuthReset)) => {
                    (Answer::Reset, 502, self.rng.range(500, 4000), 0)
                }
                (Service::Billing, Some(Fault::PaymentProvider)) => (
                    Answer::Upstream502,
                    502,
                    self.rng.range(3_000_000, 6_000_000),
                    187,
                ),
                _ => self.normal_answer(service, cp),
            }
        };
        let end = t + lb_in + upstream_us;
        let host = &self.hosts[server];
        match answer {
            Answer::Timeout | Answer::Reset => {}
            _ => {
                let b = self.logs[server].plain(end - lb_in / 2, "INFO");
                b.s(method).s(" ");
                b.extend_from_slice(&cpath);
                b.s(" -> ")
                    .u(u64::from(status))
                    .s(" (")
                    .u(upstream_us / 1000)
                    .s(" ms)");
                match (answer, cp) {
                    (Answer::WrongService, _) => b.s(" file not found: /srv/assets"),
                    (Answer::NotFound, _) => b.s(" no such item"),
                    (Answer::Upstream502, _) => b.s(" payment provider unavailable"),
                    (_, CallPath::Item(_)) => b.s(" stock=").u(bytes % 40),
                    (_, CallPath::Search(_)) => b.s(" results=").u(bytes / 120),
                    (_, CallPath::Charge) => {
                        b.s(" amount=").money(bytes * 37 % 25_000 + 500).s(" EUR")
                    }
                    (_, CallPath::Auth) => {
                        b.s(" user=u").u(u64::from(id[3]) * 251 + u64::from(id[4]))
                    }
                    (_, CallPath::CartItems | CallPath::Reserve) => b.s(" items=").u(bytes % 5 + 1),
                };
                if answer == Answer::WrongService {
                    b.extend_from_slice(&cpath);
                }
                b.s(" request_id=");
                b.extend_from_slice(id);
                b.push(b'\n');
            }
        }
        if answer == Answer::Upstream502 {
            let b = self.logs[server].plain(end - lb_in, "ERROR");
            b.s("payment provider error: POST https://psp.example.net/v2/charges returned 503")
                .s("\n  Provider: psp.example.net\n  Attempts: 3 (last after ")
                .u(upstream_us / 3000)
                .s(" ms)\n  request_id=");
            b.extend_from_slice(id);
            b.push(b'\n');
        }
        let fe_host = &self.hosts[fe];
        let port = self.fe_ports[fe * 8 + self.rng.below(8) as usize];
        let (upstream_status, error) = match answer {
            Answer::Timeout => (None, Some("timeout")),
            Answer::Reset => (None, Some("reset")),
            _ => (Some(status), None),
        };
        AccessLine {
            ts_us: end,
            request_id: id,
            client_ip: &fe_host.ip,
            client_port: port,
            listener: "internal",
            method,
            path: &cpath,
            host: service.internal_host(),
            protocol: "HTTP/1.1",
            status,
            pool: service.name(),
            server: &host.name,
            server_address: &host.address,
            upstream_status,
            duration_us: end - t + self.rng.range(20, 120),
            bytes_sent: bytes,
            attempts: 1,
            error,
        }
        .write(&mut self.access);
        self.scratch_call_path = cpath;
        Call {
            end_us: end,
            server,
            answer,
        }
    }

    fn normal_answer(&mut self, service: Service, cp: CallPath) -> (Answer, u16, u64, u64) {
        match (service, cp) {
            (Service::Inventory, CallPath::Item(_)) if self.rng.below(250) == 0 => {
                (Answer::NotFound, 404, self.rng.latency_us(1, 3), 31)
            }
            (Service::Inventory, CallPath::Item(_)) => (
                Answer::Ok,
                200,
                self.rng.latency_us(2, 9),
                self.rng.range(180, 400),
            ),
            (Service::Inventory, CallPath::Search(_)) => (
                Answer::Ok,
                200,
                self.rng.latency_us(8, 40),
                self.rng.range(1000, 6000),
            ),
            (Service::Inventory, CallPath::Reserve) => (
                Answer::Ok,
                201,
                self.rng.latency_us(4, 12),
                self.rng.range(90, 160),
            ),
            (Service::Inventory, _) => (
                Answer::Ok,
                200,
                self.rng.latency_us(3, 12),
                self.rng.range(300, 1200),
            ),
            (Service::Billing, _) => (
                Answer::Ok,
                201,
                self.rng.latency_us(60, 250),
                self.rng.range(220, 300),
            ),
            _ => (
                Answer::Ok,
                200,
                self.rng.latency_us(1, 4),
                self.rng.range(90, 140),
            ),
        }
    }
}

/// The path of a call from a front end to a backend.
#[derive(Clone, Copy)]
pub(crate) enum CallPath {
    Auth,
    Item(u64),
    Search(usize),
    CartItems,
    Reserve,
    Charge,
}

impl CallPath {
    pub(crate) fn write(self, b: &mut Vec<u8>, id: &[u8]) {
        match self {
            CallPath::Auth => b.s("/auth/session"),
            CallPath::Item(item) => b.s("/inventory/items/").u(item),
            CallPath::Search(q) => b.s("/inventory/search?q=").s(SEARCH_TERMS[q]),
            CallPath::CartItems => b
                .s("/inventory/items?ids=")
                .u(u64::from(id[5]) * 37 + 1000)
                .s(",")
                .u(u64::from(id[6]) * 41 + 1000),
            CallPath::Reserve => b.s("/inventory/reservations"),
            CallPath::Charge => b.s("/billing/charges"),
        };
    }
}

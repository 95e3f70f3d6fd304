//! The flavor-independent core: listener, connections, faults, latency, counters, log,
//! state persistence.

use std::collections::{BTreeMap, HashMap};
use std::fs::{File, OpenOptions};
use std::io::{self, BufReader, LineWriter, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant, SystemTime};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;
use serde_json::{Value, json};

use super::http::{self, ReadError, Request, Response};
use super::{FaultPhase, Flavor, SandboxConfig};

/// How long an idle keep-alive connection stays open.
const IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// Marks a state file as ours, with its format version.
const STATE_MARKER: &str = "roster_sandbox_state";

/// Per-route numbers, as `GET /__sandbox/state` and [`super::Sandbox::counters`] show them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct RouteCounters {
    /// Every request that reached the route, answered or not.
    pub requests: u64,
    /// Responses with status 429.
    pub rate_limited: u64,
    /// Injected 5xx responses (before + after).
    pub faults: u64,
    pub faults_before: u64,
    pub faults_after: u64,
    /// Connections dropped without a response (before + after).
    pub drops: u64,
    pub drops_before: u64,
    pub drops_after: u64,
}

/// An injected failure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fault {
    /// A 5xx status; `after` = the request was handled (the write applied) first.
    Error { status: u16, after: bool },
    /// No response at all; `after` = the request was handled first.
    Drop { after: bool },
}

impl Fault {
    fn kind(self) -> &'static str {
        match self {
            Fault::Error { after: false, .. } => "error_before",
            Fault::Error { after: true, .. } => "error_after",
            Fault::Drop { after: false } => "drop_before",
            Fault::Drop { after: true } => "drop_after",
        }
    }
}

/// Settings that tests may change at run time, and the seeded generator.
struct Knobs {
    fault_rate: f64,
    drop_rate: f64,
    phase: FaultPhase,
    latency_ms: u64,
    jitter_ms: u64,
    rng: StdRng,
    /// (path, Location): requests for `path` are answered 307 to Location, as a
    /// misconfigured reverse proxy would.
    redirect: Option<(String, String)>,
}

impl Knobs {
    fn after(&mut self) -> bool {
        match self.phase {
            FaultPhase::Before => false,
            FaultPhase::After => true,
            FaultPhase::Random => self.rng.random_bool(0.5),
        }
    }

    /// The delay and the fault, if any, for one request.
    fn draw(&mut self, write: bool, droppable: bool) -> (Duration, Option<Fault>) {
        let mut ms = self.latency_ms;
        if self.jitter_ms > 0 {
            ms += self.rng.random_range(0..=self.jitter_ms);
        }
        let mut fault = None;
        if droppable && self.drop_rate > 0.0 && self.rng.random::<f64>() < self.drop_rate {
            let after = self.after();
            fault = Some(Fault::Drop { after });
        } else if write && self.fault_rate > 0.0 && self.rng.random::<f64>() < self.fault_rate {
            let status = [500, 502, 503][self.rng.random_range(0..3)];
            let after = self.after();
            fault = Some(Fault::Error { status, after });
        }
        (Duration::from_millis(ms), fault)
    }
}

struct Shared {
    flavor: Arc<dyn Flavor>,
    knobs: Mutex<Knobs>,
    counters: Mutex<BTreeMap<String, RouteCounters>>,
    log: Option<Mutex<LineWriter<File>>>,
    /// [`SandboxConfig::capture_requests`]: every request, in arrival order.
    captured: Option<Mutex<Vec<CapturedRequest>>>,
    stopping: AtomicBool,
    conns: Mutex<HashMap<u64, TcpStream>>,
    next_conn: AtomicU64,
    active: AtomicUsize,
    /// Requests being served now (for [`SandboxConfig::capacity`]).
    in_flight: AtomicUsize,
    /// The most requests served at once so far.
    peak: AtomicUsize,
    capacity: Option<usize>,
    state_file: Option<PathBuf>,
}

/// Locks a mutex, recovering from a poisoned one (a panicking request must not take the
/// whole sandbox down).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

pub struct Server {
    shared: Arc<Shared>,
    addr: SocketAddr,
    accept: Option<JoinHandle<()>>,
    stopped: bool,
}

impl Server {
    pub fn start(cfg: &SandboxConfig, flavor: Arc<dyn Flavor>) -> io::Result<Server> {
        let log = match &cfg.log_file {
            Some(path) => {
                let f = OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .map_err(|e| {
                        io::Error::new(
                            e.kind(),
                            format!("cannot open log file {}: {e}", path.display()),
                        )
                    })?;
                Some(Mutex::new(LineWriter::new(f)))
            }
            None => None,
        };
        let listener = TcpListener::bind(("127.0.0.1", cfg.port))?;
        let addr = listener.local_addr()?;
        let rng = match cfg.seed {
            Some(s) => StdRng::seed_from_u64(s),
            None => StdRng::from_os_rng(),
        };
        let shared = Arc::new(Shared {
            flavor,
            knobs: Mutex::new(Knobs {
                fault_rate: cfg.fault_rate.clamp(0.0, 1.0),
                drop_rate: cfg.drop_rate.clamp(0.0, 1.0),
                phase: cfg.fault_phase,
                latency_ms: cfg.latency_ms,
                jitter_ms: cfg.jitter_ms,
                rng,
                redirect: None,
            }),
            counters: Mutex::new(BTreeMap::new()),
            log,
            captured: cfg.capture_requests.then(|| Mutex::new(Vec::new())),
            stopping: AtomicBool::new(false),
            conns: Mutex::new(HashMap::new()),
            next_conn: AtomicU64::new(0),
            active: AtomicUsize::new(0),
            in_flight: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
            capacity: cfg.capacity.filter(|c| *c > 0),
            state_file: cfg.state_file.clone(),
        });
        let sh = Arc::clone(&shared);
        let accept = thread::Builder::new()
            .name("sandbox-accept".into())
            .spawn(move || accept_loop(listener, sh))?;
        Ok(Server {
            shared,
            addr,
            accept: Some(accept),
            stopped: false,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn flavor(&self) -> &Arc<dyn Flavor> {
        &self.shared.flavor
    }

    pub fn counters(&self) -> BTreeMap<String, RouteCounters> {
        lock(&self.shared.counters).clone()
    }

    /// TCP connections accepted so far (a client that keeps its connections alive opens
    /// few).
    pub fn connections(&self) -> u64 {
        self.shared.next_conn.load(Ordering::SeqCst)
    }

    /// The most requests served at once so far.
    pub fn peak_in_flight(&self) -> usize {
        self.shared.peak.load(Ordering::SeqCst)
    }

    pub fn captured(&self) -> Vec<CapturedRequest> {
        match &self.shared.captured {
            Some(c) => lock(c).clone(),
            None => Vec::new(),
        }
    }

    pub fn state_json(&self) -> Value {
        state_json(&self.shared)
    }

    pub fn set_faults(&self, fault_rate: f64, drop_rate: f64) {
        let mut k = lock(&self.shared.knobs);
        k.fault_rate = fault_rate.clamp(0.0, 1.0);
        k.drop_rate = drop_rate.clamp(0.0, 1.0);
    }

    pub fn set_fault_phase(&self, phase: FaultPhase) {
        lock(&self.shared.knobs).phase = phase;
    }

    pub fn set_redirect(&self, redirect: Option<(String, String)>) {
        lock(&self.shared.knobs).redirect = redirect;
    }

    pub fn set_latency(&self, latency_ms: u64, jitter_ms: u64) {
        let mut k = lock(&self.shared.knobs);
        k.latency_ms = latency_ms;
        k.jitter_ms = jitter_ms;
    }

    /// Idempotent: stops accepting, closes connections, waits briefly for in-flight
    /// requests, saves the state.
    pub fn stop(&mut self) -> io::Result<()> {
        if self.stopped {
            return Ok(());
        }
        self.stopped = true;
        self.shared.stopping.store(true, Ordering::SeqCst);
        // Wake the blocking accept() with a connection of our own.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(h) = self.accept.take() {
            let _ = h.join();
        }
        for (_, s) in lock(&self.shared.conns).drain() {
            let _ = s.shutdown(Shutdown::Both);
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while self.shared.active.load(Ordering::SeqCst) > 0 && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(5));
        }
        if let Some(log) = &self.shared.log {
            let _ = lock(log).flush();
        }
        match &self.shared.state_file {
            Some(path) => save_state(path, self.shared.flavor.as_ref()),
            None => Ok(()),
        }
    }
}

fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    for conn in listener.incoming() {
        if shared.stopping.load(Ordering::SeqCst) {
            break;
        }
        let stream = match conn {
            Ok(s) => s,
            Err(_) => {
                // Out of file descriptors and the like: back off instead of spinning.
                thread::sleep(Duration::from_millis(10));
                continue;
            }
        };
        let id = shared.next_conn.fetch_add(1, Ordering::SeqCst);
        if let Ok(clone) = stream.try_clone() {
            lock(&shared.conns).insert(id, clone);
        }
        shared.active.fetch_add(1, Ordering::SeqCst);
        let sh = Arc::clone(&shared);
        let spawned = thread::Builder::new()
            .name("sandbox-conn".into())
            .spawn(move || {
                serve_connection(&sh, stream);
                lock(&sh.conns).remove(&id);
                sh.active.fetch_sub(1, Ordering::SeqCst);
            });
        if spawned.is_err() {
            lock(&shared.conns).remove(&id);
            shared.active.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

fn serve_connection(shared: &Shared, stream: TcpStream) {
    let Ok(peer) = stream.peer_addr() else {
        return;
    };
    let _ = stream.set_nodelay(true);
    let _ = stream.set_read_timeout(Some(IDLE_TIMEOUT));
    let Ok(read_half) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(read_half);
    let mut writer = stream;
    loop {
        if shared.stopping.load(Ordering::SeqCst) {
            break;
        }
        match http::read_request(&mut reader, peer) {
            Ok(incoming) => {
                if !serve_request(shared, &mut writer, incoming) {
                    break;
                }
            }
            Err(ReadError::Bad(status, msg)) => {
                let resp = Response::with_body(status, "text/plain; charset=utf-8", msg);
                let _ = http::write_response(&mut writer, &resp, false, false);
                break;
            }
            Err(ReadError::Closed) | Err(ReadError::Io(_)) => break,
        }
    }
    let _ = writer.shutdown(Shutdown::Both);
}

/// Handles one request; false = close the connection.
fn serve_request(shared: &Shared, writer: &mut TcpStream, incoming: http::Incoming) -> bool {
    let started = Instant::now();
    let started_wall = SystemTime::now();
    let req = incoming.request;
    let internal = req.path.starts_with("/__sandbox/");
    let (route, write, droppable) = if internal {
        (format!("{} {}", req.method, req.path), false, false)
    } else {
        let login = shared.flavor.is_login(&req);
        (
            shared.flavor.route_key(&req),
            shared.flavor.is_write(&req),
            !login,
        )
    };
    let in_flight = InFlight::enter(shared);
    let (delay, fault, redirect) = {
        let mut k = lock(&shared.knobs);
        let (mut delay, mut fault) = k.draw(write, droppable);
        if let Some(cap) = shared.capacity
            && !internal
        {
            let n = in_flight.count;
            if n > cap.saturating_mul(OVERLOAD_FACTOR) && droppable {
                // The queue in front of the server is full: turned away at once.
                (delay, fault) = (
                    Duration::ZERO,
                    Some(Fault::Error {
                        status: 503,
                        after: false,
                    }),
                );
            } else if n > cap {
                // Beyond capacity requests share it: each takes proportionally longer.
                delay = delay.mul_f64(n as f64 / cap as f64);
            }
        }
        let redirect = k
            .redirect
            .as_ref()
            .filter(|(path, _)| !internal && *path == req.path)
            .map(|(_, location)| location.clone());
        // A redirected request never reaches the application: no fault either.
        let fault = if redirect.is_some() { None } else { fault };
        (delay, fault, redirect)
    };
    if !delay.is_zero() && !sleep_unless_stopping(shared, delay) {
        // Stopping: the request never reached the application; close without an answer.
        return false;
    }

    let response = match fault {
        _ if let Some(location) = &redirect => {
            let mut r = Response::new(307);
            r.headers.push(("Location".into(), location.clone()));
            Some(r)
        }
        None if internal => Some(internal_endpoint(shared, &req)),
        None => Some(shared.flavor.handle(&req)),
        Some(Fault::Error { status, after }) => {
            if after {
                let _ = shared.flavor.handle(&req);
            }
            Some(injected_error(shared, status))
        }
        Some(Fault::Drop { after }) => {
            if after {
                let _ = shared.flavor.handle(&req);
            }
            None
        }
    };

    let status = response.as_ref().map(|r| r.status);
    if let Some(captured) = &shared.captured {
        lock(captured).push(CapturedRequest {
            method: req.method.clone(),
            path: req.path.clone(),
            route: route.clone(),
            query: req.query.clone(),
            content_type: req.header("content-type").map(str::to_string),
            body: String::from_utf8_lossy(&req.body).into_owned(),
            status,
        });
    }
    // Counters and log before the answer: a client that has its response can rely on both.
    record(shared, &route, status, fault);
    log_request(shared, started_wall, started, &req, &route, status, fault);
    // Out of flight once answered: the client may send its next request at once.
    drop(in_flight);
    match &response {
        Some(resp) => {
            let keep_alive = incoming.keep_alive && !shared.stopping.load(Ordering::SeqCst);
            let ok = http::write_response(writer, resp, keep_alive, req.method == "HEAD").is_ok();
            ok && keep_alive
        }
        None => {
            // Drop: close without a byte of response.
            let _ = writer.shutdown(Shutdown::Both);
            false
        }
    }
}

/// [`SandboxConfig::capacity`]: more than this many times the capacity in flight at once
/// is answered 503 (a proxy's queue of three times the capacity is full).
const OVERLOAD_FACTOR: usize = 4;

/// One request being served: counted in [`Shared::in_flight`] until dropped.
struct InFlight<'a> {
    shared: &'a Shared,
    /// Requests in flight, this one included, when it arrived.
    count: usize,
}

impl<'a> InFlight<'a> {
    fn enter(shared: &'a Shared) -> InFlight<'a> {
        let count = shared.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        shared.peak.fetch_max(count, Ordering::SeqCst);
        InFlight { shared, count }
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.shared.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Sleeps for the injected latency in short slices, so that stopping the server does not
/// wait out a long latency; false if the server began to stop meanwhile.
fn sleep_unless_stopping(shared: &Shared, delay: Duration) -> bool {
    const SLICE: Duration = Duration::from_millis(20);
    let end = Instant::now() + delay;
    loop {
        if shared.stopping.load(Ordering::SeqCst) {
            return false;
        }
        let left = end.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return true;
        }
        thread::sleep(left.min(SLICE));
    }
}

fn injected_error(shared: &Shared, status: u16) -> Response {
    if status == 500 {
        let mut r = shared.flavor.internal_error();
        r.status = 500;
        return r;
    }
    // What a reverse proxy in front of the application answers.
    let title = format!("{status} {}", http::reason(status));
    let body = format!(
        "<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n<center><h1>{title}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
    );
    Response::with_body(status, "text/html", body)
}

fn internal_endpoint(shared: &Shared, req: &Request) -> Response {
    match (req.method.as_str(), req.path.as_str()) {
        ("GET", "/__sandbox/state") => Response::json(200, &state_json(shared)),
        _ => Response::json(404, &json!({"error": "no such sandbox endpoint"})),
    }
}

fn state_json(shared: &Shared) -> Value {
    let counters = lock(&shared.counters).clone();
    json!({
        "flavor": shared.flavor.name(),
        "users": shared.flavor.users(),
        "counters": counters,
    })
}

fn record(shared: &Shared, route: &str, status: Option<u16>, fault: Option<Fault>) {
    let mut all = lock(&shared.counters);
    let c = match all.get_mut(route) {
        Some(c) => c,
        None => all.entry(route.to_string()).or_default(),
    };
    c.requests += 1;
    if status == Some(429) {
        c.rate_limited += 1;
    }
    match fault {
        Some(Fault::Error { after, .. }) => {
            c.faults += 1;
            if after {
                c.faults_after += 1;
            } else {
                c.faults_before += 1;
            }
        }
        Some(Fault::Drop { after }) => {
            c.drops += 1;
            if after {
                c.drops_after += 1;
            } else {
                c.drops_before += 1;
            }
        }
        None => {}
    }
}

/// A request as [`SandboxConfig::capture_requests`] keeps it (for the referee tests, which
/// check every body roster sent against the server's own schemas).
#[derive(Clone, Debug, Serialize)]
pub struct CapturedRequest {
    pub method: String,
    /// Without the query string, still percent-encoded.
    pub path: String,
    /// The counter key, e.g. `POST /api/v1/users.create`.
    pub route: String,
    /// The raw query string (without `?`).
    pub query: String,
    pub content_type: Option<String>,
    /// The body as text (lossy UTF-8).
    pub body: String,
    /// None when the connection was dropped.
    pub status: Option<u16>,
}

/// One JSON line: never the query string (tokens may travel there), headers or bodies.
fn log_request(
    shared: &Shared,
    wall: SystemTime,
    started: Instant,
    req: &Request,
    route: &str,
    status: Option<u16>,
    fault: Option<Fault>,
) {
    let Some(log) = &shared.log else {
        return;
    };
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    let line = json!({
        "time": humantime::format_rfc3339_millis(wall).to_string(),
        "method": req.method,
        "path": req.path,
        "route": route,
        "status": status,
        "rate_limited": status == Some(429),
        "fault": fault.map(Fault::kind),
        "duration_ms": (ms * 1000.0).round() / 1000.0,
    });
    let mut text = line.to_string();
    text.push('\n');
    let _ = lock(log).write_all(text.as_bytes());
}

/// Checks the envelope of a state file and returns the flavor's part.
pub fn parse_state_file(bytes: &[u8], flavor: &str) -> Result<Value, String> {
    let v: Value = serde_json::from_slice(bytes).map_err(|e| format!("not valid JSON: {e}"))?;
    if v.get(STATE_MARKER).and_then(Value::as_u64) != Some(1) {
        return Err("not a roster sandbox state file (version 1)".into());
    }
    match v.get("flavor").and_then(Value::as_str) {
        Some(f) if f == flavor => {}
        Some(f) => return Err(format!("saved by a {f} sandbox, this one is {flavor}")),
        None => return Err("no flavor recorded".into()),
    }
    v.get("state")
        .cloned()
        .ok_or_else(|| "no state recorded".to_string())
}

/// Writes the state atomically (temporary file + rename).
fn save_state(path: &Path, flavor: &dyn Flavor) -> io::Result<()> {
    let doc = json!({
        STATE_MARKER: 1,
        "flavor": flavor.name(),
        "saved_at": humantime::format_rfc3339_millis(SystemTime::now()).to_string(),
        "state": flavor.save_state(),
    });
    let bytes = serde_json::to_vec_pretty(&doc).map_err(io::Error::other)?;
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, &bytes).map_err(|e| {
        io::Error::new(
            e.kind(),
            format!("cannot write state file {}: {e}", tmp.display()),
        )
    })?;
    std::fs::rename(&tmp, path).map_err(|e| {
        io::Error::new(
            e.kind(),
            format!("cannot write state file {}: {e}", path.display()),
        )
    })
}

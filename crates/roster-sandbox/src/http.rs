//! A small HTTP/1.1 server layer on `std::net`: requests with Content-Length or chunked
//! bodies, keep-alive, `Connection: close`, `Expect: 100-continue`.
//!
//! Hand-written rather than a framework because the sandbox must be able to drop a
//! connection without answering, read the peer address and delay a response.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};

use percent_encoding::percent_decode_str;

/// Largest request head (request line + headers) accepted.
const MAX_HEAD: usize = 64 * 1024;
/// Largest request body accepted (a bulk import of thousands of users fits).
pub const MAX_BODY: usize = 32 * 1024 * 1024;

/// One parsed request, as the flavors see it.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    /// The path without the query string, still percent-encoded.
    pub path: String,
    /// The raw query string (without `?`), possibly empty.
    pub query: String,
    /// Header names lowercased, in arrival order.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// The TCP peer.
    pub peer: SocketAddr,
}

impl Request {
    /// The first header of that (case-insensitive) name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The value of `header` when it is present and non-empty, else the peer IP.
    /// Rocket.Chat uses `x-real-ip` this way; Mattermost its trusted proxy header.
    pub fn client_ip(&self, header: &str) -> String {
        match self.header(header).map(str::trim) {
            Some(v) if !v.is_empty() => v.to_string(),
            _ => ip_string(self.peer.ip()),
        }
    }

    /// Query parameters, percent-decoded (`+` is a space), in order.
    pub fn query_pairs(&self) -> Vec<(String, String)> {
        parse_urlencoded(&self.query)
    }

    /// The first query parameter of that name.
    pub fn query_param(&self, name: &str) -> Option<String> {
        self.query_pairs()
            .into_iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
    }

    /// The path percent-decoded (lossy for invalid UTF-8).
    pub fn decoded_path(&self) -> String {
        percent_decode_str(&self.path)
            .decode_utf8_lossy()
            .into_owned()
    }
}

fn ip_string(ip: IpAddr) -> String {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => v6.to_string(),
        },
        IpAddr::V4(v4) => v4.to_string(),
    }
}

/// Parses `a=1&b=two+words` with percent-decoding.
pub fn parse_urlencoded(s: &str) -> Vec<(String, String)> {
    s.split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (decode_component(k), decode_component(v))
        })
        .collect()
}

fn decode_component(s: &str) -> String {
    let plus = s.replace('+', " ");
    percent_decode_str(&plus).decode_utf8_lossy().into_owned()
}

/// A response to write. The server adds `Date`, `Content-Length` and `Connection`.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn new(status: u16) -> Self {
        Response {
            status,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// A JSON body with `Content-Type: application/json`.
    pub fn json(status: u16, body: &serde_json::Value) -> Self {
        Response {
            status,
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: serde_json::to_vec(body).unwrap_or_default(),
        }
    }

    /// A body with the given content type.
    pub fn with_body(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        Response {
            status,
            headers: vec![("Content-Type".into(), content_type.into())],
            body: body.into(),
        }
    }

    /// Adds a header (builder style).
    pub fn header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_string(), value.into()));
        self
    }

    /// Sets a header, replacing any of the same name.
    pub fn set_header(&mut self, name: &str, value: impl Into<String>) {
        self.headers.retain(|(k, _)| !k.eq_ignore_ascii_case(name));
        self.headers.push((name.to_string(), value.into()));
    }

    /// The first header of that name.
    pub fn get_header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Why reading a request stopped.
#[derive(Debug)]
pub enum ReadError {
    /// The peer closed the connection (or went idle) between requests: not an error.
    Closed,
    /// Malformed request: answer with this status, then close.
    Bad(u16, &'static str),
    Io(io::Error),
}

impl From<io::Error> for ReadError {
    fn from(e: io::Error) -> Self {
        ReadError::Io(e)
    }
}

/// A parsed request plus whether the connection may be kept open afterwards.
pub struct Incoming {
    pub request: Request,
    pub keep_alive: bool,
}

/// Reads one request from a buffered connection.
pub fn read_request(
    reader: &mut BufReader<TcpStream>,
    peer: SocketAddr,
) -> Result<Incoming, ReadError> {
    let mut head_len = 0usize;
    // Request line; tolerate empty lines before it (RFC 9112 §2.2).
    let line = loop {
        let line = read_line(reader, &mut head_len)?;
        match line {
            None => return Err(ReadError::Closed),
            Some(l) if l.is_empty() => continue,
            Some(l) => break l,
        }
    };
    let mut parts = line.split_whitespace();
    let (Some(method), Some(target), Some(version)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(ReadError::Bad(400, "malformed request line"));
    };
    let http10 = match version {
        "HTTP/1.1" => false,
        "HTTP/1.0" => true,
        _ => return Err(ReadError::Bad(505, "unsupported HTTP version")),
    };
    let method = method.to_string();
    // Absolute-form targets (proxies) are reduced to their path.
    let target = match target.find("://") {
        Some(i) => {
            let rest = &target[i + 3..];
            rest.find('/').map(|j| &rest[j..]).unwrap_or("/")
        }
        None => target,
    };
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p.to_string(), q.to_string()),
        None => (target.to_string(), String::new()),
    };

    let mut headers: Vec<(String, String)> = Vec::new();
    loop {
        let Some(l) = read_line(reader, &mut head_len)? else {
            return Err(ReadError::Bad(400, "connection closed inside the headers"));
        };
        if l.is_empty() {
            break;
        }
        let Some((k, v)) = l.split_once(':') else {
            return Err(ReadError::Bad(400, "malformed header line"));
        };
        headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
    }

    let get = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let connection = get("connection").unwrap_or("").to_ascii_lowercase();
    let keep_alive = if http10 {
        connection.contains("keep-alive")
    } else {
        !connection.contains("close")
    };
    let chunked = get("transfer-encoding")
        .map(|te| te.to_ascii_lowercase().contains("chunked"))
        .unwrap_or(false);
    let content_length = match get("content-length") {
        Some(v) => match v.trim().parse::<usize>() {
            Ok(n) => Some(n),
            Err(_) => return Err(ReadError::Bad(400, "invalid Content-Length")),
        },
        None => None,
    };
    if content_length.is_some_and(|n| n > MAX_BODY) {
        return Err(ReadError::Bad(413, "request body too large"));
    }
    let expects_continue = get("expect")
        .map(|v| v.eq_ignore_ascii_case("100-continue"))
        .unwrap_or(false);
    if expects_continue && (chunked || content_length.unwrap_or(0) > 0) {
        let stream = reader.get_mut();
        stream.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
        stream.flush()?;
    }

    let body = if chunked {
        read_chunked(reader)?
    } else if let Some(n) = content_length {
        let mut body = vec![0u8; n];
        reader.read_exact(&mut body).map_err(|e| {
            if e.kind() == io::ErrorKind::UnexpectedEof {
                ReadError::Bad(400, "connection closed inside the body")
            } else {
                ReadError::Io(e)
            }
        })?;
        body
    } else {
        Vec::new()
    };

    Ok(Incoming {
        request: Request {
            method,
            path,
            query,
            headers,
            body,
            peer,
        },
        keep_alive,
    })
}

/// One CRLF- (or LF-) terminated line without the terminator; None at a clean EOF.
fn read_line(
    reader: &mut BufReader<TcpStream>,
    head_len: &mut usize,
) -> Result<Option<String>, ReadError> {
    let mut buf = Vec::new();
    let limit = (MAX_HEAD - *head_len) as u64 + 1;
    let n = match reader.by_ref().take(limit).read_until(b'\n', &mut buf) {
        Ok(n) => n,
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::WouldBlock
                    | io::ErrorKind::TimedOut
                    | io::ErrorKind::ConnectionReset
                    | io::ErrorKind::ConnectionAborted
            ) && *head_len == 0
                && buf.is_empty() =>
        {
            return Err(ReadError::Closed);
        }
        Err(e) => return Err(ReadError::Io(e)),
    };
    if n == 0 {
        return if *head_len == 0 {
            Ok(None)
        } else {
            Err(ReadError::Bad(
                400,
                "connection closed inside the request head",
            ))
        };
    }
    *head_len += n;
    if *head_len > MAX_HEAD {
        return Err(ReadError::Bad(431, "request head too large"));
    }
    if buf.last() != Some(&b'\n') {
        return Err(ReadError::Bad(
            400,
            "connection closed inside the request head",
        ));
    }
    buf.pop();
    if buf.last() == Some(&b'\r') {
        buf.pop();
    }
    match String::from_utf8(buf) {
        Ok(s) => Ok(Some(s)),
        Err(e) => Ok(Some(String::from_utf8_lossy(e.as_bytes()).into_owned())),
    }
}

fn read_chunked(reader: &mut BufReader<TcpStream>) -> Result<Vec<u8>, ReadError> {
    let mut body = Vec::new();
    loop {
        let mut n = 0usize;
        let Some(size_line) = read_line(reader, &mut n)? else {
            return Err(ReadError::Bad(400, "connection closed inside a chunk"));
        };
        let size_hex = size_line.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_hex, 16)
            .map_err(|_| ReadError::Bad(400, "invalid chunk size"))?;
        if size == 0 {
            // Trailers up to the empty line.
            loop {
                let mut m = 0usize;
                match read_line(reader, &mut m)? {
                    Some(l) if !l.is_empty() => continue,
                    _ => break,
                }
            }
            return Ok(body);
        }
        if body.len() + size > MAX_BODY {
            return Err(ReadError::Bad(413, "request body too large"));
        }
        let start = body.len();
        body.resize(start + size, 0);
        reader
            .read_exact(&mut body[start..])
            .map_err(|_| ReadError::Bad(400, "connection closed inside a chunk"))?;
        let mut crlf = [0u8; 2];
        reader
            .read_exact(&mut crlf)
            .map_err(|_| ReadError::Bad(400, "connection closed inside a chunk"))?;
    }
}

/// The reason phrase for the status codes the sandbox sends.
pub fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        411 => "Length Required",
        413 => "Payload Too Large",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        505 => "HTTP Version Not Supported",
        _ => "Unknown",
    }
}

/// Serializes a response with `Date`, `Content-Length` and `Connection` added.
pub fn write_response(
    stream: &mut TcpStream,
    resp: &Response,
    keep_alive: bool,
    head_only: bool,
) -> io::Result<()> {
    let mut out = Vec::with_capacity(256 + resp.body.len());
    out.extend_from_slice(
        format!("HTTP/1.1 {} {}\r\n", resp.status, reason(resp.status)).as_bytes(),
    );
    for (k, v) in &resp.headers {
        // Header values never carry CR/LF: a value that did would split the response.
        let v: String = v.chars().filter(|c| *c != '\r' && *c != '\n').collect();
        out.extend_from_slice(format!("{k}: {v}\r\n").as_bytes());
    }
    if resp.get_header("date").is_none() {
        out.extend_from_slice(
            format!(
                "Date: {}\r\n",
                httpdate::fmt_http_date(std::time::SystemTime::now())
            )
            .as_bytes(),
        );
    }
    out.extend_from_slice(format!("Content-Length: {}\r\n", resp.body.len()).as_bytes());
    out.extend_from_slice(if keep_alive {
        b"Connection: keep-alive\r\n\r\n".as_slice()
    } else {
        b"Connection: close\r\n\r\n".as_slice()
    });
    if !head_only {
        out.extend_from_slice(&resp.body);
    }
    stream.write_all(&out)?;
    stream.flush()
}

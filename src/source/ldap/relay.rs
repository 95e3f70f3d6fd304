//! A relay between ldap3 and the server that bounds the size of each LDAP message.
//!
//! ldap3 reads a message whole before decoding it, however long its BER header says it
//! is: a bad or hostile server announcing 2 GiB and streaming zeros costs 2 GiB of
//! memory. ldap3 has no limit, but it accepts a ready-made TCP stream; roster gives it
//! one end of a loopback connection and copies bytes to and from the server on tasks of
//! the connection's runtime, reading the envelope (tag, length) of each message from
//! the server and cutting the connection as soon as one announces more than the limit.
//! The reason is kept for the error message ([`Relay::cut_reason`]).
//!
//! The relay must see plaintext, so it does the TLS itself (ldaps://, and StartTLS: the
//! extended operation, then the handshake) and ldap3 speaks plain LDAP to it over the
//! loopback connection; see `conn::connect`.

use std::sync::{Arc, Mutex};

use ldap3::tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use ldap3::tokio::net::TcpStream;

/// Default bound on one LDAP message from the server: far above any user entry (a
/// large photo is a few hundred KB), far below what hurts the machine.
pub const DEFAULT_MAX_MESSAGE: u64 = 16 << 20;

/// A size in bytes: `1048576`, `512K`, `16M`, `1G` (powers of 1024).
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let (num, mult) = match t.char_indices().last() {
        Some((i, c)) if c.eq_ignore_ascii_case(&'k') => (&t[..i], 1u64 << 10),
        Some((i, c)) if c.eq_ignore_ascii_case(&'m') => (&t[..i], 1 << 20),
        Some((i, c)) if c.eq_ignore_ascii_case(&'g') => (&t[..i], 1 << 30),
        _ => (t, 1),
    };
    num.trim()
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(mult))
        .filter(|n| *n > 0)
        .ok_or_else(|| format!("{s:?} is not a size in bytes (e.g. 1048576, 512K, 16M, 1G)"))
}

pub(crate) struct Relay {
    cut: Arc<Mutex<Option<String>>>,
}

impl Relay {
    /// Why the relay cut the connection, if it did.
    pub fn cut_reason(&self) -> Option<String> {
        self.cut.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// Starts relaying between `server` (connected, TLS done) and a new loopback
/// connection, whose other end is returned for ldap3. Runs inside the connection's
/// runtime (the tasks are spawned on it).
pub(crate) async fn start<S>(server: S, max: u64) -> std::io::Result<(std::net::TcpStream, Relay)>
where
    S: AsyncRead + AsyncWrite + Send + 'static,
{
    // Loopback connect and accept complete at once: blocking here is fine.
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0))?;
    let for_ldap3 = std::net::TcpStream::connect(listener.local_addr()?)?;
    let (ours, _) = listener.accept()?;
    drop(listener);
    for_ldap3.set_nodelay(true)?;
    ours.set_nodelay(true)?;
    ours.set_nonblocking(true)?;
    let cut = Arc::new(Mutex::new(None));
    let relay = Relay { cut: cut.clone() };
    let ours = TcpStream::from_std(ours)?;
    let (mut from_ldap3, mut to_ldap3) = ours.into_split();
    let (mut from_server, mut to_server) = ldap3::tokio::io::split(server);
    ldap3::tokio::spawn(async move {
        let _ = ldap3::tokio::io::copy(&mut from_ldap3, &mut to_server).await;
        let _ = to_server.shutdown().await;
    });
    ldap3::tokio::spawn(async move {
        let mut env = Envelope::new(max);
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = match from_server.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            if let Err(why) = env.feed(&buf[..n]) {
                *cut.lock().unwrap_or_else(|e| e.into_inner()) = Some(why);
                // Dropping both halves closes the loopback connection: ldap3's
                // pending operation fails at once.
                break;
            }
            if to_ldap3.write_all(&buf[..n]).await.is_err() {
                break;
            }
        }
        let _ = to_ldap3.shutdown().await;
    });
    Ok((for_ldap3, relay))
}

/// Reads one whole message (at most `max` bytes), for the StartTLS answer.
pub(crate) async fn read_message<S>(s: &mut S, max: u64) -> std::io::Result<Result<Vec<u8>, String>>
where
    S: AsyncRead + Unpin,
{
    let mut msg = Vec::new();
    let mut byte = [0u8; 1];
    let total = loop {
        if s.read(&mut byte).await? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        msg.push(byte[0]);
        match header(&msg, max) {
            Err(why) => return Ok(Err(why)),
            Ok(Some((h, c))) => break h + c,
            Ok(None) => {}
        }
    };
    let start = msg.len();
    msg.resize(total as usize, 0);
    s.read_exact(&mut msg[start..]).await?;
    Ok(Ok(msg))
}

/// Follows the message boundaries of a stream of BER-encoded LDAP messages.
struct Envelope {
    max: u64,
    /// Bytes of the current message still to pass; 0 = at a header.
    remaining: u64,
    /// A header read so far (tag and length bytes, at most 10).
    header: Vec<u8>,
}

impl Envelope {
    fn new(max: u64) -> Envelope {
        Envelope {
            max,
            remaining: 0,
            header: Vec::with_capacity(10),
        }
    }

    /// Takes the next bytes from the server; `Err` names why the connection must be cut.
    fn feed(&mut self, mut bytes: &[u8]) -> Result<(), String> {
        while !bytes.is_empty() {
            if self.remaining > 0 {
                let take = self.remaining.min(bytes.len() as u64);
                self.remaining -= take;
                bytes = &bytes[take as usize..];
                continue;
            }
            self.header.push(bytes[0]);
            bytes = &bytes[1..];
            if let Some((_, content_len)) = header(&self.header, self.max)? {
                self.remaining = content_len;
                self.header.clear();
            }
        }
        Ok(())
    }
}

/// `Some((header bytes, content bytes))` once the header `h` of a message is complete;
/// `Err` when it is not an LDAP message or announces more than `max` bytes in all.
fn header(h: &[u8], max: u64) -> Result<Option<(u64, u64)>, String> {
    let Some(&tag) = h.first() else {
        return Ok(None);
    };
    if tag != 0x30 {
        return Err(format!(
            "the server sent something that is not an LDAP message (tag 0x{tag:02x})"
        ));
    }
    let Some(&first) = h.get(1) else {
        return Ok(None);
    };
    let (header_len, content_len) = if first < 0x80 {
        (2, u64::from(first))
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 8 {
            return Err("the server sent an LDAP message with an invalid length".into());
        }
        if h.len() < 2 + n {
            return Ok(None);
        }
        let len = h[2..2 + n]
            .iter()
            .fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
        (2 + n as u64, len)
    };
    let total = header_len.saturating_add(content_len);
    if total > max {
        return Err(format!(
            "the server sent an LDAP message of {total} bytes, more than the limit of {max} bytes (raise it with --ldap-max-message)"
        ));
    }
    Ok(Some((header_len, content_len)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passes_messages_within_the_limit_in_any_split() {
        // Two messages: short form (5 bytes) and long form 0x82 (4 + 300 bytes).
        let mut s = vec![0x30, 0x03, 1, 2, 3];
        s.extend([0x30, 0x82, 0x01, 0x2c]);
        s.extend(std::iter::repeat_n(0u8, 300));
        for split in 1..s.len() {
            let mut e = Envelope::new(304);
            for chunk in s.chunks(split) {
                e.feed(chunk).expect("within the limit");
            }
            assert_eq!(e.remaining, 0);
            assert!(e.header.is_empty());
        }
    }

    #[test]
    fn sizes_parse_with_binary_suffixes() {
        assert_eq!(parse_size("1000"), Ok(1000));
        assert_eq!(parse_size("512K"), Ok(512 << 10));
        assert_eq!(parse_size("16m"), Ok(16 << 20));
        assert_eq!(parse_size("1G"), Ok(1 << 30));
        assert!(parse_size("0").is_err());
        assert!(parse_size("x").is_err());
        assert!(parse_size("99999999999G").is_err());
    }

    #[test]
    fn cuts_a_message_announcing_more_than_the_limit() {
        let mut e = Envelope::new(16 << 20);
        let err = e.feed(&[0x30, 0x84, 0x80, 0, 0, 0]).unwrap_err();
        assert!(err.contains("2147483654 bytes"), "{err}");
        assert!(Envelope::new(100).feed(&[0x02, 0x01]).is_err());
        assert!(Envelope::new(100).feed(&[0x30, 0x80]).is_err());
    }
}

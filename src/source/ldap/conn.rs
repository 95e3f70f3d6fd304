//! Connecting, TLS, binding, and naming what went wrong when that fails.

use std::io;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use ldap3::tokio::runtime::{Builder, Runtime};
use ldap3::tokio::task::JoinHandle;
use ldap3::{Ldap, LdapConnAsync, LdapConnSettings, LdapError, Scope};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject as _;

use super::LdapOptions;
use super::entry::{self, Response};
use super::error::{LdapSourceError, rc_name, server_text};
use super::url::SearchSpec;
use crate::secret::Secret;

/// An open connection: its own single-threaded runtime (ldap3's sync API works the same
/// way), the operation handle, and the task that drives the socket.
pub(crate) struct Conn {
    pub rt: Runtime,
    pub ldap: Ldap,
    driver: Option<JoinHandle<ldap3::result::Result<()>>>,
    /// The size-bounding relay (plain ldap://), which may have cut the connection.
    relay: Option<super::relay::Relay>,
}

impl Conn {
    /// Why the size-bounding relay cut the connection, if it did.
    pub fn cut_reason(&self) -> Option<String> {
        self.relay.as_ref().and_then(|r| r.cut_reason())
    }

    /// Why the connection ended, when the driving task has ended: the socket error,
    /// or that the server closed it (or that the relay cut it).
    pub fn ended_because(&mut self) -> Option<String> {
        if let Some(why) = self.cut_reason() {
            return Some(why);
        }
        let handle = self.driver.as_mut()?;
        // The task ends as the socket does; give it a moment to record why.
        let res = self.rt.block_on(async {
            ldap3::tokio::time::timeout(Duration::from_millis(200), handle).await
        });
        let why = match res {
            Err(_) => return None,
            Ok(Ok(Ok(()))) => "the server closed the connection".to_string(),
            Ok(Ok(Err(e))) => e.to_string(),
            Ok(Err(e)) => format!("the connection task failed: {e}"),
        };
        self.driver = None;
        Some(why)
    }
}

/// Opens the TCP (and TLS) connection. Warnings about TLS settings go to `warnings`.
///
/// roster connects, does StartTLS and the TLS handshake itself, and hands ldap3 a
/// plain-LDAP loopback connection to a relay that bounds the size of each message from
/// the server (`relay`): ldap3 has no such limit.
pub(crate) fn connect(
    spec: &SearchSpec,
    opts: &LdapOptions,
    warnings: &mut Vec<String>,
) -> Result<Conn, LdapSourceError> {
    let server = spec.server();
    let _ = rustls::crypto::ring::default_provider().install_default();
    let rt = Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| LdapSourceError::Connect {
            server: server.clone(),
            reason: format!("cannot start the network runtime: {e}"),
        })?;

    let tls = if spec.uses_tls() {
        if opts.insecure {
            warnings.push(format!(
                "WARNING: TLS certificate verification is OFF (--insecure): anyone on the path \
                 to {server} can impersonate the directory and read the bind password. Use \
                 --ca-file instead."
            ));
            Some(insecure_config()?)
        } else {
            Some(tls_config(opts.ca_file.as_deref())?)
        }
    } else {
        if opts.ca_file.is_some() {
            warnings.push(
                "--ca-file has no effect on a plain ldap:// connection; use ldaps:// or \
                 --starttls"
                    .into(),
            );
        }
        if opts.insecure {
            warnings.push("--insecure has no effect on a plain ldap:// connection".into());
        }
        None
    };

    let max = opts
        .max_message
        .unwrap_or(super::relay::DEFAULT_MAX_MESSAGE);
    let (stream, relay) = rt.block_on(async {
        match ldap3::tokio::time::timeout(spec.connect_timeout, open_relayed(spec, tls, max)).await
        {
            Ok(r) => r,
            Err(elapsed) => Err(connect_error(LdapError::from(elapsed), spec)),
        }
    })?;

    // ldap3 speaks plain LDAP to the relay; the URL only names the connection.
    let settings = LdapConnSettings::new()
        .set_conn_timeout(spec.connect_timeout)
        .set_std_stream(ldap3::StdStream::Tcp(stream));
    let url = format!("ldap://{server}");
    let (conn, ldap) = rt
        .block_on(async { LdapConnAsync::with_settings(settings, &url).await })
        .map_err(|e| connect_error(e, spec))?;
    let driver = rt.spawn(async move { conn.drive().await });
    Ok(Conn {
        rt,
        ldap,
        driver: Some(driver),
        relay: Some(relay),
    })
}

/// TCP, StartTLS and TLS as `spec` says, then the relay.
async fn open_relayed(
    spec: &SearchSpec,
    tls: Option<Arc<rustls::ClientConfig>>,
    max: u64,
) -> Result<(std::net::TcpStream, super::relay::Relay), LdapSourceError> {
    let relay_error = |e: io::Error| LdapSourceError::Connect {
        server: spec.server(),
        reason: format!("cannot set up the local relay: {e}"),
    };
    let host = spec.host.trim_start_matches('[').trim_end_matches(']');
    let mut tcp = ldap3::tokio::net::TcpStream::connect((host, spec.port))
        .await
        .map_err(|e| connect_error(LdapError::from(e), spec))?;
    let _ = tcp.set_nodelay(true);
    let Some(config) = tls else {
        return super::relay::start(tcp, max).await.map_err(relay_error);
    };
    if spec.starttls {
        starttls(&mut tcp, spec, max).await?;
    }
    let name = rustls::pki_types::ServerName::try_from(host.to_string()).map_err(|e| {
        LdapSourceError::Tls {
            server: spec.server(),
            reason: format!("{} is not a usable TLS server name ({e})", spec.host),
            hint: "Use the host name or IP address the certificate names".into(),
        }
    })?;
    let stream = tokio_rustls::TlsConnector::from(config)
        .connect(name, tcp)
        .await
        .map_err(|e| io_error(&e, spec))?;
    super::relay::start(stream, max).await.map_err(relay_error)
}

/// The StartTLS extended operation (RFC 4511 4.14) on the plain connection.
async fn starttls(
    tcp: &mut ldap3::tokio::net::TcpStream,
    spec: &SearchSpec,
    max: u64,
) -> Result<(), LdapSourceError> {
    use ldap3::tokio::io::AsyncWriteExt;
    const OID: &[u8] = b"1.3.6.1.4.1.1466.20037";
    // LDAPMessage { messageID 1, ExtendedRequest [APPLICATION 23] { [0] OID } }
    let mut req = vec![0x30, 5 + 2 + OID.len() as u8, 0x02, 0x01, 0x01];
    req.extend([0x77, 2 + OID.len() as u8, 0x80, OID.len() as u8]);
    req.extend(OID);
    let refused = |reason: String| LdapSourceError::StartTls {
        server: spec.server(),
        reason,
    };
    tcp.write_all(&req)
        .await
        .map_err(|e| connect_error(LdapError::from(e), spec))?;
    let msg = super::relay::read_message(tcp, max)
        .await
        .map_err(|e| connect_error(LdapError::from(e), spec))?
        .map_err(|reason| LdapSourceError::Oversized {
            server: spec.server(),
            reason,
        })?;
    let bad = || refused("the server's answer is not an LDAP extended response".into());
    // SEQUENCE { INTEGER id, [APPLICATION 24] { ENUMERATED rc, matchedDN, message, ... } }
    let (_, body, _) = tlv(&msg).ok_or_else(bad)?;
    let (_, _, rest) = tlv(body).ok_or_else(bad)?;
    let (tag, resp, _) = tlv(rest).ok_or_else(bad)?;
    if tag != 0x78 {
        return Err(bad());
    }
    let (tag, rc, rest) = tlv(resp).ok_or_else(bad)?;
    if tag != 0x0a || rc.len() != 1 {
        return Err(bad());
    }
    let rc = u32::from(rc[0]);
    if rc == 0 {
        return Ok(());
    }
    let text = tlv(rest)
        .and_then(|(_, _, rest)| tlv(rest))
        .map(|(_, t, _)| String::from_utf8_lossy(t).into_owned())
        .unwrap_or_default();
    Err(refused(format!(
        "{} (rc={rc}{})",
        rc_name(rc),
        server_text(&text)
    )))
}

/// One BER element: (tag, content, the bytes after it).
fn tlv(b: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let tag = *b.first()?;
    let first = *b.get(1)?;
    let (start, len) = if first < 0x80 {
        (2, usize::from(first))
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 {
            return None;
        }
        let len = b
            .get(2..2 + n)?
            .iter()
            .fold(0usize, |acc, x| (acc << 8) | usize::from(*x));
        (2 + n, len)
    };
    let end = start.checked_add(len)?;
    Some((tag, b.get(start..end)?, b.get(end..)?))
}

/// --insecure: a TLS configuration that accepts any certificate (signatures are still
/// checked, so the handshake is sound; only who the server is goes unverified).
fn insecure_config() -> Result<Arc<rustls::ClientConfig>, LdapSourceError> {
    use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
    use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
    use rustls::{DigitallySignedStruct, SignatureScheme};

    #[derive(Debug)]
    struct AnyCertificate(Arc<rustls::crypto::CryptoProvider>);
    impl ServerCertVerifier for AnyCertificate {
        fn verify_server_cert(
            &self,
            _end_entity: &CertificateDer<'_>,
            _intermediates: &[CertificateDer<'_>],
            _server_name: &ServerName<'_>,
            _ocsp_response: &[u8],
            _now: UnixTime,
        ) -> Result<ServerCertVerified, rustls::Error> {
            Ok(ServerCertVerified::assertion())
        }
        fn verify_tls12_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            rustls::crypto::verify_tls12_signature(
                message,
                cert,
                dss,
                &self.0.signature_verification_algorithms,
            )
        }
        fn verify_tls13_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            rustls::crypto::verify_tls13_signature(
                message,
                cert,
                dss,
                &self.0.signature_verification_algorithms,
            )
        }
        fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
            self.0.signature_verification_algorithms.supported_schemes()
        }
    }

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| LdapSourceError::Tls {
            server: String::new(),
            reason: e.to_string(),
            hint: "This is a bug in roster's TLS setup".into(),
        })?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// The rustls configuration: the system's trust store plus `ca_file`.
fn tls_config(ca_file: Option<&Path>) -> Result<Arc<rustls::ClientConfig>, LdapSourceError> {
    let mut roots = rustls::RootCertStore::empty();
    // Unreadable system certificates are not fatal: --ca-file may be all that is needed,
    // and an untrusted server certificate is reported with what to do.
    roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
    if let Some(path) = ca_file {
        let err = |reason: String| LdapSourceError::CaFile {
            path: path.display().to_string(),
            reason,
        };
        let pem = std::fs::read(path).map_err(|e| err(e.to_string()))?;
        let mut n = 0;
        for cert in CertificateDer::pem_slice_iter(&pem) {
            let cert = cert.map_err(|e| err(format!("not valid PEM: {e}")))?;
            roots
                .add(cert)
                .map_err(|e| err(format!("not a usable CA certificate: {e}")))?;
            n += 1;
        }
        if n == 0 {
            return Err(err(
                "it holds no PEM certificate (-----BEGIN CERTIFICATE-----)".into(),
            ));
        }
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| LdapSourceError::Tls {
        server: String::new(),
        reason: e.to_string(),
        hint: "This is a bug in roster's TLS setup".into(),
    })?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(Arc::new(config))
}

fn connect_error(e: LdapError, spec: &SearchSpec) -> LdapSourceError {
    let server = spec.server();
    match e {
        LdapError::Timeout { .. } => LdapSourceError::Timeout {
            server,
            what: if spec.uses_tls() {
                "the connection and TLS handshake".into()
            } else {
                "the connection".into()
            },
            secs: spec.connect_timeout.as_secs().max(1),
            partial: String::new(),
        },
        LdapError::Io { source } => io_error(&source, spec),
        LdapError::LdapResult { result } => LdapSourceError::StartTls {
            server,
            reason: format!(
                "{} (rc={}{})",
                rc_name(result.rc),
                result.rc,
                server_text(&result.text)
            ),
        },
        LdapError::Rustls { source } => tls_error(&source, spec),
        LdapError::DNSName { source } => LdapSourceError::Tls {
            server,
            reason: format!("{} is not a usable TLS server name ({source})", spec.host),
            hint: "Use the host name or IP address the certificate names".into(),
        },
        LdapError::UrlParsing { source } => {
            LdapSourceError::Url(format!("{}: {source}", spec.connect_url()))
        }
        other => LdapSourceError::Connect {
            server,
            reason: other.to_string(),
        },
    }
}

fn io_error(e: &io::Error, spec: &SearchSpec) -> LdapSourceError {
    let server = spec.server();
    if let Some(tls) = e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
    {
        return tls_error(tls, spec);
    }
    let reason = match e.kind() {
        io::ErrorKind::ConnectionRefused => "connection refused (nothing listens there)".into(),
        io::ErrorKind::TimedOut => "the connection timed out".into(),
        io::ErrorKind::ConnectionReset
        | io::ErrorKind::UnexpectedEof
        | io::ErrorKind::BrokenPipe
            if spec.uses_tls() =>
        {
            return LdapSourceError::Tls {
                server,
                reason: format!("the server closed the connection during the TLS handshake ({e})"),
                hint: if spec.starttls {
                    "Check that TLS is configured on the server".into()
                } else {
                    "Check that the port speaks ldaps (636) and not plain LDAP (389); for \
                     plain ports use ldap:// with --starttls"
                        .into()
                },
            };
        }
        _ => e.to_string(),
    };
    LdapSourceError::Connect { server, reason }
}

fn tls_error(e: &rustls::Error, spec: &SearchSpec) -> LdapSourceError {
    use rustls::CertificateError as C;
    let server = spec.server();
    let (reason, hint) = match e {
        rustls::Error::InvalidCertificate(C::UnknownIssuer) => (
            "the server's certificate is not trusted (it is not signed by a CA in the system \
             trust store or --ca-file)"
                .to_string(),
            "Give the CA certificate that signed it with --ca-file (PEM)".to_string(),
        ),
        rustls::Error::InvalidCertificate(
            C::NotValidForName | C::NotValidForNameContext { .. },
        ) => (
            format!(
                "the server's certificate is not valid for the name {}",
                spec.host
            ),
            "Connect with a host name or IP address listed in the certificate's subjectAltName"
                .to_string(),
        ),
        rustls::Error::InvalidCertificate(
            C::Expired | C::ExpiredContext { .. } | C::NotValidYet | C::NotValidYetContext { .. },
        ) => (
            format!("the server's certificate is outside its validity period ({e})"),
            "Renew the server certificate, or check this machine's clock".to_string(),
        ),
        rustls::Error::InvalidCertificate(_) => (
            format!("the server's certificate was refused ({e})"),
            "Check the server certificate and --ca-file".to_string(),
        ),
        rustls::Error::InvalidMessage(_) | rustls::Error::InappropriateMessage { .. } => (
            format!("the server did not answer with TLS ({e})"),
            "Check that the port speaks ldaps (636) and not plain LDAP (389); for plain ports \
             use ldap:// with --starttls"
                .to_string(),
        ),
        other => (
            other.to_string(),
            "Check the server's TLS configuration".to_string(),
        ),
    };
    LdapSourceError::Tls {
        server,
        reason,
        hint,
    }
}

/// Binds as `spec.bind_dn` with `password`, or anonymously when there is no bind DN.
pub(crate) fn bind(
    conn: &mut Conn,
    spec: &SearchSpec,
    password: Option<&Secret>,
) -> Result<(), LdapSourceError> {
    let (dn, pw) = match (&spec.bind_dn, password) {
        (Some(dn), Some(pw)) => (dn.as_str(), pw.expose()),
        (Some(dn), None) => {
            return Err(LdapSourceError::NoPassword {
                bind_dn: dn.clone(),
            });
        }
        (None, _) => ("", ""),
    };
    let who = spec.bind_dn.clone().unwrap_or_else(|| "anonymous".into());
    let ldap = &mut conn.ldap;
    let timeout = spec.timeout;
    let res = conn.rt.block_on(async {
        ldap.with_timeout(timeout);
        ldap.simple_bind(dn, pw).await
    });
    let result = match res {
        Ok(r) => r,
        Err(LdapError::Timeout { .. }) => {
            return Err(LdapSourceError::Timeout {
                server: spec.server(),
                what: "the bind".into(),
                secs: timeout.as_secs().max(1),
                partial: String::new(),
            });
        }
        Err(e) => {
            if let Some(reason) = conn.cut_reason() {
                return Err(LdapSourceError::Oversized {
                    server: spec.server(),
                    reason,
                });
            }
            let why = conn.ended_because().unwrap_or_else(|| e.to_string());
            let hint = if spec.uses_tls() {
                String::new()
            } else {
                "; if this is an ldaps port (636), use ldaps://".to_string()
            };
            return Err(LdapSourceError::Connect {
                server: spec.server(),
                reason: format!("the connection failed during the bind: {why}{hint}"),
            });
        }
    };
    if result.rc == 0 {
        return Ok(());
    }
    let anonymous = spec.bind_dn.is_none();
    let hint = match result.rc {
        49 => {
            let ad = ad_bind_reason(&result.text)
                .map(|r| format!("Active Directory says: {r}. "))
                .unwrap_or_default();
            format!("{ad}Check ROSTER_LDAP_PASSWORD(_FILE) and --bind-dn")
        }
        8 | 13 => "The server requires TLS for this bind: use an ldaps:// URL or --starttls".into(),
        34 => "--bind-dn is not a valid DN (e.g. cn=reader,dc=example,dc=org)".into(),
        48 | 50 | 53 if anonymous => {
            "The server does not allow anonymous reads: give --bind-dn and \
             ROSTER_LDAP_PASSWORD(_FILE)"
                .into()
        }
        53 => "The account may be disabled, or the server refuses simple binds without TLS \
               (use ldaps:// or --starttls)"
            .into(),
        _ => "Check --bind-dn and the server's logs".into(),
    };
    Err(LdapSourceError::Bind {
        who,
        rc: result.rc,
        reason: rc_name(result.rc).into(),
        server_text: server_text(&result.text),
        hint,
    })
}

/// Active Directory puts the real reason of rc 49 in the text as `data NNN`.
fn ad_bind_reason(text: &str) -> Option<&'static str> {
    let code = text.split("data ").nth(1)?.get(..3)?;
    Some(match code {
        "525" => "user not found",
        "52e" => "wrong password",
        "530" => "not permitted to log on at this time",
        "531" => "not permitted to log on from this workstation",
        "532" => "password expired",
        "533" => "account disabled",
        "701" => "account expired",
        "773" => "the user must reset the password",
        "775" => "account locked out",
        _ => return None,
    })
}

/// The search base the server names (AD's defaultNamingContext, or its only naming
/// context), for URLs that give none.
pub(crate) fn naming_context(
    conn: &mut Conn,
    spec: &SearchSpec,
) -> Result<String, LdapSourceError> {
    let ldap = &mut conn.ldap;
    let timeout = spec.timeout;
    let res = conn.rt.block_on(async {
        ldap.with_timeout(timeout);
        ldap.search(
            "",
            Scope::Base,
            "(objectClass=*)",
            vec!["namingContexts", "defaultNamingContext"],
        )
        .await
    });
    let nothing = |detail: String| LdapSourceError::NoBase { detail };
    let res = res.map_err(|e| nothing(format!("reading the server's root DSE failed: {e}")))?;
    let mut contexts = Vec::new();
    for re in res.0 {
        if let Response::Entry(rec) = entry::convert(re.0, 0) {
            // A DN is UTF-8: a context that is not could not be searched anyway.
            if let Some(v) = rec
                .attrs
                .get("defaultNamingContext")
                .and_then(|v| v.first())
                .and_then(|v| v.text())
            {
                return Ok(v.to_owned());
            }
            if let Some(v) = rec.attrs.get("namingContexts") {
                contexts.extend(v.iter().filter_map(|v| v.text()).map(str::to_owned));
            }
        }
    }
    match contexts.len() {
        1 => Ok(contexts.remove(0)),
        0 => Err(nothing(
            "the server does not publish a naming context".to_string(),
        )),
        _ => Err(nothing(format!(
            "the server holds several: {}",
            contexts.join(" | ")
        ))),
    }
}

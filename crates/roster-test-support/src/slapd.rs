//! A throwaway OpenLDAP server for tests.
//!
//! `Slapd::start(opts)` creates a temporary directory with a slapd.conf, loads generated
//! people with `slapadd -q`, optionally makes a test CA and a server certificate with the
//! `openssl` CLI, starts `slapd -d 0` on free 127.0.0.1 ports and waits until
//! `ldapwhoami` gets an answer. Dropping the value kills slapd (by PID) and waits for it.
//!
//! Directory: `dc=example,dc=org` with `ou=people`, the non-root reader
//! [`READER_DN`] / [`READER_PW`], and `opts.users` inetOrgPerson entries described by
//! [`user`]. Anonymous clients may read everything but `userPassword` and
//! `employeeNumber`; bound users may also read `employeeNumber` (so a test can tell a
//! real bind from an anonymous one). The rootdn ignores limits: limit tests must bind as
//! the reader or anonymously.
//!
//! Needs slapd and ldap-utils (`apt-get install slapd ldap-utils`); without them the
//! harness panics rather than letting tests pass without a server.

use std::fmt::Write as _;
use std::fs;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;

pub const SUFFIX: &str = "dc=example,dc=org";
pub const PEOPLE: &str = "ou=people,dc=example,dc=org";
pub const READER_DN: &str = "cn=reader,dc=example,dc=org";
pub const READER_PW: &str = "readerpw";
pub const ADMIN_DN: &str = "cn=admin,dc=example,dc=org";
pub const ADMIN_PW: &str = "secret";
/// The OpenLDAP default, set explicitly; paged searches are not capped in total.
pub const DEFAULT_LIMITS: &str = "sizelimit size.soft=500 size.hard=500 size.prtotal=unlimited";

/// A test schema with the Active Directory names the LDAP source cares about:
/// binary `objectGUID` and `objectSid` and a `computer` object class.
pub const AD_SCHEMA: &str = "\
attributetype ( 1.3.6.1.4.1.4203.666.11.999.1 NAME 'objectGUID'
  SYNTAX 1.3.6.1.4.1.1466.115.121.1.40 SINGLE-VALUE )
attributetype ( 1.3.6.1.4.1.4203.666.11.999.4 NAME 'objectSid'
  SYNTAX 1.3.6.1.4.1.1466.115.121.1.40 SINGLE-VALUE )
objectclass ( 1.3.6.1.4.1.4203.666.11.999.2 NAME 'computer' AUXILIARY )
objectclass ( 1.3.6.1.4.1.4203.666.11.999.3 NAME 'adObject' AUXILIARY MAY ( objectGUID $ objectSid ) )
";

#[derive(Clone, Debug)]
pub struct SlapdOptions {
    /// Number of generated people (see [`user`]).
    pub users: usize,
    /// Also listen on ldaps and allow StartTLS, with a certificate from a test CA.
    pub tls: bool,
    /// The `sizelimit` line (default [`DEFAULT_LIMITS`]).
    pub limits: String,
    /// Extra schema text (e.g. [`AD_SCHEMA`]), included after the standard schemas.
    pub schema: String,
    /// Extra LDIF entries, appended after the generated people.
    pub ldif: String,
}

impl Default for SlapdOptions {
    fn default() -> Self {
        SlapdOptions {
            users: 10,
            tls: false,
            limits: DEFAULT_LIMITS.to_string(),
            schema: String::new(),
            ldif: String::new(),
        }
    }
}

impl SlapdOptions {
    pub fn users(n: usize) -> Self {
        SlapdOptions {
            users: n,
            ..Default::default()
        }
    }
}

/// One generated person.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TestUser {
    pub uid: String,
    pub dn: String,
    pub given_name: String,
    pub sn: String,
    /// Also the displayName.
    pub cn: String,
    pub mail: String,
    pub employee_number: String,
}

/// Person `i`: `uid=user00042`; every fourth has a German, Chinese, Spanish or plain name
/// (`Zoë Müller 0`, `李 小龙 1`, `José Núñez 2`, `Ann Smith 3`).
pub fn user(i: usize) -> TestUser {
    let (given, sn) = match i % 4 {
        0 => ("Zoë", "Müller"),
        1 => ("李", "小龙"),
        2 => ("José", "Núñez"),
        _ => ("Ann", "Smith"),
    };
    let uid = format!("user{i:05}");
    TestUser {
        dn: format!("uid={uid},{PEOPLE}"),
        given_name: given.to_string(),
        sn: sn.to_string(),
        cn: format!("{given} {sn} {i}"),
        mail: format!("{uid}@example.org"),
        employee_number: format!("{}", 100000 + i),
        uid,
    }
}

/// The `jpegPhoto` of user 0: not UTF-8, so it must arrive as binary.
pub const PHOTO: &[u8] = &[
    0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, b'J', b'F', b'I', b'F', 0x00,
];

/// An LDIF line `name: value`, base64 (`::`) when the value is not safe ASCII.
pub fn ldif_line(out: &mut String, name: &str, value: &[u8]) {
    let safe = !value.is_empty()
        && value.iter().all(|&b| (0x20..0x7f).contains(&b))
        && !matches!(value[0], b' ' | b':' | b'<')
        && value.last() != Some(&b' ');
    if safe || value.is_empty() {
        let _ = writeln!(out, "{name}: {}", String::from_utf8_lossy(value));
    } else {
        let _ = writeln!(
            out,
            "{name}:: {}",
            base64::engine::general_purpose::STANDARD.encode(value)
        );
    }
}

/// The LDIF of the base entries, the reader and `n` people.
pub fn directory_ldif(n: usize) -> String {
    let mut s = format!(
        "dn: {SUFFIX}\nobjectClass: dcObject\nobjectClass: organization\no: Example\ndc: example\n\n\
         dn: {PEOPLE}\nobjectClass: organizationalUnit\nou: people\n\n\
         dn: {READER_DN}\nobjectClass: organizationalRole\nobjectClass: simpleSecurityObject\n\
         cn: reader\nuserPassword: {READER_PW}\n\n"
    );
    for i in 0..n {
        let u = user(i);
        let _ = writeln!(s, "dn: {}", u.dn);
        s.push_str("objectClass: inetOrgPerson\n");
        ldif_line(&mut s, "uid", u.uid.as_bytes());
        ldif_line(&mut s, "cn", u.cn.as_bytes());
        ldif_line(&mut s, "sn", u.sn.as_bytes());
        ldif_line(&mut s, "givenName", u.given_name.as_bytes());
        ldif_line(&mut s, "displayName", u.cn.as_bytes());
        ldif_line(&mut s, "mail", u.mail.as_bytes());
        ldif_line(&mut s, "employeeNumber", u.employee_number.as_bytes());
        if i == 0 {
            ldif_line(&mut s, "jpegPhoto", PHOTO);
        }
        s.push('\n');
    }
    s
}

/// A running slapd. Killed on drop.
pub struct Slapd {
    dir: tempfile::TempDir,
    child: Option<Child>,
    pub port: u16,
    pub tls_port: Option<u16>,
}

impl Slapd {
    /// Starts a server as described by `opts`; panics (with slapd's output) if it cannot.
    pub fn start(opts: SlapdOptions) -> Slapd {
        let slapd = tool("slapd");
        let slapadd = tool("slapadd");
        let schema_dir = ["/etc/ldap/schema", "/etc/openldap/schema"]
            .into_iter()
            .map(PathBuf::from)
            .find(|p| p.join("core.schema").exists())
            .unwrap_or_else(|| panic!("{NOT_FOUND} (no core.schema in /etc/ldap/schema)"));
        let module_dir = ["/usr/lib/ldap", "/usr/lib64/openldap", "/usr/lib/openldap"]
            .into_iter()
            .find(|p| Path::new(p).exists())
            .unwrap_or("/usr/lib/ldap");

        let dir = tempfile::Builder::new()
            .prefix("roster-slapd-")
            .tempdir()
            .expect("temp dir");
        let d = dir.path().to_path_buf();
        let d = d.as_path();
        fs::create_dir(d.join("db")).expect("db dir");
        if opts.tls {
            make_certificates(d);
        }
        let mut conf = String::new();
        for s in ["core", "cosine", "inetorgperson", "nis"] {
            let _ = writeln!(conf, "include {}/{s}.schema", schema_dir.display());
        }
        if !opts.schema.is_empty() {
            fs::write(d.join("test.schema"), &opts.schema).expect("write schema");
            let _ = writeln!(conf, "include {}/test.schema", d.display());
        }
        let _ = write!(
            conf,
            "pidfile {d}/slapd.pid\nargsfile {d}/slapd.args\nmodulepath {module_dir}\n\
             moduleload back_mdb\n{limits}\n",
            d = d.display(),
            limits = opts.limits
        );
        if opts.tls {
            let _ = write!(
                conf,
                "TLSCACertificateFile {d}/ca.pem\nTLSCertificateFile {d}/server.pem\n\
                 TLSCertificateKeyFile {d}/server.key\n",
                d = d.display()
            );
        }
        let _ = write!(
            conf,
            "database mdb\nmaxsize 1073741824\nsuffix \"{SUFFIX}\"\nrootdn \"{ADMIN_DN}\"\n\
             rootpw {ADMIN_PW}\ndirectory {d}/db\nindex objectClass eq\nindex uid,mail eq\n\
             access to attrs=userPassword by self write by anonymous auth by * none\n\
             access to attrs=employeeNumber by users read by * none\n\
             access to * by * read\n",
            d = d.display()
        );
        fs::write(d.join("slapd.conf"), conf).expect("write slapd.conf");

        let mut ldif = directory_ldif(opts.users);
        ldif.push_str(&opts.ldif);
        fs::write(d.join("data.ldif"), ldif).expect("write ldif");
        let out = Command::new(&slapadd)
            .arg("-q")
            .arg("-f")
            .arg(d.join("slapd.conf"))
            .arg("-l")
            .arg(d.join("data.ldif"))
            .output()
            .expect("run slapadd");
        assert!(
            out.status.success(),
            "slapadd failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );

        // A free port can be taken by someone else before slapd binds it: try again.
        let mut last_output = String::new();
        for _ in 0..5 {
            let port = free_port();
            let tls_port = opts.tls.then(free_port);
            let mut urls = format!("ldap://127.0.0.1:{port}/");
            if let Some(p) = tls_port {
                let _ = write!(urls, " ldaps://127.0.0.1:{p}/");
            }
            let log = fs::File::create(d.join("slapd.log")).expect("log file");
            let child = Command::new(&slapd)
                .arg("-d")
                .arg("0")
                .arg("-f")
                .arg(d.join("slapd.conf"))
                .arg("-h")
                .arg(&urls)
                .stdin(Stdio::null())
                .stdout(log.try_clone().expect("log file"))
                .stderr(log)
                .spawn()
                .expect("start slapd");
            let mut child = child;
            if wait_ready(&mut child, port) {
                return Slapd {
                    dir,
                    child: Some(child),
                    port,
                    tls_port,
                };
            }
            let _ = child.kill();
            let _ = child.wait();
            last_output = fs::read_to_string(d.join("slapd.log")).unwrap_or_default();
        }
        panic!("slapd did not start: {last_output}");
    }

    /// `ldap://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("ldap://127.0.0.1:{}", self.port)
    }

    /// `ldap://127.0.0.1:PORT/ou=people,dc=example,dc=org`
    pub fn people_url(&self) -> String {
        format!("{}/{PEOPLE}", self.url())
    }

    /// `ldaps://127.0.0.1:TLSPORT`; panics if started without TLS.
    pub fn ldaps_url(&self) -> String {
        let port = self.tls_port.expect("slapd started without tls");
        format!("ldaps://127.0.0.1:{port}")
    }

    /// The test CA certificate (PEM) that signed the server certificate.
    pub fn ca_file(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// The instance directory (slapd.conf, data.ldif, slapd.log).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }

    /// Kills slapd now (SIGKILL, by PID) and waits for it. Idempotent.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Slapd {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Polls with ldapwhoami until slapd answers; false if it exited or took over 10 s.
fn wait_ready(child: &mut Child, port: u16) -> bool {
    let whoami = tool("ldapwhoami");
    let url = format!("ldap://127.0.0.1:{port}");
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(10) {
        if let Ok(Some(_)) = child.try_wait() {
            return false;
        }
        let ok = Command::new(&whoami)
            .args(["-x", "-H", &url])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if ok {
            return true;
        }
        std::thread::sleep(Duration::from_millis(30));
    }
    false
}

const NOT_FOUND: &str = "slapd not found: apt-get install slapd ldap-utils (see .ci/run)";

/// Finds an OpenLDAP program on PATH or in the sbin directories (slapd lives in /usr/sbin,
/// often not on a user's PATH).
fn tool(name: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/usr/local/sbin", "/sbin", "/usr/bin"].map(PathBuf::from))
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("{NOT_FOUND} ({name} is missing)"))
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// A test CA and a server certificate it signed (CA:FALSE, SAN localhost and 127.0.0.1):
/// rustls refuses a self-signed CA certificate used as the server's own.
fn make_certificates(d: &Path) {
    let run = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(d)
            .output()
            .unwrap_or_else(|e| panic!("openssl not found ({e}): apt-get install openssl"));
        assert!(
            out.status.success(),
            "openssl {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let mut ca = vec!["req", "-x509"];
    ca.extend(ec);
    ca.extend([
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=roster test CA",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    ]);
    run(&ca);
    let mut csr = vec!["req", "-new"];
    csr.extend(ec);
    csr.extend([
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=localhost",
    ]);
    run(&csr);
    fs::write(
        d.join("server.ext"),
        "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n\
         extendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n",
    )
    .expect("write server.ext");
    run(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.pem",
        "-days",
        "2",
        "-extfile",
        "server.ext",
    ]);
}

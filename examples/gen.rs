//! Synthetic users for benchmarks and demos.
//!
//! ```text
//! cargo run --release --example gen -- --rows 1000000 --format csv > users.csv
//! cargo run --release --example gen -- --rows 1000000 --format ldif -o users.ldif
//! ```
//! Options: `--rows N` (default 1000), `--format csv|ldif|jsonl`, `-o FILE` (default
//! stdout), `--seed N`, `--start N` (first user number), `--domain D`.
//! Every row is valid and distinct; about one name in eight is non-ASCII.

use std::io::{self, BufWriter, Write};

const FIRST: &[&str] = &[
    "Anna", "Bob", "Chloé", "Dmitri", "Emma", "Fatima", "George", "Hana", "Ivan", "Julia", "Karl",
    "Lena", "María", "Nils", "Olivia", "Pedro", "Quinn", "Rahul", "Sofia", "Tom", "Ursula",
    "Victor", "Wen", "Zoë",
];
const LAST: &[&str] = &[
    "Schmidt", "Okafor", "Martin", "Ivanov", "Wilson", "Haddad", "Li", "Sato", "Petrov", "Rossi",
    "Berg", "Novak", "García", "Andersen", "Brown", "Souza", "Taylor", "Mehta", "Costa", "O'Neil",
    "Klein", "Hugo", "Zhang", "Müller",
];
const DEPTS: &[&str] = &[
    "Sales",
    "Engineering",
    "Support",
    "Finance",
    "Legal",
    "Operations",
];

struct Args {
    rows: u64,
    format: String,
    out: Option<String>,
    seed: u64,
    start: u64,
    domain: String,
}

fn parse() -> Result<Args, String> {
    let mut a = Args {
        rows: 1000,
        format: "csv".into(),
        out: None,
        seed: 1,
        start: 1,
        domain: "example.org".into(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let mut v = || it.next().ok_or(format!("{k} needs a value"));
        match k.as_str() {
            "--rows" => a.rows = v()?.parse().map_err(|_| "--rows: not a number")?,
            "--format" => a.format = v()?,
            "-o" | "--output" => a.out = Some(v()?),
            "--seed" => a.seed = v()?.parse().map_err(|_| "--seed: not a number")?,
            "--start" => a.start = v()?.parse().map_err(|_| "--start: not a number")?,
            "--domain" => a.domain = v()?,
            _ => return Err(format!("unknown option {k}")),
        }
    }
    Ok(a)
}

/// A small deterministic generator (splitmix64), so runs are repeatable.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn pick<'a>(&mut self, v: &[&'a str]) -> &'a str {
        v[(self.next() % v.len() as u64) as usize]
    }
}

fn main() {
    let a = match parse() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("gen: {e}");
            std::process::exit(2);
        }
    };
    let out: Box<dyn Write> = match &a.out {
        Some(p) => match std::fs::File::create(p) {
            Ok(f) => Box::new(f),
            Err(e) => {
                eprintln!("gen: {p}: {e}");
                std::process::exit(2);
            }
        },
        None => Box::new(io::stdout().lock()),
    };
    let mut w = BufWriter::with_capacity(1 << 20, out);
    if let Err(e) = generate(&a, &mut w).and_then(|_| w.flush()) {
        eprintln!("gen: {e}");
        std::process::exit(1);
    }
}

fn generate(a: &Args, w: &mut dyn Write) -> io::Result<()> {
    let mut rng = Rng(a.seed);
    match a.format.as_str() {
        "csv" => writeln!(
            w,
            "username,email,first_name,last_name,name,roles,active,employee_id"
        )?,
        "ldif" => writeln!(w, "version: 1\n")?,
        "jsonl" => {}
        f => return Err(io::Error::other(format!("unknown format {f}"))),
    }
    for i in a.start..a.start + a.rows {
        let first = rng.pick(FIRST);
        let last = rng.pick(LAST);
        let dept = rng.pick(DEPTS);
        let user = format!("user{i:07}");
        let mail = format!("{user}@{}", a.domain);
        let name = format!("{first} {last}");
        let active = !rng.next().is_multiple_of(50);
        match a.format.as_str() {
            "csv" => {
                let q = if name.contains('\'') || name.contains(',') {
                    format!("\"{name}\"")
                } else {
                    name.clone()
                };
                writeln!(w, "{user},{mail},{first},{last},{q},user,{active},E{i:07}")?
            }
            "ldif" => {
                writeln!(w, "dn: uid={user},ou=people,dc=example,dc=org")?;
                writeln!(w, "objectClass: inetOrgPerson")?;
                writeln!(w, "uid: {user}")?;
                writeln!(w, "mail: {mail}")?;
                ldif_value(w, "cn", &name)?;
                ldif_value(w, "givenName", first)?;
                ldif_value(w, "sn", last)?;
                writeln!(w, "ou: {dept}")?;
                writeln!(w, "employeeNumber: E{i:07}")?;
                if !active {
                    writeln!(w, "nsAccountLock: TRUE")?;
                }
                writeln!(w)?
            }
            _ => {
                let obj = serde_json::json!({
                    "username": user, "email": mail, "first_name": first, "last_name": last,
                    "name": name, "roles": ["user"], "active": active, "external_id": format!("E{i:07}"),
                });
                writeln!(w, "{obj}")?
            }
        }
    }
    Ok(())
}

fn ldif_value(w: &mut dyn Write, attr: &str, v: &str) -> io::Result<()> {
    use base64::Engine;
    if v.is_ascii() {
        writeln!(w, "{attr}: {v}")
    } else {
        writeln!(
            w,
            "{attr}:: {}",
            base64::engine::general_purpose::STANDARD.encode(v)
        )
    }
}

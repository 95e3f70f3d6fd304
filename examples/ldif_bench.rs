//! Reader throughput: writes N inetOrgPerson users with the LDIF writer (once), then times
//! `LdifSource` over the file. Run: `cargo run --release --example ldif_bench -- [N] [PATH]`.

use std::time::Instant;

use roster::model::User;
use roster::output::{self, WriterOptions};
use roster::source::ldif::LdifSource;
use roster::source::{Format, Source, SourceItem, SourceOptions};

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let n: u64 = args
        .next()
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(1_000_000);
    let path = args.next().unwrap_or_else(|| {
        std::env::temp_dir()
            .join(format!("roster-bench-{n}.ldif"))
            .display()
            .to_string()
    });
    if !std::path::Path::new(&path).exists() {
        let t = Instant::now();
        let mut w = output::create(path.as_ref(), Format::Ldif, &WriterOptions::default())?;
        for i in 0..n {
            w.write(&User {
                username: format!("user{i:07}"),
                email: Some(format!("user{i:07}@example.org")),
                name: Some(format!("Given{i} Surname{i}")),
                first_name: Some(format!("Given{i}")),
                last_name: Some(format!("Surname{i}")),
                position: Some("Engineer".into()),
                external_id: Some(i.to_string()),
                ..User::default()
            })?;
        }
        w.finish()?;
        eprintln!("wrote {n} entries to {path} in {:.2?}", t.elapsed());
    }
    let t = Instant::now();
    let mut src = LdifSource::open(&path, &SourceOptions::default())?;
    let (mut good, mut bad, mut attrs) = (0u64, 0u64, 0usize);
    while let Some(item) = src.next_item()? {
        match item {
            SourceItem::Record(r) => {
                good += 1;
                attrs += r.attrs.len();
            }
            SourceItem::Bad(_) => bad += 1,
        }
    }
    let secs = t.elapsed().as_secs_f64();
    println!(
        "{good} records ({bad} bad, {attrs} attributes) in {secs:.2}s: {:.0} records/s",
        good as f64 / secs
    );
    Ok(())
}

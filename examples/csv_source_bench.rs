//! Throughput of the CSV source alone: `cargo run --release --example csv_source_bench [ROWS] [FILE]`.
//!
//! Generates a typical 8-column users file (in memory, or written to FILE to reuse with
//! `roster validate`), then drains `CsvSource` over it and prints rows per second.
//! A measuring command, not a test: nothing here asserts timings. `FLOORS=1` also prints
//! what parsing alone and other record shapes cost on the same data.

use std::hint::black_box;
use std::io::{self, Write};
use std::sync::Arc;
use std::time::Instant;

use roster::model::FieldValue;
use roster::source::csv::CsvSource;
use roster::source::{Format, Source, SourceItem, SourceOptions};

fn main() -> io::Result<()> {
    let mut args = std::env::args().skip(1);
    let rows: usize = args
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let file = args.next();

    let mut data = Vec::with_capacity(rows * 110);
    data.extend_from_slice(b"username,email,first_name,last_name,name,roles,active,employee_id\n");
    for i in 0..rows {
        writeln!(
            data,
            "user{i},user{i}@example.org,First{i},Last{i},\"Last{i}, First{i}\",user;bot,true,E{:07}",
            i * 7
        )?;
    }
    if let Some(path) = &file {
        std::fs::write(path, &data)?;
        eprintln!("wrote {path}");
    }
    let mb = data.len() as f64 / 1e6;

    for round in 1..=3 {
        let input = io::Cursor::new(data.clone());
        let start = Instant::now();
        let mut src =
            CsvSource::from_reader(input, "bench.csv", Format::Csv, &SourceOptions::default())
                .map_err(io::Error::other)?;
        let (mut ok, mut bad) = (0u64, 0u64);
        while let Some(item) = src.next_item().map_err(io::Error::other)? {
            match item {
                SourceItem::Record(_) => ok += 1,
                SourceItem::Bad(_) => bad += 1,
            }
        }
        let secs = start.elapsed().as_secs_f64();
        println!(
            "round {round}: {ok} rows ({bad} bad), {mb:.1} MB in {secs:.3} s: {:.2} M rows/s, {:.0} ns/row, {:.0} MB/s",
            ok as f64 / secs / 1e6,
            secs * 1e9 / ok.max(1) as f64,
            mb / secs
        );
    }
    if std::env::var_os("FLOORS").is_some() {
        floors(&data);
    }
    Ok(())
}

/// What the `RawRecord` shape costs (run with FLOORS=1): the same rows parsed by csv-core
/// and turned into (a) nothing, (b) cell strings only, (c) today's `Attrs` entries
/// `(String, Vec<Value>)`, and two candidate shapes: (d) `(Arc<str>, Vec<Value>)`,
/// (e) `(Arc<str>, Value)`. Every row's data is dropped before the next, as in the pipeline.
fn floors(data: &[u8]) {
    let names: Vec<String> = (0..8).map(|i| format!("column_{i}")).collect();
    let shared: Vec<Arc<str>> = names.iter().map(|n| Arc::from(n.as_str())).collect();
    let text = |s: &str| FieldValue::Text(s.to_string());
    floor(data, "(a) parse only", |_| 0);
    floor(data, "(b) cell strings", |cells| {
        black_box(cells.iter().map(|c| c.to_string()).collect::<Vec<_>>()).len()
    });
    floor(data, "(c) (String, Vec<Value>)", |cells| {
        let v: Vec<_> = names
            .iter()
            .zip(cells)
            .map(|(n, c)| (n.clone(), vec![text(c)]))
            .collect();
        black_box(v).len()
    });
    floor(data, "(d) (Arc<str>, Vec<Value>)", |cells| {
        let v: Vec<_> = shared
            .iter()
            .zip(cells)
            .map(|(n, c)| (n.clone(), vec![text(c)]))
            .collect();
        black_box(v).len()
    });
    floor(data, "(e) (Arc<str>, Value)", |cells| {
        let v: Vec<_> = shared
            .iter()
            .zip(cells)
            .map(|(n, c)| (n.clone(), text(c)))
            .collect();
        black_box(v).len()
    });
}

fn floor(data: &[u8], what: &str, mut build: impl FnMut(&[&str]) -> usize) {
    let mut core = csv_core::Reader::new();
    let (mut out, mut ends) = (vec![0u8; 4096], vec![0usize; 64]);
    let (mut input, mut rows, mut built) = (data, 0u64, 0usize);
    let start = Instant::now();
    loop {
        let (res, nin, _, nend) = core.read_record(input, &mut out, &mut ends);
        input = &input[nin..];
        match res {
            csv_core::ReadRecordResult::Record => {
                rows += 1;
                let Ok(text) = std::str::from_utf8(&out[..ends[nend - 1]]) else {
                    continue;
                };
                let mut s = 0;
                let cells: Vec<&str> = ends[..nend]
                    .iter()
                    .map(|&e| {
                        let c = &text[s..e];
                        s = e;
                        c
                    })
                    .collect();
                built += build(&cells);
            }
            csv_core::ReadRecordResult::End => break,
            _ => {}
        }
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "floor {what}: {rows} rows ({built} cells) in {secs:.3} s: {:.0} ns/row",
        secs * 1e9 / rows as f64
    );
}

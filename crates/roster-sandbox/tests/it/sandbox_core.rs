//! The flavor-independent core through HTTP: faults before/after the write, dropped
//! connections, latency, the state file, the state endpoint, the request log, HTTP details,
//! concurrency and the `roster sandbox` binary.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use roster_sandbox::{FaultPhase, SandboxConfig};
use roster_test_support::*;
use serde_json::{Value, json};

fn quiet() -> SandboxConfig {
    SandboxConfig {
        rate_limit: Some(false),
        ..config()
    }
}

fn create(s: &Session, name: &str) -> Result<Reply, reqwest::Error> {
    let rb = s
        .client
        .post(format!("{}/api/v1/users.create", s.base))
        .header("X-User-Id", &s.user_id)
        .header("X-Auth-Token", &s.token)
        .json(&json!({"username": name, "email": format!("{name}@example.org"), "name": name, "password": "pw"}));
    let resp = rb.send()?;
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let text = resp.text()?;
    Ok(Reply {
        status,
        headers,
        body: serde_json::from_str(&text).unwrap_or(Value::Null),
        text,
    })
}

fn exists(sb: &roster_sandbox::Sandbox, name: &str) -> bool {
    sb.users().iter().any(|u| u["username"] == name)
}

fn log_lines(path: &std::path::Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .expect("log file")
        .lines()
        .map(|l| serde_json::from_str(l).expect("each log line is JSON"))
        .collect()
}

#[test]
fn faults_happen_before_or_after_the_write() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("requests.jsonl");
    let sb = start(SandboxConfig {
        fault_rate: 1.0,
        seed: Some(7),
        log_file: Some(log.clone()),
        ..quiet()
    });
    // Login is never faulted.
    let admin = Session::admin(&sb);
    let names: Vec<String> = (0..16).map(|i| format!("f{i:02}")).collect();
    for n in &names {
        let r = create(&admin, n).expect("an answer");
        assert!(
            [500, 502, 503].contains(&r.status),
            "{n}: {} {}",
            r.status,
            r.text
        );
        if r.status == 500 {
            assert_eq!(
                r.body,
                json!({"success": false, "error": "Internal server error"})
            );
        } else {
            assert!(r.text.contains(&format!("<h1>{}", r.status)), "{}", r.text);
        }
    }
    // Reads are not faulted.
    assert_eq!(admin.get("/api/v1/me").status, 200);

    let kinds: Vec<String> = log_lines(&log)
        .into_iter()
        .filter(|l| l["route"] == "POST /api/v1/users.create")
        .map(|l| l["fault"].as_str().expect("a fault kind").to_string())
        .collect();
    assert_eq!(kinds.len(), names.len());
    assert!(kinds.iter().any(|k| k == "error_before"));
    assert!(kinds.iter().any(|k| k == "error_after"));
    for (n, kind) in names.iter().zip(&kinds) {
        match kind.as_str() {
            "error_before" => assert!(!exists(&sb, n), "{n} must not exist"),
            "error_after" => assert!(exists(&sb, n), "{n} must exist despite the 5xx"),
            other => panic!("unexpected fault {other}"),
        }
    }
    let c = &sb.counters()["POST /api/v1/users.create"];
    assert_eq!(c.requests, 16);
    assert_eq!(c.faults, 16);
    assert_eq!(
        c.faults_before,
        kinds.iter().filter(|k| *k == "error_before").count() as u64
    );
    assert_eq!(c.faults_before + c.faults_after, 16);
    drop(sb);

    // The same seed gives the same sequence.
    let log2 = dir.path().join("again.jsonl");
    let sb = start(SandboxConfig {
        fault_rate: 1.0,
        seed: Some(7),
        log_file: Some(log2.clone()),
        ..quiet()
    });
    let admin = Session::admin(&sb);
    for n in &names {
        let _ = create(&admin, n);
    }
    let again: Vec<String> = log_lines(&log2)
        .into_iter()
        .filter(|l| l["route"] == "POST /api/v1/users.create")
        .map(|l| l["fault"].as_str().unwrap_or("").to_string())
        .collect();
    assert_eq!(again, kinds);

    // A forced phase.
    sb.set_fault_phase(FaultPhase::Before);
    assert_eq!(create(&admin, "forced.before").unwrap().status / 100, 5);
    assert!(!exists(&sb, "forced.before"));
    sb.set_fault_phase(FaultPhase::After);
    assert_eq!(create(&admin, "forced.after").unwrap().status / 100, 5);
    assert!(exists(&sb, "forced.after"));
    // Off again.
    sb.set_faults(0.0, 0.0);
    assert_eq!(create(&admin, "healthy").unwrap().status, 200);
}

#[test]
fn dropped_connections_give_the_client_no_answer() {
    let sb = start(SandboxConfig {
        drop_rate: 1.0,
        fault_phase: FaultPhase::After,
        ..quiet()
    });
    let admin = Session::admin(&sb);
    let err = create(&admin, "dropped.after").expect_err("no response");
    assert!(!err.is_status(), "{err:?}");
    assert!(exists(&sb, "dropped.after"), "the write happened");

    sb.set_fault_phase(FaultPhase::Before);
    let err = create(&admin, "dropped.before").expect_err("no response");
    assert!(!err.is_status(), "{err:?}");
    assert!(!exists(&sb, "dropped.before"));
    // Reads are dropped too.
    let r = admin.client.get(format!("{}/api/info", sb.url())).send();
    assert!(r.is_err());

    let c = &sb.counters()["POST /api/v1/users.create"];
    assert_eq!((c.drops, c.drops_after, c.drops_before), (2, 1, 1));
}

#[test]
fn latency_is_added() {
    let sb = start(SandboxConfig {
        latency_ms: 150,
        jitter_ms: 50,
        ..quiet()
    });
    let c = client();
    let t = Instant::now();
    let r = send(c.get(format!("{}/api/info", sb.url())));
    assert_eq!(r.status, 200);
    assert!(t.elapsed() >= Duration::from_millis(150));
    sb.set_latency(0, 0);
}

#[test]
fn state_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    let sb = start(SandboxConfig {
        state_file: Some(state.clone()),
        ..quiet()
    });
    let admin = Session::admin(&sb);
    let id = admin.create_user("olga", "Olga@example.org", "olga-pw");
    let r = admin.post(
        "/api/v1/users.setActiveStatus",
        &json!({"userId": id, "activeStatus": false}),
    );
    assert_eq!(r.status, 200);
    let before = sb.users();
    sb.stop().expect("stop saves the state");

    let text = std::fs::read_to_string(&state).unwrap();
    assert!(!text.contains("olga-pw") && !text.contains(ADMIN_PW));

    // Restart with another admin password: the state's users, the new password.
    let sb = start(SandboxConfig {
        state_file: Some(state.clone()),
        admin_password: Some(roster_sandbox::Secret::new("changed-pw")),
        ..quiet()
    });
    assert_eq!(sb.users(), before);
    let c = client();
    assert_eq!(login_raw(&c, &sb.url(), "admin", ADMIN_PW).status, 401);
    let admin = Session::login(&sb, "admin", "changed-pw");
    let r = admin.get(&format!("/api/v1/users.info?userId={id}"));
    assert_eq!(r.body["user"]["active"], false);
    assert_eq!(r.body["user"]["emails"][0]["address"], "Olga@example.org");
    // Uniqueness indexes were rebuilt.
    let r = admin.post(
        "/api/v1/users.create",
        &json!({"username": "OLGA", "email": "x@example.org", "name": "X", "password": "p"}),
    );
    assert_eq!(r.body["errorType"], "error-field-unavailable");
    // The restored password hash still works.
    admin.post(
        "/api/v1/users.setActiveStatus",
        &json!({"userId": id, "activeStatus": true}),
    );
    assert_eq!(login_raw(&c, &sb.url(), "olga", "olga-pw").status, 200);
    drop(sb);

    // A state file of another flavor or format is refused.
    std::fs::write(&state, "{\"something\": 1}").unwrap();
    let err = roster_sandbox::Sandbox::start(SandboxConfig {
        state_file: Some(state),
        ..quiet()
    })
    .err()
    .expect("refused");
    assert!(err.to_string().contains("state file"), "{err}");
}

#[test]
fn state_endpoint_shows_users_and_counters() {
    let sb = start(SandboxConfig {
        rc_limit_calls: 1,
        ..config()
    });
    let importer = Session::importer(&sb);
    importer.create_user("pia", "pia@example.org", "pw");
    let r = importer.post(
        "/api/v1/users.create",
        &json!({"username": "quinn", "email": "q@example.org", "name": "Q", "password": "p"}),
    );
    assert_eq!(r.status, 429);
    let st = send(client().get(format!("{}/__sandbox/state", sb.url())));
    assert_eq!(st.status, 200);
    assert_eq!(st.body["flavor"], "rocketchat");
    let names: Vec<&str> = st.body["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["admin", "importer", "pia"]);
    assert!(st.text.find("bcrypt").is_none());
    let c = &st.body["counters"]["POST /api/v1/users.create"];
    assert_eq!(c["requests"], 2);
    assert_eq!(c["rate_limited"], 1);
    assert_eq!(c["faults"], 0);
    assert_eq!(st.body["counters"]["POST /api/v1/login"]["requests"], 1);
    assert_eq!(sb.state_json()["users"], st.body["users"]);
}

#[test]
fn log_lines_carry_no_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log.jsonl");
    let sb = start(SandboxConfig {
        log_file: Some(log.clone()),
        rc_limit_calls: 2,
        ..config()
    });
    let importer = Session::importer(&sb);
    let secret_pw = "Very-Secret-Password-99";
    importer.create_user("rita", "rita@example.org", secret_pw);
    let _ = importer.get("/api/v1/users.info?username=rita");
    let _ = importer.get("/api/v1/users.info?username=rita");
    let r = importer.get("/api/v1/users.info?username=rita");
    assert_eq!(r.status, 429);
    let _ = login_raw(&client(), &sb.url(), "rita", "wrong-password-77");
    drop(sb);

    let text = std::fs::read_to_string(&log).unwrap();
    for secret in [
        secret_pw,
        IMPORTER_PW,
        "wrong-password-77",
        importer.token.as_str(),
        "username=rita",
        "rita@example.org",
    ] {
        assert!(!text.contains(secret), "the log contains {secret:?}");
    }
    let lines = log_lines(&log);
    assert_eq!(lines.len(), 6);
    for l in &lines {
        let keys: Vec<&str> = l.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "duration_ms",
                "fault",
                "method",
                "path",
                "rate_limited",
                "route",
                "status",
                "time"
            ]
        );
        assert!(humantime::parse_rfc3339(l["time"].as_str().unwrap()).is_ok());
        assert!(l["duration_ms"].as_f64().unwrap() >= 0.0);
        assert!(l["fault"].is_null());
    }
    assert_eq!(lines[4]["status"], 429);
    assert_eq!(lines[4]["rate_limited"], true);
    assert_eq!(lines[4]["path"], "/api/v1/users.info");
    assert_eq!(lines[5]["status"], 401);
}

/// Raw HTTP on a socket: chunked bodies, Connection: close, keep-alive.
#[test]
fn http_details() {
    let sb = start(quiet());
    let admin = Session::admin(&sb);
    let addr = sb.url().trim_start_matches("http://").to_string();
    let mut s = TcpStream::connect(&addr).unwrap();
    let body =
        json!({"username": "sam", "email": "sam@example.org", "name": "Sam", "password": "p"})
            .to_string();
    let (a, b) = body.split_at(10);
    let req = format!(
        "POST /api/v1/users.create HTTP/1.1\r\nHost: x\r\nX-User-Id: {}\r\nX-Auth-Token: {}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n{a}\r\n{:x}\r\n{b}\r\n0\r\n\r\nGET /api/info HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        admin.user_id,
        admin.token,
        a.len(),
        b.len()
    );
    s.write_all(req.as_bytes()).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    // Two answers on one connection, then the server closed it as asked.
    assert_eq!(out.matches("HTTP/1.1 200 OK").count(), 2, "{out}");
    assert!(out.contains("\"username\":\"sam\""));
    assert!(out.contains("Connection: close"));
    assert!(exists(&sb, "sam"));
}

#[test]
fn many_concurrent_connections() {
    let sb = start(quiet());
    let admin = Session::admin(&sb);
    let url = sb.url();
    let handles: Vec<_> = (0..64)
        .map(|t| {
            let url = url.clone();
            let (id, token) = (admin.user_id.clone(), admin.token.clone());
            std::thread::spawn(move || {
                let c = client();
                for i in 0..10 {
                    let r = send(
                        c.post(format!("{url}/api/v1/users.create"))
                            .header("X-User-Id", &id)
                            .header("X-Auth-Token", &token)
                            .json(&json!({"username": format!("c{t}-{i}"), "email": format!("c{t}-{i}@example.org"), "name": "C", "password": "p"})),
                    );
                    assert_eq!(r.status, 200, "{}", r.text);
                    assert_eq!(send(c.get(format!("{url}/api/info"))).status, 200);
                }
            })
        })
        .collect();
    for h in handles {
        h.join().expect("client thread");
    }
    assert_eq!(sb.users().len(), 2 + 640);
    assert_eq!(sb.counters()["GET /api/info"].requests, 640);
}

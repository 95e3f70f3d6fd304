//! roster's integration tests, one binary with a module per area (as ripgrep, xsv and
//! cargo do): the tests link reqwest, rustls, ldap3 and tokio once instead of once per file.
//! Helpers shared by several modules are in [`support`] (roster-test-support plus the
//! roster runner); proptest keeps its regressions in tests/proptest-regressions.

mod support;

mod binary_values;
mod cli;
mod csv_formulas;
mod csv_roundtrip;
mod csv_source;
mod csv_spectrum;
mod do_actions;
mod do_secrets;
mod do_support;
mod export_fields;
mod fast_defaults;
mod file_urls;
mod http_safety;
mod import_mattermost;
mod import_rocketchat;
mod jsonl_source;
mod known_problems;
mod ldap_import;
mod ldap_password;
mod ldap_source;
mod ldap_url;
mod ldif_corpus;
mod ldif_reader;
mod ldif_roundtrip;
mod member_fields;
mod members_export;
mod membership_edges;
mod memberships;
mod options;
mod output_paths;
mod progress;
mod referees;
mod renames;
mod report_order;
mod request_log;
mod role_values;
mod roundtrip_user;
mod run_control;
mod sandbox_command;
mod source_fuzz;
mod sync_mattermost;
mod sync_rocketchat;
mod sync_safety;
mod target_fields;
mod validate_email;
mod validate_rules;

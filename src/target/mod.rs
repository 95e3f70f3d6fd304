//! Targets: clients of the servers' REST APIs.

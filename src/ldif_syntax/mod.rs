//! LDIF syntax shared by the reader ([`crate::source::ldif`]) and the writer
//! ([`crate::output::ldif`]): the DN codec and the encoding of one attribute line.
//!
//! It sits below both so that neither layer imports the other; it imports no roster module.
//! The LDAP spool (which writes LDIF for the reader) and the rejects file (which gives
//! records back as LDIF) use the line encoder too.

pub mod attr_line;
pub mod dn;

pub use attr_line::write_attr_into;
pub use dn::{escape_dn_value, parse_dn};

//! Attribute values of LDIF records and LDAP entries as the model keeps them.
//!
//! A value is text when its bytes are UTF-8 and bytes ([`FieldValue::Binary`]) otherwise.
//! Attributes that are binary by nature (photos, certificates, security identifiers, any
//! `;binary` option) stay bytes even when their bytes happen to be UTF-8, so whether such a
//! value can fill a text field does not depend on its content. Bytes never become text by
//! replacement (U+FFFD): the mapping rejects the row when a text field asks for them.
//! Active Directory's `objectGUID` becomes its UUID string, the form it is known by.

use crate::model::FieldValue;

/// The longest name of an attribute binary by nature fits in this many bytes.
const NAME_MAX: usize = 32;

/// Whether values of the attribute description `desc` (`jpegPhoto`,
/// `userCertificate;binary`) are bytes by nature. ASCII case is ignored.
#[inline]
pub fn is_binary_attr(desc: &str) -> bool {
    // Called for every value read: names are short, so plain loops beat memchr, and a
    // `match` on the lower-cased name compiles to a switch on its length.
    let bytes = desc.as_bytes();
    let (base, options) = match bytes.iter().position(|&b| b == b';') {
        Some(i) => (&bytes[..i], &bytes[i + 1..]),
        None => (bytes, &b""[..]),
    };
    if !options.is_empty()
        && options
            .split(|&b| b == b';')
            .any(|o| o.eq_ignore_ascii_case(b"binary"))
    {
        return true;
    }
    if base.len() > NAME_MAX || base.len() < 5 {
        return false;
    }
    let mut buf = [0u8; NAME_MAX];
    let lower = &mut buf[..base.len()];
    lower.copy_from_slice(base);
    lower.make_ascii_lowercase();
    // Values that are bytes by definition (JPEG, audio, fax, certificate, SID, security
    // descriptor syntaxes), lower case, without options.
    matches!(
        &*lower,
        // RFC 2798 (inetOrgPerson) and RFC 4524 (COSINE)
        b"jpegphoto"
            | b"photo"
            | b"audio"
            | b"usersmimecertificate"
            | b"userpkcs12"
            | b"personalsignature"
            // RFC 4523 (certificates)
            | b"usercertificate"
            | b"cacertificate"
            | b"crosscertificatepair"
            | b"authorityrevocationlist"
            | b"certificaterevocationlist"
            | b"deltarevocationlist"
            | b"supportedalgorithms"
            // Active Directory
            | b"thumbnailphoto"
            | b"thumbnaillogo"
            | b"objectsid"
            | b"sidhistory"
            | b"tokengroups"
            | b"ms-ds-consistencyguid"
            | b"msexchmailboxguid"
            | b"logonhours"
            | b"ntsecuritydescriptor"
    )
}

/// A value of attribute `desc` as read from LDIF or LDAP: see the module documentation.
pub fn attr_value(desc: &str, bytes: Vec<u8>) -> FieldValue {
    if is_binary_attr(desc) {
        return FieldValue::Binary(bytes);
    }
    if desc.eq_ignore_ascii_case("objectGUID")
        && let Some(uuid) = object_guid_to_uuid(&bytes)
    {
        return FieldValue::Text(uuid);
    }
    FieldValue::from_bytes(bytes)
}

/// The UUID string of an Active Directory `objectGUID` (16 bytes; the first three groups
/// are little-endian, as in Microsoft's GUID layout), lower case:
/// `c9 8b 91 35 6d 19 ea 40 97 79 88 9d 79 b7 53 f0` → `35918bc9-196d-40ea-9779-889d79b753f0`.
/// `None` unless `bytes` is exactly 16 bytes long.
pub fn object_guid_to_uuid(bytes: &[u8]) -> Option<String> {
    let b: &[u8; 16] = bytes.try_into().ok()?;
    Some(format!(
        "{:02x}{:02x}{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}{:02x}{:02x}{:02x}{:02x}",
        b[3],
        b[2],
        b[1],
        b[0],
        b[5],
        b[4],
        b[7],
        b[6],
        b[8],
        b[9],
        b[10],
        b[11],
        b[12],
        b[13],
        b[14],
        b[15]
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every attribute `is_binary_attr` knows, for the test.
    const BINARY_ATTRS: &[&str] = &[
        // RFC 2798 (inetOrgPerson) and RFC 4524 (COSINE)
        "jpegphoto",
        "photo",
        "audio",
        "usersmimecertificate",
        "userpkcs12",
        "personalsignature",
        // RFC 4523 (certificates)
        "usercertificate",
        "cacertificate",
        "crosscertificatepair",
        "authorityrevocationlist",
        "certificaterevocationlist",
        "deltarevocationlist",
        "supportedalgorithms",
        // Active Directory
        "thumbnailphoto",
        "thumbnaillogo",
        "objectsid",
        "sidhistory",
        "tokengroups",
        "ms-ds-consistencyguid",
        "msexchmailboxguid",
        "logonhours",
        "ntsecuritydescriptor",
    ];

    #[test]
    fn binary_by_nature() {
        for d in [
            "jpegPhoto",
            "JPEGPHOTO",
            "thumbnailPhoto",
            "objectSid",
            "userCertificate",
            "userCertificate;binary",
            "cACertificate;BINARY",
            "anything;binary",
            "x;lang-de;binary",
            "mS-DS-ConsistencyGuid",
        ] {
            assert!(is_binary_attr(d), "{d}");
        }
        for d in [
            "cn",
            "mail",
            "jpegPhoto2",
            "photos",
            "userPassword",
            "objectGUID",
            "cn;lang-de",
            "cn;binaryish",
            "",
            ";binary-not",
            "ü",
        ] {
            assert!(!is_binary_attr(d), "{d}");
        }
        for a in BINARY_ATTRS {
            assert!(a.len() <= NAME_MAX && a.len() >= 5, "{a}");
            assert!(is_binary_attr(a), "{a}");
            assert!(is_binary_attr(&a.to_ascii_uppercase()), "{a}");
        }
    }

    #[test]
    fn values() {
        // Binary by nature: bytes even when they are UTF-8.
        assert_eq!(
            attr_value("objectSid", b"\x01\x05".to_vec()),
            FieldValue::Binary(vec![1, 5])
        );
        assert_eq!(
            attr_value("cn", b"\xffx".to_vec()),
            FieldValue::Binary(vec![0xff, b'x'])
        );
        assert_eq!(attr_value("cn", "Zoë".into()), FieldValue::from("Zoë"));
        let guid = [
            0xc9, 0x8b, 0x91, 0x35, 0x6d, 0x19, 0xea, 0x40, 0x97, 0x79, 0x88, 0x9d, 0x79, 0xb7,
            0x53, 0xf0,
        ];
        assert_eq!(
            attr_value("OBJECTGUID", guid.to_vec()),
            FieldValue::from("35918bc9-196d-40ea-9779-889d79b753f0")
        );
        // Not 16 bytes: as any other attribute (a GUID written as text stays text).
        assert_eq!(
            attr_value("objectGUID", "35918bc9-196d-40ea-9779-889d79b753f0".into()),
            FieldValue::from("35918bc9-196d-40ea-9779-889d79b753f0")
        );
        assert_eq!(
            attr_value("objectGUID", vec![0xff; 3]),
            FieldValue::Binary(vec![0xff; 3])
        );
    }

    #[test]
    fn object_guid_known_value() {
        // The example GUID of Microsoft's Guid(byte[]) documentation.
        let bytes = [
            0xc9, 0x8b, 0x91, 0x35, 0x6d, 0x19, 0xea, 0x40, 0x97, 0x79, 0x88, 0x9d, 0x79, 0xb7,
            0x53, 0xf0,
        ];
        assert_eq!(
            object_guid_to_uuid(&bytes).as_deref(),
            Some("35918bc9-196d-40ea-9779-889d79b753f0")
        );
        assert_eq!(object_guid_to_uuid(&bytes[..15]), None);
        assert_eq!(object_guid_to_uuid(&[0u8; 17]), None);
    }
}

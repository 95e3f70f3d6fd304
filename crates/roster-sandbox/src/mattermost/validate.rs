//! The checks of MM `model/user.go` and `model/utils.go` (mattermost-api.md §3.3, §3.4):
//! usernames, emails (`net/mail.ParseAddress`), locales, ids, role names and the password
//! policy, plus Go's string helpers they rely on.

/// `UserNameMaxLength`; the minimum is 1.
const USERNAME_MAX: usize = 64;
/// Refused by `IsValidUsername` even though the characters are fine.
const RESTRICTED_USERNAMES: &[&str] = &["all", "channel", "matterbot", "system"];
/// `PasswordMaximumLength`.
pub const PASSWORD_MAX: usize = 72;
/// `UserLocaleMaxLength`.
const LOCALE_MAX: usize = 5;

/// Go's `strings.ToLower`: per rune, one rune out (`İ` becomes `i`, not `i̇` as Rust's
/// `to_lowercase` gives).
pub fn go_lower(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c == '\u{130}' {
                return 'i';
            }
            let mut l = c.to_lowercase();
            match (l.next(), l.next()) {
                (Some(one), None) => one,
                _ => c,
            }
        })
        .collect()
}

/// `SanitizeUnicode`: drops the code points of the W3C "unicode-xml" blocklist.
pub fn sanitize_unicode(s: &str) -> String {
    s.chars()
        .filter(|&c| {
            !matches!(c,
                '\u{340}' | '\u{341}' | '\u{17A3}' | '\u{17D3}' | '\u{2028}' | '\u{2029}'
                | '\u{202A}'..='\u{202E}' | '\u{206A}'..='\u{206F}' | '\u{FFF9}'..='\u{FFFC}'
                | '\u{FEFF}' | '\u{1D173}'..='\u{1D17A}' | '\u{E0000}'..='\u{E007F}')
        })
        .collect()
}

/// `IsValidUsername`: 1–64 bytes of `[a-z0-9.\-_]`, not a restricted name.
pub fn is_valid_username(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= USERNAME_MAX
        && s.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'_')
        })
        && !RESTRICTED_USERNAMES.contains(&s)
}

/// `IsValidId`: 26 letters or digits.
pub fn is_valid_id(s: &str) -> bool {
    s.len() == 26 && s.chars().all(char::is_alphanumeric)
}

/// `IsValidEmail`: lowercase, and `net/mail.ParseAddress` finds one address without a
/// display name.
pub fn is_valid_email(s: &str) -> bool {
    go_lower(s) == s && mail::parse_address(s).is_some_and(|a| a.name.is_empty())
}

/// `IsValidLocale`: empty, or at most 5 bytes and a BCP 47 tag `golang.org/x/text` knows.
/// The sandbox knows the ISO 639-1 languages and checks the rest for form only.
pub fn is_valid_locale(s: &str) -> bool {
    if s.is_empty() {
        return true;
    }
    if s.len() > LOCALE_MAX {
        return false;
    }
    let mut parts = s.split(['-', '_']);
    let lang = parts.next().unwrap_or("").to_ascii_lowercase();
    if !(lang.len() == 2 && ISO_639_1.split(' ').any(|l| l == lang)) {
        return false;
    }
    match (parts.next(), parts.next()) {
        (None, _) => true,
        (Some(r), None) => {
            (r.len() == 2 && r.bytes().all(|b| b.is_ascii_alphabetic()))
                || (r.len() == 3 && r.bytes().all(|b| b.is_ascii_digit()))
        }
        _ => false,
    }
}

/// ISO 639-1 language codes.
const ISO_639_1: &str = "aa ab ae af ak am an ar as av ay az ba be bg bh bi bm bn bo br bs ca ce ch co cr cs cu cv cy da de dv dz ee el en eo es et eu fa ff fi fj fo fr fy ga gd gl gn gu gv ha he hi ho hr ht hu hy hz ia id ie ig ii ik io is it iu ja jv ka kg ki kj kk kl km kn ko kr ks ku kv kw ky la lb lg li ln lo lt lu lv mg mh mi mk ml mn mr ms mt my na nb nd ne ng nl nn no nr nv ny oc oj om or os pa pi pl ps pt qu rm rn ro ru rw sa sc sd se sg si sk sl sm sn so sq sr ss st su sv sw ta te tg th ti tk tl tn to tr ts tt tw ty ug uk ur uz ve vi vo wa wo xh yi yo za zh zu";

/// The locales the server ships translations for (`i18n.GetSupportedLocales`); create
/// replaces any other with `DefaultClientLocale` ("en").
pub fn is_supported_locale(s: &str) -> bool {
    matches!(
        s,
        "bg" | "cs"
            | "de"
            | "en"
            | "en-AU"
            | "es"
            | "fa"
            | "fr"
            | "hu"
            | "it"
            | "ja"
            | "ko"
            | "nl"
            | "pl"
            | "pt-BR"
            | "ro"
            | "ru"
            | "sv"
            | "tr"
            | "uk"
            | "vi"
            | "zh-CN"
            | "zh-TW"
    )
}

/// `IsValidRoleName`: 1–64 bytes of `[a-z0-9_]`.
pub fn is_valid_role_name(r: &str) -> bool {
    !r.is_empty()
        && r.len() <= 64
        && r.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// `IsValidUserRoles`: every space-separated name valid, and not `system_admin` alone.
pub fn is_valid_user_roles(roles: &str) -> bool {
    let names: Vec<&str> = roles.split_whitespace().collect();
    names.iter().all(|r| is_valid_role_name(r)) && names != ["system_admin"]
}

/// `PasswordSettings`; the defaults are the server's.
#[derive(Clone, Copy, Debug)]
pub struct PasswordPolicy {
    pub minimum_length: usize,
    pub lowercase: bool,
    pub uppercase: bool,
    pub number: bool,
    pub symbol: bool,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        PasswordPolicy {
            minimum_length: 8,
            lowercase: false,
            uppercase: false,
            number: false,
            symbol: false,
        }
    }
}

impl PasswordPolicy {
    /// `IsPasswordValidWithSettings` (the newer ids: length errors have their own; the
    /// missing classes are joined in a fixed order). Lengths are in bytes.
    pub fn check(&self, password: &str) -> Result<(), String> {
        if password.len() < self.minimum_length {
            return Err("model.user.is_valid.pwd_min_length.app_error".into());
        }
        if password.len() > PASSWORD_MAX {
            return Err("model.user.is_valid.pwd_max_length.app_error".into());
        }
        let mut missing = Vec::new();
        if self.lowercase && !password.bytes().any(|b| b.is_ascii_lowercase()) {
            missing.push("lowercase");
        }
        if self.uppercase && !password.bytes().any(|b| b.is_ascii_uppercase()) {
            missing.push("uppercase");
        }
        if self.number && !password.bytes().any(|b| b.is_ascii_digit()) {
            missing.push("number");
        }
        if self.symbol
            && !password
                .bytes()
                .any(|b| b.is_ascii_punctuation() || b == b' ')
        {
            missing.push("symbol");
        }
        if missing.is_empty() {
            return Ok(());
        }
        Err(format!(
            "model.user.is_valid.pwd_{}.app_error",
            missing.join("_")
        ))
    }
}

/// Go's `net/mail` address parser, as far as `ParseAddress` on one address goes: an
/// addr-spec (dot-atom or quoted local part, dot-atom or IP domain literal) with an
/// optional trailing comment, or an optional display name before `<addr-spec>`. Groups
/// are not parsed (they fail, where Go would accept a group of exactly one address).
pub mod mail {
    /// What `ParseAddress` returns.
    #[derive(Debug, PartialEq, Eq)]
    pub struct Address {
        pub name: String,
        pub address: String,
    }

    struct Parser<'a> {
        s: &'a str,
    }

    fn is_atext(c: char, dot: bool) -> bool {
        match c {
            '.' => dot,
            '(' | ')' | '<' | '>' | '[' | ']' | ':' | ';' | '@' | '\\' | ',' | '"' => false,
            _ => is_vchar(c),
        }
    }

    fn is_vchar(c: char) -> bool {
        ('!'..='~').contains(&c) || !c.is_ascii()
    }

    fn is_qtext(c: char) -> bool {
        if c == '\\' || c == '"' {
            return false;
        }
        is_vchar(c)
    }

    fn is_wsp(c: char) -> bool {
        c == ' ' || c == '\t'
    }

    fn is_dtext(c: char) -> bool {
        if c == '[' || c == ']' || c == '\\' {
            return false;
        }
        is_vchar(c)
    }

    impl<'a> Parser<'a> {
        fn peek(&self) -> Option<char> {
            self.s.chars().next()
        }

        fn consume(&mut self, c: char) -> bool {
            if self.peek() == Some(c) {
                self.s = &self.s[c.len_utf8()..];
                true
            } else {
                false
            }
        }

        fn skip_space(&mut self) {
            self.s = self.s.trim_start_matches([' ', '\t']);
        }

        /// `skipCFWS`: spaces and comments; false on a malformed comment.
        fn skip_cfws(&mut self) -> bool {
            self.skip_space();
            loop {
                if !self.consume('(') {
                    break;
                }
                if self.comment_body().is_none() {
                    return false;
                }
                self.skip_space();
            }
            true
        }

        /// After `(`: the comment's text up to the matching `)`.
        fn comment_body(&mut self) -> Option<String> {
            let mut depth = 1;
            let mut out = String::new();
            let mut chars = self.s.char_indices();
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => {
                        let (_, n) = chars.next()?;
                        out.push(n);
                    }
                    '(' => {
                        depth += 1;
                        out.push(c);
                    }
                    ')' => {
                        depth -= 1;
                        if depth == 0 {
                            self.s = &self.s[i + 1..];
                            return Some(out);
                        }
                        out.push(c);
                    }
                    _ => out.push(c),
                }
            }
            None
        }

        /// `consumeAtom(dot, permissive=false)`.
        fn atom(&mut self, dot: bool) -> Option<&'a str> {
            let end = self
                .s
                .char_indices()
                .find(|&(_, c)| !is_atext(c, dot))
                .map(|(i, _)| i)
                .unwrap_or(self.s.len());
            if end == 0 {
                return None;
            }
            let atom = &self.s[..end];
            if atom.starts_with('.') || atom.ends_with('.') || atom.contains("..") {
                return None;
            }
            self.s = &self.s[end..];
            Some(atom)
        }

        /// After the opening quote is seen (not consumed): the unquoted text.
        fn quoted_string(&mut self) -> Option<String> {
            let mut out = String::new();
            let mut escaped = false;
            for (i, c) in self.s.char_indices().skip(1) {
                if escaped {
                    if !is_vchar(c) && !is_wsp(c) {
                        return None;
                    }
                    out.push(c);
                    escaped = false;
                } else if is_qtext(c) || is_wsp(c) {
                    out.push(c);
                } else if c == '"' {
                    self.s = &self.s[i + 1..];
                    return Some(out);
                } else if c == '\\' {
                    escaped = true;
                } else {
                    return None;
                }
            }
            None
        }

        fn domain_literal(&mut self) -> Option<String> {
            if !self.consume('[') {
                return None;
            }
            let end = self.s.find(']')?;
            let dtext = &self.s[..end];
            if !dtext.chars().all(is_dtext) || dtext.parse::<std::net::IpAddr>().is_err() {
                return None;
            }
            self.s = &self.s[end + 1..];
            Some(format!("[{dtext}]"))
        }

        /// `consumeAddrSpec`; restores the input on failure.
        fn addr_spec(&mut self) -> Option<String> {
            let orig = self.s;
            let r = self.addr_spec_inner();
            if r.is_none() {
                self.s = orig;
            }
            r
        }

        fn addr_spec_inner(&mut self) -> Option<String> {
            self.skip_space();
            let local = if self.peek() == Some('"') {
                let q = self.quoted_string()?;
                if q.is_empty() {
                    return None;
                }
                q
            } else {
                self.atom(true)?.to_string()
            };
            if !self.consume('@') {
                return None;
            }
            self.skip_space();
            let domain = match self.peek() {
                None => return None,
                Some('[') => self.domain_literal()?,
                Some(_) => self.atom(true)?.to_string(),
            };
            Some(format!("{local}@{domain}"))
        }

        /// `consumePhrase`: words (atoms, permissively with dots, or quoted strings).
        fn phrase(&mut self) -> Option<String> {
            let mut words = Vec::new();
            loop {
                self.skip_space();
                match self.peek() {
                    Some('"') => words.push(self.quoted_string()?),
                    Some(c) if is_atext(c, true) => {
                        let end = self
                            .s
                            .char_indices()
                            .find(|&(_, c)| !is_atext(c, true))
                            .map(|(i, _)| i)
                            .unwrap_or(self.s.len());
                        words.push(self.s[..end].to_string());
                        self.s = &self.s[end..];
                    }
                    _ => break,
                }
            }
            if words.is_empty() {
                return None;
            }
            Some(words.join(" "))
        }

        fn address(&mut self) -> Option<Address> {
            self.skip_space();
            self.peek()?;
            if let Some(spec) = self.addr_spec() {
                self.skip_space();
                let mut name = String::new();
                if self.consume('(') {
                    name = self.comment_body()?;
                }
                return Some(Address {
                    name,
                    address: spec,
                });
            }
            let name = if self.peek() != Some('<') {
                self.phrase()?
            } else {
                String::new()
            };
            self.skip_space();
            if !self.consume('<') {
                return None;
            }
            let address = self.addr_spec()?;
            if !self.consume('>') {
                return None;
            }
            Some(Address { name, address })
        }
    }

    /// `mail.ParseAddress`: exactly one address, nothing after it but spaces and comments.
    pub fn parse_address(s: &str) -> Option<Address> {
        let mut p = Parser { s };
        let a = p.address()?;
        if !p.skip_cfws() || !p.s.is_empty() {
            return None;
        }
        Some(a)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames() {
        for ok in ["a", "a.b-c_d", "0", &"x".repeat(64)] {
            assert!(is_valid_username(ok), "{ok}");
        }
        for bad in [
            "",
            "A",
            "a b",
            "a@b",
            "all",
            "channel",
            "matterbot",
            "system",
            "é",
            &"x".repeat(65),
        ] {
            assert!(!is_valid_username(bad), "{bad}");
        }
        assert!(is_valid_username("allx"));
        assert_eq!(go_lower("İVAN"), "ivan");
        assert_eq!(sanitize_unicode("a\u{202E}b\u{FEFF}c"), "abc");
    }

    #[test]
    fn emails_as_net_mail_parses_them() {
        for ok in [
            "a@b",
            "a.b+c@example.org",
            "\"john doe\"@example.org",
            "a@[127.0.0.1]",
            "<a@b.c>",
            "a@b.c ()",
            "ü@example.org",
            "!#$%&'*+-/=?^_`{|}~@x",
        ] {
            assert!(is_valid_email(ok), "{ok}");
        }
        for bad in [
            "",
            "plain",
            "A@b.c",
            "a@",
            "@b",
            "a@b@c",
            ".a@b",
            "a.@b",
            "a..b@c",
            "a b@c",
            "a@b..c",
            "a@[1.2.3]",
            "Bob <a@b.c>",
            "a@b.c (Bob)",
            "a@b.c, d@e.f",
            "a@b.c>",
            "\"\"@b",
        ] {
            assert!(!is_valid_email(bad), "{bad}");
        }
    }

    #[test]
    fn locales_roles_ids() {
        for ok in ["", "en", "fr", "pt-BR", "zh-CN", "en_US"] {
            assert!(is_valid_locale(ok), "{ok}");
        }
        for bad in ["xx", "english", "en-", "e", "en-GBR", "es-419"] {
            assert!(!is_valid_locale(bad), "{bad}");
        }
        assert!(is_valid_user_roles("system_user system_admin"));
        assert!(is_valid_user_roles(""));
        assert!(!is_valid_user_roles("system_admin"));
        assert!(!is_valid_user_roles(" system_admin "));
        assert!(!is_valid_user_roles("System_user"));
        assert!(is_valid_id("abcdefghijklmnopqrstuvwxyz"));
        assert!(!is_valid_id("abcdefghijklmnopqrstuvwxy"));
    }

    #[test]
    fn password_policy() {
        let p = PasswordPolicy::default();
        let min = Err("model.user.is_valid.pwd_min_length.app_error".to_string());
        assert_eq!(p.check(""), min);
        assert_eq!(p.check("1234567"), min);
        assert_eq!(p.check("12345678"), Ok(()));
        assert_eq!(p.check(&"x".repeat(72)), Ok(()));
        assert_eq!(
            p.check(&"x".repeat(73)),
            Err("model.user.is_valid.pwd_max_length.app_error".to_string())
        );
        let strict = PasswordPolicy {
            lowercase: true,
            uppercase: true,
            number: true,
            symbol: true,
            ..p
        };
        assert_eq!(
            strict.check("!!!!!!!!"),
            Err("model.user.is_valid.pwd_lowercase_uppercase_number.app_error".to_string())
        );
        assert_eq!(strict.check("aA1!aaaa"), Ok(()));
    }
}

//! `multipart/form-data` bodies (RFC 7578), as Go's `mime/multipart` and busboy read them:
//! enough for the avatar uploads.

/// One part.
#[derive(Clone, Debug, Default)]
pub struct Part {
    /// The `name` of its `Content-Disposition`.
    pub name: String,
    /// The `filename`, when it is a file.
    pub filename: Option<String>,
    pub content_type: Option<String>,
    pub data: Vec<u8>,
}

/// The boundary of a `multipart/form-data` content type; None for any other type.
pub fn boundary(content_type: &str) -> Option<String> {
    let mut parts = content_type.split(';');
    let mime = parts.next()?.trim();
    if !mime.eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    parts.find_map(|p| {
        let (k, v) = p.trim().split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case("boundary")
            .then(|| v.trim().trim_matches('"').to_string())
            .filter(|b| !b.is_empty())
    })
}

fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if needle.is_empty() || hay.len() < needle.len() {
        return None;
    }
    (from..=hay.len() - needle.len()).find(|&i| &hay[i..i + needle.len()] == needle)
}

/// A `key="value"` parameter of a header value.
fn param(value: &str, key: &str) -> Option<String> {
    value.split(';').skip(1).find_map(|p| {
        let (k, v) = p.trim().split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case(key)
            .then(|| v.trim().trim_matches('"').to_string())
    })
}

/// Every part of the body; Err = malformed (no opening boundary, a part without the
/// header/body separator, no closing boundary).
pub fn parse(body: &[u8], boundary: &str) -> Result<Vec<Part>, &'static str> {
    let delim = format!("--{boundary}");
    let delim = delim.as_bytes();
    let mut pos = find(body, delim, 0).ok_or("no opening boundary")? + delim.len();
    let mut parts = Vec::new();
    loop {
        if body.get(pos..pos + 2) == Some(b"--") {
            return Ok(parts);
        }
        // The rest of the boundary line.
        let line_end = find(body, b"\r\n", pos).ok_or("truncated boundary line")?;
        let head_start = line_end + 2;
        let head_end = find(body, b"\r\n\r\n", head_start).ok_or("a part without headers")?;
        let head = String::from_utf8_lossy(&body[head_start..head_end]);
        let mut part = Part::default();
        for line in head.split("\r\n") {
            let Some((k, v)) = line.split_once(':') else {
                continue;
            };
            let k = k.trim();
            if k.eq_ignore_ascii_case("content-disposition") {
                part.name = param(v, "name").unwrap_or_default();
                part.filename = param(v, "filename");
            } else if k.eq_ignore_ascii_case("content-type") {
                part.content_type = Some(v.trim().to_string());
            }
        }
        let data_start = head_end + 4;
        let mut next = Vec::with_capacity(delim.len() + 2);
        next.extend_from_slice(b"\r\n");
        next.extend_from_slice(delim);
        let data_end = find(body, &next, data_start).ok_or("no closing boundary")?;
        part.data = body[data_start..data_end].to_vec();
        parts.push(part);
        pos = data_end + next.len();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_and_boundaries() {
        assert_eq!(
            boundary("multipart/form-data; boundary=\"abc\"").as_deref(),
            Some("abc")
        );
        assert_eq!(boundary("application/json"), None);
        let body = b"--abc\r\nContent-Disposition: form-data; name=\"userId\"\r\n\r\nu1\r\n--abc\r\nContent-Disposition: form-data; name=\"image\"; filename=\"a.png\"\r\nContent-Type: image/png\r\n\r\n\x89PNG\r\n--abc--\r\n";
        let parts = parse(body, "abc").expect("parses");
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].name, "userId");
        assert_eq!(parts[0].data, b"u1");
        assert_eq!(parts[1].filename.as_deref(), Some("a.png"));
        assert_eq!(parts[1].data, b"\x89PNG");
        assert!(parse(b"garbage", "abc").is_err());
    }
}

//! A `multipart/form-data` body (RFC 7578), built by hand: a few text fields and files,
//! all in memory (dumps are small), so no streaming and no dependency is needed.

use super::client::random_token;

/// One part: a form field name, an optional file name and MIME type, and the content.
struct Part<'a> {
    name: &'a str,
    file: Option<(&'a str, &'a str)>,
    content: &'a [u8],
}

/// The parts of a form, in order.
#[derive(Default)]
pub(crate) struct Form<'a> {
    parts: Vec<Part<'a>>,
}

impl<'a> Form<'a> {
    /// Adds a text field.
    pub fn text(&mut self, name: &'a str, value: &'a str) -> &mut Self {
        self.parts.push(Part {
            name,
            file: None,
            content: value.as_bytes(),
        });
        self
    }

    /// Adds a file field named `name`, uploaded as `file_name` of type `content_type`.
    pub fn file(
        &mut self,
        name: &'a str,
        file_name: &'a str,
        content_type: &'a str,
        content: &'a [u8],
    ) -> &mut Self {
        self.parts.push(Part {
            name,
            file: Some((file_name, content_type)),
            content,
        });
        self
    }

    /// The `Content-Type` header value and the body.
    pub fn finish(&self) -> (String, Vec<u8>) {
        // A random boundary that appears in no part (retried on the astronomically
        // unlikely clash: a boundary inside a part would cut it short).
        let mut boundary = format!("holmes-{}", random_token());
        for _ in 0..8 {
            let delimiter = format!("--{boundary}");
            if !self
                .parts
                .iter()
                .any(|p| contains(p.content, delimiter.as_bytes()))
            {
                break;
            }
            boundary = format!("holmes-{}", random_token());
        }
        let mut body = Vec::with_capacity(
            self.parts
                .iter()
                .map(|p| p.content.len() + 160)
                .sum::<usize>()
                + 64,
        );
        for p in &self.parts {
            body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
            let name = quote(p.name);
            match p.file {
                Some((file_name, content_type)) => body.extend_from_slice(
                    format!(
                        "Content-Disposition: form-data; name=\"{name}\"; filename=\"{}\"\r\nContent-Type: {content_type}\r\n\r\n",
                        quote(file_name)
                    )
                    .as_bytes(),
                ),
                None => body.extend_from_slice(
                    format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes(),
                ),
            }
            body.extend_from_slice(p.content);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
        (format!("multipart/form-data; boundary={boundary}"), body)
    }
}

/// Escapes a name for a quoted header parameter the way browsers and Go do (`"` → `%22`,
/// CR and LF → `%0D`, `%0A`), so a file name cannot break the part's headers.
fn quote(s: &str) -> String {
    s.replace('"', "%22")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || haystack.windows(needle.len()).any(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_are_delimited_and_named() {
        let mut f = Form::default();
        f.file(
            "profile",
            "a\"b.pb.gz",
            "application/octet-stream",
            b"\x1f\x8bdata",
        )
        .text("event_id", "7");
        let (ct, body) = f.finish();
        let boundary = ct.strip_prefix("multipart/form-data; boundary=").unwrap();
        let text = String::from_utf8_lossy(&body);
        assert!(text.starts_with(&format!("--{boundary}\r\n")));
        assert!(text.ends_with(&format!("\r\n--{boundary}--\r\n")));
        assert!(text.contains("name=\"profile\"; filename=\"a%22b.pb.gz\"\r\nContent-Type: application/octet-stream\r\n\r\n"));
        assert!(text.contains("Content-Disposition: form-data; name=\"event_id\"\r\n\r\n7\r\n"));
        assert_eq!(text.matches(&format!("--{boundary}")).count(), 3);
    }
}

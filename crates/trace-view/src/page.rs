//! The page: one HTML document with the built stylesheet and script inlined.
//!
//! The assets are built from `web/` (TypeScript) by `npm run build` and
//! committed under `assets/`, so building this crate needs no Node.js.
//! Served, the page fetches its data from the server's `/api/…`; written by
//! [`standalone_html`], it carries its data in a
//! `<script type="application/json" id="trace-data">` element and works
//! offline.

use crate::json::embedded_json;
use crate::model::Timeline;

const TEMPLATE: &str = include_str!("../assets/index.html");
const SCRIPT: &str = include_str!("../assets/app.js");
const STYLE: &str = include_str!("../assets/app.css");

/// The largest number of slices and marks [`standalone_html`] embeds by
/// default; finer detail is merged.
pub const DEFAULT_EMBED_BUDGET: usize = 1_500_000;

/// The page the server serves: it loads its data from `/api/…`.
pub fn server_page(title: &str) -> String {
    pieces(&escape_html(title), &[]).concat()
}

/// A self-contained page with the whole timeline embedded, at most `budget`
/// slices and marks (shorter slices are merged beyond that). Returns the
/// page and the resolution of the embedded data in ns (0: full detail), or
/// the error reading the timeline's rows.
///
/// [`write_standalone_html`] writes the same page without holding a second
/// copy of it in memory.
pub fn standalone_html(tl: &Timeline, budget: usize) -> std::io::Result<(String, i64)> {
    let (json, res) = embedded_json(tl, budget)?;
    let page = pieces(&escape_html(tl.title()), &[DATA_OPEN, &json, DATA_CLOSE]).concat();
    Ok((page, res))
}

/// [`standalone_html`] written to `out`; returns the resolution of the
/// embedded data. The page's data is built in memory once (about the size
/// of the page) and written from there.
pub fn write_standalone_html(
    tl: &Timeline,
    budget: usize,
    out: &mut dyn std::io::Write,
) -> std::io::Result<i64> {
    let (json, res) = embedded_json(tl, budget)?;
    for piece in pieces(&escape_html(tl.title()), &[DATA_OPEN, &json, DATA_CLOSE]) {
        out.write_all(piece.as_bytes())?;
    }
    out.flush()?;
    Ok(res)
}

const DATA_OPEN: &str = "<script type=\"application/json\" id=\"trace-data\">";
const DATA_CLOSE: &str = "</script>";

/// The page in order: the template with its four slots filled (the data
/// slot with `data`, one piece after another), without looking inside what
/// is put in them.
fn pieces<'a>(title: &'a str, data: &[&'a str]) -> Vec<&'a str> {
    let mut out = Vec::with_capacity(9 + data.len());
    let mut rest = TEMPLATE;
    for slot in [
        "{{TITLE}}",
        "/*{{STYLE}}*/",
        "<!--{{DATA}}-->",
        "/*{{SCRIPT}}*/",
    ] {
        let Some(i) = rest.find(slot) else {
            debug_assert!(false, "template lacks {slot}");
            continue;
        };
        out.push(&rest[..i]);
        match slot {
            "{{TITLE}}" => out.push(title),
            "/*{{STYLE}}*/" => out.push(STYLE),
            "/*{{SCRIPT}}*/" => out.push(SCRIPT),
            _ => out.extend_from_slice(data),
        }
        rest = &rest[i + slot.len()..];
    }
    out.push(rest);
    out
}

/// The `Content-Security-Policy` of the served page: its one inline script
/// and one inline style, by hash, and nothing else but requests to the
/// server itself; no framing.
pub(crate) fn content_security_policy() -> &'static str {
    static CSP: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    CSP.get_or_init(|| {
        format!(
            "default-src 'none'; script-src 'sha256-{}'; style-src 'sha256-{}'; \
             connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; \
             frame-ancestors 'none'",
            sha256_base64(SCRIPT.as_bytes()),
            sha256_base64(STYLE.as_bytes())
        )
    })
}

/// The SHA-256 of `data` in standard base64, as CSP hash sources write it.
fn sha256_base64(data: &[u8]) -> String {
    use sha2::Digest;
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let digest = sha2::Sha256::digest(data);
    let mut out = String::with_capacity(44);
    for chunk in digest.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i)) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csp_hashes_are_base64_sha256() {
        // RFC 4648 test vectors, through SHA-256 of "" and "abc".
        assert_eq!(
            sha256_base64(b""),
            "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
        );
        assert_eq!(
            sha256_base64(b"abc"),
            "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0="
        );
        let csp = content_security_policy();
        assert!(csp.contains(&format!("'sha256-{}'", sha256_base64(SCRIPT.as_bytes()))));
        assert!(csp.contains("frame-ancestors 'none'"));
        // The page's script and style are exactly what is hashed.
        let page = server_page("t");
        assert!(page.contains(&format!("<script>{SCRIPT}</script>")));
        assert!(page.contains(&format!("<style>{STYLE}</style>")));
    }

    #[test]
    fn assets_fit_in_script_and_style_elements() {
        assert!(
            !SCRIPT.contains("</script"),
            "the script would end its element early"
        );
        assert!(!STYLE.contains("</style"));
        for slot in [
            "{{TITLE}}",
            "/*{{STYLE}}*/",
            "<!--{{DATA}}-->",
            "/*{{SCRIPT}}*/",
        ] {
            assert_eq!(TEMPLATE.matches(slot).count(), 1, "{slot}");
        }
    }

    #[test]
    fn title_is_escaped() {
        let page = server_page("<a&b>");
        assert!(page.contains("&lt;a&amp;b&gt;"));
        assert!(!page.contains("<a&b>"));
        assert!(!page.contains("id=\"trace-data\""));
    }
}

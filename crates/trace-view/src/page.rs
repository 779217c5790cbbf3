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
    render(title, "")
}

/// A self-contained page with the whole timeline embedded, at most `budget`
/// slices and marks (shorter slices are merged beyond that). Returns the
/// page and the resolution of the embedded data in ns (0: full detail).
pub fn standalone_html(tl: &Timeline, budget: usize) -> (String, i64) {
    let (json, res) = embedded_json(tl, budget);
    let data = format!("<script type=\"application/json\" id=\"trace-data\">{json}</script>");
    (render(tl.title(), &data), res)
}

/// Fills the template's three slots, in order, without looking inside what
/// is put in them.
fn render(title: &str, data: &str) -> String {
    let mut out = String::with_capacity(TEMPLATE.len() + SCRIPT.len() + STYLE.len() + data.len());
    let mut rest = TEMPLATE;
    for (slot, value) in [
        ("{{TITLE}}", escape_html(title)),
        ("/*{{STYLE}}*/", STYLE.to_string()),
        ("<!--{{DATA}}-->", data.to_string()),
        ("/*{{SCRIPT}}*/", SCRIPT.to_string()),
    ] {
        match rest.find(slot) {
            Some(i) => {
                out.push_str(&rest[..i]);
                out.push_str(&value);
                rest = &rest[i + slot.len()..];
            }
            None => debug_assert!(false, "template lacks {slot}"),
        }
    }
    out.push_str(rest);
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

//! The node's web page, served at `/` next to the API.
//!
//! Three static files (`node/web/index.html`, `app.js`, `style.css`) are compiled into the
//! binary with `include_str!`, so the page needs no build step and nothing from the network.
//! The page is a plain client of the `/v1` API: it signs in with a bearer token kept in the
//! tab's `sessionStorage`, and reads live space events from `/v1/spaces/{id}/events`, and the
//! timite's requests across its spaces from `/v1/requests/events`, with `fetch` (an
//! `EventSource` cannot send the `Authorization` header).
//!
//! Every answer carries a strict `Content-Security-Policy` (scripts, styles and connections
//! from this origin only; the HTML has no inline script or style) and `Cache-Control:
//! no-cache`, so a node upgrade is picked up on the next load.

use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;

/// The page.
const INDEX_HTML: &str = include_str!("../web/index.html");
/// Its script (no framework, no modules to resolve).
const APP_JS: &str = include_str!("../web/app.js");
/// Its style sheet.
const STYLE_CSS: &str = include_str!("../web/style.css");

/// What the page may load: only this origin, plus `data:` images.
const CSP: &str = "default-src 'self'; style-src 'self'; script-src 'self'; connect-src 'self'; \
                   img-src 'self' data:; base-uri 'none'; form-action 'self'; \
                   frame-ancestors 'none'";

/// The routes of the page: `GET /`, `GET /assets/app.js` and `GET /assets/style.css`.
pub(crate) fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route(
            "/",
            get(|| async { asset("text/html; charset=utf-8", INDEX_HTML) }),
        )
        .route(
            "/assets/app.js",
            get(|| async { asset("text/javascript; charset=utf-8", APP_JS) }),
        )
        .route(
            "/assets/style.css",
            get(|| async { asset("text/css; charset=utf-8", STYLE_CSS) }),
        )
}

/// One embedded file with its headers.
fn asset(content_type: &'static str, body: &'static str) -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-cache"),
            (header::CONTENT_SECURITY_POLICY, CSP),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::REFERRER_POLICY, "no-referrer"),
        ],
        body,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_has_no_inline_script_or_style() {
        assert!(INDEX_HTML.contains(r#"<script src="/assets/app.js""#));
        assert!(!INDEX_HTML.contains("<script>"));
        assert!(!INDEX_HTML.contains("<style"));
        assert!(!INDEX_HTML.contains("style=\""));
        for handler in ["onclick=", "onsubmit=", "onload=", "oninput=", "onkeydown="] {
            assert!(
                !INDEX_HTML.contains(handler),
                "inline event handler {handler}"
            );
        }
    }
}

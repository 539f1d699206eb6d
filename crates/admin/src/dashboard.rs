//! The dashboard: one HTML page, its script and its stylesheet, embedded in the binary and
//! served at `/`, plus the `/api/v1/series` data its charts draw.
//!
//! The page itself is public and carries no data; it reads the admin token from the URL
//! fragment (`#token=...`, which browsers never send), keeps it in session storage and sends it
//! as a bearer token on every API call. Without a valid token it only shows a login prompt.

mod series;

use axum::http::header;
use axum::response::IntoResponse;

pub(crate) use series::series;

const INDEX_HTML: &str = include_str!("dashboard/index.html");
const APP_JS: &str = include_str!("dashboard/app.js");
const STYLE_CSS: &str = include_str!("dashboard/style.css");

/// Assets change only with the binary; `no-cache` makes the browser revalidate after upgrades.
fn asset(content_type: &'static str, body: &'static str) -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-cache"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        body,
    )
}

pub(crate) async fn index() -> impl IntoResponse {
    (
        [
            (header::REFERRER_POLICY, "no-referrer"),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'",
            ),
        ],
        asset("text/html; charset=utf-8", INDEX_HTML),
    )
}

pub(crate) async fn script() -> impl IntoResponse {
    asset("text/javascript; charset=utf-8", APP_JS)
}

pub(crate) async fn style() -> impl IntoResponse {
    asset("text/css; charset=utf-8", STYLE_CSS)
}

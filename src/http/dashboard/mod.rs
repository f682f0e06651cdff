//! `GET /dashboard`: a single page for operators, built into the binary (no
//! build step). It asks for a token and reads the same API everyone else
//! uses; it holds no data of its own.

use axum::http::header;
use axum::response::IntoResponse;

const PAGE: &str = include_str!("index.html");

#[utoipa::path(get, path = "/dashboard", tag = "health", responses((status = 200, description = "text/html", body = String)))]
pub async fn dashboard() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            // The page loads nothing from elsewhere and may not be framed.
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; frame-ancestors 'none'",
            ),
        ],
        PAGE,
    )
}

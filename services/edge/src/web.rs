//! The built web app (Vite's `dist`), served from disk with a single-page fallback.
//!
//! Vite names everything under `assets/` by content hash, so those files are cached for a year;
//! `index.html` (and the fallback that serves it) is revalidated on every load, so a new release
//! is picked up at once. The build writes each text file beside a brotli (`.br`) and a gzip
//! (`.gz`) copy; a browser that accepts one gets it (brotli first), nothing is compressed per
//! request.

use std::path::{Component, Path, PathBuf};

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};

const IMMUTABLE: &str = "public, max-age=31536000, immutable";
const REVALIDATE: &str = "no-cache";

/// What a page may load: only the platform's own scripts, styles, images and API (the app calls
/// grpc-web on the same origin), and it may never be framed, so a script injected through data
/// cannot run and a hostile page cannot overlay ours. Inline styles stay allowed: React and the
/// charts set `style` attributes.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self'; connect-src 'self'; \
object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// Every plain HTTP answer's security headers, beside [`CONTENT_SECURITY_POLICY`].
const SECURITY_HEADERS: [(header::HeaderName, &str); 6] = [
    (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    (header::X_FRAME_OPTIONS, "DENY"),
    (header::REFERRER_POLICY, "no-referrer"),
    (
        header::STRICT_TRANSPORT_SECURITY,
        "max-age=31536000; includeSubDomains",
    ),
    (
        header::HeaderName::from_static("permissions-policy"),
        "camera=(), microphone=(), geolocation=(), payment=()",
    ),
    (
        header::HeaderName::from_static("cross-origin-opener-policy"),
        "same-origin",
    ),
];

#[derive(Debug, Clone)]
pub struct WebApp {
    root: PathBuf,
}

impl WebApp {
    /// The app in `root`, which must hold an `index.html`.
    pub fn new(root: impl Into<PathBuf>) -> Result<Self, String> {
        let root = root.into();
        if !root.join("index.html").is_file() {
            return Err(format!(
                "{} has no index.html (build the web app: `make web`)",
                root.display()
            ));
        }
        Ok(Self { root })
    }

    /// The file for `path`, or `index.html` for a page the app routes itself (no extension).
    /// A missing file with an extension is a 404, so a stale asset never turns into HTML.
    /// `accept_encoding` is the request's `Accept-Encoding` header (empty when absent).
    pub async fn respond(&self, path: &str, accept_encoding: &str) -> Response<Bytes> {
        let Some(relative) = safe_relative(path) else {
            return plain(StatusCode::NOT_FOUND, "not found");
        };
        let file = self.root.join(&relative);
        if !relative.as_os_str().is_empty() && file.is_file() {
            let cache = if relative.starts_with("assets") {
                IMMUTABLE
            } else {
                REVALIDATE
            };
            if let Some(response) = serve(&file, content_type(&file), cache, accept_encoding).await
            {
                return response;
            }
        }
        if relative.extension().is_some() {
            return plain(StatusCode::NOT_FOUND, "not found");
        }
        let index = self.root.join("index.html");
        match serve(
            &index,
            "text/html; charset=utf-8",
            REVALIDATE,
            accept_encoding,
        )
        .await
        {
            Some(response) => response,
            None => {
                tracing::error!(root = %self.root.display(), "web app index unreadable");
                plain(StatusCode::INTERNAL_SERVER_ERROR, "web app unavailable")
            }
        }
    }
}

/// The file, or its brotli or gzip copy when the browser accepts it and the build wrote one.
async fn serve(
    file: &Path,
    content_type: &'static str,
    cache: &'static str,
    accept_encoding: &str,
) -> Option<Response<Bytes>> {
    for (encoding, suffix) in [("br", "br"), ("gzip", "gz")] {
        if !accepts(accept_encoding, encoding) {
            continue;
        }
        let mut compressed = file.as_os_str().to_owned();
        compressed.push(".");
        compressed.push(suffix);
        if let Ok(body) = tokio::fs::read(&compressed).await {
            let mut response = with_type(body.into(), content_type, cache);
            let headers = response.headers_mut();
            headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static(encoding));
            headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
            return Some(response);
        }
    }
    let body = tokio::fs::read(file).await.ok()?;
    let mut response = with_type(body.into(), content_type, cache);
    response
        .headers_mut()
        .insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    Some(response)
}

/// Whether an `Accept-Encoding` header accepts `encoding` (listed, with a quality above 0).
fn accepts(accept_encoding: &str, encoding: &str) -> bool {
    accept_encoding.split(',').any(|item| {
        let mut parts = item.split(';').map(str::trim);
        let named = parts
            .next()
            .is_some_and(|name| name.eq_ignore_ascii_case(encoding));
        let quality = parts
            .find_map(|p| p.strip_prefix("q="))
            .map_or(1.0, |q| q.trim().parse::<f32>().unwrap_or(0.0));
        named && quality > 0.0
    })
}

/// The request path as a path under the root, or None when it tries to leave it.
fn safe_relative(path: &str) -> Option<PathBuf> {
    let decoded = path.trim_start_matches('/');
    let relative = Path::new(decoded);
    relative
        .components()
        .all(|c| matches!(c, Component::Normal(_)))
        .then(|| relative.to_path_buf())
}

fn content_type(file: &Path) -> &'static str {
    match file.extension().and_then(|e| e.to_str()).unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" | "map" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

fn with_type(body: Bytes, content_type: &'static str, cache: &'static str) -> Response<Bytes> {
    let mut response = Response::new(body);
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    for (name, value) in SECURITY_HEADERS {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}

pub(crate) fn plain(status: StatusCode, text: impl Into<Bytes>) -> Response<Bytes> {
    let mut response = with_type(text.into(), "text/plain; charset=utf-8", REVALIDATE);
    *response.status_mut() = status;
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app() -> (tempfile::TempDir, WebApp) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("index.html"), "<html>app</html>").unwrap();
        std::fs::create_dir(dir.path().join("assets")).unwrap();
        std::fs::write(dir.path().join("assets/index-abc123.js"), "console.log(1)").unwrap();
        std::fs::write(dir.path().join("favicon.svg"), "<svg/>").unwrap();
        let app = WebApp::new(dir.path()).unwrap();
        (dir, app)
    }

    fn cache(response: &Response<Bytes>) -> &str {
        response.headers()[header::CACHE_CONTROL].to_str().unwrap()
    }

    #[tokio::test]
    async fn hashed_assets_are_cached_for_a_year_and_pages_revalidate() {
        let (_dir, app) = app();
        let asset = app.respond("/assets/index-abc123.js", "").await;
        assert_eq!(asset.status(), StatusCode::OK);
        assert_eq!(cache(&asset), IMMUTABLE);
        assert!(
            asset.headers()[header::CONTENT_TYPE]
                .to_str()
                .unwrap()
                .starts_with("text/javascript")
        );
        let index = app.respond("/", "").await;
        assert_eq!(index.body(), "<html>app</html>");
        assert_eq!(cache(&index), REVALIDATE);
        assert_eq!(cache(&app.respond("/favicon.svg", "").await), REVALIDATE);
    }

    #[tokio::test]
    async fn app_routes_fall_back_to_the_index_but_missing_files_do_not() {
        let (_dir, app) = app();
        let page = app.respond("/clusters/c-1/nodes", "").await;
        assert_eq!(page.status(), StatusCode::OK);
        assert_eq!(page.body(), "<html>app</html>");
        assert_eq!(
            app.respond("/assets/gone-123.js", "").await.status(),
            StatusCode::NOT_FOUND
        );
    }

    #[tokio::test]
    async fn paths_cannot_leave_the_root() {
        let (_dir, app) = app();
        for path in ["/../secret", "/assets/../../etc/passwd", "/./index.html"] {
            assert_eq!(
                app.respond(path, "").await.status(),
                StatusCode::NOT_FOUND,
                "{path}"
            );
        }
    }

    #[tokio::test]
    async fn a_browser_gets_the_brotli_or_gzip_copy_it_accepts() {
        let (dir, app) = app();
        std::fs::write(dir.path().join("assets/index-abc123.js.br"), "brotli bytes").unwrap();
        std::fs::write(dir.path().join("assets/index-abc123.js.gz"), "gzip bytes").unwrap();
        std::fs::write(dir.path().join("index.html.gz"), "gzip index").unwrap();
        let encoding = |response: &Response<Bytes>| {
            response
                .headers()
                .get(header::CONTENT_ENCODING)
                .map(|v| v.to_str().unwrap().to_owned())
        };
        let asset = "/assets/index-abc123.js";
        let br = app.respond(asset, "gzip, deflate, br, zstd").await;
        assert_eq!(br.body(), "brotli bytes");
        assert_eq!(encoding(&br).as_deref(), Some("br"));
        assert_eq!(br.headers()[header::VARY], "accept-encoding");
        assert_eq!(cache(&br), IMMUTABLE);
        assert!(
            br.headers()[header::CONTENT_TYPE]
                .to_str()
                .unwrap()
                .starts_with("text/javascript")
        );
        let gzip = app.respond(asset, "gzip, br;q=0").await;
        assert_eq!(gzip.body(), "gzip bytes");
        assert_eq!(encoding(&gzip).as_deref(), Some("gzip"));
        let plain = app.respond(asset, "").await;
        assert_eq!(plain.body(), "console.log(1)");
        assert_eq!(encoding(&plain), None);
        // A page the app routes gets the index's copy; a file without one is sent as it is.
        let page = app.respond("/clusters", "gzip").await;
        assert_eq!(page.body(), "gzip index");
        assert_eq!(cache(&page), REVALIDATE);
        assert_eq!(
            encoding(&app.respond("/favicon.svg", "br, gzip").await),
            None
        );
    }

    #[test]
    fn a_folder_without_an_index_is_refused_with_how_to_build_it() {
        let dir = tempfile::tempdir().unwrap();
        let error = WebApp::new(dir.path()).unwrap_err();
        assert!(error.contains("make web"), "{error}");
    }
}

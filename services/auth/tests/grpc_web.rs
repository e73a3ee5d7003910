//! The browser's path: sign-up, login, refresh and logout over grpc-web (HTTP/1.1, binary), with
//! the refresh token kept by the edge in an HttpOnly cookie instead of the messages.

use prost::Message;
use spot_proto::auth::v1 as pb;
use spot_testkit::{TestServer, strong_password};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A grpc-web answer: the decoded reply (or the grpc-status and message) and the response's
/// `Set-Cookie` headers.
struct WebReply<Resp> {
    result: Result<Resp, (i32, String)>,
    set_cookies: Vec<String>,
}

/// One grpc-web unary call; the decoded reply, or the grpc-status and message from the trailers.
async fn grpc_web<Req: Message, Resp: Message + Default>(
    test: &TestServer,
    method: &str,
    message: &Req,
) -> Result<Resp, (i32, String)> {
    grpc_web_with(test, "localhost", None, method, message)
        .await
        .result
}

/// A grpc-web call as a browser at `host` makes it, sending `cookie` if any.
async fn grpc_web_with<Req: Message, Resp: Message + Default>(
    test: &TestServer,
    host: &str,
    cookie: Option<&str>,
    method: &str,
    message: &Req,
) -> WebReply<Resp> {
    let payload = message.encode_to_vec();
    let mut body = vec![0u8];
    body.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    body.extend_from_slice(&payload);
    let cookie = cookie
        .map(|c| format!("Cookie: {c}\r\n"))
        .unwrap_or_default();
    let head = format!(
        "POST /{method} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/grpc-web+proto\r\n\
         X-Grpc-Web: 1\r\n{cookie}Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let mut stream = tokio::net::TcpStream::connect(test.addr()).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(&body).await.unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.unwrap();
    let split = response.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    let raw_headers = String::from_utf8_lossy(&response[..split]).to_string();
    let headers = raw_headers.to_lowercase();
    assert!(headers.starts_with("http/1.1 200"), "{headers}");
    let set_cookies = raw_headers
        .lines()
        .filter_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("set-cookie")
                .then(|| value.trim().to_owned())
        })
        .collect();
    let mut body = dechunk(
        &response[split..],
        headers.contains("transfer-encoding: chunked"),
    );
    let mut reply = None;
    let mut trailers = String::new();
    while body.len() >= 5 {
        let flag = body[0];
        let len = u32::from_be_bytes([body[1], body[2], body[3], body[4]]) as usize;
        let frame: Vec<u8> = body.drain(..5 + len).skip(5).collect();
        if flag & 0x80 == 0 {
            reply = Some(Resp::decode(frame.as_slice()).unwrap());
        } else {
            trailers = String::from_utf8_lossy(&frame).to_string();
        }
    }
    let field = |name: &str| {
        headers.lines().chain(trailers.lines()).find_map(|line| {
            line.trim()
                .strip_prefix(&format!("{name}:"))
                .map(|v| v.trim().to_owned())
        })
    };
    let status: i32 = field("grpc-status")
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let result = match (status, reply) {
        (0, Some(reply)) => Ok(reply),
        (status, _) => Err((
            status,
            percent_decode(&field("grpc-message").unwrap_or_default()),
        )),
    };
    WebReply {
        result,
        set_cookies,
    }
}

/// The refresh cookie a response sets: its value and attributes.
fn refresh_cookie(set_cookies: &[String]) -> (String, String) {
    let cookie = set_cookies
        .iter()
        .find(|c| c.starts_with("spot_refresh="))
        .unwrap_or_else(|| panic!("no refresh cookie in {set_cookies:?}"));
    let (pair, attributes) = cookie.split_once(';').unwrap();
    (
        pair.trim_start_matches("spot_refresh=").to_owned(),
        attributes.to_owned(),
    )
}

/// grpc-message is percent-encoded on the wire (the gRPC spec).
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Ok(byte) = u8::from_str_radix(&text[i + 1..i + 3], 16)
        {
            out.push(byte);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn dechunk(raw: &[u8], chunked: bool) -> Vec<u8> {
    if !chunked {
        return raw.to_vec();
    }
    let mut out = Vec::new();
    let mut rest = raw;
    loop {
        let line_end = rest.windows(2).position(|w| w == b"\r\n").unwrap();
        let size =
            usize::from_str_radix(std::str::from_utf8(&rest[..line_end]).unwrap().trim(), 16)
                .unwrap();
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&rest[line_end + 2..line_end + 2 + size]);
        rest = &rest[line_end + 2 + size + 2..];
    }
}

#[tokio::test]
async fn the_browser_flow_works_over_grpc_web_with_the_refresh_token_in_a_cookie() {
    let test = TestServer::start(&[]).await;
    let owner = test.sign_up("Web Co").await;
    // Sign-up over grpc-web answers, and says nothing about the account.
    let _: pb::SignUpResponse = grpc_web(
        &test,
        "spot.auth.v1.AuthService/SignUp",
        &pb::SignUpRequest {
            tenant_name: "Web Co".into(),
            email: "web@example.com".into(),
            password: strong_password(),
        },
    )
    .await
    .unwrap();

    let login = grpc_web_with::<_, pb::LoginResponse>(
        &test,
        "localhost:8080",
        None,
        "spot.auth.v1.AuthService/Login",
        &pb::LoginRequest {
            email: owner.email.clone(),
            password: owner.password.clone(),
            ..Default::default()
        },
    )
    .await;
    let tokens = login.result.unwrap().tokens.unwrap();
    assert!(!tokens.access_token.is_empty());
    assert_eq!(
        tokens.refresh_token, "",
        "scripts never see the refresh token"
    );
    let (cookie, attributes) = refresh_cookie(&login.set_cookies);
    assert!(!cookie.is_empty());
    for attribute in [
        "HttpOnly",
        "SameSite=Strict",
        "Path=/spot.auth.v1.AuthService/",
    ] {
        assert!(attributes.contains(attribute), "{attributes}");
    }
    // Plain http on a loopback host (the demo) cannot keep a Secure cookie; anywhere else it is.
    assert!(!attributes.contains("Secure"), "{attributes}");
    let elsewhere = grpc_web_with::<_, pb::LoginResponse>(
        &test,
        "spot.example.com",
        None,
        "spot.auth.v1.AuthService/Login",
        &pb::LoginRequest {
            email: owner.email.clone(),
            password: owner.password.clone(),
            ..Default::default()
        },
    )
    .await;
    assert!(
        refresh_cookie(&elsewhere.set_cookies)
            .1
            .contains("; Secure")
    );

    // Refresh sends no token: the cookie carries it, and comes back rotated.
    let refreshed = grpc_web_with::<_, pb::RefreshResponse>(
        &test,
        "localhost:8080",
        Some(&format!("other=1; spot_refresh={cookie}")),
        "spot.auth.v1.AuthService/Refresh",
        &pb::RefreshRequest::default(),
    )
    .await;
    let tokens = refreshed.result.unwrap().tokens.unwrap();
    assert!(!tokens.access_token.is_empty());
    assert_eq!(tokens.refresh_token, "");
    let (rotated, _) = refresh_cookie(&refreshed.set_cookies);
    assert_ne!(rotated, cookie);

    let logout = grpc_web_with::<_, pb::LogoutResponse>(
        &test,
        "localhost:8080",
        Some(&format!("spot_refresh={rotated}")),
        "spot.auth.v1.AuthService/Logout",
        &pb::LogoutRequest::default(),
    )
    .await;
    logout.result.unwrap();
    let (cleared, attributes) = refresh_cookie(&logout.set_cookies);
    assert_eq!(cleared, "");
    assert!(attributes.contains("Max-Age=0"), "{attributes}");
    // The session is over: the old cookie no longer refreshes, and is cleared again.
    let after = grpc_web_with::<_, pb::RefreshResponse>(
        &test,
        "localhost:8080",
        Some(&format!("spot_refresh={rotated}")),
        "spot.auth.v1.AuthService/Refresh",
        &pb::RefreshRequest::default(),
    )
    .await;
    let (status, message) = after.result.unwrap_err();
    assert_eq!(status, tonic::Code::Unauthenticated as i32);
    assert!(message.contains("revoked"), "{message}");
    assert_eq!(refresh_cookie(&after.set_cookies).0, "");

    // Native gRPC clients (CLI, SDKs) still get both tokens in the message.
    let native = test
        .auth()
        .login(pb::LoginRequest {
            email: owner.email.clone(),
            password: owner.password.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(!native.tokens.unwrap().refresh_token.is_empty());

    // A protected call without credentials says why, in the trailers a browser can read.
    let (status, message) =
        grpc_web::<_, pb::MeResponse>(&test, "spot.auth.v1.AuthService/Me", &pb::MeRequest {})
            .await
            .unwrap_err();
    assert_eq!(status, tonic::Code::Unauthenticated as i32);
    assert!(message.contains("missing credentials"), "{message}");
    test.stop().await;
}

//! The browser's path: sign-up, login, refresh and logout over grpc-web (HTTP/1.1, binary).

use prost::Message;
use spot_proto::auth::v1 as pb;
use spot_testkit::{TestServer, strong_password};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// One grpc-web unary call; the decoded reply, or the grpc-status and message from the trailers.
async fn grpc_web<Req: Message, Resp: Message + Default>(
    test: &TestServer,
    method: &str,
    message: &Req,
) -> Result<Resp, (i32, String)> {
    let payload = message.encode_to_vec();
    let mut body = vec![0u8];
    body.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    body.extend_from_slice(&payload);
    let head = format!(
        "POST /{method} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/grpc-web+proto\r\n\
         X-Grpc-Web: 1\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let mut stream = tokio::net::TcpStream::connect(test.addr()).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(&body).await.unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.unwrap();
    let split = response.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    let headers = String::from_utf8_lossy(&response[..split]).to_lowercase();
    assert!(headers.starts_with("http/1.1 200"), "{headers}");
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
    match (status, reply) {
        (0, Some(reply)) => Ok(reply),
        (status, _) => Err((
            status,
            percent_decode(&field("grpc-message").unwrap_or_default()),
        )),
    }
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
async fn the_browser_flow_works_over_grpc_web() {
    let test = TestServer::start(&[]).await;
    let password = strong_password();
    let signed_up: pb::SignUpResponse = grpc_web(
        &test,
        "spot.auth.v1.AuthService/SignUp",
        &pb::SignUpRequest {
            tenant_name: "Web Co".into(),
            email: "web@example.com".into(),
            password: password.clone(),
        },
    )
    .await
    .unwrap();
    assert_eq!(signed_up.user.unwrap().email, "web@example.com");

    let login: pb::LoginResponse = grpc_web(
        &test,
        "spot.auth.v1.AuthService/Login",
        &pb::LoginRequest {
            email: "web@example.com".into(),
            password,
        },
    )
    .await
    .unwrap();
    let tokens = login.tokens.unwrap();
    let refreshed: pb::RefreshResponse = grpc_web(
        &test,
        "spot.auth.v1.AuthService/Refresh",
        &pb::RefreshRequest {
            refresh_token: tokens.refresh_token,
        },
    )
    .await
    .unwrap();
    let refresh_token = refreshed.tokens.unwrap().refresh_token;
    let _: pb::LogoutResponse = grpc_web(
        &test,
        "spot.auth.v1.AuthService/Logout",
        &pb::LogoutRequest {
            refresh_token: refresh_token.clone(),
        },
    )
    .await
    .unwrap();
    let (status, message) = grpc_web::<_, pb::RefreshResponse>(
        &test,
        "spot.auth.v1.AuthService/Refresh",
        &pb::RefreshRequest { refresh_token },
    )
    .await
    .unwrap_err();
    assert_eq!(status, tonic::Code::Unauthenticated as i32);
    assert!(message.contains("revoked"), "{message}");

    // A protected call without credentials says why, in the trailers a browser can read.
    let (status, message) =
        grpc_web::<_, pb::MeResponse>(&test, "spot.auth.v1.AuthService/Me", &pb::MeRequest {})
            .await
            .unwrap_err();
    assert_eq!(status, tonic::Code::Unauthenticated as i32);
    assert!(message.contains("missing credentials"), "{message}");
    test.stop().await;
}

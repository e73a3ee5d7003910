//! A unary grpc-web call as a browser makes it: HTTP/1.1, binary format, an empty request message.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// POSTs an empty message to `path` with the extra `headers`; the raw reply (status line,
/// headers, data and trailer frames).
pub async fn call(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> Vec<u8> {
    // An empty message is a frame of flag 0 and length 0.
    let body = [0u8, 0, 0, 0, 0];
    let extra: String = headers
        .iter()
        .map(|(name, value)| format!("{name}: {value}\r\n"))
        .collect();
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: localhost\r\n{extra}\
         Content-Type: application/grpc-web+proto\r\nX-Grpc-Web: 1\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    stream.write_all(&body).await.unwrap();
    let mut reply = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut reply))
        .await
        .expect("a grpc-web reply within 10 s")
        .unwrap();
    reply
}

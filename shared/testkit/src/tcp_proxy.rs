//! A TCP proxy a test controls, to put faults on the wire: it forwards each connection to the
//! first of its upstreams that accepts (so clients in front of two replicas reach whichever is
//! up), and [`TcpProxy::cut`] resets every open connection and refuses new ones for a while, as
//! a server that went away does.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

pub struct TcpProxy {
    pub addr: SocketAddr,
    state: Arc<Mutex<State>>,
    stop: CancellationToken,
}

struct State {
    upstreams: Vec<SocketAddr>,
    /// Cancelled to reset every open connection; replaced by a new one.
    open: CancellationToken,
    refusing_until: Option<tokio::time::Instant>,
    /// Rotates the first upstream tried, so connections spread over the replicas.
    next: usize,
}

impl TcpProxy {
    /// Listens on a free loopback port.
    pub async fn start(upstreams: Vec<SocketAddr>) -> TcpProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("a free port");
        let addr = listener.local_addr().expect("bound");
        let state = Arc::new(Mutex::new(State {
            upstreams,
            open: CancellationToken::new(),
            refusing_until: None,
            next: 0,
        }));
        let stop = CancellationToken::new();
        tokio::spawn(accept(listener, state.clone(), stop.clone()));
        TcpProxy { addr, state, stop }
    }

    /// `postgres://user@host:port/db` with this proxy's address in place of the host and port.
    pub fn url_through(&self, url: &str) -> String {
        let (scheme, rest) = url.split_once("://").expect("a URL");
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        let user = authority
            .rsplit_once('@')
            .map(|(user, _)| format!("{user}@"))
            .unwrap_or_default();
        let path = if path.is_empty() {
            String::new()
        } else {
            format!("/{path}")
        };
        format!("{scheme}://{user}{}{path}", self.addr)
    }

    /// Resets every open connection and refuses new ones for `how_long`.
    pub fn cut(&self, how_long: Duration) {
        let mut state = self.state.lock().unwrap();
        state.open.cancel();
        state.open = CancellationToken::new();
        state.refusing_until = Some(tokio::time::Instant::now() + how_long);
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        self.stop.cancel();
        self.state.lock().unwrap().open.cancel();
    }
}

async fn accept(listener: TcpListener, state: Arc<Mutex<State>>, stop: CancellationToken) {
    loop {
        let accepted = tokio::select! {
            _ = stop.cancelled() => return,
            accepted = listener.accept() => accepted,
        };
        let Ok((client, _)) = accepted else { continue };
        let (upstreams, open) = {
            let mut state = state.lock().unwrap();
            if state
                .refusing_until
                .is_some_and(|until| tokio::time::Instant::now() < until)
            {
                continue; // dropped: the client sees the connection reset
            }
            let mut upstreams = state.upstreams.clone();
            let count = upstreams.len().max(1);
            upstreams.rotate_left(state.next % count);
            state.next = state.next.wrapping_add(1);
            (upstreams, state.open.clone())
        };
        tokio::spawn(forward(client, upstreams, open));
    }
}

async fn forward(mut client: TcpStream, upstreams: Vec<SocketAddr>, open: CancellationToken) {
    let _ = client.set_nodelay(true);
    for upstream in upstreams {
        if let Ok(mut server) = TcpStream::connect(upstream).await {
            let _ = server.set_nodelay(true);
            tokio::select! {
                _ = open.cancelled() => {}
                _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
            }
            return;
        }
    }
}

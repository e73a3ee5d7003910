//! Which address a call really comes from. Login lockouts and rate limits are per address, so a
//! client that could choose its address could lock others out (or escape its own limit).
//!
//! The address is the TCP peer, unless the peer is one of the configured trusted proxies: then
//! `X-Forwarded-For` is walked from the right (the hop the nearest proxy saw), skipping further
//! trusted hops, and the first untrusted hop is the client. Anything left of it was written by the
//! client and is ignored. Between the platform's own processes the address travels signed with the
//! internal secret ([`FORWARDED_ADDRESS_HEADER`]), set here on every call so a forwarded call
//! carries it, and believed only when it verifies.

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use ipnet::IpNet;
use tonic::body::Body;
use tonic::transport::server::TcpConnectInfo;

use crate::InternalCredential;

/// The client address another platform process forwarded a call for, signed.
pub const FORWARDED_ADDRESS_HEADER: &str = "x-spot-client-address";

/// The client's address as resolved by [`ClientAddressLayer`]; in every request's extensions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddress(pub IpAddr);

/// The address a call comes from: the resolved one, or the TCP peer where no layer resolved it
/// (a handler called directly in a test), or the unspecified address when neither is known.
pub fn client_address<T>(request: &tonic::Request<T>) -> IpAddr {
    request
        .extensions()
        .get::<ClientAddress>()
        .map(|address| address.0)
        .or_else(|| request.remote_addr().map(|addr| addr.ip()))
        .unwrap_or(IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED))
}

/// The client behind `peer`: walks `forwarded_for` (the `X-Forwarded-For` values in order) from
/// the right while each hop so far is a trusted proxy.
pub fn resolve<'a>(
    peer: IpAddr,
    forwarded_for: impl DoubleEndedIterator<Item = &'a str>,
    trusted: &[IpNet],
) -> IpAddr {
    let is_trusted = |address: IpAddr| {
        let address = address.to_canonical();
        trusted.iter().any(|network| network.contains(&address))
    };
    let mut client = peer.to_canonical();
    let hops = forwarded_for.rev().flat_map(|value| value.rsplit(','));
    for hop in hops {
        if !is_trusted(client) {
            return client;
        }
        match parse_hop(hop) {
            Some(address) => client = address.to_canonical(),
            // A hop that is not an address ends the walk at the last one that was.
            None => return client,
        }
    }
    client
}

/// `1.2.3.4`, `1.2.3.4:5678`, `2001:db8::1` or `[2001:db8::1]:5678`.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim();
    hop.parse::<IpAddr>()
        .ok()
        .or_else(|| hop.parse::<SocketAddr>().ok().map(|addr| addr.ip()))
}

/// Resolves [`ClientAddress`] for every call; goes in front of the forwarding to other processes.
#[derive(Clone)]
pub struct ClientAddressLayer {
    trusted: Arc<Vec<IpNet>>,
    credential: InternalCredential,
}

impl ClientAddressLayer {
    pub fn new(trusted: Vec<IpNet>, credential: InternalCredential) -> Self {
        Self {
            trusted: Arc::new(trusted),
            credential,
        }
    }

    fn address_of(&self, request: &http::Request<Body>) -> IpAddr {
        if let Some(forwarded) = request
            .headers()
            .get(FORWARDED_ADDRESS_HEADER)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| self.credential.verify_client_address(value))
        {
            return forwarded;
        }
        let peer = request
            .extensions()
            .get::<TcpConnectInfo>()
            .and_then(TcpConnectInfo::remote_addr)
            .map(|addr| addr.ip())
            .unwrap_or(IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED));
        let forwarded_for = request
            .headers()
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|value| value.to_str().ok())
            .collect::<Vec<_>>();
        resolve(peer, forwarded_for.into_iter(), &self.trusted)
    }
}

impl<S> tower::Layer<S> for ClientAddressLayer {
    type Service = ClientAddressService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ClientAddressService {
            inner,
            layer: self.clone(),
        }
    }
}

#[derive(Clone)]
pub struct ClientAddressService<S> {
    inner: S,
    layer: ClientAddressLayer,
}

impl<S> tower::Service<http::Request<Body>> for ClientAddressService<S>
where
    S: tower::Service<http::Request<Body>>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<Body>) -> Self::Future {
        let address = self.layer.address_of(&request);
        request.extensions_mut().insert(ClientAddress(address));
        // Replaces whatever the caller sent under this name with this process's own signature.
        match http::HeaderValue::from_str(&self.layer.credential.sign_client_address(address)) {
            Ok(signed) => {
                request
                    .headers_mut()
                    .insert(FORWARDED_ADDRESS_HEADER, signed);
            }
            Err(_) => {
                request.headers_mut().remove(FORWARDED_ADDRESS_HEADER);
            }
        }
        Box::pin(self.inner.call(request))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter().map(|n| n.parse().unwrap()).collect()
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_forwards() {
        let trusted = nets(&["10.0.0.0/8"]);
        assert_eq!(
            resolve(ip("198.51.100.7"), ["203.0.113.9"].into_iter(), &trusted),
            ip("198.51.100.7")
        );
        assert_eq!(
            resolve(ip("198.51.100.7"), std::iter::empty(), &[]),
            ip("198.51.100.7")
        );
    }

    #[test]
    fn the_walk_from_the_right_stops_at_the_first_untrusted_hop() {
        let trusted = nets(&["10.0.0.0/8", "192.168.1.1/32"]);
        // The client wrote "1.1.1.1" itself; the proxies appended what they saw.
        let headers = ["1.1.1.1, 203.0.113.9", "192.168.1.1"];
        assert_eq!(
            resolve(ip("10.1.2.3"), headers.into_iter(), &trusted),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn odd_hops_end_the_walk_and_ports_are_ignored() {
        let trusted = nets(&["10.0.0.0/8"]);
        assert_eq!(
            resolve(ip("10.0.0.1"), ["203.0.113.9:4433"].into_iter(), &trusted),
            ip("203.0.113.9")
        );
        assert_eq!(
            resolve(ip("10.0.0.1"), ["[2001:db8::1]:443"].into_iter(), &trusted),
            ip("2001:db8::1")
        );
        assert_eq!(
            resolve(ip("10.0.0.1"), ["unknown, 10.0.0.2"].into_iter(), &trusted),
            ip("10.0.0.2")
        );
        // Every hop trusted: the leftmost is as far as anyone can tell.
        assert_eq!(
            resolve(ip("10.0.0.1"), ["10.0.0.3, 10.0.0.2"].into_iter(), &trusted),
            ip("10.0.0.3")
        );
    }

    #[test]
    fn a_forwarded_address_verifies_only_with_the_platforms_secret() {
        let ours = InternalCredential::new(&[7; 32], "edge").unwrap();
        let theirs = InternalCredential::new(&[8; 32], "edge").unwrap();
        let signed = ours.sign_client_address(ip("203.0.113.9"));
        assert_eq!(ours.verify_client_address(&signed), Some(ip("203.0.113.9")));
        assert_eq!(theirs.verify_client_address(&signed), None);
        // A service credential is not a forwarded address, nor the other way round.
        assert_eq!(ours.verify_client_address(&ours.token()), None);
        assert_eq!(ours.verify(&signed), None);
    }
}

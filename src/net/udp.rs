//! UDP sockets for a listener: one, or a group sharing one address through `SO_REUSEPORT`, so
//! that each can be read by a thread of its own. The kernel picks a group member by a hash of the
//! sender's address and port: one sender's datagrams all reach the same socket, in order.
//!
//! `SO_REUSEPORT` lets another process of the same user join the group later and receive part of
//! the traffic; that is why a group is only made when more than one socket is asked for.

use nix::sys::socket::{
    bind, setsockopt, socket, sockopt, AddressFamily, SockFlag, SockType, SockaddrStorage,
};
use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;

/// The sockets of one UDP listener, all bound to the same address.
#[derive(Debug)]
pub struct UdpSockets(pub Vec<UdpSocket>);

impl UdpSockets {
    /// Binds `count` sockets (at least one) to `addr`. With a port of 0 the first socket's
    /// ephemeral port is the group's.
    pub fn bind(addr: SocketAddr, count: usize) -> io::Result<UdpSockets> {
        if count <= 1 {
            return UdpSocket::bind(addr).map(|s| UdpSockets(vec![s]));
        }
        let first = bind_reuseport(addr)?;
        let addr = first.local_addr()?;
        let mut sockets = vec![first];
        for _ in 1..count {
            sockets.push(bind_reuseport(addr)?);
        }
        Ok(UdpSockets(sockets))
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        match self.0.first() {
            Some(s) => s.local_addr(),
            None => Err(io::Error::new(io::ErrorKind::NotFound, "no UDP socket")),
        }
    }
}

fn bind_reuseport(addr: SocketAddr) -> io::Result<UdpSocket> {
    let family = match addr {
        SocketAddr::V4(_) => AddressFamily::Inet,
        SocketAddr::V6(_) => AddressFamily::Inet6,
    };
    let fd = socket(family, SockType::Datagram, SockFlag::SOCK_CLOEXEC, None)?;
    setsockopt(&fd, sockopt::ReusePort, &true)?;
    bind(fd.as_raw_fd(), &SockaddrStorage::from(addr))?;
    Ok(UdpSocket::from(fd))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_group_shares_one_address_and_every_member_receives() {
        let group = UdpSockets::bind("127.0.0.1:0".parse().expect("addr"), 2).expect("bind");
        let addr = group.local_addr().expect("addr");
        assert_ne!(addr.port(), 0);
        assert_eq!(group.0.len(), 2);
        for s in &group.0 {
            assert_eq!(s.local_addr().expect("addr"), addr);
            s.set_read_timeout(Some(Duration::from_millis(20)))
                .expect("timeout");
        }
        // 64 senders (distinct source ports): the kernel's hash puts some on each socket, and
        // each sender's datagrams all on one.
        let mut per_socket = [0usize; 2];
        for n in 0..64u8 {
            let client = UdpSocket::bind("127.0.0.1:0").expect("client");
            for _ in 0..3 {
                client.send_to(&[n], addr).expect("send");
            }
            let mut buf = [0u8; 4];
            let mut got = Vec::new();
            for (i, s) in group.0.iter().enumerate() {
                while let Ok(len) = s.recv(&mut buf) {
                    assert_eq!(&buf[..len], &[n]);
                    got.push(i);
                }
            }
            assert_eq!(got.len(), 3, "sender {n}: {got:?}");
            assert!(
                got.iter().all(|&i| i == got[0]),
                "sender {n} split: {got:?}"
            );
            per_socket[got[0]] += 1;
        }
        assert!(per_socket.iter().all(|&n| n > 0), "{per_socket:?}");
    }

    #[test]
    fn one_socket_is_a_plain_bind_and_a_taken_port_fails() {
        let one = UdpSockets::bind("127.0.0.1:0".parse().expect("addr"), 1).expect("bind");
        let addr = one.local_addr().expect("addr");
        // Not a group: neither a plain nor a group bind may share the port.
        assert!(UdpSockets::bind(addr, 1).is_err());
        assert!(UdpSockets::bind(addr, 2).is_err());
    }
}

"""Is a Kafka broker up on a local port: a Metadata request that must list the broker itself."""

from __future__ import annotations

import socket
import struct

HOST = "127.0.0.1"


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def _metadata_brokers(port: int, timeout: float = 2.0) -> int:
    """Send a Kafka Metadata request and return how many brokers the answer lists."""
    # v4 is the oldest Metadata version Kafka 4.x accepts, and the simplest to encode.
    correlation_id = 1
    client_id = b"accounts-service-probe"
    # Header: api_key=3 (Metadata), api_version=4, correlation id, client id;
    # body: an empty topic list and allow_auto_topic_creation=false.
    body = struct.pack(">hhih", 3, 4, correlation_id, len(client_id)) + client_id + struct.pack(">ib", 0, 0)
    with socket.create_connection((HOST, port), timeout=timeout) as sock:
        sock.sendall(struct.pack(">i", len(body)) + body)
        size = struct.unpack(">i", _recv_exact(sock, 4))[0]
        answer = _recv_exact(sock, size)
    got_id, _throttle_ms, brokers = struct.unpack(">iii", answer[:12])
    if got_id != correlation_id:
        raise ConnectionError("unexpected correlation id in Kafka's answer")
    count: int = brokers
    return count


def _recv_exact(sock: socket.socket, size: int) -> bytes:
    """Read exactly size bytes from the socket."""
    chunks = bytearray()
    while len(chunks) < size:
        chunk = sock.recv(size - len(chunks))
        if not chunk:
            raise ConnectionError("Kafka closed the connection")
        chunks += chunk
    return bytes(chunks)


def answers(port: int) -> bool:
    """Tell whether a broker on the port answers metadata requests and lists itself."""
    try:
        return _metadata_brokers(port) > 0
    except (OSError, struct.error):
        return False


def port_in_use(port: int) -> bool:
    """Tell whether something accepts TCP connections on the port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(1.0)
        return sock.connect_ex((HOST, port)) == 0

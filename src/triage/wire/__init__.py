"""A single-threaded asyncio gRPC server: HTTP/2 cleartext with prior knowledge, no threads.

``_h2``: frames, connection and stream state, flow control, HPACK decoding · ``_server``: listeners, method
registry, calls, graceful stop · ``_health``: ``grpc.health.v1.Health``.
"""

from triage.wire._h2 import ErrorCode, H2Connection, H2Error, H2Stream, HpackDecoder, huffman_decode
from triage.wire._health import HealthService
from triage.wire._server import (
    MAX_MESSAGE_BYTES,
    GrpcConnection,
    Method,
    RpcError,
    Server,
    ServerCall,
    Status,
    StreamHandler,
    UnaryHandler,
)

__all__ = [
    "MAX_MESSAGE_BYTES",
    "ErrorCode",
    "GrpcConnection",
    "H2Connection",
    "H2Error",
    "H2Stream",
    "HealthService",
    "HpackDecoder",
    "Method",
    "RpcError",
    "Server",
    "ServerCall",
    "Status",
    "StreamHandler",
    "UnaryHandler",
    "huffman_decode",
]

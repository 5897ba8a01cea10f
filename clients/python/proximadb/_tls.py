"""TLS settings shared by the REST and gRPC transports."""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from typing import Optional

import grpc


def _read(path: Optional[str]) -> Optional[bytes]:
    if path is None:
        return None
    with open(path, "rb") as f:
        return f.read()


@dataclass(frozen=True)
class Tls:
    """What a client trusts and shows over TLS (``https://``, ``grpcs://``).

    ca_file: PEM bundle of the CAs that sign the server's certificate (None: the system's).
    cert_file, key_file: PEM client certificate and key, for a server with
        ``[tls] client_ca_file`` (mutual TLS).
    """

    ca_file: Optional[str] = None
    cert_file: Optional[str] = None
    key_file: Optional[str] = None

    def __post_init__(self) -> None:
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("give both cert_file and key_file for a client certificate, "
                             "or neither")

    def ssl_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=self.ca_file)
        if self.cert_file is not None:
            context.load_cert_chain(self.cert_file, self.key_file)
        return context

    def grpc_credentials(self) -> grpc.ChannelCredentials:
        return grpc.ssl_channel_credentials(root_certificates=_read(self.ca_file),
                                            private_key=_read(self.key_file),
                                            certificate_chain=_read(self.cert_file))

"""``kind: tls``: certificate trust and days left (seed 003: "SSL certificates valid (>30
days remaining)"), against real TLS servers with certificates made by the openssl CLI."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.checks.contract import Case, CheckKindContract
from tests.checks.helpers import context, run
from tests.checks.servers import TlsEndpoint, dead_port


def openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


class Certificates:
    """A throwaway CA, and server certificates for 127.0.0.1 it signs, by validity."""

    def __init__(self, folder: Path) -> None:
        if shutil.which("openssl") is None:
            pytest.fail("the openssl CLI is missing: these tests make real certificates")
        self.folder = folder
        self.ca = folder / "ca.pem"
        openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "365",
                "-subj", "/CN=rollgate test CA",
                "-addext", "basicConstraints=critical,CA:TRUE",
                "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=folder)
        (folder / "san.cnf").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")

    def issued(self, days: int) -> tuple[Path, Path]:
        """A certificate for 127.0.0.1 signed by the CA, valid ``days`` from now."""
        name = f"server-{days}d"
        openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", "/CN=127.0.0.1",
                cwd=self.folder)
        openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                "-CAcreateserial", "-days", str(days), "-extfile", "san.cnf",
                "-out", f"{name}.pem", cwd=self.folder)
        return self.folder / f"{name}.pem", self.folder / f"{name}.key"

    def self_signed(self) -> tuple[Path, Path]:
        """A certificate for 127.0.0.1 that no CA vouches for."""
        openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                "-nodes", "-keyout", "self.key", "-out", "self.pem", "-days", "60",
                "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                cwd=self.folder)
        return self.folder / "self.pem", self.folder / "self.key"


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return Certificates(tmp_path_factory.mktemp("certs"))


@pytest.fixture
def serving(certs: Certificates, request: pytest.FixtureRequest) -> Iterator[TlsEndpoint]:
    """A TLS server presenting a CA-signed certificate valid ``request.param`` days."""
    with TlsEndpoint(*certs.issued(request.param)) as server:
        yield server


def tls(certs: Certificates, port: int, **extra: object) -> dict[str, object]:
    return {"kind": "tls", "host": "127.0.0.1", "port": port, "ca_file": str(certs.ca),
            "warn_days": 30, "min_days": 7, **extra}


class TestTlsContract(CheckKindContract):
    kind = "tls"

    @pytest.fixture
    def passing(self, certs: Certificates) -> Iterator[Case]:
        with TlsEndpoint(*certs.issued(60)) as server:
            yield Case(tls(certs, server.port), context(),
                       f"127.0.0.1:{server.port}: certificate expires")

    @pytest.fixture
    def failing(self, certs: Certificates) -> Iterator[Case]:
        with TlsEndpoint(*certs.issued(3)) as server:
            yield Case(tls(certs, server.port), context(), "days left, fewer than 7)")

    @pytest.fixture
    def unreachable(self, certs: Certificates) -> Case:
        port = dead_port()
        return Case(tls(certs, port), context(), f"127.0.0.1:{port}: cannot connect")


@pytest.mark.parametrize(("serving", "status", "days_left"),
                         [(60, "pass", 59), (20, "warning", 19), (3, "fail", 2)],
                         indirect=["serving"])
def test_days_left_decide(certs: Certificates, serving: TlsEndpoint, status: str,
                          days_left: int) -> None:
    result = run(tls(certs, serving.port), context())
    assert result.status == status, result.detail
    assert f"({days_left} days left" in result.detail


def test_an_untrusted_certificate_fails_naming_the_verification_error(
    certs: Certificates,
) -> None:
    with TlsEndpoint(*certs.self_signed()) as server:
        result = run(tls(certs, server.port), context())
    assert not result.ok
    assert result.detail == (f"127.0.0.1:{server.port}: certificate not trusted: "
                             "self-signed certificate")


def test_the_system_store_does_not_trust_a_private_ca(certs: Certificates) -> None:
    with TlsEndpoint(*certs.issued(60)) as server:
        result = run({"kind": "tls", "host": "127.0.0.1", "port": server.port}, context())
    assert not result.ok
    assert "certificate not trusted: unable to get local issuer certificate" in result.detail


def test_a_name_the_certificate_does_not_cover_fails(certs: Certificates) -> None:
    with TlsEndpoint(*certs.issued(60)) as server:
        result = run(tls(certs, server.port, server_name="api.example.com"), context())
    assert not result.ok
    assert "certificate not trusted: Hostname mismatch" in result.detail


def test_the_host_defaults_to_the_public_url(certs: Certificates) -> None:
    with TlsEndpoint(*certs.issued(60)) as server:
        config = {"kind": "tls", "port": server.port, "ca_file": "ca.pem"}
        result = run(config, context(base_url="http://127.0.0.1:8080", spec_dir=certs.folder))
    assert result.ok, result.detail

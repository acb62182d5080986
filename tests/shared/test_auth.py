"""Access tokens (Ed25519 JWTs) and passwords (argon2)."""

from __future__ import annotations

import base64
import json
import stat
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import SecretStr

from shared.auth import (
    Principal,
    Role,
    TokenIssuer,
    TokenVerifier,
    hash_password,
    public_key_pem,
    verify_password,
)
from shared.db import utcnow
from shared.errors import Unauthorized
from shared.settings import AuthSettings, Settings

ME = "/api/v1/users/me"
ALICE = Principal(user_id="usr_alice", username="alice", role=Role.MANAGER, cooperative_id="coop_1")


def new_private_pem() -> str:
    return (
        Ed25519PrivateKey.generate()
        .private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        .decode()
    )


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


async def assert_rejected(client: httpx.AsyncClient, token: str, code: str) -> None:
    response = await client.get(ME, headers=bearer(token))
    assert response.status_code == 401, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == code
    assert response.headers["www-authenticate"] == "Bearer"


# --- tokens over HTTP ---------------------------------------------------------------------------


async def test_a_valid_token_identifies_the_caller(client: httpx.AsyncClient, issuer: TokenIssuer) -> None:
    response = await client.get(ME, headers=bearer(issuer.issue(ALICE)))
    assert response.status_code == 200, response.text
    assert response.json()["id"] == "usr_alice"
    assert response.json()["cooperative_id"] == "coop_1"


async def test_a_missing_token_is_401(client: httpx.AsyncClient) -> None:
    response = await client.get(ME)
    assert response.status_code == 401
    assert response.json()["code"] == "unauthorized"


async def test_an_expired_token_is_401_token_expired(client: httpx.AsyncClient, issuer: TokenIssuer) -> None:
    assert issuer.ttl == timedelta(seconds=3600)
    token = issuer.issue(ALICE, now=utcnow() - timedelta(hours=2))
    await assert_rejected(client, token, "token_expired")


async def test_a_token_signed_with_another_key_is_401(client: httpx.AsyncClient) -> None:
    stranger = TokenIssuer(AuthSettings(private_key=SecretStr(new_private_pem())))
    await assert_rejected(client, stranger.issue(ALICE), "invalid_token")


async def test_a_tampered_payload_is_401(client: httpx.AsyncClient, issuer: TokenIssuer) -> None:
    header, payload, signature = issuer.issue(ALICE).split(".")
    claims = json.loads(b64url_decode(payload))
    claims["role"] = "admin"
    forged = f"{header}.{b64url(json.dumps(claims).encode())}.{signature}"
    await assert_rejected(client, forged, "invalid_token")


async def test_a_token_from_another_issuer_is_401(client: httpx.AsyncClient, settings: Settings) -> None:
    other = TokenIssuer(settings.auth.model_copy(update={"issuer": "someone-else"}))
    await assert_rejected(client, other.issue(ALICE), "invalid_token")


@pytest.mark.parametrize("token", ["garbage", "a.b.c", "eyJhbGciOiJub25lIn0.e30."])
async def test_a_garbage_token_is_401(client: httpx.AsyncClient, token: str) -> None:
    await assert_rejected(client, token, "invalid_token")


# --- verifier and key material ------------------------------------------------------------------


def test_a_verifier_with_only_the_public_key_accepts_the_issuers_tokens(signing_key_pem: str) -> None:
    issuer = TokenIssuer(AuthSettings(private_key=SecretStr(signing_key_pem)))
    key = serialization.load_pem_private_key(signing_key_pem.encode(), None)
    assert isinstance(key, Ed25519PrivateKey)
    verifier = TokenVerifier.from_settings(AuthSettings(public_key=public_key_pem(key)))
    assert verifier.verify(issuer.issue(ALICE)) == ALICE


def test_a_verifier_with_only_the_public_key_rejects_other_keys(signing_key_pem: str) -> None:
    key = serialization.load_pem_private_key(signing_key_pem.encode(), None)
    assert isinstance(key, Ed25519PrivateKey)
    verifier = TokenVerifier.from_settings(AuthSettings(public_key=public_key_pem(key)))
    stranger = TokenIssuer(AuthSettings(private_key=SecretStr(new_private_pem())))
    with pytest.raises(Unauthorized):
        verifier.verify(stranger.issue(ALICE))


def test_a_missing_signing_key_file_is_created_private(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "signing.pem"
    TokenIssuer(AuthSettings(signing_key_file=path))
    assert path.is_file()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert b"PRIVATE KEY" in path.read_bytes()


def test_an_existing_signing_key_file_is_reused(tmp_path: Path) -> None:
    path = tmp_path / "signing.pem"
    first = TokenIssuer(AuthSettings(signing_key_file=path))
    written = path.read_bytes()
    second = TokenIssuer(AuthSettings(signing_key_file=path))
    assert path.read_bytes() == written
    assert second.verifier.verify(first.issue(ALICE)) == ALICE


# --- passwords ----------------------------------------------------------------------------------


def test_passwords_are_hashed_with_argon2() -> None:
    hashed = hash_password("correct horse battery staple")
    assert hashed.startswith("$argon2")
    assert "correct horse" not in hashed


def test_the_right_password_verifies() -> None:
    assert verify_password("s3cret-pass", hash_password("s3cret-pass")) is True


def test_a_wrong_password_does_not_verify() -> None:
    assert verify_password("wrong-pass", hash_password("s3cret-pass")) is False


def test_no_hash_never_verifies() -> None:
    assert verify_password("anything", None) is False


def test_a_malformed_hash_does_not_verify() -> None:
    assert verify_password("anything", "not-a-hash") is False

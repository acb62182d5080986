"""Passwords, signed access tokens and the caller's identity.

Tokens are Ed25519-signed JWTs: the cooperatives service holds the private key and issues them,
every other service verifies them offline with the public key (no call back to the issuer).
"""

from __future__ import annotations

import functools
import os
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import anyio.to_thread
import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer

from shared.errors import Forbidden, Unauthorized
from shared.settings import AuthSettings

ALGORITHM = "EdDSA"
VERIFIED_TOKENS_KEPT = 4096
_hasher = PasswordHasher()
# Verifying against a dummy hash when the user does not exist keeps login timing uniform.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


class Role(StrEnum):
    ADMIN = "admin"
    MANAGER = "manager"
    EXPORTER = "exporter"
    CERTIFIER = "certifier"


async def hash_password_async(password: str) -> str:
    """argon2 costs ~0.2 s of CPU by design: keep it off the event loop."""
    return await anyio.to_thread.run_sync(hash_password, password)


async def verify_password_async(password: str, password_hash: str | None) -> bool:
    return await anyio.to_thread.run_sync(verify_password, password, password_hash)


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password: str, password_hash: str | None) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling, as the token says."""

    user_id: str
    username: str
    role: Role
    cooperative_id: str | None = None
    certifying_body_id: str | None = None
    organization: str | None = None

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN

    def can_see_cooperative(self, cooperative_id: str) -> bool:
        """Admins and certifiers see every cooperative's members; a manager only their own."""
        if self.role in (Role.ADMIN, Role.CERTIFIER):
            return True
        return self.role is Role.MANAGER and self.cooperative_id == cooperative_id

    def can_write_cooperative(self, cooperative_id: str) -> bool:
        return self.is_admin or (self.role is Role.MANAGER and self.cooperative_id == cooperative_id)


def _load_or_create_private_key(settings: AuthSettings) -> Ed25519PrivateKey:
    if settings.private_key is not None:
        key = serialization.load_pem_private_key(settings.private_key.get_secret_value().encode(), None)
    else:
        path = Path(settings.signing_key_file)
        if not path.exists():
            generated = Ed25519PrivateKey.generate()
            pem = generated.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
            path.parent.mkdir(parents=True, exist_ok=True)
            # O_EXCL: two processes starting at once must not overwrite each other's key.
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                pass
            else:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(pem)
        key = serialization.load_pem_private_key(path.read_bytes(), None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError("the token signing key must be an Ed25519 private key")
    return key


def public_key_pem(key: Ed25519PrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


class TokenVerifier:
    def __init__(self, public_key: Ed25519PublicKey, issuer: str) -> None:
        self._public_key = public_key
        self.issuer = issuer
        # A device sends the same token with every request, and one request checks it up to three
        # times (Idempotency-Key owner, the route, a peer's route). The signature of a given token
        # string never changes, so it is checked once; expiry is checked on every use.
        self._verified = functools.lru_cache(maxsize=VERIFIED_TOKENS_KEPT)(self._verify_signed)

    @classmethod
    def from_settings(cls, settings: AuthSettings) -> TokenVerifier:
        if settings.public_key:
            key = serialization.load_pem_public_key(settings.public_key.encode())
            if not isinstance(key, Ed25519PublicKey):
                raise ValueError("CHACRA_AUTH__PUBLIC_KEY must be an Ed25519 public key")
            return cls(key, settings.issuer)
        return cls(_load_or_create_private_key(settings).public_key(), settings.issuer)

    def verify(self, token: str) -> Principal:
        principal, expires_at = self._verified(token)
        if time.time() >= expires_at:
            # Expired since it was first checked: decode it again for the error a fresh token gets.
            self._verify_signed(token)
        return principal

    def _verify_signed(self, token: str) -> tuple[Principal, float]:
        """The principal and the expiry (Unix time) of a valid token; raises for any other."""
        try:
            claims = jwt.decode(
                token,
                self._public_key,
                algorithms=[ALGORITHM],
                issuer=self.issuer,
                options={"require": ["exp", "iat", "sub", "iss"]},
            )
            principal = Principal(
                user_id=claims["sub"],
                username=claims["username"],
                role=Role(claims["role"]),
                cooperative_id=claims.get("cooperative_id"),
                certifying_body_id=claims.get("certifying_body_id"),
                organization=claims.get("organization"),
            )
            return principal, float(claims["exp"])
        except jwt.ExpiredSignatureError as exc:
            raise Unauthorized("The access token has expired; log in again.", code="token_expired") from exc
        except (jwt.InvalidTokenError, KeyError, ValueError) as exc:
            raise Unauthorized("The access token is not valid.", code="invalid_token") from exc


class TokenIssuer:
    def __init__(self, settings: AuthSettings) -> None:
        self._private_key = _load_or_create_private_key(settings)
        self.ttl = timedelta(seconds=settings.token_ttl_seconds)
        self.issuer = settings.issuer
        self.verifier = TokenVerifier(self._private_key.public_key(), settings.issuer)

    def issue(self, principal: Principal, *, now: datetime | None = None) -> str:
        issued = now or datetime.now(UTC)
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "sub": principal.user_id,
            "username": principal.username,
            "role": principal.role.value,
            "iat": issued,
            "exp": issued + self.ttl,
            "jti": secrets.token_urlsafe(12),
        }
        for name in ("cooperative_id", "certifying_body_id", "organization"):
            value = getattr(principal, name)
            if value is not None:
                claims[name] = value
        return jwt.encode(claims, self._private_key, algorithm=ALGORITHM)


# Declared as OAuth2's password flow so the API docs' "Authorize" button shows a login form.
_bearer = OAuth2PasswordBearer(
    tokenUrl="/api/v1/auth/token",
    auto_error=False,
    description="Log in with username and password; the token is sent as `Authorization: Bearer …`.",
)


def _verifier(request: Request) -> TokenVerifier:
    verifier: TokenVerifier = request.app.state.token_verifier
    return verifier


async def optional_principal(
    request: Request, token: Annotated[str | None, Depends(_bearer)]
) -> Principal | None:
    if token is None:
        return None
    return _verifier(request).verify(token)


async def current_principal(principal: Annotated[Principal | None, Depends(optional_principal)]) -> Principal:
    if principal is None:
        raise Unauthorized()
    return principal


@dataclass(frozen=True, slots=True)
class Caller:
    """The caller and the token they came with, for a service that must ask a peer on their behalf."""

    principal: Principal
    token: str


async def current_caller(request: Request, token: Annotated[str | None, Depends(_bearer)]) -> Caller:
    if token is None:
        raise Unauthorized()
    return Caller(_verifier(request).verify(token), token)


CurrentUser = Annotated[Principal, Depends(current_principal)]
CurrentCaller = Annotated[Caller, Depends(current_caller)]
OptionalUser = Annotated[Principal | None, Depends(optional_principal)]


def require_roles(*roles: Role) -> Any:
    """A dependency that lets through only callers holding one of ``roles``."""

    async def check(principal: CurrentUser) -> Principal:
        if principal.role not in roles:
            allowed = ", ".join(r.value for r in roles)
            raise Forbidden(f"This action needs one of the roles: {allowed}.", code="role_required")
        return principal

    return Depends(check)


AdminUser = Annotated[Principal, require_roles(Role.ADMIN)]

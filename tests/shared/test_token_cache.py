"""A token's signature is checked once per verifier; its expiry is checked on every use."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import jwt
import pytest
from pydantic import SecretStr

import shared.auth
from shared.auth import Principal, Role, TokenIssuer
from shared.db import utcnow
from shared.errors import Unauthorized
from shared.settings import AuthSettings

ALICE = Principal(user_id="usr_alice", username="alice", role=Role.MANAGER, cooperative_id="coop_1")


@pytest.fixture
def issuer(signing_key_pem: str) -> TokenIssuer:
    return TokenIssuer(AuthSettings(private_key=SecretStr(signing_key_pem)))


def test_a_token_verified_again_is_not_decoded_again(
    issuer: TokenIssuer, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = 0
    decode = jwt.decode

    def counting(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        return decode(*args, **kwargs)

    monkeypatch.setattr(shared.auth.jwt, "decode", counting)
    token = issuer.issue(ALICE)

    assert [issuer.verifier.verify(token) for _ in range(3)] == [ALICE] * 3
    assert calls == 1


def test_a_token_verified_once_is_refused_once_it_expires(issuer: TokenIssuer) -> None:
    # Issued so that it expires within two seconds (JWT times are whole seconds).
    token = issuer.issue(ALICE, now=utcnow() - issuer.ttl + timedelta(seconds=2))
    expires_at = jwt.decode(token, options={"verify_signature": False})["exp"]
    if expires_at - time.time() < 0.2:
        pytest.skip("the token expired before the first check could run")
    assert issuer.verifier.verify(token) == ALICE

    time.sleep(max(0.0, expires_at - time.time()) + 0.05)

    with pytest.raises(Unauthorized) as refused:
        issuer.verifier.verify(token)
    assert refused.value.instance_code == "token_expired"


def test_a_token_altered_after_a_good_one_was_verified_is_refused(issuer: TokenIssuer) -> None:
    token = issuer.issue(ALICE)
    assert issuer.verifier.verify(token) == ALICE
    head, payload, signature = token.split(".")
    altered = f"{head}.{payload}.{signature[:-2]}{'AA' if signature[-2:] != 'AA' else 'BB'}"

    with pytest.raises(Unauthorized) as refused:
        issuer.verifier.verify(altered)
    assert refused.value.instance_code == "invalid_token"

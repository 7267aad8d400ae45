import base64
import json
import uuid
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from service.auth.keys import ensure_private_key_file, generate_private_key_pem, load_signing_keys
from service.auth.principal import Principal, Role
from service.auth.tokens import TokenService
from service.errors import Unauthenticated
from service.settings import SettingsError, load_settings

URL = "postgresql://app@localhost/accounts"
ORG = uuid.uuid4()
CLIENT = uuid.uuid4()
OWNER = Principal("user-1", frozenset({Role.OWNER}), ORG)
CUSTOMER = Principal("host-user-7", frozenset({Role.CUSTOMER}), ORG, CLIENT)
WORKER = Principal("worker", frozenset({Role.WORKER}), None)

PRIVATE_PEM = generate_private_key_pem()


def _service(pem: str = PRIVATE_PEM, **env: str) -> TokenService:
    return TokenService.from_settings(load_settings({"DATABASE_URL": URL, "JWT_PRIVATE_KEY": pem, **env}))


def _public_pem(pem: str) -> str:
    key = serialization.load_pem_private_key(pem.encode(), None)
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def _claims(**overrides: object) -> dict[str, object]:
    import time

    now = int(time.time())
    claims: dict[str, object] = {
        "iss": "accounts-service",
        "aud": "accounts-api",
        "sub": "user-1",
        "iat": now,
        "exp": now + 600,
        "jti": uuid.uuid4().hex,
        "org": str(ORG),
        "roles": ["ROLE_OWNER"],
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not ...}


def _sign(claims: dict[str, object], pem: str = PRIVATE_PEM) -> str:
    key = serialization.load_pem_private_key(pem.encode(), None)
    return jwt.encode(claims, key, algorithm="EdDSA")


@pytest.mark.parametrize("principal", [OWNER, CUSTOMER, WORKER])
def test_issued_token_verifies_to_the_same_principal(principal: Principal) -> None:
    tokens = _service()
    assert tokens.verify(tokens.issue(principal).token) == principal


def test_token_carries_the_required_claims_and_default_ttl() -> None:
    issued = _service().issue(CUSTOMER)
    claims = jwt.decode(issued.token, options={"verify_signature": False})
    assert set(claims) == {"iss", "aud", "sub", "iat", "exp", "jti", "org", "roles", "client"}
    assert claims["exp"] - claims["iat"] == 3600
    assert claims["client"] == str(CLIENT)
    assert jwt.get_unverified_header(issued.token)["alg"] == "EdDSA"
    assert int(issued.expires_at.timestamp()) == claims["exp"]


def test_ttl_issuer_and_audience_come_from_settings() -> None:
    tokens = _service(JWT_TTL="60", JWT_ISSUER="https://id.example", JWT_AUDIENCE="inbox")
    claims = jwt.decode(tokens.issue(OWNER).token, options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == 60
    assert (claims["iss"], claims["aud"]) == ("https://id.example", "inbox")


def _rejected(token: str, message: str = "Invalid JWT Token") -> None:
    with pytest.raises(Unauthenticated) as caught:
        _service().verify(token)
    assert caught.value.detail == message


def test_alg_none_is_rejected() -> None:
    _rejected(jwt.encode(_claims(), None, algorithm="none"))


def test_hs256_signed_with_the_public_key_is_rejected() -> None:
    header = base64.urlsafe_b64encode(json.dumps({"alg": "HS256", "typ": "JWT"}).encode()).rstrip(b"=")
    payload = base64.urlsafe_b64encode(json.dumps(_claims()).encode()).rstrip(b"=")
    import hashlib
    import hmac

    signature = hmac.new(_public_pem(PRIVATE_PEM).encode(), header + b"." + payload, hashlib.sha256).digest()
    token = b".".join([header, payload, base64.urlsafe_b64encode(signature).rstrip(b"=")]).decode()
    _rejected(token)


def test_wrong_key_is_rejected() -> None:
    _rejected(_sign(_claims(), generate_private_key_pem()))


def test_expired_token_says_expired() -> None:
    _rejected(_sign(_claims(iat=1_000, exp=2_000)), "Expired JWT Token")


@pytest.mark.parametrize("claim", ["exp", "iat", "jti", "sub", "iss", "aud", "roles", "org"])
def test_missing_required_claim_is_rejected(claim: str) -> None:
    _rejected(_sign(_claims(**{claim: ...})))


@pytest.mark.parametrize(("claim", "value"), [("aud", "other-api"), ("iss", "someone-else")])
def test_wrong_audience_or_issuer_is_rejected(claim: str, value: str) -> None:
    _rejected(_sign(_claims(**{claim: value})))


def test_tampered_payload_is_rejected() -> None:
    header, _, signature = _sign(_claims()).split(".")
    forged = base64.urlsafe_b64encode(json.dumps(_claims(org=str(uuid.uuid4()))).encode()).rstrip(b"=")
    _rejected(f"{header}.{forged.decode()}.{signature}")


@pytest.mark.parametrize(
    "overrides",
    [
        {"roles": ["ROLE_ADMIN"]},
        {"roles": []},
        {"roles": "ROLE_OWNER"},
        {"org": "not-a-uuid"},
        {"org": None},  # only workers are platform-wide
        {"roles": ["ROLE_CUSTOMER"]},  # a customer without its client
        {"roles": ["ROLE_WORKER"]},  # a worker bound to an organization
        {"roles": ["ROLE_OWNER", "ROLE_CUSTOMER"], "client": str(CLIENT)},
        {"client": str(CLIENT)},  # an owner token narrowed to a client is not something we issue
    ],
)
def test_incoherent_claims_are_rejected(overrides: dict[str, object]) -> None:
    _rejected(_sign(_claims(**overrides)))


def test_garbage_is_rejected() -> None:
    _rejected("not.a.token")


@pytest.mark.parametrize(
    ("key", "algorithm"),
    [
        (ec.generate_private_key(ec.SECP256R1()), "ES256"),
        (rsa.generate_private_key(public_exponent=65537, key_size=2048), "RS256"),
        (ed25519.Ed25519PrivateKey.generate(), "EdDSA"),
    ],
)
def test_algorithm_follows_the_key_type(key: object, algorithm: str) -> None:
    pem = key.private_bytes(  # type: ignore[attr-defined]
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    tokens = _service(pem)
    assert tokens.algorithm == algorithm
    assert tokens.verify(tokens.issue(OWNER).token) == OWNER


def test_hs256_with_a_long_enough_secret() -> None:
    settings = load_settings({"DATABASE_URL": URL, "JWT_SECRET": "s" * 32})
    tokens = TokenService.from_settings(settings)
    assert tokens.algorithm == "HS256"
    assert tokens.verify(tokens.issue(OWNER).token) == OWNER


def test_short_hmac_secret_stops_start_up() -> None:
    with pytest.raises(SettingsError, match=r"^JWT_SECRET must be at least 32 bytes long$"):
        load_settings({"DATABASE_URL": URL, "JWT_SECRET": "s" * 31})


def test_no_key_stops_start_up_with_a_clear_line() -> None:
    with pytest.raises(SettingsError, match=r"^JWT_PRIVATE_KEY is required but not set"):
        load_signing_keys(load_settings({"DATABASE_URL": URL}))


def test_key_from_a_file_and_one_line_pem(tmp_path: Path) -> None:
    path = ensure_private_key_file(tmp_path / "dev" / "key.pem")
    assert path.stat().st_mode & 0o777 == 0o600
    from_file = _service(str(path))
    assert _service(path.read_text().replace("\n", "\\n")).verify(from_file.issue(OWNER).token) == OWNER
    # A second call keeps the existing key, so tokens survive restarts.
    assert ensure_private_key_file(path).read_text() == path.read_text()


def test_public_key_must_match_the_private_key() -> None:
    assert _service(JWT_PUBLIC_KEY=_public_pem(PRIVATE_PEM)).algorithm == "EdDSA"
    with pytest.raises(SettingsError, match=r"^JWT_PUBLIC_KEY does not belong to JWT_PRIVATE_KEY$"):
        _service(JWT_PUBLIC_KEY=_public_pem(generate_private_key_pem()))


def test_unreadable_key_names_the_variable() -> None:
    with pytest.raises(SettingsError, match=r"^JWT_PRIVATE_KEY is neither PEM text nor a readable file"):
        _service("/nonexistent/key.pem")

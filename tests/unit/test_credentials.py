import base64
import uuid

import pytest

from service.crypto import (
    CredentialCipher,
    CredentialsUnreadable,
    KeyRingError,
    Sealed,
    new_key_ring_entry,
    parse_key_ring,
)

ACCOUNT = uuid.uuid4()
SECRET = {"phoneNumberId": "1098765432", "accessToken": "canary-token"}


def test_sealed_credentials_open_only_for_their_account() -> None:
    cipher = CredentialCipher.from_text(new_key_ring_entry("k1"))
    sealed = cipher.seal(ACCOUNT, SECRET)

    assert sealed.key_id == "k1"
    assert b"canary-token" not in sealed.ciphertext
    assert cipher.open(ACCOUNT, sealed) == SECRET
    with pytest.raises(CredentialsUnreadable):
        cipher.open(uuid.uuid4(), sealed)


def test_every_seal_uses_a_fresh_nonce() -> None:
    cipher = CredentialCipher.from_text(new_key_ring_entry())
    assert cipher.seal(ACCOUNT, SECRET).ciphertext != cipher.seal(ACCOUNT, SECRET).ciphertext


def test_tampered_ciphertext_is_refused() -> None:
    cipher = CredentialCipher.from_text(new_key_ring_entry())
    sealed = cipher.seal(ACCOUNT, SECRET)
    flipped = bytes([sealed.ciphertext[-1] ^ 1])
    with pytest.raises(CredentialsUnreadable):
        cipher.open(ACCOUNT, Sealed(sealed.ciphertext[:-1] + flipped, sealed.key_id))


def test_rotation_seals_with_the_first_key_and_still_opens_with_older_ones() -> None:
    old_entry, new_entry = new_key_ring_entry("old"), new_key_ring_entry("new")
    before = CredentialCipher.from_text(old_entry).seal(ACCOUNT, SECRET)
    rotated = CredentialCipher.from_text(f"{new_entry},{old_entry}")

    assert rotated.open(ACCOUNT, before) == SECRET
    assert rotated.seal(ACCOUNT, SECRET).key_id == "new"
    # A key id swapped in the row does not open the ciphertext either.
    with pytest.raises(CredentialsUnreadable):
        rotated.open(ACCOUNT, Sealed(before.ciphertext, "new"))
    with pytest.raises(CredentialsUnreadable):
        CredentialCipher.from_text(new_entry).open(ACCOUNT, before)


def test_key_ring_accepts_standard_and_url_safe_base64() -> None:
    key = bytes(range(250, 256)) * 5 + b"ab"
    standard = base64.b64encode(key).decode()
    url_safe = base64.urlsafe_b64encode(key).decode().rstrip("=")
    assert parse_key_ring(f"a:{standard}, b:{url_safe}") == {"a": key, "b": key}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "at least one"),
        ("nokey", "kid:base64key"),
        ("bad id:" + base64.b64encode(b"x" * 32).decode(), "kid:base64key"),
        ("k:not base64!", "not valid base64"),
        ("k:" + base64.b64encode(b"short").decode(), "32 bytes"),
        ("k:{0},k:{0}".format(base64.b64encode(b"x" * 32).decode()), "twice"),
    ],
)
def test_malformed_key_rings_are_refused_without_showing_keys(text: str, message: str) -> None:
    with pytest.raises(KeyRingError, match=message) as raised:
        parse_key_ring(text)
    assert base64.b64encode(b"x" * 32).decode() not in str(raised.value)


def test_fingerprints_are_keyed() -> None:
    one = CredentialCipher.from_text(new_key_ring_entry())
    other = CredentialCipher.from_text(new_key_ring_entry())
    assert one.fingerprint(b"body") == one.fingerprint(b"body")
    assert one.fingerprint(b"body") != other.fingerprint(b"body")
    assert one.fingerprint(b"ab", b"c") != one.fingerprint(b"a", b"bc")

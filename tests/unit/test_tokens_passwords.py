import asyncio
import time

from service.auth.passwords import Passwords
from service.settings import load_settings


def test_production_defaults_are_argon2id_rfc9106_low_memory() -> None:
    settings = load_settings({"DATABASE_URL": "postgresql://app@localhost/accounts"})
    stored = Passwords.from_settings(settings).hash_sync("secret")
    assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$")


def test_hash_verifies_only_its_password() -> None:
    passwords = Passwords(1, 1024, 1)
    stored = asyncio.run(passwords.hash("correct"))
    assert asyncio.run(passwords.verify(stored, "correct"))
    assert not asyncio.run(passwords.verify(stored, "wrong"))
    assert not asyncio.run(passwords.verify("not a hash", "correct"))


def test_unknown_user_costs_as_much_as_a_wrong_password() -> None:
    """A missing hash is checked against a decoy of the same cost, so timing does not reveal usernames."""
    passwords = Passwords(2, 16 * 1024, 1)
    stored = passwords.hash_sync("correct")

    def median(stored_hash: str | None) -> float:
        samples = []
        for _ in range(7):
            started = time.perf_counter()
            assert not asyncio.run(passwords.verify(stored_hash, "wrong"))
            samples.append(time.perf_counter() - started)
        return sorted(samples)[3]

    known, unknown = median(stored), median(None)
    assert 0.5 < unknown / known < 2


def test_stronger_settings_ask_for_a_rehash() -> None:
    weak = Passwords(1, 1024, 1).hash_sync("pw")
    assert Passwords(2, 2048, 1).needs_rehash(weak)
    assert not Passwords(1, 1024, 1).needs_rehash(weak)

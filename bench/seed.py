"""Seed data at a chosen scale with set-based SQL: organizations, clients, accounts, a delete pool."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

import asyncpg

ORGANIZATIONS = 10
CLIENTS_PER_ORGANIZATION = 10
# Deterministic ids make the seed readable: organization n, client (n, c).
_ORG = "00000000-0000-4000-8000-{:012x}"
_CLIENT = "00000000-0000-4000-9000-{:06x}{:06x}"
DELETE_POOL_ORG = uuid.UUID(_ORG.format(0xDE1E7E))
DELETE_POOL_CLIENT = uuid.UUID(_CLIENT.format(0xDE1E7E, 1))

_ACCOUNTS = """
INSERT INTO accounts (id, organization_id, client_id, integration, provider, type, name, headline, avatar,
                      external_id, status, settings, metadata, credentials, credentials_key_id,
                      version, created_at)
SELECT gen_random_uuid(),
       {org},
       {client},
       'whatsapp', 'whatsapp', 'whatsapp',
       'Account ' || md5(g::text),
       'Regional Manager #' || g,
       'https://example.com/avatars/' || g || '.png',
       '+1555' || lpad(g::text, 9, '0'),
       (ARRAY['connecting', 'connected', 'connected', 'connected', 'disconnected', 'paused'])[1 + g % 6],
       '{{"receive": true, "send": true}}'::jsonb,
       jsonb_build_object('seed', g),
       -- The shape of a sealed credential (12-byte nonce, JSON ciphertext, 16-byte tag): ~110 bytes.
       decode(md5(g::text) || md5((g + 1)::text) || md5((g + 2)::text) || md5((g + 3)::text)
              || md5((g + 4)::text) || md5((g + 5)::text) || substr(md5((g + 6)::text), 1, 28), 'hex'),
       'bench1',
       1,
       timestamptz '2025-01-01 00:00:00+00' + g * interval '1 millisecond'
FROM generate_series($1::bigint, $2::bigint) AS g
"""
# The triggers of migration 0005 that count accounts row by row; the seed counts them once instead.
_COUNT_TRIGGERS = ("accounts_count_insert_delete", "accounts_count_update")
_REBUILD_COUNTS = """
INSERT INTO account_counts (organization_id, client_id, integration, provider, status, shard, count)
SELECT organization_id, client_id, integration, provider, status, account_counts_shard(id), count(*)
FROM accounts
WHERE deleted_at IS NULL
GROUP BY 1, 2, 3, 4, 5, 6
"""
_SPREAD_ORG = "('00000000-0000-4000-8000-' || lpad(to_hex(1 + g % {orgs}), 12, '0'))::uuid"
_SPREAD_CLIENT = (
    "('00000000-0000-4000-9000-' || lpad(to_hex(1 + g % {orgs}), 6, '0')"
    " || lpad(to_hex(1 + (g / {orgs}) % {clients}), 6, '0'))::uuid"
)


def parse_scale(text: str) -> int:
    text = text.strip().lower()
    factor = {"k": 1_000, "m": 1_000_000}.get(text[-1:], 1)
    return int(float(text[:-1] if factor > 1 else text) * factor)


def org_id(n: int) -> uuid.UUID:
    return uuid.UUID(_ORG.format(n))


def client_id(n: int, c: int) -> uuid.UUID:
    return uuid.UUID(_CLIENT.format(n, c))


@dataclass(frozen=True, slots=True)
class Seeded:
    accounts: int
    delete_pool: int
    seconds: float


async def seed(dsn: str, accounts: int, delete_pool: int, say: object = print) -> Seeded:
    """Fill a migrated database from scratch; indexes are rebuilt once at the end, which is much faster.

    Every run starts from the same data: what an earlier run created, deleted and left in the outbox
    would change the plans and the cost of every query."""
    started = time.monotonic()
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute("TRUNCATE accounts, clients, organizations, outbox CASCADE")
        for n in [*range(1, ORGANIZATIONS + 1), 0xDE1E7E]:
            await connection.execute(
                "INSERT INTO organizations (id, name) VALUES ($1, $2)", org_id(n), f"Bench organization {n}"
            )
            for c in range(1, CLIENTS_PER_ORGANIZATION + 1):
                await connection.execute(
                    "INSERT INTO clients (id, organization_id, name, website) VALUES ($1, $2, $3, $4)",
                    client_id(n, c),
                    org_id(n),
                    f"Client {n}.{c}",
                    "https://example.com",
                )
        indexes = await connection.fetch(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'accounts' "
            "AND indexname <> 'accounts_pkey'"
        )
        for index in indexes:
            await connection.execute(f'DROP INDEX "{index["indexname"]}"')
        spread_org = _SPREAD_ORG.format(orgs=ORGANIZATIONS)
        spread_client = _SPREAD_CLIENT.format(orgs=ORGANIZATIONS, clients=CLIENTS_PER_ORGANIZATION)
        pool_org, pool_client = f"'{DELETE_POOL_ORG}'::uuid", f"'{DELETE_POOL_CLIENT}'::uuid"
        # Without the counting triggers during the bulk inserts, then every counter (the delete pool's
        # too) in one statement; one transaction, so an interrupted seed never leaves them disabled.
        async with connection.transaction():
            for trigger in _COUNT_TRIGGERS:
                await connection.execute(f"ALTER TABLE accounts DISABLE TRIGGER {trigger}")
            await connection.execute(_ACCOUNTS.format(org=spread_org, client=spread_client), 1, accounts)
            await connection.execute(
                _ACCOUNTS.format(org=pool_org, client=pool_client), accounts + 1, accounts + delete_pool
            )
            for trigger in _COUNT_TRIGGERS:
                await connection.execute(f"ALTER TABLE accounts ENABLE TRIGGER {trigger}")
            await connection.execute(_REBUILD_COUNTS)
        await connection.execute("SET maintenance_work_mem = '256MB'")
        for index in indexes:
            await connection.execute(index["indexdef"])
        await connection.execute("VACUUM (ANALYZE) accounts")
        await connection.execute("VACUUM (ANALYZE) clients")
        await connection.execute("VACUUM (ANALYZE) organizations")
        await connection.execute("VACUUM (ANALYZE) outbox")
        await connection.execute("VACUUM (ANALYZE) account_counts")
    finally:
        await connection.close()
    return Seeded(accounts, delete_pool, time.monotonic() - started)

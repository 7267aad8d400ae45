-- Exact counts of live accounts, kept in the writing transaction, so the collection's `totalItems`
-- costs the same however many accounts an organization holds.
--
-- One row per (organization, client, integration, provider, status, shard): `totalItems` of a listing
-- without a `name` filter is the sum of the rows its scope and filters match. The shard comes from the
-- account id, so concurrent writes to accounts of the same key mostly land on different rows and
-- rarely wait on each other's row lock; it never changes for an account, so every decrement finds the
-- row its increment went to. Rows whose count falls to 0 stay: they are reused by the next account.
-- The API writes one account per transaction. A single transaction writing many accounts leaves a
-- version of a counter row per account until it ends; bulk loads disable the two counting triggers
-- and refill the counters with one INSERT ... SELECT ... GROUP BY instead (as bench/seed.py does).

-- The shard of an account: the low 4 bits of its id (random for uuid v4), 0..15.
CREATE FUNCTION account_counts_shard(account_id uuid) RETURNS smallint
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN (get_byte(uuid_send(account_id), 15) & 15)::smallint;

-- Like accounts, the counters go with their organization and client: deleting either cascades here.
CREATE TABLE account_counts (
    organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    client_id       uuid NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    integration     text NOT NULL,
    provider        text NOT NULL,
    status          text NOT NULL,
    shard           smallint NOT NULL CHECK (shard BETWEEN 0 AND 15),
    count           bigint NOT NULL,
    PRIMARY KEY (organization_id, client_id, integration, provider, status, shard)
) WITH (fillfactor = 50); -- room on each page for HOT updates of the hot rows
-- Counts of workers filtering by client, and the cascade from clients.
CREATE INDEX account_counts_client_idx ON account_counts (client_id);

-- Adds delta to the counter of an account's key.
CREATE FUNCTION account_counts_add(account accounts, delta integer) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF delta < 0 THEN
        -- A plain update: the row exists since the account was counted, unless a cascade from its
        -- organization or client has just removed it, and then there is nothing left to count.
        -- Never an insert, which would point at the parent being deleted and fail its delete.
        UPDATE account_counts
        SET count = count + delta
        WHERE organization_id = account.organization_id
          AND client_id = account.client_id
          AND integration = account.integration
          AND provider = account.provider
          AND status = account.status
          AND shard = account_counts_shard(account.id);
    ELSE
        INSERT INTO account_counts AS c
            (organization_id, client_id, integration, provider, status, shard, count)
        VALUES (account.organization_id, account.client_id, account.integration, account.provider,
                account.status, account_counts_shard(account.id), delta)
        ON CONFLICT (organization_id, client_id, integration, provider, status, shard)
        DO UPDATE SET count = c.count + EXCLUDED.count;
    END IF;
END;
$$;

-- -1 on the old key if the old row was live, +1 on the new key if the new row is live.
CREATE FUNCTION account_counts_track() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    old_live boolean := TG_OP <> 'INSERT' AND OLD.deleted_at IS NULL;
    new_live boolean := TG_OP <> 'DELETE' AND NEW.deleted_at IS NULL;
BEGIN
    -- A move between two keys locks both counter rows: always in key order, so two accounts moving
    -- in opposite directions (a -> b and b -> a) cannot deadlock on each other's rows.
    IF old_live AND new_live
       AND (NEW.organization_id, NEW.client_id, NEW.integration, NEW.provider, NEW.status,
            account_counts_shard(NEW.id))
         < (OLD.organization_id, OLD.client_id, OLD.integration, OLD.provider, OLD.status,
            account_counts_shard(OLD.id)) THEN
        PERFORM account_counts_add(NEW, 1);
        PERFORM account_counts_add(OLD, -1);
        RETURN NULL;
    END IF;
    IF old_live THEN
        PERFORM account_counts_add(OLD, -1);
    END IF;
    IF new_live THEN
        PERFORM account_counts_add(NEW, 1);
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER accounts_count_insert_delete
    AFTER INSERT OR DELETE ON accounts
    FOR EACH ROW EXECUTE FUNCTION account_counts_track();

-- Only updates that move an account between keys, or between live and deleted: an edit of its name,
-- headline, settings or credentials (the update query sets status every time) does not run it.
CREATE TRIGGER accounts_count_update
    AFTER UPDATE OF id, organization_id, client_id, integration, provider, status, deleted_at ON accounts
    FOR EACH ROW
    WHEN ((OLD.deleted_at IS NULL OR NEW.deleted_at IS NULL)
          AND (OLD.id, OLD.organization_id, OLD.client_id, OLD.integration, OLD.provider, OLD.status,
               OLD.deleted_at IS NULL)
              IS DISTINCT FROM
              (NEW.id, NEW.organization_id, NEW.client_id, NEW.integration, NEW.provider, NEW.status,
               NEW.deleted_at IS NULL))
    EXECUTE FUNCTION account_counts_track();

-- TRUNCATE runs no row triggers: the counters are emptied with the accounts.
CREATE FUNCTION account_counts_clear() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM account_counts;
    RETURN NULL;
END;
$$;

CREATE TRIGGER accounts_count_truncate
    AFTER TRUNCATE ON accounts
    FOR EACH STATEMENT EXECUTE FUNCTION account_counts_clear();

-- The accounts already there. CREATE TRIGGER above holds a lock on accounts that keeps writers out
-- until this migration commits, so none is missed or counted twice.
INSERT INTO account_counts (organization_id, client_id, integration, provider, status, shard, count)
SELECT organization_id, client_id, integration, provider, status, account_counts_shard(id), count(*)
FROM accounts
WHERE deleted_at IS NULL
GROUP BY 1, 2, 3, 4, 5, 6;

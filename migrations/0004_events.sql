-- The relay holds back an account's events that follow a parked one (per-account
-- order); this finds such accounts without scanning the outbox. Parked rows are rare, so it stays tiny.
CREATE INDEX outbox_parked_account_idx ON outbox (account_id, position)
    WHERE parked_at IS NOT NULL AND published_at IS NULL;

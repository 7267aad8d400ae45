"""Webhooks: signed, ordered, retried deliveries of account events to the organizations' own backends."""

"""How accounts describe themselves to Hydra clients (documentation and JSON-LD contexts)."""

from __future__ import annotations

from service.accounts.representation import COLLECTION_IRI, RESOURCE
from service.accounts.schema import Account, AccountCreate, AccountCredentials, AccountPatch
from service.web.linked_data import SCHEMA_NAME, LinkedResource, editable

ACCOUNT = editable(
    RESOURCE,
    COLLECTION_IRI,
    "A connected account (a WhatsApp number, a LinkedIn login, …) of one client.",
    (Account, AccountCreate, AccountPatch),
    {"client": "Client", "integration": "Integration"},
    iris={"name": SCHEMA_NAME},
)
ACCOUNT_CREDENTIALS = LinkedResource(
    "AccountCredentials",
    read=AccountCredentials,
    description="The decrypted credentials of an account, for inbox workers only.",
)

"""How integrations describe themselves to Hydra clients (documentation and JSON-LD contexts)."""

from __future__ import annotations

from service.integrations.routes import COLLECTION_IRI, RESOURCE
from service.integrations.schema import Integration
from service.web.linked_data import SCHEMA_NAME, LinkedResource

INTEGRATION = LinkedResource(
    RESOURCE,
    read=Integration,
    description="A messaging network accounts connect to, with the credentials it needs.",
    collection=COLLECTION_IRI,
    iris={"name": SCHEMA_NAME},
)

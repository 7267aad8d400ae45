"""How clients describe themselves to Hydra clients (documentation and JSON-LD contexts)."""

from __future__ import annotations

from service.clients.representation import COLLECTION_IRI, RESOURCE, ClientView
from service.clients.schema import ClientCreate, ClientPatch
from service.web.linked_data import SCHEMA_NAME, editable

CLIENT = editable(
    RESOURCE,
    COLLECTION_IRI,
    "A client of the organization: the owner of connected accounts.",
    (ClientView, ClientCreate, ClientPatch),
    iris={"name": SCHEMA_NAME},
)

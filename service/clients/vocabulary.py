"""How clients describe themselves to Hydra clients (documentation and JSON-LD contexts)."""

from __future__ import annotations

from service.clients.representation import COLLECTION_IRI, RESOURCE, ClientView
from service.clients.schema import ClientCreate, ClientPatch
from service.web.linked_data import SCHEMA_NAME, LinkedResource

CLIENT = LinkedResource(
    RESOURCE,
    read=ClientView,
    description="A client of the organization: the owner of connected accounts.",
    collection=COLLECTION_IRI,
    create=ClientCreate,
    update=ClientPatch,
    deletable=True,
    iris={"name": SCHEMA_NAME},
)

"""How organizations describe themselves to Hydra clients (documentation and JSON-LD context)."""

from __future__ import annotations

from service.organizations.schema import RESOURCE, OrganizationPatch, OrganizationView
from service.web.linked_data import SCHEMA_NAME, LinkedResource

# No collection: an owner sees only its own organization, by its IRI.
ORGANIZATION = LinkedResource(
    RESOURCE,
    read=OrganizationView,
    description="The caller's organization: its name and the browser origins allowed to call the API.",
    update=OrganizationPatch,
    iris={"name": SCHEMA_NAME},
)

"""How webhook endpoints and their deliveries describe themselves to Hydra clients."""

from __future__ import annotations

from service.web.linked_data import LinkedResource, editable
from service.webhooks.representation import COLLECTION_IRI, DELIVERY, ENDPOINT, DeliveryView, EndpointView
from service.webhooks.schema import EndpointCreate, EndpointPatch

WEBHOOK_ENDPOINT = editable(
    ENDPOINT,
    COLLECTION_IRI,
    "A receiver of the organization's account events, signed as Standard Webhooks.",
    (EndpointView, EndpointCreate, EndpointPatch),
    {"clients": "Client"},
)
# Listed under each endpoint (`/api/webhook_endpoints/{id}/deliveries`), not from the entrypoint.
WEBHOOK_DELIVERY = LinkedResource(
    DELIVERY,
    read=DeliveryView,
    description="One event's delivery to one endpoint: its attempts, answers and next retry.",
    links={"endpoint": ENDPOINT, "account": "Account"},
)

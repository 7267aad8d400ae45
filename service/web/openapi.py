"""OpenAPI for hand-decoded bodies and two-format (JSON-LD / JSON) responses, from the handlers' own types."""

from __future__ import annotations

from collections.abc import Generator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from litestar.dto import AbstractDTO
from litestar.enums import ParamType
from litestar.openapi.spec import (
    Link,
    OpenAPIHeader,
    OpenAPIMediaType,
    OpenAPIType,
    Operation,
    Parameter,
    Reference,
    RequestBody,
    Schema,
)
from litestar.openapi.spec import OpenAPIResponse as SpecResponse
from litestar.typing import FieldDefinition

from service.web.bodies import JSON_TYPES, MERGE_PATCH, decode
from service.web.pagination import MAX_ITEMS_PER_PAGE, MAX_PAGE
from service.web.responses import JSON, PROBLEM_JSON

if TYPE_CHECKING:
    from litestar._openapi.schema_generation import SchemaCreator
    from litestar.dto.data_structures import DTOFieldDefinition

T = TypeVar("T")

JSONLD = "application/ld+json"
SECURITY: list[dict[str, list[str]]] = [{"JWT": []}]


class JsonBody(AbstractDTO[T]):
    """`data: X` with `dto=JsonBody[X]`: decoded by `service.web.bodies.decode` (the service's own 400/415
    wording, strict types, unknown fields refused) and documented as X in the OpenAPI document."""

    accepted: ClassVar[tuple[str, ...]] = JSON_TYPES

    def decode_bytes(self, value: bytes) -> Any:
        return decode(value, self.model_type, self.asgi_connection.headers.get("content-type"), self.accepted)

    @classmethod
    def documented_type(cls) -> Any:
        """The type shown in the document: a decoding type may name a stricter twin in `__openapi__`
        (e.g. required fields it decodes as optional, to report them as violations rather than 400)."""
        return getattr(cls.model_type, "__openapi__", cls.model_type)

    @classmethod
    def create_for_field_definition(cls, *_: Any, **__: Any) -> None:
        """No transfer model: msgspec decodes straight into the request Struct."""

    @classmethod
    def create_openapi_schema(
        cls, field_definition: FieldDefinition, handler_id: str, schema_creator: SchemaCreator
    ) -> Reference | Schema:
        field = FieldDefinition.from_annotation(cls.documented_type())
        documented = schema_creator.for_field_definition(field)
        config = getattr(cls.model_type, "__struct_config__", None)
        if config is not None and config.forbid_unknown_fields:
            # The decoder refuses unknown fields (400); the document must say so, or clients send them.
            schema = (
                schema_creator.schema_registry.from_reference(documented).schema
                if isinstance(documented, Reference)
                else documented
            )
            schema.additional_properties = False
        return documented

    @classmethod
    def generate_field_definitions(cls, model_type: type[Any]) -> Generator[DTOFieldDefinition, None, None]:
        yield from ()

    @classmethod
    def detect_nested_field(cls, field_definition: FieldDefinition) -> bool:
        return False


class MergePatchBody(JsonBody[T]):
    """A JSON merge patch (`application/merge-patch+json` only; anything else is 415)."""

    accepted: ClassVar[tuple[str, ...]] = MERGE_PATCH


def query_parameter(name: str, description: str, schema: Schema) -> Parameter:
    """An optional query parameter of a collection."""
    return Parameter(
        name=name, param_in=ParamType.QUERY, required=False, description=description, schema=schema
    )


def page_parameters() -> tuple[Parameter, Parameter]:
    """`page` and `itemsPerPage` with the bounds `parse_page` enforces (400 outside them)."""
    return (
        query_parameter(
            "page",
            "The collection page number (default 1)",
            Schema(type=OpenAPIType.INTEGER, minimum=1, maximum=MAX_PAGE),
        ),
        query_parameter(
            "itemsPerPage",
            f"Items per page, 1 to {MAX_ITEMS_PER_PAGE} (default 30)",
            Schema(type=OpenAPIType.INTEGER, minimum=1, maximum=MAX_ITEMS_PER_PAGE),
        ),
    )


def _string(description: str | None = None) -> Schema:
    return Schema(type=OpenAPIType.STRING, description=description)


def _linked(reference: Reference | Schema, resource: str, *, member: bool) -> Schema:
    """The JSON-LD form of a resource schema: the same fields behind @context (items only), @id, @type."""
    keys: dict[str, Schema | Reference] = {
        "@id": _string("IRI of the resource"),
        "@type": Schema(type=OpenAPIType.STRING, const=resource),
    }
    if not member:
        keys = {"@context": _string(), **keys}
    return Schema(all_of=[reference, Schema(type=OpenAPIType.OBJECT, properties=keys, required=sorted(keys))])


def _linked_collection(items: Reference | Schema, resource: str) -> Schema:
    view = Schema(
        type=OpenAPIType.OBJECT,
        description="PartialCollectionView: page links; a cursor page has no `last`",
        properties={
            name: _string() for name in ("@id", "@type", "first", "last", "previous", "next")
        },
    )
    return Schema(
        type=OpenAPIType.OBJECT,
        properties={
            "@context": _string(),
            "@id": _string(),
            "@type": Schema(type=OpenAPIType.STRING, const="Collection"),
            "totalItems": Schema(type=OpenAPIType.INTEGER, description="Absent in cursor mode"),
            "member": Schema(type=OpenAPIType.ARRAY, items=_linked(items, resource, member=True)),
            "view": view,
            "search": Schema(type=OpenAPIType.OBJECT, description="IriTemplate of the filters"),
        },
        required=["@context", "@id", "@type", "member"],
    )


def linked_data_operation(
    resource: str, parameters: Sequence[Parameter] = (), headers: Mapping[str, str] | None = None
) -> type[Operation]:
    """An Operation class for handlers of `resource`: every `application/json` answer (documented with the
    plain schema) also gets its `application/ld+json` twin, the format served by default; `parameters`
    documents query parameters the handler reads itself, `headers` (name → description) the headers of
    its success response."""
    documented_headers = {
        name: OpenAPIHeader(schema=_string(), description=text) for name, text in (headers or {}).items()
    }

    @dataclass
    class LinkedDataOperation(Operation):
        def __post_init__(self) -> None:
            if parameters:
                self.parameters = [*(self.parameters or []), *parameters]
            body = self.request_body
            if isinstance(body, RequestBody):
                # An empty body is refused (400/415): the handlers only take it as optional to say so.
                body.required = True
            if isinstance(body, RequestBody) and JSON in body.content:
                # `application/ld+json` bodies are accepted alike; listing the same body twice makes
                # generators emit one (broken) variant per media type.
                body.description = "Also accepted as `application/ld+json`."
            responses = self.responses or {}
            default_400 = responses.get("400")
            if isinstance(default_400, SpecResponse) and PROBLEM_JSON not in (default_400.content or {}):
                # Litestar's generic "validation exception" entry: this service never answers with it.
                del responses["400"]
            for status, response in responses.items():
                if not status.startswith("2") or not isinstance(response, SpecResponse):
                    continue
                if documented_headers:
                    response.headers = {**(response.headers or {}), **documented_headers}
                plain = response.content.get(JSON) if response.content else None
                if plain is not None and plain.schema is not None:
                    linked = OpenAPIMediaType(schema=_twin(plain.schema, resource))
                    response.content = {JSON: plain, JSONLD: linked}

    LinkedDataOperation.__name__ = f"{resource}Operation"
    return LinkedDataOperation


def with_item_links(
    operation: type[Operation], targets: Mapping[str, tuple[str, str, str]]
) -> type[Operation]:
    """`operation` whose 201 answer links to what can be done with the created item (OpenAPI links):
    `targets` maps a link name to (path, method, path parameter filled with the body's `id`)."""
    links = {
        name: Link(
            operation_ref=f"#/paths/{path.replace('~', '~0').replace('/', '~1')}/{method}",
            parameters={parameter: "$response.body#/id"},
        )
        for name, (path, method, parameter) in targets.items()
    }

    @dataclass
    class LinkedOperation(operation):  # type: ignore[valid-type,misc]
        def __post_init__(self) -> None:
            super().__post_init__()
            created = (self.responses or {}).get("201")
            if isinstance(created, SpecResponse):
                created.links = {**(created.links or {}), **links}

    LinkedOperation.__name__ = operation.__name__
    return LinkedOperation


def _twin(plain: Reference | Schema, resource: str) -> Schema:
    if isinstance(plain, Schema) and plain.type == OpenAPIType.ARRAY and plain.items is not None:
        items = plain.items
        if isinstance(items, list):
            items = items[0]
        return _linked_collection(items, resource)
    return _linked(plain, resource, member=False)

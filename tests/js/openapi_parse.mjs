// Parses the service's OpenAPI document with api-doc-parser's OpenAPI mode and prints what it found.
// Usage: node openapi_parse.mjs <OpenAPI document URL>
import { parseOpenApi3Documentation } from "@api-platform/api-doc-parser";

const [documentUrl] = process.argv.slice(2);

const { api, status } = await parseOpenApi3Documentation(documentUrl);
const resources = api.resources.map((resource) => ({
  name: resource.name,
  url: resource.url,
  title: resource.title,
  fields: resource.fields.map((field) => ({
    name: field.name,
    type: field.type,
    required: field.required,
    reference: field.reference ? field.reference.name : null,
    maxCardinality: field.maxCardinality ?? null,
  })),
  readable: resource.readableFields.map((f) => f.name),
  writable: resource.writableFields.map((f) => f.name),
  operations: resource.operations.map((o) => ({ name: o.name, type: o.type, method: o.method })),
  parameters: resource.parameters.map((p) => p.variable),
}));
process.stdout.write(JSON.stringify({ status, title: api.title, resources }));

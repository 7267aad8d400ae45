// Parses the service's Hydra documentation with API Platform's own parser and prints what it found.
// Usage: node hydra_parse.mjs <entrypoint URL> [bearer token]
import { parseHydraDocumentation } from "@api-platform/api-doc-parser";

const [entrypoint, token] = process.argv.slice(2);
const options = token ? { headers: { Authorization: `Bearer ${token}` } } : {};

function describeField(field) {
  return {
    name: field.name,
    id: field.id,
    range: field.range,
    type: field.type,
    required: field.required,
    reference: field.reference ? field.reference.name : null,
    maxCardinality: field.maxCardinality ?? null,
  };
}

async function parameters(resource) {
  try {
    const found = await resource.getParameters();
    return found.map((p) => ({ variable: p.variable, range: p.range, required: p.required }));
  } catch (failure) {
    return { status: failure?.response?.status ?? null };
  }
}

const { api, status } = await parseHydraDocumentation(entrypoint, options);
const resources = [];
for (const resource of api.resources) {
  resources.push({
    name: resource.name,
    url: resource.url,
    id: resource.id,
    title: resource.title,
    fields: resource.fields.map(describeField),
    readable: resource.readableFields.map((f) => f.name),
    writable: resource.writableFields.map((f) => f.name),
    operations: resource.operations.map((o) => ({
      name: o.name, type: o.type, method: o.method, expects: o.expects ?? null, returns: o.returns ?? null,
    })),
    parameters: await parameters(resource),
  });
}
process.stdout.write(JSON.stringify({ status, title: api.title, resources }));

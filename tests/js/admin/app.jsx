// A minimal API Platform Admin for the accounts service; the test bundles it with esbuild.
// The page is opened as admin.html?api=<service origin>&token=<owner token> (the token is injected;
// the hash is react-admin's router).
import React from "react";
import { createRoot } from "react-dom/client";
import {
  CreateGuesser, EditGuesser, HydraAdmin, InputGuesser, ResourceGuesser, fetchHydra, hydraDataProvider,
} from "@api-platform/admin";
import { parseHydraDocumentation } from "@api-platform/api-doc-parser";

const settings = new URLSearchParams(window.location.search);
const entrypoint = `${settings.get("api")}/api`;
const token = settings.get("token");

const withToken = (headers) => {
  const merged = new Headers(typeof headers === "function" ? headers() : headers ?? {});
  merged.set("Authorization", `Bearer ${token}`);
  return merged;
};

const parse = (url) => parseHydraDocumentation(url, { headers: withToken() });
const hydra = hydraDataProvider({
  entrypoint,
  mercure: false,
  httpClient: (url, options = {}) => fetchHydra(url, { ...options, headers: withToken(options.headers) }),
  apiDocumentationParser: parse,
});

// The service refuses read-only fields in a body (400) where API Platform ignores them, and the Admin
// sends back the whole record on edit: create sends only the fields the documentation says are
// writeable, and edit sends a true merge patch, the writeable fields that differ from the stored record.
let writeable;
const writeableFields = () =>
  (writeable ??= parse(entrypoint).then(({ api }) =>
    new Map(api.resources.map((r) => [r.name, new Set(r.writableFields.map((f) => f.name))]))));
const onlyWriteable = async (resource, data) => {
  const names = (await writeableFields()).get(resource);
  return names ? Object.fromEntries(Object.entries(data).filter(([key]) => names.has(key))) : data;
};
const same = (a, b) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
const changes = async (resource, params) => {
  const [data, { data: stored }] = await Promise.all([
    onlyWriteable(resource, params.data), hydra.getOne(resource, { id: params.id })]);
  return Object.fromEntries(Object.entries(data).filter(([key, value]) => !same(value, stored[key])));
};
const dataProvider = {
  ...hydra,
  create: async (resource, params) => hydra.create(resource, { ...params, data: await onlyWriteable(resource, params.data) }),
  update: async (resource, params) => hydra.update(resource, { ...params, data: await changes(resource, params) }),
};

// Hydra says only that settings, metadata and credentials are JSON (rdf:JSON); the guessed text input
// would send them as strings, so these inputs read and write them as JSON text.
const json = {
  format: (value) => (value == null ? "" : typeof value === "string" ? value : JSON.stringify(value)),
  parse: (text) => {
    try {
      return JSON.parse(text);
    } catch {
      return text;
    }
  },
  multiline: true,
};
const inputs = (...sources) => sources.map((source) => <InputGuesser key={source} source={source} />);
const AccountCreate = () => (
  <CreateGuesser>
    {inputs("client", "integration", "name", "headline", "avatar", "externalId")}
    <InputGuesser source="credentials" {...json} />
    <InputGuesser source="settings" {...json} />
    <InputGuesser source="metadata" {...json} />
  </CreateGuesser>
);
const AccountEdit = () => (
  <EditGuesser>
    {inputs("name", "headline", "avatar", "externalId", "status")}
    {/* Required to create; never shown, so left empty here it means: keep the stored credentials. */}
    <InputGuesser source="credentials" {...json} validate={[]} />
    <InputGuesser source="settings" {...json} />
    <InputGuesser source="metadata" {...json} />
  </EditGuesser>
);

createRoot(document.getElementById("root")).render(
  <HydraAdmin entrypoint={entrypoint} dataProvider={dataProvider} title="Accounts service">
    <ResourceGuesser name="accounts" create={AccountCreate} edit={AccountEdit} />
    <ResourceGuesser name="clients" />
    <ResourceGuesser name="integrations" />
  </HydraAdmin>,
);

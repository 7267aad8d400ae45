// A minimal API Platform Admin for the accounts service; the test bundles it with esbuild.
// The page is opened as admin.html?api=<service origin>&token=<owner token> (the token is injected;
// the hash is react-admin's router).
import React from "react";
import { createRoot } from "react-dom/client";
import { HydraAdmin, fetchHydra, hydraDataProvider } from "@api-platform/admin";
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
// sends back the whole record on edit: keep only the fields the documentation says are writeable.
let writeable;
const writeableFields = () =>
  (writeable ??= parse(entrypoint).then(({ api }) =>
    new Map(api.resources.map((r) => [r.name, new Set(r.writableFields.map((f) => f.name))]))));
const onlyWriteable = async (resource, data) => {
  const names = (await writeableFields()).get(resource);
  return names ? Object.fromEntries(Object.entries(data).filter(([key]) => names.has(key))) : data;
};
const dataProvider = {
  ...hydra,
  create: async (resource, params) => hydra.create(resource, { ...params, data: await onlyWriteable(resource, params.data) }),
  update: async (resource, params) => hydra.update(resource, { ...params, data: await onlyWriteable(resource, params.data) }),
};

createRoot(document.getElementById("root")).render(
  <HydraAdmin entrypoint={entrypoint} dataProvider={dataProvider} title="Accounts service" />,
);

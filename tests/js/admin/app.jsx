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

const dataProvider = hydraDataProvider({
  entrypoint,
  mercure: false,
  httpClient: (url, options = {}) => fetchHydra(url, { ...options, headers: withToken(options.headers) }),
  apiDocumentationParser: (url) => parseHydraDocumentation(url, { headers: withToken() }),
});

createRoot(document.getElementById("root")).render(
  <HydraAdmin entrypoint={entrypoint} dataProvider={dataProvider} title="Accounts service" />,
);

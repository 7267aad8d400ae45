"""docker-compose.yml, deploy/Dockerfile and deploy/k8s checked offline, against the published schemas."""

import json
import re
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from service.settings import Settings, SettingsError, load_settings

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
# Kubernetes versions the manifests must be valid for: the oldest supported here, and the newest known.
K8S_VERSIONS = ["1.29", kubernetes_validate.latest_version()]
# Read only by the API; the relay and the migration job must not receive them.
API_ONLY = re.compile(
    r"^(JWT_|CREDENTIALS_KEYS$|ARGON2_|LOGIN_|REFRESH_TOKEN_|CUSTOMER_TOKEN_|WORKER_TOKEN_)"
)
RELAY_NEEDS = re.compile(r"^(DATABASE_URL|KAFKA_.*|RELAY_.*|OUTBOX_.*)$")


def setting_variables() -> set[str]:
    """Every variable the service reads, as the settings declare them today; DEV_* are `dev` only."""
    return {name.upper() for name in Settings.__struct_fields__ if not name.upper().startswith("DEV_")}


# ---------------------------------------------------------------- docker-compose.yml


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return document


def _interpolate(value: Any) -> str:
    """Compose's `${NAME:-default}` with nothing set in the environment: the default."""
    text = str(value).replace("$$", "\0")
    text = re.sub(r"\$\{(\w+):?-([^}]*)\}", lambda m: m.group(2), text)
    assert "${" not in text, f"{value!r} has no default"
    return text.replace("\0", "$")


def compose_env(compose: dict[str, Any], service: str) -> dict[str, str]:
    environment = compose["services"][service].get("environment", {})
    assert isinstance(environment, dict), f"{service}: environment must be a mapping"
    return {name: _interpolate(value) for name, value in environment.items()}


def test_compose_file_follows_the_compose_specification(compose: dict[str, Any]) -> None:
    schema_file = resources.files("check_jsonschema.builtin_schemas.vendor").joinpath("compose-spec.json")
    schema = json.loads(schema_file.read_text("utf-8"))
    validator_class = jsonschema.validators.validator_for(schema)
    errors = sorted(validator_class(schema).iter_errors(compose), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{'/'.join(map(str, e.path))}: {e.message}" for e in errors)


def test_compose_runs_the_whole_stack_from_official_images(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert {"postgres", "kafka", "migrate", "api", "relay"} <= services.keys()
    assert services["postgres"]["image"].startswith("postgres:")
    assert services["kafka"]["image"].startswith("apache/kafka:")
    kafka_env = services["kafka"]["environment"]
    assert kafka_env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    for role, command in [("api", "api"), ("relay", "relay"), ("migrate", "migrate")]:
        assert services[role]["build"]["dockerfile"] == "deploy/Dockerfile"
        assert services[role]["command"] == [command]


def test_compose_brings_services_up_in_order(compose: dict[str, Any]) -> None:
    services = compose["services"]
    one_shot = {name for name, service in services.items() if service.get("restart") == "no"}
    assert {"migrate"} <= one_shot
    for name, service in services.items():
        if name not in one_shot:
            assert "healthcheck" in service, f"{name} has no health check"
        for dependency, rule in service.get("depends_on", {}).items():
            expected = "service_completed_successfully" if dependency in one_shot else "service_healthy"
            assert rule["condition"] == expected, f"{name} -> {dependency}"
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert {"postgres", "migrate"} <= services["api"]["depends_on"].keys()
    assert {"postgres", "kafka", "migrate"} <= services["relay"]["depends_on"].keys()
    # Kafka down never fails the API: it must not wait for the broker either.
    assert "kafka" not in services["api"]["depends_on"]
    assert "kafka" not in services["api"]["healthcheck"]["test"][-1].split("exclude=")[0]


def test_compose_keeps_data_in_named_volumes(compose: dict[str, Any]) -> None:
    named = set(compose["volumes"])
    for service in ("postgres", "kafka"):
        sources = {mount.split(":", 1)[0] for mount in compose["services"][service]["volumes"]}
        assert sources and sources <= named, service


def _unset(api: dict[str, str], relay: dict[str, str]) -> tuple[list[str], list[str]]:
    """The settings the api reads that its environment lacks, and the same for the relay."""
    relay_needs = {name for name in setting_variables() if RELAY_NEEDS.match(name)}
    return sorted(setting_variables() - api.keys()), sorted(relay_needs - relay.keys())


def test_compose_sets_every_setting_where_it_is_read(compose: dict[str, Any]) -> None:
    api, relay, migrate = (compose_env(compose, name) for name in ("api", "relay", "migrate"))
    missing, missing_for_relay = _unset(api, relay)
    assert not missing, f"docker-compose.yml: set {missing} in the api service (x-service-env or x-api-env)"
    assert not missing_for_relay, (
        f"docker-compose.yml: set {missing_for_relay} in x-service-env (the relay reads them)"
    )
    assert "DATABASE_URL" in migrate
    for role, env in [("relay", relay), ("migrate", migrate)]:
        leaked = sorted(name for name in env if API_ONLY.match(name))
        assert not leaked, f"{role} receives API-only secrets: {leaked}"


def test_compose_defaults_are_valid_settings(compose: dict[str, Any]) -> None:
    for service in ("api", "relay", "migrate"):
        settings = load_settings(compose_env(compose, service))
        assert settings.host == "0.0.0.0"
    assert load_settings(compose_env(compose, "relay")).kafka_enabled


def test_compose_marks_its_keys_as_local_only(compose: dict[str, Any]) -> None:
    api = compose_env(compose, "api")
    assert api["CREDENTIALS_KEYS"].startswith("local-only:")
    assert "BEGIN" not in (ROOT / "docker-compose.yml").read_text()
    # The signing key is generated at first start into a volume, never written in the file.
    assert api["JWT_PRIVATE_KEY"].startswith("/")
    key_mounts = [mount.split(":")[1] for mount in compose["services"]["keys"]["volumes"]]
    assert any(api["JWT_PRIVATE_KEY"].startswith(target) for target in key_mounts)


# ---------------------------------------------------------------- deploy/Dockerfile


def test_dockerfile_builds_a_small_non_root_image_with_one_entry_point() -> None:
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text()
    stages = re.findall(r"^FROM\s+(\S+)(?:\s+AS\s+(\w+))?", dockerfile, re.MULTILINE)
    assert len(stages) >= 2, "multi-stage build expected"
    assert re.search(r"^ARG PYTHON_IMAGE=python:3\.11-slim$", dockerfile, re.MULTILINE)
    runtime = dockerfile[dockerfile.rindex("\nFROM ") :]
    assert "COPY --from=build /opt/venv /opt/venv" in runtime
    user = re.findall(r"^USER\s+(\S+)", runtime, re.MULTILINE)
    assert user and user[-1].split(":")[0] not in {"0", "root"}
    assert re.search(r'^ENTRYPOINT \["accounts-service"\]$', runtime, re.MULTILINE)
    assert re.search(r'^CMD \["api"\]$', runtime, re.MULTILINE)
    assert "deploy/constraints.txt" in dockerfile and "if [ -f deploy/constraints.txt ]" in dockerfile


def test_the_image_gets_everything_the_wheel_needs() -> None:
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text()
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert 'accounts-service = "service.cli:main"' in pyproject
    assert '"migrations" = "service/migrations"' in pyproject
    copied = re.findall(r"^COPY (?!--from)(.+?) \S+$", dockerfile, re.MULTILINE)
    sources = {part.rstrip("/") for line in copied for part in line.split()}
    assert {"pyproject.toml", "README.md", "service", "migrations", "deploy"} <= sources
    ignored = (ROOT / ".dockerignore").read_text().splitlines()
    for source in ("pyproject.toml", "README.md", "service/", "migrations/", "deploy/"):
        assert f"!{source}" in ignored


# ---------------------------------------------------------------- deploy/k8s


def k8s_documents() -> list[tuple[str, dict[str, Any]]]:
    return [
        (path.name, document)
        for path in sorted(K8S.glob("*.yaml"))
        if path.name != "kustomization.yaml"
        for document in yaml.safe_load_all(path.read_text())
        if document
    ]


def k8s_kind(kind: str, name: str) -> dict[str, Any]:
    for _, document in k8s_documents():
        if document["kind"] == kind and document["metadata"]["name"] == name:
            return document
    raise AssertionError(f"no {kind} {name}")


@pytest.mark.parametrize("version", K8S_VERSIONS)
@pytest.mark.parametrize(
    ("filename", "document"), k8s_documents(), ids=lambda v: v if isinstance(v, str) else ""
)
def test_manifest_is_valid_kubernetes(filename: str, document: dict[str, Any], version: str) -> None:
    try:
        kubernetes_validate.validate(document, version, strict=True)
    except kubernetes_validate.ValidationError as exc:
        pytest.fail(f"{filename}: {'.'.join(map(str, exc.path))}: {exc.message}")


def test_kustomization_lists_every_manifest_but_the_secret_template() -> None:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    assert kustomization["kind"] == "Kustomization"
    listed = set(kustomization["resources"])
    present = {path.name for path in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert listed == present - {"secret.template.yaml"}
    assert not [name for name in listed if not (K8S / name).is_file()]


def test_manifests_ship_every_kind_an_operator_needs() -> None:
    kinds = {(document["kind"], document["metadata"]["name"]) for _, document in k8s_documents()}
    assert {
        ("Deployment", "accounts-api"),
        ("Deployment", "accounts-relay"),
        ("Job", "accounts-migrate"),
        ("Service", "accounts-api"),
        ("PodDisruptionBudget", "accounts-api"),
        ("HorizontalPodAutoscaler", "accounts-api"),
        ("ConfigMap", "accounts-config"),
        ("Secret", "accounts-secrets"),
    } <= kinds


def _container(name: str) -> dict[str, Any]:
    kind = "Job" if name == "accounts-migrate" else "Deployment"
    spec = k8s_kind(kind, name)["spec"]["template"]["spec"]
    (container,) = spec["containers"]
    return {"pod": spec, **container}


@pytest.mark.parametrize(
    "workload", ["accounts-api", "accounts-relay", "accounts-webhooks", "accounts-migrate"]
)
def test_every_workload_runs_locked_down(workload: str) -> None:
    container = _container(workload)
    assert container["pod"]["securityContext"]["runAsNonRoot"] is True
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"]["drop"] == ["ALL"]
    assert {"cpu", "memory"} <= container["resources"]["requests"].keys()
    assert "memory" in container["resources"]["limits"]


def test_api_probes_readiness_on_the_database_only_and_liveness_on_the_process() -> None:
    api = _container("accounts-api")
    assert api["readinessProbe"]["httpGet"]["path"] == "/readyz?exclude=kafka"
    assert api["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert api["startupProbe"]["httpGet"]["path"] == "/healthz"
    config = k8s_kind("ConfigMap", "accounts-config")["data"]
    needed = float(config["SHUTDOWN_DRAIN_SECONDS"]) + float(config["SHUTDOWN_TIMEOUT"]) + 5
    assert api["pod"]["terminationGracePeriodSeconds"] >= needed


def test_relay_runs_a_hot_standby() -> None:
    relay = k8s_kind("Deployment", "accounts-relay")
    assert relay["spec"]["replicas"] == 2
    assert _container("accounts-relay")["args"] == ["relay"]
    hpa = k8s_kind("HorizontalPodAutoscaler", "accounts-api")["spec"]
    assert hpa["scaleTargetRef"]["name"] == "accounts-api"
    assert hpa["minReplicas"] >= 2


def _k8s_env(workload: str) -> dict[str, str]:
    """The variables a workload's container receives, with Secret values as in the template."""
    config = k8s_kind("ConfigMap", "accounts-config")["data"]
    secret = k8s_kind("Secret", "accounts-secrets")["stringData"]
    container = _container(workload)
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            assert source["configMapRef"]["name"] == "accounts-config"
            env |= config
        if "secretRef" in source:
            assert source["secretRef"]["name"] == "accounts-secrets"
            env |= secret
    for item in container.get("env", []):
        if "value" in item:
            env[item["name"]] = item["value"]
        else:
            ref = item["valueFrom"]["secretKeyRef"]
            assert ref["name"] == "accounts-secrets"
            env[item["name"]] = secret[ref["key"]]
    return env


def test_manifests_set_every_setting_where_it_is_read() -> None:
    api, relay, migrate = (_k8s_env(name) for name in ("accounts-api", "accounts-relay", "accounts-migrate"))
    missing, missing_for_relay = _unset(api, relay)
    assert not missing, f"deploy/k8s: set {missing} in configmap.yaml (or secret.template.yaml if secret)"
    assert not missing_for_relay, f"deploy/k8s: the relay does not receive {missing_for_relay}"
    assert "DATABASE_URL" in migrate
    secret = set(k8s_kind("Secret", "accounts-secrets")["stringData"])
    for role, env in [("relay", relay), ("migrate", migrate)]:
        leaked = sorted(name for name in env if name in secret and API_ONLY.match(name))
        assert not leaked, f"{role} receives API-only secrets: {leaked}"


def test_secrets_are_only_in_the_secret_template() -> None:
    config = k8s_kind("ConfigMap", "accounts-config")["data"]
    assert not [name for name in config if API_ONLY.match(name) and re.search("KEY|SECRET", name)]
    assert "DATABASE_URL" not in config


def test_configmap_values_are_valid_settings_once_the_secret_is_filled_in() -> None:
    filled = {"CREDENTIALS_KEYS": "k1:" + "A" * 43 + "=", "JWT_PRIVATE_KEY": "/secrets/jwt.pem"}
    settings = load_settings(_k8s_env("accounts-api") | filled)
    assert (settings.host, settings.web_concurrency) == ("0.0.0.0", 1)
    load_settings(_k8s_env("accounts-relay"))
    load_settings(_k8s_env("accounts-migrate"))


def test_the_secret_template_cannot_start_an_api_by_accident() -> None:
    with pytest.raises(SettingsError, match="CREDENTIALS_KEYS"):
        load_settings(_k8s_env("accounts-api"))

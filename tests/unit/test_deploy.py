"""The deployment files, checked offline: each Kubernetes overlay (deploy/k8s) renders with
kustomize, every object is valid for the Kubernetes API (KEDA's ScaledObject for its typed
model), and what the manifests say of the services (consumer groups, settings, rules, ports)
is what the services' own code says; docker-compose.yml is valid Compose. Each check is also
shown failing on a broken copy."""

from __future__ import annotations

import asyncio
import base64
import importlib
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any
from unittest import mock

import kubernetes_validate
import pydantic
import pytest
import yaml
from cloudcoil.models.keda.v1alpha1 import ScaledObject

from shared.settings import KafkaSettings, ServiceSettings

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
COMPOSE = ROOT / "docker-compose.yml"
OVERLAYS = ("local", "production")
SERVICES = ("intake", "router", "sla", "notifier", "kb", "insights")
#: The Kubernetes version whose API schemas the objects are checked against.
KUBERNETES_VERSION = "1.31"
#: Names this test's replicas, so their own groups (every replica reads every event) are known.
REPLICA = "deploy-check"

#: The value of a variable whose Secret lacks the key it names.
MISSING = "<no such key in the Secret>"

Obj = dict[str, Any]


# -- rendering and the services' own facts -------------------------------------------------------


def kustomize(directory: Path) -> list[Obj]:
    """The overlay's objects, as `kubectl kustomize` renders them (the rules come from
    config/, outside the kustomization, hence the load restrictor)."""
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.fail("rendering deploy/k8s needs kubectl (its built-in kustomize) on PATH")
    done = subprocess.run(
        [kubectl, "kustomize", "--load-restrictor", "LoadRestrictionsNone", str(directory)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, f"kustomize failed on {directory}: {done.stderr}"
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


def settings_class(service: str) -> type[ServiceSettings]:
    module = importlib.import_module(f"services.{service}.settings")
    found = [
        value
        for value in vars(module).values()
        if isinstance(value, type) and issubclass(value, ServiceSettings)
        if value is not ServiceSettings
    ]
    assert len(found) == 1, f"services.{service}.settings should define one settings class"
    return found[0]


def shared_groups(service: str) -> set[tuple[str, str]]:
    """(consumer group, topic) of each subscriber the service's app registers in a group its
    replicas share: what lag-based scaling watches. Built by the service's own composition
    root, not started."""
    settings = settings_class(service)(
        environment="local", config_dir=ROOT / "config", replica_id=REPLICA
    )
    app = importlib.import_module(f"services.{service}.app").build_app(settings)
    asyncio.run(app.mongo.close())
    return {
        (subscriber.group_id, topic.name)
        for subscriber in app.broker.subscribers
        for topic in subscriber.topics
        if not subscriber.group_id.endswith(f"-{REPLICA}")
    }


@pytest.fixture(scope="module")
def rendered() -> dict[str, list[Obj]]:
    return {overlay: kustomize(K8S / "overlays" / overlay) for overlay in OVERLAYS}


@pytest.fixture(scope="module")
def groups() -> dict[str, set[tuple[str, str]]]:
    return {service: shared_groups(service) for service in SERVICES}


@pytest.fixture(scope="module")
def secret_values(rendered: dict[str, list[Obj]]) -> dict[str, str]:
    """The local overlay's Secret: production's keys with stand-in values."""
    secrets = [o for o in rendered["local"] if o["kind"] == "Secret"]
    assert len(secrets) == 1, "the local overlay should render one Secret"
    return {k: base64.b64decode(v).decode() for k, v in secrets[0].get("data", {}).items()}


# -- reading the rendered objects ---------------------------------------------------------------


def named(obj: Obj) -> str:
    return f"{obj['kind']} {obj['metadata']['name']}"


def of_kind(objects: list[Obj], *kinds: str) -> list[Obj]:
    return [o for o in objects if o["kind"] in kinds]


def pod_spec(workload: Obj) -> Obj:
    spec: Obj = workload["spec"]["template"]["spec"]
    return spec


def service_of(workload: Obj) -> str | None:
    """The help desk service a Deployment runs (`python -m services.<name>`), if any."""
    command = pod_spec(workload)["containers"][0].get("command", [])
    if command[:2] == ["python", "-m"] and command[2].startswith("services."):
        return str(command[2].removeprefix("services."))
    return None


def helpdesk(objects: list[Obj]) -> dict[str, Obj]:
    found = {service_of(d): d for d in of_kind(objects, "Deployment")}
    return {name: d for name, d in found.items() if name is not None}


def selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def environment(
    container: Obj, objects: list[Obj], secret_values: dict[str, str]
) -> dict[str, str]:
    """The variables the container gets, resolved from the rendered ConfigMaps and Secrets
    (the production Secret, made by hand, by the stand-ins)."""
    by_name = {(o["kind"], o["metadata"]["name"]): o for o in objects}
    found: dict[str, str] = {}
    for source in container.get("envFrom", []):
        config_map = by_name[("ConfigMap", source["configMapRef"]["name"])]
        found.update(config_map.get("data", {}))
    for var in container.get("env", []):
        if "value" in var:
            found[var["name"]] = var["value"]
            continue
        ref = var["valueFrom"]["secretKeyRef"]
        secret = by_name.get(("Secret", ref["name"]))
        values = secret_values if secret is None else secret.get("data", {})
        if ref["key"] in values:
            value = values[ref["key"]]
            found[var["name"]] = value if secret is None else base64.b64decode(value).decode()
        elif not ref.get("optional"):
            found[var["name"]] = MISSING
    return found


# -- the checks: each returns what is wrong -----------------------------------------------------


def differences(original: Any, dumped: Any, path: str = "") -> list[str]:
    """Where the typed model's dump differs from the input: a field it does not know, or a
    value it had to convert (a string where the API takes an integer)."""
    if isinstance(original, dict) and isinstance(dumped, dict):
        return [
            p
            for key, value in original.items()
            for p in (
                differences(value, dumped[key], f"{path}.{key}")
                if key in dumped
                else [f"{path}.{key}"]
            )
        ]
    if isinstance(original, list) and isinstance(dumped, list):
        if len(original) != len(dumped):
            return [path]
        return [
            p
            for i, pair in enumerate(zip(original, dumped, strict=True))
            for p in differences(*pair, f"{path}[{i}]")
        ]
    same = type(original) is type(dumped) and original == dumped
    return [] if same else [path]


def schema_problems(objects: list[Obj]) -> list[str]:
    problems = []
    for obj in objects:
        if obj["kind"] == "ScaledObject":
            try:
                model = ScaledObject.model_validate(obj)
            except pydantic.ValidationError as exc:
                problems += [f"{named(obj)}: {e['loc']}: {e['msg']}" for e in exc.errors()]
                continue
            dumped = model.model_dump(by_alias=True, exclude_unset=True, mode="json")
            problems += [
                f"{named(obj)}: {p}: not so in KEDA's model" for p in differences(obj, dumped)
            ]
            continue
        try:
            kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            problems.append(f"{named(obj)}: {exc.message}")
        except kubernetes_validate.SchemaNotFoundError as exc:
            problems.append(f"{named(obj)}: {exc.message}")
    return problems


def workload_problems(objects: list[Obj]) -> list[str]:
    """Probes and resources everywhere; for each service its health routes, a disruption
    budget and a Service for each of its ports."""
    problems = []
    for workload in of_kind(objects, "Deployment", "StatefulSet"):
        for container in pod_spec(workload)["containers"]:
            for probe in ("livenessProbe", "readinessProbe"):
                if probe not in container:
                    problems.append(f"{named(workload)}: no {probe}")
            for bound in ("requests", "limits"):
                if not {"cpu", "memory"} <= set(container.get("resources", {}).get(bound, {})):
                    problems.append(f"{named(workload)}: resources.{bound} lack cpu or memory")
    found = helpdesk(objects)
    problems += [f"no Deployment runs services.{name}" for name in set(SERVICES) - set(found)]
    for name, deployment in found.items():
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        container = pod_spec(deployment)["containers"][0]
        for probe, route in [
            ("startupProbe", "/health/live"),
            ("livenessProbe", "/health/live"),
            ("readinessProbe", "/health/ready"),
        ]:
            if container.get(probe, {}).get("httpGet", {}).get("path") != route:
                problems.append(f"{name}: {probe} is not on {route}")
        budgets = [
            b
            for b in of_kind(objects, "PodDisruptionBudget")
            if selects(b["spec"]["selector"].get("matchLabels", {}), labels)
        ]
        if len(budgets) != 1:
            problems.append(f"{name}: {len(budgets)} PodDisruptionBudgets select it, not 1")
        served = {
            port.get("targetPort")
            for s in of_kind(objects, "Service")
            if selects(s["spec"].get("selector", {}), labels)
            for port in s["spec"]["ports"]
        }
        for port in container.get("ports", []):
            if not {port["name"], port["containerPort"]} & served:
                problems.append(f"{name}: no Service for its port {port['name']}")
    return problems


def scaling_problems(
    objects: list[Obj], groups: dict[str, set[tuple[str, str]]], secret_values: dict[str, str]
) -> list[str]:
    """Each ScaledObject watches exactly its service's shared groups, on the broker the
    service uses, and never asks for more replicas than partitions (more would idle)."""
    problems = []
    deployments = {d["metadata"]["name"]: d for d in of_kind(objects, "Deployment")}
    for scaled in of_kind(objects, "ScaledObject"):
        spec = scaled["spec"]
        target = deployments.get(spec["scaleTargetRef"]["name"])
        service = service_of(target) if target else None
        if target is None or service is None:
            problems.append(f"{named(scaled)}: scales no service's Deployment")
            continue
        env = environment(pod_spec(target)["containers"][0], objects, secret_values)
        partitions = int(env.get("HELPDESK_KAFKA__PARTITIONS", KafkaSettings().partitions))
        if not 1 <= spec.get("minReplicaCount", 0) <= spec["maxReplicaCount"] <= partitions:
            problems.append(
                f"{named(scaled)}: replicas must be 1 <= min <= max <= {partitions} partitions"
            )
        kafka = [t["metadata"] for t in spec["triggers"] if t["type"] == "kafka"]
        watched = {(t.get("consumerGroup"), t.get("topic")) for t in kafka}
        if watched != groups[service]:
            problems.append(
                f"{named(scaled)}: triggers watch {sorted(watched - groups[service])} that "
                f"{service} does not consume, miss {sorted(groups[service] - watched)}"
            )
        servers = env.get("HELPDESK_KAFKA__BOOTSTRAP_SERVERS")
        for trigger in kafka:
            if trigger.get("bootstrapServers") != servers or "lagThreshold" not in trigger:
                problems.append(f"{named(scaled)}: a trigger lacks lagThreshold or {servers}")
    return problems


def is_setting(cls: type[pydantic.BaseModel], variable: str) -> bool:
    """Whether `HELPDESK_A__B` names field `a.b` of the settings (`__` nests)."""
    model: Any = cls
    *parents, last = variable.removeprefix("HELPDESK_").lower().split("__")
    for part in parents:
        field = model.model_fields.get(part)
        model = field.annotation if field else None
        if not (isinstance(model, type) and issubclass(model, pydantic.BaseModel)):
            return False
    return last in model.model_fields


def settings_problems(env_by_service: dict[str, dict[str, str]]) -> list[str]:
    """Every `HELPDESK_` variable names a setting of its service and its value is taken."""
    problems = []
    for service, env in env_by_service.items():
        cls = settings_class(service)
        ours = {k: v for k, v in env.items() if k.startswith("HELPDESK_")}
        problems += [
            f"{service}: {k} is no setting" for k in sorted(ours) if not is_setting(cls, k)
        ]
        problems += [f"{service}: {k} has no value" for k, v in ours.items() if v is MISSING]
        with mock.patch.dict(os.environ, ours, clear=True):
            try:
                cls()
            except pydantic.ValidationError as exc:
                problems.append(f"{service}: {exc}")
    return problems


def rules_problems(objects: list[Obj], secret_values: dict[str, str]) -> list[str]:
    """Each service reads, at HELPDESK_CONFIG_DIR, exactly the repository's config/ folder."""
    config = ROOT / "config"
    wanted = {
        str(p.relative_to(config)): p.read_text(encoding="utf-8")
        for p in config.rglob("*")
        if p.is_file()
    }
    maps = {o["metadata"]["name"]: o.get("data", {}) for o in of_kind(objects, "ConfigMap")}
    problems = []
    for name, deployment in helpdesk(objects).items():
        container = pod_spec(deployment)["containers"][0]
        folder = environment(container, objects, secret_values).get("HELPDESK_CONFIG_DIR")
        mounts = [m["name"] for m in container.get("volumeMounts", []) if m["mountPath"] == folder]
        volumes = [v for v in pod_spec(deployment).get("volumes", []) if v["name"] in mounts]
        tree: dict[str, str] = {}
        for volume in volumes:
            for source in volume.get("projected", {}).get("sources", []):
                data = maps[source["configMap"]["name"]]
                items = source["configMap"].get("items") or [{"key": k, "path": k} for k in data]
                tree.update({item["path"]: data[item["key"]] for item in items})
        if tree != wanted:
            differ = sorted(set(tree) ^ set(wanted)) or sorted(
                k for k in tree if tree[k] != wanted[k]
            )
            problems.append(f"{name}: the rules at {folder} differ from config/ in {differ}")
    return problems


def env_by_service(objects: list[Obj], secret_values: dict[str, str]) -> dict[str, dict[str, str]]:
    return {
        name: environment(pod_spec(d)["containers"][0], objects, secret_values)
        for name, d in helpdesk(objects).items()
    }


def all_problems(
    objects: list[Obj], groups: dict[str, set[tuple[str, str]]], secret_values: dict[str, str]
) -> list[str]:
    return [
        *schema_problems(objects),
        *workload_problems(objects),
        *scaling_problems(objects, groups, secret_values),
        *settings_problems(env_by_service(objects, secret_values)),
        *rules_problems(objects, secret_values),
    ]


# -- the overlays as they are -------------------------------------------------------------------


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_each_overlay_renders_objects_the_kubernetes_api_takes(
    rendered: dict[str, list[Obj]], overlay: str
) -> None:
    assert {"Deployment", "Service", "PodDisruptionBudget", "ConfigMap"} <= {
        o["kind"] for o in rendered[overlay]
    }
    assert schema_problems(rendered[overlay]) == []


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_service_has_probes_resources_a_budget_and_its_ports_served(
    rendered: dict[str, list[Obj]], overlay: str
) -> None:
    assert workload_problems(rendered[overlay]) == []


def test_production_scales_every_service_on_its_own_groups_within_the_partitions(
    rendered: dict[str, list[Obj]],
    groups: dict[str, set[tuple[str, str]]],
    secret_values: dict[str, str],
) -> None:
    scaled = {
        o["spec"]["scaleTargetRef"]["name"] for o in of_kind(rendered["production"], "ScaledObject")
    }
    assert scaled == {name for name in SERVICES if groups[name]} == set(SERVICES)
    # A subscriber of another topic has a group of its own: intake's replies, say.
    assert ("helpdesk-intake.replies", "helpdesk.tickets.v1") in groups["intake"]
    assert scaling_problems(rendered["production"], groups, secret_values) == []


def test_the_local_overlay_needs_no_autoscaler(rendered: dict[str, list[Obj]]) -> None:
    assert of_kind(rendered["local"], "ScaledObject") == []
    assert all("replicas" not in d["spec"] for d in helpdesk(rendered["local"]).values())


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_variable_the_manifests_set_is_a_setting_of_its_service(
    rendered: dict[str, list[Obj]], secret_values: dict[str, str], overlay: str
) -> None:
    env = env_by_service(rendered[overlay], secret_values)
    assert env["intake"]["HELPDESK_SMTP_LISTEN_PORT"] == "2525"
    assert settings_problems(env) == []


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_rules_each_service_reads_are_the_config_folder(
    rendered: dict[str, list[Obj]], secret_values: dict[str, str], overlay: str
) -> None:
    assert rules_problems(rendered[overlay], secret_values) == []


def test_secrets_are_referenced_by_key_and_production_ships_none(
    rendered: dict[str, list[Obj]], secret_values: dict[str, str]
) -> None:
    # Applying production must never overwrite the Secret its operator made.
    assert of_kind(rendered["production"], "Secret") == []
    local_secret = of_kind(rendered["local"], "Secret")[0]["metadata"]["name"]
    for overlay, secret in [("local", local_secret), ("production", "helpdesk-secrets")]:
        for name, deployment in helpdesk(rendered[overlay]).items():
            refs = [
                v["valueFrom"]["secretKeyRef"]
                for v in pod_spec(deployment)["containers"][0]["env"]
                if "valueFrom" in v
            ]
            assert {r["name"] for r in refs} == {secret}, f"{overlay} {name}"
            required = {r["key"] for r in refs if not r.get("optional")}
            assert {"mongo-url", "agent-token-secret"} <= required <= set(secret_values), name


# -- broken copies fail -------------------------------------------------------------------------


def patched(tmp_path: Path, target: Obj, operations: list[Obj]) -> list[Obj]:
    """The production overlay with one JSON patch on top."""
    (tmp_path / "kustomization.yaml").write_text(
        yaml.safe_dump(
            {
                "apiVersion": "kustomize.config.k8s.io/v1beta1",
                "kind": "Kustomization",
                "resources": [os.path.relpath(K8S / "overlays" / "production", tmp_path)],
                "patches": [{"target": target, "patch": yaml.safe_dump(operations)}],
            }
        )
    )
    return kustomize(tmp_path)


INTAKE = {"kind": "Deployment", "name": "intake"}
CONTAINER = "/spec/template/spec/containers/0"
BROKEN: dict[str, tuple[Obj, list[Obj], str]] = {
    "probe missing": (
        INTAKE,
        [{"op": "remove", "path": f"{CONTAINER}/readinessProbe"}],
        "no readinessProbe",
    ),
    "field misspelt": (
        INTAKE,
        [{"op": "add", "path": f"{CONTAINER}/livenesProbe", "value": {}}],
        "'livenesProbe' was unexpected",
    ),
    "more replicas than partitions": (
        {"kind": "ScaledObject", "name": "sla"},
        [{"op": "replace", "path": "/spec/maxReplicaCount", "value": 7}],
        "<= 6 partitions",
    ),
    "group that does not exist": (
        {"kind": "ScaledObject", "name": "router"},
        [
            {
                "op": "replace",
                "path": "/spec/triggers/0/metadata/consumerGroup",
                "value": "helpdesk-routers",
            }
        ],
        "helpdesk-routers",
    ),
    "lag threshold not a string": (
        {"kind": "ScaledObject", "name": "kb"},
        [{"op": "replace", "path": "/spec/triggers/0/metadata/lagThreshold", "value": 100}],
        "lagThreshold",
    ),
    "variable that is no setting": (
        INTAKE,
        [
            {
                "op": "add",
                "path": f"{CONTAINER}/env/-",
                "value": {"name": "HELPDESK_KAFKA__PARTITION", "value": "6"},
            }
        ],
        "HELPDESK_KAFKA__PARTITION is no setting",
    ),
    "setting of the wrong type": (
        INTAKE,
        [
            {
                "op": "add",
                "path": f"{CONTAINER}/env/-",
                "value": {"name": "HELPDESK_SMTP_PORT", "value": "twenty-five"},
            }
        ],
        "smtp_port",
    ),
    "rule file left out": (
        {"kind": "Deployment", "name": "kb"},
        [
            {
                "op": "remove",
                "path": "/spec/template/spec/volumes/0/projected/sources/1/configMap/items/0",
            }
        ],
        "kb/articles.yaml",
    ),
    "budget missing": (
        {"kind": "PodDisruptionBudget", "name": "notifier"},
        [
            {
                "op": "replace",
                "path": "/spec/selector/matchLabels",
                "value": {"app.kubernetes.io/name": "nobody"},
            }
        ],
        "notifier: 0 PodDisruptionBudgets",
    ),
}


@pytest.mark.parametrize("case", BROKEN)
def test_a_broken_manifest_fails_the_checks(
    tmp_path: Path,
    groups: dict[str, set[tuple[str, str]]],
    secret_values: dict[str, str],
    case: str,
) -> None:
    target, operations, expected = BROKEN[case]
    problems = all_problems(patched(tmp_path, target, operations), groups, secret_values)
    assert any(expected in p for p in problems), problems


# -- docker-compose.yml -------------------------------------------------------------------------


def compose_check(path: Path) -> subprocess.CompletedProcess[str]:
    """The Compose specification's schema, as check-jsonschema ships it (no network)."""
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "check_jsonschema",
            "--builtin-schema",
            "vendor.compose-spec",
            str(path),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_compose_file_is_valid_compose() -> None:
    done = compose_check(COMPOSE)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (("    healthcheck:", "    healthchek:"), "'healthchek' was unexpected"),
        (('    ports: ["8011-8019:8080"]', "    ports: 8011"), "services.router.ports"),
    ],
)
def test_a_broken_compose_file_fails(
    tmp_path: Path, change: tuple[str, str], expected: str
) -> None:
    text = COMPOSE.read_text(encoding="utf-8")
    assert change[0] in text
    broken = tmp_path / "docker-compose.yml"
    broken.write_text(text.replace(*change), encoding="utf-8")
    done = compose_check(broken)
    assert done.returncode != 0
    assert expected in done.stdout + done.stderr


def compose_problems(compose: Obj) -> list[str]:
    """Variables no service reads. The `x-service` block gives its variables to every
    service, so each must be a setting of some service; a service's own, a setting of it."""
    shared = set(compose["x-service"]["environment"])
    classes = {name: settings_class(name) for name in SERVICES}
    problems = [
        f"x-service: {k}" for k in shared if not any(is_setting(c, k) for c in classes.values())
    ]
    for name, cls in classes.items():
        own = set(compose["services"][name].get("environment", {})) - shared
        problems += [f"{name}: {k}" for k in sorted(own) if not is_setting(cls, k)]
    return problems


def test_the_compose_file_sets_only_real_settings() -> None:
    compose = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    assert "HELPDESK_ADAPTER_SECRETS" in compose["services"]["intake"]["environment"]
    assert compose_problems(compose) == []
    compose["services"]["router"]["environment"]["HELPDESK_SMTP_FROM"] = "router@example.com"
    compose["x-service"]["environment"]["HELPDESK_KAFKA__BOOTSTRAP"] = "kafka:9092"
    assert compose_problems(compose) == [
        "x-service: HELPDESK_KAFKA__BOOTSTRAP",
        "router: HELPDESK_SMTP_FROM",
    ]


@pytest.mark.parametrize(
    ("service", "variable"),
    [
        ("sla", "HELPDESK_KAFKA__BOOTSTRAP"),
        ("sla", "HELPDESK_SMTP_HOST"),  # intake's and the notifier's, not the SLA service's
        ("kb", "HELPDESK_KAFKA__PARTITIONS__COUNT"),
        ("intake", "HELPDESK_ADAPTER_SECRET"),
    ],
)
def test_a_variable_that_is_no_setting_is_told(service: str, variable: str) -> None:
    assert not is_setting(settings_class(service), variable)

"""The Kubernetes Job and the ECS task our deployment files make for one of our runs, without a cluster.

* Kubernetes: ``K8sRunLauncher`` configured as the official chart renders it
  from ``deploy/helm/values.yaml``, its batch API replaced by a recorder, launches
  a run of our job; the Job it would create is validated against the
  Kubernetes OpenAPI schema in its strict variant (``kubernetes-validate``:
  unknown or misspelt fields fail, as ``kubectl --validate=strict`` would).
* ECS: ``EcsRunLauncher`` from ``deploy/ecs/dagster.yaml`` (its config checked
  by Dagster's own config system) launches the same run against a botocore
  ``Stubber``-ed ECS client; the requests it makes carry our environment and
  the secret's ARN, never a secret value.

What remains unverified here: that a cluster accepts the Job (admission,
quotas, image pull), that ECS accepts the task (IAM, networking), and the
chart's own rendering of values.yaml (no ``helm`` binary here).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import kubernetes_validate
import pytest
import yaml
from botocore.stub import Stubber
from dagster import DagsterInstance, instance_for_test
from dagster._core.code_pointer import ModuleCodePointer
from dagster._core.launcher import LaunchRunContext, RunLauncher
from dagster._core.origin import JobPythonOrigin, RepositoryPythonOrigin
from dagster._core.remote_origin import GrpcServerCodeLocationOrigin, RemoteJobOrigin, RemoteRepositoryOrigin
from dagster._core.storage.dagster_run import DagsterRun
from dagster._serdes import ConfigurableClassData
from dagster_k8s import K8sRunLauncher

# Imported when this module is collected rather than when the ECS launcher is first built from the
# instance YAML: its import chain reaches dagster._core.test_utils, which pytest's assertion rewriter
# parses with ast.parse, and CPython 3.11.7 can fail that parse ("AST constructor recursion depth
# mismatch") in a worker that earlier ran the tests provoking and catching deep recursion.
import dagster_aws.ecs  # noqa: E402,F401
from kubernetes.client import ApiClient

from curation_pipeline.definitions import build_definitions

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
IMAGE = "registry.example.com/curation-pipeline:0.1.0"
SECRET_VALUE = "pg-password-that-must-not-leak"
RELEASE = "dagster"  # the Helm release name the chart prefixes its objects with
#: Kubernetes minor versions the Job is validated against: an old supported one and the newest schema.
K8S_VERSIONS = ("1.30.0", kubernetes_validate.latest_version())


@pytest.fixture(scope="module")
def instance() -> Iterator[DagsterInstance]:
    with instance_for_test() as instance:
        yield instance


@pytest.fixture(scope="module")
def our_run(instance: DagsterInstance, tmp_path_factory: pytest.TempPathFactory) -> DagsterRun:
    """A run of one of our curators' jobs, as the code server in our image would describe it."""
    store = str(tmp_path_factory.mktemp("store"))
    defs = build_definitions({"CURATION_STORE_URL": store})
    job = next(j for j in defs.resolve_all_job_defs() if j.name.endswith("_job") and not j.name.startswith("__"))
    repository = RepositoryPythonOrigin(
        executable_path="/usr/local/bin/python",
        code_pointer=ModuleCodePointer("curation_pipeline.definitions", "defs", "/opt/dagster/app"),
        container_image=IMAGE,
        entry_point=["dagster"],
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CURATION_STORE_URL", store)  # the store resource reads it when the run config resolves
        return instance.create_run_for_job(
            job_def=job,
            job_code_origin=JobPythonOrigin(job.name, repository),
            remote_job_origin=RemoteJobOrigin(
                RemoteRepositoryOrigin(
                    GrpcServerCodeLocationOrigin(host="curation-pipeline", port=4000, location_name="curation_pipeline"),
                    "__repository__",
                ),
                job.name,
            ),
            tags={"dagster/partition": "2024-06-01", "curation/curator": "demo"},
        )


# -- Kubernetes --------------------------------------------------------------------------------


class RecordingBatchApi:
    """Stands in for ``kubernetes.client.BatchV1Api``: records the Jobs instead of sending them."""

    def __init__(self) -> None:
        self.created: list[tuple[str, Any]] = []

    def create_namespaced_job(self, namespace: str, body: Any, **_: Any) -> Any:
        self.created.append((namespace, body))
        return body


def chart_launcher_config(values: dict, kubeconfig: Path) -> dict[str, Any]:
    """The K8sRunLauncher config the chart's run-launcher template renders from ``values``.

    Mirrors the chart's mapping (camelCase values to the launcher's snake_case
    fields, its own ``<release>-instance`` and ``<release>-pipeline-env``
    ConfigMaps first), with the in-cluster config swapped for a kubeconfig file.
    """
    k8s = values["runLauncher"]["config"]["k8sRunLauncher"]
    run_config = k8s.get("runK8sConfig", {})
    return {
        "service_account_name": RELEASE,
        "instance_config_map": f"{RELEASE}-instance",
        "postgres_password_secret": values["global"]["postgresqlSecretName"],
        "dagster_home": "/opt/dagster/dagster_home",
        "job_namespace": "curation",
        "load_incluster_config": False,
        "kubeconfig_file": str(kubeconfig),
        "image_pull_policy": k8s["imagePullPolicy"],
        "env_config_maps": [f"{RELEASE}-pipeline-env"] + [c["name"] for c in k8s["envConfigMaps"]],
        "env_secrets": [s["name"] for s in k8s["envSecrets"]],
        "env_vars": k8s["envVars"],
        "volume_mounts": k8s["volumeMounts"],
        "volumes": k8s["volumes"],
        "fail_pod_on_run_failure": k8s.get("failPodOnRunFailure"),
        "run_k8s_config": {
            "container_config": run_config.get("containerConfig", {}),
            "job_spec_config": run_config.get("jobSpecConfig", {}),
        },
    }


def _kubeconfig(path: Path) -> Path:
    """A kubeconfig naming an unreachable server: loading it needs no cluster, nothing dials it."""
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "none", "cluster": {"server": "https://127.0.0.1:9"}}],
                "users": [{"name": "none", "user": {"token": "unused"}}],
                "contexts": [{"name": "none", "context": {"cluster": "none", "user": "none"}}],
                "current-context": "none",
            }
        )
    )
    return path


@pytest.fixture(scope="module")
def rendered_job(our_run: DagsterRun, instance: DagsterInstance, tmp_path_factory: pytest.TempPathFactory) -> dict:
    values = yaml.safe_load((DEPLOY / "helm" / "values.yaml").read_text())
    config = chart_launcher_config(values, _kubeconfig(tmp_path_factory.mktemp("k8s") / "kubeconfig"))
    batch = RecordingBatchApi()
    launcher = K8sRunLauncher(**config, k8s_client_batch_api=batch)
    launcher.register_instance(instance)

    launcher.launch_run(LaunchRunContext(dagster_run=our_run, workspace=None))

    ((namespace, job),) = batch.created
    assert namespace == "curation"
    return ApiClient().sanitize_for_serialization(job)


@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_the_run_job_validates_against_the_strict_kubernetes_schema(rendered_job: dict, version: str) -> None:
    kubernetes_validate.validate(rendered_job, version, strict=True)


def test_the_strict_schema_rejects_a_misspelt_field(rendered_job: dict) -> None:
    broken = json.loads(json.dumps(rendered_job))
    broken["spec"]["template"]["spec"]["containers"][0]["imagePullPolicyy"] = "Always"

    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, kubernetes_validate.latest_version(), strict=True)


def test_the_run_job_runs_our_image_with_our_settings_and_no_secret_values(rendered_job: dict, our_run: DagsterRun) -> None:
    pod = rendered_job["spec"]["template"]["spec"]
    (container,) = pod["containers"]

    assert rendered_job["kind"] == "Job" and rendered_job["apiVersion"] == "batch/v1"
    assert container["image"] == IMAGE
    assert container["args"][:3] == ["dagster", "api", "execute_run"]
    assert our_run.run_id in " ".join(container["args"])
    assert "command" not in container  # the image's CMD is replaced by args, with no ENTRYPOINT to prefix
    sources = container["envFrom"]
    assert {"configMapRef": {"name": "curation-pipeline-env"}} in sources
    assert {"secretRef": {"name": "curation-pipeline-aws"}} in sources
    password = next(e for e in container["env"] if e["name"] == "DAGSTER_PG_PASSWORD")
    assert password["valueFrom"]["secretKeyRef"]["name"] == "dagster-postgresql-secret"
    assert "value" not in password
    assert container["securityContext"]["runAsNonRoot"] is True
    assert container["resources"]["limits"]["memory"] == "4Gi"
    assert rendered_job["spec"]["backoffLimit"] == 0
    assert SECRET_VALUE not in json.dumps(rendered_job)


def _snake(key: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in key)


def test_the_helm_values_carry_the_production_run_queue_and_pools() -> None:
    values = yaml.safe_load((DEPLOY / "helm" / "values.yaml").read_text())
    production = yaml.safe_load((DEPLOY / "dagster.yaml").read_text())["concurrency"]
    concurrency = values["concurrency"]
    # The chart's `concurrency` values are the instance's section with camelCase keys (limits' fields as is).
    rendered = {
        section: {_snake(key): value for key, value in concurrency[section].items()} for section in ("runs", "pools")
    }

    assert concurrency["enabled"] is True
    assert rendered == production
    assert values["dagsterDaemon"]["runCoordinator"]["config"]["queuedRunCoordinator"] == {}


# -- ECS -----------------------------------------------------------------------------------------

ECS_ENV = {
    "CURATION_STORE_URL": "s3://example-curation-bucket/curation",
    "CURATION_S3_REGION": "eu-west-1",
    "CURATION_CURATORS_FILE": "/opt/dagster/app/catalogue/curators.yaml",
    "DAGSTER_PG_HOST": "dagster.example.internal",
    "DAGSTER_PG_PORT": "5432",
    "DAGSTER_PG_USER": "dagster",
    "DAGSTER_PG_DB": "dagster",
    "DAGSTER_COMPUTE_LOGS_BUCKET": "example-dagster-logs",
}


def _ecs_instance_yaml() -> dict:
    return yaml.safe_load((DEPLOY / "ecs" / "dagster.yaml").read_text())


def test_the_ecs_instance_is_the_production_instance_plus_the_ecs_launcher() -> None:
    ecs = _ecs_instance_yaml()
    production = yaml.safe_load((DEPLOY / "dagster.yaml").read_text())

    assert {key: value for key, value in ecs.items() if key != "run_launcher"} == production
    assert ecs["run_launcher"]["class"] == "EcsRunLauncher"


@pytest.fixture
def ecs_calls(
    our_run: DagsterRun, instance: DagsterInstance, monkeypatch: pytest.MonkeyPatch
) -> dict[str, list[dict]]:
    """Launch our run through the shipped EcsRunLauncher config; return each ECS request made, by operation."""
    for name, value in {**ECS_ENV, "AWS_REGION": "eu-west-1", "AWS_DEFAULT_REGION": "eu-west-1"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("DAGSTER_PG_PASSWORD", SECRET_VALUE)  # in the daemon's environment, as on a real task
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    section = _ecs_instance_yaml()["run_launcher"]
    data = ConfigurableClassData(section["module"], section["class"], yaml.safe_dump(section["config"]))
    launcher = data.rehydrate(as_type=RunLauncher)  # Dagster validates the config against the launcher's schema
    launcher.register_instance(instance)

    client = boto3.client("ecs", region_name="eu-west-1")
    calls: dict[str, list[dict]] = {}
    client.meta.events.register(
        "provide-client-params.ecs.*",
        lambda params, model, **_: calls.setdefault(model.name, []).append(json.loads(json.dumps(params))),
    )
    cluster = "arn:aws:ecs:eu-west-1:123456789012:cluster/curation"
    with Stubber(client) as stub:
        stub.add_client_error("describe_task_definition", "ClientException", "Unable to describe task definition.")
        stub.add_response(
            "register_task_definition",
            {"taskDefinition": {"taskDefinitionArn": "arn:aws:ecs:eu-west-1:123456789012:task-definition/run:1"}},
        )
        task = {"taskArn": f"{cluster.replace(':cluster/', ':task/')}/0123", "clusterArn": cluster}
        stub.add_response("run_task", {"tasks": [task], "failures": []})
        launcher.ecs = client
        launcher.launch_run(LaunchRunContext(dagster_run=our_run, workspace=None))
        stub.assert_no_pending_responses()
    return calls


def test_the_ecs_task_carries_our_settings_and_only_the_secret_arn(ecs_calls: dict, our_run: DagsterRun) -> None:
    (registered,) = ecs_calls["RegisterTaskDefinition"]
    (run_task,) = ecs_calls["RunTask"]
    (container,) = [c for c in registered["containerDefinitions"] if c["name"] == "run"]

    assert container["image"] == IMAGE
    environment = {e["name"]: e["value"] for e in container["environment"]}
    assert {k: environment.get(k) for k in ECS_ENV} == ECS_ENV
    assert "DAGSTER_PG_PASSWORD" not in environment
    (secret,) = container["secrets"]
    assert secret == {
        "name": "DAGSTER_PG_PASSWORD",
        "valueFrom": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:curation/dagster-pg-password",
    }
    assert registered["requiresCompatibilities"] == ["FARGATE"]
    assert registered["taskRoleArn"].endswith(":role/curation-run")
    (override,) = run_task["overrides"]["containerOverrides"]
    assert override["name"] == "run"
    assert override["command"][:3] == ["dagster", "api", "execute_run"] and our_run.run_id in " ".join(override["command"])
    assert run_task["cluster"] == "curation" and run_task["launchType"] == "FARGATE"
    assert run_task["networkConfiguration"]["awsvpcConfiguration"]["assignPublicIp"] == "DISABLED"
    assert SECRET_VALUE not in json.dumps(ecs_calls)


def test_the_ecs_launcher_refuses_a_misspelt_config_key() -> None:
    section = _ecs_instance_yaml()["run_launcher"]
    config = {**section["config"], "env_varz": section["config"]["env_vars"]}
    data = ConfigurableClassData(section["module"], section["class"], yaml.safe_dump(config))

    with pytest.raises(Exception, match="env_varz"):
        data.rehydrate(as_type=RunLauncher)

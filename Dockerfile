# The code location image: serves curation_pipeline.definitions over gRPC (the default command) and
# runs each Dagster run worker (`dagster api execute_run ...`, set by the run launcher as the command).
# No secret is baked in: credentials come from the environment (Kubernetes Secret, ECS task secrets,
# or an IAM role). See docs/deploy.md.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DAGSTER_HOME=/opt/dagster/dagster_home

RUN groupadd --system --gid 10001 curation \
 && useradd --system --uid 10001 --gid curation --home-dir /opt/dagster --shell /usr/sbin/nologin curation

WORKDIR /opt/dagster/app
COPY pyproject.toml README.md ./
COPY curation_pipeline ./curation_pipeline
# The project with its pinned Dagster trio and the `prod` extra (dagster-postgres, dagster-k8s).
RUN pip install ".[prod]" && rm -rf /root/.cache

# The instance the run workers read (the Helm chart and ECS mount or copy their own over it).
COPY deploy/dagster.yaml ${DAGSTER_HOME}/dagster.yaml
RUN chown -R curation:curation /opt/dagster

USER 10001:10001
EXPOSE 4000

# No ENTRYPOINT: K8sRunLauncher sets a Job's `args` and EcsRunLauncher a task's `command`, both the
# full `dagster api execute_run ...` line, which must not get a prefix.
CMD ["dagster", "code-server", "start", "-h", "0.0.0.0", "-p", "4000", \
     "-m", "curation_pipeline.definitions", "--location-name", "curation_pipeline"]

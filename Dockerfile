# The mentatctl image: `mentatctl controller` (spec.controller in mentat.yaml renders its
# Deployment) and every other command. Build from the repository root:
#   docker build -t ghcr.io/mentatlab/mentatctl:0.1.0 .
# push it, and pin the pushed digest as spec.controller.image. The base is pinned to a Python
# patch release and Debian release (tests/unit/controller/test_dockerfile.py): bump both together.
FROM python:3.11.11-slim-bookworm AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY compiler ./compiler
RUN pip install --no-cache-dir --root-user-action=ignore --prefix=/install .

FROM python:3.11.11-slim-bookworm
# git: the controller pulls its source repository; nothing else is added
RUN apt-get update \
 && apt-get install -y --no-install-recommends git ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /install /usr/local
COPY schemas /opt/mentat/schemas
COPY policies /opt/mentat/policies
ENV MENTAT_HOME=/opt/mentat PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
# non-root (the Deployment also says runAsNonRoot, runAsUser 65532, read-only root filesystem)
USER 65532:65532
ENTRYPOINT ["mentatctl"]
CMD ["controller", "--help"]

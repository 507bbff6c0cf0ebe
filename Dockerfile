# tag-gateway: docker build -t tag-gateway . && docker run -p 8000:8000 -v $PWD/tag_configs:/config:ro \
#   -e TAG_GATEWAY_SECRET -e DATABASE_URL tag-gateway
# BASE: any image with Python 3.11+ whose `python3 -m venv` works (the official image, or Debian with
# python3-venv: `python -m deploy.image_check` builds on one made by debootstrap, README: Running in production).
ARG BASE=python:3.11-slim
FROM ${BASE}

# Install from the checkout (pinned dependencies in pyproject.toml) into a virtual environment; nothing else in
# the image, no secret: TAG_GATEWAY_SECRET comes at run time or is created in /data at the first start.
# PIP_CERT (build only, unset by default): the CA bundle pip trusts, where PyPI is reached through a TLS-inspecting
# proxy; a path, never a credential (podman/buildah: bind-mount the host's bundle for the build with -v).
ARG PIP_CERT
COPY pyproject.toml README.md /src/
COPY gateway /src/gateway
COPY consent_ui /src/consent_ui
RUN python3 -m venv /opt/tag-gateway \
 && /opt/tag-gateway/bin/pip install --no-cache-dir --disable-pip-version-check /src \
 && rm -rf /src
ENV PATH=/opt/tag-gateway/bin:$PATH

# An unprivileged user; /data holds the SQLite consent log and the policy state when DATABASE_URL is unset.
RUN groupadd --system --gid 10001 gateway \
 && useradd --system --uid 10001 --gid gateway --home-dir /data --create-home --shell /usr/sbin/nologin gateway
USER 10001:10001
WORKDIR /data
VOLUME ["/data"]

ENV PYTHONUNBUFFERED=1
EXPOSE 8000
# /healthz answers 200 "ok" or 200 "degraded" (last good config still served) and counts only.
HEALTHCHECK --interval=30s --timeout=3s --start-period=20s \
  CMD ["/opt/tag-gateway/bin/python", "-c", "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2); sys.exit(0)"]
# Listens on all interfaces inside the container; put a TLS proxy in front (README: Running in production)
# and list its address in site.trusted_proxies.
CMD ["gateway", "serve", "--config", "/config", "--host", "0.0.0.0", "--port", "8000"]

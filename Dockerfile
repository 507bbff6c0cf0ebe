# tag-gateway: docker build -t tag-gateway . && docker run -p 8000:8000 -v $PWD/tag_configs:/config:ro \
#   -e TAG_GATEWAY_SECRET -e DATABASE_URL tag-gateway
FROM python:3.11-slim

# Install from the checkout (pinned dependencies in pyproject.toml); nothing else in the image.
WORKDIR /src
COPY pyproject.toml README.md ./
COPY gateway ./gateway
COPY consent_ui ./consent_ui
RUN pip install --no-cache-dir . && rm -rf /src

# An unprivileged user; /data holds the SQLite consent log and the policy state when DATABASE_URL is unset.
RUN useradd --system --uid 10001 --home-dir /data --create-home gateway
USER gateway
WORKDIR /data
VOLUME ["/data"]

ENV PYTHONUNBUFFERED=1
EXPOSE 8000
# /healthz answers 200 "ok" or 200 "degraded" (last good config still served) and counts only.
HEALTHCHECK --interval=30s --timeout=3s --start-period=20s \
  CMD ["python", "-c", "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2); sys.exit(0)"]
# Listens on all interfaces inside the container; put a TLS proxy in front (README: Running in production)
# and list its address in site.trusted_proxies.
CMD ["gateway", "serve", "--config", "/config", "--host", "0.0.0.0", "--port", "8000"]

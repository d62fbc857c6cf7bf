# orders-service: gunicorn in a slim Python image, as a non-root user.
#   docker build -t orders-service .
#   docker run --rm --env-file prod.env orders-service flask --app wsgi db upgrade
#   docker run -d -p 8000:8000 --env-file prod.env --stop-timeout 35 orders-service
ARG PYTHON_IMAGE=python:3.11-slim
ARG NODE_IMAGE=node:20-slim

# The staff console's browser code, from npm by its lock file (no Node.js in the final image).
FROM ${NODE_IMAGE} AS console
WORKDIR /console
COPY orders_service/console/package.json orders_service/console/package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund

FROM ${PYTHON_IMAGE} AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
RUN python -m venv /venv
ENV PATH=/venv/bin:$PATH
WORKDIR /src
# Dependencies in their own layer: rebuilt only when the lock file changes.
COPY requirements.lock ./
RUN pip install --no-deps --require-hashes -r requirements.lock
COPY pyproject.toml setup.cfg README.md ./
COPY orders_service ./orders_service
COPY --from=console /console/node_modules ./orders_service/console/node_modules
RUN pip install --no-deps . && pip check

FROM ${PYTHON_IMAGE}
ENV PATH=/venv/bin:$PATH PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 PORT=8000
RUN useradd --system --uid 10001 --user-group --home-dir /app --shell /usr/sbin/nologin app
COPY --from=builder /venv /venv
# Flask's instance folder for an installed package, for a quick try on the default SQLite.
RUN install -d -o app -g app /venv/var/orders_service-instance
WORKDIR /app
COPY wsgi.py gunicorn.conf.py ./
USER app
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PORT', '8000'), timeout=4)"]
STOPSIGNAL SIGTERM
CMD ["gunicorn", "--config", "gunicorn.conf.py", "wsgi:app"]

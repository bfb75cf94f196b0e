# Written by `shipimg init` for a uv project. Two stages: the build stage
# installs the locked dependencies and the project (not editable) into a
# virtualenv at /opt/venv with `uv sync --locked`; the final stage copies only
# that virtualenv, so no source, uv, build tool or cache ships.
#
# Why the secret mount: the private index's credentials reach pip and uv only
# as the BuildKit secret `netrc`, mounted at /root/.netrc for each RUN that
# downloads (shipimg serves your netrc as that secret; plain docker needs
# `--secret id=netrc,src=FILE`). A secret mount is kept in no layer, no build
# cache entry and no image. A COPY of the file would live on in the build
# cache and the local image store even from a build stage, and an ARG or ENV
# is recorded in the image history. So never put a password in the index URL.
FROM {{base_image}} AS build
# The index URLs (without credentials) as build arguments; uv reads them from
# the environment. UV_INDEX_URL replaces PyPI: uv itself and the build
# backend must be on that index too.
ARG UV_INDEX_URL
ARG UV_EXTRA_INDEX_URL
# uv: install into /opt/venv with the base image's python (never download
# one), copy files rather than link them, compile bytecode, no cache.
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    UV_PROJECT_ENVIRONMENT=/opt/venv \
    UV_PYTHON_DOWNLOADS=never \
    UV_PYTHON_PREFERENCE=only-system \
    UV_LINK_MODE=copy \
    UV_COMPILE_BYTECODE=1 \
    UV_NO_CACHE=1
# A pinned uv in a virtualenv of its own (it stays in this stage), installed
# by pip from the same index; pip, like uv, reads /root/.netrc.
RUN --mount=type=secret,id=netrc,target=/root/.netrc,required=true \
    python3 -m venv /opt/uv && \
    if [ -n "$UV_INDEX_URL" ]; then export PIP_INDEX_URL="$UV_INDEX_URL"; fi && \
    if [ -n "$UV_EXTRA_INDEX_URL" ]; then export PIP_EXTRA_INDEX_URL="$UV_EXTRA_INDEX_URL"; fi && \
    /opt/uv/bin/pip install uv==0.13.9
WORKDIR /app
# The whole build context: .dockerignore keeps out virtualenvs, caches, .git
# and credential files.
COPY . .
# uv reads ~/.netrc (/root/.netrc) and matches its `machine` on the host name.
RUN --mount=type=secret,id=netrc,target=/root/.netrc,required=true \
    /opt/uv/bin/uv sync --locked --no-dev --no-editable

# The same base image, so /opt/venv's python symlink finds the same interpreter.
FROM {{base_image}}
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1
# Run as nobody; use another user if the service needs one.
USER 65534:65534
CMD {{cmd}}

# Written by `shipimg init` for a uv project with a uv.lock. Stages, each
# rebuilt only when what it reads changes:
#   uv        a pinned uv, in /opt/uv
#   deps      `uv sync --locked --no-install-project`: exactly uv.lock's
#             packages (a lock out of date with pyproject.toml fails with uv's
#             message), read through bind mounts of the two files only
#   manifest  reads pyproject.toml's [build-system] requires
#   backend   installs the build backend
#   build     builds the project's wheel from the source, offline
#   final     the dependencies' virtualenv, then the project's wheel on top
# Editing a source file rebuilds only `build` and the last layer of `final`:
# no dependency is downloaded or re-exported again.
#
# Why the secret mount: the private index's credentials reach pip and uv only as the
# BuildKit secret `netrc`, mounted at /root/.netrc for the RUNs that download
# (shipimg serves your netrc as that secret; plain docker needs
# `--secret id=netrc,src=FILE`). A secret mount is kept in no layer, no build
# cache entry and no image. A COPY of the file would live on in the build
# cache and the local image store even from a build stage, and an ARG or ENV
# is recorded in the image history. So never put a password in the index URL.
#
# The cache mounts keep pip's and uv's downloads (wheels and index pages, never the
# netrc: that is a secret mount) between builds of this project only (its own
# id), so a changed dependency list downloads only what is new.
FROM {{base_image}} AS uv
ARG PIP_INDEX_URL
ARG PIP_EXTRA_INDEX_URL
ENV PIP_DISABLE_PIP_VERSION_CHECK=1
# uv stays out of the image: the final stage only borrows it through a bind mount.
RUN --mount=type=cache,target=/root/.cache/pip,id=shipimg-pip-{{cache_id}},sharing=locked \
    --mount=type=secret,id=netrc,target=/root/.netrc,required=true \
    python3 -m venv /opt/uv && \
    /opt/uv/bin/pip install {{uv_requirement}}

FROM uv AS deps
# The index URLs (without credentials) as build arguments; uv reads them from
# the environment.
ARG UV_INDEX_URL
ARG UV_EXTRA_INDEX_URL
# Into /opt/venv with the base image's python (never a downloaded one), files
# copied out of the cache mount rather than linked to it, bytecode compiled.
ENV UV_PROJECT_ENVIRONMENT=/opt/venv \
    UV_PYTHON_DOWNLOADS=never \
    UV_PYTHON_PREFERENCE=only-system \
    UV_LINK_MODE=copy \
    UV_COMPILE_BYTECODE=1
# uv reads ~/.netrc (/root/.netrc) and matches its `machine` on the host name.
RUN --mount=type=bind,source=pyproject.toml,target=/src/pyproject.toml \
    --mount=type=bind,source=uv.lock,target=/src/uv.lock \
    --mount=type=cache,target=/root/.cache/uv,id=shipimg-uv-{{cache_id}},sharing=locked \
    --mount=type=secret,id=netrc,target=/root/.netrc,required=true \
    /opt/uv/bin/uv sync --directory /src --locked --no-install-project --no-dev

FROM {{base_image}} AS manifest
WORKDIR /manifest
RUN --mount=type=bind,source=pyproject.toml,target=/src/pyproject.toml \
    cd /src && {{read_pyproject}}

FROM {{base_image}} AS backend
ARG PIP_INDEX_URL
ARG PIP_EXTRA_INDEX_URL
ENV PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python3 -m venv /opt/build
RUN --mount=type=bind,from=manifest,source=/manifest,target=/manifest \
    --mount=type=cache,target=/root/.cache/pip,id=shipimg-pip-{{cache_id}},sharing=locked \
    --mount=type=secret,id=netrc,target=/root/.netrc,required=true \
    /opt/build/bin/pip install -r /manifest/build-requirements.txt

FROM backend AS build
# The whole build context: .dockerignore keeps out virtualenvs, caches, .git
# and credential files.
COPY . /src
RUN /opt/build/bin/pip wheel --no-deps --no-build-isolation --no-index \
    --wheel-dir /wheels /src

# The same base image, so /opt/venv's python symlink finds the same interpreter.
FROM {{base_image}}
COPY --from=deps /opt/venv /opt/venv
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    --mount=type=bind,from=uv,source=/opt/uv,target=/opt/uv \
    /opt/uv/bin/uv pip install --python /opt/venv/bin/python --no-deps \
    --no-index --offline --no-cache --compile-bytecode /wheels/*.whl
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1
# Run as nobody; use another user if the service needs one.
USER 65534:65534
CMD {{cmd}}

# Written by `shipimg init` for a pip project (pyproject.toml with a PEP 517
# build backend: setuptools, hatchling, flit, pdm, ...). Stages, each rebuilt
# only when what it reads changes:
#   manifest  reads pyproject.toml's dependency lists (not the source)
#   deps      installs the dependencies{{deps_from}} into /opt/venv
#   backend   installs the build backend ([build-system] requires)
#   build     builds the project's wheel from the source, offline
#   final     the dependencies' virtualenv, then the project's wheel on top
# Editing a source file rebuilds only `build` and the last layer of `final`:
# no dependency is downloaded or re-exported again.
#
# Why the secret mount: the private index's credentials reach pip only as the
# BuildKit secret `netrc`, mounted at /root/.netrc for the RUNs that download
# (shipimg serves your netrc as that secret; plain docker needs
# `--secret id=netrc,src=FILE`). A secret mount is kept in no layer, no build
# cache entry and no image. A COPY of the file would live on in the build
# cache and the local image store even from a build stage, and an ARG or ENV
# is recorded in the image history. So never put a password in the index URL.
#
# The cache mount keeps pip's downloads (wheels and index pages, never the
# netrc: that is a secret mount) between builds of this project only (its own
# id), so a changed dependency list downloads only what is new.
FROM {{base_image}} AS manifest
WORKDIR /manifest
RUN --mount=type=bind,source=pyproject.toml,target=/src/pyproject.toml \
    cd /src && {{read_pyproject}}

FROM {{base_image}} AS deps
# The index URLs (without credentials) as build arguments; pip reads them from
# the environment. PIP_INDEX_URL replaces PyPI: the build backend must be on
# that index too.
ARG PIP_INDEX_URL
ARG PIP_EXTRA_INDEX_URL
ENV PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python3 -m venv /opt/venv
# pip reads /root/.netrc and matches its `machine` on the index's host name
# (without the port).
RUN {{deps_mounts}} \
    --mount=type=cache,target=/root/.cache/pip,id=shipimg-pip-{{cache_id}},sharing=locked \
    --mount=type=secret,id=netrc,target=/root/.netrc,required=true \
    /opt/venv/bin/pip install {{deps_install}}

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
    /opt/venv/bin/pip install --no-deps --no-index --no-cache-dir \
    --disable-pip-version-check /wheels/*.whl
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1
# Run as nobody; use another user if the service needs one.
USER 65534:65534
CMD {{cmd}}

# Written by `shipimg init` for a pip project (pyproject.toml with any PEP 517
# build backend). Two stages: the build stage installs the project and its
# dependencies into a virtualenv at /opt/venv; the final stage copies only
# that virtualenv, so no source, build tool or cache ships.
#
# Why the secret mount: the private index's credentials reach pip only as the
# BuildKit secret `netrc`, mounted at /root/.netrc for the one RUN that
# installs (shipimg serves your netrc as that secret; plain docker needs
# `--secret id=netrc,src=FILE`). A secret mount is kept in no layer, no build
# cache entry and no image. A COPY of the file would live on in the build
# cache and the local image store even from a build stage, and an ARG or ENV
# is recorded in the image history. So never put a password in the index URL.
FROM {{base_image}} AS build
# The index URLs (without credentials) as build arguments; pip reads them from
# the environment. PIP_INDEX_URL replaces PyPI: the build backend (e.g.
# setuptools) must be on that index too.
ARG PIP_INDEX_URL
ARG PIP_EXTRA_INDEX_URL
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
RUN python3 -m venv /opt/venv
WORKDIR /app
# The whole build context: .dockerignore keeps out virtualenvs, caches, .git
# and credential files.
COPY . .
# pip reads /root/.netrc and matches its `machine` on the index's host name
# (without the port).
RUN --mount=type=secret,id=netrc,target=/root/.netrc,required=true \
    /opt/venv/bin/pip install .

# The same base image, so /opt/venv's python symlink finds the same interpreter.
FROM {{base_image}}
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1
# Run as nobody; use another user if the service needs one.
USER 65534:65534
CMD {{cmd}}

#!/usr/bin/env bash
# Build the Triage container image with buildah: no Docker engine, no registry, no network inside the build.
#
#   1. buildah and debootstrap are installed with apt-get when missing (needs root);
#   2. the base: $BASE when given; else the Dockerfile's default (an official Python 3.11 slim image) when it is
#      in local storage; else a Debian bookworm minbase with its python3 (3.11), built here once with
#      debootstrap and imported as $LOCAL_BASE (about a minute);
#   3. triage-router (this working tree) and its runtime dependencies as wheels in .build/wheels, built on the
#      host with the venv's pip at the versions the venv has (what the tests ran against);
#   4. `buildah build` of ./Dockerfile, which installs from those wheels only (pip --no-index).
#
# Environment: IMAGE (default localhost/triage:latest; also tagged with the project version), BASE, LOCAL_BASE,
# PYTHON (default .venv/bin/python), DEBIAN_MIRROR (default: the host's apt mirror, else debootstrap's own).
set -euo pipefail

cd "$(dirname "$0")/../.."
IMAGE=${IMAGE:-localhost/triage:latest}
LOCAL_BASE=${LOCAL_BASE:-localhost/triage-base:bookworm}
PYTHON=${PYTHON:-.venv/bin/python}
WHEELS=.build/wheels
ROOTFS=
trap 'rm -rf "$ROOTFS"' EXIT

say() { printf 'make image: %s\n' "$*" >&2; }

ensure_tools() {
    local missing=()
    command -v buildah >/dev/null || missing+=(buildah)
    command -v debootstrap >/dev/null || missing+=(debootstrap)
    [[ -e /usr/share/keyrings/debian-archive-keyring.gpg ]] || missing+=(debian-archive-keyring)
    ((${#missing[@]} == 0)) && return
    if ((EUID != 0)); then
        say "missing ${missing[*]}; install them (apt-get install ${missing[*]}) or run as root"
        exit 2
    fi
    say "installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

have_image() { buildah inspect --type image "$1" >/dev/null 2>&1; }

# The host's own Debian mirror (the one apt-get just used), so debootstrap reaches what apt reaches.
host_mirror() {
    local f
    for f in /etc/apt/sources.list.d/debian.sources /etc/apt/sources.list; do
        [[ -r $f ]] || continue
        awk '/^URIs:/ && $2 !~ /security/ {print $2; exit} $1 == "deb" && $3 == "bookworm" {print $2; exit}' "$f"
        return
    done
}

build_local_base() {
    local started rootfs mirror ctr mnt
    started=$SECONDS
    rootfs=$(mktemp -d /var/tmp/triage-base.XXXXXX)
    ROOTFS=$rootfs  # removed on exit, also when debootstrap fails
    mirror=${DEBIAN_MIRROR:-$(host_mirror)}
    say "building the local base $LOCAL_BASE (debootstrap --variant=minbase bookworm${mirror:+ from $mirror})"
    debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
        bookworm "$rootfs" ${mirror:+"$mirror"} >/dev/null
    chroot "$rootfs" apt-get clean
    rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/debconf/*-old "$rootfs"/var/log/* \
        "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/* "$rootfs"/usr/share/locale/*
    ctr=$(buildah from scratch)
    mnt=$(buildah mount "$ctr")
    cp -a "$rootfs"/. "$mnt"/
    buildah umount "$ctr" >/dev/null
    buildah config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin --env LANG=C.UTF-8 \
        --cmd '["python3"]' --label org.opencontainers.image.title=triage-base \
        --label org.opencontainers.image.description="Debian bookworm minbase with python3, python3-venv, ca-certificates" \
        "$ctr"
    buildah commit --quiet --rm "$ctr" "$LOCAL_BASE" >/dev/null
    rm -rf "$rootfs"
    say "local base built in $((SECONDS - started)) s"
}

choose_base() {
    if [[ -n ${BASE:-} ]]; then
        return  # given: buildah pulls it if it is not local
    fi
    BASE=$(sed -n 's/^ARG BASE=//p' Dockerfile)
    if have_image "$BASE"; then
        return
    fi
    say "$BASE is not in local storage (no registry here); using $LOCAL_BASE"
    BASE=$LOCAL_BASE
    have_image "$BASE" || build_local_base
}

build_wheels() {
    local started=$SECONDS
    if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
        say "$PYTHON is not Python 3.11: the wheels must match the image's interpreter (3.11)"
        exit 2
    fi
    rm -rf "$WHEELS"
    mkdir -p "$WHEELS"
    # Pin every dependency to the version installed in the venv (only name==version lines can constrain).
    "$PYTHON" -m pip freeze --exclude-editable | grep -E '^[A-Za-z0-9._-]+==' >.build/constraints.txt
    "$PYTHON" -m pip wheel --quiet --disable-pip-version-check --wheel-dir "$WHEELS" \
        --constraint .build/constraints.txt .
    say "$(find "$WHEELS" -name '*.whl' | wc -l) wheels in $WHEELS in $((SECONDS - started)) s"
}

ensure_tools
choose_base
build_wheels

version=$("$PYTHON" -c 'import tomllib; print(tomllib.load(open("pyproject.toml", "rb"))["project"]["version"])')
revision=$(git rev-parse HEAD 2>/dev/null || echo unknown)
git diff --quiet HEAD -- 2>/dev/null || revision="$revision-dirty"
image_id() { buildah inspect --type image --format '{{.FromImageID}}' "$1" 2>/dev/null || true; }
previous=$(image_id "$IMAGE")
started=$SECONDS
say "building $IMAGE from $BASE"
# No --layers: one layer on top of the base and no cache images piling up (the whole build takes seconds).
buildah build --isolation chroot --pull=missing \
    --build-arg BASE="$BASE" --build-arg VERSION="$version" --build-arg REVISION="$revision" \
    --build-arg CREATED="$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
    --tag "$IMAGE" --tag "${IMAGE%:*}:$version" --file Dockerfile .
say "image built in $((SECONDS - started)) s"
current=$(image_id "$IMAGE")
if [[ -n $previous && $previous != "$current" ]]; then
    buildah rmi "$previous" >/dev/null 2>&1 || true  # the last build's image, now untagged (kept if in use)
fi
buildah images "${IMAGE%:*}"

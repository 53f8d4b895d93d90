#!/bin/sh
# A stand-in for kubectl in tests of scripts that create Secrets, with the Job's RBAC: it may
# create Secrets and read none. State lives in $FAKE_KUBE: secrets/<name>/<key> holds a Secret's
# values; race-<name> makes `create` answer AlreadyExists (another creator won); fail-<name>
# makes `create` fail. Every call is appended to calls.log.
echo "$*" >> "$FAKE_KUBE/calls.log"
case "$1 $2" in
  "get secret")
    echo "Error from server (Forbidden): secrets \"$3\" is forbidden: cannot get resource \"secrets\"" >&2
    exit 1 ;;
  "create secret")
    name=$4
    dir=${5#--from-file=}
    if [ -d "$FAKE_KUBE/secrets/$name" ] || [ -e "$FAKE_KUBE/race-$name" ]; then
      echo "error: failed to create secret secrets \"$name\" already exists" >&2
      exit 1
    fi
    if [ -e "$FAKE_KUBE/fail-$name" ]; then
      echo "error: failed to create secret secrets is forbidden: User cannot create resource" >&2
      exit 1
    fi
    mkdir -p "$FAKE_KUBE/secrets/$name"
    cp "$dir"/* "$FAKE_KUBE/secrets/$name/"
    echo "secret/$name created"
    exit 0 ;;
esac
echo "fake kubectl: unexpected call: $*" >&2
exit 3

#!/usr/bin/env bash
# Validate the deployment files (part of `make lint`; docs/SCALE.md, "Verification"):
#
#   Dockerfile                            hadolint
#   deploy/kubernetes/*.yaml              yamllint; kubernetes-validate --strict against the
#                                         Kubernetes JSON schemas of 1.29 (the oldest version
#                                         the Jobs need) and 1.37; the kustomize build too
#                                         when kubectl is installed
#   deploy/github-actions/*.yml           yamllint; check-jsonschema against the GitHub
#                                         Actions workflow schema (vendored in the package)
#   all of them                           scripts/check_deploy.py: cross-field rules no schema
#                                         can express (FACTORY_SHARD_COUNT = completions, …)
#
# The validators come from PyPI (versions pinned in scripts/lint-deploy-requirements.txt) and
# go into .venv-lint/ (git-ignored), reinstalled only when that file changes. Nothing else is
# fetched: the schemas ship inside the packages. Exit 1 on any problem.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

VENV=.venv-lint
REQ=scripts/lint-deploy-requirements.txt
K8S_VERSIONS=(1.29.0 1.37.0)

req_hash=$(sha256sum "$REQ" | cut -d' ' -f1)
if [[ ! -x $VENV/bin/python || $(cat "$VENV/.requirements.sha256" 2>/dev/null) != "$req_hash" ]]; then
  echo "lint-deploy: installing validators into $VENV/ ($REQ)"
  if ! python3 -m venv --clear "$VENV" 2>/dev/null; then
    # Debian's python3 has no venv module until python3-venv is installed.
    if [[ $(id -u) -eq 0 ]]; then
      apt-get update -q
      DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends python3-venv
      python3 -m venv --clear "$VENV"
    else
      echo "lint-deploy: python3 -m venv failed; as root: apt-get install -y python3-venv" >&2
      exit 1
    fi
  fi
  "$VENV/bin/pip" install -q --disable-pip-version-check -r "$REQ"
  echo "$req_hash" > "$VENV/.requirements.sha256"
fi
bin=$VENV/bin

status=0
step() { echo "lint-deploy: $*"; }
run() { "$@" || status=1; }

step "hadolint Dockerfile"
run "$bin/hadolint" Dockerfile

step "yamllint deploy/"
run "$bin/yamllint" --strict -d '{extends: default, rules: {line-length: {max: 110},
  document-start: disable, truthy: {check-keys: false}, comments: {min-spaces-from-content: 1}}}' deploy/

mapfile -t k8s < <(find deploy/kubernetes -name '*.yaml' ! -name kustomization.yaml | sort)
for v in "${K8S_VERSIONS[@]}"; do
  step "kubernetes-validate --strict -k $v (${#k8s[@]} files)"
  run "$bin/kubernetes-validate" --strict --quiet -k "$v" "${k8s[@]}"
done

if command -v kubectl >/dev/null 2>&1; then
  step "kubectl kustomize deploy/kubernetes | kubernetes-validate --strict"
  built=$(mktemp --suffix=.yaml)
  trap 'rm -f "$built"' EXIT
  if kubectl kustomize deploy/kubernetes > "$built"; then
    run "$bin/kubernetes-validate" --strict --quiet -k "${K8S_VERSIONS[-1]}" "$built"
  else
    status=1
  fi
else
  step "kubectl not installed: kustomize build not checked"
fi

step "check-jsonschema --builtin-schema vendor.github-workflows deploy/github-actions/*.yml"
run "$bin/check-jsonschema" --builtin-schema vendor.github-workflows deploy/github-actions/*.yml

step "check_deploy.py (cross-field rules)"
run "$bin/python" scripts/check_deploy.py

if ((status)); then
  echo "lint-deploy: FAILED" >&2
else
  echo "lint-deploy: OK"
fi
exit "$status"

#!/usr/bin/env bash
# Deploy Enterprise Push to one environment: resource group, Bicep, code, smoke check. Safe to re-run.
#
#   infra/deploy.sh --env dev --resource-group rg-push-dev --location westeurope [options]
#
# Options:
#   --env NAME             parameters file infra/env/NAME.parameters.json (required)
#   --resource-group NAME  target resource group, created when missing (required)
#   --location REGION      region of the resource group (required; must offer Flex Consumption)
#   --subscription ID      subscription to use (default: the az CLI's current one)
#   --secrets-file PATH    extra parameters file with the PNS credentials (kept outside git)
#   --what-if              show az deployment group what-if first, then ask before deploying
#   --yes                  with --what-if: deploy without asking
#   --skip-infra           only publish code (and smoke-check)
#   --skip-code            only deploy infrastructure
#   --publisher zip|func   how to publish code (default: func when Core Tools is installed, else zip)
#   --dry-run              print every command without running any
# Environment: PYTHON (default python3) builds the zip; DEPLOY_PACKAGE (default .local/deploy/app.zip) is its path.
set -euo pipefail

if ((BASH_VERSINFO[0] < 4 || (BASH_VERSINFO[0] == 4 && BASH_VERSINFO[1] < 4))); then
  echo "deploy.sh: error: needs bash 4.4 or later (this is ${BASH_VERSION})" >&2
  exit 1
fi

readonly SCRIPT_DIR="$(cd "${BASH_SOURCE[0]%/*}" && pwd)"
readonly ROOT_DIR="${SCRIPT_DIR%/*}"
readonly DEPLOYMENT_PREFIX="enterprise-push"

env_name=""
resource_group=""
location=""
subscription=""
secrets_file=""
what_if=false
assume_yes=false
skip_infra=false
skip_code=false
publisher=""
dry_run=false

die() {
  printf 'deploy.sh: error: %s\n' "$*" >&2
  exit 1
}

usage() {
  sed -n "2,18p" "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

# Print a command to stderr in a form that can be pasted into a shell (like set -x), then run it unless this is
# a dry run.
run() {
  local quoted
  printf -v quoted '%q ' "$@"
  printf '+ %s\n' "${quoted% }" >&2
  if [[ "${dry_run}" == false ]]; then
    "$@"
  fi
}

# Like run, but for a command whose stdout the caller captures; in a dry run it yields the placeholder given first.
capture() {
  local placeholder="$1"
  shift
  local quoted
  printf -v quoted '%q ' "$@"
  printf '+ %s\n' "${quoted% }" >&2
  if [[ "${dry_run}" == true ]]; then
    printf '%s\n' "${placeholder}"
  else
    "$@"
  fi
}

while [[ $# -gt 0 ]]; do
  case "$1" in
    --env) env_name="${2:-}"; shift 2 ;;
    --resource-group) resource_group="${2:-}"; shift 2 ;;
    --location) location="${2:-}"; shift 2 ;;
    --subscription) subscription="${2:-}"; shift 2 ;;
    --secrets-file) secrets_file="${2:-}"; shift 2 ;;
    --what-if) what_if=true; shift ;;
    --yes) assume_yes=true; shift ;;
    --skip-infra) skip_infra=true; shift ;;
    --skip-code) skip_code=true; shift ;;
    --publisher) publisher="${2:-}"; shift 2 ;;
    --dry-run) dry_run=true; shift ;;
    -h | --help) usage; exit 0 ;;
    *) die "unknown option '$1' (see --help)" ;;
  esac
done

[[ -n "${env_name}" ]] || die "--env is required (one of: $(cd "${SCRIPT_DIR}/env" && ls -- *.parameters.json | sed 's/\.parameters\.json//' | tr '\n' ' '))"
[[ -n "${resource_group}" ]] || die "--resource-group is required"
[[ -n "${location}" ]] || die "--location is required"
readonly parameters_file="${SCRIPT_DIR}/env/${env_name}.parameters.json"
[[ -f "${parameters_file}" ]] || die "no parameters file for environment '${env_name}': ${parameters_file}"
if [[ -n "${secrets_file}" && ! -f "${secrets_file}" ]]; then
  die "secrets file not found: ${secrets_file}"
fi
case "${publisher}" in
  "") if command -v func >/dev/null 2>&1; then publisher=func; else publisher=zip; fi ;;
  zip | func) ;;
  *) die "--publisher must be zip or func, not '${publisher}'" ;;
esac

if [[ "${dry_run}" == false ]]; then
  command -v az >/dev/null 2>&1 || die "the Azure CLI (az) is not installed or not on PATH; install it, run 'az login', then retry (or use --dry-run to see the commands)"
  if [[ "${publisher}" == func ]]; then
    command -v func >/dev/null 2>&1 || die "--publisher func needs Azure Functions Core Tools (func) on PATH"
  fi
  az account show --output none >/dev/null 2>&1 || die "the Azure CLI is not logged in; run 'az login' (and 'az account set --subscription <id>'), then retry"
fi

subscription_args=()
if [[ -n "${subscription}" ]]; then
  subscription_args=(--subscription "${subscription}")
fi
readonly deployment_name="${DEPLOYMENT_PREFIX}-${env_name}"
parameter_args=(--parameters "@${parameters_file}")
if [[ -n "${secrets_file}" ]]; then
  parameter_args+=(--parameters "@${secrets_file}")
fi

if [[ "${skip_infra}" == false ]]; then
  run az group create "${subscription_args[@]}" --name "${resource_group}" --location "${location}" \
    --tags application=enterprise-push "environment=${env_name}" --output none

  if [[ "${what_if}" == true ]]; then
    run az deployment group what-if "${subscription_args[@]}" --resource-group "${resource_group}" \
      --name "${deployment_name}" --template-file "${SCRIPT_DIR}/main.bicep" "${parameter_args[@]}"
    if [[ "${dry_run}" == false && "${assume_yes}" == false ]]; then
      [[ -t 0 ]] || die "--what-if without --yes needs a terminal to confirm; re-run with --yes to deploy"
      read -r -p "Deploy these changes? [y/N] " answer
      [[ "${answer}" == [yY]* ]] || { echo "deploy.sh: nothing deployed"; exit 0; }
    fi
  fi

  run az deployment group create "${subscription_args[@]}" --resource-group "${resource_group}" \
    --name "${deployment_name}" --template-file "${SCRIPT_DIR}/main.bicep" "${parameter_args[@]}" --output none
fi

app_name="$(capture 'FUNCTION_APP_NAME' az deployment group show "${subscription_args[@]}" \
  --resource-group "${resource_group}" --name "${deployment_name}" \
  --query properties.outputs.functionAppName.value --output tsv)"
app_url="$(capture 'https://FUNCTION_APP_HOST' az deployment group show "${subscription_args[@]}" \
  --resource-group "${resource_group}" --name "${deployment_name}" \
  --query properties.outputs.functionAppUrl.value --output tsv)"
[[ -n "${app_name}" && -n "${app_url}" ]] || die "deployment '${deployment_name}' has no functionAppName/functionAppUrl outputs; deploy the infrastructure first"

if [[ "${skip_code}" == false ]]; then
  if [[ "${publisher}" == func ]]; then
    # Core Tools reads .funcignore itself and asks for a remote build (dependencies installed in Azure).
    (
      run cd "${ROOT_DIR}"
      run func azure functionapp publish "${app_name}" --python
    )
  else
    readonly package="${DEPLOY_PACKAGE:-${ROOT_DIR}/.local/deploy/app.zip}"
    run "${PYTHON:-python3}" "${SCRIPT_DIR}/package_app.py" --root "${ROOT_DIR}" --out "${package}"
    run az functionapp deployment source config-zip "${subscription_args[@]}" --resource-group "${resource_group}" \
      --name "${app_name}" --src "${package}" --build-remote true
  fi
fi

# The first request after a deploy can wait for a cold start and the remote build: retry for about two minutes.
run curl --fail --silent --show-error --retry 12 --retry-delay 10 --retry-all-errors --max-time 30 \
  "${app_url}/api/health"
if [[ "${dry_run}" == true ]]; then
  echo "deploy.sh: dry run, nothing was run"
else
  printf '\ndeploy.sh: %s is deployed at %s\n' "${app_name}" "${app_url}"
fi

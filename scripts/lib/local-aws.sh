# Shared by scripts/test, scripts/demo and scripts/bench: the project-local Python tools
# (LocalStack for CloudWatch/SNS/SQS, moto for Organizations, cargo-lambda) and the processes they start, each
# recorded under .run/ and stopped by PID.
# shellcheck shell=bash

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV="$ROOT/.venv"
RUN_DIR="$ROOT/.run"
LOCALSTACK_PORT="${LOCALSTACK_PORT:-4566}"
export LOCALSTACK_URL="http://127.0.0.1:${LOCALSTACK_PORT}"

# LocalStack 4.13.1 is the last release that runs on Python 3.11 and serves CloudWatch's
# RPCv2-CBOR protocol to the current SDK; it installs and starts without Docker with these
# pins beside it (found by trying on this project's machines, 2026).
PYTHON_PACKAGES=(
  'localstack-core[runtime]==4.13.1' 'cbor2<6' 'pyopenssl==24.2.1' 'cryptography==43.0.3'
  'service_identity<24.2' 'cargo-lambda==1.9.2'
  # moto_server (moto-ext comes with LocalStack) serves AWS Organizations, which LocalStack's
  # free edition lacks; its HTTP server needs Flask.
  'flask==3.1.3' 'flask-cors==6.0.5'
)

python_311() {
  for candidate in python3.11 python3; do
    if command -v "$candidate" >/dev/null && "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
      echo "$candidate"; return
    fi
  done
  echo "Python 3.11 is needed for LocalStack 4.13.1" >&2; return 1
}

# Creates venv DIR with exactly PACKAGES, once: a stamp file records what was installed.
ensure_python_venv() {
  local dir="$1" what="$2"; shift 2
  local stamp="$dir/.installed"
  if [[ -f "$stamp" && "$(cat "$stamp")" == "$*" ]]; then return; fi
  echo "== installing $what into $dir"
  "$(python_311)" -m venv "$dir"
  "$dir/bin/pip" install --quiet --disable-pip-version-check "$@"
  echo "$*" >"$stamp"
}

ensure_venv() {
  ensure_python_venv "$VENV" "LocalStack and cargo-lambda" "${PYTHON_PACKAGES[@]}"
}

# The SAM CLI and cfn-lint live in a venv of their own: their pins conflict with LocalStack's.
SAM_VENV="$ROOT/.venv-sam"
SAM_PACKAGES=('aws-sam-cli==1.170.0' 'cfn-lint==1.58.0')

ensure_sam_venv() {
  ensure_python_venv "$SAM_VENV" "the SAM CLI and cfn-lint" "${SAM_PACKAGES[@]}"
}

# The architecture sam build and the benchmarks use: arm64 (the template's default) when the
# aarch64 Rust target is or can be installed, else x86_64.
lambda_arch() {
  if rustup target list --installed 2>/dev/null | grep -q aarch64-unknown-linux-gnu \
     || rustup target add aarch64-unknown-linux-gnu >/dev/null 2>&1; then
    echo arm64
  else
    echo x86_64
  fi
}

# Puts the venv's cargo-lambda (and its zig) on PATH.
use_venv() { export PATH="$VENV/bin:$PATH"; }

stop_pidfile() {
  local file="$RUN_DIR/$1.pid"
  [[ -f "$file" ]] || return 0
  local pid; pid="$(cat "$file")"
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$file"
}

start_localstack() {
  mkdir -p "$RUN_DIR"
  stop_pidfile localstack
  echo "== starting LocalStack (CloudWatch, SNS, SQS, STS, EventBridge, CloudFormation, IAM) on $LOCALSTACK_URL"
  # DISABLE_EVENTS: no analytics calls to the outside (they hang shutdown on a closed network).
  GATEWAY_LISTEN="127.0.0.1:${LOCALSTACK_PORT}" SERVICES=cloudwatch,sns,sqs,sts,events,cloudformation,iam,s3 DISABLE_EVENTS=1 \
    SKIP_SSL_CERT_DOWNLOAD=1 LOCALSTACK_VOLUME_DIR="$RUN_DIR/localstack" \
    "$VENV/bin/python" -m localstack.runtime.main >"$RUN_DIR/localstack.log" 2>&1 &
  echo $! >"$RUN_DIR/localstack.pid"
  await_started localstack "LocalStack" localstack_healthy
}

localstack_healthy() {
  curl -fsS "$LOCALSTACK_URL/_localstack/health" 2>/dev/null | grep -q '"cloudwatch": "\(available\|running\)"'
}

# Waits (up to a minute) until CHECK... succeeds while the process recorded as NAME runs;
# else prints the end of its log and fails.
await_started() {
  local name="$1" what="$2"; shift 2
  for _ in $(seq 1 120); do
    "$@" 2>/dev/null && return 0
    kill -0 "$(cat "$RUN_DIR/$name.pid")" 2>/dev/null || break
    sleep 0.5
  done
  echo "$what did not start; its log:" >&2
  tail -40 "$RUN_DIR/$name.log" >&2
  return 1
}

stop_localstack() { stop_pidfile localstack; }

# AWS Organizations for the hub's target list: moto's server, on its own port.
MOTO_PORT="${MOTO_PORT:-4568}"
export ORGANIZATIONS_URL="http://127.0.0.1:${MOTO_PORT}"

start_organizations() {
  mkdir -p "$RUN_DIR"
  stop_pidfile organizations
  echo "== starting AWS Organizations (moto_server) on $ORGANIZATIONS_URL"
  "$VENV/bin/moto_server" -H 127.0.0.1 -p "$MOTO_PORT" >"$RUN_DIR/organizations.log" 2>&1 &
  echo $! >"$RUN_DIR/organizations.pid"
  await_started organizations "moto_server" curl -fsS -o /dev/null "$ORGANIZATIONS_URL/moto-api/"
}

stop_organizations() { stop_pidfile organizations; }

# boto3 as a second, independent client of the emulator: its botocore carries AWS's copy of
# the service model. 1.44.5 is the release emulator/model/ was taken from.
BOTO3_VENV="$ROOT/.venv-boto3"
BOTO3_PACKAGES=('boto3==1.44.5' 'botocore==1.44.5')

ensure_boto3_venv() {
  ensure_python_venv "$BOTO3_VENV" "boto3" "${BOTO3_PACKAGES[@]}"
}

# Shared by scripts/test, scripts/demo and scripts/bench-reconcile (source it): installs moto
# into the project-local .venv, and starts/stops a moto server on 127.0.0.1.

ensure_moto() {
  if [ ! -x .venv/bin/moto_server ]; then
    echo "==> installing moto[server] into .venv (once, about a minute)"
    python3 -m venv .venv
    .venv/bin/pip install --quiet --disable-pip-version-check 'moto[server]>=5.2,<6'
  fi
  # cfn-lint checks the templates `beanpole export cloudformation` writes (moto[server] brings
  # it today; named here so that the tests never depend on that).
  if [ ! -x .venv/bin/cfn-lint ]; then
    .venv/bin/pip install --quiet --disable-pip-version-check 'cfn-lint>=1,<2'
  fi
}

free_port() {
  .venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# start_moto: sets MOTO_PORT and MOTO_PID; stop_moto kills it.
start_moto() {
  MOTO_PORT=$(free_port)
  # PYTHONPATH: fixes where moto is not AWS (scripts/moto-fixes/sitecustomize.py says which).
  PYTHONPATH="$PWD/scripts/moto-fixes" MOTO_EC2_LOAD_DEFAULT_AMIS=false MOTO_IAM_LOAD_MANAGED_POLICIES=true \
    .venv/bin/moto_server -H 127.0.0.1 -p "$MOTO_PORT" >/dev/null 2>&1 &
  MOTO_PID=$!
  for _ in $(seq 1 100); do
    if ! kill -0 "$MOTO_PID" 2>/dev/null; then
      echo "moto_server exited before listening on 127.0.0.1:$MOTO_PORT" >&2
      return 1
    fi
    if .venv/bin/python -c "import socket,sys; socket.create_connection(('127.0.0.1',$MOTO_PORT),0.2)" 2>/dev/null; then
      return 0
    fi
    sleep 0.1
  done
  echo "moto_server did not listen on 127.0.0.1:$MOTO_PORT within 10 s" >&2
  return 1
}

stop_moto() {
  if [ -n "${MOTO_PID:-}" ]; then
    kill "$MOTO_PID" 2>/dev/null || true
    wait "$MOTO_PID" 2>/dev/null || true
  fi
}

# Fake credentials and no shared config: nothing here can reach a real AWS account.
use_local_aws() {
  export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_SESSION_TOKEN=testing
  export AWS_REGION=us-east-2 AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
  export AWS_EC2_METADATA_DISABLED=true
  unset AWS_PROFILE
  export AWS_ENDPOINT_URL="http://127.0.0.1:$1"
}

create_zone() {
  .venv/bin/python - "$1" <<'PY'
import os, sys, boto3
r53 = boto3.client("route53", endpoint_url=os.environ["AWS_ENDPOINT_URL"], region_name="us-east-1")
r53.create_hosted_zone(Name=sys.argv[1], CallerReference="beanpole-" + sys.argv[1])
PY
}

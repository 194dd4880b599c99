# Shared by scripts/test, scripts/demo and the benchmarks (source it): what the platform engine
# needs on this machine to run applications for real: nginx, Apache, Python 3.9+ with venv,
# bubblewrap (each instance in its own filesystem view, with EB's paths), and a wheelhouse of the Python packages the example applications use (so that each test's
# `pip install` reads local files instead of the package index).

ensure_platform() {
  local missing=()
  command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || missing+=(nginx-light)
  command -v apache2 >/dev/null || [ -x /usr/sbin/apache2 ] || command -v httpd >/dev/null || missing+=(apache2)
  python3 -c 'import venv, ensurepip' 2>/dev/null || missing+=(python3-venv)
  command -v bwrap >/dev/null || missing+=(bubblewrap)
  if [ ${#missing[@]} -gt 0 ]; then
    if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
      echo "==> installing ${missing[*]} (apt-get)"
      apt-get install -y -q "${missing[@]}" >/dev/null 2>&1 || {
        apt-get update -q >/dev/null 2>&1
        apt-get install -y -q "${missing[@]}" >/dev/null
      }
    elif command -v apt-get >/dev/null && command -v sudo >/dev/null; then
      echo "==> installing ${missing[*]} (sudo apt-get)"
      sudo apt-get install -y -q "${missing[@]}" >/dev/null 2>&1 || {
        sudo apt-get update -q >/dev/null 2>&1
        sudo apt-get install -y -q "${missing[@]}" >/dev/null
      }
    else
      echo "The platform tests need ${missing[*]}: install them with your package manager (Debian/Ubuntu: apt-get install ${missing[*]})" >&2
      return 1
    fi
  fi
  # Services the packages start on their own would hold port 80: Beanpole runs its own.
  if command -v service >/dev/null; then
    service nginx stop >/dev/null 2>&1 || true
    service apache2 stop >/dev/null 2>&1 || true
  fi
  # The AWS CLI the engine calls on an instance (AL2023 has v2); on this machine the local
  # fleet and its tests give it v1, pointed at moto.
  if [ -x .venv/bin/pip ] && [ ! -x .venv/bin/aws ]; then
    echo "==> installing the AWS CLI into .venv (what the engine calls on an instance)"
    .venv/bin/pip install --quiet --disable-pip-version-check 'awscli>=1.29,<2'
  fi
  # The marker holds the list the wheelhouse was made for: a longer list downloads again.
  local wheels="flask gunicorn django>=4.2,<5.2 boto3"
  if [ "$(cat target/wheelhouse/.complete 2>/dev/null)" != "$wheels" ]; then
    echo "==> downloading the example applications' Python packages into target/wheelhouse"
    mkdir -p target/wheelhouse
    # shellcheck disable=SC2086 # one word per package
    python3 -m pip download --quiet --disable-pip-version-check -d target/wheelhouse $wheels \
      && echo "$wheels" >target/wheelhouse/.complete
  fi
}

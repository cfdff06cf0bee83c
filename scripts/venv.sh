# Shared by scripts/run and scripts/test: a project virtual environment, reinstalled only when a
# requirements file changes.
ensure_venv() {
  local requirements=$1 python=${PYTHON:-python3} stamp
  if [ ! -x .venv/bin/python ]; then
    "$python" -m venv .venv
  fi
  stamp=".venv/.installed-$(cat requirements*.txt | sha256sum | cut -c1-16)-$(basename "$requirements")"
  if [ ! -f "$stamp" ]; then
    .venv/bin/python -m pip install --quiet --disable-pip-version-check -r "$requirements"
    touch "$stamp"
  fi
}

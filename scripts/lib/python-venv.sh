# Shared by the README's commands: a virtual environment of the test script's own, at
# .venv-test/, with the pinned Python packages of scripts/requirements-celery.txt (a real Celery
# for the bridge's tests). Re-created when the requirements change. Needs deps.sh.
ensure_test_venv() {
    local venv=.venv-test requirements=scripts/requirements-celery.txt
    if ! python3 -m venv --help >/dev/null 2>&1; then ensure_packages python3 python3-venv || return 1; fi
    if [ -x "$venv/bin/python" ] && cmp -s "$requirements" "$venv/requirements.txt"; then return 0; fi
    echo "Creating $venv (pinned Celery for the bridge tests)" >&2
    rm -rf "$venv"
    python3 -m venv "$venv" || return 1
    "$venv/bin/pip" install --quiet --disable-pip-version-check --no-deps -r "$requirements" || return 1
    cp "$requirements" "$venv/requirements.txt"
}

# Shared by the README's commands: a virtual environment of the test script's own, at
# .venv-test/, with the pinned Python packages of scripts/requirements-celery.txt (a real Celery
# for the bridge's tests) and scripts/requirements-dashboard.txt (Selenium for the dashboard's).
# Re-created when either file changes. Needs deps.sh.
ensure_test_venv() {
    local venv=.venv-test
    local files=(scripts/requirements-celery.txt scripts/requirements-dashboard.txt)
    if ! python3 -m venv --help >/dev/null 2>&1; then ensure_packages python3 python3-venv || return 1; fi
    if [ -x "$venv/bin/python" ] && cat "${files[@]}" | cmp -s - "$venv/requirements.txt"; then return 0; fi
    echo "Creating $venv (pinned Celery and Selenium for the tests)" >&2
    rm -rf "$venv"
    python3 -m venv "$venv" || return 1
    local f
    for f in "${files[@]}"; do
        "$venv/bin/pip" install --quiet --disable-pip-version-check --no-deps -r "$f" || return 1
    done
    cat "${files[@]}" > "$venv/requirements.txt"
}

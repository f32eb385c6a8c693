#!/usr/bin/env bash
# Install and run a local Label Studio for the review loop, non-interactively.
#
#   scripts/labelstudio.sh install   create the virtualenv and install the pinned label-studio (reused when present)
#   scripts/labelstudio.sh start     install if needed, start in the background, wait for /health
#   scripts/labelstudio.sh stop      stop the server started by `start` (by its pid file)
#   scripts/labelstudio.sh status    exit 0 when /health answers
#
# Label Studio runs from its own virtualenv (it pins its own Django), never the project's. Settings come from the
# environment; the credentials are generated once into $LABEL_STUDIO_DATA_DIR/credentials.env (mode 600) when the
# environment does not provide them, so a local `make labelstudio` needs no set-up.
#
#   LABEL_STUDIO_PORT       port on 127.0.0.1 (default 8089)
#   LABEL_STUDIO_DATA_DIR   database, media, pid and log (default var/labelstudio)
#   LABEL_STUDIO_VENV       virtualenv (default var/labelstudio-venv)
#   LABEL_STUDIO_USERNAME   admin e-mail (default admin@example.org)
#   LABEL_STUDIO_PASSWORD   admin password
#   LABEL_STUDIO_API_KEY    admin legacy API token (becomes LABEL_STUDIO_USER_TOKEN)
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
LABEL_STUDIO_VERSION="1.23.2"
PYTHON_FOR_LS="${LABEL_STUDIO_PYTHON:-$(command -v python3.11 || command -v python3)}"
VENV="${LABEL_STUDIO_VENV:-$ROOT/var/labelstudio-venv}"
DATA_DIR="${LABEL_STUDIO_DATA_DIR:-$ROOT/var/labelstudio}"
PORT="${LABEL_STUDIO_PORT:-8089}"
HOST=127.0.0.1
START_TIMEOUT="${LABEL_STUDIO_START_TIMEOUT:-300}"

log() { printf '[labelstudio] %s\n' "$*" >&2; }

install() {
    mkdir -p "$(dirname "$VENV")"
    # Several callers (make, a test session) may install at once: one installs, the others wait.
    exec 9>"$VENV.lock"
    flock 9
    if [[ -x "$VENV/bin/label-studio" && -f "$VENV/.installed-$LABEL_STUDIO_VERSION" ]]; then
        flock -u 9
        return 0
    fi
    log "installing label-studio==$LABEL_STUDIO_VERSION into $VENV (takes a few minutes the first time)"
    test -x "$VENV/bin/python" || "$PYTHON_FOR_LS" -m venv "$VENV"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "label-studio==$LABEL_STUDIO_VERSION" \
        2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)
    touch "$VENV/.installed-$LABEL_STUDIO_VERSION"
    flock -u 9
}

credentials() {
    mkdir -p "$DATA_DIR"
    chmod 700 "$DATA_DIR"
    local file="$DATA_DIR/credentials.env"
    if [[ ! -f "$file" ]]; then
        umask 077
        {
            echo "LABEL_STUDIO_USERNAME=${LABEL_STUDIO_USERNAME:-admin@example.org}"
            echo "LABEL_STUDIO_PASSWORD=${LABEL_STUDIO_PASSWORD:-$("$PYTHON_FOR_LS" -c 'import secrets; print(secrets.token_urlsafe(12))')}"
            echo "LABEL_STUDIO_API_KEY=${LABEL_STUDIO_API_KEY:-$("$PYTHON_FOR_LS" -c 'import secrets; print(secrets.token_hex(20))')}"
        } >"$file"
    fi
    # The environment wins over the file; the file fills what the environment leaves out.
    local saved_user="${LABEL_STUDIO_USERNAME:-}" saved_pass="${LABEL_STUDIO_PASSWORD:-}" saved_key="${LABEL_STUDIO_API_KEY:-}"
    # shellcheck disable=SC1090
    source "$file"
    export LABEL_STUDIO_USERNAME="${saved_user:-$LABEL_STUDIO_USERNAME}"
    export LABEL_STUDIO_PASSWORD="${saved_pass:-$LABEL_STUDIO_PASSWORD}"
    export LABEL_STUDIO_API_KEY="${saved_key:-$LABEL_STUDIO_API_KEY}"
}

healthy() {
    curl -fsS --max-time 2 "http://$HOST:$PORT/health" >/dev/null 2>&1
}

pid_alive() {
    [[ -f "$DATA_DIR/labelstudio.pid" ]] && kill -0 "$(cat "$DATA_DIR/labelstudio.pid")" 2>/dev/null
}

start() {
    install
    credentials
    if pid_alive && healthy; then
        log "already running at http://$HOST:$PORT (pid $(cat "$DATA_DIR/labelstudio.pid"))"
        return 0
    fi
    if healthy; then
        log "port $PORT already answers /health but not with our pid file in $DATA_DIR; choose another LABEL_STUDIO_PORT"
        return 1
    fi
    log "starting Label Studio on http://$HOST:$PORT (data in $DATA_DIR)"
    (
        cd "$DATA_DIR"
        export LABEL_STUDIO_BASE_DATA_DIR="$DATA_DIR"
        export LABEL_STUDIO_USER_TOKEN="$LABEL_STUDIO_API_KEY"
        export LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN=true
        export LABEL_STUDIO_DISABLE_SIGNUP_WITHOUT_LINK=true
        # Offline: no version check, no analytics. Webhooks go to our app on localhost, which SSRF protection blocks.
        export LATEST_VERSION_CHECK=false
        export COLLECT_ANALYTICS=false
        export SSRF_PROTECTION_ENABLED=false
        export DJANGO_DB=sqlite
        export PYTHONUNBUFFERED=1
        unset DATABASE_URL
        # Blind review: one organization per reviewer, enforced by Label Studio (scripts/labelstudio_ext).
        export DJANGO_SETTINGS_MODULE=vitw_label_studio_settings
        export PYTHONPATH="$ROOT/scripts/labelstudio_ext"
        setsid nohup "$VENV/bin/label-studio" start --no-browser --internal-host "$HOST" --port "$PORT" \
            --data-dir "$DATA_DIR" --enable-legacy-api-token --log-level WARNING \
            >"$DATA_DIR/labelstudio.log" 2>&1 &
        echo $! >"$DATA_DIR/labelstudio.pid"
    )
    local deadline=$((SECONDS + START_TIMEOUT))
    until healthy; do
        if ! pid_alive; then
            log "Label Studio exited during start; last lines of $DATA_DIR/labelstudio.log:"
            tail -n 30 "$DATA_DIR/labelstudio.log" >&2
            return 1
        fi
        if ((SECONDS > deadline)); then
            log "no answer from http://$HOST:$PORT/health after ${START_TIMEOUT}s; see $DATA_DIR/labelstudio.log"
            return 1
        fi
        sleep 1
    done
    log "ready: http://$HOST:$PORT  login $LABEL_STUDIO_USERNAME (password in $DATA_DIR/credentials.env)"
}

stop() {
    if pid_alive; then
        local pid
        pid="$(cat "$DATA_DIR/labelstudio.pid")"
        # setsid made the server a process-group leader: stop the group (the server and its children).
        kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid"
        for _ in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
        kill -KILL -- "-$pid" 2>/dev/null || true
        log "stopped (pid $pid)"
    fi
    rm -f "$DATA_DIR/labelstudio.pid"
}

case "${1:-start}" in
    install) install ;;
    start) start ;;
    stop) stop ;;
    status) healthy ;;
    *)
        echo "usage: $0 install|start|stop|status" >&2
        exit 2
        ;;
esac

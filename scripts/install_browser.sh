#!/usr/bin/env bash
# Install the headless browser of the browser tests (tests/browser/): Debian's chromium and chromium-driver.
#
#   scripts/install_browser.sh     install what is missing (as root, non-interactively), then print both versions
#
# Idempotent: nothing is installed when /usr/bin/chromium and /usr/bin/chromedriver are already there. Only the
# distribution's packages are used: no browser build is downloaded from anywhere else.
set -euo pipefail

CHROMIUM=/usr/bin/chromium
CHROMEDRIVER=/usr/bin/chromedriver

log() { printf '[browser] %s\n' "$*" >&2; }

if [[ ! -x "$CHROMIUM" || ! -x "$CHROMEDRIVER" ]]; then
    if [[ "$(id -u)" != 0 ]]; then
        log "chromium and chromium-driver are missing; run this script as root (it installs them with apt-get)"
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    log "installing chromium and chromium-driver"
    # Several callers (make, CI) may install at once: apt's own lock would make the second one fail.
    exec 9>/tmp/install_browser.lock
    flock 9
    if [[ ! -x "$CHROMIUM" || ! -x "$CHROMEDRIVER" ]]; then
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends chromium chromium-driver fonts-dejavu-core >/dev/null
    fi
    flock -u 9
fi

# The launcher script warns about /dev/shm inside containers (the tests pass --disable-dev-shm-usage): not an error.
"$CHROMIUM" --version 2>/dev/null
"$CHROMEDRIVER" --version

#!/bin/sh
# Install headless Debian Chromium and its driver for the browser end-to-end test (tests/app/test_browser.py).
# Idempotent: does nothing when chromium, chromedriver and the font are already there. Needs root (apt-get).
set -eu
if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ] && [ -d /usr/share/fonts/truetype/wqy ]; then
    echo "chromium already installed: $(/usr/bin/chromium --version 2>/dev/null || echo unknown)"
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "install-browser.sh: must run as root to apt-get install chromium chromium-driver" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update
# a CJK font so screenshots of the Chinese UI are legible (the DOM checks do not need it)
apt-get install -y --no-install-recommends chromium chromium-driver fonts-wqy-microhei
/usr/bin/chromium --version

#!/bin/sh
# Install headless Debian Chromium and its driver for the browser end-to-end tests (tests/app/test_browser.py):
# packages chromium, chromium-driver and the CJK font fonts-wqy-microhei, about 120 MB to download and 450 MB
# installed. Idempotent: does nothing when they are already there. apt-get needs root; as any other user this
# prints how to install them and succeeds, and the browser tests are then skipped with the same advice (CI runs as
# root, sets CI=1, and there a missing browser fails the tests instead).
set -eu
if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ] && [ -d /usr/share/fonts/truetype/wqy ]; then
    echo "chromium already installed: $(/usr/bin/chromium --version 2>/dev/null || echo unknown)"
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "Chromium is not installed and installing it needs root, so the browser tests will be skipped." >&2
    echo "To run them: sudo .ci/install-browser.sh   (apt-get install chromium chromium-driver fonts-wqy-microhei)" >&2
    exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update
# a CJK font so screenshots of the Chinese UI are legible (the DOM checks do not need it)
apt-get install -y --no-install-recommends chromium chromium-driver fonts-wqy-microhei
/usr/bin/chromium --version

#!/usr/bin/env bash
# Install the Debian packages the service and its tests need, only those missing.
# Usage: scripts/install-system-deps.sh [run|test]
#   run  : what `make run` needs (libmagic, Tesseract with Chinese data, CJK font)
#   test : run + Chromium (e2e) + PostgreSQL server (integration tier)
set -euo pipefail
want=(libmagic1 tesseract-ocr tesseract-ocr-chi-sim tesseract-ocr-eng tesseract-ocr-osd fonts-wqy-zenhei poppler-utils)
if [ "${1:-run}" = "test" ]; then
  want+=(chromium postgresql)
fi
missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "Installing system packages: ${missing[*]}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

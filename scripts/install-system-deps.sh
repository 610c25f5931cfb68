#!/usr/bin/env bash
# Installs the Debian packages Vigil needs that are missing: redis-server (the embedded default and the
# tests), ffmpeg (video frames for agents and the fake webcam of the browser tests), chromium (browser tests).
# Usage: scripts/install-system-deps.sh [--no-browser]
set -euo pipefail

want=(redis-server:redis-server ffmpeg:ffmpeg)
[ "${1:-}" = "--no-browser" ] || want+=(chromium:chromium)

missing=()
for pair in "${want[@]}"; do
  command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair##*:}")
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "installing: ${missing[*]}" >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"

#!/bin/bash
# Installs what hubd needs to build, test and run, from Debian 12 packages. Run as root.
# Fast when everything is already there: apt is only called for what is missing.
set -euo pipefail
packages=(build-essential cmake pkg-config git
          libzmq3-dev libczmq-dev libsodium-dev libsqlite3-dev sqlite3 libcurl4-openssl-dev
          libjansson-dev libinih-dev libsystemd-dev libcmocka-dev
          clang libclang-rt-14-dev scdoc
          python3-aiosmtpd curl openssl procps mosquitto libmosquitto-dev systemd)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "deps: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

#!/usr/bin/env bash
# System packages the test suites need (real servers and real NetCDF clients).
# Installs them when run as root (or with sudo available); otherwise says what to install.
set -euo pipefail
PKGS=(
  redis-server unzip netcdf-bin nco cdo curl openssl nginx-light docker-compose systemd
  python3-netcdf4 python3-xarray python3-fsspec python3-aiohttp python3-requests python3-h5netcdf python3-boto3
  python3-pandas python3-pip python3-setuptools python3-nbclient python3-ipykernel python3-tqdm mypy
  jupyterhub
)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then exit 0; fi
echo "installing system packages: ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null; then SUDO="sudo"; else
    echo "missing system packages: ${missing[*]}" >&2
    echo "install them with: apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"

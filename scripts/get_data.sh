#!/usr/bin/env bash
# Fashion-MNIST from Debian's package when it is missing and apt is usable; otherwise the code falls
# back to torchvision's download at first use (or --data_dir=DIR).
set -u
F=/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz
[ -f "$F" ] && exit 0
if command -v apt-get >/dev/null 2>&1; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1 && SUDO="sudo -n"
  if [ "$(id -u)" -eq 0 ] || [ -n "$SUDO" ]; then
    echo "[setup] installing Fashion-MNIST (apt-get install dataset-fashion-mnist)"
    $SUDO apt-get update -qq >/dev/null 2>&1 || true
    $SUDO apt-get install -y -qq dataset-fashion-mnist >/dev/null && exit 0
  fi
fi
echo "[setup] Fashion-MNIST not installed; it will be downloaded by torchvision at first use"
exit 0

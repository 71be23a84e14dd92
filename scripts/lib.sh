# Shared helpers for Ferrite's scripts (sourced, not run).

step() { printf '\n\033[1m== [%ss] %s\033[0m\n' "$SECONDS" "$*"; }

# Installs rustup targets that are missing (rust-toolchain.toml pins the toolchain).
ensure_rust_targets() {
  local installed
  installed=$(rustup target list --installed 2>/dev/null || true)
  for t in "$@"; do
    if ! grep -qx "$t" <<<"$installed"; then
      echo "installing Rust target $t"
      rustup target add "$t"
    fi
  done
}

# Installs qemu-system-arm when missing (apt-get as root; otherwise prints the command).
ensure_qemu() {
  if command -v qemu-system-arm >/dev/null 2>&1; then return 0; fi
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing qemu-system-arm"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq qemu-system-arm >/dev/null
  else
    echo "qemu-system-arm is missing; install it with: sudo apt-get install -y qemu-system-arm" >&2
    return 1
  fi
}

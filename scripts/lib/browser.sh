# Debian's chromium for the report's browser test: installed with apt when missing (the test
# machine is Debian; CI runs as root, elsewhere sudo is used), then exported as CHROMIUM for
# tests/tests/cli.rs. Headless runs need no display and leave no process behind.

ensure_chromium() {
  local browser
  browser="$(command -v chromium || true)"
  if [[ -z "$browser" ]]; then
    echo "installing Debian's chromium (headless browser for the report test)"
    local sudo=""
    if [[ "$(id -u)" != 0 ]]; then sudo="sudo"; fi
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium fonts-dejavu-core \
      || { $sudo apt-get update && $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium fonts-dejavu-core; }
    browser="$(command -v chromium)"
  fi
  export CHROMIUM="$browser"
}

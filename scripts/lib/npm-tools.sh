# Node tools the checks need, from the npm registry into the project's own .tools/npm (never
# global): asl-validator, the Amazon States Language validator, for the hub's state machine.
# Source this file; it defines functions only.

NPM_TOOLS="${NPM_TOOLS:-$PWD/.tools/npm}"
ASL_VALIDATOR_VERSION="4.0.0"

ensure_asl_validator() {
  local installed
  installed="$(node -p "require('$NPM_TOOLS/node_modules/asl-validator/package.json').version" 2>/dev/null || true)"
  if [[ "$installed" != "$ASL_VALIDATOR_VERSION" ]]; then
    echo "installing asl-validator $ASL_VALIDATOR_VERSION (npm) into $NPM_TOOLS"
    mkdir -p "$NPM_TOOLS"
    npm install --prefix "$NPM_TOOLS" --no-audit --no-fund --loglevel=error "asl-validator@$ASL_VALIDATOR_VERSION" >/dev/null
  fi
  ASL_VALIDATOR="$NPM_TOOLS/node_modules/.bin/asl-validator"
}

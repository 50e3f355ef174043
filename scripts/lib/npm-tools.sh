# Node tools the checks need, from the npm registry into the project's own .tools/npm (never
# global): asl-validator, the Amazon States Language validator, for the hub's state machine;
# remark with remark-validate-links, which checks relative links and their anchors offline.
# Source this file; it defines functions only.

NPM_TOOLS="${NPM_TOOLS:-$PWD/.tools/npm}"
ASL_VALIDATOR_VERSION="4.0.0"
REMARK_CLI_VERSION="12.0.1"
REMARK_VALIDATE_LINKS_VERSION="13.1.0"

# Installs `package@version` into $NPM_TOOLS unless that version is there already.
npm_tool() {
  local package="$1" version="$2" installed
  installed="$(node -p "require('$NPM_TOOLS/node_modules/$package/package.json').version" 2>/dev/null || true)"
  if [[ "$installed" != "$version" ]]; then
    echo "installing $package $version (npm) into $NPM_TOOLS"
    mkdir -p "$NPM_TOOLS"
    npm install --prefix "$NPM_TOOLS" --no-audit --no-fund --loglevel=error "$package@$version" >/dev/null
  fi
}

ensure_asl_validator() {
  npm_tool asl-validator "$ASL_VALIDATOR_VERSION"
  ASL_VALIDATOR="$NPM_TOOLS/node_modules/.bin/asl-validator"
}

# Checks every tracked markdown file's relative links (files and #anchors); fails on a broken one.
check_markdown_links() {
  npm_tool remark-cli "$REMARK_CLI_VERSION"
  npm_tool remark-validate-links "$REMARK_VALIDATE_LINKS_VERSION"
  local files
  mapfile -t files < <(git ls-files '*.md')
  "$NPM_TOOLS/node_modules/.bin/remark" --no-config --frail --quiet --no-stdout \
    --use "$NPM_TOOLS/node_modules/remark-validate-links/index.js=repository:false" "${files[@]}"
}

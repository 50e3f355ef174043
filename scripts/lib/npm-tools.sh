# Node tools the checks need, from the npm registry into the project's own .tools/npm (never
# global): asl-validator, the Amazon States Language validator, for the hub's state machine;
# remark with remark-validate-links, which checks relative links and their anchors offline.
# Source this file; it defines functions only.

NPM_TOOLS="${NPM_TOOLS:-$PWD/.tools/npm}"
ASL_VALIDATOR_VERSION="4.0.0"
REMARK_CLI_VERSION="12.0.1"
REMARK_VALIDATE_LINKS_VERSION="13.1.0"
MERMAID_CLI_VERSION="12.2.0"

# Installs `package@version` into $NPM_TOOLS unless that version is there already.
npm_tool() {
  local package="$1" version="$2" installed
  installed="$(node -p "require('$NPM_TOOLS/node_modules/$package/package.json').version" 2>/dev/null || true)"
  if [[ "$installed" != "$version" ]]; then
    echo "installing $package $version (npm) into $NPM_TOOLS"
    mkdir -p "$NPM_TOOLS"
    # Puppeteer (mermaid-cli's) never downloads a browser: Debian's chromium draws instead.
    PUPPETEER_SKIP_DOWNLOAD=1 npm install --prefix "$NPM_TOOLS" --no-audit --no-fund --loglevel=error \
      "$package@$version" >/dev/null
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

# Renders docs/architecture.mmd to $1 (SVG) with mermaid-cli on Debian's chromium
# ($CHROMIUM, from ensure_chromium in browser.sh), and checks that README.md's Mermaid block is
# that same source.
render_diagram() {
  local out="$1" config
  npm_tool @mermaid-js/mermaid-cli "$MERMAID_CLI_VERSION"
  config="$(mktemp)"
  printf '{"executablePath": "%s", "args": ["--no-sandbox", "--headless=new"]}' "$CHROMIUM" >"$config"
  "$NPM_TOOLS/node_modules/.bin/mmdc" --quiet -i docs/architecture.mmd -o "$out" -p "$config"
  rm -f "$config"
  grep -q "scanner" "$out" || { echo "the diagram rendered without its nodes: $out" >&2; return 1; }
  python3 scripts/lib/same_diagram.py
}

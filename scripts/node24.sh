# Source this file (`. scripts/node24.sh`) to put Node.js 24 LTS first on PATH.
# Where the machine's node is older, it installs the official binary from the npm registry
# (package node-linux-<arch>) into .tools/ once; the machine's npm then runs on it.
NODE24_VERSION=24.21.0
if ! node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 24 ? 0 : 1)' 2>/dev/null; then
  _sl_root="$(cd "$(dirname "${BASH_SOURCE[0]:-$0}")/.." && pwd)"
  case "$(uname -m)" in aarch64|arm64) _sl_arch=arm64 ;; *) _sl_arch=x64 ;; esac
  _sl_prefix="$_sl_root/.tools/node-$NODE24_VERSION"
  _sl_bin="$_sl_prefix/node_modules/node-linux-$_sl_arch/bin"
  if [ ! -x "$_sl_bin/node" ]; then
    echo "streamlake: installing Node.js $NODE24_VERSION from the npm registry into .tools/" >&2
    npm install --silent --no-save --no-audit --no-fund --no-package-lock --prefix "$_sl_prefix" \
      "node-linux-$_sl_arch@$NODE24_VERSION" >&2 || return 1 2>/dev/null || exit 1
  fi
  export PATH="$_sl_bin:$PATH"
  unset _sl_root _sl_arch _sl_prefix _sl_bin
fi

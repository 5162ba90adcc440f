# Source this file from the project root (`. scripts/node24.sh`, in sh, bash or zsh) to put
# Node.js 24 LTS first on PATH. Where the machine's node is older, it installs the official binary
# from the npm registry (package node-linux-<arch>) into the project's .tools/ once; the machine's
# npm then runs on it. It never writes outside the project.
NODE24_VERSION=24.21.0
if ! node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 24 ? 0 : 1)' 2>/dev/null; then
  # Where this file is: bash names it in BASH_SOURCE and zsh in $0; POSIX sh cannot tell, so there
  # it must be sourced from the project root. (eval keeps the bash-only syntax from other shells.)
  if [ -n "${BASH_VERSION:-}" ]; then
    eval '_sl_self=${BASH_SOURCE[0]}'
  elif [ -n "${ZSH_VERSION:-}" ]; then
    _sl_self=$0
  else
    _sl_self=scripts/node24.sh
  fi
  _sl_root="$(cd "$(dirname "$_sl_self")/.." 2>/dev/null && pwd)"
  if [ -z "$_sl_root" ] || [ ! -f "$_sl_root/scripts/node24.sh" ] || ! grep -q '"name": "streamlake"' "$_sl_root/package.json" 2>/dev/null; then
    echo "streamlake: run '. scripts/node24.sh' from the streamlake project root (this shell cannot tell where the script is)" >&2
    unset _sl_self _sl_root
    return 1 2>/dev/null || exit 1
  fi
  case "$(uname -m)" in aarch64|arm64) _sl_arch=arm64 ;; *) _sl_arch=x64 ;; esac
  _sl_prefix="$_sl_root/.tools/node-$NODE24_VERSION"
  _sl_bin="$_sl_prefix/node_modules/node-linux-$_sl_arch/bin"
  if [ ! -x "$_sl_bin/node" ]; then
    echo "streamlake: installing Node.js $NODE24_VERSION from the npm registry into .tools/" >&2
    npm install --silent --no-save --no-audit --no-fund --no-package-lock --prefix "$_sl_prefix" \
      "node-linux-$_sl_arch@$NODE24_VERSION" >&2 || { unset _sl_self _sl_root _sl_arch _sl_prefix _sl_bin; return 1 2>/dev/null || exit 1; }
  fi
  export PATH="$_sl_bin:$PATH"
  unset _sl_self _sl_root _sl_arch _sl_prefix _sl_bin
fi

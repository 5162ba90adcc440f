#!/usr/bin/env bash
# Lints the synthesized CloudFormation template(s) with a pinned cfn-lint, installed from PyPI
# into .tools/venv on first use: the stack `npm run synth` wrote to cdk.out/, and the stack of the
# three tables of test/fixtures/tables-three (hourly and daily, keyed and unkeyed, nested and
# decimal columns), synthesized here as `cdk synth` does. Fails on errors; warnings are printed.
set -euo pipefail
cd "$(dirname "$0")/.."
CFN_LINT_VERSION=1.58.0
venv=.tools/venv
if [ ! -x "$venv/bin/cfn-lint" ] || [ "$("$venv/bin/cfn-lint" --version)" != "cfn-lint $CFN_LINT_VERSION" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "cfn-lint==$CFN_LINT_VERSION"
fi
shopt -s nullglob
templates=(cdk.out/*.template.json)
[ ${#templates[@]} -gt 0 ] || { echo "no template in cdk.out/: run npm run synth first" >&2; exit 2; }
fixture=cdk.out/tables-three
if ! synth_output=$(npx cdk synth -q -c tablesDir=test/fixtures/tables-three -o "$fixture" 2>&1); then
  echo "$synth_output" >&2
  exit 1
fi
templates+=("$fixture"/*.template.json)
"$venv/bin/cfn-lint" --non-zero-exit-code error "${templates[@]}"
echo "cfn-lint $CFN_LINT_VERSION: no errors in ${templates[*]}"

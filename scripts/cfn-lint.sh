#!/usr/bin/env bash
# Lints the synthesized CloudFormation template(s) with a pinned cfn-lint, installed from PyPI
# into .tools/venv on first use: the stack `npm run synth` wrote to cdk.out/, and these variants,
# synthesized here as `cdk synth` does (each also passes the app's cdk-nag checks): the three
# tables of test/fixtures/tables-three (hourly and daily, keyed and unkeyed, nested and decimal
# columns), the Iceberg tables of test/fixtures/tables-iceberg (two Iceberg tables beside a
# Hive-Parquet one: the Glue endpoint and the compactors' Glue grants) with X-Ray tracing (both
# interface endpoints), KMS encryption, replication of curated/, and replication of KMS-encrypted data.
# Fails on errors; warnings are printed.
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
# name|context arguments
variants=(
  "tables-three|-c tablesDir=test/fixtures/tables-three"
  "iceberg|-c tablesDir=test/fixtures/tables-iceberg -c tracing=true"
  "serverless|-c mskMode=serverless"
  "kms|-c kmsEncryption=true"
  "replication|-c replicationBucketArn=arn:aws:s3:::streamlake-replica-example"
  "replication-kms|-c replicationBucketArn=arn:aws:s3:::streamlake-replica-example -c kmsEncryption=true"
)
for variant in "${variants[@]}"; do
  name=${variant%%|*}
  read -r -a context <<<"${variant#*|}"
  if ! synth_output=$(npx cdk synth -q "${context[@]}" -o "cdk.out/$name" 2>&1); then
    echo "synth of $name (${variant#*|}) failed:" >&2
    echo "$synth_output" >&2
    exit 1
  fi
  templates+=("cdk.out/$name"/*.template.json)
done
"$venv/bin/cfn-lint" --non-zero-exit-code error "${templates[@]}"
echo "cfn-lint $CFN_LINT_VERSION: no errors in ${templates[*]}"

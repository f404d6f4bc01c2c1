#!/usr/bin/env bash
# Write a new migration for the changes made to prisma/schema.prisma since the last migration.
#   npm run db:migration -- <name>
# Prisma's shadow-database diff does not run with the offline JS engine, so the diff is taken between
# datamodels: the schema as of the last commit that touched prisma/migrations, and the working schema.
# Commit the schema change and its migration together so that stays true.
set -euo pipefail
cd "$(dirname "$0")/.."
name="${1:?usage: npm run db:migration -- <name>}"
last_commit="$(git log -1 --format=%H -- prisma/migrations)"
from="$(mktemp --suffix=.prisma)"
git show "${last_commit}:prisma/schema.prisma" > "$from"
count="$(ls -d prisma/migrations/*/ | wc -l)"
dir="prisma/migrations/$(printf '%04d' $((count + 1)))_${name}"
mkdir -p "$dir"
# The diff needs no database, but prisma.config.ts opens one: point it at a throwaway file.
DATABASE_URL="file:$(mktemp -d)/diff.db" npx prisma migrate diff --from-schema-datamodel "$from" --to-schema-datamodel prisma/schema.prisma --script 2>/dev/null > "$dir/migration.sql"
rm -f "$from"
if ! grep -q '[A-Za-z]' "$dir/migration.sql"; then
  rm -rf "$dir"
  echo "no schema changes since ${last_commit:0:8}"
  exit 1
fi
echo "wrote $dir/migration.sql"

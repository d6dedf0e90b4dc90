#!/usr/bin/env bash
# Refreshes the repository's copy of the shared PyTorch fixtures (Tests/Fixtures/<sub>) from
# ../shared/fixtures beside the repository, and reports what changed. Tests/Fixtures/README.md
# explains the layout; Tests/Fixtures/OWN lists the SDK's own cases, which this script never
# touches (and never deletes).
#
#   Tools/sync_fixtures.sh                 # copy: added / updated cases are written
#   Tools/sync_fixtures.sh --check         # only report; exit status 1 when the copy differs
#   Tools/sync_fixtures.sh --prune         # also delete copied cases that the source no longer has
#   Tools/sync_fixtures.sh --from DIR      # another source folder (same layout as ../shared/fixtures)
#
# Entries (case folders and files) are compared one by one under each synced sub-folder
# (parity, cores, models, metrics, winners); the source's README.md is kept as
# Tests/Fixtures/shared-README.md. A copied entry that the source no longer has is reported as
# stale and kept unless --prune is given. A source entry whose name is listed in OWN is a
# conflict: it is reported and not copied.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
source_dir="$repo/../shared/fixtures"
mode=copy
prune=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --check) mode=check ;;
    --prune) prune=1 ;;
    --from) shift; source_dir=${1:?--from needs a folder} ;;
    -h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "sync_fixtures: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
if [[ ! -d "$source_dir" ]]; then
  echo "sync_fixtures: no source folder $source_dir (expected ../shared/fixtures beside the repository, or --from DIR)" >&2
  exit 2
fi
source_dir=$(cd "$source_dir" && pwd)
target="$repo/Tests/Fixtures"
subs=(parity cores models metrics winners)

# The SDK's own entries: "<sub>/<name>" per line, '#' comments.
own=()
while IFS= read -r line; do
  line=${line%%#*}; line=${line//[[:space:]]/}
  [[ -n "$line" ]] && own+=("$line")
done < "$target/OWN"
is_own() {
  local entry
  for entry in "${own[@]}"; do [[ "$entry" == "$1" ]] && return 0; done
  return 1
}

added=0 updated=0 unchanged=0 stale=0 pruned=0 conflicts=0
note() { printf '  %-9s %s\n' "$1" "$2"; }

# Replaces $2 by a copy of $1 (writable, whatever the source's permissions).
copy_entry() {
  rm -rf "$2"
  cp -R "$1" "$2"
  chmod -R u+w "$2"
}

sync_entry() {  # source path, target path, label
  local from=$1 to=$2 label=$3
  if [[ ! -e "$to" ]]; then
    note added "$label"; added=$((added + 1))
    [[ $mode == copy ]] && copy_entry "$from" "$to"
  elif diff -rq "$from" "$to" > /dev/null 2>&1; then
    unchanged=$((unchanged + 1))
  else
    note updated "$label"
    diff -rq "$from" "$to" 2>&1 | sed "s|$source_dir/||g; s|$target/||g; s/^/              /" || true
    updated=$((updated + 1))
    [[ $mode == copy ]] && copy_entry "$from" "$to"
  fi
  return 0
}

echo "source: $source_dir"
echo "target: Tests/Fixtures ($mode)"
if [[ -f "$source_dir/README.md" ]]; then
  sync_entry "$source_dir/README.md" "$target/shared-README.md" "README.md -> shared-README.md"
fi
for sub in "${subs[@]}"; do
  if [[ ! -d "$source_dir/$sub" ]]; then
    echo "  missing   $sub (not in the source; the copy is left as it is)"
    continue
  fi
  [[ $mode == copy ]] && mkdir -p "$target/$sub"
  for from in "$source_dir/$sub"/*; do
    [[ -e "$from" ]] || continue
    name=$(basename "$from")
    if is_own "$sub/$name"; then
      note conflict "$sub/$name: the source has an entry named like one of our own cases; not copied"
      conflicts=$((conflicts + 1))
      continue
    fi
    sync_entry "$from" "$target/$sub/$name" "$sub/$name"
  done
  [[ -d "$target/$sub" ]] || continue
  for to in "$target/$sub"/*; do
    [[ -e "$to" ]] || continue
    name=$(basename "$to")
    if is_own "$sub/$name" || [[ -e "$source_dir/$sub/$name" ]]; then continue; fi
    if [[ $prune == 1 && $mode == copy ]]; then
      note pruned "$sub/$name (not in the source)"; rm -rf "$to"; pruned=$((pruned + 1))
    else
      note stale "$sub/$name (not in the source and not listed in Tests/Fixtures/OWN; kept, --prune deletes)"
      stale=$((stale + 1))
    fi
  done
done

echo "added $added, updated $updated, unchanged $unchanged, stale $stale, pruned $pruned, conflicts $conflicts"
for entry in "${own[@]}"; do
  [[ -e "$target/$entry" ]] || echo "warning: own entry $entry is listed in Tests/Fixtures/OWN but missing" >&2
done
if [[ $mode == check && $((added + updated + stale + conflicts)) -gt 0 ]]; then exit 1; fi
if [[ $conflicts -gt 0 ]]; then exit 1; fi
exit 0

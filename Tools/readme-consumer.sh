#!/usr/bin/env bash
# Builds and runs a new package made from the documentation's snippets as written: the README's
# `Package.swift` (between `<!-- snippet: consumer-package -->` markers) and the `main.swift` of
# Documentation/GettingStarted.md §5 (`<!-- snippet: consumer-main -->`). The package is put beside
# a link called `sensorium-swift` to this checkout, so the snippet's `path: "../sensorium-swift"`
# works unchanged. The DocC copy of the guide must hold the same two code blocks.
#
#   Tools/readme-consumer.sh [WORK_FOLDER]     (default: .build/readme-consumer; `make test-consumer`)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=${1:-$root/.build/readme-consumer}
swift=${SWIFT:-swift}

# The lines between the markers, without the code fences.
extract() {
    awk -v begin="<!-- snippet: $2 -->" -v end="<!-- /snippet: $2 -->" '
        $0 == begin { inside = 1; next }
        $0 == end { inside = 0; found = 1 }
        inside && !/^```/ { print }
        END { if (!found) exit 1 }' "$1" || { echo "readme-consumer: no '$2' snippet in $1" >&2; exit 1; }
}

package=$(extract "$root/README.md" consumer-package)
main=$(extract "$root/Documentation/GettingStarted.md" consumer-main)
docc="$root/Sources/Sensorium/Sensorium.docc/GettingStarted.md"
for block in "$package" "$main"; do
    if ! python3 -c 'import sys; sys.exit(0 if sys.argv[1] in open(sys.argv[2]).read() else 1)' "$block" "$docc"; then
        echo "readme-consumer: $docc does not hold the same code as README.md / GettingStarted.md" >&2
        exit 1
    fi
done

mkdir -p "$work/MyModel/Sources/MyModel"
ln -sfn "$root" "$work/sensorium-swift"
printf '%s\n' "$package" > "$work/MyModel/Package.swift"
printf '%s\n' "$main" > "$work/MyModel/Sources/MyModel/main.swift"
echo "readme-consumer: building $work/MyModel (Package.swift from README.md, main.swift from GettingStarted.md)"
cd "$work/MyModel"
"$swift" build
"$swift" run MyModel

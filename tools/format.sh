#!/usr/bin/env bash
# Apply the project's formatting (what .ci/lint checks): ruff's safe fixes and formatter on Python,
# clang-format on C++.  Needs the lint extra: pip install -e '.[lint]'
set -euo pipefail
cd "$(dirname "$0")/.."
python -m ruff check --fix -q . || true
python -m ruff format -q .
CF=$(python -c 'import clang_format; print(clang_format.get_executable("clang-format"))')
# shellcheck disable=SC2046
"$CF" -i $(git ls-files 'csrc/*.hpp' 'csrc/*.cpp' 'csrc/*.inc' 'src/*.cpp' 'src/*.hpp')

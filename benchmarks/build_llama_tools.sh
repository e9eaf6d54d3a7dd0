#!/usr/bin/env bash
# Build llama.cpp's own tools (llama-bench, llama-completion, llama-server,
# llama-batched-bench) from the llama.cpp sources vendored in the sdist of the
# llama-cpp-python version installed in oruel's venv, so that the benchmarks
# compare oruel with the very same llama.cpp.
#
#   benchmarks/build_llama_tools.sh [DEST]      (default DEST: /tmp/llama-tools/bin)
#
# Environment:
#   PYTHON            the venv's python (default: .venv/bin/python beside this repo)
#   LLAMA_CPP_PY_VER  the llama-cpp-python version (default: the installed one)
#   LLAMA_TOOLS_WORK  where the sdist is unpacked and built (default: DEST/../work)
#   JOBS              parallel build jobs (default: number of cores)
#
# Idempotent: when every binary is already in DEST, nothing is built.
# Nothing is written inside the repository.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEST="${1:-/tmp/llama-tools/bin}"
PYTHON="${PYTHON:-$REPO_ROOT/.venv/bin/python}"
JOBS="${JOBS:-$(nproc)}"

# Wanted tool -> candidate target names, first match wins. `llama-completion`
# is the one-shot tool in recent llama.cpp (`llama-cli` became the interactive
# one); older trees only have `llama-cli`.
WANTED=(llama-bench llama-completion llama-server llama-batched-bench)
declare -A CANDIDATES=(
    [llama-bench]="llama-bench"
    [llama-completion]="llama-completion llama-cli main"
    [llama-server]="llama-server server"
    [llama-batched-bench]="llama-batched-bench batched-bench"
)

all_present() {
    local t
    for t in "${WANTED[@]}"; do
        [[ -x "$DEST/$t" ]] || return 1
    done
    return 0
}

if all_present; then
    echo "llama tools already built in $DEST; nothing to do."
    exit 0
fi

case "$(realpath -m "$DEST")/" in
    "$REPO_ROOT"/*) echo "error: DEST must be outside the repository ($REPO_ROOT)" >&2; exit 2 ;;
esac

VERSION="${LLAMA_CPP_PY_VER:-$("$PYTHON" -c 'import importlib.metadata as m; print(m.version("llama_cpp_python"))')}"
WORK="${LLAMA_TOOLS_WORK:-$(dirname "$(realpath -m "$DEST")")/work}"
mkdir -p "$DEST" "$WORK"
echo "llama-cpp-python $VERSION; work dir $WORK; dest $DEST"

SRC="$WORK/llama_cpp_python-$VERSION"
if [[ ! -d "$SRC/vendor/llama.cpp" ]]; then
    "$PYTHON" -m pip download --no-deps --no-binary :all: \
        "llama-cpp-python==$VERSION" -d "$WORK/sdist"
    SDIST="$(ls "$WORK"/sdist/llama_cpp_python-"$VERSION".tar.gz 2>/dev/null \
        || ls "$WORK"/sdist/llama-cpp-python-"$VERSION".tar.gz)"
    tar -xzf "$SDIST" -C "$WORK"
    # Older sdists unpack as llama-cpp-python-X.
    [[ -d "$SRC" ]] || SRC="$WORK/llama-cpp-python-$VERSION"
fi
LLAMA="$SRC/vendor/llama.cpp"
[[ -f "$LLAMA/CMakeLists.txt" ]] || { echo "error: no llama.cpp sources in $LLAMA" >&2; exit 1; }

BUILD="$WORK/build"
GEN=()
command -v ninja >/dev/null && GEN=(-G Ninja)
if [[ ! -f "$BUILD/CMakeCache.txt" ]]; then
    # Static: the binaries copied into DEST need no shared libraries beside them.
    nice -n 10 cmake -S "$LLAMA" -B "$BUILD" "${GEN[@]}" \
        -DCMAKE_BUILD_TYPE=Release \
        -DLLAMA_CURL=OFF \
        -DGGML_NATIVE=ON \
        -DBUILD_SHARED_LIBS=OFF \
        -DLLAMA_BUILD_TESTS=OFF
fi

# Resolve each wanted tool to a target that exists in this llama.cpp.
TARGET_LIST="$(cmake --build "$BUILD" --target help)"
has_target() { grep -Eq "(^|[[:space:]]|\.\.\. )$1(:|[[:space:]]|$)" <<<"$TARGET_LIST"; }
declare -A RESOLVED=()
TARGETS=()
for t in "${WANTED[@]}"; do
    for c in ${CANDIDATES[$t]}; do
        if has_target "$c"; then RESOLVED[$t]="$c"; TARGETS+=("$c"); break; fi
    done
    [[ -n "${RESOLVED[$t]:-}" ]] || { echo "error: no target for $t (tried: ${CANDIDATES[$t]})" >&2; exit 1; }
    [[ "${RESOLVED[$t]}" == "$t" ]] || echo "note: $t is built from target ${RESOLVED[$t]}"
done

start=$(date +%s)
nice -n 10 cmake --build "$BUILD" --config Release -j "$JOBS" --target "${TARGETS[@]}"
echo "build took $(( $(date +%s) - start )) s"

for t in "${WANTED[@]}"; do
    install -m 0755 "$BUILD/bin/${RESOLVED[$t]}" "$DEST/$t"
done
echo "installed into $DEST:"
ls -l "$DEST"

# Sourced by bench/run and bench/soak/run (from the repository's root): sets $ax to an ax published in Release as it
# ships (single file, self-contained) in artifacts/bench/ax, publishing only when a source is newer than it.
# AX_DIR: use an already published ax instead; FORCE_PUBLISH=1: publish anyway.
out=artifacts/bench
mkdir -p "$out"
# A publish is incremental, but even a no-op one takes minutes on a loaded 2-core machine: skip it when the
# published ax is newer than every source it is built from (FORCE_PUBLISH=1 publishes anyway).
stale() {
  [ -x "$out/ax/ax" ] || return 0
  [ "${FORCE_PUBLISH:-0}" = 1 ] && return 0
  [ -n "$(find dataplane xds-agent proto Directory.Build.props Directory.Packages.props global.json \
    \( -name bin -o -name obj -o -name node_modules \) -prune -o -type f -newer "$out/ax/ax" -print -quit)" ]
}
if [ -n "${AX_DIR:-}" ]; then
  ax="$(cd "$AX_DIR" && pwd)/ax"
elif ! stale; then
  echo "artifacts/bench/ax/ax is newer than every source: not publishing again (FORCE_PUBLISH=1 to)" >&2
  ax="$PWD/$out/ax/ax"
else
  echo "publishing ax (Release, single file, as it ships)..." >&2
  dotnet publish dataplane/Ax/Ax.csproj -c Release -o "$out/ax" --nologo -v:q -clp:NoSummary >&2
  ax="$PWD/$out/ax/ax"
fi
[ -x "$ax" ] || { echo "$0: no ax at $ax" >&2; exit 1; }

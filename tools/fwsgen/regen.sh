#!/bin/sh
# Builds the library as IL (plain dotnet build, no AOT) and fwsgen, then regenerates include/fiberws.h and
# bindings/python/fiberws/_ffi.py. Pass --check to only verify them (exit 1 and a diff when they are stale).
# usage: tools/fwsgen/regen.sh [--check]        (FIBERWS_CONFIGURATION selects the library build, default Debug)
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
config=${FIBERWS_CONFIGURATION:-Debug}
dotnet build src/Managed/Fiberws/Fiberws.csproj -c "$config" -nologo -v quiet
dotnet build tools/fwsgen/fwsgen.csproj -c Release -nologo -v quiet
out=src/Managed/Fiberws/bin/$config/net10.0
exec dotnet tools/fwsgen/bin/Release/net10.0/fwsgen.dll \
    --assembly "$out/libfiberws.dll" --xml "$out/libfiberws.xml" \
    --header include/fiberws.h --python bindings/python/fiberws/_ffi.py "$@"

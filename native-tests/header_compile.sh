#!/bin/sh
# Compiles a tiny C file (C99, pedantic, -Werror) and a tiny C++ file (C++11, -Werror) that include the header.
# usage: native-tests/header_compile.sh include/fiberws.h    (CC / CXX override the compilers)
set -eu
if [ $# -ne 1 ]; then
    echo "usage: $0 path/to/fiberws.h" >&2
    exit 2
fi
header=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
cc=${CC:-gcc}
cxx=${CXX:-g++}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

cat > "$tmp/use.c" <<EOC
#include "$header"
#include "$header" /* the include guard must make a second inclusion harmless */

int main(void)
{
    uint32_t (*version)(void) = fws_version;
    return (int)(FWS_VERSION_MAJOR + FWS_OK + (version != 0));
}
EOC
cp "$tmp/use.c" "$tmp/use.cpp"

"$cc" -std=c99 -Wall -Wextra -Wpedantic -Werror -Wstrict-prototypes -Wmissing-prototypes -fsyntax-only "$tmp/use.c"
echo "header_compile: C99 OK ($cc)"
"$cxx" -std=c++11 -Wall -Wextra -Wpedantic -Werror -fsyntax-only "$tmp/use.cpp"
echo "header_compile: C++11 OK ($cxx)"

"""Checks what a shared libndpar exports (meson test 'exports').

Usage: test_exports.py LIB.so NM INCLUDE_DIR. The library's sources are
built with hidden visibility and NDP_API (include/ndpar/export.h) marks the
public functions, so the dynamic symbol table must hold exactly the
functions the public headers declare with NDP_API: every one of them, all
named ndp_*, none ndp__*. It also checks that no public header declares a
function without NDP_API.
"""
import pathlib
import re
import subprocess
import sys

# symbols the linker itself may define in any shared object
LINKER = {"_init", "_fini", "_edata", "_end", "__bss_start"}


def exported(lib, nm):
    out = subprocess.run([nm, "-D", "--defined-only", lib], check=True,
                         capture_output=True, text=True).stdout
    names = set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 2:
            names.add(parts[-1].split("@")[0])
    return names - LINKER


def declared(incdir):
    api, bare = set(), []
    decl = re.compile(r"^(?!typedef|#|\s|/|\*|\})[^;()]*?\b(ndp_\w+)\s*\(")
    for h in sorted(pathlib.Path(incdir).rglob("*.h")):
        for n, line in enumerate(h.read_text().splitlines(), 1):
            m = decl.match(line)
            if not m:
                continue
            if line.startswith("NDP_API "):
                api.add(m.group(1))
            else:
                bare.append(f"{h}:{n}: {line.strip()}")
    return api, bare


def main():
    lib, nm, incdir = sys.argv[1:4]
    got = exported(lib, nm)
    api, bare = declared(incdir)
    errors = []
    errors += [f"exported, not ndp_*: {s}" for s in sorted(got)
               if not s.startswith("ndp_") or s.startswith("ndp__")]
    errors += [f"exported, not declared NDP_API: {s}" for s in sorted(got - api)
               if s.startswith("ndp_") and not s.startswith("ndp__")]
    errors += [f"declared NDP_API, not exported: {s}" for s in sorted(api - got)]
    errors += [f"public declaration without NDP_API: {b}" for b in bare]
    if len(api) < 50:
        errors.append(f"only {len(api)} NDP_API declarations found in {incdir}")
    for e in errors:
        print(e)
    print(f"{len(got)} exported, {len(api)} declared")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())

"""`python -m ndpar ...` runs the ndpar command installed with the package."""
import os
import shutil
import sys
import sysconfig


def main() -> int:
    exe = os.path.join(sysconfig.get_path("scripts"), "ndpar")
    if not os.path.exists(exe):
        exe = shutil.which("ndpar") or exe
    if not os.path.exists(exe):
        print("ndpar: the ndpar command is not installed next to this package", file=sys.stderr)
        return 2
    os.execv(exe, [exe] + sys.argv[1:])
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main())

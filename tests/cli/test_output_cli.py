"""Tests of the output file of every command that writes one (map, eval,
rolling, apply): a failed run must leave a file that was at -o exactly as it
was (same bytes, same inode, same mode, same modification time) and must
leave no new file and no temporary behind, whatever the bad input is (a
missing or broken file, a bad dtype or shape, a bad option, or an error that
shows only while the job runs: an index out of range in apply, an integer to
a negative power). A successful run replaces the file, keeps its permission
bits, and writes through a symbolic link.
"""
import os

import numpy as np
import pytest

from test_cli import save

OLD = np.arange(7.0) * 3.5


def state(d):
    """Every entry of directory d: name -> (bytes, inode, mode, mtime)."""
    out = {}
    for p in sorted(d.iterdir()):
        st = p.lstat()
        data = p.read_bytes() if p.is_file() else None
        out[p.name] = (data, st.st_ino, st.st_mode, st.st_mtime_ns)
    return out


@pytest.fixture
def inputs(tmp_path):
    """Input files, good and bad, in their own directory."""
    d = tmp_path / "in"
    d.mkdir()
    f = {
        "x": save(d / "x.npy", np.arange(1.0, 6.0)),
        "x4": save(d / "x4.npy", np.arange(4.0)),
        "m34": save(d / "m34.npy", np.zeros((3, 4))),
        "i32": save(d / "i32.npy", np.array([1, 2, 3, 4, 5], np.int32)),
        "neg": save(d / "neg.npy", np.array([1, -1, 2, 0, 1], np.int32)),
        "u8": save(d / "u8.npy", np.array([1, 2, 3, 4, 5], np.uint8)),
        "c16": save(d / "c16.npy", np.arange(5, dtype=np.complex128)),
        "zero_d": save(d / "zero_d.npy", np.array(1.5)),
        "m2d": save(d / "m2d.npy", np.zeros((5, 1))),
        "idx": save(d / "idx.npy", np.array([0, 1, 0, 1, 1], np.int64)),
        "idx_oob": save(d / "idx_oob.npy", np.array([0, 1, 2, 1, 0], np.int64)),
        "idx_neg": save(d / "idx_neg.npy", np.array([0, -1, 0, 1, 0], np.int32)),
        "idx_f": save(d / "idx_f.npy", np.zeros(5)),
        "idx3": save(d / "idx3.npy", np.zeros(3, np.int64)),
        "missing": str(d / "nope.npy"),
    }
    (d / "garbage.npy").write_bytes(b"\x93NUMPY garbage" + bytes(100))
    f["garbage"] = str(d / "garbage.npy")
    (d / "trunc.npy").write_bytes(open(f["x"], "rb").read()[:-8])
    f["trunc"] = str(d / "trunc.npy")
    (d / "table.txt").write_text("x * 2\nx + 1\n")
    f["table"] = str(d / "table.txt")
    (d / "bad_table.txt").write_text("x * 2\nx +\n")
    f["bad_table"] = str(d / "bad_table.txt")
    (d / "empty_line.txt").write_text("x * 2\n\nx\n")
    f["empty_line"] = str(d / "empty_line.txt")
    f["dir"] = str(d)
    return f


# Each case: the command's arguments, {out} standing for -o's value. The
# ones marked "run" fail only while the job runs, after the output exists.
BAD = {
    "map": [
        ["map", "exp", "{missing}"],
        ["map", "exp", "{garbage}"],
        ["map", "exp", "{trunc}"],
        ["map", "exp", "{c16}"],
        ["map", "exp", "{dir}"],
        ["map", "add", "{x}", "{x4}"],                  # shapes
        ["map", "add", "{m34}", "{x4}", "{x4}"],        # operands
        ["map", "add", "{u8}", "300"],                  # scalar out of bounds
        ["map", "add", "{x}", "{i32}", "--dtype", "int32"],   # casting
        ["map", "frobnicate", "{x}"],
        ["map", "power", "{i32}", "{neg}"],             # run: negative power
    ],
    "eval": [
        ["eval", "a * 2", "a={missing}"],
        ["eval", "a * 2", "a={garbage}"],
        ["eval", "a * 2", "a={trunc}"],
        ["eval", "a * 2", "a={c16}"],
        ["eval", "a + b", "a={x}", "b={x4}"],           # shapes
        ["eval", "a +* 2", "a={x}"],                    # syntax
        ["eval", "a + c", "a={x}"],                     # unknown name
        ["eval", "~a", "a={x}"],                        # type
        ["eval", "a + 300", "a={u8}"],                  # scalar out of bounds
        ["eval", "sum(a, axis=2)", "a={x}"],
        ["eval", "a ** b", "a={i32}", "b={neg}"],       # run: negative power
    ],
    "rolling": [
        ["rolling", "mean", "--window", "2", "{missing}"],
        ["rolling", "mean", "--window", "2", "{garbage}"],
        ["rolling", "mean", "--window", "2", "{trunc}"],
        ["rolling", "mean", "--window", "2", "{c16}"],
        ["rolling", "mean", "--window", "9", "{x}"],    # window > axis
        ["rolling", "mean", "--window", "2", "--axis", "3", "{x}"],
        ["rolling", "mean", "--window", "2", "{zero_d}"],
        ["rolling", "mean", "--window", "2", "--axis", "1", "{m2d}"],
        ["rolling", "quantile", "--window", "2", "{x}"],   # no --q
    ],
    "apply": [
        ["apply", "--index", "{missing}", "--table", "{table}", "x={x}"],
        ["apply", "--index", "{idx}", "--table", "{table}", "x={garbage}"],
        ["apply", "--index", "{idx}", "--table", "{table}", "x={trunc}"],
        ["apply", "--index", "{idx_f}", "--table", "{table}", "x={x}"],   # float index
        ["apply", "--index", "{idx3}", "--table", "{table}", "x={x}"],    # lengths
        ["apply", "--index", "{idx}", "--table", "{table}", "x={m34}"],   # 2-d
        ["apply", "--index", "{idx}", "--table", "{bad_table}", "x={x}"],
        ["apply", "--index", "{idx}", "--table", "{empty_line}", "x={x}"],
        ["apply", "--index", "{idx}", "--table", "{missing}", "x={x}"],
        ["apply", "--index", "{idx}", "--table", "{table}", "x={x}", "--default", "abc"],
        ["apply", "--index", "{idx_oob}", "--table", "{table}", "x={x}"],  # run
        ["apply", "--index", "{idx_neg}", "--table", "{table}", "x={x}"],  # run
    ],
}
CASES = [args for cmd in BAD.values() for args in cmd]


@pytest.mark.parametrize("existing", [True, False], ids=["existing-output", "no-output"])
@pytest.mark.parametrize("args", CASES, ids=[" ".join(a) for a in CASES])
def test_failed_run_leaves_output_alone(cli, tmp_path, inputs, args, existing):
    outdir = tmp_path / "out"
    outdir.mkdir()
    out = outdir / "out.npy"
    if existing:
        save(out, OLD)
        os.chmod(out, 0o640)
    before = state(outdir)
    cli.fails(*[a.format(**inputs) for a in args], "-o", out)
    assert state(outdir) == before
    if existing:
        np.testing.assert_array_equal(np.load(out), OLD)


GOOD = {
    "map": (["map", "exp", "{x}"], lambda: np.exp(np.arange(1.0, 6.0))),
    "eval": (["eval", "a * 2", "a={x}"], lambda: np.arange(1.0, 6.0) * 2),
    "rolling": (["rolling", "sum", "--window", "1", "{x}"], lambda: np.arange(1.0, 6.0)),
    "apply": (["apply", "--index", "{idx}", "--table", "{table}", "x={x}"],
              lambda: np.where(np.array([0, 1, 0, 1, 1]) == 0, np.arange(1.0, 6.0) * 2,
                               np.arange(1.0, 6.0) + 1)),
}


@pytest.mark.parametrize("cmd", sorted(GOOD))
def test_success_replaces_output_keeping_its_mode(cli, tmp_path, inputs, cmd):
    args, want = GOOD[cmd]
    outdir = tmp_path / "out"
    outdir.mkdir()
    out = outdir / "out.npy"
    save(out, OLD)
    os.chmod(out, 0o640)
    cli.ok(*[a.format(**inputs) for a in args], "-o", out)
    np.testing.assert_array_equal(np.load(out), want())
    assert listing_of(outdir) == ["out.npy"]          # no temporary left
    assert (out.stat().st_mode & 0o7777) == 0o640


@pytest.mark.parametrize("cmd", sorted(GOOD))
def test_new_output_has_default_mode(cli, tmp_path, inputs, cmd):
    args, want = GOOD[cmd]
    out = tmp_path / "new.npy"
    cli.ok(*[a.format(**inputs) for a in args], "-o", out)
    np.testing.assert_array_equal(np.load(out), want())
    umask = os.umask(0)
    os.umask(umask)
    assert (out.stat().st_mode & 0o7777) == 0o644 & ~umask


@pytest.mark.parametrize("cmd", sorted(GOOD))
def test_output_through_symlink(cli, tmp_path, inputs, cmd):
    """-o a symbolic link: the file it points to gets the result, the link
    stays; a failed run changes neither."""
    args, want = GOOD[cmd]
    real_dir = tmp_path / "real"
    real_dir.mkdir()
    real = real_dir / "target.npy"
    save(real, OLD)
    link = tmp_path / "link.npy"
    link.symlink_to(real)
    bad = BAD[cmd][0]
    before = (state(real_dir), state(tmp_path)["link.npy"])
    cli.fails(*[a.format(**inputs) for a in bad], "-o", link)
    assert (state(real_dir), state(tmp_path)["link.npy"]) == before
    cli.ok(*[a.format(**inputs) for a in args], "-o", link)
    assert link.is_symlink() and os.readlink(link) == str(real)
    np.testing.assert_array_equal(np.load(real), want())
    assert listing_of(real_dir) == ["target.npy"]


def test_read_only_output_is_refused(cli, tmp_path, inputs):
    """An existing -o we may not write stays an error (it was one before the
    output went through a temporary), and stays as it was."""
    if os.geteuid() == 0:
        pytest.skip("root may write any file")
    out = tmp_path / "ro.npy"
    save(out, OLD)
    os.chmod(out, 0o444)
    before = state(tmp_path)
    cli.fails("map", "exp", inputs["x"], "-o", out)
    assert state(tmp_path) == before


def listing_of(d):
    return sorted(p.name for p in d.iterdir())

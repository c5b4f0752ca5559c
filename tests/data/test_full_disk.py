"""A full disk: one-line error, exit 2, no torn or temporary file, and a re-run after space is freed
writes exactly what an undisturbed run writes. Uses a real tmpfs (mount needs root; skipped otherwise)."""

import os
import subprocess

import pytest


@pytest.fixture
def small_disk(tmp_path):
    mnt = tmp_path / "disk"
    mnt.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    got = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mnt)], capture_output=True, text=True)
    if got.returncode:
        pytest.skip(f"cannot mount a tmpfs here: {got.stderr.strip()}")
    yield mnt
    subprocess.run(["umount", str(mnt)], check=True)


def _fill(disk, leave: int) -> None:
    """Fill the disk until ``leave`` bytes are free."""
    st = os.statvfs(disk)
    free = st.f_bavail * st.f_frsize
    (disk / "filler").write_bytes(b"\0" * max(0, free - leave))


def test_full_disk_is_one_line_and_leaves_nothing_torn(run_cli, shared_data, small_disk, tmp_path):
    args = ["data", "mix", "--general", "gpteacher-roleplay", "--n-general", "100", "--k", "0,200", "--seed", "1",
            "--leakage", "off", "--data-dir", shared_data]
    code, _, _ = run_cli(*args, "--out", tmp_path / "reference")
    assert code == 0
    size = {p.name: p.stat().st_size for p in (tmp_path / "reference").iterdir()}
    room = size["k0.json"] + size["k0.manifest.json"] + 4 * 4096  # k=0 fits (tmpfs counts whole pages)
    assert size["k200.json"] > room + 4096  # k=200 does not

    _fill(small_disk, room)
    out = small_disk / "mix"
    code, _, err = run_cli(*args, "--out", out)
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert f"error: {out}/k200.json: No space left on device" in err  # names the file being written
    assert "Traceback" not in err
    left = sorted(p.name for p in out.iterdir()) if out.exists() else []
    assert not [n for n in left if n.endswith(".tmp")], left  # no temporary file
    for name in left:  # whatever was written is whole: a mixture only with its manifest, both as in the reference
        assert (out / name).read_bytes() == (tmp_path / "reference" / name).read_bytes(), name
    assert "k200.manifest.json" not in left  # the mixture that did not fit is not marked complete

    (small_disk / "filler").unlink()
    code, _, _ = run_cli(*args, "--out", out)
    assert code == 0
    for p in (tmp_path / "reference").iterdir():
        assert (out / p.name).read_bytes() == p.read_bytes(), p.name

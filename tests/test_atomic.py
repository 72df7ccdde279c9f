"""Atomic writes: never a half-written file, and the permissions any ordinary file gets."""

from __future__ import annotations

import os
import stat
import subprocess
import sys

import pytest

from deblurkit.utils.atomic import atomic_path, current_umask, write_bytes_atomic


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_new_files_follow_the_umask(tmp_path, umask):
    # a child process, so the umask of the test runner is left alone
    code = ("import os, sys; os.umask(int(sys.argv[2], 8)); "
            "from deblurkit.utils.atomic import write_bytes_atomic, current_umask; "
            "assert current_umask() == int(sys.argv[2], 8); "
            "write_bytes_atomic(sys.argv[1], b'x')")
    subprocess.run([sys.executable, "-c", code, str(tmp_path / "a.bin"), oct(umask)], check=True)
    assert _mode(tmp_path / "a.bin") == 0o666 & ~umask
    plain = tmp_path / "plain.bin"
    subprocess.run([sys.executable, "-c", f"import os; os.umask({umask}); "
                    f"open({str(plain)!r}, 'wb').write(b'x')"], check=True)
    assert _mode(tmp_path / "a.bin") == _mode(plain)  # exactly what open() gives


def test_a_replaced_file_keeps_its_mode_and_failures_leave_nothing(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    target.chmod(0o640)
    write_bytes_atomic(target, b"new")
    assert target.read_bytes() == b"new" and _mode(target) == 0o640
    with pytest.raises(RuntimeError):
        with atomic_path(tmp_path / "never.txt") as tmp:
            tmp.write_text("half")
            raise RuntimeError("interrupted")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]
    assert 0 <= current_umask() <= 0o777

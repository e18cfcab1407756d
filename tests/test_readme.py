"""The README quickstart runs as written; each `# exit N` comment is asserted."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def quickstart() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"<!-- quickstart -->\n```sh\n(.*?)```\n<!-- /quickstart -->", text, re.S)
    assert block, "README has no quickstart block"
    return [line for line in block.group(1).splitlines() if line.strip()]


def test_quickstart_is_short() -> None:
    assert 5 <= len(quickstart()) <= 10


def test_quickstart_runs(tmp_path: Path) -> None:
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
               PYTHONPATH=str(ROOT))
    outputs = []
    for line in quickstart():
        expected = re.search(r"# exit (\d+)", line)
        proc = subprocess.run(["bash", "-c", line], cwd=tmp_path, env=env, capture_output=True,
                              text=True, check=False)
        want = int(expected.group(1)) if expected else 0
        assert proc.returncode == want, f"{line}\n{proc.stdout}\n{proc.stderr}"
        assert "Traceback" not in proc.stderr
        outputs.append(proc.stdout)
    assert "seq=99" in outputs[6]
    assert "见证 / witnessed" in outputs[4]
    assert '"seq": 99' in (tmp_path / "report.json").read_text(encoding="utf-8")
    assert "完整性失败" in (tmp_path / "report.html").read_text(encoding="utf-8")


def test_portal_screenshots() -> None:
    """The README shows the portal in two small phone-width PNGs that exist in docs/img."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    images = re.findall(r'<img src="(docs/img/[^"]+\.png)"', text)
    assert len(images) == 2, images
    for name in images:
        data = (ROOT / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR", name
        assert int.from_bytes(data[16:20], "big") == 390, name
        assert 5_000 < len(data) < 150_000, (name, len(data))
    assert "验证通过" in text.split(images[1], 1)[1][:1000]

"""Copy the console's JavaScript from its pinned npm packages (``npm pack``), checking each
tarball's integrity and each file's SHA-256 against ``static/vendor/manifest.json``.

Run it after changing a version in the manifest (and updating both hashes): ``python
tools/console/vendor.py``. The image and CI never run it: the files are in the repository.
"""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

VENDOR = Path(__file__).resolve().parents[2] / "services/console/src/jobyard_console/static/vendor"


def main() -> int:
    manifest = json.loads((VENDOR / "manifest.json").read_text())
    with tempfile.TemporaryDirectory() as tmp:
        for name, spec in manifest["files"].items():
            spec_name = f"{spec['package']}@{spec['version']}"
            packed = (
                subprocess.run(
                    ["npm", "pack", spec_name, "--silent"],
                    cwd=tmp,
                    capture_output=True,
                    text=True,
                    check=True,
                )
                .stdout.strip()
                .splitlines()[-1]
            )
            tarball = Path(tmp) / packed
            digest = "sha512-" + base64.b64encode(hashlib.sha512(tarball.read_bytes()).digest()).decode()
            if digest != spec["integrity"]:
                sys.stderr.write(f"{spec_name}: integrity {digest} is not the manifest's\n")
                return 1
            with tarfile.open(tarball) as archive:
                member = archive.extractfile(spec["path"])
                assert member is not None, spec["path"]
                content = member.read()
            if hashlib.sha256(content).hexdigest() != spec["sha256"]:
                sys.stderr.write(f"{name}: sha256 is not the manifest's\n")
                return 1
            (VENDOR / name).write_bytes(content)
            sys.stdout.write(f"{name} ← {spec_name}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

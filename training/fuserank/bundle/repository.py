"""A model repository as the server reads it (docs/operations.md, "A model repository and hot
reload"): `REPO/NAME/<version>/` holds a bundle; a version is an integer folder name; other names
(`.staging-7`, `3.tmp`, `latest`) are not versions. The server serves the highest version that
loads, so a new version is published by writing it elsewhere on the same file system and renaming
it into place (`publish`): the server never sees half a version.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Callable


def versions(model_dir: str | Path) -> list[int]:
    """The versions of a repository model (integer folder names), ascending; [] when none."""
    root = Path(model_dir)
    if not root.is_dir():
        return []
    return sorted(int(p.name) for p in root.iterdir() if p.is_dir() and p.name.isdigit())


def newest_loadable(model_dir: str | Path) -> tuple[int, Path]:
    """The version the server serves: the highest that `load_bundle` loads (a higher one that
    fails is passed over, as the server passes it over).

    - Throws: FileNotFoundError when the model has no version that loads.
    """
    from .io import BundleError, load_bundle
    from ..model.config import ConfigError

    errors = []
    for v in reversed(versions(model_dir)):
        path = Path(model_dir) / str(v)
        try:
            load_bundle(path)
        except (BundleError, ConfigError, OSError, ValueError) as exc:
            errors.append(f"{v}: {exc}")
            continue
        return v, path
    raise FileNotFoundError(f"{model_dir}: no version folder holds a bundle that loads"
                            + (f" ({'; '.join(errors)})" if errors else ""))


def publish(model_dir: str | Path, write: Callable[[Path], None]) -> tuple[int, Path]:
    """Publish the next version: `write(folder)` fills a staging folder beside the versions
    (`.staging-<version>-<pid>`: a name the server ignores), which is then renamed to the version
    number, one higher than every version folder there (loadable or not).

    - Returns: (version, its folder).
    - Throws: FileExistsError when another publisher took that version meanwhile (the staging
      folder is removed; nothing is published).
    """
    root = Path(model_dir)
    root.mkdir(parents=True, exist_ok=True)
    version = max(versions(root), default=0) + 1
    staging = root / f".staging-{version}-{os.getpid()}"
    if staging.exists():
        shutil.rmtree(staging)
    try:
        staging.mkdir()
        write(staging)
        final = root / str(version)
        if final.exists():
            raise FileExistsError(f"{final}: published by someone else meanwhile")
        os.rename(staging, final)   # rename(2): the version appears complete
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return version, final

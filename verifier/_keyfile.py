"""Secret key files (SPEC.md section 5.2): one C2SP skey per file, readable by its owner only.

A secret key lives only with its party, so the file is written once (never over another
key), atomically (no half-written key is ever visible) and with mode 0600, and a file that
anyone else could read is refused rather than used: a key others may have copied no longer
proves who signed.
"""

from __future__ import annotations

import os
import stat
import uuid
from pathlib import Path

from verifier._errors import FormatError, VerifierError
from verifier._note import NoteSigner, NoteVerifier

__all__ = ["KEY_SUFFIX", "KeyFileError", "load_key", "load_store", "save_key"]

KEY_SUFFIX = ".skey"
_MAX_KEY_FILE = 4096  # an skey is ~100 bytes; anything much bigger is not one
_SIGTYPE_WORDS = {1: ("声明/签名密钥", "a statement/note key (sigtype 1)"),
                  4: ("见证人联署密钥", "a witness cosignature key (sigtype 4)")}


class KeyFileError(VerifierError):
    """A key file is missing, unreadable, exposed to others or not the key expected."""


def _fail(path: Path, zh: str, en: str) -> KeyFileError:
    return KeyFileError(f"密钥文件 {path}：{zh} / key file {path}: {en}")


def save_key(path: Path, signer: NoteSigner) -> None:
    """Write ``signer`` as a new key file (mode 0600); never replaces an existing file.

    The key is written to a private temporary name in the same folder, flushed to disk,
    then linked to ``path`` (which fails if ``path`` exists), so a crash leaves either no
    key file or a whole one.
    """
    path = Path(path)
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise _fail(path, f"无法创建所在文件夹（{exc.strerror}）",
                    f"cannot create its folder ({exc.strerror})") from None
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        try:
            os.write(fd, (signer.skey + "\n").encode("ascii"))
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(tmp, path)
        except FileExistsError:
            raise _fail(path, "已存在，不覆盖已有密钥", "already exists; an existing key is "
                        "never overwritten") from None
    except OSError as exc:
        raise _fail(path, f"无法写入（{exc.strerror}）",
                    f"cannot be written ({exc.strerror})") from None
    finally:
        tmp.unlink(missing_ok=True)


def load_key(path: Path, sigtype: int | None = None) -> NoteSigner:
    """Read a key file written by ``save_key``; ``sigtype`` (1 or 4) is the kind expected.

    Refused, naming the path and what to do: a missing or unreadable file, a symbolic link
    or anything but a regular file, a file group or others may read or write, a file that
    is not an skey (a vkey included), and a key of the other sigtype (a witness key is
    never a statement key).
    """
    path = Path(path)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except FileNotFoundError:
        raise _fail(path, "不存在", "does not exist") from None
    except OSError as exc:
        if path.is_symlink():
            raise _fail(path, "是符号链接，不是普通文件", "is a symbolic link, not a regular "
                        "file") from None
        raise _fail(path, f"无法读取（{exc.strerror}）",
                    f"cannot be read ({exc.strerror})") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise _fail(path, "不是普通文件", "is not a regular file")
        mode = stat.S_IMODE(info.st_mode)
        if mode & 0o077:
            raise _fail(path, f"权限为 {mode:04o}，组或其他用户可以访问；请执行 chmod 600 {path}",
                        f"mode {mode:04o} lets group or others access it; run chmod 600 {path}")
        data = os.read(fd, _MAX_KEY_FILE + 1)
    finally:
        os.close(fd)
    return _parse(path, data, sigtype)


def _parse(path: Path, data: bytes, sigtype: int | None) -> NoteSigner:
    if len(data) > _MAX_KEY_FILE:
        raise _fail(path, "过大，不是私钥（skey）", "too large to be a secret key (skey)")
    try:
        text = data.decode("ascii").strip()
    except UnicodeDecodeError:
        raise _fail(path, "不是私钥（skey）文本", "is not secret key (skey) text") from None
    if not text.startswith("PRIVATE+KEY+"):
        try:
            NoteVerifier.from_vkey(text)
        except FormatError:
            raise _fail(path, "不是私钥（skey，应以 PRIVATE+KEY+ 开头）",
                        "is not a secret key (an skey starts with PRIVATE+KEY+)") from None
        raise _fail(path, "是公钥（vkey），不是私钥（skey）；公钥可以公开，签名需要私钥",
                    "holds a verifier key (vkey), not a secret key (skey): signing needs "
                    "the secret key")
    try:
        signer = NoteSigner.from_skey(text)
    except (FormatError, ValueError) as exc:
        raise _fail(path, f"私钥格式错误（{exc}）", f"malformed secret key ({exc})") from None
    if sigtype is not None and signer.sigtype != sigtype:
        got = _SIGTYPE_WORDS.get(signer.sigtype, (f"sigtype {signer.sigtype}",) * 2)
        want = _SIGTYPE_WORDS.get(sigtype, (f"sigtype {sigtype}",) * 2)
        raise _fail(path, f"是{got[0]}，此处需要{want[0]}",
                    f"holds {got[1]} where {want[1]} is needed")
    return signer


def load_store(directory: Path, sigtype: int | None = None) -> NoteSigner:
    """The one key of a key store: a folder that holds exactly one ``*.skey`` (a witness's
    state file beside it). One key per folder is what lets each folder go to its own party:
    a store holding two keys would hand someone a key that is not theirs, so it is refused."""
    directory = Path(directory)
    try:
        keys = sorted(p for p in directory.iterdir() if p.name.endswith(KEY_SUFFIX)
                      and not p.name.startswith("."))
    except FileNotFoundError:
        raise KeyFileError(f"密钥库 {directory}：不存在 / key store {directory}: does not "
                           "exist") from None
    except OSError as exc:
        raise KeyFileError(f"密钥库 {directory}：无法读取（{exc.strerror}） / key store "
                           f"{directory}: cannot be read ({exc.strerror})") from None
    if len(keys) != 1:
        names = ", ".join(p.name for p in keys) or "none"
        raise KeyFileError(f"密钥库 {directory}：应恰有一个 *{KEY_SUFFIX} 私钥文件，实有 "
                           f"{len(keys)} 个 / key store {directory}: holds {len(keys)} "
                           f"*{KEY_SUFFIX} files ({names}); a key store holds exactly one")
    return load_key(keys[0], sigtype)

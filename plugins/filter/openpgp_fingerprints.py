# -*- coding: utf-8 -*-
# Copyright (c) 2026 gpufleet contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
name: openpgp_fingerprints
short_description: The fingerprints of the primary keys in an OpenPGP public key (ASCII-armored or binary)
version_added: 0.2.0
description:
  - Reads an OpenPGP public key block, as a repository's C(gpgkey) file holds it, and returns the fingerprint of each
    primary key in it (RFC 4880 version 4 keys, SHA-1; RFC 9580 version 6 and draft version 5 keys, SHA-256), upper-case
    hexadecimal without spaces, as C(gpg --show-keys --with-colons) prints them in its C(fpr) lines.
  - Needs no C(gpg) on the host; the P(gpufleet.nvidia.container_toolkit#role) role compares the repository key it
    fetched with its C(container_toolkit_gpg_key_fingerprints) before apt trusts it.
author:
  - gpufleet contributors (@gpufleet)
options:
  _input:
    description: The key, ASCII-armored text (C(-----BEGIN PGP PUBLIC KEY BLOCK-----)) or the binary packets.
    type: raw
    required: true
"""

EXAMPLES = r"""
- name: Read the key the host fetched
  ansible.builtin.slurp:
    src: /var/lib/gpufleet/container_toolkit/gpgkey.asc
  register: key

- name: Refuse a key that is not the pinned one (an example fingerprint)
  ansible.builtin.assert:
    that: >-
      '0123456789ABCDEF0123456789ABCDEF01234567'
      in (key.content | b64decode | gpufleet.nvidia.openpgp_fingerprints)
"""

RETURN = r"""
_value:
  description: The primary keys' fingerprints, in the order of the block; subkeys are not listed.
  type: list
  elements: str
"""

import base64
import binascii
import hashlib
import re

from ansible.errors import AnsibleFilterError

_ARMOR = re.compile(
    r"-----BEGIN PGP PUBLIC KEY BLOCK-----\s*\n(?P<body>.*?)-----END PGP PUBLIC KEY BLOCK-----", re.DOTALL
)
_PUBLIC_KEY = 6


def _dearmor(text):
    """The binary packets of every armored public key block in text."""
    blocks = []
    for match in _ARMOR.finditer(text):
        lines = match.group("body").splitlines()
        # Armor headers ("Comment: ...") end at the first empty line; the checksum line starts with "=".
        if any(not line.strip() for line in lines):
            lines = lines[[not line.strip() for line in lines].index(True) + 1 :]
        data = "".join(line.strip() for line in lines if line.strip() and not line.startswith("="))
        try:
            blocks.append(base64.b64decode(data, validate=True))
        except (binascii.Error, ValueError) as exc:
            raise AnsibleFilterError(f"openpgp_fingerprints: the armored key is not valid base64: {exc}") from None
    if not blocks:
        raise AnsibleFilterError("openpgp_fingerprints: no '-----BEGIN PGP PUBLIC KEY BLOCK-----' in the key")
    return b"".join(blocks)


def _packets(data):
    """(tag, body) of each packet (RFC 4880 section 4.2: old and new formats)."""
    offset = 0
    while offset < len(data):
        header = data[offset]
        if not header & 0x80:
            raise AnsibleFilterError(f"openpgp_fingerprints: not an OpenPGP packet at byte {offset}")
        if header & 0x40:  # new format
            tag = header & 0x3F
            offset += 1
            first = data[offset]
            if first < 192:
                length, offset = first, offset + 1
            elif first < 224:
                length, offset = ((first - 192) << 8) + data[offset + 1] + 192, offset + 2
            elif first == 255:
                length, offset = int.from_bytes(data[offset + 1 : offset + 5], "big"), offset + 5
            else:
                raise AnsibleFilterError("openpgp_fingerprints: partial body lengths are not allowed in a key")
        else:  # old format
            tag = (header >> 2) & 0x0F
            size = {0: 1, 1: 2, 2: 4}.get(header & 0x03)
            if size is None:
                raise AnsibleFilterError("openpgp_fingerprints: indeterminate packet length in a key")
            length = int.from_bytes(data[offset + 1 : offset + 1 + size], "big")
            offset += 1 + size
        body = data[offset : offset + length]
        if len(body) != length:
            raise AnsibleFilterError("openpgp_fingerprints: the key is truncated")
        yield tag, body
        offset += length


def _fingerprint(body):
    version = body[0] if body else None
    if version == 4:
        return hashlib.sha1(b"\x99" + len(body).to_bytes(2, "big") + body).hexdigest().upper()
    if version == 5:
        return hashlib.sha256(b"\x9a" + len(body).to_bytes(4, "big") + body).hexdigest().upper()
    if version == 6:
        return hashlib.sha256(b"\x9b" + len(body).to_bytes(4, "big") + body).hexdigest().upper()
    raise AnsibleFilterError(f"openpgp_fingerprints: public key version {version} is not supported (4, 5 or 6)")


def openpgp_fingerprints(key):
    if isinstance(key, str):
        data = _dearmor(key)  # text is armored; the binary form comes as bytes
    elif isinstance(key, (bytes, bytearray)):
        data = bytes(key)
        if b"-----BEGIN PGP" in data:
            data = _dearmor(data.decode("ascii", "replace"))
    else:
        raise AnsibleFilterError(f"openpgp_fingerprints expects the key's text, got {type(key).__name__}")
    return [_fingerprint(body) for tag, body in _packets(data) if tag == _PUBLIC_KEY]


class FilterModule:
    def filters(self):
        return {"openpgp_fingerprints": openpgp_fingerprints}

#!/usr/bin/env python3
"""Small helpers for scripts/deploy.sh, scripts/teardown.sh and scripts/lambda-build.sh.

Kept in Python so the shell scripts stay simple and these parts can be tested offline.

  deploy_helpers.py samconfig FILE KEY [ENV]     print KEY of [ENV.deploy.parameters] (or
                                                 [ENV.global.parameters]) of a samconfig.toml;
                                                 prints nothing when absent
  deploy_helpers.py outputs [--partial] KEY...   read `aws cloudformation describe-stacks
                                                 --query Stacks[0].Outputs --output json` on stdin,
                                                 print KEY=VALUE lines; exit 1 naming missing keys
                                                 (with --partial: print the keys present, exit 0)
  deploy_helpers.py config-js API_URL [STACK]    print the dashboard's config.js
  deploy_helpers.py new-key                      print a fresh random API key (64 hex characters)
  deploy_helpers.py check-keys                   read "LABEL<TAB>VALUE" lines on stdin: every value a valid
                                                 key, all different; exit 1 naming the labels (never values)
  deploy_helpers.py ssm-put-input NAME OVERWRITE read a key on stdin, print the --cli-input-json of
                                                 `aws ssm put-parameter` (SecureString; OVERWRITE true/false)
  deploy_helpers.py secret-fields FILE           print "FIELD<TAB>VALUE" for the keys in a secret's JSON
  deploy_helpers.py secret-put-input ID FILE     read "FIELD<TAB>VALUE" lines on stdin, merge them into the
                                                 secret JSON in FILE, print the --cli-input-json of
                                                 `aws secretsmanager put-secret-value`
  deploy_helpers.py binary-report FILE...        print size, zipped size and architecture of each
                                                 bootstrap; exit 1 if one is missing, not aarch64 or
                                                 8 MB (8,000,000 B) or larger
"""

from __future__ import annotations

import io
import json
import re
import shlex
import secrets
import sys
import zipfile
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # pragma: no cover
    import tomli as tomllib  # type: ignore[no-redef]

#: What a key may look like: 16-128 URL/header-safe characters, not containing "changeme" (the functions treat
#: that placeholder as "no key", which is meant for local use only).
KEY_PATTERN = re.compile(r"(?!.*changeme)[A-Za-z0-9._~+/=-]{16,128}", re.IGNORECASE)
#: Fields of the Secrets Manager secret (KeySource secretsmanager).
SECRET_FIELDS = ("API_KEY", "ADMIN_API_KEY", "PUBLIC_API_KEY")

#: Largest bootstrap accepted: 8 MB (decimal, the stricter reading); cold starts grow with the code loaded.
MAX_BOOTSTRAP_BYTES = 8_000_000

ELF_MACHINES = {0x3E: "x86_64", 0xB7: "aarch64", 0x03: "x86", 0x28: "arm"}


def samconfig(path: str, key: str, env: str = "default") -> int:
    p = Path(path)
    if not p.is_file():
        return 0
    data = tomllib.loads(p.read_text())
    section = data.get(env) or {}
    for cmd in ("deploy", "global"):
        value = ((section.get(cmd) or {}).get("parameters") or {}).get(key)
        if value is not None:
            if isinstance(value, list):
                value = " ".join(str(v) for v in value)
            print(value)
            return 0
    return 0


def planned_key_store(path: str, stack: str) -> int:
    """Before a stack's first deploy: where the template will look for its keys, from the samconfig's
    parameter_overrides and the template's defaults (KeySource ssm, /leadpipe/<stack>/...-key). Prints
    KeySource=..., ApiKeyParameter=..., AdminApiKeyParameter=..., PublicApiKeyParameter=... as `outputs` does."""
    p = Path(path)
    data = tomllib.loads(p.read_text()) if p.is_file() else {}
    raw = ((data.get("default") or {}).get("deploy") or {}).get("parameters", {}).get("parameter_overrides") or ""
    if isinstance(raw, list):
        raw = " ".join(str(v) for v in raw)
    overrides = {}
    for token in shlex.split(raw):
        name, sep, value = token.partition("=")
        if sep:
            overrides[name] = value
    source = overrides.get("KeySource") or "ssm"
    print(f"KeySource={source}")
    if source != "ssm":
        return 0
    for output, param, suffix in (("ApiKeyParameter", "ApiKeyParameterName", "api-key"),
                                  ("AdminApiKeyParameter", "AdminApiKeyParameterName", "admin-api-key"),
                                  ("PublicApiKeyParameter", "PublicApiKeyParameterName", "public-api-key")):
        print(f"{output}={overrides.get(param) or f'/leadpipe/{stack}/{suffix}'}")
    return 0


def outputs(keys: list[str], partial: bool = False) -> int:
    raw = sys.stdin.read()
    try:
        items = json.loads(raw or "null") or []
    except json.JSONDecodeError:
        print(f"describe-stacks did not return JSON: {raw[:200]!r}", file=sys.stderr)
        return 1
    values = {o.get("OutputKey"): o.get("OutputValue") for o in items if isinstance(o, dict)}
    missing = [k for k in keys if not values.get(k)]
    if partial:
        keys = [k for k in keys if k not in missing]
    elif missing:
        print(f"stack outputs lack {', '.join(missing)} (found: {', '.join(sorted(values)) or 'none'})",
              file=sys.stderr)
        return 1
    for k in keys:
        print(f"{k}={values[k]}")
    return 0


def config_js(api_url: str, stack: str = "") -> int:
    url = api_url.strip().rstrip("/")
    if not re.fullmatch(r"https://[A-Za-z0-9.-]+(:[0-9]+)?(/[A-Za-z0-9._~/-]*)?", url):
        print(f"refusing to write config.js: {api_url!r} does not look like an https URL", file=sys.stderr)
        return 1
    origin = f" for stack {stack}" if stack else ""
    print(f"// Written by scripts/deploy.sh{origin}. Do not edit: the next deploy rewrites it.")
    print(f"window.LEADPIPE_CONFIG = {{ apiBaseUrl: {json.dumps(url)} }};")
    return 0


def new_key() -> int:
    print(secrets.token_hex(32))
    return 0


def _labelled(lines: str) -> list[tuple[str, str]]:
    out = []
    for line in lines.splitlines():
        if not line.strip():
            continue
        label, _, value = line.partition("\t")
        out.append((label, value))
    return out


def check_keys() -> int:
    keys = _labelled(sys.stdin.read())
    bad = [label for label, value in keys if not KEY_PATTERN.fullmatch(value)]
    for label in bad:
        print(f"{label}: not a valid key: 16 to 128 characters from A-Z a-z 0-9 . _ ~ + / = - and not containing "
              f"'changeme' (generate one with: openssl rand -hex 32)", file=sys.stderr)
    seen: dict[str, str] = {}
    same = []
    for label, value in keys:
        if value in seen:
            same.append((seen[value], label))
        seen.setdefault(value, label)
    for a, b in same:
        print(f"{a} and {b} are the same key: the ingest, admin and public keys must all differ", file=sys.stderr)
    return 1 if bad or same else 0


def ssm_put_input(name: str, overwrite: str) -> int:
    value = sys.stdin.read().strip("\n")
    if not KEY_PATTERN.fullmatch(value):
        print(f"refusing to store an invalid key in {name}", file=sys.stderr)
        return 1
    print(json.dumps({"Name": name, "Value": value, "Type": "SecureString", "Overwrite": overwrite == "true",
                      "Description": "Leadpipe API key (read by the functions at start-up)"}))
    return 0


def secret_fields(path: str) -> int:
    try:
        data = json.loads(Path(path).read_text() or "{}")
    except json.JSONDecodeError:
        print(f"the secret in {path} is not JSON with the fields {', '.join(SECRET_FIELDS)}", file=sys.stderr)
        return 1
    if not isinstance(data, dict):
        print(f"the secret in {path} is not a JSON object", file=sys.stderr)
        return 1
    for field in SECRET_FIELDS:
        if isinstance(data.get(field), str) and data[field]:
            print(f"{field}\t{data[field]}")
    return 0


def secret_put_input(secret_id: str, path: str) -> int:
    text = Path(path).read_text() if Path(path).is_file() else ""
    try:
        data = json.loads(text or "{}")
    except json.JSONDecodeError:
        print("the current secret is not JSON; refusing to overwrite it", file=sys.stderr)
        return 1
    for field, value in _labelled(sys.stdin.read()):
        if field not in SECRET_FIELDS or not KEY_PATTERN.fullmatch(value):
            print(f"refusing to store {field!r}: not one of {SECRET_FIELDS} or not a valid key", file=sys.stderr)
            return 1
        data[field] = value
    print(json.dumps({"SecretId": secret_id, "SecretString": json.dumps(data)}))
    return 0


def binary_report(files: list[str]) -> int:
    bad = 0
    print(f"{'function':<12} {'bootstrap':>22} {'zipped (deflate -9)':>22}  arch")
    for f in files:
        p = Path(f)
        name = p.parent.name
        if not p.is_file():
            print(f"{name:<12} {'missing':>22} {'-':>22}  -  ({p})")
            bad += 1
            continue
        data = p.read_bytes()
        arch = "not ELF"
        if data[:4] == b"\x7fELF" and len(data) > 20:
            arch = ELF_MACHINES.get(int.from_bytes(data[18:20], "little"), "unknown")
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
            z.writestr("bootstrap", data)
        print(f"{name:<12} {_human(len(data)):>22} {_human(len(buf.getvalue())):>22}  {arch}")
        if arch != "aarch64":
            bad += 1
        if len(data) >= MAX_BOOTSTRAP_BYTES:
            print(f"  {name}: {len(data)} B is over the {MAX_BOOTSTRAP_BYTES} B limit", file=sys.stderr)
            bad += 1
    if bad:
        print(f"{bad} bootstrap problem(s): missing, not built for aarch64 (Lambda arm64), or too large",
              file=sys.stderr)
    return 1 if bad else 0


def _human(n: int) -> str:
    return f"{n} B ({n / (1024 * 1024):.2f} MiB)"


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    cmd, args = argv[0], argv[1:]
    if cmd == "samconfig" and len(args) in (2, 3):
        return samconfig(*args)
    if cmd == "planned-key-store" and len(args) == 2:
        return planned_key_store(*args)
    if cmd == "outputs" and args and args[0] == "--partial" and len(args) > 1:
        return outputs(args[1:], partial=True)
    if cmd == "outputs" and args:
        return outputs(args)
    if cmd == "config-js" and len(args) in (1, 2):
        return config_js(*args)
    if cmd == "new-key" and not args:
        return new_key()
    if cmd == "binary-report" and args:
        return binary_report(args)
    if cmd == "check-keys" and not args:
        return check_keys()
    if cmd == "ssm-put-input" and len(args) == 2 and args[1] in ("true", "false"):
        return ssm_put_input(*args)
    if cmd == "secret-fields" and len(args) == 1:
        return secret_fields(*args)
    if cmd == "secret-put-input" and len(args) == 2:
        return secret_put_input(*args)
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

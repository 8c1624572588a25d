#!/usr/bin/env python3
"""Validates a folder written by `gatehouse policy-templates` (standard library only).

    validate_templates.py TEMPLATES_DIR MANAGED_SCHEMA EXTENSION_ID [EDGE_EXTENSION_ID]

- ADMX/ADML: well-formed; every $(string.X) and $(presentation.X) the ADMX uses is defined in
  every ADML, every presentation's refId names an element of its policy, every parentCategory and
  supportedOn ref resolves, and every language defines the same string ids.
- Linux JSON: the extension's `3rdparty` policy validates against the managed-storage schema
  (Chrome's subset: type, properties, additionalProperties, items, enum, minimum, maximum).
- .mobileconfig: parses with plistlib; a Configuration profile whose payloads have identifiers
  and UUIDs; the extension's managed values validate against the schema.
- .reg: UTF-16LE with BOM, `Windows Registry Editor Version 5.00`, then only comments, [keys]
  and "name"=value lines in .reg syntax; the extension's values validate against the schema.

Prints one line per file checked and exits 1 with every problem listed.
"""

import json
import plistlib
import re
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

PROBLEMS = []


def problem(where, what):
    PROBLEMS.append(f"{where}: {what}")


# --- the managed-storage schema (Chrome's subset) -------------------------------------------

TYPES = {
    "object": dict,
    "array": list,
    "string": str,
    "boolean": bool,
    "integer": int,
    "number": (int, float),
}


def validate(value, schema, where):
    kind = schema.get("type")
    if kind:
        ok = isinstance(value, TYPES[kind]) and not (kind in ("integer", "number") and isinstance(value, bool))
        if not ok:
            problem(where, f"expected {kind}, got {type(value).__name__}")
            return
    if "enum" in schema and value not in schema["enum"]:
        problem(where, f"{value!r} is not one of {schema['enum']}")
    if "minimum" in schema and value < schema["minimum"]:
        problem(where, f"{value} < minimum {schema['minimum']}")
    if "maximum" in schema and value > schema["maximum"]:
        problem(where, f"{value} > maximum {schema['maximum']}")
    if kind == "object":
        props = schema.get("properties", {})
        extra = schema.get("additionalProperties")
        for k, v in value.items():
            if k in props:
                validate(v, props[k], f"{where}.{k}")
            elif extra is not None:
                validate(v, extra, f"{where}.{k}")
            else:
                problem(where, f"unknown property {k!r}")
    if kind == "array" and "items" in schema:
        for i, v in enumerate(value):
            validate(v, schema["items"], f"{where}[{i}]")


# --- ADMX / ADML -------------------------------------------------------------------------------

def local(tag):
    return tag.rsplit("}", 1)[-1]


def refs(text, kind):
    return re.findall(r"\$\(" + kind + r"\.([^)]+)\)", text or "")


def check_admx(admx_dir):
    admx_files = sorted(admx_dir.glob("*.admx"))
    if not admx_files:
        problem(admx_dir, "no .admx file")
    for admx in admx_files:
        try:
            root = ET.parse(admx).getroot()
        except ET.ParseError as e:
            problem(admx, f"not well-formed: {e}")
            continue
        strings, presentations, categories, supported = set(), set(), set(), set()
        policies = []
        for el in root.iter():
            tag = local(el.tag)
            for attr in ("displayName", "explainText"):
                strings.update(refs(el.get(attr), "string"))
            presentations.update(refs(el.get("presentation"), "presentation"))
            if tag == "category":
                categories.add(el.get("name"))
            if tag == "definition":
                supported.add(el.get("name"))
            if tag == "policy":
                policies.append(el)
        for el in root.iter():
            ref = el.get("ref")
            if local(el.tag) == "parentCategory" and ref not in categories and ":" not in ref:
                problem(admx, f"parentCategory {ref!r} is not defined")
            if local(el.tag) == "supportedOn" and el.get("ref") and ref not in supported and ":" not in ref:
                problem(admx, f"supportedOn {ref!r} is not defined")
        names = [p.get("name") for p in policies]
        if len(names) != len(set(names)):
            problem(admx, "duplicate policy names")
        for p in policies:
            if not p.get("key") or p.get("class") not in ("Machine", "User", "Both"):
                problem(admx, f"policy {p.get('name')}: key and class are required")
        languages = sorted(admx_dir.glob(f"*/{admx.stem}.adml"))
        if not languages:
            problem(admx, "no ADML beside it")
        ids_by_language = {}
        for adml in languages:
            try:
                aroot = ET.parse(adml).getroot()
            except ET.ParseError as e:
                problem(adml, f"not well-formed: {e}")
                continue
            defined = {el.get("id") for el in aroot.iter() if local(el.tag) == "string"}
            ids_by_language[adml.parent.name] = defined
            pres = {el.get("id"): el for el in aroot.iter() if local(el.tag) == "presentation"}
            for s in sorted(strings - defined):
                problem(adml, f"string {s!r} used by the ADMX is not defined")
            for s in sorted(presentations - set(pres)):
                problem(adml, f"presentation {s!r} used by the ADMX is not defined")
            for p in policies:
                ids = {el.get("id") for el in p.iter() if el.get("id")}
                for pid in refs(p.get("presentation"), "presentation"):
                    for el in pres.get(pid, []):
                        if el.get("refId") and el.get("refId") not in ids:
                            problem(adml, f"presentation {pid}: refId {el.get('refId')!r} is no element of policy {p.get('name')}")
            print(f"ok  {adml.relative_to(admx_dir.parent.parent)}: {len(defined)} strings, {len(pres)} presentations")
        sets = list(ids_by_language.values())
        if sets and any(s != sets[0] for s in sets):
            problem(admx_dir, f"languages define different string ids: {sorted(ids_by_language)}")
        print(f"ok  {admx.name}: {len(policies)} policies, {len(categories)} categories")


# --- Linux JSON, .mobileconfig, .reg ----------------------------------------------------------

def check_json(path, schema, ids):
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as e:
        problem(path, f"not JSON: {e}")
        return
    exts = doc.get("3rdparty", {}).get("extensions", {})
    found = [i for i in ids if i in exts]
    if not found:
        problem(path, f"no 3rdparty policy for {ids}")
    for i in found:
        validate(exts[i], schema, f"{path.name}:3rdparty.extensions.{i}")
    settings = doc.get("ExtensionSettings", {})
    if not any(settings.get(i, {}).get("installation_mode") == "force_installed" for i in ids):
        problem(path, "ExtensionSettings does not force-install the extension")
    print(f"ok  {path}")


def check_mobileconfig(path, schema, ids):
    try:
        with open(path, "rb") as f:
            doc = plistlib.load(f)
    except Exception as e:  # plistlib raises several kinds
        problem(path, f"not a property list: {e}")
        return
    if doc.get("PayloadType") != "Configuration":
        problem(path, "top-level PayloadType is not Configuration")
    uuids = [doc.get("PayloadUUID")]
    checked = 0
    for payload in doc.get("PayloadContent", []):
        for key in ("PayloadType", "PayloadIdentifier", "PayloadUUID", "PayloadVersion"):
            if key not in payload:
                problem(path, f"payload {payload.get('PayloadIdentifier')} lacks {key}")
        uuids.append(payload.get("PayloadUUID"))
        if payload.get("PayloadType") == "com.apple.ManagedClient.preferences":
            for domain, settings in payload.get("PayloadContent", {}).items():
                for forced in settings.get("Forced", []):
                    values = forced.get("mcx_preference_settings", {})
                    if any(domain.endswith(f".extensions.{i}") for i in ids):
                        validate(values, schema, f"{path.name}:{domain}")
                        checked += 1
        for i in ids:
            if payload.get("PayloadType", "").endswith(f".extensions.{i}"):
                values = {k: v for k, v in payload.items() if not k.startswith("Payload")}
                validate(values, schema, f"{path.name}:{payload['PayloadType']}")
                checked += 1
    if len(set(uuids)) != len(uuids):
        problem(path, "payload UUIDs repeat")
    if not checked:
        problem(path, f"no managed values for {ids}")
    print(f"ok  {path}: {len(doc.get('PayloadContent', []))} payloads, {checked} validated against the schema")


REG_STRING = r'"(?:[^"\\]|\\[\\"])*"'
REG_VALUE = re.compile(r'^(@|' + REG_STRING + r')=(' + REG_STRING + r'|dword:[0-9a-f]{8}|hex(\([0-9a-f]\))?:[0-9a-f,]*|-)$')


def reg_unquote(s):
    return re.sub(r"\\([\\\"])", r"\1", s[1:-1])


def check_reg(path, schema, ids):
    raw = path.read_bytes()
    if not raw.startswith(b"\xff\xfe"):
        problem(path, "no UTF-16LE byte-order mark")
        return
    try:
        text = raw[2:].decode("utf-16-le")
    except UnicodeDecodeError as e:
        problem(path, f"not UTF-16LE: {e}")
        return
    lines = text.split("\r\n")
    if lines[0] != "Windows Registry Editor Version 5.00":
        problem(path, f"first line is {lines[0]!r}")
    if "\n" in text.replace("\r\n", ""):
        problem(path, "bare LF line ends (regedit wants CRLF)")
    key = None
    values = {}
    for n, line in enumerate(lines[1:], start=2):
        if not line or line.startswith(";"):
            continue
        m = re.fullmatch(r"\[(-?)(HKEY_LOCAL_MACHINE|HKEY_CURRENT_USER)\\([^\]]+)\]", line)
        if m:
            key = m.group(3)
            continue
        m = REG_VALUE.match(line)
        if not m or key is None:
            problem(path, f"line {n} is not .reg syntax: {line[:80]!r}")
            continue
        for i in ids:
            if key.endswith(f"\\3rdparty\\extensions\\{i}\\policy") and m.group(1) != "@":
                name = reg_unquote(m.group(1))
                raw_value = m.group(2)
                prop = schema.get("properties", {}).get(name)
                if prop is None:
                    problem(path, f"line {n}: {name!r} is not in the schema")
                    continue
                if raw_value.startswith("dword:"):
                    v = int(raw_value[6:], 16)
                    values[name] = bool(v) if prop.get("type") == "boolean" else v
                elif raw_value.startswith('"'):
                    s = reg_unquote(raw_value)
                    try:
                        values[name] = json.loads(s) if prop.get("type") in ("object", "array") else s
                    except ValueError as e:
                        problem(path, f"line {n}: {name} is not JSON: {e}")
    if not values:
        problem(path, f"no values for {ids} under 3rdparty\\extensions\\<id>\\policy")
    validate(values, schema, f"{path.name}:policy")
    print(f"ok  {path}: {len(lines)} lines, {len(values)} Gatehouse values validated")


def main(argv):
    if len(argv) < 4:
        print(__doc__, file=sys.stderr)
        return 2
    out, schema_path, ids = Path(argv[1]), Path(argv[2]), argv[3:]
    schema = json.loads(schema_path.read_text(encoding="utf-8"))
    counts = {}
    for path in sorted(out.rglob("*")):
        if path.suffix == ".json" and "linux" in path.parts:
            check_json(path, schema, ids)
        elif path.suffix == ".mobileconfig":
            check_mobileconfig(path, schema, ids)
        elif path.suffix == ".reg":
            check_reg(path, schema, ids)
        elif path.suffix == ".admx":
            check_admx(path.parent)
        else:
            continue
        counts[path.suffix] = counts.get(path.suffix, 0) + 1
    # Guard against a generator that silently stopped writing a kind of file.
    for suffix, least in ((".json", 3), (".reg", 3), (".admx", 1), (".mobileconfig", 1)):
        if counts.get(suffix, 0) < least:
            problem(out, f"expected at least {least} {suffix} file(s), found {counts.get(suffix, 0)}")
    for p in PROBLEMS:
        print(f"PROBLEM {p}", file=sys.stderr)
    return 1 if PROBLEMS else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

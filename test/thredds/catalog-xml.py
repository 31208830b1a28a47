"""Parses a THREDDS InvCatalog 1.0 document from stdin with xml.etree (namespace-aware) and prints JSON."""
import json
import sys
import xml.etree.ElementTree as ET

NS = "http://www.unidata.ucar.edu/namespaces/thredds/InvCatalog/v1.0"
XLINK = "http://www.w3.org/1999/xlink"
T = lambda name: f"{{{NS}}}{name}"


def text(el, path):
    found = el.find(path)
    return None if found is None else found.text


root = ET.fromstring(sys.stdin.buffer.read())
assert root.tag == T("catalog"), root.tag
if sys.argv[1:] == ["--sizes"]:
    # Large catalogs: only each file's urlPath and size.
    sizes = [
        [d.get("urlPath"), int(d.find(T("dataSize")).text)] for d in root.iter(T("dataset")) if d.get("urlPath")
    ]
    json.dump(sizes, sys.stdout)
    sys.exit(0)
out = {
    "version": root.get("version"),
    "services": [
        {
            "name": s.get("name"),
            "serviceType": s.get("serviceType"),
            "base": s.get("base"),
            "nested": [
                {"name": n.get("name"), "serviceType": n.get("serviceType"), "base": n.get("base")}
                for n in s.findall(T("service"))
            ],
        }
        for s in root.findall(T("service"))
    ],
    "catalogRefs": [
        {"href": r.get(f"{{{XLINK}}}href"), "title": r.get(f"{{{XLINK}}}title"), "ID": r.get("ID")}
        for r in root.iter(T("catalogRef"))
    ],
    "serviceName": [e.text for e in root.iter(T("serviceName"))],
    "datasets": [],
}
for d in root.iter(T("dataset")):
    if d.get("urlPath") is None:
        continue
    size = d.find(T("dataSize"))
    geo = d.find(T("geospatialCoverage"))
    variables = d.find(T("variables"))
    out["datasets"].append(
        {
            "name": d.get("name"),
            "ID": d.get("ID"),
            "urlPath": d.get("urlPath"),
            "dataSize": None if size is None else [int(size.text), size.get("units")],
            "modified": text(d, f"{T('date')}[@type='modified']"),
            "timeCoverage": None
            if d.find(T("timeCoverage")) is None
            else {
                "start": text(d, f"{T('timeCoverage')}/{T('start')}"),
                "end": text(d, f"{T('timeCoverage')}/{T('end')}"),
            },
            "geospatialCoverage": None
            if geo is None
            else {
                axis: {
                    "start": float(text(geo, f"{T(axis)}/{T('start')}")),
                    "size": float(text(geo, f"{T(axis)}/{T('size')}")),
                    "units": text(geo, f"{T(axis)}/{T('units')}"),
                }
                for axis in ("northsouth", "eastwest")
            },
            "variables": None
            if variables is None
            else {
                "vocabulary": variables.get("vocabulary"),
                "items": [
                    {
                        "name": v.get("name"),
                        "vocabulary_name": v.get("vocabulary_name"),
                        "units": v.get("units"),
                        "text": v.text,
                    }
                    for v in variables.findall(T("variable"))
                ],
            },
            "properties": {p.get("name"): p.get("value") for p in d.findall(T("property"))},
        }
    )
json.dump(out, sys.stdout)

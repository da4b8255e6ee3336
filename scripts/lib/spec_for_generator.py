"""Writes the OpenAPI document that openapi-generator gets: openapi.yaml
without the response headers the server's HTTP edge sets on every answer
(component headers marked `x-set-by-edge: true`, such as X-Request-Id).

The generated server would otherwise make each of them a field of every
response variant, for each operation to fill in; the edge sets them once
instead, so the generated trait speaks only of the API.

    python3 spec_for_generator.py openapi.yaml OUT.yaml
"""

import sys

import yaml

EDGE_MARK = "x-set-by-edge"


def without_edge_headers(spec: dict) -> dict:
    components = spec.get("components", {})
    headers = components.get("headers", {})
    edge = {f"#/components/headers/{name}" for name, header in headers.items() if header.get(EDGE_MARK)}
    for name in [name for name, header in headers.items() if header.get(EDGE_MARK)]:
        del headers[name]
    if not headers:
        components.pop("headers", None)

    responses = list(components.get("responses", {}).values())
    for path_item in spec.get("paths", {}).values():
        for operation in path_item.values():
            if isinstance(operation, dict):
                responses.extend(operation.get("responses", {}).values())
    for response in responses:
        declared = response.get("headers")
        if declared is None:
            continue
        for name in [n for n, h in declared.items() if h.get("$ref") in edge]:
            del declared[name]
        if not declared:
            del response["headers"]
    return spec


def main(source: str, target: str) -> None:
    with open(source, encoding="utf-8") as f:
        spec = yaml.safe_load(f)
    with open(target, "w", encoding="utf-8") as f:
        yaml.safe_dump(without_edge_headers(spec), f, sort_keys=False, allow_unicode=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])

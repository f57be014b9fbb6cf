"""The Management API's OpenAPI 3.1 document, built from the live router so it cannot drift.

Paths and methods come from the routes actually registered on the management sub-app; the
table below adds what a router cannot know (request and response shapes, error codes). A
route without an entry (a module added later) is still described, from its handler's
docstring, with a generic JSON response — and the tests flag it, so an entry gets written.
Served unauthenticated at ``GET /api/management/v3/openapi.json``; the API stays behind
``X-Api-Key``.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

EDC_VOCAB = "https://w3id.org/edc/v0.0.1/ns/"
OPENAPI_PATH = "/v3/openapi.json"
ROUTE_NAME = "management-openapi"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _array(name: str) -> dict[str, Any]:
    return {"type": "array", "items": _ref(name)}


def _obj(required: tuple[str, ...] = (), **props: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "object", "properties": props}
    if required:
        out["required"] = list(required)
    return out


_STR = {"type": "string"}
_MILLIS = {"type": "integer", "description": "epoch milliseconds"}
_JSON_OBJ = {"type": "object"}
_CONTEXT = {"description": "JSON-LD context; responses use {'@vocab': '" + EDC_VOCAB + "', ...}",
            "type": ["object", "array", "string"]}
_TERMINATE = _obj(reason=_STR, **{"@context": _CONTEXT})

SCHEMAS: dict[str, dict[str, Any]] = {
    "ApiErrorList": {"type": "array", "minItems": 1, "items": _obj(
        ("message", "type"), message=_STR, type=_STR, path={"type": ["string", "null"]}, invalidValue={})},
    "IdResponse": _obj(("@id", "@type", "createdAt"), **{"@context": _CONTEXT, "@id": _STR,
                                                          "@type": {"const": "IdResponse"}}, createdAt=_MILLIS),
    "Criterion": _obj(("operandLeft", "operator"), operandLeft=_STR, operator=_STR, operandRight={},
                      **{"@type": _STR}),
    "QuerySpec": _obj(offset={"type": "integer", "minimum": 0}, limit={"type": "integer", "minimum": 0},
                      sortField=_STR, sortOrder={"enum": ["ASC", "DESC"]},
                      filterExpression={"type": "array", "items": _ref("Criterion")},
                      **{"@context": _CONTEXT, "@type": _STR}),
    "DataAddress": {**_obj(("type",), type=_STR, **{"@type": _STR}), "additionalProperties": True},
    "AssetInput": _obj(properties=_JSON_OBJ, privateProperties=_JSON_OBJ, dataAddress=_ref("DataAddress"),
                       **{"@context": _CONTEXT, "@id": _STR, "@type": {"const": "Asset"}}),
    "Asset": _obj(("@context", "@id", "@type", "properties", "createdAt"),
                  properties={**_JSON_OBJ, "required": ["id"]}, privateProperties=_JSON_OBJ,
                  dataAddress=_ref("DataAddress"), createdAt=_MILLIS,
                  **{"@context": _CONTEXT, "@id": _STR, "@type": {"const": "Asset"}}),
    "OdrlPolicy": {**_JSON_OBJ, "description": "ODRL 2.2 policy (odrl:-prefixed, compact DSP or expanded)"},
    "PolicyDefinitionInput": _obj(("policy",), policy=_ref("OdrlPolicy"), privateProperties=_JSON_OBJ,
                                  **{"@context": _CONTEXT, "@id": _STR, "@type": {"const": "PolicyDefinition"}}),
    "PolicyDefinition": _obj(("@context", "@id", "@type", "policy", "createdAt"), policy=_ref("OdrlPolicy"),
                             privateProperties=_JSON_OBJ, createdAt=_MILLIS,
                             **{"@context": _CONTEXT, "@id": _STR, "@type": {"const": "PolicyDefinition"}}),
    "ContractDefinitionInput": _obj(
        ("accessPolicyId", "contractPolicyId"), accessPolicyId=_STR, contractPolicyId=_STR,
        assetsSelector={"type": "array", "items": _ref("Criterion")}, privateProperties=_JSON_OBJ,
        **{"@context": _CONTEXT, "@id": _STR, "@type": {"const": "ContractDefinition"}}),
    "ContractDefinition": _obj(
        ("@context", "@id", "@type", "accessPolicyId", "contractPolicyId", "assetsSelector", "createdAt"),
        accessPolicyId=_STR, contractPolicyId=_STR, assetsSelector={"type": "array", "items": _ref("Criterion")},
        privateProperties=_JSON_OBJ, createdAt=_MILLIS,
        **{"@context": _CONTEXT, "@id": _STR, "@type": {"const": "ContractDefinition"}}),
    "CallbackAddress": _obj(("uri",), uri={"type": "string", "format": "uri"}, events={"type": "array", "items": _STR},
                            transactional={"type": "boolean"}),
    "CatalogRequest": _obj(("counterPartyAddress", "counterPartyId"), counterPartyAddress=_STR, counterPartyId=_STR,
                           protocol=_STR, querySpec=_ref("QuerySpec"), **{"@context": _CONTEXT, "@type": _STR}),
    "DatasetRequest": _obj(("@id", "counterPartyAddress", "counterPartyId"), counterPartyAddress=_STR,
                           counterPartyId=_STR, protocol=_STR, **{"@context": _CONTEXT, "@id": _STR, "@type": _STR}),
    "DspDocument": {**_JSON_OBJ, "description": "the partner's DSP 2025-1 Catalog or Dataset, as it sent it"},
    "ContractRequest": _obj(("counterPartyAddress", "policy"), counterPartyAddress=_STR, counterPartyId=_STR,
                            protocol=_STR, policy=_ref("OdrlPolicy"), reuseAgreement={"type": ["boolean", "string"]},
                            callbackAddresses={"type": "array", "items": _ref("CallbackAddress")},
                            **{"@context": _CONTEXT, "@type": _STR}),
    "ContractNegotiation": _obj(
        ("@id", "@type", "state", "type", "counterPartyId", "counterPartyAddress", "createdAt"),
        type={"enum": ["CONSUMER", "PROVIDER"]}, state=_STR, protocol=_STR, counterPartyId=_STR,
        counterPartyAddress=_STR, contractAgreementId=_STR, errorDetail=_STR, correlationId={"type": ["string", "null"]},
        callbackAddresses={"type": "array"}, createdAt=_MILLIS,
        **{"@context": _CONTEXT, "@id": _STR, "@type": {"const": "ContractNegotiation"}}),
    "NegotiationState": _obj(("state",), state=_STR, **{"@context": _CONTEXT, "@type": _STR}),
    "ContractAgreement": _obj(
        ("@id", "@type", "assetId", "policy", "consumerId", "providerId"), assetId=_STR, policy=_ref("OdrlPolicy"),
        contractSigningDate={"type": "integer"}, consumerId=_STR, providerId=_STR, contractNegotiationId=_STR,
        **{"@context": _CONTEXT, "@id": _STR, "@type": {"const": "ContractAgreement"}}),
    "TransferRequest": _obj(("counterPartyAddress", "contractId"), counterPartyAddress=_STR, contractId=_STR,
                            transferType=_STR, protocol=_STR, dataDestination=_ref("DataAddress"),
                            callbackAddresses={"type": "array", "items": _ref("CallbackAddress")},
                            **{"@context": _CONTEXT, "@type": _STR}),
    "TransferProcess": _obj(
        ("@id", "@type", "state", "type", "contractId", "transferType", "createdAt"), type={"enum": ["CONSUMER", "PROVIDER"]},
        state=_STR, contractId=_STR, transferType=_STR, counterPartyId=_STR, counterPartyAddress=_STR, protocol=_STR,
        errorDetail=_STR, correlationId={"type": ["string", "null"]}, callbackAddresses={"type": "array"},
        createdAt=_MILLIS, stateTimestamp=_MILLIS,
        **{"@context": _CONTEXT, "@id": _STR, "@type": {"const": "TransferProcess"}}),
    "TransferState": _obj(("state",), state=_STR, **{"@context": _CONTEXT, "@type": _STR}),
    "TerminateRequest": _TERMINATE,
    "EndpointDataReferenceEntry": _obj(
        ("@id", "transferProcessId", "agreementId"), transferProcessId=_STR, agreementId=_STR,
        providerId={"type": ["string", "null"]}, createdAt=_MILLIS, expiresAt=_MILLIS, revoked={"type": "boolean"},
        **{"@context": _CONTEXT, "@id": _STR, "@type": _STR}),
    "EdrDataAddress": _obj(("endpoint", "authorization"), endpoint=_STR, authorization=_STR, authType=_STR,
                           type=_STR, endpointType=_STR, expiresAt=_MILLIS, **{"@context": _CONTEXT, "@type": _STR}),
    "OpenApiDocument": _obj(("openapi", "paths"), openapi=_STR, paths=_JSON_OBJ),
    "FootprintInput": {"description": "one PACT footprint, a list of them, or {'footprints': [...]}",
                       "type": ["object", "array"]},
    "FootprintRecord": _obj(("@id", "direction", "status", "footprint"), direction={"enum": ["published", "received"]},
                            version={"type": "integer"}, status=_STR, sha256=_STR,
                            agreementId={"type": ["string", "null"]}, issuer={"type": ["string", "null"]},
                            updatedAt=_MILLIS, footprint=_JSON_OBJ, credential=_JSON_OBJ, **{"@id": _STR}),
    "FootprintQuery": _obj(direction={"enum": ["published", "received"]}, counterPartyId=_STR, agreementId=_STR,
                           productId=_STR, limit={"type": "integer", "minimum": 1, "maximum": 1000}, after=_STR),
    "FootprintFetch": _obj(transferProcessId=_STR, agreementId=_STR, startTransfer={"type": "boolean"}),
    "FootprintResult": {**_JSON_OBJ, "description": "what was published / fetched, verified and stored"},
    "FootprintRevoke": _obj(version={"type": "integer", "minimum": 0}),
    "FootprintRecheck": _obj(counterPartyId=_STR, agreementId=_STR, productId=_STR),
    "FootprintRecheckResult": _obj(("checked", "revoked", "invalid"), checked={"type": "integer"},
                                   revoked={"type": "array", "items": _STR},
                                   invalid={"type": "array", "items": _obj(("id", "reason"), id=_STR, reason=_STR)}),
    "FootprintRevocation": _obj(("@id", "revoked"), revoked={"type": "array", "items": _obj(
        ("version", "statusListCredential", "statusListIndex"), version={"type": "integer"}, statusListCredential=_STR,
        statusListIndex=_STR, revokedAt=_MILLIS)}, **{"@id": _STR}),
}


@dataclass(frozen=True)
class Operation:
    """What the router cannot tell: the shapes and the refusals of one route."""

    summary: str
    tag: str
    request: str | None = None
    response: str | dict[str, Any] | None = None  # schema name, inline schema, or None for 204
    errors: tuple[int, ...] = (400,)
    public: bool = False
    request_optional: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


def _crud(tag: str, noun: str, shape: str, *, put_collection: bool) -> dict[tuple[str, str], Operation]:
    base = f"/v3/{tag}"
    ops = {
        ("POST", base): Operation(f"Create a {noun}", tag, f"{shape}Input", "IdResponse", (400, 409)),
        ("POST", base + "/request"): Operation(f"Query {noun}s with an EDC QuerySpec", tag, "QuerySpec",
                                               _array(shape), request_optional=True),
        ("GET", base + "/{id}"): Operation(f"Get a {noun}", tag, None, shape, (404,)),
        ("PUT", base + "/{id}"): Operation(f"Replace a {noun} (createdAt is kept)", tag, f"{shape}Input", None,
                                           (400, 404)),
        ("DELETE", base + "/{id}"): Operation(f"Delete a {noun}", tag, None, None, (404, 409)),
    }
    if put_collection:
        ops[("PUT", base)] = Operation(f"Replace a {noun} named by its @id (EDC form)", tag, f"{shape}Input", None,
                                       (400, 404))
    return ops


OPERATIONS: dict[tuple[str, str], Operation] = {
    **_crud("assets", "asset", "Asset", put_collection=True),
    **_crud("policydefinitions", "policy definition", "PolicyDefinition", put_collection=False),
    **_crud("contractdefinitions", "contract definition", "ContractDefinition", put_collection=True),
    ("GET", OPENAPI_PATH): Operation("This OpenAPI 3.1 document (no API key needed)", "meta", None,
                                     "OpenApiDocument", (), public=True),
    ("POST", "/v3/catalog/request"): Operation("Ask a partner for its DSP catalog", "catalog", "CatalogRequest",
                                               "DspDocument", (400, 401, 403, 404, 502)),
    ("POST", "/v3/catalog/dataset/request"): Operation("Ask a partner for one dataset", "catalog", "DatasetRequest",
                                                       "DspDocument", (400, 401, 403, 404, 502)),
    ("POST", "/v3/contractnegotiations"): Operation(
        "Start a contract negotiation (or reuse a finalized agreement with reuseAgreement)", "contractnegotiations",
        "ContractRequest", "IdResponse"),
    ("POST", "/v3/contractnegotiations/request"): Operation("Query contract negotiations", "contractnegotiations",
                                                            "QuerySpec", _array("ContractNegotiation"),
                                                            request_optional=True),
    ("GET", "/v3/contractnegotiations/{id}"): Operation("Get a contract negotiation", "contractnegotiations", None,
                                                        "ContractNegotiation", (404,)),
    ("GET", "/v3/contractnegotiations/{id}/state"): Operation("Get a negotiation's state", "contractnegotiations",
                                                              None, "NegotiationState", (404,)),
    ("GET", "/v3/contractnegotiations/{id}/agreement"): Operation("Get a negotiation's agreement",
                                                                  "contractnegotiations", None, "ContractAgreement",
                                                                  (404,)),
    ("POST", "/v3/contractnegotiations/{id}/terminate"): Operation("Terminate a negotiation", "contractnegotiations",
                                                                   "TerminateRequest", None, (400, 404),
                                                                   request_optional=True),
    ("POST", "/v3/contractnegotiations/{id}/accept"): Operation("Accept the provider's offer (state OFFERED)",
                                                                "contractnegotiations", None, None, (400, 404)),
    ("POST", "/v3/contractagreements/request"): Operation("Query contract agreements", "contractagreements",
                                                          "QuerySpec", _array("ContractAgreement"),
                                                          request_optional=True),
    ("GET", "/v3/contractagreements/{id}"): Operation("Get a contract agreement", "contractagreements", None,
                                                      "ContractAgreement", (404,)),
    ("GET", "/v3/contractagreements/{id}/negotiation"): Operation("Get the negotiation behind an agreement",
                                                                  "contractagreements", None, "ContractNegotiation",
                                                                  (404,)),
    ("POST", "/v3/transferprocesses"): Operation("Start a transfer under an agreement", "transferprocesses",
                                                 "TransferRequest", "IdResponse", (400, 404)),
    ("POST", "/v3/transferprocesses/request"): Operation("Query transfer processes", "transferprocesses", "QuerySpec",
                                                         _array("TransferProcess"), request_optional=True),
    ("GET", "/v3/transferprocesses/{id}"): Operation("Get a transfer process", "transferprocesses", None,
                                                     "TransferProcess", (404,)),
    ("GET", "/v3/transferprocesses/{id}/state"): Operation("Get a transfer's state", "transferprocesses", None,
                                                           "TransferState", (404,)),
    **{("POST", f"/v3/transferprocesses/{{id}}/{verb}"): Operation(
        f"{verb.capitalize()} a transfer process", "transferprocesses", None if verb in ("resume", "complete")
        else "TerminateRequest", None, (400, 404), request_optional=True)
       for verb in ("terminate", "suspend", "resume", "complete")},
    ("POST", "/v3/edrs"): Operation("Tractus-X EDR flow: negotiate, then start a pull transfer once FINALIZED "
                                    "(answers the negotiation id; the EDR appears under /v3/edrs)", "edrs",
                                    "ContractRequest", "IdResponse", (400,)),
    ("POST", "/v3/edrs/request"): Operation("Query the EDRs we hold (consumer side)", "edrs", "QuerySpec",
                                            _array("EndpointDataReferenceEntry"), request_optional=True),
    ("POST", "/v3/footprints"): Operation("Publish PACT footprints (signed as credentials when a key is set)",
                                          "footprints", "FootprintInput", "FootprintResult"),
    ("POST", "/v3/footprints/request"): Operation("Query published and received footprints", "footprints",
                                                  "FootprintQuery", _array("FootprintRecord"), request_optional=True),
    ("POST", "/v3/footprints/fetch"): Operation("Fetch a partner's footprints with a transfer's EDR and verify them",
                                                "footprints", "FootprintFetch", "FootprintResult", (400, 404, 409, 502)),
    ("GET", "/v3/footprints/{id}"): Operation("Get one footprint (?direction=published|received)", "footprints", None,
                                              "FootprintRecord", (400, 404)),
    ("POST", "/v3/footprints/recheck"): Operation(
        "Verify the received footprints we keep again; mark the ones revoked since", "footprints",
        "FootprintRecheck", "FootprintRecheckResult", (400,), request_optional=True),
    ("POST", "/v3/footprints/{id}/revoke"): Operation(
        "Revoke our credentials for a published footprint (every version, or {'version': n})", "footprints",
        "FootprintRevoke", "FootprintRevocation", (400, 404), request_optional=True),
    ("DELETE", "/v3/edrs/{id}"): Operation("Forget the EDR we hold for a transfer (the transfer is left as it is)",
                                           "edrs", None, None, (404,)),
    ("GET", "/v3/edrs/{id}/dataaddress"): Operation("Get the data address and token of a transfer's EDR", "edrs",
                                                    None, "EdrDataAddress", (404, 409)),
}

_STATUS_TEXT = {400: "Bad request (EDC error list says why)", 401: "Missing or wrong X-Api-Key",
                403: "Refused by the partner", 404: "Not found", 409: "Conflict (duplicate id or still in use)",
                502: "The partner failed or answered with an error"}


def _json(schema: str | dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": _ref(schema) if isinstance(schema, str) else schema}}


def _undocumented(handler: Any) -> Operation:
    doc = inspect.getdoc(handler) or f"{getattr(handler, '__name__', 'handler')} (no description yet)"
    return Operation(doc.splitlines()[0], getattr(handler, "__module__", "other").rsplit(".", 1)[-1],
                     None, {"description": "JSON", **_JSON_OBJ}, (400,), extra={"x-undocumented": True})


def _operation(method: str, path: str, op: Operation) -> dict[str, Any]:
    out: dict[str, Any] = {"operationId": f"{method.lower()}{path.replace('/', '_').replace('{', '').replace('}', '')}",
                           "summary": op.summary, "tags": [op.tag], **op.extra}
    params = [p[1:-1] for p in path.split("/") if p.startswith("{")]
    if params:
        out["parameters"] = [{"name": p, "in": "path", "required": True, "schema": _STR} for p in params]
    if op.request:
        out["requestBody"] = {"required": not op.request_optional, "content": _json(op.request)}
    ok = "200" if op.response is not None else "204"
    responses: dict[str, Any] = {ok: {"description": "OK" if ok == "200" else "Done, no content"}}
    if op.response is not None:
        responses[ok]["content"] = _json(op.response)
    for status in sorted({*op.errors, *(() if op.public else (401,))}):
        responses[str(status)] = {"description": _STATUS_TEXT.get(status, "Error"), "content": _json("ApiErrorList")}
    out["responses"] = responses
    if op.public:
        out["security"] = []
    return out


def routes_of(app: web.Application) -> list[tuple[str, str, Any]]:
    """(method, path as served, handler) of every route of the app; HEAD twins of GETs left out."""
    found = []
    for route in app.router.routes():
        if route.method == "HEAD" or route.resource is None:
            continue
        found.append((route.method, route.resource.canonical, route.handler))
    return found


def document(app: web.Application, prefix: str = "") -> dict[str, Any]:
    """The OpenAPI 3.1 document for the routes registered on ``app`` (the management sub-app).

    ``prefix`` is where the sub-app is mounted (``/api/management``); routes are looked up in
    ``OPERATIONS`` by their path below it.
    """
    paths: dict[str, dict[str, Any]] = {}
    for method, path, handler in sorted(routes_of(app), key=lambda r: (r[1], r[0])):
        local = path[len(prefix):] if prefix and path.startswith(prefix) else path
        op = OPERATIONS.get((method, local)) or _undocumented(handler)
        paths.setdefault(path, {})[method.lower()] = _operation(method, local, op)
    return {
        "openapi": "3.1.0",
        "info": {"title": "Kakehashi Management API", "version": "3",
                 "description": "EDC Management API v3 shapes: JSON-LD bodies in the " + EDC_VOCAB + " vocabulary "
                                "(compact with @vocab, edc:-prefixed or expanded)."},
        "jsonSchemaDialect": "https://spec.openapis.org/oas/3.1/dialect/base",
        "servers": [{"url": "/"}],
        "security": [{"ApiKey": []}],
        "paths": paths,
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {"ApiKey": {"type": "apiKey", "in": "header", "name": "X-Api-Key"}},
        },
    }


def _mount_prefix(request: web.Request) -> str:
    canonical = request.match_info.route.resource.canonical if request.match_info.route.resource else ""
    return canonical[: -len(OPENAPI_PATH)] if canonical.endswith(OPENAPI_PATH) else ""


async def openapi_json(request: web.Request) -> web.Response:
    """This OpenAPI 3.1 document (no API key needed)."""
    return web.json_response(document(request.app, _mount_prefix(request)))


def register(app: web.Application) -> None:
    app.router.add_get(OPENAPI_PATH, openapi_json, name=ROUTE_NAME)

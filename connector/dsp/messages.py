"""Pydantic v2 wire models for every DSP 2025-1 message and resource.

Models hold the compact JSON-LD terms of the 2025-1 context (``@type``, ``consumerPid``, ...)
as snake_case fields with aliases. They are the typed objects the rest of the connector
passes around; the JSON-LD ``@context`` is not a field but is added by :meth:`DspMessage.to_dict`
(always exactly ``["https://w3id.org/dspace/2025/1/context.jsonld"]``) and dropped by
:func:`parse`, which first runs :func:`connector.dsp.normalize.normalize` so that the
forms real peers send are accepted, and then checks the official JSON Schema.

Output is strict: optional fields that are unset are omitted, arrays the schemas require to
be non-empty are omitted rather than sent empty, and the ``oneOf`` rules of the request and
offer messages (``callbackAddress`` only on the initiating message) are honoured.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar, Literal, TypeVar

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    field_validator,
    model_validator,
)

from . import schemas
from .errors import DSP_CONTEXT, MalformedMessage
from .normalize import normalize
from .states import NegState, TransferState

__all__ = [
    "DSP_CONTEXT", "Operator", "AtomicConstraint", "LogicalConstraint", "Constraint", "Rule",
    "Offer", "Agreement", "DataService", "Distribution", "Dataset", "Catalog",
    "CatalogRequestMessage", "DatasetRequestMessage", "CatalogError",
    "ContractRequestMessage", "ContractOfferMessage", "ContractAgreementMessage",
    "ContractAgreementVerificationMessage", "ContractNegotiationEventMessage",
    "ContractNegotiationTerminationMessage", "ContractNegotiation", "ContractNegotiationError",
    "EndpointProperty", "DataAddress", "TransferRequestMessage", "TransferStartMessage",
    "TransferSuspensionMessage", "TransferCompletionMessage", "TransferTerminationMessage",
    "TransferProcess", "TransferError", "VersionAuth", "ProtocolVersion", "VersionResponse",
    "DspMessage", "MESSAGE_TYPES", "parse", "timestamp_now",
]

# The schema's xsd:dateTime pattern for Agreement.timestamp.
_TIMESTAMP = re.compile(
    r"-?([1-9][0-9]{3,}|0[0-9]{3})-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T"
    r"(([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]+)?|(24:00:00(\.0+)?))"
    r"(Z|(\+|-)((0[0-9]|1[0-3]):[0-5][0-9]|14:00))?"
)


def timestamp_now() -> str:
    """The current UTC time as the xsd:dateTime an Agreement's ``timestamp`` needs."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _none_if_empty(value: Any) -> Any:
    return None if isinstance(value, list) and not value else value


def _reason_list(value: Any) -> Any:
    """``reason`` arrives as a string, an object or an array; it is always an array on the wire."""
    if value is None:
        return None
    if isinstance(value, (str, dict)):
        return [value]
    return _none_if_empty(value)


T = TypeVar("T")
# An optional array that must not be empty on the wire: [] from a peer reads as "absent".
OptList = Annotated[list[T] | None, BeforeValidator(_none_if_empty)]
Reasons = Annotated[list[Any] | None, BeforeValidator(_reason_list)]


class _Wire(BaseModel):
    """Shared config: populate by field name or alias, ignore unknown terms from peers."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore", use_enum_values=False)

    def dump(self) -> dict[str, Any]:
        """Compact JSON form without ``@context`` (for nesting)."""
        return _keywords_first(self.model_dump(by_alias=True, exclude_none=True, mode="json"))


def _keywords_first(obj: Any) -> Any:
    """Put ``@type`` and ``@id`` first in every object, as the spec's examples read."""
    if isinstance(obj, dict):
        head = {k: obj[k] for k in ("@type", "@id") if k in obj}
        return head | {k: _keywords_first(v) for k, v in obj.items() if k not in head}
    if isinstance(obj, list):
        return [_keywords_first(v) for v in obj]
    return obj


class _Open(_Wire):
    """Objects whose vocabulary is open (ODRL rules, DCAT resources): unknown terms are kept."""

    model_config = ConfigDict(populate_by_name=True, extra="allow")


# --------------------------------------------------------------------------- ODRL (contract-schema)

Operator = Literal[
    "eq", "gt", "gteq", "lteq", "hasPart", "isA", "isAllOf", "isAnyOf", "isNoneOf", "isPartOf",
    "lt", "term-lteq", "neq",
]


class AtomicConstraint(_Open):
    left_operand: str = Field(alias="leftOperand")
    operator: Operator
    right_operand: str | dict[str, Any] | list[Any] = Field(alias="rightOperand")

    @field_validator("right_operand", mode="before")
    @classmethod
    def _scalar_to_string(cls, value: Any) -> Any:
        # The schema types rightOperand as string/object/array; numbers travel as strings.
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)
        return value


class LogicalConstraint(_Open):
    and_: OptList[Constraint] = Field(default=None, alias="and")
    and_sequence: OptList[Constraint] = Field(default=None, alias="andSequence")
    or_: OptList[Constraint] = Field(default=None, alias="or")
    xone: OptList[Constraint] = None

    @model_validator(mode="after")
    def _exactly_one_operator(self) -> LogicalConstraint:
        present = [n for n in ("and_", "and_sequence", "or_", "xone") if getattr(self, n) is not None]
        if len(present) != 1:
            raise ValueError("a logical constraint needs exactly one of and / andSequence / or / xone")
        return self


def _constraint_kind(value: Any) -> str:
    if isinstance(value, dict) and any(k in value for k in ("and", "andSequence", "or", "xone")):
        return "logical"
    if isinstance(value, LogicalConstraint):
        return "logical"
    return "atomic"


Constraint = Annotated[
    Annotated[AtomicConstraint, Tag("atomic")] | Annotated[LogicalConstraint, Tag("logical")],
    Discriminator(_constraint_kind),
]
LogicalConstraint.model_rebuild()


class Rule(_Open):
    """A permission, prohibition or duty. Rules carry no ``target`` (ODRL compact-policy rule)."""

    action: str
    constraint: OptList[Constraint] = None


    @model_validator(mode="after")
    def _no_target(self) -> Rule:
        if self.model_extra and "target" in self.model_extra:
            raise ValueError("rules inside a DSP policy must not have a target (it belongs to the policy)")
        return self


class _Policy(_Open):
    id: str = Field(alias="@id")
    profile: str | list[str] | None = None
    permission: OptList[Rule] = None
    prohibition: OptList[Rule] = None
    obligation: OptList[Rule] = None


    @model_validator(mode="after")
    def _has_rules(self) -> _Policy:
        if not self.permission and not self.prohibition:
            raise ValueError("a policy needs at least one permission or prohibition")
        return self


class Offer(_Policy):
    """An ODRL Offer. In a catalog it has no ``target``; in a negotiation message it has one."""

    type: Literal["Offer"] = Field(default="Offer", alias="@type")
    target: str | None = None


class Agreement(_Policy):
    type: Literal["Agreement"] = Field(default="Agreement", alias="@type")
    target: str
    assigner: str
    assignee: str
    timestamp: str = Field(default_factory=timestamp_now)

    @field_validator("timestamp")
    @classmethod
    def _xsd_datetime(cls, value: str) -> str:
        if not _TIMESTAMP.fullmatch(value):
            raise ValueError(f"timestamp {value!r} is not an xsd:dateTime (e.g. 2025-01-01T00:00:00Z)")
        return value


# --------------------------------------------------------------------------- catalog (DCAT)

class DataService(_Open):
    id: str = Field(alias="@id")
    type: Literal["DataService"] = Field(default="DataService", alias="@type")
    endpoint_url: str = Field(alias="endpointURL")
    endpoint_description: str | None = Field(default=None, alias="endpointDescription")
    serves_dataset: OptList[Dataset] = Field(default=None, alias="servesDataset")


class Distribution(_Open):
    type: Literal["Distribution"] = Field(default="Distribution", alias="@type")
    format: str
    access_service: str | DataService = Field(alias="accessService")
    has_policy: OptList[Offer] = Field(default=None, alias="hasPolicy")



class Dataset(_Open):
    id: str = Field(alias="@id")
    type: Literal["Dataset"] = Field(default="Dataset", alias="@type")
    has_policy: list[Offer] = Field(alias="hasPolicy", min_length=1)
    distribution: list[Distribution] = Field(min_length=1)

    @model_validator(mode="after")
    def _catalog_offers_have_no_target(self) -> Dataset:
        for offer in self.has_policy:
            if offer.target is not None:
                raise ValueError(f"catalog offer {offer.id!r} must not have a target (the dataset is the target)")
        return self


class Catalog(_Open):
    id: str = Field(alias="@id")
    type: Literal["Catalog"] = Field(default="Catalog", alias="@type")
    participant_id: str | None = Field(default=None, alias="participantId")
    dataset: OptList[Dataset] = None
    catalog: OptList[Catalog] = None
    service: OptList[DataService] = None
    distribution: OptList[Distribution] = None


    @model_validator(mode="before")
    @classmethod
    def _no_policy(cls, data: Any) -> Any:
        # A catalog itself has no policy (2025-1 Catalog schema); peers that attach one lose it.
        if isinstance(data, dict) and "hasPolicy" in data:
            data = {k: v for k, v in data.items() if k != "hasPolicy"}
        return data


DataService.model_rebuild()


# --------------------------------------------------------------------------- top-level messages

class DspMessage(_Wire):
    """A document sent on its own: serialised with the 2025-1 ``@context`` first."""

    with_context: ClassVar[bool] = True

    def to_dict(self) -> dict[str, Any]:
        body = self.dump()
        return {"@context": [DSP_CONTEXT], **body} if self.with_context else body


class _RootOpen(DspMessage):
    model_config = ConfigDict(populate_by_name=True, extra="allow")


class CatalogRequestMessage(DspMessage):
    type: Literal["CatalogRequestMessage"] = Field(default="CatalogRequestMessage", alias="@type")
    filter: list[Any] | None = None


class DatasetRequestMessage(DspMessage):
    type: Literal["DatasetRequestMessage"] = Field(default="DatasetRequestMessage", alias="@type")
    dataset: str


class CatalogError(DspMessage):
    type: Literal["CatalogError"] = Field(default="CatalogError", alias="@type")
    code: str | None = None
    reason: Reasons = None



class RootCatalog(Catalog, _RootOpen):
    """A catalog sent as a response: ``participantId`` is required at the root."""

    participant_id: str = Field(alias="participantId")


class RootDataset(Dataset, _RootOpen):
    """A dataset sent as the response to a DatasetRequestMessage."""


class _Pids(DspMessage):
    provider_pid: str = Field(alias="providerPid")
    consumer_pid: str = Field(alias="consumerPid")


class _CodeReason(_Pids):
    code: str | None = None
    reason: Reasons = None



class ContractRequestMessage(DspMessage):
    """Consumer -> provider: the initial request (with ``callbackAddress``) or a counter-offer
    in an existing negotiation (with ``providerPid``). The schema allows exactly one of the two
    on the wire, so ``callbackAddress`` is dropped on output once ``providerPid`` is known."""

    type: Literal["ContractRequestMessage"] = Field(default="ContractRequestMessage", alias="@type")
    provider_pid: str | None = Field(default=None, alias="providerPid")
    consumer_pid: str = Field(alias="consumerPid")
    offer: Offer
    callback_address: str | None = Field(default=None, alias="callbackAddress")

    @model_validator(mode="after")
    def _initial_or_existing(self) -> ContractRequestMessage:
        if self.provider_pid is None and self.callback_address is None:
            raise ValueError("an initial ContractRequestMessage needs a callbackAddress")
        return self

    def dump(self) -> dict[str, Any]:
        body = super().dump()
        if "providerPid" in body:
            body.pop("callbackAddress", None)
        return body


class ContractOfferMessage(DspMessage):
    """Provider -> consumer: an initial offer (with ``callbackAddress``) or an answer to a request
    (with ``consumerPid``); the offer names its ``target``."""

    type: Literal["ContractOfferMessage"] = Field(default="ContractOfferMessage", alias="@type")
    provider_pid: str = Field(alias="providerPid")
    consumer_pid: str | None = Field(default=None, alias="consumerPid")
    offer: Offer
    callback_address: str | None = Field(default=None, alias="callbackAddress")

    @model_validator(mode="after")
    def _initial_or_existing(self) -> ContractOfferMessage:
        if self.consumer_pid is None and self.callback_address is None:
            raise ValueError("an initial ContractOfferMessage needs a callbackAddress")
        if self.offer.target is None:
            raise ValueError("the offer in a ContractOfferMessage must name its target dataset")
        return self

    def dump(self) -> dict[str, Any]:
        body = super().dump()
        if "consumerPid" in body:
            body.pop("callbackAddress", None)
        return body


class ContractAgreementMessage(_Pids):
    type: Literal["ContractAgreementMessage"] = Field(default="ContractAgreementMessage", alias="@type")
    agreement: Agreement


class ContractAgreementVerificationMessage(_Pids):
    type: Literal["ContractAgreementVerificationMessage"] = Field(
        default="ContractAgreementVerificationMessage", alias="@type"
    )


class ContractNegotiationEventMessage(_Pids):
    type: Literal["ContractNegotiationEventMessage"] = Field(
        default="ContractNegotiationEventMessage", alias="@type"
    )
    event_type: Literal["ACCEPTED", "FINALIZED"] = Field(alias="eventType")


class ContractNegotiationTerminationMessage(_CodeReason):
    type: Literal["ContractNegotiationTerminationMessage"] = Field(
        default="ContractNegotiationTerminationMessage", alias="@type"
    )


class ContractNegotiation(_Pids):
    """The ACK body of every negotiation message and the answer to ``GET .../negotiations/:pid``."""

    type: Literal["ContractNegotiation"] = Field(default="ContractNegotiation", alias="@type")
    state: NegState


class ContractNegotiationError(_CodeReason):
    type: Literal["ContractNegotiationError"] = Field(default="ContractNegotiationError", alias="@type")


class EndpointProperty(_Wire):
    type: Literal["EndpointProperty"] = Field(default="EndpointProperty", alias="@type")
    name: str
    value: str


class DataAddress(_Wire):
    type: Literal["DataAddress"] = Field(default="DataAddress", alias="@type")
    endpoint_type: str = Field(alias="endpointType")
    endpoint: str | None = None
    endpoint_properties: OptList[EndpointProperty] = Field(default=None, alias="endpointProperties")


    def property(self, name: str) -> str | None:
        """The value of the endpoint property ``name`` (e.g. ``authorization``), if present."""
        for prop in self.endpoint_properties or ():
            if prop.name == name:
                return prop.value
        return None

    @classmethod
    def with_properties(
        cls, endpoint_type: str, endpoint: str | None = None, **properties: str
    ) -> DataAddress:
        """A data address whose endpoint properties are the keyword arguments, in order."""
        props = [EndpointProperty(name=k, value=v) for k, v in properties.items()]
        return cls(endpoint_type=endpoint_type, endpoint=endpoint, endpoint_properties=props or None)


class TransferRequestMessage(DspMessage):
    type: Literal["TransferRequestMessage"] = Field(default="TransferRequestMessage", alias="@type")
    consumer_pid: str = Field(alias="consumerPid")
    agreement_id: str = Field(alias="agreementId")
    format: str
    data_address: DataAddress | None = Field(default=None, alias="dataAddress")
    callback_address: str = Field(alias="callbackAddress")


class TransferStartMessage(_Pids):
    type: Literal["TransferStartMessage"] = Field(default="TransferStartMessage", alias="@type")
    data_address: DataAddress | None = Field(default=None, alias="dataAddress")


class TransferSuspensionMessage(_CodeReason):
    type: Literal["TransferSuspensionMessage"] = Field(default="TransferSuspensionMessage", alias="@type")


class TransferCompletionMessage(_Pids):
    type: Literal["TransferCompletionMessage"] = Field(default="TransferCompletionMessage", alias="@type")


class TransferTerminationMessage(_CodeReason):
    type: Literal["TransferTerminationMessage"] = Field(default="TransferTerminationMessage", alias="@type")


class TransferProcess(_Pids):
    """The ACK body of every transfer message and the answer to ``GET .../transfers/:pid``."""

    type: Literal["TransferProcess"] = Field(default="TransferProcess", alias="@type")
    state: TransferState


class TransferError(_CodeReason):
    type: Literal["TransferError"] = Field(default="TransferError", alias="@type")


# --------------------------------------------------------------------------- version discovery

class VersionAuth(_Wire):
    protocol: str
    version: str
    profile: list[str] | None = None


class ProtocolVersion(_Wire):
    version: str
    path: str
    binding: Literal["HTTPS"] = "HTTPS"
    identifier_type: str | None = Field(default=None, alias="identifierType")
    service_id: str | None = Field(default=None, alias="serviceId")
    auth: VersionAuth | None = None


class VersionResponse(DspMessage):
    """The ``/.well-known/dspace-version`` document (plain JSON, no ``@context``)."""

    with_context: ClassVar[bool] = False
    protocol_versions: list[ProtocolVersion] = Field(alias="protocolVersions", min_length=1)

    @classmethod
    def for_2025_1(cls, path: str, *, identifier_type: str = "did:web", service_id: str | None = None,
                   auth_profiles: list[str] | None = None) -> VersionResponse:
        """Our document: DSP 2025-1 at ``path`` over HTTPS, authenticated with DCP 1.0."""
        auth = VersionAuth(protocol="DCP", version="1.0", profile=auth_profiles)
        version = ProtocolVersion(version="2025-1", path=path, identifier_type=identifier_type,
                                  service_id=service_id, auth=auth)
        return cls(protocol_versions=[version])

    def path_for(self, version: str = "2025-1") -> str | None:
        """The path a peer serves ``version`` under, if it lists it."""
        for entry in self.protocol_versions:
            if entry.version == version:
                return entry.path
        return None


# --------------------------------------------------------------------------- parsing

MESSAGE_TYPES: dict[str, type[DspMessage]] = {
    cls.model_fields["type"].default: cls
    for cls in (
        CatalogRequestMessage, DatasetRequestMessage, CatalogError, RootCatalog, RootDataset,
        ContractRequestMessage, ContractOfferMessage, ContractAgreementMessage,
        ContractAgreementVerificationMessage, ContractNegotiationEventMessage,
        ContractNegotiationTerminationMessage, ContractNegotiation, ContractNegotiationError,
        TransferRequestMessage, TransferStartMessage, TransferSuspensionMessage,
        TransferCompletionMessage, TransferTerminationMessage, TransferProcess, TransferError,
    )
}

M = TypeVar("M", bound=DspMessage)


def _pydantic_reasons(exc: ValidationError) -> list[str]:
    lines = []
    for err in exc.errors()[:20]:
        where = ".".join(str(p) for p in err["loc"] if not (isinstance(p, str) and p in ("atomic", "logical")))
        lines.append(f"{where or '(root)'}: {err['msg']}")
    return lines


def parse(message: Any, expect: type[M] | None = None, *, check_schema: bool = True) -> M | DspMessage:
    """Read a message a peer sent: normalise it, check its schema, and build its model.

    ``expect`` restricts the accepted type (e.g. the endpoint for contract requests passes
    ``ContractRequestMessage``). Raises :class:`~connector.dsp.errors.ProtocolError`
    (400, ``MalformedMessage`` or ``SchemaViolation``) with the failed rule spelled out.
    """
    if expect is VersionResponse:
        body: dict[str, Any] = dict(message) if isinstance(message, dict) else message
        if check_schema:
            schemas.validate(body, "VersionResponse")
        return _build(VersionResponse, body)
    body = normalize(message)
    type_ = body.get("@type")
    cls = MESSAGE_TYPES.get(type_) if isinstance(type_, str) else None
    if cls is None:
        raise MalformedMessage(f"@type {type_!r} is not a DSP 2025-1 message type")
    if expect is not None and cls is not expect and not issubclass(cls, expect):
        wanted = expect.model_fields["type"].default
        raise MalformedMessage(f"expected a {wanted}, got a {type_}")
    if check_schema:
        schemas.validate(body, type_)
    body.pop("@context", None)
    return _build(cls, body)


def _build(cls: type[M], body: Any) -> M:
    try:
        return cls.model_validate(body)
    except ValidationError as exc:
        name = cls.model_fields["type"].default if "type" in cls.model_fields else cls.__name__
        reasons = _pydantic_reasons(exc)
        raise MalformedMessage(f"{name} is not well-formed: {reasons[0]}", details=reasons[1:]) from None

"""Dataspace Protocol 2025-1, sans-I/O: wire models, schema checks, state machines, catalog.

- ``messages``    pydantic wire models of every message; ``parse()`` reads what peers send
- ``normalize``   EDC / older-DSP forms -> strict 2025-1 compact JSON-LD
- ``schemas``     ``validate(message, kind)`` against the packaged official JSON Schemas
- ``negotiation`` / ``transfer``  transition tables and ``apply()`` for both roles
- ``catalog``     DCAT catalog builders, filters, offset/limit paging with ``Link`` headers
- ``errors``      ``ProtocolError`` and the CatalogError / ContractNegotiationError /
                  TransferError body builders

HTTP handlers and clients wrap these; nothing here performs I/O.
"""

"""What may be done with data: an ODRL 2.2 usage-policy engine (pure, no I/O).

``jsonld.parse_policy`` / ``to_dsp`` / ``to_edc`` / ``to_expanded`` read and write policies,
``engine.evaluate`` decides, ``matching.offers_match`` compares an offer with a request, and
``profiles.crossborder.pcf_exchange_policy`` builds the standard JP x TW PCF policy.
"""

"""The DSP 2025-1 control plane around the pure `connector.dsp` core: HTTP handlers, the
client, process managers that persist and drive negotiations and transfers, the outbox and
the start-up recovery sweep."""
